//! What an invocation did, object by object: the outcome kinds, one summary per object,
//! and their counts. Plain data, printed by `replay`, returned to asynchronous callers and
//! turned into metrics.

use serde::Serialize;

/// How one object ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeKind {
    Captioned,
    Unchanged,
    Skipped,
    Removed,
    Failed,
    Busy,
}

impl OutcomeKind {
    /// The name printed in summaries and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Captioned => "captioned",
            OutcomeKind::Unchanged => "unchanged",
            OutcomeKind::Skipped => "skipped",
            OutcomeKind::Removed => "removed",
            OutcomeKind::Failed => "failed",
            OutcomeKind::Busy => "busy",
        }
    }
}

impl std::fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object's outcome.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ObjectSummary {
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub outcome: OutcomeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retryable: bool,
}

/// What the invocation did, object by object.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Summary {
    pub captioned: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub removed: usize,
    pub failed: usize,
    /// Duplicates left to another invocation, delivered again later.
    pub busy: usize,
    pub objects: Vec<ObjectSummary>,
}

impl Summary {
    /// The counts of `objects`, and the objects.
    pub fn of(objects: Vec<ObjectSummary>) -> Summary {
        let mut summary = Summary::default();
        for o in &objects {
            let count = match o.outcome {
                OutcomeKind::Captioned => &mut summary.captioned,
                OutcomeKind::Unchanged => &mut summary.unchanged,
                OutcomeKind::Skipped => &mut summary.skipped,
                OutcomeKind::Removed => &mut summary.removed,
                OutcomeKind::Failed => &mut summary.failed,
                OutcomeKind::Busy => &mut summary.busy,
            };
            *count += 1;
        }
        summary.objects = objects;
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_is_counted_in_its_own_column() {
        let kinds = [
            OutcomeKind::Captioned,
            OutcomeKind::Unchanged,
            OutcomeKind::Skipped,
            OutcomeKind::Removed,
            OutcomeKind::Failed,
            OutcomeKind::Busy,
        ];
        let objects = kinds
            .iter()
            .map(|&outcome| ObjectSummary {
                bucket: None,
                key: None,
                outcome,
                provider: None,
                detail: None,
                retryable: false,
            })
            .collect();
        let summary = Summary::of(objects);
        let counts = [
            summary.captioned,
            summary.unchanged,
            summary.skipped,
            summary.removed,
            summary.failed,
            summary.busy,
        ];
        assert_eq!(counts, [1; 6]);
        let printed = serde_json::to_value(&summary.objects[5]).unwrap();
        assert_eq!(printed["outcome"], "busy");
    }
}

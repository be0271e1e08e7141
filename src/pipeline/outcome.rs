//! Where one object ended: the pipeline's result, which the handler logs and reports.

use crate::caption::TagStatus;
use crate::report::OutcomeKind;
use crate::retry::Retryable;
use crate::store::StoreError;

/// A step's result: the next step's input, or the object's final outcome.
pub(super) type Step<T> = Result<T, Outcome>;

/// Where one object ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new caption was written.
    Captioned { provider: String, tag: TagStatus },
    /// The object was already captioned for this ETag or version: no provider call.
    /// `tag_restored` says whether a missing caption tag was put back from the record.
    Unchanged { tag_restored: bool },
    /// Not captioned on purpose (not an image, no provider could take it, …).
    Skipped { reason: String },
    /// The object was deleted; `record_deleted` says whether its record was removed.
    Removed { record_deleted: bool },
    /// Something failed; `retryable` says whether a later attempt can succeed.
    Failed { error: String, retryable: bool },
    /// Another invocation is captioning the object (a duplicate delivery): this one is
    /// retried later, when the other has finished or its claim has lapsed.
    Busy { until: u64 },
}

impl Outcome {
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Captioned { .. } => OutcomeKind::Captioned,
            Outcome::Unchanged { .. } => OutcomeKind::Unchanged,
            Outcome::Skipped { .. } => OutcomeKind::Skipped,
            Outcome::Removed { .. } => OutcomeKind::Removed,
            Outcome::Failed { .. } => OutcomeKind::Failed,
            Outcome::Busy { .. } => OutcomeKind::Busy,
        }
    }

    pub(crate) fn skipped(reason: impl Into<String>) -> Outcome {
        Outcome::Skipped {
            reason: reason.into(),
        }
    }

    /// A store failure; a write that lost to another invocation leaves that one's result.
    pub(crate) fn failed(err: &StoreError) -> Outcome {
        match err {
            StoreError::Conflict { .. } => {
                Outcome::skipped("another invocation took the object over; its result stands")
            }
            _ => Outcome::Failed {
                error: err.to_string(),
                retryable: err.is_retryable(),
            },
        }
    }
}

impl Retryable for Outcome {
    /// Whether the event should be delivered again (a passing failure, or a duplicate
    /// whose twin may not finish).
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            Outcome::Failed {
                retryable: true,
                ..
            } | Outcome::Busy { .. }
        )
    }
}

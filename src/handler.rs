//! The Lambda handler: one invocation's payload in, one outcome per object out.
//!
//! Records are processed concurrently (bounded), each logged once with its outcome. The
//! invocation fails only when some object failed in a way a retry can fix, so Lambda's own
//! retries take over; permanent failures are in the records and not retried.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::event::{self, Intake, ObjectEvent, RecordError, UnrecognisedEvent};
use crate::object_store::ObjectStore;
use crate::pipeline::{Outcome, Pipeline};
use crate::record_store::RecordStore;

/// Time kept back from the invocation's deadline for writing results: a tenth of the time
/// left, within these bounds (writes take tens of milliseconds; a 3 s function still gets
/// its provider call).
const WRITE_RESERVE: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(3));

/// What the invocation did, object by object.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Summary {
    pub captioned: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub failed: usize,
    pub objects: Vec<ObjectSummary>,
}

/// One object's outcome.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ObjectSummary {
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retryable: bool,
}

/// An invocation that must be reported as failed. Its `Debug` form is its message: the
/// runtime logs it, and each object was already logged once.
#[derive(Error)]
pub enum HandlerError {
    /// The payload is not an event this function handles. Retrying will not help.
    #[error(transparent)]
    Unrecognised(#[from] UnrecognisedEvent),
    /// Some objects failed in a way a retry can fix; the others are done.
    #[error("{failed} of {total} objects failed and can be retried: {keys}")]
    Retryable {
        failed: usize,
        total: usize,
        keys: String,
        summary: Box<Summary>,
    },
}

impl std::fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> lambda_runtime::Diagnostic {
        let error_type = match err {
            HandlerError::Unrecognised(_) => "UnrecognisedEvent",
            HandlerError::Retryable { .. } => "RetryableFailure",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

/// Handles invocations with one pipeline.
pub struct Handler<S, R> {
    pipeline: Arc<Pipeline<S, R>>,
    max_concurrency: usize,
}

impl<S, R> Clone for Handler<S, R> {
    fn clone(&self) -> Self {
        Handler {
            pipeline: Arc::clone(&self.pipeline),
            max_concurrency: self.max_concurrency,
        }
    }
}

impl<S: ObjectStore, R: RecordStore> Handler<S, R> {
    pub fn new(pipeline: Pipeline<S, R>, max_concurrency: usize) -> Handler<S, R> {
        Handler {
            pipeline: Arc::new(pipeline),
            max_concurrency: max_concurrency.max(1),
        }
    }

    pub fn pipeline(&self) -> &Pipeline<S, R> {
        &self.pipeline
    }

    /// Handles one payload; `deadline` is when the invocation times out.
    pub async fn handle(
        &self,
        payload: &Value,
        deadline: Instant,
    ) -> Result<Summary, HandlerError> {
        let records = match event::parse(payload) {
            Ok(Intake::TestEvent) => {
                tracing::info!(
                    outcome = "test event",
                    "s3:TestEvent received; nothing to do"
                );
                return Ok(Summary::default());
            }
            Ok(Intake::Records(records)) => records,
            Err(err) => {
                tracing::error!(error = %err, "event rejected");
                return Err(err.into());
            }
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let reserve = (left / 10).clamp(WRITE_RESERVE.0, WRITE_RESERVE.1);
        let provider_deadline = deadline.checked_sub(reserve).unwrap_or(deadline);
        tracing::debug!(
            time_left_ms = left.as_millis() as u64,
            records = records.len(),
            "invocation"
        );
        let objects: Vec<ObjectSummary> = futures_util::stream::iter(records)
            .map(|record| self.one(record, provider_deadline))
            .buffered(self.max_concurrency)
            .collect()
            .await;

        let mut summary = Summary {
            objects,
            ..Summary::default()
        };
        for o in &summary.objects {
            match o.outcome {
                "captioned" => summary.captioned += 1,
                "unchanged" => summary.unchanged += 1,
                "failed" => summary.failed += 1,
                _ => summary.skipped += 1,
            }
        }
        let retryable: Vec<&ObjectSummary> =
            summary.objects.iter().filter(|o| o.retryable).collect();
        if retryable.is_empty() {
            return Ok(summary);
        }
        let keys = retryable
            .iter()
            .filter_map(|o| o.key.as_deref())
            .collect::<Vec<_>>()
            .join(", ");
        Err(HandlerError::Retryable {
            failed: retryable.len(),
            total: summary.objects.len(),
            keys,
            summary: Box::new(summary),
        })
    }

    async fn one(
        &self,
        record: Result<ObjectEvent, RecordError>,
        deadline: Instant,
    ) -> ObjectSummary {
        let object = match record {
            Ok(object) => object,
            Err(err) => {
                let outcome = match err {
                    RecordError::NotCreated { .. } => "skipped",
                    _ => "failed",
                };
                tracing::warn!(outcome, error = %err, "event record not processed");
                return ObjectSummary {
                    bucket: None,
                    key: None,
                    outcome,
                    provider: None,
                    detail: Some(err.to_string()),
                    retryable: false,
                };
            }
        };
        let started = Instant::now();
        let outcome = self.pipeline.process(&object, deadline).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let bucket = object.bucket.as_str();
        let key = object.key.as_str();
        let label = outcome.label();
        match &outcome {
            Outcome::Captioned { provider, tag } => {
                tracing::info!(
                    bucket,
                    key,
                    outcome = label,
                    provider = provider.as_str(),
                    tag = tag.as_str(),
                    duration_ms,
                    "object captioned"
                );
            }
            Outcome::Unchanged { tag_restored } => {
                tracing::info!(
                    bucket,
                    key,
                    outcome = label,
                    tag_restored,
                    duration_ms,
                    "object already captioned for this version"
                );
            }
            Outcome::Skipped { reason } => {
                tracing::info!(
                    bucket,
                    key,
                    outcome = label,
                    reason = reason.as_str(),
                    duration_ms,
                    "object skipped"
                );
            }
            Outcome::Failed { error, retryable } => {
                tracing::warn!(
                    bucket,
                    key,
                    outcome = label,
                    error = error.as_str(),
                    retryable,
                    duration_ms,
                    "object failed"
                );
            }
        }
        let (provider, detail) = match &outcome {
            Outcome::Captioned { provider, .. } => (Some(provider.clone()), None),
            Outcome::Unchanged { tag_restored: true } => {
                (None, Some("caption tag restored from the record".into()))
            }
            Outcome::Unchanged { .. } => (None, None),
            Outcome::Skipped { reason } => (None, Some(reason.clone())),
            Outcome::Failed { error, .. } => (None, Some(error.clone())),
        };
        ObjectSummary {
            bucket: Some(object.bucket),
            key: Some(object.key),
            outcome: label,
            provider,
            detail,
            retryable: outcome.is_retryable_failure(),
        }
    }
}

/// Converts the runtime's `Lambda-Runtime-Deadline-Ms` into an `Instant`.
///
/// Lambda sends milliseconds since the epoch. Some local emulators send the timeout itself
/// (e.g. `600000`); a value too small to be a date is read that way.
pub fn deadline_instant(deadline_ms: u64) -> Instant {
    const YEAR_2001_MS: u64 = 978_307_200_000;
    if deadline_ms < YEAR_2001_MS {
        return Instant::now() + Duration::from_millis(deadline_ms);
    }
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    Instant::now()
        + deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_epoch_milliseconds_or_a_timeout() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = |i: Instant| i.saturating_duration_since(Instant::now()).as_millis();
        assert!((59_000..=60_000).contains(&left(deadline_instant(now_ms + 60_000))));
        assert_eq!(
            left(deadline_instant(now_ms - 5_000)),
            0,
            "a past deadline leaves no time"
        );
        assert!((599_000..=600_000).contains(&left(deadline_instant(600_000))));
    }
}

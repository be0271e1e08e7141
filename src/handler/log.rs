//! One object's outcome, logged once and turned into its summary.

use crate::event::{ObjectEvent, RecordError};
use crate::pipeline::Outcome;
use crate::report::{ObjectSummary, OutcomeKind};
use crate::retry::Retryable;

/// A record of the event that names no object to process: logged, and summarised.
pub fn unusable(err: &RecordError) -> ObjectSummary {
    let outcome = if err.is_ignored() {
        OutcomeKind::Skipped
    } else {
        OutcomeKind::Failed
    };
    tracing::warn!(outcome = outcome.as_str(), error = %err, "event record not processed");
    ObjectSummary {
        bucket: None,
        key: None,
        outcome,
        provider: None,
        detail: Some(err.to_string()),
        retryable: false,
    }
}

/// Logs where `object` ended (one line per object) and summarises it.
pub fn finished(object: ObjectEvent, outcome: &Outcome, duration_ms: u64) -> ObjectSummary {
    log(&object, outcome, duration_ms);
    let (provider, detail) = match outcome {
        Outcome::Captioned { provider, .. } => (Some(provider.clone()), None),
        Outcome::Unchanged { tag_restored: true } => {
            (None, Some("caption tag restored from the record".into()))
        }
        Outcome::Unchanged { .. } => (None, None),
        Outcome::Removed {
            record_deleted: true,
        } => (None, Some("record deleted".into())),
        Outcome::Removed { .. } => (None, Some("no record to delete".into())),
        Outcome::Skipped { reason } => (None, Some(reason.clone())),
        Outcome::Failed { error, .. } => (None, Some(error.clone())),
        Outcome::Busy { .. } => (
            None,
            Some("another invocation is captioning the object".into()),
        ),
    };
    ObjectSummary {
        bucket: Some(object.bucket),
        key: Some(object.key),
        outcome: outcome.kind(),
        provider,
        detail,
        retryable: outcome.is_retryable(),
    }
}

fn log(object: &ObjectEvent, outcome: &Outcome, duration_ms: u64) {
    let bucket = object.bucket.as_str();
    let key = object.key.as_str();
    let label = outcome.kind().as_str();
    match outcome {
        Outcome::Captioned { provider, tag } => tracing::info!(
            bucket,
            key,
            outcome = label,
            provider = provider.as_str(),
            tag = tag.as_str(),
            duration_ms,
            "object captioned"
        ),
        Outcome::Unchanged { tag_restored } => tracing::info!(
            bucket,
            key,
            outcome = label,
            tag_restored,
            duration_ms,
            "object already captioned for this version"
        ),
        Outcome::Skipped { reason } => tracing::info!(
            bucket,
            key,
            outcome = label,
            reason = reason.as_str(),
            duration_ms,
            "object skipped"
        ),
        Outcome::Removed { record_deleted } => tracing::info!(
            bucket,
            key,
            outcome = label,
            record_deleted,
            duration_ms,
            "object removed"
        ),
        Outcome::Busy { until } => tracing::info!(
            bucket,
            key,
            outcome = label,
            claimed_until = until,
            duration_ms,
            "object is being captioned by another invocation; this delivery is retried"
        ),
        Outcome::Failed { error, retryable } => tracing::warn!(
            bucket,
            key,
            outcome = label,
            error = error.as_str(),
            retryable,
            duration_ms,
            "object failed"
        ),
    }
}

//! The Lambda handler: one invocation's payload in, one outcome per object out, and the
//! answer each caller expects.
//!
//! Objects are processed concurrently (bounded), each logged once with its outcome. For
//! asynchronous deliveries (S3, SNS, EventBridge) the invocation fails only when some object
//! failed in a way a retry can fix, so Lambda's retries take over; SQS gets the messages to
//! retry (`batchItemFailures`); S3 Batch Operations gets a result per task. Permanent
//! failures are in the records and not retried.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::s3::batch_job::{S3BatchJobResponse, S3BatchJobResult};
use aws_lambda_events::sqs::SqsBatchResponse;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::intake::{self, Invocation, Item, UnrecognisedEvent};
use crate::object_store::ObjectStore;
use crate::pipeline::{Outcome, Pipeline};
use crate::record_store::RecordStore;

/// Time kept back from the invocation's deadline for writing results: a tenth of the time
/// left, within these bounds (writes take tens of milliseconds; a 3 s function still gets
/// its provider call).
const WRITE_RESERVE: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(3));
/// No object is started with less time than this left before the provider deadline.
const START_MARGIN: Duration = Duration::from_secs(2);
/// Longest `resultString` returned to Batch Operations.
const RESULT_STRING_CHARS: usize = 200;

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
    fn of(objects: Vec<ObjectSummary>) -> Summary {
        let mut summary = Summary::default();
        for o in &objects {
            match o.outcome {
                "captioned" => summary.captioned += 1,
                "unchanged" => summary.unchanged += 1,
                "removed" => summary.removed += 1,
                "failed" => summary.failed += 1,
                "busy" => summary.busy += 1,
                _ => summary.skipped += 1,
            }
        }
        summary.objects = objects;
        summary
    }
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

/// The answer the invocation's caller expects.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Response {
    /// Asynchronous deliveries: the summary (Lambda keeps it only for logs and destinations).
    Summary(Summary),
    /// SQS with `ReportBatchItemFailures`: the messages to deliver again.
    Sqs(SqsBatchResponse),
    /// S3 Batch Operations: a result per task.
    BatchJob(S3BatchJobResponse),
}

/// A handled invocation: the response, and the summary of every object.
#[derive(Debug, Clone)]
pub struct Handled {
    pub response: Response,
    pub summary: Summary,
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

impl HandlerError {
    /// What the invocation did, where it got as far as the objects.
    pub fn summary(&self) -> Option<&Summary> {
        match self {
            HandlerError::Unrecognised(_) => None,
            HandlerError::Retryable { summary, .. } => Some(summary),
        }
    }
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

impl<S: ObjectStore, R: RecordStore> Handler<S, R> {
    /// What the objects handled since the last call used (provider calls, bytes read…).
    pub fn take_usage(&self) -> crate::metrics::Usage {
        self.pipeline.usage().take()
    }
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
    ) -> Result<Handled, HandlerError> {
        let invocation = match intake::parse(payload) {
            Ok(invocation) => invocation,
            Err(err) => {
                tracing::error!(error = %err, "event rejected");
                return Err(err.into());
            }
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let reserve = (left / 10).clamp(WRITE_RESERVE.0, WRITE_RESERVE.1);
        let deadline = deadline.checked_sub(reserve).unwrap_or(deadline);
        match invocation {
            Invocation::Async(items) => self.handle_async(items, deadline).await,
            Invocation::Sqs(messages) => Ok(self.handle_sqs(messages, deadline).await),
            Invocation::BatchJob(job) => Ok(self.handle_batch_job(job, deadline).await),
        }
    }

    async fn handle_async(
        &self,
        items: Vec<Item>,
        deadline: Instant,
    ) -> Result<Handled, HandlerError> {
        if items.is_empty() {
            tracing::info!(
                outcome = "nothing to do",
                "event names no object (s3:TestEvent)"
            );
        }
        let summary = Summary::of(self.run(items, deadline).await);
        let retryable: Vec<&ObjectSummary> =
            summary.objects.iter().filter(|o| o.retryable).collect();
        if retryable.is_empty() {
            return Ok(Handled {
                response: Response::Summary(summary.clone()),
                summary,
            });
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

    /// A message is delivered again when it cannot be read (SQS then moves it to its
    /// dead-letter queue after the redrive policy's receive count, so it is never lost) or
    /// when one of its objects failed in a way a retry can fix.
    async fn handle_sqs(&self, messages: Vec<intake::SqsMessage>, deadline: Instant) -> Handled {
        let mut retry = vec![false; messages.len()];
        let mut ids = Vec::with_capacity(messages.len());
        let mut owners = Vec::new();
        let mut items = Vec::new();
        for (index, message) in messages.into_iter().enumerate() {
            match message.items {
                Ok(message_items) => {
                    owners.extend(std::iter::repeat_n(index, message_items.len()));
                    items.extend(message_items);
                }
                Err(err) => {
                    tracing::warn!(message_id = message.message_id.as_str(), outcome = "failed", error = %err, "SQS message unreadable");
                    retry[index] = true;
                }
            }
            ids.push(message.message_id);
        }
        let objects = self.run(items, deadline).await;
        for (owner, object) in owners.iter().zip(&objects) {
            retry[*owner] |= object.retryable;
        }
        let mut response = SqsBatchResponse::default();
        for (id, retry) in ids.into_iter().zip(retry) {
            if retry {
                response.add_failure(id);
            }
        }
        Handled {
            response: Response::Sqs(response),
            summary: Summary::of(objects),
        }
    }

    async fn handle_batch_job(&self, job: intake::BatchJob, deadline: Instant) -> Handled {
        let (task_ids, items): (Vec<String>, Vec<Item>) =
            job.tasks.into_iter().map(|t| (t.task_id, t.item)).unzip();
        let objects = self.run(items, deadline).await;
        let mut response = S3BatchJobResponse::default();
        response.invocation_schema_version = Some(job.schema_version);
        response.invocation_id = Some(job.invocation_id);
        response.treat_missing_keys_as = Some("PermanentFailure".into());
        response.results = task_ids
            .into_iter()
            .zip(&objects)
            .map(|(task_id, object)| {
                let mut result = S3BatchJobResult::default();
                result.task_id = Some(task_id);
                result.result_code = Some(batch_result_code(object).into());
                result.result_string = Some(batch_result_string(object));
                result
            })
            .collect();
        Handled {
            response: Response::BatchJob(response),
            summary: Summary::of(objects),
        }
    }

    /// Processes every item concurrently (bounded), keeping their order. A slot frees as
    /// soon as its object is done, whatever the objects before it are waiting on.
    async fn run(&self, items: Vec<Item>, deadline: Instant) -> Vec<ObjectSummary> {
        let mut done: Vec<(usize, ObjectSummary)> = futures_util::stream::iter(items)
            .enumerate()
            .map(|(i, item)| async move { (i, self.one(item, deadline).await) })
            .buffer_unordered(self.max_concurrency)
            .collect()
            .await;
        done.sort_unstable_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, summary)| summary).collect()
    }

    async fn one(&self, item: Item, deadline: Instant) -> ObjectSummary {
        let object = match item {
            Ok(object) => object,
            Err(err) => {
                let outcome = if err.is_ignored() {
                    "skipped"
                } else {
                    "failed"
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
        let outcome = if started + START_MARGIN > deadline {
            Outcome::Failed {
                error: "not started: the invocation is close to its timeout".into(),
                retryable: true,
            }
        } else {
            self.pipeline.process(&object, deadline).await
        };
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
            Outcome::Removed { record_deleted } => {
                tracing::info!(
                    bucket,
                    key,
                    outcome = label,
                    record_deleted,
                    duration_ms,
                    "object removed"
                );
            }
            Outcome::Busy { until } => {
                tracing::info!(
                    bucket,
                    key,
                    outcome = label,
                    claimed_until = until,
                    duration_ms,
                    "object is being captioned by another invocation; this delivery is retried"
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
            outcome: label,
            provider,
            detail,
            retryable: outcome.is_retryable_failure(),
        }
    }
}

fn batch_result_code(object: &ObjectSummary) -> &'static str {
    match (object.outcome, object.retryable) {
        ("failed", true) | ("busy", _) => "TemporaryFailure",
        ("failed", false) => "PermanentFailure",
        _ => "Succeeded",
    }
}

fn batch_result_string(object: &ObjectSummary) -> String {
    let text = match (&object.provider, &object.detail) {
        (Some(provider), _) => format!("{} by {provider}", object.outcome),
        (None, Some(detail)) => format!("{}: {detail}", object.outcome),
        (None, None) => object.outcome.to_string(),
    };
    text.chars().take(RESULT_STRING_CHARS).collect()
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
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::future::BoxFuture;

    use super::*;
    use crate::fakes::{MemoryRecords, MemoryStore, settings};
    use crate::provider::{Caption, ImageRequest, Provider, ProviderError};

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

    fn object(outcome: &'static str, retryable: bool) -> ObjectSummary {
        ObjectSummary {
            bucket: Some("b".into()),
            key: Some("k".into()),
            outcome,
            provider: (outcome == "captioned").then(|| "embedded".into()),
            detail: (outcome != "captioned").then(|| "x".repeat(500)),
            retryable,
        }
    }

    #[test]
    fn batch_results_follow_the_outcome() {
        assert_eq!(batch_result_code(&object("captioned", false)), "Succeeded");
        assert_eq!(batch_result_code(&object("skipped", false)), "Succeeded");
        assert_eq!(
            batch_result_code(&object("failed", true)),
            "TemporaryFailure"
        );
        assert_eq!(
            batch_result_code(&object("failed", false)),
            "PermanentFailure"
        );
        assert_eq!(
            batch_result_string(&object("captioned", false)),
            "captioned by embedded"
        );
        assert_eq!(
            batch_result_string(&object("failed", false))
                .chars()
                .count(),
            RESULT_STRING_CHARS
        );
    }

    /// A provider whose first call waits until every other object has been captioned.
    struct Gated {
        calls: AtomicUsize,
        others_done: tokio::sync::Semaphore,
    }

    impl Provider for Arc<Gated> {
        fn name(&self) -> &'static str {
            "gated"
        }

        fn caption<'a>(
            &'a self,
            image: &'a ImageRequest<'a>,
        ) -> BoxFuture<'a, Result<Vec<Caption>, ProviderError>> {
            let first = self.calls.fetch_add(1, Ordering::SeqCst) == 0;
            let lang = image.lang().to_string();
            Box::pin(async move {
                if first {
                    // Three permits: the three other objects of the batch.
                    let _ = self.others_done.acquire_many(3).await;
                } else {
                    self.others_done.add_permits(1);
                }
                Ok(vec![Caption::new("A cup of coffee.", lang)])
            })
        }
    }

    #[tokio::test]
    async fn a_slow_object_does_not_hold_back_the_rest_of_the_batch() {
        let gated = Arc::new(Gated {
            calls: Default::default(),
            others_done: tokio::sync::Semaphore::new(0),
        });
        let store = MemoryStore::default();
        let coffee =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/samples/coffee.jpg")).unwrap();
        let keys = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"];
        for key in keys {
            store.put("photos", key, &coffee, None, vec![]);
        }
        let pipeline = Pipeline::new(
            store,
            MemoryRecords::default(),
            vec![Box::new(Arc::clone(&gated))],
            settings(),
        );
        // Two at a time: the first object waits for the three others, which can only run
        // in the slot the second one frees.
        let handler = Handler::new(pipeline, 2);
        let sample: Value = serde_json::from_str(include_str!("../events/s3-put.json")).unwrap();
        let records: Vec<Value> = keys
            .iter()
            .map(|key| {
                let mut record = sample["Records"][0].clone();
                record["s3"]["bucket"]["name"] = "photos".into();
                record["s3"]["object"]["key"] = (*key).into();
                record
            })
            .collect();
        let payload = serde_json::json!({ "Records": records });
        let deadline = Instant::now() + Duration::from_secs(30);
        let handled =
            tokio::time::timeout(Duration::from_secs(10), handler.handle(&payload, deadline))
                .await
                .expect("the batch finishes")
                .unwrap();
        let order: Vec<_> = handled
            .summary
            .objects
            .iter()
            .map(|o| {
                (
                    o.key.as_deref().unwrap_or_else(|| panic!("{o:?}")),
                    o.outcome,
                )
            })
            .collect();
        assert_eq!(
            order,
            keys.iter().map(|k| (*k, "captioned")).collect::<Vec<_>>(),
            "every object captioned, reported in event order"
        );
    }
}

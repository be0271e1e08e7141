//! The Lambda handler: one invocation's payload in, one outcome per object out, and the
//! answer each caller expects ([`response`]).
//!
//! Objects are processed concurrently (bounded), each logged once with its outcome
//! ([`log`]). For asynchronous deliveries (S3, SNS, EventBridge) the invocation fails only
//! when some object failed in a way a retry can fix, so Lambda's retries take over; SQS
//! gets the messages to retry (`batchItemFailures`); S3 Batch Operations gets a result per
//! task. Permanent failures are in the records and not retried.

mod error;
mod log;
pub mod response;

use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use serde_json::Value;

pub use error::HandlerError;
pub use response::{Handled, Response};

use crate::event::{self, BatchJob, Invocation, Item, SqsMessage};
use crate::metrics::Usage;
use crate::pipeline::{Outcome, Pipeline};
use crate::report::{ObjectSummary, Summary};
use crate::store::{ObjectStore, RecordStore};
use crate::time::{Deadlines, START_MARGIN};

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

    /// What the objects handled since the last call used (provider calls, bytes read…).
    pub fn take_usage(&self) -> Usage {
        self.pipeline.usage().take()
    }

    /// Handles one payload; `deadline` is when the invocation times out.
    pub async fn handle(
        &self,
        payload: &Value,
        deadline: Instant,
    ) -> Result<Handled, HandlerError> {
        let invocation = match event::parse(payload) {
            Ok(invocation) => invocation,
            Err(err) => {
                tracing::error!(error = %err, "event rejected");
                return Err(err.into());
            }
        };
        let deadlines = Deadlines::of_invocation(deadline);
        match invocation {
            Invocation::Async(items) => {
                if items.is_empty() {
                    tracing::info!(
                        outcome = "nothing to do",
                        "event names no object (s3:TestEvent)"
                    );
                }
                response::async_answer(Summary::of(self.run(items, deadlines).await))
            }
            Invocation::Sqs(messages) => Ok(self.handle_sqs(messages, deadlines).await),
            Invocation::BatchJob(job) => Ok(self.handle_batch_job(job, deadlines).await),
        }
    }

    /// A message is delivered again when it cannot be read (SQS then moves it to its
    /// dead-letter queue after the redrive policy's receive count, so it is never lost) or
    /// when one of its objects failed in a way a retry can fix.
    async fn handle_sqs(&self, messages: Vec<SqsMessage>, deadlines: Deadlines) -> Handled {
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
        let objects = self.run(items, deadlines).await;
        for (owner, object) in owners.iter().zip(&objects) {
            retry[*owner] |= object.retryable;
        }
        response::sqs_answer(ids, retry, Summary::of(objects))
    }

    async fn handle_batch_job(&self, job: BatchJob, deadlines: Deadlines) -> Handled {
        let (task_ids, items): (Vec<String>, Vec<Item>) =
            job.tasks.into_iter().map(|t| (t.task_id, t.item)).unzip();
        let objects = self.run(items, deadlines).await;
        response::batch_answer(
            job.schema_version,
            job.invocation_id,
            task_ids,
            Summary::of(objects),
        )
    }

    /// Processes every item concurrently (bounded), keeping their order. A slot frees as
    /// soon as its object is done, whatever the objects before it are waiting on.
    async fn run(&self, items: Vec<Item>, deadlines: Deadlines) -> Vec<ObjectSummary> {
        let mut done: Vec<(usize, ObjectSummary)> = futures_util::stream::iter(items)
            .enumerate()
            .map(|(i, item)| async move { (i, self.one(item, deadlines).await) })
            .buffer_unordered(self.max_concurrency)
            .collect()
            .await;
        done.sort_unstable_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, summary)| summary).collect()
    }

    /// One object: processed unless too little time is left, then logged once.
    async fn one(&self, item: Item, deadlines: Deadlines) -> ObjectSummary {
        let object = match item {
            Ok(object) => object,
            Err(err) => return log::unusable(&err),
        };
        let started = Instant::now();
        let outcome = if started + START_MARGIN > deadlines.providers {
            Outcome::Failed {
                error: "not started: the invocation is close to its timeout".into(),
                retryable: true,
            }
        } else {
            self.pipeline.process(&object, deadlines).await
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        log::finished(object, &outcome, duration_ms)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::future::BoxFuture;

    use std::time::Duration;

    use super::*;
    use crate::pipeline::test_settings;
    use crate::provider::{Caption, ImageRequest, Provider, ProviderError};
    use crate::report::OutcomeKind;
    use crate::store::memory::{MemoryRecords, MemoryStore};

    /// A provider whose first call waits until every other object has been captioned.
    struct Gated {
        calls: AtomicUsize,
        others_done: tokio::sync::Semaphore,
    }

    impl Provider for Gated {
        fn kind(&self) -> crate::provider::ProviderKind {
            crate::provider::ProviderKind::AltTextLab
        }
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

    /// A store holding the sample photo under each of `keys` in bucket `photos`.
    fn store_with(keys: &[&str]) -> MemoryStore {
        let store = MemoryStore::default();
        let coffee =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/samples/coffee.jpg")).unwrap();
        for key in keys {
            store.put("photos", key, &coffee, None, vec![]);
        }
        store
    }

    /// One S3 notification naming each of `keys`.
    fn batch(keys: &[&str]) -> Value {
        let sample: Value = serde_json::from_str(include_str!("../../events/s3-put.json")).unwrap();
        let records: Vec<Value> = keys
            .iter()
            .map(|key| {
                let mut record = sample["Records"][0].clone();
                record["s3"]["bucket"]["name"] = "photos".into();
                record["s3"]["object"]["key"] = (*key).into();
                record
            })
            .collect();
        serde_json::json!({ "Records": records })
    }

    /// A provider sent the image's bytes: each call needs `needs` bytes of memory. It notes
    /// how many calls run at once.
    struct Heavy {
        needs: u64,
        running: AtomicUsize,
        most: AtomicUsize,
    }

    impl Provider for Heavy {
        fn kind(&self) -> crate::provider::ProviderKind {
            crate::provider::ProviderKind::AltTextLab
        }
        fn name(&self) -> &'static str {
            "heavy"
        }

        fn memory_needed(&self, _: &ImageRequest<'_>) -> u64 {
            self.needs
        }

        fn caption<'a>(
            &'a self,
            image: &'a ImageRequest<'a>,
        ) -> BoxFuture<'a, Result<Vec<Caption>, ProviderError>> {
            let lang = image.lang().to_string();
            Box::pin(async move {
                let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
                self.most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                self.running.fetch_sub(1, Ordering::SeqCst);
                Ok(vec![Caption::new("A cup of coffee.", lang)])
            })
        }
    }

    #[tokio::test]
    async fn large_images_wait_for_room_in_the_memory_budget() {
        let heavy = Arc::new(Heavy {
            needs: 40 << 20,
            running: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
        });
        let keys = ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg"];
        let settings = crate::pipeline::Settings {
            memory_budget: 100 << 20,
            ..test_settings()
        };
        let pipeline = Pipeline::new(
            store_with(&keys),
            MemoryRecords::default(),
            vec![Box::new(Arc::clone(&heavy))],
            settings,
        );
        let handler = Handler::new(pipeline, 8);
        let deadline = Instant::now() + Duration::from_secs(30);
        let handled = handler.handle(&batch(&keys), deadline).await.unwrap();
        assert_eq!(handled.summary.captioned, keys.len());
        assert_eq!(
            heavy.most.load(Ordering::SeqCst),
            2,
            "two 40 MB calls fit in 100 MB, a third waits"
        );
    }

    #[tokio::test]
    async fn a_slow_object_does_not_hold_back_the_rest_of_the_batch() {
        let gated = Arc::new(Gated {
            calls: Default::default(),
            others_done: tokio::sync::Semaphore::new(0),
        });
        let keys = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"];
        let store = store_with(&keys);
        let pipeline = Pipeline::new(
            store,
            MemoryRecords::default(),
            vec![Box::new(Arc::clone(&gated))],
            test_settings(),
        );
        // Two at a time: the first object waits for the three others, which can only run
        // in the slot the second one frees.
        let handler = Handler::new(pipeline, 2);
        let payload = batch(&keys);
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
            keys.iter()
                .map(|k| (*k, OutcomeKind::Captioned))
                .collect::<Vec<_>>(),
            "every object captioned, reported in event order"
        );
    }
}

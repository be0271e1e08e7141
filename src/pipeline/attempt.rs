//! One delivery's attempt at an object: its event, its claim's token and lapse, its deadline.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use super::{Outcome, object_id};
use crate::caption::{Record, State};
use crate::event::ObjectEvent;
use crate::retry::Retryable;
use crate::store::{Claim, ClaimRequest, Condition, ObjectHead, ObjectId, RecordStore, StoreError};
use crate::time::{Deadlines, epoch_secs};

/// A claim outlives the invocation's deadline by this much, so that it never lapses while
/// its holder still writes; a crashed holder's claim lapses soon after.
pub const CLAIM_GRACE_SECS: u64 = 10;

/// One delivery's attempt at an object: the event, the object, the claim's token and
/// when the claim lapses (seconds since the epoch). Every record it writes goes under its
/// claim until a write releases the claim; after that, only while nobody has claimed the
/// object since.
pub(super) struct Attempt<'e, R> {
    pub event: &'e ObjectEvent,
    /// Where its records go.
    records: &'e R,
    pub id: ObjectId,
    token: String,
    pub until: u64,
    pub deadlines: Deadlines,
    /// Whether a record written has released the claim.
    released: AtomicBool,
}

impl<'e, R: RecordStore> Attempt<'e, R> {
    /// An attempt whose claim outlives its writes' deadline by [`CLAIM_GRACE_SECS`].
    pub fn new(event: &'e ObjectEvent, deadlines: Deadlines, records: &'e R) -> Attempt<'e, R> {
        let left = deadlines.writes.saturating_duration_since(Instant::now());
        Attempt {
            event,
            records,
            id: object_id(event),
            token: claim_token(),
            until: epoch_secs(SystemTime::now() + left) + CLAIM_GRACE_SECS,
            deadlines,
            released: AtomicBool::new(false),
        }
    }

    /// Claims the object for this attempt: the bytes of `etag` (and `version_id`, where the
    /// event names none), unless the record holds a caption of them already.
    pub async fn claim(
        &self,
        etag: Option<&str>,
        version_id: Option<&str>,
    ) -> Result<Claim, StoreError> {
        let event = self.event;
        let request = ClaimRequest {
            bucket: &event.bucket,
            key: &event.key,
            token: &self.token,
            now: epoch_secs(SystemTime::now()),
            until: self.until,
            etag,
            version_id: event.version_id.as_deref().or(version_id),
            sequencer: event.sequencer.as_deref(),
        };
        self.records.claim(&request).await
    }

    /// Writes `record` under the claim, which the write releases.
    pub async fn write(&self, record: &Record) -> Result<(), StoreError> {
        self.records.put(record, &self.condition(None)).await?;
        self.released.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Writes `record` under the claim and keeps holding it until its lapse: for a write
    /// still on the way. A claim already released is not taken again: the write then goes
    /// only while nobody holds one, as any other after the release.
    pub async fn write_keeping(&self, record: &Record) -> Result<(), StoreError> {
        self.records
            .put(record, &self.condition(Some(self.until)))
            .await
    }

    /// Ends the object with a final skipped or failed record, turned into its outcome.
    pub async fn finish(&self, record: Record) -> Outcome {
        let outcome = match record.state {
            State::Failed => Outcome::Failed {
                error: record.error.clone().unwrap_or_default(),
                retryable: record.retryable.unwrap_or(false),
            },
            _ => Outcome::skipped(record.reason.clone().unwrap_or_default()),
        };
        match self.write(&record).await {
            Ok(()) => outcome,
            Err(err) => Outcome::failed(&err),
        }
    }

    /// Ends the object skipped, the record saying why.
    pub async fn skip(&self, record: Record, reason: impl Into<String>) -> Outcome {
        self.finish(Record {
            reason: Some(reason.into()),
            ..record
        })
        .await
    }

    /// Ends the object failed after its tags or record could not be written; the record
    /// keeps the captions, so that no retry pays for them again.
    pub async fn write_failure(&self, record: Record, err: &StoreError) -> Outcome {
        let record = Record {
            state: State::Failed,
            error: Some(format!("caption not written: {err}")),
            retryable: Some(err.is_retryable()),
            ..record
        };
        let _ = self.write(&record).await;
        Outcome::failed(err)
    }

    /// The condition of the next write: the claim while it is held.
    fn condition(&self, keep_until: Option<u64>) -> Condition {
        if self.released.load(Ordering::Relaxed) {
            return Condition::Unclaimed;
        }
        Condition::Claimed {
            token: self.token.clone(),
            keep_until,
        }
    }

    /// The record of the object before anything is known of its fate.
    pub fn record(&self, head: Option<&ObjectHead>) -> Record {
        let event = self.event;
        let mut record = Record::new(&event.bucket, &event.key, State::Skipped);
        record.etag = head
            .and_then(|h| h.etag.clone())
            .or_else(|| event.etag.clone());
        record.version_id = event
            .version_id
            .clone()
            .or_else(|| head.and_then(|h| h.version_id.clone()));
        record.size = head.map(|h| h.size).or(event.size);
        record.content_type = head.and_then(|h| h.content_type.clone());
        record.sequencer = event.sequencer.clone();
        record
    }
}

/// A token that tells this invocation's claim from any other.
fn claim_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one((n, Instant::now(), std::process::id()));
    format!("{random:016x}-{n}")
}

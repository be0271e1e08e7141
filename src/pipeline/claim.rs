//! The claim: one invocation at a time calls providers for an object, so a duplicate
//! delivery waits for the other's result instead of paying again. The claim also reads the
//! record, and goes out together with the head read when the event carries the ETag.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use super::{HEAD_BYTES, Outcome, Pipeline, decorative, epoch_secs, object_id, person};
use crate::caption::{Record, State, Tag};
use crate::event::ObjectEvent;
use crate::store::{
    Claim, ClaimRequest, ObjectHead, ObjectId, ObjectStore, RecordStore, StoreError,
};

/// A claim outlives the invocation's deadline by this much, so that it never lapses while
/// its holder still writes; a crashed holder's claim lapses soon after.
pub const CLAIM_GRACE_SECS: u64 = 10;

/// Why an event older than the record's is skipped.
const SUPERSEDED: &str = "superseded: a newer event for this key was already processed";

/// The record before the claim, and the head and tag reads that went out with it.
pub(super) type Claimed = (
    Option<Box<Record>>,
    Result<ObjectHead, StoreError>,
    Result<Vec<Tag>, StoreError>,
);

/// One delivery's attempt at an object: the event, the object, the claim's token and
/// when the claim lapses (seconds since the epoch).
pub(super) struct Attempt<'e> {
    pub event: &'e ObjectEvent,
    pub id: ObjectId,
    pub token: String,
    pub until: u64,
    /// No provider call starts after this.
    pub deadline: Instant,
}

impl<'e> Attempt<'e> {
    /// An attempt whose claim outlives `deadline` by [`CLAIM_GRACE_SECS`].
    pub fn new(event: &'e ObjectEvent, deadline: Instant) -> Attempt<'e> {
        let left = deadline.saturating_duration_since(Instant::now());
        Attempt {
            event,
            id: object_id(event),
            token: claim_token(),
            until: epoch_secs(SystemTime::now() + left) + CLAIM_GRACE_SECS,
            deadline,
        }
    }

    /// The record of the object before anything is known of its fate, holding the claim:
    /// writing it releases the claim.
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
        record.claim = Some(self.token.clone());
        record
    }
}

impl<S: ObjectStore, R: RecordStore> Pipeline<S, R> {
    /// Claims the object and reads its head and tags (a person's caption among them is not
    /// paid for). `Err` is the outcome when the claim is refused (captioned already,
    /// superseded, busy) or cannot be made.
    pub(super) async fn claim_and_read(&self, attempt: &Attempt<'_>) -> Result<Claimed, Outcome> {
        let event = attempt.event;
        let (claim, read, object_tags) = match event.etag.as_deref() {
            Some(etag) => tokio::join!(
                self.claim(attempt, Some(etag), None),
                self.read_head(&attempt.id),
                self.store.get_tags(&attempt.id)
            ),
            None => {
                let read = self.read_head(&attempt.id).await;
                let head = read.as_ref().ok();
                let etag = head.and_then(|h| h.etag.as_deref());
                let version = head.and_then(|h| h.version_id.as_deref());
                let (claim, object_tags) = tokio::join!(
                    self.claim(attempt, etag, version),
                    self.store.get_tags(&attempt.id)
                );
                (claim, read, object_tags)
            }
        };
        let claim = match claim {
            // Captioned, but its people's tags and its record disagree, or its decorative
            // mark and its record: claimed all the same, to write what is missing.
            Ok(Claim::AlreadyCaptioned { record })
                if object_tags
                    .as_deref()
                    .is_ok_and(|tags| person::needs_writing(tags, &record, &self.settings))
                    || read
                        .as_ref()
                        .is_ok_and(|head| decorative::marks_differ(&record, head)) =>
            {
                self.claim(attempt, None, None).await
            }
            claim => claim,
        };
        match claim {
            Ok(Claim::Claimed { previous }) => Ok((previous, read, object_tags)),
            Ok(Claim::AlreadyCaptioned { record }) => Err(self
                .already_captioned(&attempt.id, &record, &read, object_tags)
                .await),
            Ok(Claim::Superseded) => Err(Outcome::skipped(SUPERSEDED)),
            Ok(Claim::Busy { until }) => Err(Outcome::Busy { until }),
            Err(err) => Err(Outcome::failed(&err)),
        }
    }

    async fn claim(
        &self,
        attempt: &Attempt<'_>,
        etag: Option<&str>,
        version_id: Option<&str>,
    ) -> Result<Claim, StoreError> {
        let event = attempt.event;
        let request = ClaimRequest {
            bucket: &event.bucket,
            key: &event.key,
            token: &attempt.token,
            now: epoch_secs(SystemTime::now()),
            until: attempt.until,
            etag,
            version_id: event.version_id.as_deref().or(version_id),
            sequencer: event.sequencer.as_deref(),
        };
        self.records.claim(&request).await
    }

    /// The first bytes of the object, counted as read.
    pub(super) async fn read_head(&self, id: &ObjectId) -> Result<ObjectHead, StoreError> {
        let head = self.store.read_head(id, HEAD_BYTES).await?;
        self.usage.read(head.bytes.len());
        Ok(head)
    }
}

/// A token that tells this invocation's claim from any other.
fn claim_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one((n, Instant::now(), std::process::id()));
    format!("{random:016x}-{n}")
}

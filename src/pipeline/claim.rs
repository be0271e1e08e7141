//! The claim: one invocation at a time calls providers for an object, so a duplicate
//! delivery waits for the other's result instead of paying again. The claim also reads the
//! record, and goes out together with the head read when the event carries the ETag.

use std::time::SystemTime;

use super::attempt::Attempt;
use super::{HEAD_BYTES, Outcome, Pipeline, decorative, keep, person};
use crate::caption::{Record, Tag};
use crate::store::{
    Claim, ClaimRequest, ObjectHead, ObjectId, ObjectStore, RecordStore, StoreError,
};
use crate::time::epoch_secs;

/// Why an event older than the record's is skipped.
const SUPERSEDED: &str = "superseded: a newer event for this key was already processed";

/// The record before the claim, and the head and tag reads that went out with it.
pub(super) type Claimed = (
    Option<Box<Record>>,
    Result<ObjectHead, StoreError>,
    Result<Vec<Tag>, StoreError>,
);

impl<S: ObjectStore, R: RecordStore> Pipeline<S, R> {
    /// Claims the object and reads its head and tags (a person's caption among them is not
    /// paid for). `Err` is the outcome when the claim is refused (captioned already,
    /// superseded, busy) or cannot be made.
    pub(super) async fn claim_and_read(
        &self,
        attempt: &Attempt<'_, R>,
    ) -> Result<Claimed, Outcome> {
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
            Ok(Claim::AlreadyCaptioned { record }) => {
                let (id, settings) = (&attempt.id, &self.settings);
                let kept =
                    keep::already_captioned(&self.store, settings, id, &record, &read, object_tags);
                Err(kept.await)
            }
            Ok(Claim::Superseded) => Err(Outcome::skipped(SUPERSEDED)),
            Ok(Claim::Taken { until }) => Err(Outcome::Busy { until }),
            Err(err) => Err(Outcome::failed(&err)),
        }
    }

    async fn claim(
        &self,
        attempt: &Attempt<'_, R>,
        etag: Option<&str>,
        version_id: Option<&str>,
    ) -> Result<Claim, StoreError> {
        let event = attempt.event;
        let request = ClaimRequest {
            bucket: &event.bucket,
            key: &event.key,
            token: attempt.token(),
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

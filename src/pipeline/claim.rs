//! The claim: one invocation at a time calls providers for an object, so a duplicate
//! delivery waits for the other's result instead of paying again. The claim also reads the
//! record, and goes out together with the head read when the event carries the ETag.

use super::attempt::Attempt;
use super::{HEAD_BYTES, Outcome, Settings, decorative, keep, person};
use crate::caption::{Record, Tag};
use crate::metrics::UsageMeter;
use crate::store::{Claim, ObjectHead, ObjectId, ObjectStore, RecordStore, StoreError};

/// Why an event older than the record's is skipped.
const SUPERSEDED: &str = "superseded: a newer event for this key was already processed";

/// The record before the claim, and the head and tag reads that went out with it.
pub(super) type Claimed = (
    Option<Box<Record>>,
    Result<ObjectHead, StoreError>,
    Result<Vec<Tag>, StoreError>,
);

/// Claims the object and reads its head and tags (a person's caption among them is not
/// paid for). `Err` is the outcome when the claim is refused (captioned already,
/// superseded, busy) or cannot be made.
pub(super) async fn claim_and_read<S: ObjectStore, R: RecordStore>(
    store: &S,
    settings: &Settings,
    usage: &UsageMeter,
    attempt: &Attempt<'_, R>,
) -> Result<Claimed, Outcome> {
    let event = attempt.event;
    let (claim, read, object_tags) = match event.etag.as_deref() {
        Some(etag) => tokio::join!(
            attempt.claim(Some(etag), None),
            read_head(store, usage, &attempt.id),
            store.get_tags(&attempt.id)
        ),
        None => {
            let read = read_head(store, usage, &attempt.id).await;
            let head = read.as_ref().ok();
            let etag = head.and_then(|h| h.etag.as_deref());
            let version = head.and_then(|h| h.version_id.as_deref());
            let (claim, object_tags) =
                tokio::join!(attempt.claim(etag, version), store.get_tags(&attempt.id));
            (claim, read, object_tags)
        }
    };
    let claim = match claim {
        // Captioned, but its people's tags and its record disagree, or its decorative
        // mark and its record: claimed all the same, to write what is missing.
        Ok(Claim::AlreadyCaptioned { record })
            if object_tags
                .as_deref()
                .is_ok_and(|tags| person::needs_writing(tags, &record, settings))
                || read
                    .as_ref()
                    .is_ok_and(|head| decorative::marks_differ(&record, head)) =>
        {
            attempt.claim(None, None).await
        }
        claim => claim,
    };
    match claim {
        Ok(Claim::Claimed { previous }) => Ok((previous, read, object_tags)),
        Ok(Claim::AlreadyCaptioned { record }) => {
            let id = &attempt.id;
            let kept = keep::already_captioned(store, settings, id, &record, &read, object_tags);
            Err(kept.await)
        }
        Ok(Claim::Superseded) => Err(Outcome::skipped(SUPERSEDED)),
        Ok(Claim::Taken { until }) => Err(Outcome::Busy { until }),
        Err(err) => Err(Outcome::failed(&err)),
    }
}

/// The first bytes of the object, counted as read.
pub(super) async fn read_head(
    store: &impl ObjectStore,
    usage: &UsageMeter,
    id: &ObjectId,
) -> Result<ObjectHead, StoreError> {
    let head = store.read_head(id, HEAD_BYTES).await?;
    usage.read(head.bytes.len());
    Ok(head)
}

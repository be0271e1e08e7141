//! A deleted object: its record goes too, unless it describes a newer upload or another
//! version than the one deleted.

use super::Outcome;
use crate::event::{ObjectEvent, sequencer_order};
use crate::store::RecordStore;

/// The record of a deleted object goes, if it is still the one of the bytes deleted.
pub(super) async fn forget(records: &impl RecordStore, event: &ObjectEvent) -> Outcome {
    let kept = Outcome::Removed {
        record_deleted: false,
    };
    let record = match records.get(&event.bucket, &event.key).await {
        Ok(Some(record)) => record,
        Ok(None) => return kept,
        Err(err) => return Outcome::failed(&err),
    };
    let newer_upload = match (&record.sequencer, &event.sequencer) {
        (Some(recorded), Some(deleted)) => sequencer_order(recorded, deleted).is_gt(),
        _ => false,
    };
    let marker =
        event.event_name.contains("DeleteMarker") || event.event_name.contains("Delete Marker");
    let other_version =
        !marker && matches!((&event.version_id, &record.version_id), (Some(a), Some(b)) if a != b);
    if newer_upload || other_version {
        return kept;
    }
    match records
        .delete(&event.bucket, &event.key, &record.updated_at)
        .await
    {
        Ok(deleted) => Outcome::Removed {
            record_deleted: deleted,
        },
        Err(err) => Outcome::failed(&err),
    }
}

//! An object already captioned for its bytes: no provider call; its tags go back if they
//! went missing, and only onto those bytes.

use super::{Outcome, Settings, person};
use crate::caption::{Record, Tag, TagStatus, tags};
use crate::store::{ObjectHead, ObjectId, ObjectStore, StoreError};

/// Why an event whose object was replaced since is skipped.
const OVERWRITTEN_SINCE: &str =
    "the object was overwritten since this event: the new upload's event captions it";

/// The claim found the event's bytes captioned: the caption's tags go back only onto
/// them, not onto an upload that replaced them since.
pub(super) async fn already_captioned(
    store: &impl ObjectStore,
    settings: &Settings,
    id: &ObjectId,
    record: &Record,
    read: &Result<ObjectHead, StoreError>,
    object_tags: Result<Vec<Tag>, StoreError>,
) -> Outcome {
    // Without the head, new bytes cannot be told from the captioned ones: no tag goes
    // back until a delivery can tell.
    let head = match read {
        Ok(head) => head,
        Err(StoreError::NotFound { .. }) => {
            return Outcome::skipped("the object no longer exists");
        }
        Err(err) => return Outcome::failed(err),
    };
    if id.version_id.is_none() && head.etag.is_some() && head.etag != record.etag {
        return Outcome::skipped(OVERWRITTEN_SINCE);
    }
    keep(store, settings, id, record, object_tags).await
}

/// Puts the record's tags back if they went missing (a failed write, or removed by
/// hand), without calling any provider. A tag that is there is never overwritten: its
/// value may be the user's edit. `object_tags` is the tag set read with the claim.
pub(super) async fn keep(
    store: &impl ObjectStore,
    settings: &Settings,
    id: &ObjectId,
    record: &Record,
    object_tags: Result<Vec<Tag>, StoreError>,
) -> Outcome {
    let mut wanted = recorded_tags(record, settings);
    if wanted.is_empty() {
        return Outcome::Unchanged {
            tag_restored: false,
        };
    }
    let existing = match object_tags {
        Ok(tags) => tags,
        Err(StoreError::NotFound { .. }) => {
            return Outcome::skipped("the object no longer exists");
        }
        Err(err) => return Outcome::failed(&err),
    };
    wanted.retain(|w| !existing.iter().any(|t| t.key == w.key));
    match tags::merge_all(&existing, &wanted) {
        (Some(new_tags), _) => match store.put_tags(id, &new_tags).await {
            Ok(()) => Outcome::Unchanged { tag_restored: true },
            Err(err) => Outcome::failed(&err),
        },
        (None, _) => Outcome::Unchanged {
            tag_restored: false,
        },
    }
}

/// The tags a record says were written: one per language, or the main one of a record
/// written before languages were kept apart.
fn recorded_tags(record: &Record, settings: &Settings) -> Vec<Tag> {
    let main_key = settings.tag_key.as_str();
    let mut wanted: Vec<Tag> = record
        .captions
        .iter()
        // A person's caption too: the record is where their words are kept, and `set
        // --clear` is how they are removed.
        .filter_map(|(lang, c)| {
            let key = c
                .tag_key
                .clone()
                .or_else(|| person::awaits_tag(c).then(|| settings.tag_key_for(lang)))?;
            Some(Tag::new(key, tags::tag_value(&c.text).ok()?))
        })
        .collect();
    if record.captions.is_empty()
        && let (Some(TagStatus::Written), Some(value)) =
            (record.tag_status, record.tag_value.as_deref())
    {
        wanted.push(Tag::new(main_key, value));
    }
    wanted
}

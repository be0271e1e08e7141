//! An image its owner marked decorative (`x-amz-meta-alt-decorative: true`): no service is
//! asked; the record says `decorative`, and the main language's tag holds an empty value,
//! the `alt=""` a page should render for it.

use super::answer::{Author, DECORATIVE};
use super::attempt::Attempt;
use super::{Outcome, Settings};
use crate::caption::{Record, State, Tag, TagStatus, tags};
use crate::image::context::ImageContext;
use crate::store::{ObjectHead, ObjectStore, RecordStore};

const REASON: &str =
    "decorative (x-amz-meta-alt-decorative): its alt text is empty, and no service was asked";

/// Whether the owner's decorative mark and the record of these bytes disagree (the same
/// bytes uploaded again, marked or no longer marked): the record is then no caption of
/// the object as it is. A person's caption stays whatever the mark.
pub(super) fn marks_differ(record: &Record, head: &ObjectHead) -> bool {
    let marked = ImageContext::from_metadata(head.metadata()).decorative;
    let captions = record.all_captions();
    let mut others = captions
        .values()
        .map(Author::of)
        .filter(|a| *a != Author::Person);
    match marked {
        // Every caption not a person's is the empty one.
        true => others.any(|a| a != Author::Decorative),
        false => others.any(|a| a == Author::Decorative),
    }
}

/// Writes the empty tag (the user's tags kept) and the record.
pub(super) async fn decorative<R: RecordStore>(
    store: &impl ObjectStore,
    settings: &Settings,
    attempt: &Attempt<'_, R>,
    record: Record,
    object_tags: &[Tag],
) -> Outcome {
    let (new_tags, placed) =
        tags::merge_all(object_tags, &[Tag::new(settings.tag_key.clone(), "")]);
    let tag = if placed[0] {
        TagStatus::Written
    } else {
        TagStatus::NoRoom
    };
    let record = Record {
        state: State::Captioned,
        alt_text: Some(String::new()),
        tag_value: Some(String::new()),
        tag_status: Some(tag),
        provider: Some(DECORATIVE.into()),
        lang: Some(settings.main_lang().to_string()),
        reason: Some(REASON.into()),
        ..record
    };
    if let Some(new_tags) = new_tags
        && let Err(err) = store.put_tags(&attempt.id, &new_tags).await
    {
        return attempt.write_failure(record, &err).await;
    }
    match attempt.write(&record).await {
        Ok(()) => Outcome::Captioned {
            provider: DECORATIVE.into(),
            tag,
        },
        Err(err) => Outcome::failed(&err),
    }
}

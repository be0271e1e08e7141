//! A person's alt text comes first: an `alt-text` (or `alt-text-<lang>`) tag on the object
//! that the function did not write is someone's own caption. No provider is asked for that
//! language, the tag is left as it is, and the record says the caption is a person's.
//!
//! The one tag that is not a person's although the record does not hold it: the tag of an
//! earlier caption, left on the object while a person's newer caption, already in the
//! record, waits for its tag (`tag_status` pending, or none after a failed write). The
//! record's words are newer: they are written over it.

use super::Settings;
use super::answer::Answer;
use crate::caption::{LangCaption, Record, Source, Tag, TagStatus, tags};

/// The people's captions among `object_tags`, one per configured language. A caption tag
/// is the function's own when its value is the tag value of the caption `existing` holds
/// for that language; any other value was written by a person, except the stale tag a
/// person's caption in the record of these bytes (`etag`) is still to replace.
pub(super) fn answers(
    object_tags: &[Tag],
    existing: Option<&Record>,
    etag: Option<&str>,
    settings: &Settings,
) -> Vec<Answer> {
    let recorded = existing.map(Record::all_captions).unwrap_or_default();
    let same_bytes = existing.is_some_and(|r| r.etag.is_some() && r.etag.as_deref() == etag);
    settings
        .langs
        .iter()
        .filter_map(|lang| {
            let key = settings.tag_key_for(lang);
            let tag = object_tags
                .iter()
                .find(|t| t.key == key && !t.value.trim().is_empty())?;
            let caption = recorded.get(lang);
            match caption.filter(|c| is_tag_of(c, &tag.value)) {
                // The function's own tag.
                Some(c) if c.source != Source::Person => None,
                // The tag of a person's caption the record keeps whole (set by hand).
                Some(c) => Some(Answer::person(&c.text, lang, true)),
                None => match caption.filter(|c| same_bytes && awaits_tag(c)) {
                    Some(newer) => Some(Answer::person(&newer.text, lang, false)),
                    None => Some(Answer::person(&tag.value, lang, true)),
                },
            }
        })
        .collect()
}

/// Whether the people's captions among `object_tags` differ from what `record` (of these
/// bytes) holds: a person's tag it does not know, or its person's caption still to be
/// written over an older tag.
pub(super) fn needs_writing(object_tags: &[Tag], record: &Record, settings: &Settings) -> bool {
    let recorded = record.all_captions();
    answers(object_tags, Some(record), record.etag.as_deref(), settings)
        .iter()
        .any(|a| {
            let known = recorded
                .get(&a.caption.lang)
                .is_some_and(|c| c.source == Source::Person && c.text == a.caption.text);
            !a.on_object || !known
        })
}

/// `record` with each person's caption whose tag awaited writing marked written, where
/// `object_tags` shows the tag in place.
pub(super) fn confirmed(
    record: &Record,
    object_tags: Option<&[Tag]>,
    settings: &Settings,
) -> Record {
    let mut record = record.clone();
    let Some(object_tags) = object_tags else {
        return record;
    };
    for (lang, c) in record.captions.iter_mut() {
        let key = settings.tag_key_for(lang);
        let in_place = object_tags
            .iter()
            .any(|t| t.key == key && is_tag_of(c, &t.value));
        if c.tag_status == Some(TagStatus::Pending) && in_place {
            c.tag_status = Some(TagStatus::Written);
            c.tag_key = Some(key);
        }
    }
    record
}

/// Whether `value` is the tag of caption `c`.
fn is_tag_of(c: &LangCaption, value: &str) -> bool {
    c.text == value || tags::tag_value(&c.text).ok().as_deref() == Some(value)
}

/// A person's caption whose tag was not confirmed written: any other caption tag of its
/// language on the object is older than it.
pub(super) fn awaits_tag(c: &LangCaption) -> bool {
    c.source == Source::Person && matches!(c.tag_status, None | Some(TagStatus::Pending))
}

/// `record` as written before its tags: each person's caption whose tag is still to be
/// written is pending until it is, so that a process ended between the two writes leaves
/// the same record as a failed tag write.
pub(super) fn pending(mut record: Record, answers: &[Answer]) -> Record {
    for answer in answers.iter().filter(|a| a.is_person() && !a.on_object) {
        if let Some(c) = record.captions.get_mut(&answer.caption.lang)
            && c.tag_status == Some(TagStatus::Written)
        {
            c.tag_status = Some(TagStatus::Pending);
        }
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caption::{LangCaption, State};
    use crate::pipeline::test_settings;

    #[test]
    fn a_caption_tag_the_function_did_not_write_is_a_persons() {
        let settings = test_settings();
        let tags = [
            Tag::new("owner", "shop"),
            Tag::new("alt-text", "Our red mug, hand-glazed"),
        ];
        let found = answers(&tags, None, None, &settings);
        assert_eq!(found.len(), 1);
        assert!(found[0].is_person());
        assert_eq!(found[0].caption.text, "Our red mug, hand-glazed");

        // The function's own tag, as its record says, is not.
        let mut record = Record::new("b", "k", State::Captioned);
        record.captions.insert(
            "en".into(),
            LangCaption {
                text: "A red mug, on a table!".into(),
                provider: "alttextlab".into(),
                source: Default::default(),
                request_id: None,
                tag_key: Some("alt-text".into()),
                tag_status: None,
                tag_reason: None,
            },
        );
        let ours = [Tag::new("alt-text", "A red mug on a table.")];
        assert!(answers(&ours, Some(&record), None, &settings).is_empty());
        // An edit of it is a person's.
        let edited = [Tag::new("alt-text", "A red mug on an oak table")];
        assert_eq!(answers(&edited, Some(&record), None, &settings).len(), 1);

        // The tag of a person's caption the record keeps whole stands for the whole text.
        record.captions.get_mut("en").unwrap().source = Source::Person;
        let found = answers(&ours, Some(&record), None, &settings);
        assert_eq!(found[0].caption.text, "A red mug, on a table!");
        assert!(found[0].is_person());
    }
}

//! A person's alt text comes first: an `alt-text` (or `alt-text-<lang>`) tag on the object
//! that the function did not write is someone's own caption. No provider is asked for that
//! language, the tag is left as it is, and the record says the caption is a person's.

use super::Settings;
use super::chain::{Answer, PERSON};
use crate::caption::{Record, Source, Tag, tags};
use crate::provider::Caption;

/// The people's captions among `object_tags`, one per configured language. A caption tag
/// is the function's own when its value is the tag value of the caption `existing` holds
/// for that language; any other value was written by a person.
pub(super) fn answers(
    object_tags: &[Tag],
    existing: Option<&Record>,
    settings: &Settings,
) -> Vec<Answer> {
    let recorded = existing.map(Record::all_captions).unwrap_or_default();
    settings
        .langs
        .iter()
        .filter_map(|lang| {
            let key = settings.tag_key_for(lang);
            let tag = object_tags
                .iter()
                .find(|t| t.key == key && !t.value.trim().is_empty())?;
            let recorded = recorded
                .get(lang)
                .filter(|c| tags::tag_value(&c.text).ok().as_deref() == Some(&tag.value));
            match recorded {
                // The function's own tag.
                Some(c) if c.source != Source::Person => None,
                // The tag of a person's caption the record keeps whole (set by hand).
                Some(c) => Some(Answer {
                    provider: PERSON.into(),
                    caption: Caption::new(c.text.clone(), lang.clone()),
                    person: true,
                }),
                None => Some(Answer {
                    provider: PERSON.into(),
                    caption: Caption::new(tag.value.clone(), lang.clone()),
                    person: true,
                }),
            }
        })
        .collect()
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
        let found = answers(&tags, None, &settings);
        assert_eq!(found.len(), 1);
        assert!(found[0].person);
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
        assert!(answers(&ours, Some(&record), &settings).is_empty());
        // An edit of it is a person's.
        let edited = [Tag::new("alt-text", "A red mug on an oak table")];
        assert_eq!(answers(&edited, Some(&record), &settings).len(), 1);

        // The tag of a person's caption the record keeps whole stands for the whole text.
        record.captions.get_mut("en").unwrap().source = Source::Person;
        let found = answers(&ours, Some(&record), &settings);
        assert_eq!(found[0].caption.text, "A red mug, on a table!");
        assert!(found[0].person);
    }
}

//! What a person's caption may be, and when it is set already.

use super::EditError;
use crate::caption::{Record, Source, Tag, TagStatus, tags};
use crate::pipeline::Settings;
use crate::pipeline::answer::Answer;

/// Longest caption a person may set, in characters.
pub const MAX_PERSON_CHARS: usize = 2000;

/// A person's caption as kept: trimmed, one line, not empty, not over the limit.
pub(super) fn person_text(text: &str) -> Result<String, EditError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(EditError::Invalid("the caption is empty".into()));
    }
    if text.chars().any(char::is_control) {
        return Err(EditError::Invalid(
            "the caption has a line break or control character".into(),
        ));
    }
    let chars = text.chars().count();
    if chars > MAX_PERSON_CHARS {
        return Err(EditError::Invalid(format!(
            "the caption has {chars} characters, more than {MAX_PERSON_CHARS}"
        )));
    }
    Ok(text.to_string())
}

/// Whether the person's caption for `lang` is `text` already, with its tag in place.
pub(super) fn is_set_already(
    record: Option<&Record>,
    object_tags: &[Tag],
    lang: &str,
    text: &str,
    settings: &Settings,
) -> bool {
    let Some(caption) = record.and_then(|r| r.captions.get(lang)) else {
        return false;
    };
    let key = settings.tag_key_for(lang);
    let tag = object_tags.iter().find(|t| t.key == key);
    let tag_in_place = match caption.tag_status {
        Some(TagStatus::Written) => {
            tag.is_some_and(|t| tags::tag_value(text).ok() == Some(t.value.clone()))
        }
        _ => true,
    };
    caption.source == Source::Person && caption.text == text && tag_in_place
}

/// The answers as the tag plan takes them: the edited language's tag is to be written
/// (unlike a person's tag found on the object, which is there already).
pub(super) fn as_ours(answers: &[Answer], lang: &str) -> Vec<Answer> {
    answers
        .iter()
        .map(|a| Answer {
            on_object: a.on_object && a.caption.lang != lang,
            ..a.clone()
        })
        .collect()
}

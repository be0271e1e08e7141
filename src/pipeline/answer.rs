//! A caption of one language and who wrote it: a provider, a person, or the owner's
//! decorative mark.

use crate::provider::Caption;

/// A caption of one language and who wrote it: a provider, or a person.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub provider: String,
    pub caption: Caption,
    /// A person's caption (from the object's tag or the record).
    pub person: bool,
    /// Its tag is on the object as a person wrote it: never rewritten.
    pub on_object: bool,
}

/// The `provider` of a person's caption.
pub(super) const PERSON: &str = "person";

/// The record's provider for a decorative image.
pub const DECORATIVE: &str = "decorative";

/// The empty alt text of a decorative image in `lang`.
pub(super) fn decorative_answer(lang: &str) -> Answer {
    Answer {
        provider: DECORATIVE.into(),
        caption: Caption::new("", lang),
        person: false,
        on_object: false,
    }
}

//! A caption of one language and who wrote it: a provider, a person, or the owner's
//! decorative mark.

use crate::caption::{LangCaption, Source};
use crate::provider::Caption;

/// Who wrote a caption. A record keeps it as the caption's `provider` and `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Author {
    /// A provider: a captioning service, or the image's embedded alt text (`embedded`),
    /// by the name records keep.
    Provider(String),
    /// A person: the review page, `set`, `import`, or an alt-text tag they set themselves.
    Person,
    /// The owner's decorative mark (`x-amz-meta-alt-decorative`): the empty alt text.
    Decorative,
}

impl Author {
    /// The author of a caption as its record keeps it.
    pub fn of(caption: &LangCaption) -> Author {
        match (caption.source, caption.provider.as_str()) {
            (Source::Person, _) => Author::Person,
            (Source::Provider, DECORATIVE) => Author::Decorative,
            (Source::Provider, name) => Author::Provider(name.to_string()),
        }
    }

    /// The `provider` a record keeps for the caption.
    pub fn name(&self) -> &str {
        match self {
            Author::Provider(name) => name,
            Author::Person => PERSON,
            Author::Decorative => DECORATIVE,
        }
    }

    /// The `source` a record keeps for the caption.
    pub fn source(&self) -> Source {
        match self {
            Author::Person => Source::Person,
            Author::Provider(_) | Author::Decorative => Source::Provider,
        }
    }
}

/// A caption of one language and who wrote it.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub author: Author,
    pub caption: Caption,
    /// Its tag is on the object as a person wrote it: never rewritten.
    pub on_object: bool,
}

impl Answer {
    /// A person's caption; `on_object` when the tag on the object is it already.
    pub fn person(text: &str, lang: &str, on_object: bool) -> Answer {
        Answer {
            author: Author::Person,
            caption: Caption::new(text, lang),
            on_object,
        }
    }

    /// The empty alt text of a decorative image in `lang`.
    pub fn decorative(lang: &str) -> Answer {
        Answer {
            author: Author::Decorative,
            caption: Caption::new("", lang),
            on_object: false,
        }
    }

    pub fn is_person(&self) -> bool {
        self.author == Author::Person
    }
}

/// The languages of `langs` none of `answers` is in, in order.
pub(super) fn missing_langs<'a>(langs: &'a [String], answers: &[Answer]) -> Vec<&'a str> {
    langs
        .iter()
        .filter(|l| !answers.iter().any(|a| &a.caption.lang == *l))
        .map(String::as_str)
        .collect()
}

/// The `provider` a record keeps for a person's caption.
const PERSON: &str = "person";

/// The `provider` a record keeps for a decorative image's caption.
pub(super) const DECORATIVE: &str = "decorative";

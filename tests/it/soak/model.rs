//! What must be true after each operation, as plain data: per key, the bytes it holds, the
//! user's own tags, the newest person's words per language, and the provider requests its
//! bytes may have cost.

use std::collections::BTreeMap;

use s3_alt_text::caption::{Record, Source, State, tags};

use crate::support::services::describe;

pub const LANGS: [&str; 2] = ["en", "de"];
/// `ALT_TEXT_MAX_ATTEMPTS`.
pub const MAX_ATTEMPTS: usize = 2;
/// cat.jpg's embedded alt text (English).
pub const CAT: &str = "Close-up of a brown tabby cat's face with green eyes and a pink nose.";

/// One object as the user last wrote it.
#[derive(Debug, Clone)]
pub struct Obj {
    /// Which of the images.
    pub image: usize,
    pub etag: String,
    /// The user's own tags (every tag but the captions').
    pub user_tags: Vec<(String, String)>,
    pub decorative: bool,
}

/// One key.
#[derive(Debug, Clone, Default)]
pub struct Key {
    pub obj: Option<Obj>,
    /// The newest person's words for these bytes, per language.
    pub person: BTreeMap<String, String>,
    /// Languages whose person's caption was cleared since the last delivery.
    pub cleared: Vec<String>,
    /// Provider requests these bytes may cost, per (image, language): one per time they
    /// needed a caption, `MAX_ATTEMPTS` each time a fault touched them.
    pub allowed: BTreeMap<(usize, String), usize>,
    /// A fault touched this key since its bytes last changed.
    pub faulted: bool,
    /// Provider requests this key needed without faults: one per language a provider
    /// captions, each time new bytes or a cleared caption needed it.
    pub minimum: usize,
}

impl Key {
    /// New bytes (or the same bytes after others): a new round of requests; whether it is.
    pub fn new_bytes(&mut self, obj: Obj) -> bool {
        let changed = self.obj.as_ref().is_none_or(|o| o.image != obj.image);
        if changed {
            self.person.clear();
            self.faulted = false;
            for lang in LANGS {
                *self.allowed.entry((obj.image, lang.into())).or_default() += 1;
                self.minimum += usize::from(needs_provider(&obj, lang));
            }
        }
        self.cleared.clear();
        self.obj = Some(obj);
        changed
    }

    /// A fault touched the key: its requests may be retried.
    pub fn fault(&mut self) {
        if let Some(obj) = &self.obj {
            self.faulted = true;
            for lang in LANGS {
                *self.allowed.entry((obj.image, lang.into())).or_default() += MAX_ATTEMPTS;
            }
        }
    }

    /// A caption cleared: the next delivery asks again.
    pub fn clear(&mut self, lang: &str) {
        self.person.remove(lang);
        self.cleared.push(lang.into());
        if let Some(obj) = &self.obj {
            *self.allowed.entry((obj.image, lang.into())).or_default() += 1;
            self.minimum += usize::from(needs_provider(obj, lang));
        }
    }

    /// A person's words uploaded in the object's tag: no provider is needed for that
    /// language of new bytes (`new_round`).
    pub fn uploaded_words(&mut self, lang: &str, words: String, new_round: bool) {
        if let Some(obj) = &self.obj
            && new_round
            && needs_provider(obj, lang)
        {
            self.minimum = self.minimum.saturating_sub(1);
        }
        self.person.insert(lang.into(), words);
    }
}

/// Whether a provider is asked for `lang` of `obj` (not decorative, no embedded text).
fn needs_provider(obj: &Obj, lang: &str) -> bool {
    let embedded = lang == LANGS[0] && obj.image != 0;
    !(obj.decorative || embedded)
}

/// The tag key of `lang`.
pub fn tag_key(lang: &str) -> String {
    if lang == LANGS[0] {
        "alt-text".into()
    } else {
        format!("alt-text-{lang}")
    }
}

/// The first way `key`'s object, tags and record differ from the model.
pub fn check(
    name: &str,
    key: &Key,
    images: &[Vec<u8>],
    tags_now: Option<&[(String, String)]>,
    record: Option<&Record>,
) -> Result<(), String> {
    let Some(obj) = &key.obj else {
        return match record {
            None => Ok(()),
            Some(r) => Err(format!("{name}: deleted, but a record remains: {r:?}")),
        };
    };
    let tags_now = tags_now.ok_or(format!("{name}: no tags read"))?;
    let user: Vec<(String, String)> = tags_now
        .iter()
        .filter(|(k, _)| !k.starts_with("alt-text"))
        .cloned()
        .collect();
    let mut wanted = obj.user_tags.clone();
    wanted.sort();
    let mut user_sorted = user.clone();
    user_sorted.sort();
    if user_sorted != wanted {
        return Err(format!(
            "{name}: the user's tags are {user:?}, not {wanted:?}"
        ));
    }
    let record = record.ok_or(format!("{name}: no record"))?;
    if record.etag.as_deref() != Some(obj.etag.as_str()) {
        return Err(format!(
            "{name}: the record's ETag {:?} is not the object's {}",
            record.etag, obj.etag
        ));
    }
    let captions = record.all_captions();
    for lang in LANGS {
        let tag = tags_now
            .iter()
            .find(|(k, _)| *k == tag_key(lang))
            .map(|(_, v)| v.as_str());
        let caption = captions.get(lang);
        let say = |what: String| {
            Err(format!(
                "{name} [{lang}]: {what}; tag {tag:?}; record {record:?}"
            ))
        };
        if let Some(words) = key.person.get(lang) {
            if caption.is_none_or(|c| c.text != *words || c.source != Source::Person) {
                return say(format!("the record lost the person's words {words:?}"));
            }
            if tag != Some(words.as_str()) {
                return say(format!("the tag is not the person's words {words:?}"));
            }
            continue;
        }
        if let Some(c) = caption.filter(|c| c.source == Source::Person) {
            return say(format!(
                "a person's caption {:?} nobody wrote for these bytes",
                c.text
            ));
        }
        if obj.decorative || key.cleared.iter().any(|l| l == lang) {
            if tag.is_some_and(|t| !t.is_empty()) || caption.is_some_and(|c| !c.text.is_empty()) {
                return say("a caption where none is wanted".into());
            }
            continue;
        }
        // Three of the images carry their author's English alt text.
        let embedded = lang == LANGS[0] && obj.image != 0;
        let expected = match (obj.image, caption) {
            (1, _) if embedded => CAT.to_string(),
            (_, Some(c)) if embedded && c.provider == "embedded" => c.text.clone(),
            _ => describe(&images[obj.image], lang),
        };
        match caption {
            Some(c) if c.text == expected => {
                if tag != tags::tag_value(&expected).ok().as_deref() {
                    return say(format!("the tag is not the caption {expected:?}"));
                }
            }
            Some(c) => return say(format!("the caption {:?} is not of these bytes", c.text)),
            // A fault may have spent every attempt: then no tag, and a record saying why.
            None if key.faulted && record.state == State::Failed && record.error.is_some() => {
                if tag.is_some() {
                    return say("a tag without a caption".into());
                }
            }
            None => return say("no caption".into()),
        }
    }
    Ok(())
}

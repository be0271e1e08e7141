//! S3 object tags: turning a caption into a valid tag value (or saying why it cannot be a
//! faithful one), and merging it into the object's existing tag set without losing any of
//! the user's tags.

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::CodePointMapData;
use icu_properties::props::{GeneralCategory, GeneralCategoryGroup};

/// S3 allows at most this many tags on an object.
pub const MAX_TAGS: usize = 10;
/// S3 allows tag values of at most this many characters.
pub const MAX_VALUE_CHARS: usize = 256;
/// S3-compatible stores (MinIO, SeaweedFS) count the same limit in UTF-8 bytes. A value
/// within both is valid everywhere; the whole caption is always in the record.
pub const MAX_VALUE_BYTES: usize = 256;

/// One object tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Characters S3 accepts in tag keys and values, by its documented pattern
/// `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`: letters, separators, numbers and `_ . : / = + - @`.
/// Marks (`\p{M}`: combining accents, vowel signs, viramas) are not among them.
pub fn is_tag_char(c: char) -> bool {
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    GeneralCategoryGroup::Letter.contains(category)
        || GeneralCategoryGroup::Separator.contains(category)
        || GeneralCategoryGroup::Number.contains(category)
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

/// Whether `c` is a mark that is part of how a letter is written (a combining accent, a
/// vowel sign, a virama). Variation selectors and enclosing marks (an emoji's keycap) only
/// change how a symbol looks, and can go.
fn is_mark(c: char) -> bool {
    let variation_selector = matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}');
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    !variation_selector
        && matches!(
            category,
            GeneralCategory::NonspacingMark | GeneralCategory::SpacingMark
        )
}

/// Whether a mark in `text` modifies a character a tag keeps (a letter or digit): dropping
/// it would change the word. Marks on dropped characters (an emoji's presentation
/// selector, a keycap) go with them.
fn marks_a_kept_character(text: &str) -> bool {
    let mut base_kept = false;
    for c in text.chars() {
        if is_mark(c) {
            if base_kept {
                return true;
            }
        } else {
            base_kept = is_tag_char(c) && !c.is_whitespace();
        }
    }
    false
}

/// `text` in Unicode normalisation form C: a letter and its combining accent become the
/// one precomposed letter where Unicode has it (`e` + U+0301 is `é`).
pub fn nfc(text: &str) -> String {
    ComposingNormalizerBorrowed::new_nfc()
        .normalize(text)
        .into_owned()
}

/// The tag value of a caption: [`sanitize_value`] of its NFC form, when that keeps every
/// letter as it is written. A caption whose words need combining marks even in NFC
/// (Devanagari, Bengali, Tamil and Thai vowel signs, Arabic harakat, Hebrew niqqud) cannot
/// be a faithful tag: S3 refuses the marks, and dropping them would misspell the words.
/// `Err` says why; the caption is then kept whole in the record only.
pub fn tag_value(caption: &str) -> Result<String, String> {
    let normal = nfc(caption);
    if marks_a_kept_character(&normal) {
        return Err("its letters carry combining marks, which S3 tag values cannot hold".into());
    }
    let value = sanitize_value(&normal);
    if value.is_empty() {
        return Err("none of it is a letter or digit an S3 tag value can hold".into());
    }
    Ok(value)
}

/// Turns a caption into a readable, valid tag value.
///
/// Sentence punctuation that S3 refuses becomes the nearest allowed form (`!`/`?` end a
/// sentence like `.`, `&` reads as `+`, `;` and dashes become ` - `), quotes, brackets and
/// other symbols are dropped, whitespace collapses, and a long caption is cut at a word
/// boundary to 256 UTF-8 bytes (so at most 256 characters too). The caption is put in NFC
/// first; marks that remain are dropped ([`tag_value`] refuses such captions instead).
pub fn sanitize_value(caption: &str) -> String {
    let caption = nfc(caption);
    let mut mapped = String::with_capacity(caption.len());
    for c in caption.chars() {
        match c {
            c if is_tag_char(c) => mapped.push(c),
            c if c.is_whitespace() || c.is_control() => mapped.push(' '),
            '!' | '?' => mapped.push('.'),
            '&' => mapped.push_str(" + "),
            ';' | '\u{2013}' | '\u{2014}' => mapped.push_str(" - "),
            '%' => mapped.push_str(" percent"),
            '#' => mapped.push_str(" number "),
            // , ' " ( ) [ ] { } * < > | \ ~ ` ^ $ and every other symbol or emoji
            _ => {}
        }
    }
    let collapsed = mapped.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_at_word(&collapsed, MAX_VALUE_BYTES)
}

/// Cuts `text` to at most `max` UTF-8 bytes, at the last space when there is one.
fn truncate_at_word(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    // The longest prefix of whole characters within `max` bytes, and the character after
    // it: a cut just before a space is a cut at a word boundary.
    let end = text
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .take_while(|&end| end <= max)
        .last()
        .unwrap_or(0);
    let next_is_space = text[end..].starts_with(' ');
    let cut = &text[..end];
    let head = match cut.rfind(' ') {
        _ if next_is_space => cut,
        Some(space) if space > 0 => &cut[..space],
        _ => cut,
    };
    head.trim_end_matches([' ', '-', ':', '/', '=', '+', '@'])
        .to_string()
}

/// Adds or replaces each of `wanted` in `existing`, keeping every other tag and its order.
/// Tags already present are replaced in place; new ones are added in order while the
/// object has room. Returns the new tag set (`None` if nothing changes) and, for each
/// wanted tag, whether it is in it.
pub fn merge_all(existing: &[Tag], wanted: &[Tag]) -> (Option<Vec<Tag>>, Vec<bool>) {
    let mut tags = existing.to_vec();
    let mut placed = Vec::with_capacity(wanted.len());
    let mut changed = false;
    for tag in wanted {
        if let Some(ours) = tags.iter_mut().find(|t| t.key == tag.key) {
            changed |= ours.value != tag.value;
            ours.value = tag.value.clone();
            placed.push(true);
        } else if tags.len() < MAX_TAGS {
            tags.push(tag.clone());
            changed = true;
            placed.push(true);
        } else {
            placed.push(false);
        }
    }
    (changed.then_some(tags), placed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_allowed_text_as_is() {
        let text = "A brown tabby cat: 3 kittens - 50/50 split = fun + games @ home_2.";
        assert_eq!(sanitize_value(text), text);
        assert_eq!(
            sanitize_value("Été à Paris, café crème"),
            "Été à Paris café crème"
        );
        assert_eq!(sanitize_value("東京タワーの夜景"), "東京タワーの夜景");
    }

    #[test]
    fn replaces_or_drops_forbidden_characters() {
        assert_eq!(
            sanitize_value(
                "Close-up of a brown tabby cat's face, with \"green\" eyes (and a pink nose)!"
            ),
            "Close-up of a brown tabby cats face with green eyes and a pink nose."
        );
        assert_eq!(
            sanitize_value("Salt & pepper; 100% organic? Yes!"),
            "Salt + pepper - 100 percent organic. Yes."
        );
        assert_eq!(
            sanitize_value("Tab\there,\nnew line \u{7}bell 🐱 #1"),
            "Tab here new line bell number 1"
        );
        assert_eq!(sanitize_value("  \t "), "");
    }

    #[test]
    fn long_captions_are_cut_at_a_word_boundary() {
        let caption = "word ".repeat(80); // 400 characters
        let value = sanitize_value(&caption);
        assert!(value.chars().count() <= MAX_VALUE_CHARS);
        assert!(value.ends_with("word"), "{value}");
        assert!(value.split(' ').all(|w| w == "word"));

        // The limit is in bytes: S3 counts characters, S3-compatible stores count bytes.
        let unbroken = "é".repeat(300);
        assert_eq!(sanitize_value(&unbroken).len(), MAX_VALUE_BYTES);
        assert_eq!(sanitize_value(&unbroken).chars().count(), 128);
        let words = "café crème ".repeat(30); // 12 bytes a word pair
        let value = sanitize_value(&words);
        assert!(value.len() <= MAX_VALUE_BYTES, "{}", value.len());
        assert!(value.len() > MAX_VALUE_BYTES - 12, "{}", value.len());
        assert!(
            value.ends_with("crème") || value.ends_with("café"),
            "{value}"
        );
    }

    #[test]
    fn decomposed_accents_are_composed_and_kept() {
        let decomposed = "Cafe\u{301} cre\u{300}me";
        assert_eq!(tag_value(decomposed).unwrap(), "Café crème");
        assert_eq!(tag_value("Ảnh một con mèo").unwrap(), "Ảnh một con mèo");
        assert_eq!(tag_value("猫の写真 🐱").unwrap(), "猫の写真");
        // The emoji presentation selector and a keycap are marks, on symbols a tag drops.
        assert_eq!(
            tag_value("A red heart \u{2764}\u{FE0F} balloon").unwrap(),
            "A red heart balloon"
        );
        assert_eq!(
            tag_value("Gate 1\u{FE0F}\u{20E3} at dusk").unwrap(),
            "Gate 1 at dusk"
        );
    }

    #[test]
    fn words_that_need_marks_get_no_tag() {
        for caption in [
            "एक बिल्ली की तस्वीर", // Devanagari vowel signs and virama
            "একটি বিড়ালের ছবি",   // Bengali
            "ஒரு பூனையின் படம்",   // Tamil
            "ภาพแมวนั่งอยู่",        // Thai vowels and tone marks
            "صُورَةُ قِطٍّ",           // Arabic with harakat
            "תְּמוּנָה שֶׁל חָתוּל",     // Hebrew with niqqud
        ] {
            let err = tag_value(caption).unwrap_err();
            assert!(err.contains("combining marks"), "{caption}: {err}");
        }
        assert!(tag_value("🐱🐶").is_err(), "nothing a tag can hold");
        // Without their optional vowel points, Arabic and Hebrew are plain letters.
        assert_eq!(tag_value("صورة قط").unwrap(), "صورة قط");
        assert_eq!(tag_value("תמונה של חתול").unwrap(), "תמונה של חתול");
    }

    #[test]
    fn values_are_always_valid() {
        let nasty = "«Quoted» <b>bold</b> {json: [1,2]} back\\slash pipe| tilde~ caret^ dollar$ ` star* 'single' \u{0} \u{200B}zero-width";
        let value = sanitize_value(nasty);
        assert!(value.chars().all(is_tag_char), "{value}");
        assert!(!value.is_empty());
    }

    fn user_tags(n: usize) -> Vec<Tag> {
        (0..n)
            .map(|i| Tag::new(format!("user-{i}"), format!("value {i}")))
            .collect()
    }

    #[test]
    fn merge_adds_our_tag_after_the_users() {
        let existing = user_tags(9);
        let (tags, placed) = merge_all(&existing, &[Tag::new("alt-text", "A cat")]);
        let tags = tags.unwrap();
        assert_eq!(placed, [true]);
        assert_eq!(tags.len(), 10);
        assert_eq!(&tags[..9], &existing[..]);
        assert_eq!(tags[9], Tag::new("alt-text", "A cat"));
    }

    #[test]
    fn merge_replaces_our_tag_in_place() {
        let mut existing = user_tags(10);
        existing[4] = Tag::new("alt-text", "old caption");
        let (tags, _) = merge_all(&existing, &[Tag::new("alt-text", "new caption")]);
        let tags = tags.unwrap();
        assert_eq!(tags.len(), 10);
        assert_eq!(tags[4], Tag::new("alt-text", "new caption"));
        assert_eq!(tags.iter().filter(|t| t.key != "alt-text").count(), 9);
    }

    #[test]
    fn merge_all_fills_the_room_in_order() {
        let wanted = [
            Tag::new("alt-text", "A cat"),
            Tag::new("alt-text-de", "Eine Katze"),
            Tag::new("alt-text-fr", "Un chat"),
        ];
        let existing = user_tags(8);
        let (tags, placed) = merge_all(&existing, &wanted);
        let tags = tags.unwrap();
        assert_eq!(placed, [true, true, false]);
        assert_eq!(tags.len(), 10);
        assert_eq!(&tags[..8], &existing[..]);
        assert_eq!(&tags[8..], &wanted[..2]);

        // Ours are replaced in place even when the set is full.
        let mut full = user_tags(9);
        full.insert(3, Tag::new("alt-text-fr", "old"));
        let (tags, placed) = merge_all(&full, &wanted);
        assert_eq!(placed, [false, false, true]);
        let tags = tags.unwrap();
        assert_eq!(tags[3], Tag::new("alt-text-fr", "Un chat"));
        assert_eq!(tags.len(), 10);

        // Nothing to change: no write.
        let (tags, placed) = merge_all(&user_tags(10), &wanted);
        assert_eq!((tags, placed), (None, vec![false, false, false]));
        let same = vec![Tag::new("alt-text", "A cat")];
        assert_eq!(merge_all(&same, &same[..1]), (None, vec![true]));
    }

    #[test]
    fn merge_leaves_a_full_tag_set_alone() {
        assert_eq!(
            merge_all(&user_tags(10), &[Tag::new("alt-text", "A cat")]),
            (None, vec![false])
        );
    }
}

//! S3 object tags: turning a caption into a valid tag value, and merging it into the
//! object's existing tag set without losing any of the user's tags.

/// S3 allows at most this many tags on an object.
pub const MAX_TAGS: usize = 10;
/// S3 allows tag values of at most this many characters.
pub const MAX_VALUE_CHARS: usize = 256;

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

/// Characters S3 accepts in tag keys and values: letters, digits, spaces and `_ . : / = + - @`.
pub fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, ' ' | '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

/// Turns a caption into a readable, valid tag value.
///
/// Sentence punctuation that S3 refuses becomes the nearest allowed form (`!`/`?` end a
/// sentence like `.`, `&` reads as `+`, `;` and dashes become ` - `), quotes, brackets and
/// other symbols are dropped, whitespace collapses, and a long caption is cut at a word
/// boundary to 256 characters.
pub fn sanitize_value(caption: &str) -> String {
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
    truncate_at_word(&collapsed, MAX_VALUE_CHARS)
}

/// Cuts `text` to at most `max` characters, at the last space when there is one.
fn truncate_at_word(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max + 1).collect();
    let head = match cut.rfind(' ') {
        Some(space) if space > 0 => &cut[..space],
        _ => {
            let end = cut.char_indices().nth(max).map_or(cut.len(), |(i, _)| i);
            &cut[..end]
        }
    };
    head.trim_end_matches([' ', '-', ':', '/', '=', '+', '@'])
        .to_string()
}

/// How the caption tag fits into an object's tag set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    /// The full new tag set: every existing tag, with ours added or replaced.
    Tags(Vec<Tag>),
    /// The object has the maximum number of tags and none is ours: leave them alone.
    NoRoom,
}

/// Adds or replaces the tag `key` in `existing`, keeping every other tag and its order.
pub fn merge(existing: &[Tag], key: &str, value: &str) -> Merge {
    let mut tags = existing.to_vec();
    if let Some(ours) = tags.iter_mut().find(|t| t.key == key) {
        ours.value = value.to_string();
        return Merge::Tags(tags);
    }
    if tags.len() >= MAX_TAGS {
        return Merge::NoRoom;
    }
    tags.push(Tag::new(key, value));
    Merge::Tags(tags)
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

        let unbroken = "é".repeat(300);
        assert_eq!(sanitize_value(&unbroken).chars().count(), MAX_VALUE_CHARS);
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
        let Merge::Tags(tags) = merge(&existing, "alt-text", "A cat") else {
            panic!("room expected")
        };
        assert_eq!(tags.len(), 10);
        assert_eq!(&tags[..9], &existing[..]);
        assert_eq!(tags[9], Tag::new("alt-text", "A cat"));
    }

    #[test]
    fn merge_replaces_our_tag_in_place() {
        let mut existing = user_tags(10);
        existing[4] = Tag::new("alt-text", "old caption");
        let Merge::Tags(tags) = merge(&existing, "alt-text", "new caption") else {
            panic!("room expected")
        };
        assert_eq!(tags.len(), 10);
        assert_eq!(tags[4], Tag::new("alt-text", "new caption"));
        assert_eq!(tags.iter().filter(|t| t.key != "alt-text").count(), 9);
    }

    #[test]
    fn merge_leaves_a_full_tag_set_alone() {
        assert_eq!(merge(&user_tags(10), "alt-text", "A cat"), Merge::NoRoom);
    }
}

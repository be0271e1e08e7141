//! Captions are untrusted: whatever a provider returns, the quality guard's output has no
//! control characters and respects the length bound, and the tag value is valid for S3.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3_alt_text::caption::quality;
use s3_alt_text::caption::tags::{self, MAX_TAGS, MAX_VALUE_BYTES, MAX_VALUE_CHARS, Tag, is_tag_char};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let value = tags::sanitize_value(text);
    assert!(value.chars().all(is_tag_char), "{value:?}");
    assert!(value.chars().count() <= MAX_VALUE_CHARS);
    assert!(value.len() <= MAX_VALUE_BYTES);
    assert_eq!(value, value.trim());
    if text.chars().any(char::is_alphabetic) && text.chars().all(|c| c.is_alphabetic() || c == ' ')
    {
        assert!(!value.is_empty(), "{text:?}");
    }

    let max = data.first().map(|b| 20 + usize::from(*b)).unwrap_or(125);
    if let Ok(caption) = quality::review(text, "uploads/photo.jpg", Some(max)) {
        assert!(!caption.chars().any(char::is_control), "{caption:?}");
        assert!(caption.chars().count() <= max, "{caption:?}");
        assert!(caption.chars().any(char::is_alphanumeric));
    }

    // Merging never drops a user tag nor exceeds S3's limit.
    let existing: Vec<Tag> = text
        .split('\n')
        .take(MAX_TAGS)
        .enumerate()
        .map(|(i, v)| Tag::new(format!("user-{i}"), v))
        .collect();
    let wanted = [
        Tag::new("alt-text", value.clone()),
        Tag::new("alt-text-de", value),
    ];
    let (merged, placed) = tags::merge_all(&existing, &wanted);
    let merged = merged.unwrap_or(existing.clone());
    assert!(merged.len() <= MAX_TAGS.max(existing.len()));
    assert!(existing.iter().all(|t| merged.contains(t)));
    assert_eq!(placed.len(), wanted.len());
});

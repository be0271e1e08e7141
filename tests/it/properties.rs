//! Property tests of the functions that take untrusted text: tag values, the caption
//! quality guard, tag merging, key decoding and sequencer ordering.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use s3_alt_text::caption::quality;
use s3_alt_text::caption::tags::{
    MAX_TAGS, MAX_VALUE_BYTES, MAX_VALUE_CHARS, Tag, is_tag_char, merge_all, sanitize_value,
};
use s3_alt_text::event::{decode_key, sequencer_key, sequencer_order};

use crate::support::encode_key;

proptest! {
    // The failures found so far are replayed from properties.proptest-regressions, beside
    // this file (proptest's default place would be tests/proptest-regressions/, since
    // tests/it holds a main.rs).
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::with_cases(2000)
    })]

    #[test]
    fn tag_values_are_always_valid(caption in any::<String>()) {
        let value = sanitize_value(&caption);
        prop_assert!(value.chars().all(is_tag_char), "{:?}", value);
        prop_assert!(value.chars().count() <= MAX_VALUE_CHARS);
        prop_assert!(value.len() <= MAX_VALUE_BYTES);
        prop_assert_eq!(value.trim(), value.as_str());
        prop_assert_eq!(sanitize_value(&value), value.clone(), "sanitising is idempotent");
    }

    #[test]
    fn a_caption_of_letters_never_becomes_empty(caption in "[ \\p{L}]{0,20}\\p{L}[ \\p{L}]{0,600}") {
        let value = sanitize_value(&caption);
        prop_assert!(!value.is_empty(), "{:?}", caption);
        prop_assert!(value.chars().count() <= MAX_VALUE_CHARS);
        prop_assert!(value.len() <= MAX_VALUE_BYTES);
    }

    #[test]
    fn reviewed_captions_are_clean_and_bounded(caption in any::<String>(), max in 20usize..300) {
        if let Ok(text) = quality::review(&caption, "uploads/IMG_0001.jpg", Some(max)) {
            prop_assert!(!text.chars().any(char::is_control), "{:?}", text);
            prop_assert!(text.chars().count() <= max);
            prop_assert!(text.chars().any(char::is_alphanumeric));
            prop_assert_eq!(text.trim(), text.as_str());
        }
    }

    #[test]
    fn shortening_never_leaves_only_punctuation(
        prefix in "[=:&/.-]{1,8}",
        word in "[a-z]{40,80}",
        max in 20usize..40,
    ) {
        let caption = format!("{prefix} {word}");
        if let Ok(text) = quality::review(&caption, "k.jpg", Some(max)) {
            prop_assert!(text.chars().any(char::is_alphanumeric), "{:?} -> {:?}", caption, text);
            prop_assert!(text.chars().count() <= max);
        }
    }

    #[test]
    fn reviewing_twice_changes_nothing(caption in "[ a-zA-Z,.!?'\"]{1,300}", max in 20usize..300) {
        if let Ok(once) = quality::review(&caption, "k.jpg", Some(max)) {
            prop_assert_eq!(quality::review(&once, "k.jpg", Some(max)), Ok(once.clone()));
        }
    }

    #[test]
    fn merging_never_drops_a_user_tag(
        users in prop::collection::vec(("[a-z]{1,8}", "[a-z ]{0,12}"), 0..=MAX_TAGS),
        ours in prop::collection::vec("[a-z ]{1,12}", 1..4),
    ) {
        // Distinct user keys, none of them ours.
        let mut existing: Vec<Tag> = Vec::new();
        for (k, v) in users {
            let key = format!("user-{k}");
            if !existing.iter().any(|t| t.key == key) {
                existing.push(Tag::new(key, v));
            }
        }
        let wanted: Vec<Tag> = ours
            .iter()
            .enumerate()
            .map(|(i, v)| Tag::new(if i == 0 { "alt-text".to_string() } else { format!("alt-text-{i}") }, v.clone()))
            .collect();
        let (merged, placed) = merge_all(&existing, &wanted);
        let merged = merged.unwrap_or_else(|| existing.clone());
        prop_assert!(merged.len() <= MAX_TAGS);
        prop_assert_eq!(&merged[..existing.len()], &existing[..], "the user's tags, in order");
        let room = MAX_TAGS - existing.len();
        let expected: Vec<bool> = (0..wanted.len()).map(|i| i < room).collect();
        prop_assert_eq!(placed, expected);
    }

    #[test]
    fn keys_round_trip_through_notification_encoding(key in any::<String>()) {
        prop_assert_eq!(decode_key(&encode_key(&key)), Ok(key));
    }

    #[test]
    fn stored_sequencers_order_like_s3(a in "[0-9A-F]{1,40}", b in "[0-9A-F]{1,40}") {
        prop_assert_eq!(sequencer_key(&a).cmp(&sequencer_key(&b)), sequencer_order(&a, &b));
    }
}

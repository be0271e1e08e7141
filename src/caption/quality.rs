//! The caption quality guard: every provider's caption passes through it before it is
//! stored. A caption is untrusted data: control and invisible formatting characters go,
//! boilerplate openings are dropped, the length is bounded, and empty text, refusals,
//! apologies and mere file names are rejected (the next provider is then asked).

use crate::secret::redact_urls;

/// Hard bound on a stored caption, whatever the configuration.
pub const MAX_CAPTION_CHARS: usize = 1000;

/// Openings that tell a screen-reader user nothing ("Image of a cat" → "A cat").
const BOILERPLATE: &[&str] = &[
    "alt text:",
    "alt-text:",
    "alt:",
    "this is an image of",
    "this is a picture of",
    "this image shows",
    "this image depicts",
    "this picture shows",
    "the image shows",
    "the image depicts",
    "the picture shows",
    "an image of",
    "an image showing",
    "image of",
    "image showing",
    "a picture of",
    "picture of",
];

/// Openings of a model that declined or cannot see the image.
const REFUSALS: &[&str] = &[
    "i'm sorry",
    "i am sorry",
    "sorry,",
    "sorry but",
    "i apologize",
    "i apologise",
    "i cannot",
    "i can't",
    "i can not",
    "i'm unable",
    "i am unable",
    "i'm not able",
    "i am not able",
    "unable to",
    "as an ai",
    "i don't see",
    "i do not see",
    "there is no image",
    "no image",
];

/// Checks and tidies a caption for the object `key`. `Err` says why it was rejected.
pub fn review(caption: &str, key: &str, max_chars: Option<usize>) -> Result<String, String> {
    // A model that echoes the presigned URL it was given must not store its signature.
    let cleaned = clean(&redact_urls(caption));
    let mut text = cleaned.as_str();
    loop {
        let before = text;
        text = strip_quotes(text);
        for opening in BOILERPLATE {
            if let Some(rest) = strip_prefix_ignore_case(text, opening) {
                text = rest.trim_start_matches([' ', ':', ',', '-']);
            }
        }
        if text == before {
            break;
        }
    }
    if !text.chars().any(char::is_alphanumeric) {
        return Err("the caption is empty".into());
    }
    let lower = text.to_lowercase().replace('\u{2019}', "'");
    if REFUSALS.iter().any(|r| lower.starts_with(r)) {
        return Err(format!(
            "the caption is a refusal or an apology: {:?}",
            shorten(text, 60)
        ));
    }
    if repeats_file_name(text, key) {
        return Err(format!(
            "the caption only repeats the file name: {:?}",
            shorten(text, 60)
        ));
    }
    let mut text = capitalise(text);
    let limit = max_chars
        .unwrap_or(MAX_CAPTION_CHARS)
        .min(MAX_CAPTION_CHARS);
    if text.chars().count() > limit {
        text = shorten(&text, limit);
        if !text.chars().any(char::is_alphanumeric) {
            return Err("the caption is empty once shortened".into());
        }
    }
    Ok(text)
}

/// Control characters and invisible formatting (zero-width, bidirectional overrides) become
/// spaces or go; whitespace collapses.
fn clean(text: &str) -> String {
    let visible: String = text
        .chars()
        .filter(|c| {
            !matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{AD}')
        })
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let collapsed = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed
        .trim_matches(['*', '_', '#', '`', ' '])
        .to_string()
}

/// The text without one pair of surrounding quotes.
fn strip_quotes(text: &str) -> &str {
    let text = text.trim();
    for (open, close) in [
        ('"', '"'),
        ('\'', '\''),
        ('\u{201C}', '\u{201D}'),
        ('«', '»'),
    ] {
        if let Some(inner) = text.strip_prefix(open).and_then(|t| t.strip_suffix(close)) {
            return inner.trim();
        }
    }
    text
}

fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    let boundary = text[prefix.len()..]
        .chars()
        .next()
        .is_none_or(|c| !c.is_alphanumeric());
    (head.eq_ignore_ascii_case(prefix) && boundary).then(|| &text[prefix.len()..])
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if first.is_lowercase() => first.to_uppercase().chain(chars).collect(),
        _ => text.to_string(),
    }
}

/// Whether the caption says nothing but the object's file name (or a camera's name for it).
fn repeats_file_name(text: &str, key: &str) -> bool {
    let words = |s: &str| -> Vec<String> {
        s.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect()
    };
    let caption = words(text);
    let name = key.rsplit('/').next().unwrap_or(key);
    let file = words(name);
    let stem = match name.rsplit_once('.') {
        Some((stem, _)) => words(stem),
        None => file.clone(),
    };
    // The name itself, or a few of its words: a descriptive file name ("red-bicycle-
    // against-a-brick-wall.jpg") may share every word with a good, longer caption.
    if caption == stem
        || caption == file
        || (caption.len() <= 3 && caption.iter().all(|w| file.contains(w)))
    {
        return true;
    }
    // IMG_1234, DSC01234, PXL_20240101_123456: a camera's file name, not a description.
    let camera = [
        "img",
        "dsc",
        "dscn",
        "dscf",
        "pxl",
        "photo",
        "image",
        "pic",
        "screenshot",
    ];
    let extension = [
        "jpg", "jpeg", "png", "gif", "webp", "heic", "avif", "tif", "tiff", "bmp",
    ];
    caption.len() <= 4
        && caption.iter().any(|w| {
            let letters = w.trim_end_matches(|c: char| c.is_ascii_digit());
            camera.contains(&letters)
        })
        && caption.iter().all(|w| {
            w.chars().any(|c| c.is_ascii_digit())
                || camera.contains(&w.as_str())
                || extension.contains(&w.as_str())
        })
}

/// Cuts `text` to at most `max` characters: at the end of a sentence if one ends in the
/// second half, otherwise at a word boundary with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    if let Some(end) = cut.rfind(['.', '!', '?'])
        && cut[..end].chars().count() >= max / 2
    {
        return cut[..=end].to_string();
    }
    let room: String = cut.chars().take(max.saturating_sub(1)).collect();
    // At the last word boundary, unless that drops more than half: then mid-word.
    let head = match room.rfind(' ') {
        Some(space) if room[..space].chars().count() >= max / 2 => &room[..space],
        _ => &room,
    };
    format!("{}…", head.trim_end_matches([' ', ',', ';', ':', '-']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(caption: &str) -> String {
        review(caption, "photos/cat.jpg", None).unwrap()
    }

    #[test]
    fn good_captions_pass_tidied() {
        assert_eq!(ok("A cat asleep on a sofa."), "A cat asleep on a sofa.");
        assert_eq!(ok("  A cat\n\tasleep  "), "A cat asleep");
        assert_eq!(ok("\"A cat asleep.\""), "A cat asleep.");
        assert_eq!(ok("**A cat asleep.**"), "A cat asleep.");
    }

    #[test]
    fn boilerplate_openings_are_dropped() {
        assert_eq!(ok("Image of a cat asleep."), "A cat asleep.");
        assert_eq!(ok("A picture of a cat asleep."), "A cat asleep.");
        assert_eq!(ok("Alt text: \"An image of a cat.\""), "A cat.");
        assert_eq!(ok("The image shows: two cats."), "Two cats.");
        // Only whole words: "Imagery" is not "Image".
        assert_eq!(ok("Imagery of the night sky."), "Imagery of the night sky.");
    }

    #[test]
    fn empty_refusals_and_file_names_are_rejected() {
        for bad in ["", "   ", "\"\"", "Image of", "…!"] {
            assert!(
                review(bad, "a.jpg", None).unwrap_err().contains("empty"),
                "{bad:?}"
            );
        }
        for bad in [
            "I'm sorry, I can't help with that.",
            "I’m sorry, but I cannot describe this image.",
            "As an AI, I cannot see images.",
            "Sorry, the image could not be loaded.",
            "Unable to determine the content.",
        ] {
            assert!(
                review(bad, "a.jpg", None).unwrap_err().contains("refusal"),
                "{bad:?}"
            );
        }
        for (bad, key) in [
            ("cat.jpg", "photos/cat.jpg"),
            ("Cat", "photos/cat.jpg"),
            ("IMG_1234", "uploads/IMG_1234.JPG"),
            ("IMG 5678", "uploads/holiday.jpg"),
            ("DSC01234.jpg", "x.jpg"),
            ("red shoe", "products/red-shoe-42.png"),
        ] {
            assert!(
                review(bad, key, None).unwrap_err().contains("file name"),
                "{bad:?} for {key}"
            );
        }
        // A real description that mentions a name's words passes, even one made of them.
        assert!(review("A cat on a red chair.", "photos/cat.jpg", None).is_ok());
        assert!(
            review(
                "A red bicycle against a brick wall.",
                "shop/red-bicycle-against-a-brick-wall.jpg",
                None
            )
            .is_ok()
        );
        assert!(
            review(
                "red bicycle against a brick wall",
                "shop/red-bicycle-against-a-brick-wall.jpg",
                None
            )
            .unwrap_err()
            .contains("file name")
        );
    }

    #[test]
    fn control_and_invisible_characters_go() {
        assert_eq!(
            ok("A cat\u{0}\u{7} on a\u{202E}mat\u{200B}.\r\n"),
            "A cat on amat."
        );
        assert_eq!(
            ok("<b>A cat</b>"),
            "<b>A cat</b>",
            "markup is kept as text, never interpreted"
        );
    }

    #[test]
    fn an_echoed_presigned_url_loses_its_signature() {
        let text = ok(
            "A cup of coffee, from https://b.s3.amazonaws.com/k.jpg?X-Amz-Signature=abc123 here.",
        );
        assert!(
            !text.contains("abc123") && !text.contains("X-Amz"),
            "{text}"
        );
    }

    #[test]
    fn long_captions_are_shortened() {
        let text = "A tabby cat sleeps on a sofa. Next to it lies a ball of yarn and a book.";
        assert_eq!(
            review(text, "k.jpg", Some(40)).unwrap(),
            "A tabby cat sleeps on a sofa."
        );
        let one_sentence = "A tabby cat sleeping on a green sofa beside a ball of red yarn";
        let short = review(one_sentence, "k.jpg", Some(30)).unwrap();
        assert!(short.chars().count() <= 30, "{short}");
        assert_eq!(short, "A tabby cat sleeping on a…");
        // A first word far shorter than the room: cut mid-word rather than keep only it.
        let short = review("= ttpO:O&OOOOOOOOOOOOOO/s im", "k.jpg", Some(20));
        assert_eq!(short.as_deref(), Ok("= ttpO:O&OOOOOOOOOO…"));
        assert_eq!(
            review("=================== abc", "k.jpg", Some(20)),
            Err("the caption is empty once shortened".into())
        );
        let huge = "word ".repeat(1000);
        assert!(review(&huge, "k.jpg", None).unwrap().chars().count() <= MAX_CAPTION_CHARS);
    }
}

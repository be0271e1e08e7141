//! The instructions the language-model providers (Bedrock, OpenAI-compatible) get: what
//! good alt text is, in which language, and how long.

use crate::image::context::ImageContext;

/// Used when `ALT_TEXT_PROMPT` is not set.
pub const DEFAULT_PROMPT: &str = "Write alt text for this image, for someone who cannot see it. \
Describe what matters in the image in one or two plain sentences: the subject, the action, \
and any visible text. Do not start with \"Image of\" or \"Picture of\", do not guess at \
identities, and do not add commentary.";

/// The full prompt for one caption: the configured instructions, the image's context (its
/// owner's words, quoted as data), then the language and length, then the answer format.
pub fn prompt(
    custom: Option<&str>,
    lang: &str,
    max_chars: Option<usize>,
    context: &ImageContext,
) -> String {
    let mut text = custom.unwrap_or(DEFAULT_PROMPT).trim().to_string();
    if let Some(block) = context.prompt_block() {
        text.push('\n');
        text.push_str(&block);
    }
    match language_name(lang) {
        Some(name) => text.push_str(&format!("\nWrite it in {name} (language code {lang}).")),
        None => text.push_str(&format!("\nWrite it in the language with code {lang}.")),
    }
    if let Some(max) = max_chars {
        text.push_str(&format!("\nUse at most {max} characters."));
    }
    text.push_str("\nAnswer with the alt text only, without quotes or a label.");
    text
}

/// English name of a language, for the common codes.
fn language_name(lang: &str) -> Option<&'static str> {
    let primary = lang.split('-').next().unwrap_or(lang).to_ascii_lowercase();
    Some(match primary.as_str() {
        "en" => "English",
        "de" => "German",
        "fr" => "French",
        "es" => "Spanish",
        "it" => "Italian",
        "pt" => "Portuguese",
        "nl" => "Dutch",
        "pl" => "Polish",
        "ru" => "Russian",
        "uk" => "Ukrainian",
        "cs" => "Czech",
        "sv" => "Swedish",
        "da" => "Danish",
        "fi" => "Finnish",
        "no" | "nb" => "Norwegian",
        "tr" => "Turkish",
        "el" => "Greek",
        "ja" => "Japanese",
        "ko" => "Korean",
        "zh" => "Chinese",
        "ar" => "Arabic",
        "he" => "Hebrew",
        "hi" => "Hindi",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_names_language_and_length() {
        let p = prompt(None, "de", Some(125), &ImageContext::default());
        assert!(p.starts_with(DEFAULT_PROMPT));
        assert!(p.contains("in German (language code de)"), "{p}");
        assert!(p.contains("at most 125 characters"), "{p}");
        let p = prompt(
            Some("  Describe the product for a shop.  "),
            "pt-BR",
            None,
            &ImageContext::default(),
        );
        assert!(p.starts_with("Describe the product for a shop.\n"), "{p}");
        assert!(p.contains("Portuguese (language code pt-BR)"), "{p}");
        assert!(!p.contains("characters"));
        assert!(
            prompt(None, "tlh", None, &ImageContext::default()).contains("language with code tlh")
        );
        let context = ImageContext::from_metadata([("alt-context", "Our summer menu")]);
        let p = prompt(None, "en", None, &context);
        assert!(p.contains("<image-context>\nused for: \"Our summer menu\"\n</image-context>\nWrite it in English"), "{p}");
    }
}

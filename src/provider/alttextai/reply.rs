//! What AltText.ai answers: its success body, in both forms of `alt_texts`, and its errors.

use std::collections::HashMap;

use serde::Deserialize;

use super::SERVICE;
use crate::provider::http::{self, Reply};
use crate::provider::{Caption, ProviderError};

#[derive(Deserialize)]
struct ImageResponse {
    asset_id: Option<serde_json::Value>,
    alt_text: Option<String>,
    /// Read leniently: an unexpected shape (`null`, items without `lang`) loses only the
    /// other languages, never the paid `alt_text`.
    #[serde(default)]
    alt_texts: Option<serde_json::Value>,
}

/// `alt_texts` comes as a map of language to text, or as a list of `{lang, alt_text}`: both
/// appear in AltText.ai's own client.
#[derive(Deserialize)]
#[serde(untagged)]
enum AltTexts {
    Map(HashMap<String, Option<String>>),
    List(Vec<LangText>),
}

impl Default for AltTexts {
    fn default() -> AltTexts {
        AltTexts::List(Vec::new())
    }
}

#[derive(Deserialize)]
struct LangText {
    lang: String,
    alt_text: Option<String>,
}

impl AltTexts {
    /// The text for `lang`, whatever the form.
    fn get(&self, lang: &str) -> Option<String> {
        match self {
            AltTexts::Map(map) => map
                .iter()
                .find(|(l, _)| l.eq_ignore_ascii_case(lang))
                .and_then(|(_, t)| t.clone()),
            AltTexts::List(list) => list
                .iter()
                .find(|t| t.lang.eq_ignore_ascii_case(lang))
                .and_then(|t| t.alt_text.clone()),
        }
    }
}

/// The captions of a success body: `alt_texts` per language when several were asked,
/// `alt_text` for a single one.
pub(super) fn parse_success(text: &str, langs: &[String]) -> Result<Vec<Caption>, ProviderError> {
    let parsed: ImageResponse =
        serde_json::from_str(text).map_err(|e| http::unreadable(SERVICE, e))?;
    let request_id = parsed.asset_id.map(|id| match id {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    });
    let alt_texts: AltTexts = parsed
        .alt_texts
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let mut captions = Vec::new();
    for lang in langs {
        let listed = alt_texts.get(lang);
        // `alt_text` alone is in the one language asked; with several it names none.
        let single = || {
            (langs.len() == 1)
                .then(|| parsed.alt_text.clone())
                .flatten()
        };
        let text = listed.or_else(single);
        if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
            captions.push(Caption {
                request_id: request_id.clone(),
                ..Caption::new(text, lang)
            });
        }
    }
    if captions.is_empty() {
        return Err(ProviderError::Permanent(
            "AltText.ai returned no caption".into(),
        ));
    }
    Ok(captions)
}

/// AltText.ai's errors: out of credits is 422 with "insufficient credits" in `errors`. A
/// refused key names AutoAlt, whose docs call its API the "AltTextAI API".
pub(super) fn classify_error(reply: &Reply) -> ProviderError {
    http::naming_the_other(
        classify(reply),
        "AutoAlt",
        "AutoAlt's own docs call its API the \"AltTextAI API\": its keys go in AUTOALT_API_KEY, with autoalt in ALT_TEXT_PROVIDER.",
    )
}

fn classify(reply: &Reply) -> ProviderError {
    let detail = http::error_detail(&reply.body);
    match reply.status.as_u16() {
        422 if reply.body.to_lowercase().contains("insufficient credits") => {
            ProviderError::OutOfCredits(format!(
                "AltText.ai account is out of credits (422): top up the account, then replay. {detail}"
            ))
        }
        403 => ProviderError::KeyRejected(format!(
            "AltText.ai refused the API key (403): check the key. {detail}"
        )),
        _ => http::generic_error(SERVICE, reply),
    }
}

//! The pipeline's own settings: the tag key, the caption languages, the longest caption,
//! the expiry of presigned URLs, the attempts per image, the memory budget and the longest
//! edge of an image prepared for a service, and what may be spent.

use std::time::Duration;

use super::budget::SpendSettings;
use crate::caption::tags::is_tag_char;
use crate::env::{ConfigError, Env};
use crate::image::prepare::{DEFAULT_MAX_EDGE, Preparation};

/// Most languages one object is captioned in (each may cost a call).
pub const MAX_LANGS: usize = 9;

/// Settings of the pipeline.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Tag key of the main language's caption (`ALT_TEXT_TAG_KEY`); other languages get
    /// `{tag_key}-{lang}`.
    pub tag_key: String,
    /// Caption languages (`ALT_TEXT_LANGS`, or `ALT_TEXT_LANG`), the main one first.
    pub langs: Vec<String>,
    /// Longest caption kept (`ALT_TEXT_MAX_CHARS`); longer ones are shortened.
    pub max_chars: Option<usize>,
    /// Expiry of each presigned GetObject URL (`PRESIGN_TTL_SECS`).
    pub presign_ttl: Duration,
    /// Requests that may have been billed without a caption, per object version, after
    /// which no further request is sent for it (`ALT_TEXT_MAX_ATTEMPTS`).
    pub max_attempts: usize,
    /// Bytes of images (and their encodings) provider calls may hold at once: half the
    /// function's memory (see [`super::memory`]).
    pub memory_budget: u64,
    /// Longest edge, in pixels, of an image prepared for a service sent its bytes
    /// (`ALT_TEXT_MAX_EDGE`).
    pub max_edge: u32,
    /// Pauses and the budget of paid calls.
    pub spend: SpendSettings,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Settings, ConfigError> {
        let langs = parse_langs(env)?;
        let max_chars = match env.get("ALT_TEXT_MAX_CHARS") {
            None => None,
            Some(_) => Some(env.number("ALT_TEXT_MAX_CHARS", 0, 20, 1000)? as usize),
        };
        let tag_key = env
            .get("ALT_TEXT_TAG_KEY")
            .unwrap_or_else(|| "alt-text".into());
        if tag_key.chars().count() > 128
            || tag_key.starts_with("aws:")
            || !tag_key.chars().all(is_tag_char)
        {
            return Err(ConfigError::invalid(
                "ALT_TEXT_TAG_KEY",
                "an S3 tag key has at most 128 letters, digits, spaces or _ . : / = + - @ and does not start with aws:",
            ));
        }
        let presign_ttl = Duration::from_secs(env.number("PRESIGN_TTL_SECS", 60, 1, 604_800)?);
        let max_attempts = env.number("ALT_TEXT_MAX_ATTEMPTS", 2, 1, 10)? as usize;
        let memory_budget = super::memory::budget_from_env(env)?;
        let max_edge =
            env.number("ALT_TEXT_MAX_EDGE", u64::from(DEFAULT_MAX_EDGE), 256, 8000)? as u32;
        Ok(Settings {
            spend: SpendSettings::from_env(env)?,
            memory_budget,
            max_edge,
            tag_key,
            langs,
            max_chars,
            presign_ttl,
            max_attempts,
        })
    }

    /// How images are prepared for the services sent their bytes.
    pub fn preparation(&self) -> Preparation {
        Preparation {
            max_edge: self.max_edge,
            max_memory: self.memory_budget,
        }
    }

    /// The main caption language.
    pub fn main_lang(&self) -> &str {
        &self.langs[0]
    }

    /// The tag a language's caption is written to.
    pub fn tag_key_for(&self, lang: &str) -> String {
        if self.langs.first().is_none_or(|main| main == lang) {
            self.tag_key.clone()
        } else {
            format!("{}-{lang}", self.tag_key)
        }
    }
}

/// `ALT_TEXT_LANGS` (comma separated), or the single `ALT_TEXT_LANG`; English by default.
fn parse_langs(env: &Env) -> Result<Vec<String>, ConfigError> {
    let (var, raw) = match (env.get("ALT_TEXT_LANGS"), env.get("ALT_TEXT_LANG")) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Invalid {
                var: "ALT_TEXT_LANG".into(),
                reason: "set ALT_TEXT_LANGS or ALT_TEXT_LANG, not both".into(),
            });
        }
        (Some(langs), None) => ("ALT_TEXT_LANGS", langs),
        (None, Some(lang)) => ("ALT_TEXT_LANG", lang),
        (None, None) => return Ok(vec!["en".into()]),
    };
    let mut langs: Vec<String> = Vec::new();
    for lang in raw.split(',').map(str::trim).filter(|l| !l.is_empty()) {
        if !is_language_tag(lang) {
            return Err(ConfigError::Invalid {
                var: var.into(),
                reason: format!("{lang:?} is not a language code such as en, de or pt-BR"),
            });
        }
        if langs.iter().any(|l| l.eq_ignore_ascii_case(lang)) {
            return Err(ConfigError::Invalid {
                var: var.into(),
                reason: format!("{lang} is listed twice"),
            });
        }
        langs.push(lang.to_string());
    }
    if langs.is_empty() || langs.len() > MAX_LANGS {
        return Err(ConfigError::Invalid {
            var: var.into(),
            reason: format!("names from 1 to {MAX_LANGS} languages"),
        });
    }
    Ok(langs)
}

/// A BCP 47-ish language code: letters, digits and `-`, starting with 2–3 letters.
fn is_language_tag(value: &str) -> bool {
    let mut parts = value.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Pipeline settings of the unit tests: the `alt-text` tag, English, no length limit.
#[cfg(test)]
pub(crate) fn test_settings() -> Settings {
    Settings {
        tag_key: "alt-text".into(),
        langs: vec!["en".into()],
        max_chars: None,
        presign_ttl: Duration::from_secs(60),
        max_attempts: 2,
        memory_budget: 1 << 30,
        max_edge: DEFAULT_MAX_EDGE,
        spend: SpendSettings::default(),
    }
}

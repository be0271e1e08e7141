//! Function configuration, read once from the environment at start and validated.
//!
//! Every error names the variable at fault, so a misconfigured deployment fails on its
//! first cold start with a message that says what to fix.

use std::time::Duration;

use thiserror::Error;

use crate::provider::ProviderKind;
use crate::secret::ApiKey;

/// Default AltTextLab base URL; `ALT_TEXT_API_URL` overrides it (tests, proxies).
pub const DEFAULT_ALTTEXTLAB_URL: &str = "https://app.alttextlab.com";

/// A configuration value that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
}

/// Writing style AltTextLab offers (`ALT_TEXT_STYLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Descriptive,
    Neutral,
    MatterOfFact,
    Minimal,
}

impl Style {
    pub fn as_str(self) -> &'static str {
        match self {
            Style::Descriptive => "descriptive",
            Style::Neutral => "neutral",
            Style::MatterOfFact => "matter-of-fact",
            Style::Minimal => "minimal",
        }
    }

    fn parse(value: &str) -> Option<Style> {
        match value {
            "descriptive" => Some(Style::Descriptive),
            "neutral" => Some(Style::Neutral),
            "matter-of-fact" => Some(Style::MatterOfFact),
            "minimal" => Some(Style::Minimal),
            _ => None,
        }
    }
}

/// A store holding the API key, so that it never sits in the function's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An SSM Parameter Store parameter, normally a SecureString (`ALT_TEXT_API_KEY_PARAMETER`).
    SsmParameter(String),
    /// A Secrets Manager secret, by name or ARN (`ALT_TEXT_API_KEY_SECRET_ID`).
    SecretsManager(String),
}

/// The validated configuration of the function.
#[derive(Debug, Clone)]
pub struct Config {
    /// DynamoDB table for the records (`TABLE_NAME`).
    pub table_name: String,
    /// Ordered provider chain (`ALT_TEXT_PROVIDER`).
    pub providers: Vec<ProviderKind>,
    /// AltTextLab API key (`ALT_TEXT_API_KEY`, or read at start from `key_source`); absent
    /// means AltTextLab declines every image.
    pub api_key: Option<ApiKey>,
    /// Where a deployed function reads the key from, once at start.
    pub key_source: Option<KeySource>,
    /// AltTextLab base URL (`ALT_TEXT_API_URL`).
    pub api_url: String,
    /// Caption language (`ALT_TEXT_LANG`).
    pub lang: String,
    /// Writing style (`ALT_TEXT_STYLE`); `None` leaves the account's default.
    pub style: Option<Style>,
    /// Keywords for AltTextLab (`ALT_TEXT_KEYWORDS`, comma separated).
    pub keywords: Vec<String>,
    /// Object tag key for the caption (`ALT_TEXT_TAG_KEY`).
    pub tag_key: String,
    /// Expiry of each presigned GetObject URL (`PRESIGN_TTL_SECS`).
    pub presign_ttl: Duration,
    /// Records of one invocation processed at the same time (`MAX_CONCURRENCY`).
    pub max_concurrency: usize,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let table_name = get("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?;

        let providers = parse_providers(
            &get("ALT_TEXT_PROVIDER").unwrap_or_else(|| "embedded,alttextlab".into()),
        )?;

        let api_key = get("ALT_TEXT_API_KEY").map(ApiKey::new);
        let key_sources = [
            ("ALT_TEXT_API_KEY", api_key.is_some()),
            (
                "ALT_TEXT_API_KEY_PARAMETER",
                get("ALT_TEXT_API_KEY_PARAMETER").is_some(),
            ),
            (
                "ALT_TEXT_API_KEY_SECRET_ID",
                get("ALT_TEXT_API_KEY_SECRET_ID").is_some(),
            ),
        ];
        let set: Vec<&str> = key_sources
            .iter()
            .filter(|(_, set)| *set)
            .map(|(name, _)| *name)
            .collect();
        if set.len() > 1 {
            return Err(ConfigError::Invalid {
                var: set[1],
                reason: format!("set only one of {}", set.join(", ")),
            });
        }
        let key_source = get("ALT_TEXT_API_KEY_PARAMETER")
            .map(KeySource::SsmParameter)
            .or_else(|| get("ALT_TEXT_API_KEY_SECRET_ID").map(KeySource::SecretsManager));

        let api_url = get("ALT_TEXT_API_URL").unwrap_or_else(|| DEFAULT_ALTTEXTLAB_URL.into());
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                var: "ALT_TEXT_API_URL",
                reason: "must start with https:// or http://".into(),
            });
        }
        let api_url = api_url.trim_end_matches('/').to_string();

        let lang = get("ALT_TEXT_LANG").unwrap_or_else(|| "en".into());
        if !is_language_tag(&lang) {
            return Err(ConfigError::Invalid {
                var: "ALT_TEXT_LANG",
                reason: format!("{lang:?} is not a language code such as en, de or pt-BR"),
            });
        }

        let style = match get("ALT_TEXT_STYLE") {
            None => None,
            Some(value) => Some(Style::parse(&value).ok_or_else(|| ConfigError::Invalid {
                var: "ALT_TEXT_STYLE",
                reason: format!(
                    "{value:?} is not one of descriptive, neutral, matter-of-fact, minimal"
                ),
            })?),
        };

        let keywords = get("ALT_TEXT_KEYWORDS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();

        let tag_key = get("ALT_TEXT_TAG_KEY").unwrap_or_else(|| "alt-text".into());
        if tag_key.chars().count() > 128
            || tag_key.starts_with("aws:")
            || !tag_key.chars().all(crate::tags::is_tag_char)
        {
            return Err(ConfigError::Invalid {
                var: "ALT_TEXT_TAG_KEY",
                reason: "an S3 tag key has at most 128 letters, digits, spaces or _ . : / = + - @ and does not start with aws:"
                    .into(),
            });
        }

        let presign_ttl =
            Duration::from_secs(parse_number(&get, "PRESIGN_TTL_SECS", 60, 1, 604_800)?);
        let max_concurrency = parse_number(&get, "MAX_CONCURRENCY", 8, 1, 256)? as usize;

        Ok(Config {
            table_name,
            providers,
            api_key,
            key_source,
            api_url,
            lang,
            style,
            keywords,
            tag_key,
            presign_ttl,
            max_concurrency,
        })
    }
}

fn parse_providers(value: &str) -> Result<Vec<ProviderKind>, ConfigError> {
    let mut providers = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let kind = ProviderKind::parse(name).ok_or_else(|| ConfigError::Invalid {
            var: "ALT_TEXT_PROVIDER",
            reason: format!("unknown provider {name:?}; known: embedded, alttextlab"),
        })?;
        if providers.contains(&kind) {
            return Err(ConfigError::Invalid {
                var: "ALT_TEXT_PROVIDER",
                reason: format!("provider {name:?} is listed twice"),
            });
        }
        providers.push(kind);
    }
    if providers.is_empty() {
        return Err(ConfigError::Invalid {
            var: "ALT_TEXT_PROVIDER",
            reason: "names no provider".into(),
        });
    }
    Ok(providers)
}

fn parse_number(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let Some(raw) = get(var) else {
        return Ok(default);
    };
    match raw.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError::Invalid {
            var,
            reason: format!("{raw:?} is not a whole number from {min} to {max}"),
        }),
    }
}

/// A BCP 47-ish language code: letters, digits and `-`, starting with 2–3 letters.
fn is_language_tag(value: &str) -> bool {
    let mut parts = value.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_only_the_table_is_set() {
        let c = config(&[("TABLE_NAME", "alt-text")]).unwrap();
        assert_eq!(c.table_name, "alt-text");
        assert_eq!(
            c.providers,
            vec![ProviderKind::Embedded, ProviderKind::AltTextLab]
        );
        assert!(c.api_key.is_none());
        assert_eq!(c.api_url, DEFAULT_ALTTEXTLAB_URL);
        assert_eq!(c.lang, "en");
        assert_eq!(c.style, None);
        assert_eq!(c.tag_key, "alt-text");
        assert_eq!(c.presign_ttl, Duration::from_secs(60));
        assert_eq!(c.max_concurrency, 8);
    }

    #[test]
    fn missing_table_names_the_variable() {
        let err = config(&[]).unwrap_err();
        assert_eq!(err, ConfigError::Missing("TABLE_NAME"));
        assert_eq!(err.to_string(), "TABLE_NAME is required but not set");
        assert_eq!(
            config(&[("TABLE_NAME", "  ")]).unwrap_err(),
            ConfigError::Missing("TABLE_NAME")
        );
    }

    #[test]
    fn every_setting_is_read() {
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_PROVIDER", " alttextlab , embedded "),
            ("ALT_TEXT_API_KEY", "k-123"),
            ("ALT_TEXT_API_URL", "http://127.0.0.1:9000/"),
            ("ALT_TEXT_LANG", "pt-BR"),
            ("ALT_TEXT_STYLE", "matter-of-fact"),
            ("ALT_TEXT_KEYWORDS", "shoes, leather ,,"),
            ("ALT_TEXT_TAG_KEY", "accessibility:alt"),
            ("PRESIGN_TTL_SECS", "30"),
            ("MAX_CONCURRENCY", "4"),
        ])
        .unwrap();
        assert_eq!(
            c.providers,
            vec![ProviderKind::AltTextLab, ProviderKind::Embedded]
        );
        assert_eq!(c.api_key.as_ref().unwrap().expose(), "k-123");
        assert_eq!(c.api_url, "http://127.0.0.1:9000");
        assert_eq!(c.lang, "pt-BR");
        assert_eq!(c.style, Some(Style::MatterOfFact));
        assert_eq!(c.keywords, vec!["shoes", "leather"]);
        assert_eq!(c.tag_key, "accessibility:alt");
        assert_eq!(c.presign_ttl, Duration::from_secs(30));
        assert_eq!(c.max_concurrency, 4);
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let cases = [
            ("ALT_TEXT_PROVIDER", "embedded,openai"),
            ("ALT_TEXT_PROVIDER", "embedded,embedded"),
            ("ALT_TEXT_PROVIDER", ","),
            ("ALT_TEXT_API_URL", "ftp://example.com"),
            ("ALT_TEXT_LANG", "english please"),
            ("ALT_TEXT_STYLE", "poetic"),
            ("ALT_TEXT_TAG_KEY", "aws:alt"),
            ("ALT_TEXT_TAG_KEY", "alt,text"),
            ("PRESIGN_TTL_SECS", "0"),
            ("PRESIGN_TTL_SECS", "sixty"),
            ("PRESIGN_TTL_SECS", "604801"),
            ("MAX_CONCURRENCY", "0"),
        ];
        for (var, value) in cases {
            let err = config(&[("TABLE_NAME", "t"), (var, value)]).unwrap_err();
            match &err {
                ConfigError::Invalid { var: named, .. } => assert_eq!(*named, var, "{value}"),
                other => panic!("{var}={value}: unexpected {other:?}"),
            }
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }

    #[test]
    fn the_key_can_come_from_one_store() {
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_API_KEY_PARAMETER", "/s3-alt-text/api-key"),
        ])
        .unwrap();
        assert_eq!(
            c.key_source,
            Some(KeySource::SsmParameter("/s3-alt-text/api-key".into()))
        );
        assert!(c.api_key.is_none());
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_API_KEY_SECRET_ID", "alttextlab"),
        ])
        .unwrap();
        assert_eq!(
            c.key_source,
            Some(KeySource::SecretsManager("alttextlab".into()))
        );
        let err = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_API_KEY", "k"),
            ("ALT_TEXT_API_KEY_SECRET_ID", "alttextlab"),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ALT_TEXT_API_KEY_SECRET_ID is invalid: set only one of ALT_TEXT_API_KEY, ALT_TEXT_API_KEY_SECRET_ID"
        );
    }

    #[test]
    fn the_api_key_never_shows_in_debug_output() {
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_API_KEY", "super-secret-key"),
        ])
        .unwrap();
        assert!(!format!("{c:?}").contains("super-secret-key"));
    }
}

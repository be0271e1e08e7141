//! Function configuration, read once from the environment at start and validated.
//!
//! Every error names the variable at fault, so a misconfigured deployment fails on its
//! first cold start with a message that says what to fix.

use std::time::Duration;

use thiserror::Error;

use crate::metrics::MetricsConfig;
use crate::provider::ProviderKind;
use crate::secret::ApiKey;

/// Default Bedrock model: small, cheap and able to see images.
pub const DEFAULT_BEDROCK_MODEL: &str = "amazon.nova-lite-v1:0";
/// Default model of the OpenAI-compatible provider.
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";
/// Most languages one object is captioned in (each may cost a call).
pub const MAX_LANGS: usize = 9;

/// A configuration value that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{var} is invalid: {reason}")]
    Invalid { var: String, reason: String },
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

/// How a provider that can do both is given the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageInput {
    /// A presigned GetObject URL the service fetches (nothing passes through the function).
    Url,
    /// The bytes, base64 in the request (for servers that cannot reach S3).
    Data,
}

/// One provider of the chain, with its own key and base URL.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub kind: ProviderKind,
    /// The API key (`<PROVIDER>_API_KEY`, or `ALT_TEXT_API_KEY` for the chain's only keyed
    /// provider; or read at start from `key_source`).
    pub api_key: Option<ApiKey>,
    /// Where a deployed function reads the key from, once at start.
    pub key_source: Option<KeySource>,
    /// Base URL of the service (`<PROVIDER>_API_URL`, or `ALT_TEXT_API_URL`); empty for
    /// providers without one.
    pub url: String,
    /// Presigned URL or bytes (`<PROVIDER>_IMAGE_INPUT`), for AltText.ai and OpenAI.
    pub image_input: ImageInput,
}

/// The validated configuration of the function.
#[derive(Debug, Clone)]
pub struct Config {
    /// DynamoDB table for the records (`TABLE_NAME`).
    pub table_name: String,
    /// Ordered provider chain (`ALT_TEXT_PROVIDER`), each with its settings.
    pub providers: Vec<ProviderSettings>,
    /// Caption languages (`ALT_TEXT_LANGS`, or `ALT_TEXT_LANG`); the first is the main one.
    pub langs: Vec<String>,
    /// Longest caption kept (`ALT_TEXT_MAX_CHARS`); longer ones are shortened.
    pub max_chars: Option<usize>,
    /// Instructions for the language-model providers (`ALT_TEXT_PROMPT`).
    pub prompt: Option<String>,
    /// Bedrock model or inference profile id (`BEDROCK_MODEL_ID`).
    pub bedrock_model: String,
    /// Model of the OpenAI-compatible server (`OPENAI_MODEL`).
    pub openai_model: String,
    /// Writing style (`ALT_TEXT_STYLE`); `None` leaves the account's default.
    pub style: Option<Style>,
    /// Keywords for AltTextLab and AltText.ai (`ALT_TEXT_KEYWORDS`, comma separated).
    pub keywords: Vec<String>,
    /// AltTextLab e-commerce product fields (`ALTTEXTLAB_ECOMMERCE`, a JSON object).
    pub ecommerce: Option<serde_json::Map<String, serde_json::Value>>,
    /// Object tag key for the caption (`ALT_TEXT_TAG_KEY`).
    pub tag_key: String,
    /// Expiry of each presigned GetObject URL (`PRESIGN_TTL_SECS`).
    pub presign_ttl: Duration,
    /// Records of one invocation processed at the same time (`MAX_CONCURRENCY`).
    pub max_concurrency: usize,
    /// Where the per-invocation metrics go (`METRICS_NAMESPACE`, `METRICS_DIMENSIONS`);
    /// `None` with `METRICS_NAMESPACE=off`.
    pub metrics: Option<MetricsConfig>,
    /// A PEM bundle of certificate authorities trusted besides Mozilla's roots
    /// (`ALT_TEXT_CA_BUNDLE`), for a provider behind a private CA.
    pub ca_bundle: Option<std::path::PathBuf>,
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

        let kinds = parse_providers(
            &get("ALT_TEXT_PROVIDER").unwrap_or_else(|| "embedded,alttextlab".into()),
        )?;
        let providers = provider_settings(&get, &kinds)?;

        let langs = parse_langs(&get)?;
        let max_chars = match get("ALT_TEXT_MAX_CHARS") {
            None => None,
            Some(_) => Some(parse_number(&get, "ALT_TEXT_MAX_CHARS", 0, 20, 1000)? as usize),
        };
        let prompt = get("ALT_TEXT_PROMPT");
        let bedrock_model = get("BEDROCK_MODEL_ID").unwrap_or_else(|| DEFAULT_BEDROCK_MODEL.into());
        let openai_model = get("OPENAI_MODEL").unwrap_or_else(|| DEFAULT_OPENAI_MODEL.into());
        let ecommerce = match get("ALTTEXTLAB_ECOMMERCE") {
            None => None,
            Some(raw) => Some(parse_ecommerce(&raw)?),
        };

        let style = match get("ALT_TEXT_STYLE") {
            None => None,
            Some(value) => Some(Style::parse(&value).ok_or_else(|| ConfigError::Invalid {
                var: "ALT_TEXT_STYLE".into(),
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
                var: "ALT_TEXT_TAG_KEY".into(),
                reason: "an S3 tag key has at most 128 letters, digits, spaces or _ . : / = + - @ and does not start with aws:"
                    .into(),
            });
        }

        let presign_ttl =
            Duration::from_secs(parse_number(&get, "PRESIGN_TTL_SECS", 60, 1, 604_800)?);
        let max_concurrency = parse_number(&get, "MAX_CONCURRENCY", 8, 1, 256)? as usize;
        let metrics = parse_metrics(&get)?;
        let ca_bundle = get("ALT_TEXT_CA_BUNDLE").map(std::path::PathBuf::from);

        Ok(Config {
            table_name,
            providers,
            langs,
            max_chars,
            prompt,
            bedrock_model,
            openai_model,
            style,
            keywords,
            ecommerce,
            tag_key,
            presign_ttl,
            max_concurrency,
            metrics,
            ca_bundle,
        })
    }
}

impl Config {
    /// The kinds of provider in the chain, in order.
    pub fn kinds(&self) -> Vec<ProviderKind> {
        self.providers.iter().map(|p| p.kind).collect()
    }

    /// The main caption language.
    pub fn main_lang(&self) -> &str {
        &self.langs[0]
    }
}

/// Each provider's key, key store, URL and image input. The generic `ALT_TEXT_API_KEY*`
/// and `ALT_TEXT_API_URL` belong to the chain's one provider that takes a key: with two,
/// they would send one service's key to another, so each needs its own variables.
fn provider_settings(
    get: &impl Fn(&str) -> Option<String>,
    kinds: &[ProviderKind],
) -> Result<Vec<ProviderSettings>, ConfigError> {
    let keyed: Vec<ProviderKind> = kinds
        .iter()
        .copied()
        .filter(|k| k.takes_api_key())
        .collect();
    for generic in [
        "ALT_TEXT_API_KEY",
        "ALT_TEXT_API_KEY_PARAMETER",
        "ALT_TEXT_API_KEY_SECRET_ID",
        "ALT_TEXT_API_URL",
    ] {
        if get(generic).is_none() {
            continue;
        }
        match keyed.as_slice() {
            [_] => {}
            [] => {
                return Err(ConfigError::Invalid {
                    var: generic.into(),
                    reason: "no provider in ALT_TEXT_PROVIDER takes an API key or URL".into(),
                });
            }
            several => {
                let own: Vec<String> = several
                    .iter()
                    .map(|k| format!("{}{}", k.env_prefix(), &generic["ALT_TEXT".len()..]))
                    .collect();
                return Err(ConfigError::Invalid {
                    var: generic.into(),
                    reason: format!(
                        "is ambiguous with several keyed providers in the chain; set {} instead",
                        own.join(" and ")
                    ),
                });
            }
        }
    }
    let mut settings = Vec::new();
    for &kind in kinds {
        let var = |suffix: &str| -> Option<(String, String)> {
            let own = format!("{}{suffix}", kind.env_prefix());
            if let Some(v) = get(&own) {
                return Some((own, v));
            }
            let generic = format!("ALT_TEXT{suffix}");
            get(&generic)
                .filter(|_| kind.takes_api_key())
                .map(|v| (generic, v))
        };
        let key = var("_API_KEY");
        let parameter = var("_API_KEY_PARAMETER");
        let secret = var("_API_KEY_SECRET_ID");
        let set: Vec<&String> = [&key, &parameter, &secret]
            .into_iter()
            .flatten()
            .map(|(name, _)| name)
            .collect();
        if set.len() > 1 {
            return Err(ConfigError::Invalid {
                var: set[1].clone(),
                reason: format!(
                    "set only one of {}",
                    set.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let key_source = parameter
            .map(|(_, v)| KeySource::SsmParameter(v))
            .or_else(|| secret.map(|(_, v)| KeySource::SecretsManager(v)));
        let url = match (var("_API_URL"), kind.default_url()) {
            (Some((name, url)), Some(_)) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(ConfigError::Invalid {
                        var: name,
                        reason: "must start with https:// or http://".into(),
                    });
                }
                url.trim_end_matches('/').to_string()
            }
            (_, Some(default)) => default.to_string(),
            (_, None) => String::new(),
        };
        let input_var = format!("{}_IMAGE_INPUT", kind.env_prefix());
        let image_input = match get(&input_var).as_deref() {
            None | Some("url") => ImageInput::Url,
            Some("data") => ImageInput::Data,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: input_var,
                    reason: format!("{other:?} is not url or data"),
                });
            }
        };
        settings.push(ProviderSettings {
            kind,
            api_key: key.map(|(_, v)| ApiKey::new(v)),
            key_source,
            url,
            image_input,
        });
    }
    Ok(settings)
}

/// `ALT_TEXT_LANGS` (comma separated), or the single `ALT_TEXT_LANG`; English by default.
fn parse_langs(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<String>, ConfigError> {
    let (var, raw) = match (get("ALT_TEXT_LANGS"), get("ALT_TEXT_LANG")) {
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

/// `METRICS_NAMESPACE` (default `s3-alt-text`, `off` for none) and `METRICS_DIMENSIONS`
/// (`Name=Value,…`; by default the function's name, when it runs in Lambda).
fn parse_metrics(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<MetricsConfig>, ConfigError> {
    let namespace = get("METRICS_NAMESPACE").unwrap_or_else(|| "s3-alt-text".into());
    if namespace.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if namespace.len() > 255 || namespace.contains(':') {
        return Err(ConfigError::Invalid {
            var: "METRICS_NAMESPACE".into(),
            reason: "a CloudWatch namespace has at most 255 characters and no colon".into(),
        });
    }
    let dimensions = match get("METRICS_DIMENSIONS") {
        None => get("AWS_LAMBDA_FUNCTION_NAME")
            .map(|name| vec![("FunctionName".to_string(), name)])
            .unwrap_or_default(),
        Some(raw) => {
            let mut dimensions = Vec::new();
            for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match pair.split_once('=') {
                    Some((name, value))
                        if !name.trim().is_empty()
                            && !value.trim().is_empty()
                            && !name.trim().starts_with(':')
                            && name.trim() != "_aws" =>
                    {
                        dimensions.push((name.trim().to_string(), value.trim().to_string()))
                    }
                    _ => {
                        return Err(ConfigError::Invalid {
                            var: "METRICS_DIMENSIONS".into(),
                            reason: format!("{pair:?} is not Name=Value"),
                        });
                    }
                }
            }
            if dimensions.len() > 30 {
                return Err(ConfigError::Invalid {
                    var: "METRICS_DIMENSIONS".into(),
                    reason: "CloudWatch takes at most 30 dimensions".into(),
                });
            }
            dimensions
        }
    };
    Ok(Some(MetricsConfig {
        namespace,
        dimensions,
    }))
}

/// `ALTTEXTLAB_ECOMMERCE`: a JSON object of strings, such as `{"brand": "Acme Co."}`.
fn parse_ecommerce(raw: &str) -> Result<serde_json::Map<String, serde_json::Value>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        var: "ALTTEXTLAB_ECOMMERCE".into(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| invalid(format!("not JSON: {e}")))?;
    match value {
        serde_json::Value::Object(map) if map.values().all(|v| v.is_string()) => Ok(map),
        _ => Err(invalid(
            r#"must be a JSON object of strings, such as {"brand": "Acme Co.", "product": "T-shirt"}"#
                .into(),
        )),
    }
}

fn parse_providers(value: &str) -> Result<Vec<ProviderKind>, ConfigError> {
    let mut providers = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let kind = ProviderKind::parse(name).ok_or_else(|| ConfigError::Invalid {
            var: "ALT_TEXT_PROVIDER".into(),
            reason: format!(
                "unknown provider {name:?}; known: {}",
                ProviderKind::ALL.map(ProviderKind::name).join(", ")
            ),
        })?;
        if providers.contains(&kind) {
            return Err(ConfigError::Invalid {
                var: "ALT_TEXT_PROVIDER".into(),
                reason: format!("provider {name:?} is listed twice"),
            });
        }
        providers.push(kind);
    }
    if providers.is_empty() {
        return Err(ConfigError::Invalid {
            var: "ALT_TEXT_PROVIDER".into(),
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
            var: var.into(),
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
            c.kinds(),
            vec![ProviderKind::Embedded, ProviderKind::AltTextLab]
        );
        assert!(c.providers[1].api_key.is_none());
        assert_eq!(c.providers[1].url, "https://app.alttextlab.com");
        assert_eq!(c.providers[0].url, "");
        assert_eq!(c.langs, ["en"]);
        assert_eq!(c.max_chars, None);
        assert_eq!(c.style, None);
        assert_eq!(c.bedrock_model, DEFAULT_BEDROCK_MODEL);
        assert_eq!(c.openai_model, DEFAULT_OPENAI_MODEL);
        assert_eq!(c.tag_key, "alt-text");
        assert_eq!(c.presign_ttl, Duration::from_secs(60));
        assert_eq!(c.max_concurrency, 8);
        assert_eq!(
            c.metrics,
            Some(MetricsConfig {
                namespace: "s3-alt-text".into(),
                dimensions: vec![]
            })
        );
    }

    #[test]
    fn metrics_go_where_configured() {
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("AWS_LAMBDA_FUNCTION_NAME", "captioner"),
        ])
        .unwrap();
        assert_eq!(
            c.metrics.unwrap().dimensions,
            vec![("FunctionName".to_string(), "captioner".to_string())]
        );
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("METRICS_NAMESPACE", "Shop/Images"),
            ("METRICS_DIMENSIONS", "Stage=prod, Site=shop"),
        ])
        .unwrap();
        assert_eq!(
            c.metrics,
            Some(MetricsConfig {
                namespace: "Shop/Images".into(),
                dimensions: vec![
                    ("Stage".to_string(), "prod".to_string()),
                    ("Site".to_string(), "shop".to_string())
                ]
            })
        );
        assert_eq!(
            config(&[("TABLE_NAME", "t"), ("METRICS_NAMESPACE", "off")])
                .unwrap()
                .metrics,
            None
        );
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
            ("ALT_TEXT_MAX_CHARS", "125"),
            ("ALT_TEXT_PROMPT", "Describe the product."),
            ("ALTTEXTLAB_ECOMMERCE", r#"{"brand": "Acme Co."}"#),
            ("BEDROCK_MODEL_ID", "us.amazon.nova-lite-v1:0"),
            ("OPENAI_MODEL", "llava"),
            ("PRESIGN_TTL_SECS", "30"),
            ("MAX_CONCURRENCY", "4"),
        ])
        .unwrap();
        assert_eq!(
            c.kinds(),
            vec![ProviderKind::AltTextLab, ProviderKind::Embedded]
        );
        let lab = &c.providers[0];
        assert_eq!(lab.api_key.as_ref().unwrap().expose(), "k-123");
        assert_eq!(lab.url, "http://127.0.0.1:9000");
        assert!(
            c.providers[1].api_key.is_none(),
            "the key goes to the keyed provider only"
        );
        assert_eq!(c.langs, ["pt-BR"]);
        assert_eq!(c.style, Some(Style::MatterOfFact));
        assert_eq!(c.keywords, vec!["shoes", "leather"]);
        assert_eq!(c.tag_key, "accessibility:alt");
        assert_eq!(c.max_chars, Some(125));
        assert_eq!(c.prompt.as_deref(), Some("Describe the product."));
        assert_eq!(c.ecommerce.as_ref().unwrap()["brand"], "Acme Co.");
        assert_eq!(c.bedrock_model, "us.amazon.nova-lite-v1:0");
        assert_eq!(c.openai_model, "llava");
        assert_eq!(c.presign_ttl, Duration::from_secs(30));
        assert_eq!(c.max_concurrency, 4);
    }

    #[test]
    fn several_languages_main_first() {
        let c = config(&[("TABLE_NAME", "t"), ("ALT_TEXT_LANGS", "en, de ,fr")]).unwrap();
        assert_eq!(c.langs, ["en", "de", "fr"]);
        assert_eq!(c.main_lang(), "en");
    }

    #[test]
    fn each_keyed_provider_has_its_own_key_and_url() {
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_PROVIDER", "embedded,autoalt,openai,bedrock"),
            ("AUTOALT_API_KEY", "auto-key"),
            ("OPENAI_API_URL", "http://127.0.0.1:11434/v1/"),
            ("OPENAI_IMAGE_INPUT", "data"),
        ])
        .unwrap();
        let auto = &c.providers[1];
        assert_eq!(auto.api_key.as_ref().unwrap().expose(), "auto-key");
        assert_eq!(auto.url, "https://autoalt.app");
        let openai = &c.providers[2];
        assert!(openai.api_key.is_none());
        assert_eq!(openai.url, "http://127.0.0.1:11434/v1");
        assert_eq!(openai.image_input, ImageInput::Data);
        assert_eq!(auto.image_input, ImageInput::Url);
        let err = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_PROVIDER", "openai"),
            ("OPENAI_IMAGE_INPUT", "bytes"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().starts_with("OPENAI_IMAGE_INPUT is invalid"),
            "{err}"
        );

        // A generic key with two keyed providers would reach the wrong service.
        let err = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_PROVIDER", "alttextlab,openai"),
            ("ALT_TEXT_API_KEY", "k"),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ALT_TEXT_API_KEY is invalid: is ambiguous with several keyed providers in the chain; set ALTTEXTLAB_API_KEY and OPENAI_API_KEY instead"
        );
        let err = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_PROVIDER", "embedded,bedrock"),
            ("ALT_TEXT_API_KEY", "k"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("no provider"), "{err}");
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let cases = [
            ("ALT_TEXT_PROVIDER", "embedded,gemini"),
            ("ALT_TEXT_PROVIDER", "embedded,embedded"),
            ("ALT_TEXT_PROVIDER", ","),
            ("ALT_TEXT_API_URL", "ftp://example.com"),
            ("ALT_TEXT_LANG", "english please"),
            ("ALT_TEXT_LANGS", "en,de,en"),
            ("ALT_TEXT_LANGS", "en,de,fr,es,it,pt,nl,pl,ru,ja"),
            ("ALT_TEXT_MAX_CHARS", "5"),
            ("ALTTEXTLAB_ECOMMERCE", "brand=Acme"),
            ("ALTTEXTLAB_ECOMMERCE", r#"{"price": 10}"#),
            ("ALT_TEXT_STYLE", "poetic"),
            ("ALT_TEXT_TAG_KEY", "aws:alt"),
            ("ALT_TEXT_TAG_KEY", "alt,text"),
            ("PRESIGN_TTL_SECS", "0"),
            ("PRESIGN_TTL_SECS", "sixty"),
            ("PRESIGN_TTL_SECS", "604801"),
            ("MAX_CONCURRENCY", "0"),
            ("METRICS_DIMENSIONS", "Stage"),
            ("METRICS_NAMESPACE", "a:b"),
        ];
        for (var, value) in cases {
            let err = config(&[("TABLE_NAME", "t"), (var, value)]).unwrap_err();
            match &err {
                ConfigError::Invalid { var: named, .. } => assert_eq!(named, var, "{value}"),
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
        let lab = &c.providers[1];
        assert_eq!(
            lab.key_source,
            Some(KeySource::SsmParameter("/s3-alt-text/api-key".into()))
        );
        assert!(lab.api_key.is_none());
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("ALT_TEXT_PROVIDER", "alttextai"),
            ("ALTTEXTAI_API_KEY_SECRET_ID", "alttextai"),
        ])
        .unwrap();
        assert_eq!(
            c.providers[0].key_source,
            Some(KeySource::SecretsManager("alttextai".into()))
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

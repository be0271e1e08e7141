//! The registry: the one place that maps a name in `ALT_TEXT_PROVIDER` to a provider, the
//! variables it reads and how it is built. Adding a provider means a file of its own and
//! its lines here.

use std::sync::Arc;
use std::time::Duration;

use super::access::Access;
use super::keys::KeyStore;
use super::{Provider, alttextai, alttextlab, autoalt, bedrock, embedded, openai};
use crate::env::{ConfigError, Env};

/// The providers that can be named in `ALT_TEXT_PROVIDER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderKind {
    Embedded,
    AltTextLab,
    AutoAlt,
    AltTextAi,
    Bedrock,
    OpenAi,
}

/// What the registry knows of a kind of provider: one row of the table in
/// [`ProviderKind::info`].
#[derive(Debug, Clone, Copy)]
pub struct KindInfo {
    /// The name used in `ALT_TEXT_PROVIDER` and in records.
    pub name: &'static str,
    /// Prefix of the provider's own variables (`ALTTEXTLAB_API_KEY`, `OPENAI_MODEL`, …).
    pub env_prefix: &'static str,
    /// The service's base URL when none is configured; `None` for providers that reach no
    /// HTTP service with a key (the image itself, Bedrock with the function's role).
    pub default_url: Option<&'static str>,
    /// How long one request may take by default (`<P>_TIMEOUT_SECS`), in seconds: a busy
    /// service can take well over 30 s for a caption, several languages at once take
    /// longer, and a request that timed out is not sent again in the same delivery.
    pub timeout_secs: u64,
    /// Whether it declines every image without a key (a local OpenAI-compatible server
    /// needs none).
    pub needs_api_key: bool,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 6] = [
        ProviderKind::Embedded,
        ProviderKind::AltTextLab,
        ProviderKind::AutoAlt,
        ProviderKind::AltTextAi,
        ProviderKind::Bedrock,
        ProviderKind::OpenAi,
    ];

    /// The table: one row per kind.
    pub const fn info(self) -> KindInfo {
        const fn row(
            name: &'static str,
            env_prefix: &'static str,
            default_url: Option<&'static str>,
            timeout_secs: u64,
        ) -> KindInfo {
            KindInfo {
                name,
                env_prefix,
                default_url,
                timeout_secs,
                needs_api_key: default_url.is_some(),
            }
        }
        match self {
            ProviderKind::Embedded => row("embedded", "EMBEDDED", None, 10),
            ProviderKind::AltTextLab => row(
                "alttextlab",
                "ALTTEXTLAB",
                Some("https://app.alttextlab.com"),
                60,
            ),
            ProviderKind::AutoAlt => row("autoalt", "AUTOALT", Some("https://autoalt.app"), 60),
            ProviderKind::AltTextAi => {
                row("alttextai", "ALTTEXTAI", Some("https://alttext.ai"), 90)
            }
            ProviderKind::Bedrock => row("bedrock", "BEDROCK", None, 60),
            ProviderKind::OpenAi => KindInfo {
                needs_api_key: false,
                ..row("openai", "OPENAI", Some("https://api.openai.com"), 120)
            },
        }
    }

    pub fn parse(name: &str) -> Option<ProviderKind> {
        let name = name.to_ascii_lowercase();
        ProviderKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The name used in `ALT_TEXT_PROVIDER` and in records.
    pub const fn name(self) -> &'static str {
        self.info().name
    }

    /// Prefix of the provider's own variables.
    pub const fn env_prefix(self) -> &'static str {
        self.info().env_prefix
    }

    /// The service's base URL when none is configured.
    pub const fn default_url(self) -> Option<&'static str> {
        self.info().default_url
    }

    /// How long one request may take by default (`<P>_TIMEOUT_SECS`).
    pub const fn default_timeout(self) -> Duration {
        Duration::from_secs(self.info().timeout_secs)
    }

    /// Whether the service takes an API key (Bedrock uses the function's role instead).
    pub const fn takes_api_key(self) -> bool {
        self.default_url().is_some()
    }

    /// Whether the service declines every image without a key.
    pub const fn needs_api_key(self) -> bool {
        self.info().needs_api_key
    }
}

/// One provider of the chain with its own settings.
#[derive(Debug, Clone)]
pub enum ProviderConfig {
    Embedded,
    AltTextLab(alttextlab::Settings),
    AutoAlt(autoalt::Settings),
    AltTextAi(alttextai::Settings),
    Bedrock(bedrock::Settings),
    OpenAi(openai::Settings),
}

impl ProviderConfig {
    /// Reads the settings of `kind`; `generic` lets the `ALT_TEXT_API_*` variables stand in
    /// for its own.
    fn from_env(
        kind: ProviderKind,
        env: &Env,
        generic: bool,
    ) -> Result<ProviderConfig, ConfigError> {
        // The key, URL and image input of a service reached over HTTP with a key.
        let access = || {
            let url = kind.default_url().ok_or_else(|| {
                ConfigError::invalid("ALT_TEXT_PROVIDER", format!("{} takes no key", kind.name()))
            })?;
            Access::from_env(env, kind.env_prefix(), url, kind.default_timeout(), generic)
        };
        Ok(match kind {
            ProviderKind::Embedded => ProviderConfig::Embedded,
            ProviderKind::AltTextLab => {
                ProviderConfig::AltTextLab(alttextlab::Settings::from_env(env, access()?)?)
            }
            ProviderKind::AutoAlt => {
                ProviderConfig::AutoAlt(autoalt::Settings::from_env(env, access()?)?)
            }
            ProviderKind::AltTextAi => {
                ProviderConfig::AltTextAi(alttextai::Settings::from_env(env, access()?)?)
            }
            ProviderKind::Bedrock => {
                ProviderConfig::Bedrock(bedrock::Settings::from_env(env, kind.default_timeout())?)
            }
            ProviderKind::OpenAi => {
                ProviderConfig::OpenAi(openai::Settings::from_env(env, access()?)?)
            }
        })
    }

    pub fn kind(&self) -> ProviderKind {
        match self {
            ProviderConfig::Embedded => ProviderKind::Embedded,
            ProviderConfig::AltTextLab(_) => ProviderKind::AltTextLab,
            ProviderConfig::AutoAlt(_) => ProviderKind::AutoAlt,
            ProviderConfig::AltTextAi(_) => ProviderKind::AltTextAi,
            ProviderConfig::Bedrock(_) => ProviderKind::Bedrock,
            ProviderConfig::OpenAi(_) => ProviderKind::OpenAi,
        }
    }

    /// The service's key and URL, for providers that have them.
    pub fn access(&self) -> Option<&Access> {
        match self {
            ProviderConfig::AltTextLab(s) => Some(&s.access),
            ProviderConfig::AutoAlt(s) => Some(&s.access),
            ProviderConfig::AltTextAi(s) => Some(&s.access),
            ProviderConfig::OpenAi(s) => Some(&s.access),
            ProviderConfig::Embedded | ProviderConfig::Bedrock(_) => None,
        }
    }

    /// The same, to put a key read from its store in.
    pub fn access_mut(&mut self) -> Option<&mut Access> {
        match self {
            ProviderConfig::AltTextLab(s) => Some(&mut s.access),
            ProviderConfig::AutoAlt(s) => Some(&mut s.access),
            ProviderConfig::AltTextAi(s) => Some(&mut s.access),
            ProviderConfig::OpenAi(s) => Some(&mut s.access),
            ProviderConfig::Embedded | ProviderConfig::Bedrock(_) => None,
        }
    }

    /// The provider, calling its service through `services`.
    ///
    /// # Panics
    /// For Bedrock, if `services` has no AWS configuration.
    pub fn build(&self, services: &Services) -> Box<dyn Provider> {
        let http = || services.http.clone();
        let keys = || services.keys.clone();
        match self {
            ProviderConfig::Embedded => Box::new(embedded::Embedded),
            ProviderConfig::AltTextLab(s) => {
                Box::new(alttextlab::AltTextLab::new(http(), s, keys()))
            }
            ProviderConfig::AutoAlt(s) => Box::new(autoalt::AutoAlt::new(http(), s, keys())),
            ProviderConfig::AltTextAi(s) => Box::new(alttextai::AltTextAi::new(http(), s, keys())),
            ProviderConfig::OpenAi(s) => Box::new(openai::OpenAi::new(http(), s, keys())),
            ProviderConfig::Bedrock(s) => Box::new(bedrock::Bedrock::new(
                services
                    .aws
                    .as_ref()
                    .expect("an AWS configuration for a chain with bedrock"),
                s,
            )),
        }
    }
}

/// What providers call their services with: one HTTP client for the HTTP services, the
/// AWS configuration Bedrock's client is built from, and the store keys are read again
/// from when a service refuses one.
#[derive(Debug, Clone)]
pub struct Services {
    pub http: reqwest::Client,
    pub aws: Option<aws_config::SdkConfig>,
    pub keys: Option<Arc<dyn KeyStore>>,
}

impl Services {
    /// HTTP only (no Bedrock, keys as configured).
    pub fn http(http: reqwest::Client) -> Services {
        Services {
            http,
            aws: None,
            keys: None,
        }
    }
}

/// The chain of `ALT_TEXT_PROVIDER` (by default `embedded,alttextlab`), each provider with
/// its settings. The generic `ALT_TEXT_API_KEY*` and `ALT_TEXT_API_URL` belong to the
/// chain's one provider that takes a key: with two, they would send one service's key to
/// another, so each needs its own variables.
pub fn parse_chain(env: &Env) -> Result<Vec<ProviderConfig>, ConfigError> {
    let kinds = parse_kinds(
        &env.get("ALT_TEXT_PROVIDER")
            .unwrap_or_else(|| "embedded,alttextlab".into()),
    )?;
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
        if env.get(generic).is_none() {
            continue;
        }
        match keyed.as_slice() {
            [_] => {}
            [] => {
                return Err(ConfigError::invalid(
                    generic,
                    "no provider in ALT_TEXT_PROVIDER takes an API key or URL",
                ));
            }
            several => {
                let own: Vec<String> = several
                    .iter()
                    .map(|k| format!("{}{}", k.env_prefix(), &generic["ALT_TEXT".len()..]))
                    .collect();
                return Err(ConfigError::invalid(
                    generic,
                    format!(
                        "is ambiguous with several keyed providers in the chain; set {} instead",
                        own.join(" and ")
                    ),
                ));
            }
        }
    }
    kinds
        .into_iter()
        .map(|kind| ProviderConfig::from_env(kind, env, keyed.len() == 1))
        .collect()
}

fn parse_kinds(value: &str) -> Result<Vec<ProviderKind>, ConfigError> {
    let invalid = |reason: String| ConfigError::invalid("ALT_TEXT_PROVIDER", reason);
    let mut kinds = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let kind = ProviderKind::parse(name).ok_or_else(|| {
            invalid(format!(
                "unknown provider {name:?}; known: {}",
                ProviderKind::ALL.map(ProviderKind::name).join(", ")
            ))
        })?;
        if kinds.contains(&kind) {
            return Err(invalid(format!("provider {name:?} is listed twice")));
        }
        kinds.push(kind);
    }
    if kinds.is_empty() {
        return Err(invalid("names no provider".into()));
    }
    Ok(kinds)
}

/// The providers of `chain`, in order.
pub fn build(chain: &[ProviderConfig], services: &Services) -> Vec<Box<dyn Provider>> {
    chain.iter().map(|p| p.build(services)).collect()
}

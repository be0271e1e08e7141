//! The registry: the one place that maps a name in `ALT_TEXT_PROVIDER` to a provider, the
//! variables it reads and how it is built. Adding an HTTP service means a file of its own
//! (its settings and its [`Wire`](super::http::Wire)) and its row here.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use super::access::Access;
use super::http::{BuildProvider, ServiceSettings, wire};
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
    /// How long one request may take by default (`<P>_TIMEOUT_SECS`), in seconds: a busy
    /// service can take well over 30 s for a caption, several languages at once take
    /// longer, and a request that timed out is not sent again in the same delivery.
    pub timeout_secs: u64,
    /// What it reaches, and how it is configured.
    pub reach: Reach,
}

/// What a provider reaches.
#[derive(Debug, Clone, Copy)]
pub enum Reach {
    /// The image itself: nothing outside the function.
    Image,
    /// Amazon Bedrock, with the function's role.
    Bedrock,
    /// An HTTP service with a key.
    Http {
        /// Its base URL when none is configured.
        default_url: &'static str,
        /// Whether it declines every image without a key (a local OpenAI-compatible server
        /// needs none).
        needs_api_key: bool,
        /// Reads its own settings.
        settings: ReadSettings,
    },
}

/// Reads a service's own settings from the environment.
pub type ReadSettings = fn(&Env) -> Result<Arc<dyn BuildProvider>, ConfigError>;

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
        const fn http(
            name: &'static str,
            env_prefix: &'static str,
            default_url: &'static str,
            timeout_secs: u64,
            settings: ReadSettings,
        ) -> KindInfo {
            let reach = Reach::Http {
                default_url,
                needs_api_key: true,
                settings,
            };
            KindInfo {
                name,
                env_prefix,
                timeout_secs,
                reach,
            }
        }
        match self {
            ProviderKind::Embedded => KindInfo {
                name: "embedded",
                env_prefix: "EMBEDDED",
                timeout_secs: 10,
                reach: Reach::Image,
            },
            ProviderKind::AltTextLab => http(
                "alttextlab",
                "ALTTEXTLAB",
                "https://app.alttextlab.com",
                60,
                wire::read::<alttextlab::Settings>,
            ),
            ProviderKind::AutoAlt => http(
                "autoalt",
                "AUTOALT",
                "https://autoalt.app",
                60,
                wire::read::<autoalt::Settings>,
            ),
            ProviderKind::AltTextAi => http(
                "alttextai",
                "ALTTEXTAI",
                "https://alttext.ai",
                90,
                wire::read::<alttextai::Settings>,
            ),
            ProviderKind::Bedrock => KindInfo {
                name: "bedrock",
                env_prefix: "BEDROCK",
                timeout_secs: 60,
                reach: Reach::Bedrock,
            },
            // A local OpenAI-compatible server takes no key.
            ProviderKind::OpenAi => KindInfo {
                name: "openai",
                env_prefix: "OPENAI",
                timeout_secs: 120,
                reach: Reach::Http {
                    default_url: "https://api.openai.com",
                    needs_api_key: false,
                    settings: wire::read::<openai::Settings>,
                },
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
        match self.info().reach {
            Reach::Http { default_url, .. } => Some(default_url),
            Reach::Image | Reach::Bedrock => None,
        }
    }

    /// How long one request may take by default (`<P>_TIMEOUT_SECS`).
    pub const fn default_timeout(self) -> Duration {
        Duration::from_secs(self.info().timeout_secs)
    }

    /// Whether the service takes an API key (Bedrock uses the function's role instead).
    pub const fn takes_api_key(self) -> bool {
        matches!(self.info().reach, Reach::Http { .. })
    }

    /// Whether the service declines every image without a key.
    pub const fn needs_api_key(self) -> bool {
        matches!(
            self.info().reach,
            Reach::Http {
                needs_api_key: true,
                ..
            }
        )
    }
}

/// One provider of the chain with its own settings.
#[derive(Debug, Clone)]
pub enum ProviderConfig {
    Embedded,
    Bedrock(bedrock::Settings),
    Http(HttpConfig),
}

/// An HTTP service of the chain: its key and URL, and its own settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub kind: ProviderKind,
    pub access: Access,
    pub settings: Arc<dyn BuildProvider>,
}

impl HttpConfig {
    /// The service's own settings, as the type they are.
    pub fn settings<S: ServiceSettings>(&self) -> Option<&S> {
        let settings: &dyn Any = self.settings.as_ref();
        settings.downcast_ref()
    }
}

impl ProviderConfig {
    /// Reads the settings of `kind`; `generic` lets the `ALT_TEXT_API_*` variables stand in
    /// for its own.
    fn from_env(
        kind: ProviderKind,
        env: &Env,
        generic: bool,
    ) -> Result<ProviderConfig, ConfigError> {
        Ok(match kind.info().reach {
            Reach::Image => ProviderConfig::Embedded,
            Reach::Bedrock => {
                ProviderConfig::Bedrock(bedrock::Settings::from_env(env, kind.default_timeout())?)
            }
            Reach::Http {
                default_url,
                settings,
                ..
            } => ProviderConfig::Http(HttpConfig {
                kind,
                access: Access::from_env(
                    env,
                    kind.env_prefix(),
                    default_url,
                    kind.default_timeout(),
                    generic,
                )?,
                settings: settings(env)?,
            }),
        })
    }

    pub fn kind(&self) -> ProviderKind {
        match self {
            ProviderConfig::Embedded => ProviderKind::Embedded,
            ProviderConfig::Bedrock(_) => ProviderKind::Bedrock,
            ProviderConfig::Http(c) => c.kind,
        }
    }

    /// The HTTP service's configuration, for an HTTP service.
    pub fn http(&self) -> Option<&HttpConfig> {
        match self {
            ProviderConfig::Http(c) => Some(c),
            ProviderConfig::Embedded | ProviderConfig::Bedrock(_) => None,
        }
    }

    /// The service's key and URL, for providers that have them.
    pub fn access(&self) -> Option<&Access> {
        self.http().map(|c| &c.access)
    }

    /// The same, to put a key read from its store in.
    pub fn access_mut(&mut self) -> Option<&mut Access> {
        match self {
            ProviderConfig::Http(c) => Some(&mut c.access),
            ProviderConfig::Embedded | ProviderConfig::Bedrock(_) => None,
        }
    }

    /// The provider, calling its service through `services`.
    ///
    /// # Panics
    /// For Bedrock, if `services` has no AWS configuration.
    pub fn build(&self, services: &Services) -> Box<dyn Provider> {
        match self {
            ProviderConfig::Embedded => Box::new(embedded::Embedded),
            ProviderConfig::Http(c) => {
                c.settings
                    .provider(services.http.clone(), &c.access, services.keys.clone())
            }
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

//! How the function reaches a service: its API key (or where to read it), its base URL,
//! and whether it is sent the image's URL or its bytes.

use std::time::Duration;

use super::ProviderError;
use crate::env::{ConfigError, Env};
use crate::secret::ApiKey;

/// A store holding the API key, so that it never sits in the function's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An SSM Parameter Store parameter, normally a SecureString (`<P>_API_KEY_PARAMETER`).
    SsmParameter(String),
    /// A Secrets Manager secret, by name or ARN (`<P>_API_KEY_SECRET_ID`).
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

/// One service's key, key store, URL and image input.
#[derive(Debug, Clone)]
pub struct Access {
    /// Prefix of the provider's own variables (`ALTTEXTLAB`, `OPENAI`, …).
    pub env_prefix: &'static str,
    /// The API key (`<P>_API_KEY`, or `ALT_TEXT_API_KEY` for the chain's only keyed
    /// provider; or read at start from `key_source`).
    pub api_key: Option<ApiKey>,
    /// Where a deployed function reads the key from, once at start.
    pub key_source: Option<KeySource>,
    /// Base URL of the service (`<P>_API_URL`, or `ALT_TEXT_API_URL`), without a final `/`.
    pub url: String,
    /// Presigned URL or bytes (`<P>_IMAGE_INPUT`), for AltText.ai and OpenAI.
    pub image_input: ImageInput,
    /// Longest wait for one request (`<P>_TIMEOUT_SECS`). A request that timed out may
    /// have been billed and is not sent again in the same delivery, so this is generous.
    pub timeout: Duration,
}

impl Access {
    /// Reads `<prefix>_API_KEY`, `_API_KEY_PARAMETER`, `_API_KEY_SECRET_ID`, `_API_URL`,
    /// `_IMAGE_INPUT` and `_TIMEOUT_SECS`; with `generic`, the `ALT_TEXT_…` forms stand in
    /// for the first four.
    pub fn from_env(
        env: &Env,
        env_prefix: &'static str,
        default_url: &str,
        default_timeout: Duration,
        generic: bool,
    ) -> Result<Access, ConfigError> {
        let var = |suffix: &str| -> Option<(String, String)> {
            let own = format!("{env_prefix}{suffix}");
            if let Some(v) = env.get(&own) {
                return Some((own, v));
            }
            let generic_var = format!("ALT_TEXT{suffix}");
            env.get(&generic_var)
                .filter(|_| generic)
                .map(|v| (generic_var, v))
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
            let names: Vec<&str> = set.iter().map(|s| s.as_str()).collect();
            return Err(ConfigError::invalid(
                set[1].clone(),
                format!("set only one of {}", names.join(", ")),
            ));
        }
        let key_source = parameter
            .map(|(_, v)| KeySource::SsmParameter(v))
            .or_else(|| secret.map(|(_, v)| KeySource::SecretsManager(v)));
        let url = match var("_API_URL") {
            Some((name, url)) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(ConfigError::invalid(
                        name,
                        "must start with https:// or http://",
                    ));
                }
                url.trim_end_matches('/').to_string()
            }
            None => default_url.to_string(),
        };
        let input_var = format!("{env_prefix}_IMAGE_INPUT");
        let image_input = match env.get(&input_var).as_deref() {
            None | Some("url") => ImageInput::Url,
            Some("data") => ImageInput::Data,
            Some(other) => {
                return Err(ConfigError::invalid(
                    input_var,
                    format!("{other:?} is not url or data"),
                ));
            }
        };
        let timeout = Duration::from_secs(env.number(
            &format!("{env_prefix}_TIMEOUT_SECS"),
            default_timeout.as_secs(),
            5,
            900,
        )?);
        Ok(Access {
            env_prefix,
            timeout,
            api_key: key.map(|(_, v)| ApiKey::new(v)),
            key_source,
            url,
            image_input,
        })
    }

    /// The key, or why `service` declines without one.
    pub fn key(&self, service: &str) -> Result<&ApiKey, ProviderError> {
        self.api_key.as_ref().ok_or_else(|| {
            ProviderError::Declined(format!(
                "{service} needs an API key: set ALT_TEXT_API_KEY or {}_API_KEY",
                self.env_prefix
            ))
        })
    }

    /// Whether the service has a key, or a store to read it from.
    pub fn has_key(&self) -> bool {
        self.api_key.is_some() || self.key_source.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_key_names_its_variables() {
        let lookup = |_: &str| None;
        let access = Access::from_env(
            &Env::new(&lookup),
            "AUTOALT",
            "https://autoalt.app",
            Duration::from_secs(60),
            true,
        )
        .unwrap();
        assert_eq!(access.timeout, Duration::from_secs(60));
        assert_eq!(
            access.key("AutoAlt"),
            Err(ProviderError::Declined(
                "AutoAlt needs an API key: set ALT_TEXT_API_KEY or AUTOALT_API_KEY".into()
            ))
        );
    }
}

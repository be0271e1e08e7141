//! Reads the provider API key from SSM Parameter Store or Secrets Manager, once when the
//! function starts; the key then lives in memory for the container's life.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use thiserror::Error;

use super::KeySource;
use crate::secret::ApiKey;

/// The key could not be read. The message names the parameter or secret, never the value.
#[derive(Debug, Error)]
pub enum KeyError {
    #[error("cannot read the API key from SSM parameter {name}: {message}")]
    Parameter { name: String, message: String },
    #[error("cannot read the API key from Secrets Manager secret {id}: {message}")]
    Secret { id: String, message: String },
}

/// Reads the key from `source`.
pub async fn read(source: &KeySource, sdk: &aws_config::SdkConfig) -> Result<ApiKey, KeyError> {
    match source {
        KeySource::SsmParameter(name) => from_parameter(&aws_sdk_ssm::Client::new(sdk), name).await,
        KeySource::SecretsManager(id) => {
            from_secret(&aws_sdk_secretsmanager::Client::new(sdk), id).await
        }
    }
}

/// Reads a (SecureString) parameter, decrypted.
pub async fn from_parameter(client: &aws_sdk_ssm::Client, name: &str) -> Result<ApiKey, KeyError> {
    let fail = |message: String| KeyError::Parameter {
        name: name.to_string(),
        message,
    };
    let output = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| fail(error_code(&e)))?;
    let value = output
        .parameter()
        .and_then(|p| p.value())
        .unwrap_or_default();
    key_from_value(value).ok_or_else(|| fail("the parameter is empty".into()))
}

/// Reads a secret: a plain string, or JSON with the key under `api_key`, `apiKey` or
/// `ALT_TEXT_API_KEY`.
pub async fn from_secret(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
) -> Result<ApiKey, KeyError> {
    let fail = |message: String| KeyError::Secret {
        id: id.to_string(),
        message,
    };
    let output = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| fail(error_code(&e)))?;
    let value = output.secret_string().unwrap_or_default();
    if value.trim_start().starts_with('{') {
        let json: serde_json::Value =
            serde_json::from_str(value).map_err(|_| fail("the secret is not valid JSON".into()))?;
        let field = ["api_key", "apiKey", "ALT_TEXT_API_KEY"]
            .into_iter()
            .find_map(|f| json.get(f)?.as_str());
        return field.and_then(key_from_value).ok_or_else(|| {
            fail("the JSON secret has no api_key, apiKey or ALT_TEXT_API_KEY string".into())
        });
    }
    key_from_value(value).ok_or_else(|| fail("the secret has no string value".into()))
}

/// The service's error code (`ParameterNotFound`, `AccessDeniedException`, …), or the whole
/// error when it has none (a network failure).
fn error_code<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    err.code()
        .map_or_else(|| DisplayErrorContext(err).to_string(), String::from)
}

fn key_from_value(value: &str) -> Option<ApiKey> {
    let value = value.trim();
    (!value.is_empty()).then(|| ApiKey::new(value))
}

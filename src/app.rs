//! Wiring: builds the SDK clients, providers and handler from the configuration, once per
//! process (the Lambda container, or a local replay).

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use crate::config::Config;
use crate::handler::Handler;
use crate::key_store::{self, KeyError};
use crate::object_store::S3Store;
use crate::pipeline::{Pipeline, Settings};
use crate::provider::alttextai::AltTextAi;
use crate::provider::alttextlab::AltTextLab;
use crate::provider::autoalt::AutoAlt;
use crate::provider::bedrock::Bedrock;
use crate::provider::embedded::Embedded;
use crate::provider::openai::OpenAi;
use crate::provider::{Provider, ProviderKind};
use crate::record_store::DynamoRecords;
use crate::trust::{TrustError, TrustRoots};

/// The function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error("cannot build the HTTP client of the providers: {0}")]
    Http(String),
}

/// The handler as deployed: S3, DynamoDB and the configured providers.
pub type AppHandler = Handler<S3Store, DynamoRecords>;

/// The clients providers call their services with.
#[derive(Debug, Clone)]
pub struct Services {
    pub http: reqwest::Client,
    /// For the Bedrock provider; `None` when the chain does not use it.
    pub bedrock: Option<aws_sdk_bedrockruntime::Client>,
}

impl Services {
    /// HTTP only (no Bedrock).
    pub fn http(http: reqwest::Client) -> Services {
        Services {
            http,
            bedrock: None,
        }
    }
}

/// Retries of S3 and DynamoDB calls: the SDK's standard mode (exponential backoff with
/// jitter, and a token bucket that stops retrying when most calls fail), four attempts in
/// all, from 50 ms up to 2 s apart. S3 `SlowDown`/503 and DynamoDB throttling are retried.
pub fn store_retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(4)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_secs(2))
}

/// The S3 client of the function, over `sdk`.
pub fn s3_client(sdk: &aws_config::SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .retry_config(store_retry())
            .build(),
    )
}

/// The DynamoDB client of the function, over `sdk`.
pub fn dynamodb_client(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .retry_config(store_retry())
            .build(),
    )
}

/// A Bedrock client that leaves retries to the provider's own policy, which stops at the
/// invocation's deadline. `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` points it elsewhere.
pub fn bedrock_client(sdk: &aws_config::SdkConfig) -> aws_sdk_bedrockruntime::Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(60))
        .build();
    aws_sdk_bedrockruntime::Client::from_conf(
        aws_sdk_bedrockruntime::config::Builder::from(sdk)
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts)
            .build(),
    )
}

/// Whether this process is a Lambda function, whose role's credentials and Region Lambda
/// puts in the environment.
fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
        && std::env::var_os("AWS_ACCESS_KEY_ID").is_some()
        && std::env::var_os("AWS_REGION").is_some()
}

/// Loads the AWS configuration (in Lambda, the role's credentials and the Region from the
/// environment, without building the rest of the default chain; elsewhere, the standard
/// sources: variables, profiles, SSO…), reads the API key from its store if one is
/// configured, and builds the handler.
/// Every HTTPS client trusts the same compiled-in roots (see [`crate::trust`]).
pub async fn build(config: &Config) -> Result<AppHandler, StartError> {
    let roots = TrustRoots::load(config.ca_bundle.as_deref())?;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(20))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(roots.sdk_http_client())
        .timeout_config(timeouts);
    if in_lambda() {
        loader = loader
            .credentials_provider(EnvironmentVariableCredentialsProvider::new())
            .region(EnvironmentVariableRegionProvider::new());
    }
    let sdk = loader.load().await;
    // A custom endpoint (moto, MinIO, LocalStack) serves buckets by path, not by host name.
    let path_style = std::env::var_os("AWS_ENDPOINT_URL").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let s3 = s3_client(&sdk, path_style);
    let dynamodb = dynamodb_client(&sdk);
    let mut config = config.clone();
    for provider in &mut config.providers {
        if let Some(source) = &provider.key_source {
            provider.api_key = Some(key_store::read(source, &sdk).await?);
        }
    }
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("s3-alt-text/", env!("CARGO_PKG_VERSION")))
        .tls_certs_only(roots.for_reqwest())
        .build()
        .map_err(|e| StartError::Http(e.to_string()))?;
    let records = DynamoRecords::new(dynamodb, &config.table_name);
    let bedrock = config
        .kinds()
        .contains(&ProviderKind::Bedrock)
        .then(|| bedrock_client(&sdk));
    Ok(build_with(
        &config,
        S3Store::new(s3),
        records,
        Services { http, bedrock },
    ))
}

/// Builds the handler over the given stores.
pub fn build_with(
    config: &Config,
    store: S3Store,
    records: DynamoRecords,
    services: Services,
) -> AppHandler {
    let providers = providers(config, services);
    let settings = Settings {
        tag_key: config.tag_key.clone(),
        langs: config.langs.clone(),
        max_chars: config.max_chars,
        presign_ttl: config.presign_ttl,
    };
    Handler::new(
        Pipeline::new(store, records, providers, settings),
        config.max_concurrency,
    )
}

/// The provider chain named in the configuration, in order.
///
/// # Panics
/// If the chain names Bedrock and `services` has no Bedrock client.
pub fn providers(config: &Config, services: Services) -> Vec<Box<dyn Provider>> {
    let http = services.http;
    config
        .providers
        .iter()
        .map(|settings| -> Box<dyn Provider> {
            match settings.kind {
                ProviderKind::Embedded => Box::new(Embedded),
                ProviderKind::AltTextLab => {
                    Box::new(AltTextLab::new(http.clone(), config, settings))
                }
                ProviderKind::AutoAlt => Box::new(AutoAlt::new(http.clone(), settings)),
                ProviderKind::AltTextAi => Box::new(AltTextAi::new(http.clone(), config, settings)),
                ProviderKind::OpenAi => Box::new(OpenAi::new(http.clone(), config, settings)),
                ProviderKind::Bedrock => Box::new(Bedrock::new(
                    services
                        .bedrock
                        .clone()
                        .expect("a Bedrock client for a chain with bedrock"),
                    config,
                )),
            }
        })
        .collect()
}

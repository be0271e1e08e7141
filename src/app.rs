//! Wiring: builds the SDK clients, providers and handler from the configuration, once per
//! process (the Lambda container, or a local replay).

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;

use crate::config::Config;
use crate::handler::Handler;
use crate::key_store::{self, KeyError};
use crate::object_store::S3Store;
use crate::pipeline::{Pipeline, Settings};
use crate::provider::alttextlab::AltTextLab;
use crate::provider::embedded::Embedded;
use crate::provider::{Provider, ProviderKind};
use crate::record_store::DynamoRecords;

/// The handler as deployed: S3, DynamoDB and the configured providers.
pub type AppHandler = Handler<S3Store, DynamoRecords>;

/// Loads the AWS configuration from the standard sources (`AWS_*` variables, the Lambda
/// role), reads the API key from its store if one is configured, and builds the handler.
pub async fn build(config: &Config) -> Result<AppHandler, KeyError> {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(20))
        .build();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await;
    // A custom endpoint (moto, MinIO, LocalStack) serves buckets by path, not by host name.
    let path_style = std::env::var_os("AWS_ENDPOINT_URL").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(path_style)
            .build(),
    );
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let mut config = config.clone();
    if let Some(source) = &config.key_source {
        config.api_key = Some(key_store::read(source, &sdk).await?);
    }
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("s3-alt-text/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds with static settings");
    let records = DynamoRecords::new(dynamodb, &config.table_name);
    Ok(build_with(&config, S3Store::new(s3), records, http))
}

/// Builds the handler over the given stores.
pub fn build_with(
    config: &Config,
    store: S3Store,
    records: DynamoRecords,
    http: reqwest::Client,
) -> AppHandler {
    let providers = providers(config, http);
    let settings = Settings {
        tag_key: config.tag_key.clone(),
        lang: config.lang.clone(),
        presign_ttl: config.presign_ttl,
    };
    Handler::new(
        Pipeline::new(store, records, providers, settings),
        config.max_concurrency,
    )
}

/// The provider chain named in the configuration, in order.
pub fn providers(config: &Config, http: reqwest::Client) -> Vec<Box<dyn Provider>> {
    config
        .providers
        .iter()
        .map(|kind| -> Box<dyn Provider> {
            match kind {
                ProviderKind::Embedded => Box::new(Embedded),
                ProviderKind::AltTextLab => Box::new(AltTextLab::new(http.clone(), config)),
            }
        })
        .collect()
}

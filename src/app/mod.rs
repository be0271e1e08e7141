//! The composition root: builds the SDK clients, stores, providers and handler from the
//! configuration, once per process (the Lambda container, or a terminal command), and
//! serves Lambda invocations.

pub mod clients;
pub mod trust;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::config::Config;
use crate::handler::Handler;
use crate::metrics;
use crate::pipeline::Pipeline;
use crate::provider::keys::{AwsKeyStore, KeyError, KeyStore};
use crate::provider::{Services, registry};
use crate::store::{DynamoRecords, S3Store};
use crate::time::deadline_instant;
use trust::{TrustError, TrustRoots};

/// The function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error("cannot build the HTTP client of the providers: {0}")]
    Http(#[source] reqwest::Error),
}

/// The handler as deployed: S3, DynamoDB and the configured providers.
pub type AppHandler = Handler<S3Store, DynamoRecords>;

/// The pipeline over S3 and DynamoDB.
pub type AppPipeline = Pipeline<S3Store, DynamoRecords>;

/// Builds everything the function needs: the AWS clients, the API keys read from their
/// stores, the providers' HTTP client, and the handler over them. Every HTTPS client
/// trusts the same compiled-in roots (see [`trust`]).
pub async fn build(config: &Config) -> Result<AppHandler, StartError> {
    let roots = TrustRoots::load(config.ca_bundle.as_deref())?;
    let sdk = clients::sdk_config(&roots).await;
    let s3 = clients::s3_client(&sdk, clients::custom_s3_endpoint());
    let dynamodb = clients::dynamodb_client(&sdk);
    let mut config = config.clone();
    let keys = key_store(&config, &sdk);
    if let Some(keys) = &keys {
        read_keys(&mut config, keys.as_ref()).await?;
    }
    let http = http_client(&roots)?;
    let records = DynamoRecords::new(dynamodb, &config.table_name);
    let services = Services {
        http,
        aws: Some(sdk),
        keys,
    };
    Ok(build_with(&config, S3Store::new(s3), records, services))
}

/// SSM and Secrets Manager, when a provider's key lives in one of them.
fn key_store(config: &Config, sdk: &aws_config::SdkConfig) -> Option<Arc<dyn KeyStore>> {
    let stored = config
        .providers
        .iter()
        .filter_map(|p| p.access())
        .any(|a| a.key_source.is_some());
    stored.then(|| Arc::new(AwsKeyStore::new(sdk)) as Arc<dyn KeyStore>)
}

/// Reads each key kept in a store, so that the function does not start without it.
pub async fn read_keys(config: &mut Config, keys: &dyn KeyStore) -> Result<(), KeyError> {
    for access in config.providers.iter_mut().filter_map(|p| p.access_mut()) {
        if let Some(source) = &access.key_source {
            access.api_key = Some(keys.read(source).await?);
        }
    }
    Ok(())
}

/// The pipeline of a person's edits and listings (`set`, `list`, `import`, `review`): S3 and
/// DynamoDB, and no provider, so no key is read.
pub async fn build_for_edits(config: &Config) -> Result<AppPipeline, StartError> {
    let roots = TrustRoots::load(config.ca_bundle.as_deref())?;
    let sdk = clients::sdk_config(&roots).await;
    let s3 = clients::s3_client(&sdk, clients::custom_s3_endpoint());
    let records = DynamoRecords::new(clients::dynamodb_client(&sdk), &config.table_name);
    Ok(Pipeline::new(
        S3Store::new(s3),
        records,
        Vec::new(),
        config.pipeline.clone(),
    ))
}

/// The providers' HTTP client: the compiled-in roots, and no redirects. A key is only
/// ever sent to its provider's host: reqwest would carry custom key headers (and the body,
/// with its presigned URL) along to another host.
pub fn http_client(roots: &TrustRoots) -> Result<reqwest::Client, StartError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("s3-alt-text/", env!("CARGO_PKG_VERSION")))
        .tls_certs_only(roots.for_reqwest())
        .build()
        .map_err(StartError::Http)
}

/// Builds the handler over the given stores and services.
pub fn build_with(
    config: &Config,
    store: S3Store,
    records: DynamoRecords,
    services: Services,
) -> AppHandler {
    let providers = registry::build(&config.providers, &services);
    let pipeline = Pipeline::new(store, records, providers, config.pipeline.clone());
    Handler::new(pipeline, config.max_concurrency)
}

/// The Lambda function: builds the handler once, then serves invocations for the
/// container's life, each followed by its metrics.
pub async fn serve() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "function stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), lambda_runtime::Error> {
    let config = Config::from_env()?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let handler = build(&config).await?;
    let metrics = config.metrics.clone();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (handler, metrics) = (handler.clone(), metrics.clone());
        async move {
            let deadline = deadline_instant(event.context.deadline);
            let result = handler.handle(&event.payload, deadline).await;
            let usage = handler.take_usage();
            if let Some(metrics) = &metrics {
                let summary = match &result {
                    Ok(handled) => &handled.summary,
                    Err(err) => err.summary(),
                };
                metrics::emit(metrics, summary, &usage);
            }
            result.map(|handled| handled.response)
        }
    }))
    .await
}

//! The AWS SDK clients of the function, built once per process: the shared configuration
//! (credentials, Region, endpoints, timeouts, trust roots) and the S3 and DynamoDB clients.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use super::trust::TrustRoots;

/// Retries of S3 and DynamoDB calls: the SDK's standard mode (exponential backoff with
/// jitter, and a token bucket that stops retrying when most calls fail), four attempts in
/// all, from 50 ms up to 2 s apart. S3 `SlowDown`/503 and DynamoDB throttling are retried.
pub fn store_retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(4)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_secs(2))
}

/// Loads the AWS configuration: in Lambda, the role's credentials and the Region from the
/// environment, without building the rest of the default chain; elsewhere, the standard
/// sources (variables, profiles, SSO…). Endpoints come from the standard
/// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` settings.
pub async fn sdk_config(roots: &TrustRoots) -> aws_config::SdkConfig {
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
    loader.load().await
}

/// Whether this process is a Lambda function, whose role's credentials and Region Lambda
/// puts in the environment.
fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
        && std::env::var_os("AWS_ACCESS_KEY_ID").is_some()
        && std::env::var_os("AWS_REGION").is_some()
}

/// Whether S3 is reached at a custom endpoint (SeaweedFS, MinIO, LocalStack), which serves
/// buckets by path, not by host name.
pub fn custom_s3_endpoint() -> bool {
    std::env::var_os("AWS_ENDPOINT_URL").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
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

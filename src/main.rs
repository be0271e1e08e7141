//! The `s3-alt-text` binary: the Lambda function when started by a Lambda runtime
//! (`AWS_LAMBDA_RUNTIME_API` set), the terminal commands (`replay`, `backfill`) otherwise.

use std::process::ExitCode;

use lambda_runtime::{LambdaEvent, service_fn};
use s3_alt_text::config::Config;
use s3_alt_text::handler::deadline_instant;
use s3_alt_text::{app, cli};
use serde_json::Value;

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        lambda_runtime::tracing::init_default_subscriber();
        return match serve().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!(error = %err, "function stopped");
                ExitCode::FAILURE
            }
        };
    }
    lambda_runtime::tracing::init_default_subscriber_with_writer(std::io::stderr);
    let args: Vec<String> = std::env::args().skip(1).collect();
    cli::main(&args).await
}

/// Builds the clients once, then serves invocations for the container's life.
async fn serve() -> Result<(), lambda_runtime::Error> {
    let config = Config::from_env()?;
    cli::warn_about(&config);
    let handler = app::build(&config).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
            let deadline = deadline_instant(event.context.deadline);
            handler
                .handle(&event.payload, deadline)
                .await
                .map(|handled| handled.response)
        }
    }))
    .await
}

//! The `s3-alt-text` binary: the Lambda function when started by a Lambda runtime
//! (`AWS_LAMBDA_RUNTIME_API` set), the terminal commands (`replay`, `backfill`) otherwise.

use std::process::ExitCode;
use std::time::SystemTime;

use lambda_runtime::{LambdaEvent, service_fn};
use s3_alt_text::config::Config;
use s3_alt_text::handler::{Summary, deadline_instant};
use s3_alt_text::metrics::document;
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
    let metrics = config.metrics.clone();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (handler, metrics) = (handler.clone(), metrics.clone());
        async move {
            let deadline = deadline_instant(event.context.deadline);
            let result = handler.handle(&event.payload, deadline).await;
            let usage = handler.take_usage();
            if let Some(metrics) = &metrics {
                let summary = match &result {
                    Ok(handled) => Some(&handled.summary),
                    Err(err) => err.summary(),
                };
                let unrecognised = Summary {
                    failed: 1,
                    ..Summary::default()
                };
                let summary = summary.unwrap_or(&unrecognised);
                // One EMF document per invocation, on stdout: CloudWatch makes the metrics.
                println!("{}", document(metrics, summary, &usage, SystemTime::now()));
            }
            result.map(|handled| handled.response)
        }
    }))
    .await
}

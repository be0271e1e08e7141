//! The `s3-alt-text` binary: the Lambda function when started by a Lambda runtime
//! (`AWS_LAMBDA_RUNTIME_API` set), the terminal commands (`replay`, `backfill`) otherwise.

use std::process::ExitCode;

use s3_alt_text::{app, cli};

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        lambda_runtime::tracing::init_default_subscriber();
        return app::serve().await;
    }
    lambda_runtime::tracing::init_default_subscriber_with_writer(std::io::stderr);
    let args: Vec<String> = std::env::args().skip(1).collect();
    cli::main(&args).await
}

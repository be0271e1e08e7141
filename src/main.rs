//! The `s3-alt-text` binary: the Lambda function when started by a Lambda runtime
//! (`AWS_LAMBDA_RUNTIME_API` set), and `s3-alt-text replay EVENT.json…` from a terminal.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use lambda_runtime::{LambdaEvent, service_fn};
use s3_alt_text::app;
use s3_alt_text::config::Config;
use s3_alt_text::handler::deadline_instant;
use serde_json::Value;

const USAGE: &str = "\
s3-alt-text: gives every image uploaded to an S3 bucket its alt text.

Run by AWS Lambda (AWS_LAMBDA_RUNTIME_API set), it handles S3 event notifications.
From a terminal:

  s3-alt-text replay EVENT.json [EVENT.json ...]
      Runs each event file through the function, as Lambda would, against the S3 bucket
      and DynamoDB table it names (AWS_ENDPOINT_URL points at a local stack), and prints
      one JSON summary line per file. Exits 1 if an event failed.

  s3-alt-text --help
      Shows this text.

Configuration comes from the environment: TABLE_NAME (required), ALT_TEXT_PROVIDER,
ALT_TEXT_API_KEY (or ALT_TEXT_API_KEY_PARAMETER / ALT_TEXT_API_KEY_SECRET_ID), ALT_TEXT_API_URL, ALT_TEXT_LANG, ALT_TEXT_STYLE, ALT_TEXT_KEYWORDS,
ALT_TEXT_TAG_KEY, PRESIGN_TTL_SECS, MAX_CONCURRENCY, and the standard AWS_* variables.
";

/// Time a local replay gives each event, as a Lambda timeout would.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(120);

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
    match args.first().map(String::as_str) {
        Some("replay") if args.len() > 1 => replay(&args[1..]).await,
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

async fn serve() -> Result<(), lambda_runtime::Error> {
    let config = Config::from_env()?;
    warn_about(&config);
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

async fn replay(files: &[String]) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    warn_about(&config);
    let handler = match app::build(&config).await {
        Ok(handler) => handler,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for file in files {
        let payload: Value = match std::fs::read(file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}")))
        {
            Ok(payload) => payload,
            Err(err) => {
                eprintln!("{file}: {err}");
                failed = true;
                continue;
            }
        };
        let line = match handler
            .handle(&payload, Instant::now() + REPLAY_TIMEOUT)
            .await
        {
            Ok(handled) => serde_json::json!({
                "event": file,
                "result": handled.summary,
                "response": handled.response,
            }),
            Err(err) => {
                failed = true;
                serde_json::json!({ "event": file, "error": err.to_string() })
            }
        };
        println!("{line}");
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn warn_about(config: &Config) {
    let needs_key = config
        .providers
        .contains(&s3_alt_text::provider::ProviderKind::AltTextLab);
    if needs_key && config.api_key.is_none() && config.key_source.is_none() {
        tracing::warn!("ALT_TEXT_API_KEY is not set: AltTextLab will decline every image");
    }
}

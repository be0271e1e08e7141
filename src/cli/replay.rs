//! `replay`: event files through the same handler Lambda runs.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const USAGE: &str = "\
s3-alt-text replay EVENT.json [EVENT.json ...]

Runs each event file (any shape the function takes: S3, SNS, SQS, EventBridge, S3 Batch
Operations) through the same handler Lambda runs, against the bucket and table they name,
and prints one JSON line per file: {\"event\", \"result\": summary, \"response\"}.
Objects already captioned for their ETag cost nothing. Exits 1 if an event failed.
";

/// Time a local replay gives each event, as a Lambda timeout would.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn run(files: &[String]) -> ExitCode {
    let (_, handler) = match super::handler().await {
        Ok(built) => built,
        Err(code) => return code,
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

//! The terminal commands of the binary: `replay` (event files through the handler) and
//! `backfill` (the objects already in a bucket), with their help texts and progress display.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::app;
use crate::backfill::{self, Options, Progress, Report};
use crate::config::Config;
use crate::provider::ProviderKind;

pub const USAGE: &str = "\
s3-alt-text: gives every image uploaded to an S3 bucket its alt text.

Run by AWS Lambda (AWS_LAMBDA_RUNTIME_API set), it handles S3 event notifications, directly
or through SNS, SQS or EventBridge, and S3 Batch Operations jobs. From a terminal:

  s3-alt-text replay EVENT.json [EVENT.json ...]
      Runs each event file through the function as Lambda would, and prints one JSON line
      per file: the summary of every object and the response Lambda would get.

  s3-alt-text backfill --bucket BUCKET [--prefix PREFIX] [--concurrency N] [--dry-run]
      Captions the objects already in a bucket. See `s3-alt-text backfill --help`.

  s3-alt-text --help
      Shows this text.

Configuration comes from the environment: TABLE_NAME (required), ALT_TEXT_PROVIDER
(embedded, alttextlab, autoalt, alttextai, bedrock, openai), ALT_TEXT_API_KEY (or
ALT_TEXT_API_KEY_PARAMETER, ALT_TEXT_API_KEY_SECRET_ID, or per provider ALTTEXTLAB_API_KEY,
AUTOALT_API_KEY, ...), ALT_TEXT_API_URL, ALT_TEXT_LANGS, ALT_TEXT_MAX_CHARS, ALT_TEXT_STYLE,
ALT_TEXT_KEYWORDS, ALT_TEXT_PROMPT, BEDROCK_MODEL_ID, OPENAI_MODEL, ALT_TEXT_TAG_KEY,
PRESIGN_TTL_SECS, MAX_CONCURRENCY, and the standard AWS_* variables (AWS_ENDPOINT_URL for
a local stack). The README lists them all.
";

pub const REPLAY_USAGE: &str = "\
s3-alt-text replay EVENT.json [EVENT.json ...]

Runs each event file (any shape the function takes: S3, SNS, SQS, EventBridge, S3 Batch
Operations) through the same handler Lambda runs, against the bucket and table they name,
and prints one JSON line per file: {\"event\", \"result\": summary, \"response\"}.
Objects already captioned for their ETag cost nothing. Exits 1 if an event failed.
";

pub const BACKFILL_USAGE: &str = "\
s3-alt-text backfill --bucket BUCKET [--prefix PREFIX] [--concurrency N] [--dry-run]

Captions the objects already in BUCKET (those under PREFIX), as their upload events would
have: objects already captioned for their current ETag are skipped without any call, the
rest go through the provider chain. Shows a progress bar (progress lines when not on a
terminal) and prints a summary: captioned, already captioned, skipped, failed, and the
number of paid provider calls made.

  --bucket BUCKET    the bucket to caption (required)
  --prefix PREFIX    only keys starting with PREFIX
  --concurrency N    objects processed at the same time (default: MAX_CONCURRENCY, 8)
  --dry-run          call nothing paid and write nothing: read each object's record and
                     head, try the free providers (embedded alt text), and print how many
                     paid provider calls a real run would make

For millions of objects, run the function itself over the bucket with S3 Batch Operations
(see README, \"Backfilling at scale\").
";

/// Time a local replay gives each event, as a Lambda timeout would.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs the command named by `args` (the program name left out).
pub async fn main(args: &[String]) -> ExitCode {
    let wants_help = args.iter().any(|a| a == "-h" || a == "--help");
    match args.first().map(String::as_str) {
        Some("replay") if wants_help => print_ok(REPLAY_USAGE),
        Some("backfill") if wants_help => print_ok(BACKFILL_USAGE),
        Some("replay") if args.len() > 1 => replay(&args[1..]).await,
        Some("backfill") => match parse_backfill(&args[1..]) {
            Ok(options) => run_backfill(options).await,
            Err(err) => usage_error(&err, BACKFILL_USAGE),
        },
        Some("-h" | "--help" | "help") => print_ok(USAGE),
        Some("replay") => usage_error("replay needs at least one event file", REPLAY_USAGE),
        Some(other) => usage_error(&format!("unknown command {other:?}"), USAGE),
        None => usage_error("no command given", USAGE),
    }
}

fn print_ok(text: &str) -> ExitCode {
    print!("{text}");
    ExitCode::SUCCESS
}

fn usage_error(message: &str, usage: &str) -> ExitCode {
    eprintln!("error: {message}\n\n{usage}");
    ExitCode::from(2)
}

/// Reads the configuration and builds the handler, or says why it cannot.
async fn handler() -> Result<(Config, app::AppHandler), ExitCode> {
    let config = Config::from_env().map_err(|err| {
        eprintln!("configuration error: {err}");
        ExitCode::from(2)
    })?;
    warn_about(&config);
    let handler = app::build(&config).await.map_err(|err| {
        eprintln!("{err}");
        ExitCode::from(2)
    })?;
    Ok((config, handler))
}

/// Warns once for each provider that needs a key and has none.
pub fn warn_about(config: &Config) {
    for p in &config.providers {
        let needs_key = p.kind.takes_api_key() && p.kind != ProviderKind::OpenAi;
        if needs_key && p.api_key.is_none() && p.key_source.is_none() {
            tracing::warn!(
                provider = p.kind.name(),
                "no API key (ALT_TEXT_API_KEY or {}_API_KEY): it will decline every image",
                p.kind.env_prefix()
            );
        }
    }
}

async fn replay(files: &[String]) -> ExitCode {
    let (_, handler) = match handler().await {
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

fn parse_backfill(args: &[String]) -> Result<BackfillArgs, String> {
    let (mut bucket, mut prefix, mut concurrency, mut dry_run) = (None, None, None, false);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--bucket" => bucket = Some(value("--bucket")?),
            "--prefix" => prefix = Some(value("--prefix")?),
            "--concurrency" => {
                let n = value("--concurrency")?;
                concurrency = Some(
                    n.parse::<usize>()
                        .ok()
                        .filter(|n| (1..=256).contains(n))
                        .ok_or_else(|| {
                            format!("--concurrency takes a number from 1 to 256, not {n:?}")
                        })?,
                );
            }
            "--dry-run" => dry_run = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let bucket = bucket.ok_or("--bucket is required")?;
    Ok(BackfillArgs {
        bucket,
        prefix,
        concurrency,
        dry_run,
    })
}

/// The arguments of `backfill`.
struct BackfillArgs {
    bucket: String,
    prefix: Option<String>,
    concurrency: Option<usize>,
    dry_run: bool,
}

async fn run_backfill(args: BackfillArgs) -> ExitCode {
    let (config, handler) = match handler().await {
        Ok(built) => built,
        Err(code) => return code,
    };
    let options = Options {
        bucket: args.bucket,
        prefix: args.prefix,
        concurrency: args.concurrency.unwrap_or(config.max_concurrency),
        dry_run: args.dry_run,
    };
    let started = Instant::now();
    let display = Display::new();
    let result = backfill::run(handler.pipeline(), &options, &display).await;
    display.finish();
    let report = match result {
        Ok(report) => report,
        Err(err) => {
            eprintln!("backfill stopped: {err}");
            return ExitCode::FAILURE;
        }
    };
    print_report(&options, &report, started.elapsed());
    if report.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_report(options: &Options, report: &Report, took: Duration) {
    let place = format!(
        "s3://{}/{}",
        options.bucket,
        options.prefix.as_deref().unwrap_or_default()
    );
    let secs = took.as_secs_f64();
    if options.dry_run {
        println!(
            "dry run of {place}: {} objects listed in {secs:.1} s",
            report.listed
        );
        println!("  already captioned  {}", report.already_captioned);
        println!("  free captions      {} (embedded alt text)", report.free);
        println!("  need a provider    {}", report.need_provider);
        println!("  skipped            {}", report.skipped);
        println!("  failed             {}", report.failed);
        println!(
            "provider calls a real run would make: {}",
            report.would_call
        );
    } else {
        println!(
            "backfill of {place}: {} objects in {secs:.1} s",
            report.listed
        );
        println!("  captioned          {}", report.captioned);
        println!("  already captioned  {}", report.already_captioned);
        println!("  skipped            {}", report.skipped);
        println!("  failed             {}", report.failed);
        println!("provider calls: {}", report.provider_calls);
    }
}

/// A progress bar on a terminal; elsewhere (CI, a pipe), a line every tenth of the way.
struct Display {
    bar: Option<ProgressBar>,
    counts: Mutex<(u64, u64, Instant)>,
}

impl Display {
    fn new() -> Display {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] [{bar:40}] {pos}/{len} {per_sec} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        Display {
            bar,
            counts: Mutex::new((0, 0, Instant::now())),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message("done");
        }
    }
}

impl Progress for Display {
    fn listed(&self, n: u64) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.1 += n;
        if let Some(bar) = &self.bar {
            bar.set_length(counts.1);
        }
    }

    fn done(&self, _key: &str, outcome: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.0 += 1;
        let (done, listed, started) = *counts;
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(outcome.to_string());
            }
            None => {
                let step = (listed / 10).max(1);
                if done % step == 0 || done == listed {
                    let secs = started.elapsed().as_secs_f64();
                    eprintln!(
                        "progress: {done}/{listed} objects ({:.0}%), {secs:.1} s",
                        done as f64 * 100.0 / listed.max(1) as f64
                    );
                }
            }
        }
    }
}

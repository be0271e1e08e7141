//! `backfill`: its arguments, the run with a progress display, and the printed report.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::backfill::{self, Options, Report};
use super::progress::Display;

pub const USAGE: &str = "\
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
(see docs/backfill.md, \"Backfilling at scale\").
";

pub fn parse(args: &[String]) -> Result<BackfillArgs, String> {
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
pub struct BackfillArgs {
    bucket: String,
    prefix: Option<String>,
    concurrency: Option<usize>,
    dry_run: bool,
}

pub async fn run(args: BackfillArgs) -> ExitCode {
    let (config, handler) = match super::handler().await {
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

//! `backfill`: its arguments, the run with a progress display, and the printed report.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::backfill::{self, Options, Report};
use super::bill::Bill;
use super::progress::Display;
use crate::app::AppHandler;
use crate::pipeline::Allowance;

pub const USAGE: &str = "\
s3-alt-text backfill --bucket BUCKET [--prefix PREFIX] [--concurrency N] [--dry-run]
                     [--allow-over]

Captions the objects already in BUCKET (those under PREFIX), as their upload events would
have: objects already captioned for their current ETag are skipped without any call, the
rest go through the provider chain. Shows a progress bar (progress lines when not on a
terminal) and prints a summary: captioned, already captioned, skipped, failed, and the
number of paid provider calls made.

  --bucket BUCKET    the bucket to caption (required)
  --prefix PREFIX    only keys starting with PREFIX
  --concurrency N    objects processed at the same time (default: MAX_CONCURRENCY, 10)
  --dry-run          call nothing paid and write nothing: read each object's record and
                     head, try the free providers (embedded alt text), and print how many
                     paid provider calls a real run would make, by provider, against
                     the credits each service says are left (AltTextLab, AutoAlt,
                     AltText.ai) and the calls left in ALT_TEXT_BUDGET
  --allow-over       start even when the run would need more calls than the credits or
                     the budget allow (without it, a run first counts its calls, as a dry
                     run does, and refuses to start when they are more)

For millions of objects, run the function itself over the bucket with S3 Batch Operations
(see docs/backfill.md, \"Backfilling at scale\").
";

pub fn parse(args: &[String]) -> Result<BackfillArgs, String> {
    let (mut bucket, mut prefix, mut concurrency) = (None, None, None);
    let (mut dry_run, mut allow_over) = (false, false);
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
            "--allow-over" => allow_over = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let bucket = bucket.ok_or("--bucket is required")?;
    Ok(BackfillArgs {
        bucket,
        prefix,
        concurrency,
        dry_run,
        allow_over,
    })
}

/// The arguments of `backfill`.
pub struct BackfillArgs {
    bucket: String,
    prefix: Option<String>,
    concurrency: Option<usize>,
    dry_run: bool,
    allow_over: bool,
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
    let allowance = match handler.pipeline().allowance().await {
        Ok(allowance) => allowance,
        Err(err) => {
            eprintln!("backfill stopped: the budget could not be read: {err}");
            return ExitCode::FAILURE;
        }
    };
    if !options.dry_run
        && !args.allow_over
        && Bill::can_be_checked(&allowance)
        && let Err(code) = within_allowance(&handler, &options, &allowance).await
    {
        return code;
    }
    let Some(report) = pass(&handler, &options).await else {
        return ExitCode::FAILURE;
    };
    print_report(&options, &report, started.elapsed());
    if options.dry_run {
        print_bill(&report, &allowance);
    }
    if report.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One pass over the objects, with the progress display; `None` (said why) if it stopped.
async fn pass(handler: &AppHandler, options: &Options) -> Option<Report> {
    let display = Display::new();
    let result = backfill::run(handler.pipeline(), options, &display).await;
    display.finish();
    result
        .map_err(|err| eprintln!("backfill stopped: {err}"))
        .ok()
}

/// Counts the calls the run would make, as a dry run does; refuses to start when they are
/// more than the credits or the budget allow.
async fn within_allowance(
    handler: &AppHandler,
    options: &Options,
    allowance: &Allowance,
) -> Result<(), ExitCode> {
    let counting = Options {
        dry_run: true,
        ..options.clone()
    };
    eprintln!("counting the calls this run needs before it starts (--allow-over skips this)");
    let Some(plan) = pass(handler, &counting).await else {
        return Err(ExitCode::FAILURE);
    };
    let bill = Bill {
        need: &plan.would_call_by_provider,
        allowance,
    };
    let over = bill.over();
    if over.is_empty() {
        return Ok(());
    }
    eprintln!("backfill not started: it would spend more than the accounts allow");
    for line in bill.lines() {
        eprintln!("{line}");
    }
    for reason in &over {
        eprintln!("  over: {reason}");
    }
    eprintln!("top up, raise ALT_TEXT_BUDGET, narrow --prefix, or pass --allow-over");
    Err(ExitCode::FAILURE)
}

/// The dry run's calls by provider against what the accounts allow.
fn print_bill(report: &Report, allowance: &Allowance) {
    let bill = Bill {
        need: &report.would_call_by_provider,
        allowance,
    };
    for line in bill.lines() {
        println!("{line}");
    }
    for over in bill.over() {
        println!("  over: {over}: a real run would not start without --allow-over");
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

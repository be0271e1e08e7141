//! The terminal commands of the binary: `replay` (event files through the handler) and
//! `backfill` (the objects already in a bucket), with their help texts and progress display.

mod args;
pub mod backfill;
mod backfill_command;
mod bill;
mod csv_lines;
mod edit_command;
pub mod import_command;
pub mod list_command;
mod progress;
mod replay;
mod review;
mod spreadsheet;

use std::process::ExitCode;

use crate::app;
use crate::config::Config;

pub const USAGE: &str = "\
s3-alt-text: gives every image uploaded to an S3 bucket its alt text.

Run by AWS Lambda (AWS_LAMBDA_RUNTIME_API set), it handles S3 event notifications, directly
or through SNS, SQS or EventBridge, and S3 Batch Operations jobs. From a terminal:

  s3-alt-text replay EVENT.json [EVENT.json ...]
      Runs each event file through the function as Lambda would, and prints one JSON line
      per file: the summary of every object and the response Lambda would get.

  s3-alt-text backfill --bucket BUCKET [--prefix PREFIX] [--concurrency N] [--dry-run]
      Captions the objects already in a bucket. See `s3-alt-text backfill --help`.

  s3-alt-text set --bucket BUCKET --key KEY [--lang LANG] \"TEXT\" | --clear
      Sets a person's caption for one object, never replaced by a provider.

  s3-alt-text list --bucket BUCKET [--prefix PREFIX] [--state STATE] [--format table|json|csv]
  s3-alt-text export --bucket BUCKET [--prefix PREFIX] [--format csv|json] [--spreadsheet]
      Prints the records of a bucket: every caption, its source and state.

  s3-alt-text import --bucket BUCKET FILE.csv [--dry-run]
      Sets people's captions from a CSV file (key, lang, alt_text).

  s3-alt-text review --bucket BUCKET [--prefix PREFIX] [--state STATE]
      Opens a local web page to review, edit and approve the captions.

  Each command's --help says more.

  s3-alt-text --help
      Shows this text.

Configuration comes from the environment: TABLE_NAME (required), ALT_TEXT_PROVIDER
(embedded, alttextlab, autoalt, alttextai, bedrock, openai), ALT_TEXT_API_KEY (or
ALT_TEXT_API_KEY_PARAMETER, ALT_TEXT_API_KEY_SECRET_ID, or per provider ALTTEXTLAB_API_KEY,
AUTOALT_API_KEY, ...), ALT_TEXT_API_URL, ALT_TEXT_LANGS, ALT_TEXT_MAX_CHARS, ALT_TEXT_STYLE,
ALT_TEXT_KEYWORDS, ALT_TEXT_PROMPT, BEDROCK_MODEL_ID, OPENAI_MODEL, ALT_TEXT_TAG_KEY,
PRESIGN_TTL_SECS, MAX_CONCURRENCY, and the standard AWS_* variables (AWS_ENDPOINT_URL for
a local stack). README.md lists them all.
";

/// Runs the command named by `args` (the program name left out).
pub async fn main(args: &[String]) -> ExitCode {
    let wants_help = args.iter().any(|a| a == "-h" || a == "--help");
    match args.first().map(String::as_str) {
        Some("replay") if wants_help => print_ok(replay::USAGE),
        Some("backfill") if wants_help => print_ok(backfill_command::USAGE),
        Some("replay") if args.len() > 1 => replay::run(&args[1..]).await,
        Some("backfill") => match backfill_command::parse(&args[1..]) {
            Ok(options) => backfill_command::run(options).await,
            Err(err) => usage_error(&err, backfill_command::USAGE),
        },
        Some("set") if wants_help => print_ok(edit_command::USAGE),
        Some("set") => match edit_command::parse(&args[1..]) {
            Ok(set) => edit_command::run(set).await,
            Err(err) => usage_error(&err, edit_command::USAGE),
        },
        Some("list" | "export") if wants_help => print_ok(list_command::USAGE),
        Some(command @ ("list" | "export")) => {
            match list_command::parse(&args[1..], command == "export") {
                Ok(query) => list_command::run(query).await,
                Err(err) => usage_error(&err, list_command::USAGE),
            }
        }
        Some("review") if wants_help => print_ok(review::USAGE),
        Some("review") => match review::parse(&args[1..]) {
            Ok(review) => review::run(review).await,
            Err(err) => usage_error(&err, review::USAGE),
        },
        Some("import") if wants_help => print_ok(import_command::USAGE),
        Some("import") => match import_command::parse(&args[1..]) {
            Ok(import) => import_command::run(import).await,
            Err(err) => usage_error(&err, import_command::USAGE),
        },
        Some("-h" | "--help" | "help") => print_ok(USAGE),
        Some("replay") => usage_error("replay needs at least one event file", replay::USAGE),
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

/// Reads the configuration and builds the pipeline of a person's edits (no provider), or
/// says why it cannot.
pub(crate) async fn pipeline_for_edits() -> Result<app::AppPipeline, ExitCode> {
    let config = Config::from_env().map_err(|err| {
        eprintln!("configuration error: {err}");
        ExitCode::from(2)
    })?;
    app::build_for_edits(&config).await.map_err(|err| {
        eprintln!("{err}");
        ExitCode::from(2)
    })
}

/// Reads the configuration and builds the handler, or says why it cannot.
pub(crate) async fn handler() -> Result<(Config, app::AppHandler), ExitCode> {
    let config = Config::from_env().map_err(|err| {
        eprintln!("configuration error: {err}");
        ExitCode::from(2)
    })?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let handler = app::build(&config).await.map_err(|err| {
        eprintln!("{err}");
        ExitCode::from(2)
    })?;
    Ok((config, handler))
}

#[cfg(test)]
mod tests {
    use crate::provider::ProviderKind;

    /// The registry's names, in order.
    fn names() -> Vec<&'static str> {
        ProviderKind::ALL.map(ProviderKind::name).to_vec()
    }

    /// The lists of providers a person reads (this usage text, the template's parameter and
    /// its pattern, the providers' doc) are the registry's, so that none drifts from it.
    #[test]
    fn every_list_of_providers_is_the_registrys() {
        let listed = format!("({})", names().join(", "));
        assert!(super::USAGE.contains(&listed), "USAGE lacks {listed}");

        let template = include_str!("../../template.yaml");
        let one = format!("({})", names().join("|"));
        let pattern = format!("AllowedPattern: \"^{one}(,{one})*$\"");
        assert!(template.contains(&pattern), "template.yaml lacks {pattern}");

        let docs = include_str!("../../docs/providers.md");
        let table: Vec<&str> = docs
            .lines()
            .skip_while(|l| !l.starts_with("| provider |"))
            .skip(2)
            .map_while(|l| l.strip_prefix("| `")?.split('`').next())
            .collect();
        assert_eq!(table, names(), "docs/providers.md's first table");
    }
}

//! `set`: a person's caption for one object, locked against every provider; `--clear`
//! lifts the lock.

use std::process::ExitCode;

use super::args::Args;
use crate::pipeline::{EditError, Edited};
use crate::retry::Retryable;
use crate::store::ObjectId;

pub const USAGE: &str = "\
s3-alt-text set --bucket BUCKET --key KEY [--version VERSION] [--lang LANG] \"TEXT\"
s3-alt-text set --bucket BUCKET --key KEY [--version VERSION] [--lang LANG] --clear

Sets a person's caption for one object: the object's tag (merged, its other tags kept) and
its record, with `source: person`. No provider is asked again for that language of that
object version, by any event, replay or backfill. The text goes through the same tag rules
as any caption (the record keeps it whole).

  --bucket BUCKET    the object's bucket (required)
  --key KEY          the object's key (required)
  --version VERSION  one version of the object (versioned buckets)
  --lang LANG        one of ALT_TEXT_LANGS (default: the first)
  --clear            remove the person's caption of that language instead: the record
                     forgets it and its tag goes, so the next event or backfill captions it
";

/// The arguments of `set`.
pub struct SetArgs {
    id: ObjectId,
    lang: Option<String>,
    /// The caption; `None` with `--clear`.
    text: Option<String>,
}

pub fn parse(args: &[String]) -> Result<SetArgs, String> {
    let args = Args::parse(
        args,
        &["--bucket", "--key", "--version", "--lang"],
        &["--clear"],
    )?;
    let id = ObjectId {
        bucket: args.required("--bucket")?.to_string(),
        key: args.required("--key")?.to_string(),
        version_id: args.value("--version").map(String::from),
    };
    let text = match (args.switch("--clear"), args.positional.as_slice()) {
        (true, []) => None,
        (true, _) => return Err("--clear takes no caption".into()),
        (false, [text]) => Some(text.clone()),
        (false, []) => return Err("the caption is missing (or --clear)".into()),
        (false, _) => return Err("give the caption as one argument, in quotes".into()),
    };
    Ok(SetArgs {
        id,
        lang: args.value("--lang").map(String::from),
        text,
    })
}

pub async fn run(args: SetArgs) -> ExitCode {
    let pipeline = match super::pipeline_for_edits().await {
        Ok(pipeline) => pipeline,
        Err(code) => return code,
    };
    let lang = args.lang.as_deref();
    let (verb, result) = match &args.text {
        Some(text) => ("set", pipeline.set_caption(&args.id, lang, text).await),
        None => ("cleared", pipeline.clear_caption(&args.id, lang).await),
    };
    let target = format!("s3://{}/{}", args.id.bucket, args.id.key);
    match result {
        Ok(Edited::Done) => println!("{verb}: {target}"),
        Ok(Edited::Unchanged) => println!("unchanged: {target}"),
        Err(err) => return edit_failed(&target, &err),
    }
    ExitCode::SUCCESS
}

/// Says why an edit was not made: exit 1 if it may pass later, 2 if it never will.
pub fn edit_failed(target: &str, err: &EditError) -> ExitCode {
    eprintln!("error: {target}: {err}");
    ExitCode::from(if err.is_retryable() { 1 } else { 2 })
}

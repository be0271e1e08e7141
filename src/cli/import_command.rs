//! `import`: people's captions from a CSV file (a CMS export, a spreadsheet), each row set
//! through the same code as `set`, several at a time, with a progress display.

use std::path::PathBuf;
use std::process::ExitCode;

use futures_util::StreamExt;

use super::args::Args;
use super::backfill::Progress;
use super::csv_lines::{Lines, count_lines, spans_lines};
use super::progress::Display;
use super::spreadsheet::unquote;
use crate::pipeline::{EditError, Edited, Pipeline, Shown};
use crate::store::{ObjectId, ObjectStore, RecordStore};

pub const USAGE: &str = "\
s3-alt-text import --bucket BUCKET FILE.csv [--concurrency N] [--dry-run]

Sets a person's caption for each row of FILE.csv, as `s3-alt-text set` does: the tag and the
record, locked against every provider. The file has a header row naming its columns: key,
alt_text, and optionally lang (one of ALT_TEXT_LANGS; the first when absent or empty).
Columns in any order; other columns are ignored. UTF-8, with or without a byte order mark.
A cell that starts with ' followed by =, +, -, @, a tab or a carriage return (as
`export --spreadsheet` writes it) is read without that first '.

A bad row (an unknown key, an empty caption, a language not configured, invalid UTF-8, the
wrong number of columns, a field spanning lines: a caption holds no line break, and a quote
left open takes in every line after it) is reported with its line number, or the lines it
spans, and skipped; the other rows are set. The summary says how many lines were read and
how many rows they held (standard error), and how many rows were set, unchanged and
skipped (standard output).

  --bucket BUCKET    the bucket the keys are in (required)
  --concurrency N    rows set at the same time (default 8)
  --dry-run          check every row (the object exists, the caption and language are
                     valid) and write nothing
";

/// The arguments of `import`.
pub struct ImportArgs {
    bucket: String,
    file: PathBuf,
    concurrency: usize,
    dry_run: bool,
}

pub fn parse(args: &[String]) -> Result<ImportArgs, String> {
    let args = Args::parse(args, &["--bucket", "--concurrency"], &["--dry-run"])?;
    let file = match args.positional.as_slice() {
        [file] => PathBuf::from(file),
        [] => return Err("the CSV file is missing".into()),
        _ => return Err("give one CSV file".into()),
    };
    Ok(ImportArgs {
        bucket: args.required("--bucket")?.to_string(),
        file,
        concurrency: args.number("--concurrency", 1, 64)?.unwrap_or(8),
        dry_run: args.switch("--dry-run"),
    })
}

/// One row to set: its line in the file, key, language and caption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub key: String,
    pub lang: Option<String>,
    pub text: String,
    /// The object as the file saw it (its `etag` and `version` columns, as `export`
    /// writes them): a row for bytes since replaced is refused.
    pub shown: Shown,
}

/// A row that cannot be set, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub line: u64,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub set: u64,
    pub unchanged: u64,
    pub skipped: Vec<BadRow>,
    /// Of the skipped rows, those refused for an object changed since the file was
    /// written.
    pub changed: u64,
}

/// Reads the rows of a CSV file; a row that cannot be read is a bad row, and the reading
/// goes on. `Err` when the file itself cannot be used (no header, no key or alt_text column).
pub fn read_rows(data: &[u8]) -> Result<(Vec<Row>, Vec<BadRow>), String> {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(data);
    let header = reader
        .byte_headers()
        .map_err(|e| format!("cannot read the header row: {e}"))?
        .clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| String::from_utf8_lossy(h).trim().eq_ignore_ascii_case(name))
    };
    let (Some(key_at), Some(text_at)) = (column("key"), column("alt_text")) else {
        return Err("the header row needs a key and an alt_text column".into());
    };
    let lang_at = column("lang");
    let (etag_at, version_at) = (column("etag"), column("version"));
    let (mut rows, mut bad) = (Vec::new(), Vec::new());
    let mut lines = Lines::new(data);
    for record in reader.byte_records() {
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                let line = err.position().map_or(0, |p| lines.at(p.byte()));
                bad.push(BadRow {
                    line,
                    reason: format!("unreadable row: {err}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| lines.at(p.byte()));
        if let Some(reason) = spans_lines(&record, line, lines.total) {
            bad.push(BadRow { line, reason });
            continue;
        }
        match row_of(&record, header.len(), key_at, text_at, lang_at) {
            Ok((key, lang, text)) => rows.push(Row {
                line,
                key,
                lang,
                text,
                shown: shown_of(&record, etag_at, version_at),
            }),
            Err(reason) => bad.push(BadRow { line, reason }),
        }
    }
    Ok((rows, bad))
}

/// The `etag` and `version` a row names, where the file has those columns.
fn shown_of(record: &csv::ByteRecord, etag_at: Option<usize>, version_at: Option<usize>) -> Shown {
    let cell = |at: Option<usize>| {
        at.and_then(|at| record.get(at))
            .map(String::from_utf8_lossy)
            .map(|c| unquote(&c).to_string())
            .unwrap_or_default()
    };
    Shown::of(&cell(etag_at), &cell(version_at), "")
}

fn row_of(
    record: &csv::ByteRecord,
    columns: usize,
    key_at: usize,
    text_at: usize,
    lang_at: Option<usize>,
) -> Result<(String, Option<String>, String), String> {
    if record.len() != columns {
        return Err(format!(
            "{} columns where the header has {columns}",
            record.len()
        ));
    }
    // A cell an `export --spreadsheet` guarded against formulas loses its leading `'`.
    let field = |at: usize, name: &str| {
        std::str::from_utf8(&record[at])
            .map(|v| unquote(v).trim().to_string())
            .map_err(|_| format!("the {name} is not valid UTF-8"))
    };
    // A key is taken as it is: S3 keys may begin or end with spaces.
    let key = std::str::from_utf8(&record[key_at])
        .map(|k| unquote(k).to_string())
        .map_err(|_| "the key is not valid UTF-8".to_string())?;
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    let text = field(text_at, "alt_text")?;
    let lang = lang_at
        .map(|at| field(at, "lang"))
        .transpose()?
        .filter(|l| !l.is_empty());
    Ok((key, lang, text))
}

/// Sets (or with `dry_run`, checks) each row, `concurrency` objects at a time. The rows of
/// one object (its languages) are set one after the other, in file order: each edit reads
/// and rewrites the object's record and tags, so two at once could lose one of them.
pub async fn import<S: ObjectStore, R: RecordStore>(
    pipeline: &Pipeline<S, R>,
    bucket: &str,
    rows: Vec<Row>,
    concurrency: usize,
    dry_run: bool,
    progress: &dyn Progress,
) -> Summary {
    progress.listed(rows.len() as u64);
    let results: Vec<Vec<(Row, Result<Edited, EditError>)>> =
        futures_util::stream::iter(by_object(rows))
            .map(|rows| async move {
                let mut results = Vec::with_capacity(rows.len());
                for row in rows {
                    let result = set_row(pipeline, bucket, &row, dry_run).await;
                    let outcome = match &result {
                        Ok(Edited::Done) => "set",
                        Ok(Edited::Unchanged) => "unchanged",
                        Err(_) => "skipped",
                    };
                    progress.done(&row.key, outcome);
                    results.push((row, result));
                }
                results
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut summary = Summary::default();
    for (row, result) in results.into_iter().flatten() {
        match result {
            Ok(Edited::Done) => summary.set += 1,
            Ok(Edited::Unchanged) => summary.unchanged += 1,
            Err(EditError::Changed { what }) => {
                summary.changed += 1;
                summary.skipped.push(BadRow {
                    line: row.line,
                    reason: format!(
                        "{}: refused: the {what} changed since the file was written (export it again)",
                        row.key
                    ),
                });
            }
            Err(err) => summary.skipped.push(BadRow {
                line: row.line,
                reason: format!("{}: {err}", row.key),
            }),
        }
    }
    summary.skipped.sort_by_key(|b| b.line);
    summary
}

/// The rows grouped by key, in the order each key first appears.
fn by_object(rows: Vec<Row>) -> Vec<Vec<Row>> {
    let mut groups: Vec<Vec<Row>> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for row in rows {
        match at.get(&row.key) {
            Some(&i) => groups[i].push(row),
            None => {
                at.insert(row.key.clone(), groups.len());
                groups.push(vec![row]);
            }
        }
    }
    groups
}

async fn set_row<S: ObjectStore, R: RecordStore>(
    pipeline: &Pipeline<S, R>,
    bucket: &str,
    row: &Row,
    dry_run: bool,
) -> Result<Edited, EditError> {
    let id = ObjectId {
        bucket: bucket.to_string(),
        key: row.key.clone(),
        version_id: None,
    };
    let lang = row.lang.as_deref();
    pipeline
        .import_caption(&id, lang, &row.text, &row.shown, !dry_run)
        .await
}

pub async fn run(args: ImportArgs) -> ExitCode {
    let data = match std::fs::read(&args.file) {
        Ok(data) => data,
        Err(err) => {
            eprintln!("error: cannot read {}: {err}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let (rows, mut bad) = match read_rows(&data) {
        Ok(read) => read,
        Err(err) => {
            eprintln!("error: {}: {err}", args.file.display());
            return ExitCode::from(2);
        }
    };
    // Every line is accounted for: the header, a row each (a bad one with the lines it
    // spans), blank lines.
    let read = format!(
        "read {} lines: {} rows",
        count_lines(&data),
        rows.len() + bad.len()
    );
    let pipeline = match super::pipeline_for_edits().await {
        Ok(pipeline) => pipeline,
        Err(code) => return code,
    };
    let display = Display::new();
    let mut summary = import(
        &pipeline,
        &args.bucket,
        rows,
        args.concurrency,
        args.dry_run,
        &display,
    )
    .await;
    display.finish();
    bad.append(&mut summary.skipped);
    bad.sort_by_key(|b| b.line);
    for row in &bad {
        eprintln!("line {}: {}", row.line, row.reason);
    }
    eprintln!("{read}");
    let verb = if args.dry_run { "would set" } else { "set" };
    println!(
        "{verb} {}, unchanged {}, skipped {}",
        summary.set,
        summary.unchanged,
        bad.len()
    );
    if bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_by_their_header_and_bad_ones_reported_by_line() {
        let data = "\u{feff}Key,alt_text,lang\n\
            mug.jpg,\"Our red mug, hand-glazed\",en\n\
            cup.jpg,  ,\n\
            ,No key,\n\
            plate.jpg,Two columns\n\
            bowl.jpg,\"Une bo\u{ee}te\",fr\n"
            .as_bytes()
            .to_vec();
        let mut data = data;
        data.extend_from_slice(b"bad.jpg,\xff\xfe,en\n");
        let (rows, bad) = read_rows(&data).unwrap();
        assert_eq!(
            rows,
            vec![
                Row {
                    line: 2,
                    key: "mug.jpg".into(),
                    lang: Some("en".into()),
                    text: "Our red mug, hand-glazed".into(),
                    shown: Shown::default(),
                },
                Row {
                    line: 3,
                    key: "cup.jpg".into(),
                    lang: None,
                    text: "".into(),
                    shown: Shown::default(),
                },
                Row {
                    line: 6,
                    key: "bowl.jpg".into(),
                    lang: Some("fr".into()),
                    text: "Une boîte".into(),
                    shown: Shown::default(),
                },
            ]
        );
        let reasons: Vec<(u64, &str)> = bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
        assert_eq!(
            reasons,
            vec![
                (4, "the key is empty"),
                (5, "2 columns where the header has 3"),
                (7, "the alt_text is not valid UTF-8"),
            ]
        );
        assert!(read_rows(b"name,text\na,b\n").is_err());
    }

    #[test]
    fn a_field_spanning_lines_is_a_bad_row_with_the_lines_it_spans() {
        let data = b"key,alt_text\n\
            a.jpg,Fine\n\
            b.jpg,\"Two\nlines\"\n\
            c.jpg,\"Unclosed\n\
            d.jpg,Lost\n\
            \n\
            e.jpg,Lost too\n";
        let (rows, bad) = read_rows(data).unwrap();
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["a.jpg"]);
        let reasons: Vec<(u64, &str)> = bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
        assert_eq!(
            reasons,
            vec![
                (3, "a field spans lines 3-4 (an unclosed quote?)"),
                (5, "a field spans lines 5-8 (an unclosed quote?)"),
            ]
        );
        assert_eq!(count_lines(data), 8);
        assert_eq!(count_lines(b"key,alt_text\na.jpg,No end"), 2);
        assert_eq!(count_lines(b""), 0);
    }

    #[test]
    fn lines_of_a_crlf_file_are_counted_once_per_crlf() {
        let data = b"key,alt_text\r\n\
            a.jpg,Fine\r\n\
            b.jpg,\"Ends in a break\r\n\"\r\n\
            c.jpg,,\r\n\
            \r\n\
            d.jpg,\"Unclosed\r\n\
            e.jpg,Lost\r\n";
        let (rows, bad) = read_rows(data).unwrap();
        let lines: Vec<(u64, &str)> = rows.iter().map(|r| (r.line, r.key.as_str())).collect();
        assert_eq!(lines, [(2, "a.jpg")]);
        let reasons: Vec<(u64, &str)> = bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
        assert_eq!(
            reasons,
            vec![
                (3, "a field spans lines 3-4 (an unclosed quote?)"),
                (5, "3 columns where the header has 2"),
                (7, "a field spans lines 7-8 (an unclosed quote?)"),
            ]
        );
        assert_eq!(count_lines(data), 8);
    }
}

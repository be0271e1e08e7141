//! `list` and `export`: a bucket's records, streamed page by page (a DynamoDB Query on the
//! bucket), one row per language caption, as a table, JSON Lines or CSV.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use super::args::Args;
use super::spreadsheet;
use crate::caption::{Record, Source, State};
use crate::store::{RecordStore, StoreError};

pub const USAGE: &str = "\
s3-alt-text list --bucket BUCKET [--prefix PREFIX] [--state STATE] [--format table|json|csv]
                 [--spreadsheet]
s3-alt-text export --bucket BUCKET [--prefix PREFIX] [--state STATE] [--format csv|json]
                   [--spreadsheet]

Prints the records of BUCKET (those whose keys start with PREFIX), in key order, one row per
language caption; a record without a caption (skipped, failed) is one row saying why. The
records are read a page at a time, so any number of them is listed in bounded memory.

  --bucket BUCKET    the bucket (required)
  --prefix PREFIX    only keys starting with PREFIX
  --state STATE      only records in STATE: captioned, skipped or failed
  --format FORMAT    table (list's default), json (one JSON object per line) or csv
                     (export's default)
  --spreadsheet      CSV for a spreadsheet: a cell starting with =, +, -, @, a tab or a
                     carriage return (one a spreadsheet could run as a formula; keys are
                     chosen by whoever uploads) is written with a leading ', which
                     `import` removes again. Without it, cells are written as they are.

`export` writes what a CMS import needs: bucket, key, version, etag, lang, alt_text, source,
provider, state, updated_at, reviewed_at.
";

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Which records, and how they are printed.
#[derive(Debug, Clone)]
pub struct Query {
    pub bucket: String,
    pub prefix: Option<String>,
    pub state: Option<State>,
    pub format: Format,
    /// CSV cells a spreadsheet would run as formulas written with a leading `'`.
    pub spreadsheet: bool,
}

/// `list` or `export` arguments; `export` defaults to CSV and prints no table.
pub fn parse(args: &[String], export: bool) -> Result<Query, String> {
    let args = Args::parse(
        args,
        &["--bucket", "--prefix", "--state", "--format"],
        &["--spreadsheet"],
    )?;
    if let Some(extra) = args.positional.first() {
        return Err(format!("unexpected argument {extra:?}"));
    }
    let formats: &[&str] = if export {
        &["csv", "json"]
    } else {
        &["table", "json", "csv"]
    };
    let format = match args.choice("--format", formats)? {
        Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some(_) => Format::Table,
        None if export => Format::Csv,
        None => Format::Table,
    };
    let spreadsheet = args.switch("--spreadsheet");
    if spreadsheet && format != Format::Csv {
        return Err("--spreadsheet is a form of --format csv".into());
    }
    let state = match args.choice("--state", &["captioned", "skipped", "failed"])? {
        Some("captioned") => Some(State::Captioned),
        Some("skipped") => Some(State::Skipped),
        Some(_) => Some(State::Failed),
        None => None,
    };
    Ok(Query {
        bucket: args.required("--bucket")?.to_string(),
        prefix: args.value("--prefix").map(String::from),
        state,
        format,
        spreadsheet,
    })
}

pub async fn run(query: Query) -> ExitCode {
    let pipeline = match super::pipeline_for_edits().await {
        Ok(pipeline) => pipeline,
        Err(code) => return code,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match write_records(pipeline.records(), &query, &mut out).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(ListError::Output(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Why a listing stopped.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("cannot read the records: {0}")]
    Store(#[from] StoreError),
    #[error("cannot write the listing: {0}")]
    Output(#[from] std::io::Error),
}

/// One row: one language's caption of a record.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Row<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub version: &'a str,
    /// The ETag of the bytes the record describes: `import` refuses a row for bytes since
    /// replaced.
    pub etag: &'a str,
    pub lang: &'a str,
    pub alt_text: &'a str,
    pub source: &'a str,
    pub provider: &'a str,
    pub state: &'a str,
    pub updated_at: &'a str,
    pub reviewed_at: &'a str,
    /// Why a record has no caption, or a note on it (not in CSV).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub note: &'a str,
}

/// Writes the records `query` selects to `out`, a page at a time; the number of rows.
pub async fn write_records<R: RecordStore, W: Write>(
    records: &R,
    query: &Query,
    out: &mut W,
) -> Result<u64, ListError> {
    let mut sink = Sink::new(query.format, query.spreadsheet, out)?;
    let mut after: Option<String> = None;
    let mut rows = 0;
    loop {
        let page = records
            .list(&query.bucket, query.prefix.as_deref(), after.as_deref())
            .await?;
        let selected = page
            .records
            .iter()
            .filter(|r| query.state.is_none_or(|s| r.state == s));
        for row in selected.flat_map(rows_of) {
            rows += 1;
            sink.write(&row)?;
        }
        sink.flush()?;
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(rows),
        }
    }
}

/// Where rows go, in their format.
enum Sink<'w, W: Write> {
    Table(&'w mut W),
    Json(&'w mut W),
    /// The writer, and whether cells are written spreadsheet-safe.
    Csv(Box<csv::Writer<&'w mut W>>, bool),
}

impl<'w, W: Write> Sink<'w, W> {
    /// The sink, its header written.
    fn new(format: Format, spreadsheet: bool, out: &'w mut W) -> Result<Sink<'w, W>, ListError> {
        Ok(match format {
            Format::Table => {
                writeln!(
                    out,
                    "{:<40}  {:<5}  {:<9}  {:<11}  ALT TEXT",
                    "KEY", "LANG", "STATE", "SOURCE"
                )?;
                Sink::Table(out)
            }
            Format::Json => Sink::Json(out),
            Format::Csv => {
                let mut csv = csv::Writer::from_writer(out);
                csv.write_record(CSV_COLUMNS).map_err(csv_error)?;
                Sink::Csv(Box::new(csv), spreadsheet)
            }
        })
    }

    fn write(&mut self, row: &Row<'_>) -> Result<(), ListError> {
        match self {
            Sink::Table(out) => table_row(row, out)?,
            Sink::Json(out) => {
                serde_json::to_writer(&mut **out, row).map_err(std::io::Error::from)?;
                writeln!(out)?;
            }
            Sink::Csv(csv, spreadsheet) => {
                let cells = [
                    row.bucket,
                    row.key,
                    row.version,
                    row.etag,
                    row.lang,
                    row.alt_text,
                    row.source,
                    row.provider,
                    row.state,
                    row.updated_at,
                    row.reviewed_at,
                ];
                if *spreadsheet {
                    csv.write_record(cells.map(spreadsheet::quote).iter().map(|c| c.as_bytes()))
                } else {
                    csv.write_record(cells)
                }
                .map_err(csv_error)?
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Table(out) | Sink::Json(out) => out.flush(),
            Sink::Csv(csv, _) => csv.flush(),
        }
    }
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 11] = [
    "bucket",
    "key",
    "version",
    "etag",
    "lang",
    "alt_text",
    "source",
    "provider",
    "state",
    "updated_at",
    "reviewed_at",
];

/// Each language's caption of `record`, or one row without a caption.
pub fn rows_of(record: &Record) -> Vec<Row<'_>> {
    let base = Row {
        bucket: &record.bucket,
        key: &record.key,
        version: record.version_id.as_deref().unwrap_or_default(),
        etag: record.etag.as_deref().unwrap_or_default(),
        lang: "",
        alt_text: "",
        source: "",
        provider: "",
        state: record.state.as_str(),
        updated_at: &record.updated_at,
        reviewed_at: record.reviewed_at.as_deref().unwrap_or_default(),
        note: record
            .error
            .as_deref()
            .or(record.reason.as_deref())
            .unwrap_or_default(),
    };
    if record.captions.is_empty() {
        return match (&record.alt_text, &record.provider) {
            // A record written before captions were kept per language.
            (Some(text), Some(provider)) => vec![Row {
                lang: record.lang.as_deref().unwrap_or("en"),
                alt_text: text,
                source: "provider",
                provider,
                ..base
            }],
            _ => vec![base],
        };
    }
    record
        .captions
        .iter()
        .map(|(lang, c)| Row {
            lang,
            alt_text: &c.text,
            source: match c.source {
                Source::Person => "person",
                Source::Provider => "provider",
            },
            provider: &c.provider,
            ..base
        })
        .collect()
}

fn csv_error(err: csv::Error) -> ListError {
    ListError::Output(std::io::Error::other(err))
}

/// A table row: the key and the caption cut to fit, control characters shown as spaces.
fn table_row(row: &Row<'_>, out: &mut impl Write) -> std::io::Result<()> {
    let text = if row.alt_text.is_empty() {
        row.note
    } else {
        row.alt_text
    };
    writeln!(
        out,
        "{:<40}  {:<5}  {:<9}  {:<11}  {}",
        fit(row.key, 40),
        row.lang,
        row.state,
        if row.source.is_empty() {
            "-"
        } else {
            row.provider
        },
        fit(text, 70)
    )
}

fn fit(text: &str, width: usize) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= width {
        return clean;
    }
    let mut cut: String = clean.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::import_command::read_rows;

    fn row<'a>(key: &'a str, alt_text: &'a str, lang: &'a str) -> Row<'a> {
        Row {
            bucket: "photos",
            key,
            version: "",
            etag: "",
            lang,
            alt_text,
            source: "person",
            provider: "",
            state: "captioned",
            updated_at: "2026-01-02T03:04:05Z",
            reviewed_at: "",
            note: "",
        }
    }

    fn csv_of(rows: &[Row<'_>], spreadsheet: bool) -> String {
        let mut out = Vec::new();
        let mut sink = Sink::new(Format::Csv, spreadsheet, &mut out).unwrap();
        for row in rows {
            sink.write(row).unwrap();
        }
        sink.flush().unwrap();
        drop(sink);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_spreadsheet_export_quotes_formula_cells_and_imports_back_as_it_was() {
        let hostile = r#"=HYPERLINK("http://x","y").jpg"#;
        let rows = [
            row(hostile, "-5 degrees at the summit", "en"),
            row("'=already quoted.jpg", "@home, a mug", "+en"),
            row("\ttab.jpg", "A mug", "en"),
            row("plain.jpg", "A red mug", "en"),
        ];
        let out = csv_of(&rows, true);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[1],
            r#"photos,"'=HYPERLINK(""http://x"",""y"").jpg",,,en,'-5 degrees at the summit,person,,captioned,2026-01-02T03:04:05Z,"#
        );
        assert_eq!(
            lines[2],
            r#"photos,''=already quoted.jpg,,,'+en,"'@home, a mug",person,,captioned,2026-01-02T03:04:05Z,"#
        );
        assert!(lines[3].starts_with("photos,'\ttab.jpg,"), "{}", lines[3]);
        assert!(lines[4].starts_with("photos,plain.jpg,"), "{}", lines[4]);

        let (read, bad) = read_rows(out.as_bytes()).unwrap();
        assert!(bad.is_empty(), "{bad:?}");
        let back: Vec<(&str, &str, Option<&str>)> = read
            .iter()
            .map(|r| (r.key.as_str(), r.text.as_str(), r.lang.as_deref()))
            .collect();
        let wanted: Vec<(&str, &str, Option<&str>)> = rows
            .iter()
            .map(|r| (r.key, r.alt_text, Some(r.lang)))
            .collect();
        assert_eq!(back, wanted);

        let plain = csv_of(&rows, false);
        assert!(
            plain.contains(r#"photos,"=HYPERLINK(""http://x"",""y"").jpg",,,en,-5 degrees"#),
            "the default form is written as it is: {plain}"
        );
    }
}

//! The spreadsheet-safe form of a CSV cell (`export --spreadsheet`), and reading it back
//! (`import`). A spreadsheet runs a cell starting with `=`, `+`, `-` or `@` as a formula (a
//! tab or a carriage return first can lead to the same), and keys are chosen by whoever
//! uploads: such a cell is written with a leading `'`, which a spreadsheet shows as text.

use std::borrow::Cow;

/// The first characters a spreadsheet may read as the start of a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `cell` is some `'` (none or more) followed by a formula start: the cells that
/// are written with one more `'`, so that reading one `'` off gives back any of them.
fn is_guarded(cell: &str) -> bool {
    cell.trim_start_matches('\'')
        .starts_with(FORMULA_STARTS.as_slice())
}

/// `cell` as a spreadsheet shows it as text: a leading `'` added where it would be read
/// as a formula (or is already such a cell, `'` first, written by a person).
pub fn quote(cell: &str) -> Cow<'_, str> {
    if is_guarded(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell read back: the `'` that [`quote`] added removed.
pub fn unquote(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if is_guarded(rest) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_get_a_quote_and_lose_it_when_read() {
        for (cell, written) in [
            (
                "=HYPERLINK(\"http://x\",\"y\").jpg",
                "'=HYPERLINK(\"http://x\",\"y\").jpg",
            ),
            ("+1.jpg", "'+1.jpg"),
            ("-5 degrees", "'-5 degrees"),
            ("@home", "'@home"),
            ("\tindent", "'\tindent"),
            ("\rreturn", "'\rreturn"),
            ("'=already", "''=already"),
            ("''@twice", "'''@twice"),
            ("plain.jpg", "plain.jpg"),
            ("it's=fine", "it's=fine"),
            ("'quoted", "'quoted"),
            ("", ""),
        ] {
            assert_eq!(quote(cell), written, "{cell:?}");
            assert_eq!(unquote(written), cell, "{cell:?}");
        }
    }
}

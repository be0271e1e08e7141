//! Where the records of a CSV file are: the line each starts on, and the lines a record
//! whose field holds a line break spans (`import` refuses it: a caption never holds one).

/// Line numbers from the byte offsets of records. The CSV reader's own count lags one line
/// behind in a CRLF file: it counts the `\n` of a CRLF only once it has taken the position
/// of the next record.
pub struct Lines<'d> {
    data: &'d [u8],
    /// The offset counted up to, and the line it is on.
    counted: usize,
    line: u64,
    /// The lines of the file.
    pub total: u64,
}

impl<'d> Lines<'d> {
    pub fn new(data: &'d [u8]) -> Lines<'d> {
        Lines {
            data,
            counted: 0,
            line: 1,
            total: count_lines(data),
        }
    }

    /// The line of the record at `byte` (records come in file order).
    pub fn at(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte).map_or(self.data.len(), |b| b.min(self.data.len()));
        // A record never starts with a line break: one there ends the line before.
        while self
            .data
            .get(start)
            .is_some_and(|b| matches!(b, b'\r' | b'\n'))
        {
            start += 1;
        }
        if start < self.counted {
            (self.counted, self.line) = (0, 1);
        }
        let breaks = self.data[self.counted..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        (self.counted, self.line) = (start, self.line + breaks as u64);
        self.line
    }
}

/// Why a record starting at `line` is refused when a field holds a line break: a caption
/// never holds one, and a quote left open swallows every line after it into one field (up
/// to the file's last line, `total`).
pub fn spans_lines(record: &csv::ByteRecord, line: u64, total: u64) -> Option<String> {
    let breaks = |f: &[u8]| f.iter().filter(|&&b| b == b'\n').count() as u64;
    let has_break = |f: &[u8]| f.iter().any(|&b| b == b'\n' || b == b'\r');
    if !record.iter().any(has_break) {
        return None;
    }
    // A quote left open runs to the end of the file, its last line break included.
    let last = (line + record.iter().map(breaks).sum::<u64>()).min(total.max(line));
    Some(if last == line {
        "a field holds a carriage return".to_string()
    } else {
        format!("a field spans lines {line}-{last} (an unclosed quote?)")
    })
}

/// The lines of a file, as the CSV reader counts them (a CRLF is one line break); a last
/// line without a line break counts too.
pub fn count_lines(data: &[u8]) -> u64 {
    let breaks = data.iter().filter(|&&b| b == b'\n').count() as u64;
    breaks + u64::from(data.last().is_some_and(|&b| b != b'\n'))
}

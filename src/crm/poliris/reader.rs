//! Streaming reader that splits a Poliris file into records and fields.
//!
//! A record is `"v1"!#"v2"!#…` on one line, ended by LF or CRLF. The reader
//! works on bytes, before any decoding, which is safe because `"`, `!`, `#`
//! and line ends are single ASCII bytes in both UTF-8 and Windows-1252. It
//! accepts what real exports contain beside the specification:
//!
//! - spaces around `!#` (`"a" !# "b"`) and a trailing `!#` at the end of a line;
//! - a raw line break inside a quoted field: the physical lines are joined.
//!   When the next line starts with `"`, the broken record is reported with
//!   [`RecordDefect::UnterminatedQuote`] instead and the next line starts a
//!   new record, so one bad record never swallows its neighbour;
//! - a `"` inside a quoted value, kept as text unless it is followed by `!#`
//!   or the end of the line;
//! - unquoted fields, a UTF-8 byte-order mark and blank lines.
//!
//! Memory is bounded by [`MAX_RECORD_BYTES`] whatever the file size: one
//! record is held at a time, in buffers reused from record to record.

use std::io::{self, BufRead};

use memchr::{memchr, memmem};

/// Largest record kept, in bytes. A Poliris record of version 4.12 with
/// every text field full is about 60 KiB, so a longer one is damaged input.
pub const MAX_RECORD_BYTES: usize = 4 << 20;

/// Most physical lines joined into one record by raw line breaks.
pub const MAX_RECORD_LINES: u32 = 1_000;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One record as raw bytes, with its position in the file.
#[derive(Debug, Default)]
pub struct RawRecord {
    /// 1-based number of the physical line where the record starts.
    pub line: u64,
    /// Number of physical lines the record spans (more than one when a field
    /// contains a raw line break).
    pub line_count: u32,
    /// Syntax fault that kept the record from being read whole, if any.
    pub defect: Option<RecordDefect>,
    bytes: Vec<u8>,
    field_ends: Vec<usize>,
}

/// A fault in the record's syntax that makes its fields unreliable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordDefect {
    /// The quoted field at this 1-based rank has no closing quote.
    UnterminatedQuote { rank: usize },
    /// The record is longer than [`MAX_RECORD_BYTES`] or spans more than
    /// [`MAX_RECORD_LINES`] lines; its tail was dropped.
    TooLong,
    /// The input ends inside this record, with no line end, after fewer
    /// columns than the record before it had: the file was cut short.
    CutShort { columns: usize, expected: usize },
}

impl RawRecord {
    /// Number of fields (columns) in the record.
    pub fn len(&self) -> usize {
        self.field_ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.field_ends.is_empty()
    }

    /// Returns the bytes of the field at a 1-based rank, without its quotes.
    pub fn field(&self, rank: usize) -> Option<&[u8]> {
        let index = rank.checked_sub(1)?;
        let end = *self.field_ends.get(index)?;
        let start = if index == 0 { 0 } else { self.field_ends[index - 1] };
        Some(&self.bytes[start..end])
    }

    /// Iterates over the fields in rank order.
    pub fn fields(&self) -> impl Iterator<Item = &[u8]> {
        (1..=self.len()).filter_map(|rank| self.field(rank))
    }

    fn reset(&mut self, line: u64) {
        self.line = line;
        self.line_count = 1;
        self.defect = None;
        self.bytes.clear();
        self.field_ends.clear();
    }

    fn close_field(&mut self) {
        self.field_ends.push(self.bytes.len());
    }
}

/// Whether a line ended inside a quoted field.
enum LineEnd {
    RecordComplete,
    InsideQuotes,
}

/// Reads Poliris records one at a time from any buffered byte source.
pub struct RecordReader<R> {
    source: R,
    /// Physical lines read so far.
    lines_read: u64,
    line: Vec<u8>,
    line_too_long: bool,
    /// `line` contains a physical line that belongs to the next record.
    line_pending: bool,
    /// The last physical line read ended with a line feed.
    line_ended: bool,
    /// Columns of the last record read without a defect.
    previous_columns: Option<usize>,
    record: RawRecord,
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(source: R) -> Self {
        Self {
            source,
            lines_read: 0,
            line: Vec::with_capacity(16 * 1024),
            line_too_long: false,
            line_pending: false,
            line_ended: true,
            previous_columns: None,
            record: RawRecord::default(),
        }
    }

    /// Number of physical lines read so far.
    pub fn lines_read(&self) -> u64 {
        self.lines_read
    }

    /// Reads the next record, or returns `None` at the end of the input.
    /// Blank lines between records are skipped.
    ///
    /// # Errors
    /// Only I/O errors of the source; syntax faults are reported in
    /// [`RawRecord::defect`] so that reading can go on.
    pub fn read_record(&mut self) -> io::Result<Option<&RawRecord>> {
        loop {
            if !self.line_pending && !self.read_physical_line()? {
                return Ok(None);
            }
            self.line_pending = false;
            if !is_blank(&self.line) {
                break;
            }
        }

        self.record.reset(self.lines_read);
        let mut too_long = self.line_too_long;
        let mut end = scan_line(&mut self.record, trim_line_end(&self.line), false);
        while let LineEnd::InsideQuotes = end {
            let open_rank = self.record.len() + 1;
            let can_join = self.record.line_count < MAX_RECORD_LINES && !too_long;
            if !can_join || !self.read_physical_line()? {
                self.record.close_field();
                self.record.defect = Some(if can_join {
                    RecordDefect::UnterminatedQuote { rank: open_rank }
                } else {
                    RecordDefect::TooLong
                });
                return Ok(Some(&self.record));
            }
            if starts_record(&self.line) {
                self.line_pending = true;
                self.record.close_field();
                self.record.defect = Some(RecordDefect::UnterminatedQuote { rank: open_rank });
                return Ok(Some(&self.record));
            }
            too_long |= self.line_too_long || self.record.bytes.len() + self.line.len() > MAX_RECORD_BYTES;
            self.record.line_count += 1;
            self.record.bytes.push(b'\n');
            end = scan_line(&mut self.record, trim_line_end(&self.line), true);
        }
        if too_long {
            self.record.defect = Some(RecordDefect::TooLong);
        }
        let columns = self.record.len();
        match self.previous_columns {
            // Exports end their last record with a line end, or at least
            // give it every column; a record missing both was cut.
            Some(expected) if !self.line_ended && self.record.defect.is_none() && columns < expected => {
                self.record.defect = Some(RecordDefect::CutShort { columns, expected });
            }
            _ if self.record.defect.is_none() => self.previous_columns = Some(columns),
            _ => {}
        }
        Ok(Some(&self.record))
    }

    /// Reads one physical line into `self.line`, keeping at most
    /// [`MAX_RECORD_BYTES`] of it. Returns `false` at the end of the input.
    fn read_physical_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        self.line_too_long = false;
        let mut read_any = false;
        loop {
            let available = match self.source.fill_buf() {
                Ok(bytes) => bytes,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if available.is_empty() {
                break;
            }
            read_any = true;
            let (length, ends_line) = match memchr(b'\n', available) {
                Some(index) => (index + 1, true),
                None => (available.len(), false),
            };
            let room = MAX_RECORD_BYTES.saturating_sub(self.line.len());
            if length <= room {
                self.line.extend_from_slice(&available[..length]);
            } else {
                self.line.extend_from_slice(&available[..room]);
                self.line_too_long = true;
            }
            self.source.consume(length);
            self.line_ended = ends_line;
            if ends_line {
                break;
            }
        }
        if !read_any {
            return Ok(false);
        }
        if self.lines_read == 0 && self.line.starts_with(UTF8_BOM) {
            self.line.drain(..UTF8_BOM.len());
        }
        self.lines_read += 1;
        Ok(true)
    }
}

/// Splits one physical line into fields appended to `record`. With
/// `inside_quotes`, the line continues a quoted field of the previous line.
fn scan_line(record: &mut RawRecord, line: &[u8], mut inside_quotes: bool) -> LineEnd {
    let mut position = 0;
    loop {
        if inside_quotes {
            let mut search_from = position;
            loop {
                let Some(offset) = memchr(b'"', &line[search_from..]) else {
                    record.bytes.extend_from_slice(&line[position..]);
                    return LineEnd::InsideQuotes;
                };
                let quote = search_from + offset;
                let after = skip_blanks(line, quote + 1);
                if after == line.len() {
                    record.bytes.extend_from_slice(&line[position..quote]);
                    record.close_field();
                    return LineEnd::RecordComplete;
                }
                if line[after..].starts_with(b"!#") {
                    record.bytes.extend_from_slice(&line[position..quote]);
                    record.close_field();
                    position = after + 2;
                    inside_quotes = false;
                    break;
                }
                let before = trim_end_blanks(&line[position..quote]);
                if let Some(value) = before.strip_suffix(b"!#") {
                    // `value!#"next`: this field lost its closing quote, and
                    // the quote opens the next field. Reading on would shift
                    // every later column, so the record is flagged.
                    record.bytes.extend_from_slice(trim_end_blanks(value));
                    record.close_field();
                    record
                        .defect
                        .get_or_insert(RecordDefect::UnterminatedQuote { rank: record.len() });
                    position = quote + 1;
                    search_from = position;
                    continue;
                }
                // A quote inside the value: keep it as text.
                search_from = quote + 1;
            }
            if skip_blanks(line, position) == line.len() {
                // A trailing `!#` ends the record without opening a field.
                return LineEnd::RecordComplete;
            }
        } else {
            position = skip_blanks(line, position);
            if line.get(position) == Some(&b'"') {
                position += 1;
                inside_quotes = true;
                continue;
            }
            match memmem::find(&line[position..], b"!#") {
                Some(offset) => {
                    record
                        .bytes
                        .extend_from_slice(trim_blanks(&line[position..position + offset]));
                    record.close_field();
                    position += offset + 2;
                    if skip_blanks(line, position) == line.len() {
                        return LineEnd::RecordComplete;
                    }
                }
                None => {
                    record.bytes.extend_from_slice(trim_blanks(&line[position..]));
                    record.close_field();
                    return LineEnd::RecordComplete;
                }
            }
        }
    }
}

fn is_blank_byte(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&byte| is_blank_byte(byte))
}

fn skip_blanks(line: &[u8], mut position: usize) -> usize {
    while position < line.len() && is_blank_byte(line[position]) {
        position += 1;
    }
    position
}

fn trim_blanks(bytes: &[u8]) -> &[u8] {
    trim_end_blanks(&bytes[skip_blanks(bytes, 0)..])
}

fn trim_end_blanks(bytes: &[u8]) -> &[u8] {
    let mut end = bytes.len();
    while end > 0 && is_blank_byte(bytes[end - 1]) {
        end -= 1;
    }
    &bytes[..end]
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    if end > 0 && line[end - 1] == b'\n' {
        end -= 1;
    }
    if end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    &line[..end]
}

/// Returns whether a physical line looks like the start of a record: its
/// first non-blank byte is an opening quote.
fn starts_record(line: &[u8]) -> bool {
    line.get(skip_blanks(line, 0)) == Some(&b'"')
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Read {
        line: u64,
        fields: Vec<String>,
        defect: Option<RecordDefect>,
    }

    fn read_all(input: &[u8]) -> Vec<Read> {
        let mut reader = RecordReader::new(input);
        let mut records = Vec::new();
        while let Some(record) = reader.read_record().unwrap() {
            records.push(Read {
                line: record.line,
                fields: record
                    .fields()
                    .map(|field| String::from_utf8_lossy(field).into_owned())
                    .collect(),
                defect: record.defect,
            });
        }
        records
    }

    #[test]
    fn splits_quoted_fields_on_crlf_and_lf() {
        let records = read_all(b"\"a\"!#\"b c\"!#\"\"!#\"4.12\"\r\n\"d\"!#\"e\"\n");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].fields, ["a", "b c", "", "4.12"]);
        assert_eq!(records[1].fields, ["d", "e"]);
        assert_eq!(records[1].line, 2);
    }

    #[test]
    fn accepts_spaces_around_separators() {
        let records = read_all(b"\"a\" !# \"b\"  !#\"c\"\r\n");
        assert_eq!(records[0].fields, ["a", "b", "c"]);
    }

    #[test]
    fn trailing_separator_adds_no_field() {
        let records = read_all(b"\"a\"!#\"b\"!#\r\n\"c\"!#\"\"!#\n");
        assert_eq!(records[0].fields, ["a", "b"]);
        assert_eq!(records[1].fields, ["c", ""]);
    }

    #[test]
    fn joins_raw_line_break_inside_quotes() {
        let records = read_all(b"\"a\"!#\"first line\r\nsecond line\"!#\"z\"\r\n\"next\"\r\n");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].fields, ["a", "first line\nsecond line", "z"]);
        assert_eq!(records[0].defect, None);
        assert_eq!(records[1].line, 3);
        assert_eq!(records[1].fields, ["next"]);
    }

    #[test]
    fn unterminated_quote_stops_at_next_record() {
        let records = read_all(b"\"a\"!#\"broken\n\"b\"!#\"c\"\n");
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[0].defect,
            Some(RecordDefect::UnterminatedQuote { rank: 2 })
        );
        assert_eq!(records[1].fields, ["b", "c"]);
        assert_eq!(records[1].line, 2);
        assert_eq!(records[1].defect, None);
    }

    #[test]
    fn unterminated_quote_at_end_of_input() {
        let records = read_all(b"\"a\"!#\"never closed");
        assert_eq!(
            records[0].defect,
            Some(RecordDefect::UnterminatedQuote { rank: 2 })
        );
        assert_eq!(records[0].fields, ["a", "never closed"]);
    }

    #[test]
    fn missing_closing_quote_mid_line_is_flagged() {
        let records = read_all(b"\"a\"!#\"Studio refait!#\"Studio de 31 m2\"!#\"z\"\n\"next\"\n");
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[0].defect,
            Some(RecordDefect::UnterminatedQuote { rank: 2 })
        );
        assert_eq!(records[0].fields, ["a", "Studio refait", "Studio de 31 m2", "z"]);
        assert_eq!(records[1].defect, None);
    }

    #[test]
    fn quote_inside_value_is_text() {
        let records = read_all(b"\"Villa \"Les Pins\"\"!#\"b\"\n");
        assert_eq!(records[0].fields, ["Villa \"Les Pins\"", "b"]);
    }

    #[test]
    fn unquoted_fields_are_trimmed() {
        let records = read_all(b"a !# b!#\"c\"!# 12 \n");
        assert_eq!(records[0].fields, ["a", "b", "c", "12"]);
    }

    #[test]
    fn skips_bom_and_blank_lines() {
        let records = read_all(b"\xEF\xBB\xBF\"a\"!#\"b\"\r\n\r\n   \n\"c\"\n\n");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].fields, ["a", "b"]);
        assert_eq!(records[1].line, 4);
    }

    #[test]
    fn empty_input_has_no_record() {
        assert!(read_all(b"").is_empty());
        assert!(read_all(b"\r\n\n").is_empty());
    }

    #[test]
    fn separator_inside_quotes_is_text() {
        let records = read_all(b"\"a!#b\"!#\"c\"\n");
        assert_eq!(records[0].fields, ["a!#b", "c"]);
    }

    #[test]
    fn over_long_line_is_flagged() {
        let mut input = b"\"a\"!#\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        input.extend_from_slice(b"\"\n\"next\"\n");
        let records = read_all(&input);
        assert_eq!(records[0].defect, Some(RecordDefect::TooLong));
        assert_eq!(records.last().unwrap().fields, ["next"]);
    }

    #[test]
    fn counts_lines_across_joined_records() {
        let mut reader = RecordReader::new(&b"\"a\"!#\"x\ny\"\n\"b\"\n"[..]);
        while reader.read_record().unwrap().is_some() {}
        assert_eq!(reader.lines_read(), 3);
    }

    /// A source that hands out its bytes in chunks of the given sizes, to
    /// cut records, separators and quotes at every possible place.
    struct Chunked<'a> {
        bytes: &'a [u8],
        sizes: Vec<usize>,
        next: usize,
    }

    impl io::Read for Chunked<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            let size = self.sizes[self.next % self.sizes.len()].max(1);
            self.next += 1;
            let count = size.min(buffer.len()).min(self.bytes.len());
            buffer[..count].copy_from_slice(&self.bytes[..count]);
            self.bytes = &self.bytes[count..];
            Ok(count)
        }
    }

    fn read_chunked(bytes: &[u8], sizes: Vec<usize>) -> Vec<Vec<Vec<u8>>> {
        let source = io::BufReader::with_capacity(
            7,
            Chunked {
                bytes,
                sizes,
                next: 0,
            },
        );
        let mut reader = RecordReader::new(source);
        let mut records = Vec::new();
        while let Some(record) = reader.read_record().unwrap() {
            records.push(record.fields().map(<[u8]>::to_vec).collect());
        }
        records
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
            sizes in proptest::collection::vec(1usize..64, 1..8),
        ) {
            let records = read_chunked(&bytes, sizes);
            proptest::prop_assert!(records.len() <= bytes.len());
        }

        #[test]
        fn never_panics_on_poliris_like_bytes(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(&b"\""[..]),
                    proptest::strategy::Just(&b"!#"[..]),
                    proptest::strategy::Just(&b"!"[..]),
                    proptest::strategy::Just(&b"#"[..]),
                    proptest::strategy::Just(&b" "[..]),
                    proptest::strategy::Just(&b"\r\n"[..]),
                    proptest::strategy::Just(&b"\n"[..]),
                    proptest::strategy::Just(&b"\xEF\xBB\xBF"[..]),
                    proptest::strategy::Just(&b"abc"[..]),
                    proptest::strategy::Just(&b"\xE9"[..]),
                ],
                0..300,
            ),
            sizes in proptest::collection::vec(1usize..16, 1..8),
        ) {
            let bytes: Vec<u8> = pieces.concat();
            let records = read_chunked(&bytes, sizes);
            proptest::prop_assert!(records.len() <= bytes.len());
        }

        #[test]
        fn written_records_read_back(
            records in proptest::collection::vec(
                proptest::collection::vec("[^\"\r\n!]{0,12}", 1..40),
                1..20,
            ),
            crlf in proptest::prelude::any::<bool>(),
            trailing_separator in proptest::prelude::any::<bool>(),
            sizes in proptest::collection::vec(1usize..32, 1..8),
        ) {
            let mut bytes = Vec::new();
            for fields in &records {
                let quoted: Vec<String> = fields.iter().map(|field| format!("\"{field}\"")).collect();
                bytes.extend_from_slice(quoted.join("!#").as_bytes());
                if trailing_separator {
                    bytes.extend_from_slice(b"!#");
                }
                bytes.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
            let read = read_chunked(&bytes, sizes);
            let expected: Vec<Vec<Vec<u8>>> = records
                .iter()
                .map(|fields| fields.iter().map(|field| field.as_bytes().to_vec()).collect())
                .collect();
            proptest::prop_assert_eq!(read, expected);
        }
    }
}

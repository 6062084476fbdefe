//! SeLoger "Poliris" CSV, the export format of most French real-estate CRMs.
//!
//! - [`reader`] splits the bytes of `Annonces.csv` into records and fields;
//! - [`columns`] names each 1-based column rank as the specification does;
//! - [`values`] parses numbers, booleans, dates and descriptions;
//! - [`convert`] turns one record into a [`Listing`](crate::listing::Listing);
//! - [`package`] opens a bare file, a directory or a zip delivery.
//!
//! [`read_feed`] ties them together: it decodes each record with the file's
//! encoding and hands it, checked and converted, to a visitor.

pub mod adapter;
pub mod columns;
pub mod convert;
pub mod package;
pub mod reader;
pub mod synthetic;
pub mod values;

use std::borrow::Cow;

use crate::encoding::TextEncoding;
use crate::record::{RecordIssue, Severity};
use columns::{MIN_COLUMNS, column_name, rank};
pub use convert::{AgentMapping, ConvertSettings, Converted, FieldProblem, TraceEntry};
pub use package::{PackageError, PolirisPackage};
use reader::{RawRecord, RecordDefect, RecordReader};

/// One record decoded to text, before conversion.
#[derive(Debug)]
pub struct DecodedRecord<'r> {
    /// 1-based position of the record in the file.
    pub number: u64,
    /// 1-based line where the record starts.
    pub line: u64,
    pub defect: Option<RecordDefect>,
    /// Field values in rank order: index 0 is rank 1.
    pub fields: Vec<Cow<'r, str>>,
}

impl DecodedRecord<'_> {
    /// Returns the trimmed value at a 1-based rank, or `""`.
    pub fn text(&self, rank: usize) -> &str {
        rank.checked_sub(1)
            .and_then(|index| self.fields.get(index))
            .map_or("", |value| value.trim())
    }

    /// Returns the agency id of column 1, if filled.
    pub fn agency_id(&self) -> Option<&str> {
        Some(self.text(rank::AGENCY_ID)).filter(|id| !id.is_empty())
    }

    /// Returns the agency id of column 1 when the record was split into
    /// several fields and column 1 is sound. A line that did not split at
    /// all (a wrong separator) has no agency id to trust.
    pub fn split_agency_id(&self) -> Option<&str> {
        let sound = match self.defect {
            Some(RecordDefect::UnterminatedQuote { rank }) => rank > rank::AGENCY_ID,
            Some(RecordDefect::CutShort { columns, .. }) => columns > rank::AGENCY_ID,
            Some(RecordDefect::TooLong) => false,
            None => true,
        };
        self.agency_id().filter(|_| sound && self.fields.len() > 1)
    }

    /// Returns the format version of column 301 (`4.12`, `4.08-007`), if present.
    pub fn format_version(&self) -> Option<&str> {
        Some(self.text(rank::FORMAT_VERSION)).filter(|version| !version.is_empty())
    }

    /// Iterates over the non-empty columns as `(rank, value)`, with the mandator's
    /// personal data (ranks 114–122) left out, for keeping beside a listing.
    pub fn kept_columns(&self) -> impl Iterator<Item = (usize, &str)> {
        self.fields
            .iter()
            .enumerate()
            .map(|(index, value)| (index + 1, value.trim()))
            .filter(|(rank, value)| {
                !value.is_empty() && !(rank::OWNER_FIRST..=rank::OWNER_LAST).contains(rank)
            })
    }

    fn rejection(
        &self,
        file: &str,
        rank: Option<usize>,
        value: Option<String>,
        reason: String,
    ) -> Box<RecordIssue> {
        Box::new(RecordIssue {
            severity: Severity::Rejected,
            file: file.to_string(),
            line: self.line,
            source_id: None,
            rank,
            column: rank.map(column_name),
            value,
            reason,
        })
    }

    /// Checks that the record was split cleanly and has enough columns to
    /// be a Poliris record.
    ///
    /// # Errors
    /// A rejection naming the file, line, column and reason.
    pub fn check_syntax(&self, file: &str) -> Result<(), Box<RecordIssue>> {
        match self.defect {
            Some(RecordDefect::UnterminatedQuote { rank }) => {
                let value = self.fields.get(rank - 1).map(|value| value.to_string());
                let reason = "quoted field has no closing quote; the columns after it cannot be trusted";
                return Err(self.rejection(file, Some(rank), value, reason.to_string()));
            }
            Some(RecordDefect::TooLong) => {
                let reason = format!(
                    "record is longer than {} bytes or {} lines; it is damaged",
                    reader::MAX_RECORD_BYTES,
                    reader::MAX_RECORD_LINES
                );
                return Err(self.rejection(file, None, None, reason));
            }
            Some(RecordDefect::CutShort { columns, expected }) => {
                let value = self.fields.last().map(|value| value.to_string());
                let reason = format!(
                    "the file ends inside this record, after {columns} of the {expected} columns of the record \
                     before it: the file was cut short, most often in transfer; fetch or copy it again"
                );
                let mut issue = self.rejection(file, Some(columns), value, reason);
                issue.source_id = self.readable_ids().0.map(str::to_string);
                return Err(issue);
            }
            None => {}
        }
        if self.fields.len() < MIN_COLUMNS {
            let count = self.fields.len();
            let reason = format!(
                "record has {count} {}; a Poliris record needs at least {MIN_COLUMNS} (up to Descriptif); \
                 check that fields are separated by !#",
                if count == 1 { "column" } else { "columns" }
            );
            // A line that did not split at all has no column to point at,
            // and its one value is the whole line.
            let (rank, last) = match count {
                0 | 1 => (None, None),
                _ => (Some(count + 1), self.fields.last().map(|value| value.to_string())),
            };
            return Err(self.rejection(file, rank, last, reason));
        }
        Ok(())
    }

    /// Checks the record's syntax and converts it.
    ///
    /// # Errors
    /// A rejection naming the file, line, column and reason.
    pub fn convert(
        &self,
        file: &str,
        settings: &ConvertSettings,
        has_member: &dyn Fn(&str) -> bool,
        trace: Option<&mut Vec<TraceEntry>>,
    ) -> Result<Converted, Box<RecordIssue>> {
        self.check_syntax(file)?;
        let mut converted =
            convert::convert_record(&self.fields, settings, has_member, trace).map_err(|problem| {
                let mut issue = self.rejection(file, Some(problem.rank), Some(problem.value), problem.reason);
                issue.source_id = self.readable_ids().0.map(str::to_string);
                issue
            })?;
        converted.warnings.sort_by_key(|warning| warning.rank);
        converted.warnings.shrink_to_fit();
        Ok(converted)
    }

    /// Returns the technical id (rank 175) and the reference (rank 2) of a
    /// record, each only when it was read from a sound part of the record,
    /// so that a rejected record can still be matched to its stored listing.
    pub fn readable_ids(&self) -> (Option<&str>, Option<&str>) {
        let sound_up_to = match self.defect {
            Some(RecordDefect::UnterminatedQuote { rank }) => rank - 1,
            // The last column may have lost its end; the others are whole.
            Some(RecordDefect::CutShort { columns, .. }) => columns - 1,
            Some(RecordDefect::TooLong) => 0,
            None => self.fields.len(),
        };
        let read =
            |rank: usize| Some(self.text(rank)).filter(|value| rank <= sound_up_to && !value.is_empty());
        (read(rank::TECHNICAL_ID), read(rank::REFERENCE))
    }

    /// Turns the warnings of a conversion into issues with this record's locator.
    pub fn warning_issues(&self, file: &str, source_id: &str, warnings: &[FieldProblem]) -> Vec<RecordIssue> {
        warnings
            .iter()
            .map(|warning| RecordIssue {
                severity: Severity::Warning,
                file: file.to_string(),
                line: self.line,
                source_id: Some(source_id.to_string()),
                rank: Some(warning.rank),
                column: Some(column_name(warning.rank)),
                value: Some(warning.value.clone()),
                reason: warning.reason.clone(),
            })
            .collect()
    }
}

/// Decodes a raw record's fields with the file's encoding.
pub fn decode<'r>(raw: &'r RawRecord, number: u64, encoding: TextEncoding) -> DecodedRecord<'r> {
    DecodedRecord {
        number,
        line: raw.line,
        defect: raw.defect,
        fields: raw.fields().map(|field| encoding.decode(field)).collect(),
    }
}

/// Reads every record of a delivery's listings file in order and calls
/// `visit` with each; `visit` returns `false` to stop early.
///
/// # Errors
/// The file cannot be opened or read; records already visited stay visited.
pub fn read_feed(
    package: &PolirisPackage,
    encoding: TextEncoding,
    mut visit: impl FnMut(&DecodedRecord<'_>) -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    package.with_listings(|source| -> anyhow::Result<()> {
        let mut reader = RecordReader::new(source);
        let mut number = 0;
        while let Some(raw) = reader
            .read_record()
            .map_err(|error| package.listings_error(error))?
        {
            number += 1;
            if !visit(&decode(raw, number, encoding))? {
                break;
            }
        }
        Ok(())
    })?
}

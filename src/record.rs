//! Problems found in single records, with the locator that lets a person
//! find the record again: file, line, column rank and name, value.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The record was not imported.
    Rejected,
    /// The record was imported, but one field was left unknown or corrected.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Warning => "warning",
        }
    }
}

/// One problem with one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordIssue {
    pub severity: Severity,
    /// The file the record came from (`archive.zip!Annonces.csv` for a member).
    pub file: String,
    /// 1-based line where the record starts.
    pub line: u64,
    /// The listing's source id, when the record got far enough to have one.
    pub source_id: Option<String>,
    /// 1-based column rank of the faulty field.
    pub rank: Option<usize>,
    /// The format's own name of that column, e.g. `Type d'annonce`.
    pub column: Option<String>,
    pub value: Option<String>,
    pub reason: String,
}

impl RecordIssue {
    /// Rejects a record whose source id an earlier record of the same feed
    /// already had.
    pub fn duplicate(file: &str, line: u64, source_id: &str, first_line: u64) -> Self {
        Self {
            severity: Severity::Rejected,
            file: file.to_string(),
            line,
            source_id: Some(source_id.to_string()),
            rank: None,
            column: None,
            value: Some(source_id.to_string()),
            reason: format!(
                "duplicate listing: source id {source_id:?} was already read at line {first_line}"
            ),
        }
    }
}

/// Maximum length of a value shown in a message, in characters.
const SHOWN_VALUE_CHARS: usize = 80;

impl fmt::Display for RecordIssue {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}: ", self.file, self.line)?;
        if let Some(rank) = self.rank {
            write!(formatter, "column {rank}")?;
            if let Some(column) = &self.column {
                write!(formatter, " ({column})")?;
            }
            write!(formatter, ": ")?;
        } else if let Some(field) = &self.column {
            // Formats with named fields (JSON, XML) have no column rank.
            write!(formatter, "{field}: ")?;
        }
        write!(formatter, "{}", self.reason)?;
        if let Some(value) = self.value.as_deref().filter(|value| !value.is_empty()) {
            write!(formatter, " [value: {}]", shown_value(value))?;
        }
        Ok(())
    }
}

/// Quotes a value for a terminal: control characters are escaped and long
/// values are cut, so that text from a file cannot move the cursor or flood
/// the screen.
pub fn shown_value(value: &str) -> String {
    let mut shown: String = value.chars().take(SHOWN_VALUE_CHARS).collect();
    if value.chars().count() > SHOWN_VALUE_CHARS {
        shown.push('…');
    }
    format!("{shown:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_column_and_value() {
        let issue = RecordIssue {
            severity: Severity::Rejected,
            file: "Annonces.csv".to_string(),
            line: 3,
            source_id: None,
            rank: Some(3),
            column: Some("Type d'annonce".to_string()),
            value: Some("échange".to_string()),
            reason: "unknown transaction type".to_string(),
        };
        assert_eq!(
            issue.to_string(),
            "Annonces.csv:3: column 3 (Type d'annonce): unknown transaction type [value: \"échange\"]"
        );
    }

    #[test]
    fn shown_value_escapes_control_characters() {
        assert_eq!(shown_value("a\u{1b}[2Jb"), "\"a\\u{1b}[2Jb\"");
        assert!(shown_value(&"x".repeat(200)).ends_with("…\""));
    }
}

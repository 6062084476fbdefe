//! The contract between the shared import pipeline and one CRM's code.
//!
//! An [`Adapter`] implements only what differs between CRMs: how to open a staged
//! payload (a file, a directory, an archive, a downloaded API response), how
//! each raw record becomes a listing or a rejection, the listing's stable
//! source id, and whether a delivery is a full snapshot. Deduplication,
//! storage, withdrawals and reporting are written once, in the pipeline.

use std::path::{Path, PathBuf};

use crate::crm::poliris::AgentMapping;
use crate::encoding::TextEncoding;
use crate::listing::Listing;
use crate::record::{RecordIssue, Severity};

/// Settings an adapter reads a payload with.
#[derive(Debug, Clone, Default)]
pub struct ReadSettings {
    /// Registry code stored in each listing, e.g. `hektor`.
    pub crm: String,
    /// The integration's agency code. Records of other agencies are skipped;
    /// `None` (in `parse`) keeps every record and takes its own agency id.
    pub agency_code: Option<String>,
    pub organization: Option<String>,
    pub agents: AgentMapping,
    pub default_agent: Option<String>,
    /// Text encoding forced by the user, for text formats.
    pub encoding: Option<TextEncoding>,
    /// Language of titles and descriptions, for CRMs that send several.
    pub language: Option<String>,
}

#[cfg(test)]
impl ReadSettings {
    /// Returns the settings of agency `A1` of a CRM, with no mapping.
    pub fn for_tests(crm: &str) -> Self {
        Self {
            crm: crm.to_string(),
            agency_code: Some("A1".to_string()),
            organization: None,
            agents: AgentMapping::default(),
            default_agent: None,
            encoding: None,
            language: None,
        }
    }
}

/// Input of a fetch: the agency, its credentials and the payload's folder.
pub struct FetchRequest<'a> {
    pub crm: &'a str,
    pub agency_code: &'a str,
    /// Integration name, for messages.
    pub integration: &'a str,
    /// Credential values by the names the registry lists, e.g. `token`.
    pub credentials: &'a std::collections::BTreeMap<String, Credential>,
    /// Base URL of the CRM's API, when it is not the CRM's own.
    pub api_url: Option<&'a str>,
    pub http: crate::transport::http::HttpSettings,
    /// Folder the payload goes to; it must not exist yet.
    pub target_dir: &'a Path,
}

/// The CRM answered that its feed did not change since the last fetch
/// (HTTP 304): there is nothing to fetch or import.
#[derive(Debug, thiserror::Error)]
#[error("the feed has not changed since the last fetch{}", if since.is_empty() { String::new() } else { format!(" ({since})") })]
pub struct FeedUnchanged {
    /// When the feed was last fetched, if known.
    pub since: String,
}

/// A credential's value and the environment variable it came from; only
/// the variable's name is ever shown.
#[derive(Clone)]
pub struct Credential {
    pub value: String,
    pub variable: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Credential(from ${})", self.variable)
    }
}

/// One record of a payload, read and converted.
pub enum RecordOutcome {
    Listing(Box<ListingRead>),
    /// The record cannot become a listing. `kept` names the stored listing
    /// it stands for, when its ids could still be read.
    Rejected {
        issue: Box<RecordIssue>,
        kept: KeptIds,
    },
    /// The record belongs to another agency of a grouped delivery.
    OtherAgency(String),
    /// The CRM deletes this listing (an OpenImmo `DELETE` action): it is
    /// withdrawn, and its stored data is kept.
    Delete {
        source_id: String,
        line: u64,
    },
}

/// A problem with one named field of a record (formats such as XML): the
/// reason the record is rejected, or a field is left unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: &'static str,
    pub value: String,
    pub reason: String,
}

impl FieldProblem {
    pub fn new(field: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self {
            field,
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    fn into_issue(self, severity: Severity, place: &RecordPlace<'_>) -> RecordIssue {
        RecordIssue {
            severity,
            file: place.file.to_string(),
            line: place.line,
            source_id: place.source_id.clone(),
            rank: None,
            column: Some(self.field.to_string()),
            value: Some(self.value),
            reason: self.reason,
        }
    }
}

/// A converted record and the fields left unknown on the way.
pub struct Converted {
    pub listing: Listing,
    pub warnings: Vec<FieldProblem>,
}

/// Location of a record in its file, and the ids that name its listing.
pub struct RecordPlace<'a> {
    pub file: &'a str,
    pub line: u64,
    pub source_id: Option<String>,
    pub reference: Option<String>,
}

impl RecordOutcome {
    /// Builds the outcome of a record's conversion: the listing with its
    /// warnings and raw record, or the rejection. `withdrawn` marks a
    /// listing the CRM keeps only as sold or withdrawn.
    pub fn of_conversion(
        converted: Result<Converted, FieldProblem>,
        place: RecordPlace<'_>,
        raw: impl FnOnce() -> RawRecord,
        withdrawn: bool,
    ) -> Self {
        match converted {
            Err(problem) => Self::Rejected {
                issue: Box::new(problem.into_issue(Severity::Rejected, &place)),
                kept: KeptIds {
                    source_id: place.source_id,
                    reference: place.reference,
                },
            },
            Ok(converted) => Self::Listing(Box::new(ListingRead {
                listing: converted.listing,
                warnings: converted
                    .warnings
                    .into_iter()
                    .map(|problem| problem.into_issue(Severity::Warning, &place))
                    .collect(),
                raw: raw(),
                line: place.line,
                withdrawn,
            })),
        }
    }
}

/// A converted listing with what the pipeline keeps beside it.
pub struct ListingRead {
    pub listing: Listing,
    pub warnings: Vec<RecordIssue>,
    pub raw: RawRecord,
    /// 1-based line where the record starts in the payload, or its 1-based
    /// position among the records of a file without lines (JSON).
    pub line: u64,
    /// The CRM marks the listing sold, withdrawn or deleted: it is stored,
    /// but as withdrawn.
    pub withdrawn: bool,
}

/// An opened payload, read record by record.
pub trait Feed {
    /// Names the payload in messages: a path, `archive.zip!Annonces.csv`.
    fn source(&self) -> &str;

    /// Text encoding the payload is read with, for text formats.
    fn encoding(&self) -> Option<TextEncoding>;

    /// Returns whether the payload is the agency's whole portfolio, so that
    /// the listings it lacks are withdrawn.
    fn is_full_snapshot(&self) -> bool;

    /// Returns facts about the payload for people, gathered while reading:
    /// the agency codes it holds, its format versions.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }

    /// Returns where the photo files delivered with the listings are, for
    /// formats whose photos can be files of the delivery.
    fn photo_files(&self) -> Option<crate::photos::PhotoFiles> {
        None
    }

    /// Reads every record in order and hands each to `visit`, which returns
    /// `false` to stop.
    ///
    /// # Errors
    /// The payload cannot be read to its end, or `visit` failed.
    fn read(&mut self, visit: &mut dyn FnMut(RecordOutcome) -> anyhow::Result<bool>) -> anyhow::Result<()>;
}

/// One CRM's code, registered in [`REGISTRY`](super::REGISTRY).
pub trait Adapter: Sync {
    /// Opens a staged payload. Warnings found on opening (a forced encoding
    /// that garbles the text, say) are pushed to `warnings`.
    ///
    /// # Errors
    /// The payload is missing, unreadable or not in the adapter's format.
    fn open<'a>(
        &'a self,
        payload: &Path,
        settings: &'a ReadSettings,
        warnings: &mut Vec<String>,
    ) -> anyhow::Result<Box<dyn Feed + 'a>>;

    /// Downloads the agency's payload into `request.target_dir` and returns
    /// that folder. `None` for CRMs whose payloads are not fetched by this
    /// adapter (files given by path or dropped by FTP).
    fn fetch(&self, request: &FetchRequest<'_>) -> Option<anyhow::Result<PathBuf>> {
        let _ = request;
        None
    }
}

/// The CRM's record kept beside its listing for debugging, turned into JSON
/// only when the listing is written.
pub enum RawRecord {
    /// Columns of a positional format, by 1-based rank.
    Columns(KeptColumns),
    /// A record that already is JSON, personal data removed.
    Json(String),
}

impl RawRecord {
    /// Returns the record as JSON.
    ///
    /// # Errors
    /// Serialization failed, which only a bug can cause.
    pub fn to_json(&self) -> anyhow::Result<String> {
        match self {
            Self::Columns(columns) => columns.to_json(),
            Self::Json(json) => Ok(json.clone()),
        }
    }
}

/// Ids read from a rejected record, to find its stored listing, which is
/// then kept as it is rather than withdrawn for missing.
pub struct KeptIds {
    pub source_id: Option<String>,
    pub reference: Option<String>,
}

/// The record's non-empty columns without personal data, copied into one
/// string; [`KeptColumns::to_json`] makes the JSON only when the listing is
/// written, since most listings of a re-import are unchanged.
pub struct KeptColumns {
    text: String,
    /// Rank of each column and the end of its value in `text`.
    ends: Vec<(u16, u32)>,
}

impl KeptColumns {
    /// Copies `(rank, value)` pairs, in rank order.
    pub fn from_columns<'v>(columns: impl Iterator<Item = (usize, &'v str)>) -> Self {
        let mut text = String::with_capacity(4 * 1024);
        let mut ends = Vec::with_capacity(64);
        for (rank, value) in columns {
            text.push_str(value);
            ends.push((rank as u16, text.len() as u32));
        }
        Self { text, ends }
    }

    /// Returns a JSON object keyed by rank, e.g. `{"1":"AGENCE-SUD","2":"12_3101",…}`.
    ///
    /// # Errors
    /// Serialization failed, which only a bug can cause.
    pub fn to_json(&self) -> anyhow::Result<String> {
        let mut json = Vec::with_capacity(self.text.len() + 16 * self.ends.len());
        json.push(b'{');
        let mut start = 0;
        for (index, &(rank, end)) in self.ends.iter().enumerate() {
            if index > 0 {
                json.push(b',');
            }
            json.push(b'"');
            json.extend_from_slice(rank.to_string().as_bytes());
            json.extend_from_slice(b"\":");
            serde_json::to_writer(&mut json, &self.text[start..end as usize])?;
            start = end as usize;
        }
        json.push(b'}');
        Ok(String::from_utf8(json)?)
    }
}

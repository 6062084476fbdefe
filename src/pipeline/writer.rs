//! The writer side of an import: owns the database connection, applies each
//! converted listing (insert, update or nothing), finds duplicates, and
//! commits every [`BATCH_SIZE`](super::BATCH_SIZE) writes.

use std::collections::HashMap;
use std::sync::mpsc::Receiver;

use crate::crm::poliris::DecodedRecord;
use crate::listing::Listing;
use crate::record::{RecordIssue, Severity};
use crate::store::{ApplyOutcome, IntegrationId, ListingId, ListingRow, RunCounts, RunId, SqliteStore};

/// What the reading thread hands to the writer.
pub enum WriteOp {
    Listing {
        listing: Box<Listing>,
        content_hash: [u8; 32],
        raw: KeptColumns,
        line: u64,
        warnings: Vec<RecordIssue>,
    },
    Rejected(Box<RecordIssue>),
}

/// Hashes a listing's JSON form with BLAKE3. `buffer` is scratch space
/// reused from call to call.
///
/// # Errors
/// Serialization failed, which only a bug can cause.
pub fn content_hash(listing: &Listing, buffer: &mut Vec<u8>) -> anyhow::Result<[u8; 32]> {
    buffer.clear();
    serde_json::to_writer(&mut *buffer, listing)?;
    Ok(*blake3::hash(buffer).as_bytes())
}

/// The record's non-empty columns without personal data, kept in one
/// string, turned into JSON only when the listing is written.
pub struct KeptColumns {
    text: String,
    /// Rank of each column and the end of its value in `text`.
    ends: Vec<(u16, u32)>,
}

impl KeptColumns {
    pub fn from_record(record: &DecodedRecord<'_>) -> Self {
        let mut text = String::new();
        let mut ends = Vec::new();
        for (rank, value) in record.kept_columns() {
            text.push_str(value);
            ends.push((rank as u16, text.len() as u32));
        }
        Self { text, ends }
    }

    /// A JSON object mapping each rank to its value.
    fn to_json(&self) -> String {
        let mut start = 0;
        let columns: serde_json::Map<String, serde_json::Value> = self
            .ends
            .iter()
            .map(|&(rank, end)| {
                let value = &self.text[start..end as usize];
                start = end as usize;
                (rank.to_string(), serde_json::Value::from(value))
            })
            .collect();
        serde_json::Value::Object(columns).to_string()
    }
}

/// What the writer hands back when the feed is done.
pub struct Written {
    pub counts: RunCounts,
    /// Listings read in this run, with the line each was read at.
    pub seen: HashMap<ListingId, u64>,
    /// Rejections only the writer could find (duplicates), to report.
    pub late_issues: Vec<RecordIssue>,
}

pub struct Writer<'s> {
    store: &'s mut SqliteStore,
    /// The listings file, named in the duplicates found here.
    source: String,
    integration: IntegrationId,
    run: RunId,
    dry_run: bool,
    /// Listings written since the last commit.
    pending: usize,
    written: Written,
}

impl<'s> Writer<'s> {
    pub fn new(
        store: &'s mut SqliteStore,
        source: String,
        integration: IntegrationId,
        run: RunId,
        dry_run: bool,
    ) -> Self {
        Self {
            store,
            source,
            integration,
            run,
            dry_run,
            pending: 0,
            written: Written {
                counts: RunCounts::default(),
                seen: HashMap::new(),
                late_issues: Vec::new(),
            },
        }
    }

    /// Applies operations until the reading side closes the channel.
    ///
    /// # Errors
    /// A database error; the transaction in progress is left to the caller.
    pub fn run(mut self, messages: Receiver<Vec<WriteOp>>) -> anyhow::Result<Written> {
        for operation in messages.into_iter().flatten() {
            match operation {
                WriteOp::Rejected(issue) => self.reject(&issue)?,
                WriteOp::Listing {
                    listing,
                    content_hash,
                    raw,
                    line,
                    warnings,
                } => self.apply(&listing, content_hash, &raw, line, &warnings)?,
            }
        }
        Ok(self.written)
    }

    fn reject(&mut self, issue: &RecordIssue) -> anyhow::Result<()> {
        self.written.counts.rejected += 1;
        self.store.record_issue(self.run, issue)
    }

    fn apply(
        &mut self,
        listing: &Listing,
        content_hash: [u8; 32],
        raw: &KeptColumns,
        line: u64,
        warnings: &[RecordIssue],
    ) -> anyhow::Result<()> {
        let existing = self.store.find_listing(self.integration, &listing.source_id)?;
        if let Some(stored) = &existing
            && let Some(first_line) = self.written.seen.get(&stored.id)
        {
            let issue = RecordIssue {
                severity: Severity::Rejected,
                file: self.source.clone(),
                line,
                source_id: Some(listing.source_id.clone()),
                rank: None,
                column: None,
                value: None,
                reason: format!(
                    "duplicate listing: source id {:?} was already read at line {first_line}",
                    listing.source_id
                ),
            };
            self.reject(&issue)?;
            self.written.late_issues.push(issue);
            return Ok(());
        }

        let (id, outcome) = match existing {
            Some(stored) if stored.content_hash == content_hash && !stored.withdrawn => {
                (stored.id, ApplyOutcome::Unchanged)
            }
            existing => {
                let data = serde_json::to_string(listing)?;
                let raw = raw.to_json();
                let row = ListingRow {
                    listing,
                    data: &data,
                    content_hash,
                    raw: Some(&raw),
                };
                match existing {
                    Some(stored) => {
                        self.store.update_listing(stored.id, self.run, &row)?;
                        (stored.id, ApplyOutcome::Updated)
                    }
                    None => (
                        self.store.insert_listing(self.integration, self.run, &row)?,
                        ApplyOutcome::Created,
                    ),
                }
            }
        };

        self.written.seen.insert(id, line);
        let counts = &mut self.written.counts;
        counts.seen += 1;
        match outcome {
            ApplyOutcome::Created => counts.created += 1,
            ApplyOutcome::Updated => counts.updated += 1,
            ApplyOutcome::Unchanged => counts.unchanged += 1,
        }
        for issue in warnings {
            counts.warnings += 1;
            self.store.record_issue(self.run, issue)?;
        }
        if outcome != ApplyOutcome::Unchanged || !warnings.is_empty() {
            self.pending += 1;
        }
        if self.pending >= super::BATCH_SIZE && !self.dry_run {
            self.store.commit()?;
            self.store.begin()?;
            self.pending = 0;
        }
        Ok(())
    }
}

//! The writer side of an import: owns the database connection, applies each
//! converted listing (insert, update or nothing), finds duplicates, and
//! commits every [`BATCH_SIZE`](super::BATCH_SIZE) writes. In a dry run it
//! only reads the store and counts what would change.

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::crm::adapter::{KeptIds, RawRecord};
use crate::listing::Listing;
use crate::record::RecordIssue;
use crate::report::events::LastListing;
use crate::report::progress::RunProgress;
use crate::store::lock::{HEARTBEAT_SECONDS, LockToken};
use crate::store::{ApplyOutcome, IntegrationId, ListingId, ListingRow, RunCounts, RunId, Store};

/// An operation the reading thread sends to the writer.
pub enum WriteOp {
    Listing {
        listing: Box<Listing>,
        /// The listing as JSON, and the BLAKE3 hash of that JSON.
        data: String,
        content_hash: [u8; 32],
        raw: RawRecord,
        line: u64,
        /// The CRM says the listing is sold or withdrawn.
        withdrawn: bool,
        warnings: Vec<RecordIssue>,
    },
    Rejected {
        issue: Box<RecordIssue>,
        kept: KeptIds,
    },
    /// The CRM deletes the listing with this source id.
    Delete {
        source_id: String,
        line: u64,
    },
}

/// Serializes a listing to JSON and hashes the JSON with BLAKE3.
///
/// # Errors
/// Serialization failed, which only a bug can cause.
pub fn listing_json(listing: &Listing) -> anyhow::Result<(String, [u8; 32])> {
    let data = serde_json::to_string(listing)?;
    let hash = *blake3::hash(data.as_bytes()).as_bytes();
    Ok((data, hash))
}

/// Counts and late rejections the writer returns when the feed is done.
pub struct Written {
    pub counts: RunCounts,
    /// Rejections only the writer could find (duplicates), to report.
    pub late_issues: Vec<RecordIssue>,
    /// Messages for people about what the writer decided.
    pub notes: Vec<String>,
    /// The listing applied last, named in progress events.
    pub last_listing: Option<LastListing>,
}

/// Destination of the writer's decisions.
pub enum Target {
    /// Into the store, for a run of an integration whose lock is held.
    Store {
        integration: IntegrationId,
        run: RunId,
        lock: LockToken,
    },
    /// Nowhere: a dry run only counts. The integration is `None` when it
    /// does not exist yet, and then every listing would be created.
    Nowhere { integration: Option<IntegrationId> },
}

pub struct Writer<'s> {
    store: &'s mut dyn Store,
    /// The listings file, named in the duplicates found here.
    source: String,
    target: Target,
    /// Listings written since the last commit.
    pending: usize,
    last_heartbeat: Instant,
    written: Written,
    progress: RunProgress,
}

impl<'s> Writer<'s> {
    pub fn new(store: &'s mut dyn Store, source: String, target: Target, progress: RunProgress) -> Self {
        Self {
            store,
            source,
            target,
            pending: 0,
            last_heartbeat: Instant::now(),
            written: Written {
                counts: RunCounts::default(),
                late_issues: Vec::new(),
                notes: Vec::new(),
                last_listing: None,
            },
            progress,
        }
    }

    fn integration(&self) -> Option<IntegrationId> {
        match self.target {
            Target::Store { integration, .. } => Some(integration),
            Target::Nowhere { integration } => integration,
        }
    }

    /// Returns the run being written, or `None` in a dry run.
    fn run(&self) -> Option<RunId> {
        match self.target {
            Target::Store { run, .. } => Some(run),
            Target::Nowhere { .. } => None,
        }
    }

    /// Applies operations until the reading side closes the channel.
    ///
    /// # Errors
    /// A database error; the transaction in progress is left to the caller.
    pub fn run_until_closed(mut self, messages: Receiver<Vec<WriteOp>>) -> anyhow::Result<Written> {
        for message in messages {
            self.prefetch(&message)?;
            for operation in message {
                match operation {
                    WriteOp::Rejected { mut issue, kept } => {
                        self.keep_listing_of(&mut issue, &kept)?;
                        self.reject(&issue)?;
                    }
                    WriteOp::Delete { source_id, line } => self.delete(&source_id, line)?,
                    WriteOp::Listing {
                        listing,
                        data,
                        content_hash,
                        raw,
                        line,
                        withdrawn,
                        warnings,
                    } => {
                        let row = ListingRow {
                            listing: &listing,
                            data: &data,
                            content_hash,
                        };
                        let applied = self.apply(&row, &raw, line, withdrawn, &warnings)?;
                        if let Applied::Listing { id } = applied {
                            // Moved, not cloned: the listing is done with.
                            let Listing {
                                source_id, reference, ..
                            } = *listing;
                            self.written.last_listing = Some(LastListing {
                                id,
                                source_id,
                                reference,
                            });
                        }
                    }
                }
            }
            self.commit_if_due()?;
            self.progress
                .listings(self.written.counts.seen, self.written.last_listing.as_ref());
        }
        Ok(self.written)
    }

    /// Loads the stored state of a message's listings in one go, which
    /// spares a database server a round trip per listing.
    fn prefetch(&mut self, message: &[WriteOp]) -> anyhow::Result<()> {
        let Some(integration) = self.integration() else {
            return Ok(());
        };
        let source_ids: Vec<&str> = message
            .iter()
            .filter_map(|operation| match operation {
                WriteOp::Listing { listing, .. } => Some(listing.source_id.as_str()),
                WriteOp::Rejected { kept, .. } => kept.source_id.as_deref(),
                WriteOp::Delete { source_id, .. } => Some(source_id.as_str()),
            })
            .collect();
        self.store.prefetch_listings(integration, &source_ids)
    }

    /// Commits after [`BATCH_SIZE`](super::BATCH_SIZE) writes, or when the
    /// lock's heartbeat is due, so that other processes see the run alive.
    fn commit_if_due(&mut self) -> anyhow::Result<()> {
        let Target::Store { run, lock, .. } = &self.target else {
            return Ok(());
        };
        let heartbeat_due = self.last_heartbeat.elapsed() >= Duration::from_secs(HEARTBEAT_SECONDS);
        if self.pending < super::BATCH_SIZE && !heartbeat_due {
            return Ok(());
        }
        self.store.heartbeat(lock)?;
        self.store.record_counts(*run, &self.written.counts)?;
        let started = Instant::now();
        self.store.commit()?;
        tracing::debug!(
            writes = self.pending,
            commit_ms = started.elapsed().as_millis() as u64,
            "batch committed"
        );
        self.store.begin()?;
        self.pending = 0;
        self.last_heartbeat = Instant::now();
        Ok(())
    }

    /// Marks the stored listing of a rejected record as seen, so that the
    /// rejection does not withdraw it, and names it in the issue.
    fn keep_listing_of(&mut self, issue: &mut RecordIssue, kept: &KeptIds) -> anyhow::Result<()> {
        let Some(integration) = self.integration() else {
            return Ok(());
        };
        let by_id = match &kept.source_id {
            Some(source_id) => self
                .store
                .find_listing(integration, source_id)?
                .map(|stored| (stored.id, source_id.clone())),
            None => None,
        };
        let found = match (by_id, &kept.reference) {
            (Some(found), _) => Some(found),
            (None, Some(reference)) => self.store.find_by_reference(integration, reference)?,
            (None, None) => None,
        };
        let Some((id, source_id)) = found else {
            return Ok(());
        };
        if self.store.mark_seen(id, issue.line)?.is_none() {
            self.written.counts.kept += 1;
            self.written.notes.push(format!(
                "{}:{}: listing {source_id:?} is kept as it was, because its record was rejected",
                issue.file, issue.line
            ));
        }
        issue.source_id = Some(source_id);
        Ok(())
    }

    /// Withdraws a listing its CRM deleted, keeping its data. A listing
    /// passerelle never stored needs nothing.
    fn delete(&mut self, source_id: &str, line: u64) -> anyhow::Result<()> {
        let Some(integration) = self.integration() else {
            return Ok(());
        };
        let Some(stored) = self.store.find_listing(integration, source_id)? else {
            self.written.notes.push(format!(
                "{}:{line}: listing {source_id:?} is deleted by the CRM, and was not in the database",
                self.source
            ));
            return Ok(());
        };
        self.store.mark_seen(stored.id, line)?;
        if stored.withdrawn {
            return Ok(());
        }
        if let Target::Store { run, .. } = &self.target {
            self.store.withdraw_listing(stored.id, *run)?;
        }
        self.written.counts.withdrawn += 1;
        self.pending += 1;
        Ok(())
    }

    fn reject(&mut self, issue: &RecordIssue) -> anyhow::Result<()> {
        self.written.counts.rejected += 1;
        match self.run() {
            Some(run) => self.store.record_issue(run, issue),
            None => Ok(()),
        }
    }

    /// Writes one listing. `withdrawn` is the CRM's own word that the
    /// listing is sold or withdrawn: it is stored, but marked withdrawn.
    /// Returns whether the listing was applied or rejected as a duplicate.
    fn apply(
        &mut self,
        row: &ListingRow<'_>,
        raw: &RawRecord,
        line: u64,
        withdrawn: bool,
        warnings: &[RecordIssue],
    ) -> anyhow::Result<Applied> {
        let source_id = &row.listing.source_id;
        let existing = match self.integration() {
            Some(integration) => self.store.find_listing(integration, source_id)?,
            None => None,
        };
        let first_line = match &existing {
            Some(stored) => self.store.mark_seen(stored.id, line)?,
            // Listings this run created are found above; in a dry run, which
            // creates nothing, they are remembered here instead.
            None if self.run().is_none() => self.store.mark_new(source_id, line)?,
            None => None,
        };
        if let Some(first_line) = first_line {
            let issue = RecordIssue::duplicate(&self.source, line, source_id, first_line);
            self.reject(&issue)?;
            self.written.late_issues.push(issue);
            return Ok(Applied::Duplicate);
        }

        let was_active = existing.as_ref().is_some_and(|stored| !stored.withdrawn);
        let mut id = existing.as_ref().map(|stored| stored.id);
        let outcome = match (existing, &self.target) {
            (Some(stored), _) if stored.content_hash == row.content_hash && stored.withdrawn == withdrawn => {
                ApplyOutcome::Unchanged
            }
            (Some(stored), _) if stored.content_hash == row.content_hash && withdrawn => {
                // Same content, but the CRM now says sold or withdrawn.
                if let Target::Store { run, .. } = &self.target {
                    self.store.withdraw_listing(stored.id, *run)?;
                }
                ApplyOutcome::Unchanged
            }
            (Some(_), Target::Nowhere { .. }) => ApplyOutcome::Updated,
            (None, Target::Nowhere { .. }) => ApplyOutcome::Created,
            (Some(stored), Target::Store { run, .. }) => {
                self.store.update_listing(stored.id, *run, row, &raw.to_json()?)?;
                if withdrawn {
                    self.store.withdraw_listing(stored.id, *run)?;
                }
                ApplyOutcome::Updated
            }
            (None, Target::Store { integration, run, .. }) => {
                let created = self
                    .store
                    .insert_listing(*integration, *run, row, &raw.to_json()?)?;
                self.store.mark_seen(created, line)?;
                if withdrawn {
                    self.store.withdraw_listing(created, *run)?;
                }
                id = Some(created);
                ApplyOutcome::Created
            }
        };
        if withdrawn && was_active {
            self.written.counts.withdrawn += 1;
            self.pending += 1;
        }

        let counts = &mut self.written.counts;
        counts.seen += 1;
        match outcome {
            ApplyOutcome::Created => counts.created += 1,
            ApplyOutcome::Updated => counts.updated += 1,
            ApplyOutcome::Unchanged => counts.unchanged += 1,
        }
        counts.warnings += warnings.len() as u64;
        if let Some(run) = self.run() {
            for issue in warnings {
                self.store.record_issue(run, issue)?;
            }
        }
        if outcome != ApplyOutcome::Unchanged || !warnings.is_empty() {
            self.pending += 1;
        }
        Ok(Applied::Listing {
            id: id.filter(|_| self.run().is_some()),
        })
    }
}

/// What became of one listing the writer was given.
enum Applied {
    /// Rejected: an earlier record of the feed had its source id.
    Duplicate,
    /// Created, updated or unchanged; `id` is `None` in a dry run.
    Listing { id: Option<ListingId> },
}

//! Storage of listings, photos and runs behind one [`Store`] trait, with two
//! backends of the same schema: SQLite, the embedded default, and Postgres.
//! Each backend applies its embedded migrations when a database is opened.

pub mod history;
pub mod location;
pub mod lock;
pub mod photos;
pub mod postgres;
pub mod seen;
pub mod sqlite;
#[cfg(test)]
pub mod testing;
#[cfg(test)]
mod tests;

use serde::Serialize;

pub use history::HistoryStore;
pub use location::Database;
pub use lock::LockStore;
pub use photos::PhotoStore;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::record::RecordIssue;

/// Current time as stored in the database: RFC 3339, UTC, whole seconds.
pub fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Row id of an integration.
pub type IntegrationId = i64;
/// Row id of a run.
pub type RunId = i64;
/// Row id of a listing.
pub type ListingId = i64;

/// Outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// Every record was imported.
    Succeeded,
    /// The run finished, but some records were rejected.
    Partial,
    /// A safety guard kept listings from being withdrawn.
    GuardTripped,
    /// The source could not be read to the end.
    Failed,
    /// The process stopped before the run finished.
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Partial => "partial",
            Self::GuardTripped => "guard_tripped",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }
}

/// Counts of one run. `seen` is the number of distinct valid listings in
/// the feed, so `seen = created + updated + unchanged`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    pub seen: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub withdrawn: u64,
    pub rejected: u64,
    /// Records of other agencies in a grouped file.
    pub skipped: u64,
    /// Stored listings left as they were because their record was rejected.
    pub kept: u64,
    /// Listings deleted after their grace period as withdrawn.
    pub deleted: u64,
    pub warnings: u64,
    /// Photos rendered and stored by this run.
    pub photos_stored: u64,
    /// Photos whose source was unchanged, or whose bytes were stored already.
    pub photos_reused: u64,
    /// Photos that could not be fetched or decoded; retried by the next run.
    pub photos_failed: u64,
}

impl RunCounts {
    /// Returns the counts in the order of the `runs` columns that both
    /// stores' `record_counts` set: seen, created, updated, unchanged, withdrawn,
    /// rejected, skipped, kept, warnings, deleted, then the photo counts
    /// stored, reused and failed.
    pub fn column_values(&self) -> [i64; 13] {
        [
            self.seen,
            self.created,
            self.updated,
            self.unchanged,
            self.withdrawn,
            self.rejected,
            self.skipped,
            self.kept,
            self.warnings,
            self.deleted,
            self.photos_stored,
            self.photos_reused,
            self.photos_failed,
        ]
        .map(|count| i64::try_from(count).unwrap_or(i64::MAX))
    }
}

/// Effect of applying one listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    Created,
    /// The content changed, or a withdrawn listing came back.
    Updated,
    Unchanged,
}

/// A stored listing, found by its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredListing {
    pub id: ListingId,
    pub content_hash: [u8; 32],
    pub withdrawn: bool,
}

/// A listing ready to be written.
pub struct ListingRow<'a> {
    pub listing: &'a crate::listing::Listing,
    /// The listing serialized as JSON; its BLAKE3 hash is the content hash.
    pub data: &'a str,
    pub content_hash: [u8; 32],
}

/// Integrations, runs and listings: what an import reads and writes.
///
/// Writes happen inside transactions the caller opens with
/// [`begin`](Self::begin) and closes with [`commit`](Self::commit), so a run
/// is applied in whole batches: a process killed mid-run leaves every batch
/// either applied or absent, and the next run finishes the work without
/// duplicates because listings are unique per (integration, source id).
pub trait ListingStore {
    /// Starts a transaction that takes the write lock at once.
    fn begin(&self) -> anyhow::Result<()>;

    /// Starts a transaction that only reads the database (writes to
    /// temporary tables excepted), so it never blocks other writers.
    fn begin_read(&self) -> anyhow::Result<()>;

    fn commit(&self) -> anyhow::Result<()>;

    fn rollback(&self) -> anyhow::Result<()>;

    /// Returns the integration for a CRM and agency code, if it exists.
    fn find_integration(&self, crm: &str, agency_code: &str) -> anyhow::Result<Option<IntegrationId>>;

    /// Returns the integration for a CRM and agency code, creating it when new.
    fn integration(
        &self,
        crm: &str,
        agency_code: &str,
        organization: Option<&str>,
    ) -> anyhow::Result<IntegrationId>;

    /// Marks the integration's runs still flagged `running` as interrupted:
    /// their process died before finishing them. Call it only while holding
    /// the integration's lock, which proves no other run is alive.
    fn mark_interrupted_runs(&self, integration: IntegrationId) -> anyhow::Result<usize>;

    /// Records the start of a run; `trigger` is `import` or `sync`.
    fn begin_run(
        &self,
        integration: IntegrationId,
        source: &str,
        trigger: &str,
        forced: bool,
    ) -> anyhow::Result<RunId>;

    /// Number of listings of the integration that are not withdrawn.
    fn active_count(&self, integration: IntegrationId) -> anyhow::Result<u64>;

    /// Loads the stored state of these source ids in one query, so that
    /// the [`find_listing`](Self::find_listing) and [`mark_seen`](Self::mark_seen)
    /// calls on them that follow need no round trip of their own. A backend
    /// whose lookups are cheap does nothing.
    fn prefetch_listings(&self, integration: IntegrationId, source_ids: &[&str]) -> anyhow::Result<()> {
        let _ = (integration, source_ids);
        Ok(())
    }

    /// Returns the listing of the integration with this source id, if stored.
    fn find_listing(
        &self,
        integration: IntegrationId,
        source_id: &str,
    ) -> anyhow::Result<Option<StoredListing>>;

    /// Finds the one listing of the integration with this reference, if
    /// exactly one has it; returns its id and source id.
    fn find_by_reference(
        &self,
        integration: IntegrationId,
        reference: &str,
    ) -> anyhow::Result<Option<(ListingId, String)>>;

    /// Inserts a new listing; `raw` is the CRM's record as JSON, personal
    /// data removed.
    fn insert_listing(
        &self,
        integration: IntegrationId,
        run: RunId,
        row: &ListingRow<'_>,
        raw: &str,
    ) -> anyhow::Result<ListingId>;

    /// Rewrites a listing whose content changed, and reactivates it if it
    /// was withdrawn.
    fn update_listing(
        &self,
        id: ListingId,
        run: RunId,
        row: &ListingRow<'_>,
        raw: &str,
    ) -> anyhow::Result<()>;

    /// Marks one listing withdrawn now, as its CRM asked.
    fn withdraw_listing(&self, id: ListingId, run: RunId) -> anyhow::Result<()>;

    fn record_issue(&self, run: RunId, issue: &RecordIssue) -> anyhow::Result<()>;

    /// Empties the lists of listings seen and created in the current run.
    /// They live in the database, so memory does not grow with the number
    /// of listings. SQLite keeps them in temporary tables of the connection,
    /// which lock nothing for other processes. Postgres keeps them in
    /// unlogged tables keyed by import, which survive a reconnection.
    fn start_seen_tracking(&self) -> anyhow::Result<()>;

    /// Records that the run read a listing at `line`. Returns the line it was
    /// first read at when the run had already seen it, a duplicate.
    fn mark_seen(&self, id: ListingId, line: u64) -> anyhow::Result<Option<u64>>;

    /// Records, in a dry run, a listing that would be created. Returns the
    /// line it was first read at when the run had already read it.
    fn mark_new(&self, source_id: &str, line: u64) -> anyhow::Result<Option<u64>>;

    /// Number of the integration's active listings the run has not seen.
    fn count_unseen(&self, integration: IntegrationId) -> anyhow::Result<u64>;

    /// Marks withdrawn now the integration's active listings the run has not
    /// seen, and returns how many; rows are kept, never deleted.
    fn withdraw_unseen(&self, integration: IntegrationId, run: RunId) -> anyhow::Result<u64>;

    fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        counts: &RunCounts,
        guard_reason: Option<&str>,
        error: Option<&str>,
    ) -> anyhow::Result<()>;

    /// Stores a run's counts so far; called at each commit, so that a killed
    /// run still shows what it wrote.
    fn record_counts(&self, run: RunId, counts: &RunCounts) -> anyhow::Result<()>;

    /// Returns the number of listings the integration's last good run saw.
    fn last_seen_count(&self, integration: IntegrationId) -> anyhow::Result<Option<u64>>;

    /// Deletes the integration's listings withdrawn more than `days` days
    /// ago, and returns how many.
    fn delete_withdrawn_before(&self, integration: IntegrationId, days: u32) -> anyhow::Result<u64>;

    /// Remembers a run whose feed was accepted whole, the reference of later guards.
    fn record_good_run(&self, integration: IntegrationId, run: RunId, seen: u64) -> anyhow::Result<()>;
}

/// Everything an import, the photo step and the reports need of a database.
pub trait Store: ListingStore + LockStore + HistoryStore + PhotoStore + Send {}

impl<T: ListingStore + LockStore + HistoryStore + PhotoStore + Send> Store for T {}

//! Run history: the runs recorded in the store, with their counts and the
//! problems of their records, for `passerelle runs`.

use serde::Serialize;

use super::{ListingStore, RunCounts, RunId, RunStatus};

/// Selection of the runs to list.
#[derive(Debug, Default)]
pub struct RunFilter {
    pub crm: Option<String>,
    pub agency_code: Option<String>,
    pub status: Option<String>,
    /// Maximum number of runs, newest first.
    pub limit: u32,
}

/// One recorded run.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub id: RunId,
    pub crm: String,
    pub agency_code: String,
    pub source: String,
    /// `import` or `sync`.
    pub trigger: String,
    /// Guards were overridden (`--force`).
    pub forced: bool,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub counts: RunCounts,
    pub guard_reason: Option<String>,
    pub error: Option<String>,
}

/// A rejected record or a field warning stored with a run.
#[derive(Debug, Clone, Serialize)]
pub struct StoredIssue {
    pub severity: String,
    pub file: String,
    pub line: u64,
    pub source_id: Option<String>,
    pub column_rank: Option<u64>,
    pub column_name: Option<String>,
    pub value: Option<String>,
    pub message: String,
}

pub(super) const RUN_COLUMNS: &str = "r.id, i.crm, i.agency_code, r.source, r.started_at, r.finished_at, r.status, r.seen,
     r.created, r.updated, r.unchanged, r.withdrawn, r.rejected, r.skipped, r.kept, r.warnings, r.guard_reason,
     r.error, r.deleted, r.trigger, r.photos_stored, r.photos_reused, r.photos_failed, r.forced";

/// Reading the run history back.
pub trait HistoryStore: ListingStore {
    /// Records a run that failed before its feed could be read (a fetch
    /// that failed), so that the run history shows it.
    fn record_failed_run(
        &self,
        crm: &str,
        agency_code: &str,
        organization: Option<&str>,
        source: &str,
        trigger: &str,
        error: &str,
    ) -> anyhow::Result<RunId> {
        let integration = self.integration(crm, agency_code, organization)?;
        let run = self.begin_run(integration, source, trigger, false)?;
        self.finish_run(run, RunStatus::Failed, &RunCounts::default(), None, Some(error))?;
        Ok(run)
    }

    /// Returns the status of the integration's latest run, if it has any.
    fn last_run_status(&self, crm: &str, agency_code: &str) -> anyhow::Result<Option<String>>;

    /// Lists runs, newest first.
    fn list_runs(&self, filter: &RunFilter) -> anyhow::Result<Vec<RunRecord>>;

    /// Returns one run, or `None` when no run has this id.
    fn find_run(&self, id: RunId) -> anyhow::Result<Option<RunRecord>>;

    /// Returns the rejected records and warnings of a run, in file order.
    fn run_issues(&self, id: RunId) -> anyhow::Result<Vec<StoredIssue>>;
}

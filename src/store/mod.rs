//! Storage of listings and runs. SQLite is the embedded default. The schema
//! lives in `migrations/` and is applied when a database is opened.

pub mod history;
pub mod lock;
mod migrations;
pub mod photos;
pub mod seen;
pub mod sqlite;

use serde::Serialize;

pub use sqlite::SqliteStore;

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

//! One lock per integration, so that two imports of the same agency never
//! run at once: two overlapping cron runs, a person re-running an import
//! that cron already started, or several `sync` workers sharing one
//! database.
//!
//! Each backend keeps the lock its own way. SQLite has a `locks` row naming
//! the holding process, refreshed by a heartbeat; Postgres has a session
//! advisory lock, released by the server when the holder's connection ends,
//! plus the same `locks` row to say who holds it.

use std::fmt;

/// Seconds without a heartbeat after which a SQLite lock is stale.
pub const LOCK_TTL_SECONDS: i64 = 120;

/// Seconds between two heartbeats of a running import.
pub const HEARTBEAT_SECONDS: u64 = 15;

/// Another process holds the integration's lock.
#[derive(Debug)]
pub struct LockedError {
    pub crm: String,
    pub agency_code: String,
    pub pid: i64,
    pub host: String,
    pub acquired_at: String,
    /// When a SQLite lock goes stale if its holder stops refreshing it;
    /// `None` for a Postgres lock, which ends with its holder's connection.
    pub expires_at: Option<String>,
}

impl fmt::Display for LockedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "another run of {} {} is in progress: pid {} on {}, since {}",
            self.crm, self.agency_code, self.pid, self.host, self.acquired_at
        )
    }
}

impl std::error::Error for LockedError {}

/// Proof of a held lock, needed to refresh or release it.
#[derive(Debug, Clone)]
pub struct LockToken {
    pub(super) crm: String,
    pub(super) agency_code: String,
    pub(super) pid: i64,
    pub(super) host: String,
}

impl LockToken {
    pub(super) fn for_this_process(crm: &str, agency_code: &str) -> Self {
        Self {
            crm: crm.to_string(),
            agency_code: agency_code.to_string(),
            pid: i64::from(std::process::id()),
            host: host_name(),
        }
    }
}

/// Name of this machine, to tell a lock of a dead local process from one
/// held on another machine.
pub(super) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// Taking, refreshing and releasing the lock of an integration.
pub trait LockStore {
    /// Takes the lock of an integration. The caller opens a transaction
    /// first: SQLite writes the lock row in it, while a Postgres advisory
    /// lock belongs to the connection and outlasts the transaction.
    ///
    /// # Errors
    /// [`LockedError`] when a live process has it, or a database error.
    fn acquire_lock(&self, crm: &str, agency_code: &str) -> anyhow::Result<LockToken>;

    /// Describes the live holder of an integration's lock, if any, for a
    /// dry run to warn that another run is changing what it compares with.
    fn lock_holder(&self, crm: &str, agency_code: &str) -> anyhow::Result<Option<String>>;

    /// Tells other processes that the holder is still working; takes effect
    /// at the caller's next commit.
    fn heartbeat(&self, token: &LockToken) -> anyhow::Result<()>;

    /// Releases a lock this process holds, outside any transaction.
    fn release_lock(&self, token: &LockToken) -> anyhow::Result<()>;
}

//! The SQLite store: bundled SQLite, one file, WAL journal. Each write is
//! a statement of its own, which SQLite runs in-process at no round-trip
//! cost.

mod history;
mod lock;
mod migrations;
mod photos;

use std::path::Path;

use anyhow::Context;
use chrono::{SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{
    IntegrationId, ListingId, ListingRow, ListingStore, RunCounts, RunId, RunStatus, StoredListing, timestamp,
};
use crate::record::RecordIssue;

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Switches the database to write-ahead logging. Connections opening a new
/// file together got "database is locked" from this switch despite the busy
/// timeout (see the concurrent-open test), so it retries until the timeout.
fn enable_wal(connection: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match connection.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

pub struct SqliteStore {
    pub(super) connection: Connection,
}

impl SqliteStore {
    /// Opens or creates the database file and brings its schema up to date.
    ///
    /// # Errors
    /// The file cannot be opened as SQLite, or a migration fails.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let connection = Connection::open(path)
            .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
        Self::prepare(connection).with_context(|| format!("cannot use SQLite database {}", path.display()))
    }

    /// Opens a private database in memory, for dry runs against a database
    /// file that does not exist yet.
    pub fn open_in_memory() -> anyhow::Result<Self> {
        Self::prepare(Connection::open_in_memory()?)
    }

    fn prepare(mut connection: Connection) -> anyhow::Result<Self> {
        connection.busy_timeout(BUSY_TIMEOUT)?;
        enable_wal(&connection)?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", true)?;
        // A batch of 1,000 listings dirties about 6 MB of pages. SQLite's
        // default 2 MB cache would spill them into the WAL before the commit.
        // A negative cache size is in KiB.
        connection.pragma_update(None, "cache_size", -16 * 1024)?;
        connection.pragma_update(None, "temp_store", "FILE")?;
        migrations::apply(&mut connection)?;
        Ok(Self { connection })
    }

    /// Returns the underlying connection, for read-only queries in reports and tests.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }
}

impl ListingStore for SqliteStore {
    fn begin(&self) -> anyhow::Result<()> {
        self.connection.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    fn begin_read(&self) -> anyhow::Result<()> {
        self.connection.execute_batch("BEGIN DEFERRED")?;
        Ok(())
    }

    fn commit(&self) -> anyhow::Result<()> {
        self.connection.execute_batch("COMMIT")?;
        Ok(())
    }

    fn rollback(&self) -> anyhow::Result<()> {
        self.connection.execute_batch("ROLLBACK")?;
        Ok(())
    }

    fn find_integration(&self, crm: &str, agency_code: &str) -> anyhow::Result<Option<IntegrationId>> {
        let id = self
            .connection
            .query_row(
                "SELECT id FROM integrations WHERE crm = ?1 AND agency_code = ?2",
                params![crm, agency_code],
                |row| row.get(0),
            )
            .optional()?;
        Ok(id)
    }

    fn integration(
        &self,
        crm: &str,
        agency_code: &str,
        organization: Option<&str>,
    ) -> anyhow::Result<IntegrationId> {
        self.connection.execute(
            "INSERT INTO integrations (crm, agency_code, organization, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (crm, agency_code) DO UPDATE SET organization = coalesce(?3, organization)",
            params![crm, agency_code, organization, timestamp()],
        )?;
        let id = self.connection.query_row(
            "SELECT id FROM integrations WHERE crm = ?1 AND agency_code = ?2",
            params![crm, agency_code],
            |row| row.get(0),
        )?;
        Ok(id)
    }

    fn mark_interrupted_runs(&self, integration: IntegrationId) -> anyhow::Result<usize> {
        let changed = self.connection.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = ?2 WHERE integration_id = ?1 AND status = 'running'",
            params![integration, timestamp()],
        )?;
        Ok(changed)
    }

    fn begin_run(
        &self,
        integration: IntegrationId,
        source: &str,
        trigger: &str,
        forced: bool,
    ) -> anyhow::Result<RunId> {
        self.connection.execute(
            "INSERT INTO runs (integration_id, source, trigger, started_at, status, forced)
             VALUES (?1, ?2, ?3, ?4, 'running', ?5)",
            params![integration, source, trigger, timestamp(), forced],
        )?;
        Ok(self.connection.last_insert_rowid())
    }

    fn active_count(&self, integration: IntegrationId) -> anyhow::Result<u64> {
        let count: i64 = self.connection.query_row(
            "SELECT count(*) FROM listings WHERE integration_id = ?1 AND withdrawn_at IS NULL",
            [integration],
            |row| row.get(0),
        )?;
        Ok(count as u64)
    }

    fn find_listing(
        &self,
        integration: IntegrationId,
        source_id: &str,
    ) -> anyhow::Result<Option<StoredListing>> {
        let mut statement = self.connection.prepare_cached(
            "SELECT id, content_hash, withdrawn_at IS NOT NULL FROM listings
             WHERE integration_id = ?1 AND source_id = ?2",
        )?;
        let found = statement
            .query_row(params![integration, source_id], |row| {
                let hash: Vec<u8> = row.get(1)?;
                Ok(StoredListing {
                    id: row.get(0)?,
                    content_hash: hash.try_into().unwrap_or([0; 32]),
                    withdrawn: row.get(2)?,
                })
            })
            .optional()?;
        Ok(found)
    }

    fn find_by_reference(
        &self,
        integration: IntegrationId,
        reference: &str,
    ) -> anyhow::Result<Option<(ListingId, String)>> {
        let mut statement = self.connection.prepare_cached(
            "SELECT id, source_id FROM listings WHERE integration_id = ?1 AND reference = ?2 LIMIT 2",
        )?;
        let found: Vec<(ListingId, String)> = statement
            .query_map(params![integration, reference], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(if found.len() == 1 {
            found.into_iter().next()
        } else {
            None
        })
    }

    fn insert_listing(
        &self,
        integration: IntegrationId,
        run: RunId,
        row: &ListingRow<'_>,
        raw: &str,
    ) -> anyhow::Result<ListingId> {
        let now = timestamp();
        let listing = row.listing;
        let mut statement = self.connection.prepare_cached(
            "INSERT INTO listings (integration_id, source_id, reference, transaction_kind, property_kind, price,
                 postal_code, city, title, content_hash, data, raw, first_seen_at, last_changed_at, last_run_id,
                 photos_pending)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14, ?15)",
        )?;
        statement.execute(params![
            integration,
            listing.source_id,
            listing.reference,
            listing.transaction.kind.as_str(),
            listing.property.kind.as_str(),
            listing.price.as_ref().map(|price| price.amount),
            listing.postal_code,
            listing.city,
            listing.title,
            &row.content_hash[..],
            row.data,
            raw,
            now,
            run,
            !listing.photos.is_empty(),
        ])?;
        Ok(self.connection.last_insert_rowid())
    }

    fn update_listing(
        &self,
        id: ListingId,
        run: RunId,
        row: &ListingRow<'_>,
        raw: &str,
    ) -> anyhow::Result<()> {
        let listing = row.listing;
        let mut statement = self.connection.prepare_cached(
            "UPDATE listings SET reference = ?2, transaction_kind = ?3, property_kind = ?4, price = ?5,
                 postal_code = ?6, city = ?7, title = ?8, content_hash = ?9, data = ?10, raw = ?11,
                 last_changed_at = ?12, last_run_id = ?13, withdrawn_at = NULL, photos_pending = 1
             WHERE id = ?1",
        )?;
        statement.execute(params![
            id,
            listing.reference,
            listing.transaction.kind.as_str(),
            listing.property.kind.as_str(),
            listing.price.as_ref().map(|price| price.amount),
            listing.postal_code,
            listing.city,
            listing.title,
            &row.content_hash[..],
            row.data,
            raw,
            timestamp(),
            run,
        ])?;
        Ok(())
    }

    fn withdraw_listing(&self, id: ListingId, run: RunId) -> anyhow::Result<()> {
        let mut statement = self.connection.prepare_cached(
            "UPDATE listings SET withdrawn_at = ?2, last_changed_at = ?2, last_run_id = ?3 WHERE id = ?1",
        )?;
        statement.execute(params![id, timestamp(), run])?;
        Ok(())
    }

    fn record_issue(&self, run: RunId, issue: &RecordIssue) -> anyhow::Result<()> {
        let mut statement = self.connection.prepare_cached(
            "INSERT INTO run_errors (run_id, severity, file, line, source_id, column_rank, column_name, value, message)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        statement.execute(params![
            run,
            issue.severity.as_str(),
            issue.file,
            issue.line as i64,
            issue.source_id,
            issue.rank.map(|rank| rank as i64),
            issue.column,
            issue.value,
            issue.reason,
        ])?;
        Ok(())
    }

    fn start_seen_tracking(&self) -> anyhow::Result<()> {
        self.connection.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS seen (listing_id INTEGER PRIMARY KEY, line INTEGER NOT NULL);
             CREATE TEMP TABLE IF NOT EXISTS new_ids (source_id TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID;
             DELETE FROM temp.seen;
             DELETE FROM temp.new_ids;",
        )?;
        Ok(())
    }

    fn mark_seen(&self, id: ListingId, line: u64) -> anyhow::Result<Option<u64>> {
        let mut insert = self.connection.prepare_cached(
            "INSERT INTO temp.seen (listing_id, line) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?;
        if insert.execute(params![id, line as i64])? == 1 {
            return Ok(None);
        }
        let mut select = self
            .connection
            .prepare_cached("SELECT line FROM temp.seen WHERE listing_id = ?1")?;
        let first: i64 = select.query_row([id], |row| row.get(0))?;
        Ok(Some(first as u64))
    }

    fn mark_new(&self, source_id: &str, line: u64) -> anyhow::Result<Option<u64>> {
        let mut insert = self.connection.prepare_cached(
            "INSERT INTO temp.new_ids (source_id, line) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?;
        if insert.execute(params![source_id, line as i64])? == 1 {
            return Ok(None);
        }
        let mut select = self
            .connection
            .prepare_cached("SELECT line FROM temp.new_ids WHERE source_id = ?1")?;
        let first: i64 = select.query_row([source_id], |row| row.get(0))?;
        Ok(Some(first as u64))
    }

    fn count_unseen(&self, integration: IntegrationId) -> anyhow::Result<u64> {
        let count: i64 = self.connection.query_row(
            "SELECT count(*) FROM listings WHERE integration_id = ?1 AND withdrawn_at IS NULL
               AND id NOT IN (SELECT listing_id FROM temp.seen)",
            [integration],
            |row| row.get(0),
        )?;
        Ok(count as u64)
    }

    fn withdraw_unseen(&self, integration: IntegrationId, run: RunId) -> anyhow::Result<u64> {
        let changed = self.connection.execute(
            "UPDATE listings SET withdrawn_at = ?2, last_changed_at = ?2, last_run_id = ?3
             WHERE integration_id = ?1 AND withdrawn_at IS NULL
               AND id NOT IN (SELECT listing_id FROM temp.seen)",
            params![integration, timestamp(), run],
        )?;
        Ok(changed as u64)
    }

    fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        counts: &RunCounts,
        guard_reason: Option<&str>,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        self.record_counts(run, counts)?;
        self.connection.execute(
            "UPDATE runs SET finished_at = ?2, status = ?3, guard_reason = ?4, error = ?5 WHERE id = ?1",
            params![run, timestamp(), status.as_str(), guard_reason, error],
        )?;
        Ok(())
    }

    fn record_counts(&self, run: RunId, counts: &RunCounts) -> anyhow::Result<()> {
        let mut statement = self.connection.prepare_cached(
            "UPDATE runs SET seen = ?2, created = ?3, updated = ?4, unchanged = ?5, withdrawn = ?6, rejected = ?7,
                 skipped = ?8, kept = ?9, warnings = ?10, deleted = ?11, photos_stored = ?12,
                 photos_reused = ?13, photos_failed = ?14
             WHERE id = ?1",
        )?;
        statement.execute(rusqlite::params_from_iter(
            std::iter::once(run).chain(counts.column_values()),
        ))?;
        Ok(())
    }

    fn last_seen_count(&self, integration: IntegrationId) -> anyhow::Result<Option<u64>> {
        let count: Option<i64> = self.connection.query_row(
            "SELECT last_seen_count FROM integrations WHERE id = ?1",
            [integration],
            |row| row.get(0),
        )?;
        Ok(count.map(|count| count as u64))
    }

    fn delete_withdrawn_before(&self, integration: IntegrationId, days: u32) -> anyhow::Result<u64> {
        let cutoff =
            (Utc::now() - chrono::Duration::days(i64::from(days))).to_rfc3339_opts(SecondsFormat::Secs, true);
        // The photos go with their listing; their files stay in the media
        // directory until `passerelle media gc`.
        self.connection.execute(
            "DELETE FROM photos WHERE listing_id IN (SELECT id FROM listings
                 WHERE integration_id = ?1 AND withdrawn_at IS NOT NULL AND withdrawn_at < ?2)",
            params![integration, cutoff],
        )?;
        let deleted = self.connection.execute(
            "DELETE FROM listings WHERE integration_id = ?1 AND withdrawn_at IS NOT NULL AND withdrawn_at < ?2",
            params![integration, cutoff],
        )?;
        Ok(deleted as u64)
    }

    fn record_good_run(&self, integration: IntegrationId, run: RunId, seen: u64) -> anyhow::Result<()> {
        self.connection.execute(
            "UPDATE integrations SET last_good_run_id = ?2, last_seen_count = ?3 WHERE id = ?1",
            params![integration, run, seen as i64],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_new_file_concurrently() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("new.db");
            let openers: Vec<_> = (0..4)
                .map(|_| {
                    let path = path.clone();
                    std::thread::spawn(move || {
                        SqliteStore::open(&path)
                            .map(|_| ())
                            .map_err(|error| format!("{error:#}"))
                    })
                })
                .collect();
            for opener in openers {
                assert_eq!(opener.join().unwrap(), Ok(()));
            }
        }
    }
}

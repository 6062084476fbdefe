//! The SQLite lock: a `locks` row naming the process that holds it, with a
//! heartbeat the holder refreshes while it works. A lock whose heartbeat is
//! older than [`LOCK_TTL_SECONDS`], or whose process no longer exists on
//! this host, is stale and is taken over.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, timestamp};
use crate::store::lock::{LOCK_TTL_SECONDS, LockStore, LockToken, LockedError, host_name};

/// A lock row as stored.
struct Holder {
    pid: i64,
    host: String,
    acquired_at: String,
    /// Unix seconds of the holder's last heartbeat.
    heartbeat: i64,
}

/// Returns whether a process of this host is gone. Only Linux's /proc
/// shows it; on other systems a lock goes stale by its heartbeat alone.
fn process_is_gone(pid: i64) -> bool {
    Path::new("/proc/self").exists() && !Path::new("/proc").join(pid.to_string()).exists()
}

impl SqliteStore {
    /// Returns the holder of an integration's lock, unless the lock is stale:
    /// its heartbeat expired, or its process is gone from this host.
    fn live_holder(&self, crm: &str, agency_code: &str) -> anyhow::Result<Option<Holder>> {
        let holder = self
            .connection
            .query_row(
                "SELECT pid, host, acquired_at, heartbeat_unix FROM locks WHERE crm = ?1 AND agency_code = ?2",
                params![crm, agency_code],
                |row| {
                    Ok(Holder {
                        pid: row.get(0)?,
                        host: row.get(1)?,
                        acquired_at: row.get(2)?,
                        heartbeat: row.get(3)?,
                    })
                },
            )
            .optional()?;
        Ok(holder.filter(|holder| {
            let expired = Utc::now().timestamp() - holder.heartbeat > LOCK_TTL_SECONDS;
            let dead = holder.host == host_name() && process_is_gone(holder.pid);
            !expired && !dead
        }))
    }
}

impl LockStore for SqliteStore {
    fn acquire_lock(&self, crm: &str, agency_code: &str) -> anyhow::Result<LockToken> {
        if let Some(holder) = self.live_holder(crm, agency_code)? {
            let expires_at = DateTime::<Utc>::from_timestamp(holder.heartbeat + LOCK_TTL_SECONDS, 0)
                .map_or_else(String::new, |at| {
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                });
            return Err(LockedError {
                crm: crm.to_string(),
                agency_code: agency_code.to_string(),
                pid: holder.pid,
                host: holder.host,
                acquired_at: holder.acquired_at,
                expires_at: Some(expires_at),
            }
            .into());
        }
        let token = LockToken::for_this_process(crm, agency_code);
        self.connection.execute(
            "INSERT INTO locks (crm, agency_code, pid, host, acquired_at, heartbeat_unix) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (crm, agency_code) DO UPDATE SET pid = ?3, host = ?4, acquired_at = ?5, heartbeat_unix = ?6",
            params![crm, agency_code, token.pid, token.host, timestamp(), Utc::now().timestamp()],
        )?;
        Ok(token)
    }

    fn lock_holder(&self, crm: &str, agency_code: &str) -> anyhow::Result<Option<String>> {
        Ok(self.live_holder(crm, agency_code)?.map(|holder| {
            format!(
                "pid {} on {}, since {}",
                holder.pid, holder.host, holder.acquired_at
            )
        }))
    }

    fn heartbeat(&self, token: &LockToken) -> anyhow::Result<()> {
        let mut statement = self.connection.prepare_cached(
            "UPDATE locks SET heartbeat_unix = ?5 WHERE crm = ?1 AND agency_code = ?2 AND pid = ?3 AND host = ?4",
        )?;
        statement.execute(params![
            token.crm,
            token.agency_code,
            token.pid,
            token.host,
            Utc::now().timestamp()
        ])?;
        Ok(())
    }

    fn release_lock(&self, token: &LockToken) -> anyhow::Result<()> {
        self.connection.execute(
            "DELETE FROM locks WHERE crm = ?1 AND agency_code = ?2 AND pid = ?3 AND host = ?4",
            params![token.crm, token.agency_code, token.pid, token.host],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert_lock(store: &SqliteStore, pid: i64, host: &str, heartbeat_age: i64) {
        store
            .connection
            .execute(
                "INSERT INTO locks (crm, agency_code, pid, host, acquired_at, heartbeat_unix)
                 VALUES ('poliris', 'AG', ?1, ?2, '2026-12-04T10:00:00Z', ?3)",
                params![pid, host, Utc::now().timestamp() - heartbeat_age],
            )
            .unwrap();
    }

    #[test]
    fn live_holder_keeps_the_lock() {
        let store = SqliteStore::open_in_memory().unwrap();
        insert_lock(&store, i64::from(std::process::id()), &host_name(), 5);
        let error = store.acquire_lock("poliris", "AG").unwrap_err();
        let locked = error.downcast_ref::<LockedError>().expect("a LockedError");
        assert_eq!(locked.pid, i64::from(std::process::id()));
        assert!(
            error.to_string().contains("since 2026-12-04T10:00:00Z"),
            "{error}"
        );
    }

    #[test]
    fn dead_local_holder_is_taken_over() {
        let store = SqliteStore::open_in_memory().unwrap();
        // Linux assigns pids below 2^22, so this one cannot exist.
        insert_lock(&store, 99_999_999, &host_name(), 5);
        let token = store.acquire_lock("poliris", "AG").unwrap();
        assert_eq!(token.pid, i64::from(std::process::id()));
    }

    #[test]
    fn remote_holder_expires_without_heartbeat() {
        let store = SqliteStore::open_in_memory().unwrap();
        insert_lock(&store, 1, "another-host", 5);
        assert!(
            store.acquire_lock("poliris", "AG").is_err(),
            "a fresh remote lock holds"
        );
        store.connection.execute("DELETE FROM locks", []).unwrap();
        insert_lock(&store, 1, "another-host", LOCK_TTL_SECONDS + 1);
        assert!(
            store.acquire_lock("poliris", "AG").is_ok(),
            "a stale remote lock is taken over"
        );
    }

    #[test]
    fn release_frees_the_lock() {
        let store = SqliteStore::open_in_memory().unwrap();
        let token = store.acquire_lock("poliris", "AG").unwrap();
        store.release_lock(&token).unwrap();
        let rows: i64 = store
            .connection
            .query_row("SELECT count(*) FROM locks", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 0);
    }
}

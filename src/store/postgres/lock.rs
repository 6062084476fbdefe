//! The Postgres lock of an integration: a session advisory lock, keyed by
//! a hash of the CRM and agency code. Any number of workers on any number
//! of machines can try it; the server grants it to one at a time and
//! releases it when the holder's connection ends, so a killed worker
//! never leaves a lock behind. A `locks` row names the holder for the
//! messages of the others.

use chrono::Utc;

use super::{PostgresStore, connect::wait, text};
use crate::store::lock::{LockStore, LockToken, LockedError};
use crate::store::timestamp;

/// An advisory lock this store's connection holds.
#[derive(Debug, Clone)]
pub struct HeldLock {
    pub key: i64,
    pub crm: String,
    pub agency_code: String,
}

/// Computes the advisory lock key of an integration.
fn lock_key(crm: &str, agency_code: &str) -> i64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"passerelle integration lock\0");
    hasher.update(crm.as_bytes());
    hasher.update(b"\0");
    hasher.update(agency_code.as_bytes());
    i64::from_le_bytes(hasher.finalize().as_bytes()[..8].try_into().unwrap_or_default())
}

impl PostgresStore {
    /// Tries an advisory lock on this store's connection, outside any
    /// transaction bookkeeping, as a reconnection needs it.
    pub(super) fn try_advisory_lock(&self, key: i64) -> anyhow::Result<bool> {
        let row = wait(
            self.client
                .borrow()
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key]),
        )?;
        Ok(row.get(0))
    }

    /// Describes the holder of an integration's lock from its `locks` row,
    /// if the advisory lock is held at all.
    fn holder(&self, crm: &str, agency_code: &str) -> anyhow::Result<Option<(i64, String, String)>> {
        let key = lock_key(crm, agency_code);
        let row = self.query_opt(
            "SELECT l.pid, l.host, l.acquired_at FROM locks l
             WHERE l.crm = $1 AND l.agency_code = $2
               AND EXISTS (SELECT 1 FROM pg_locks p WHERE p.locktype = 'advisory' AND p.granted
                   AND p.classid::bigint = (($3::bigint >> 32) & 4294967295)
                   AND p.objid::bigint = ($3::bigint & 4294967295) AND p.objsubid = 1)",
            &[&text(crm), &text(agency_code), &key],
        )?;
        Ok(row.map(|row| (row.get(0), row.get(1), row.get(2))))
    }
}

impl LockStore for PostgresStore {
    fn acquire_lock(&self, crm: &str, agency_code: &str) -> anyhow::Result<LockToken> {
        let key = lock_key(crm, agency_code);
        // The advisory lock is taken outside the caller's transaction: a
        // session lock survives the transaction's end either way.
        if !self.state.borrow().held_locks.iter().any(|held| held.key == key) {
            let granted: bool = self.query_one("SELECT pg_try_advisory_lock($1)", &[&key])?.get(0);
            if !granted {
                let (pid, host, acquired_at) = self
                    .holder(crm, agency_code)?
                    .unwrap_or_else(|| (0, "another worker".to_string(), "just now".to_string()));
                return Err(LockedError {
                    crm: crm.to_string(),
                    agency_code: agency_code.to_string(),
                    pid,
                    host,
                    acquired_at,
                    expires_at: None,
                }
                .into());
            }
            self.state.borrow_mut().held_locks.push(HeldLock {
                key,
                crm: crm.to_string(),
                agency_code: agency_code.to_string(),
            });
        }
        let token = LockToken::for_this_process(crm, agency_code);
        self.execute(
            "INSERT INTO locks (crm, agency_code, pid, host, acquired_at, heartbeat_unix) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (crm, agency_code) DO UPDATE SET pid = $3, host = $4, acquired_at = $5, heartbeat_unix = $6",
            &[
                &text(crm),
                &text(agency_code),
                &token.pid,
                &token.host,
                &timestamp(),
                &Utc::now().timestamp(),
            ],
        )?;
        Ok(token)
    }

    fn lock_holder(&self, crm: &str, agency_code: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .holder(crm, agency_code)?
            .map(|(pid, host, acquired_at)| format!("pid {pid} on {host}, since {acquired_at}")))
    }

    fn heartbeat(&self, token: &LockToken) -> anyhow::Result<()> {
        // The server ends the lock with the connection, so the row's
        // heartbeat only shows people when the holder last wrote.
        self.execute(
            "UPDATE locks SET heartbeat_unix = $5 WHERE crm = $1 AND agency_code = $2 AND pid = $3 AND host = $4",
            &[
                &text(&token.crm),
                &text(&token.agency_code),
                &token.pid,
                &token.host,
                &Utc::now().timestamp(),
            ],
        )?;
        Ok(())
    }

    fn release_lock(&self, token: &LockToken) -> anyhow::Result<()> {
        self.execute(
            "DELETE FROM locks WHERE crm = $1 AND agency_code = $2 AND pid = $3 AND host = $4",
            &[
                &text(&token.crm),
                &text(&token.agency_code),
                &token.pid,
                &token.host,
            ],
        )?;
        let key = lock_key(&token.crm, &token.agency_code);
        let was_held = {
            let mut state = self.state.borrow_mut();
            let before = state.held_locks.len();
            state.held_locks.retain(|held| held.key != key);
            state.held_locks.len() != before
        };
        if was_held {
            self.query_one("SELECT pg_advisory_unlock($1)", &[&key])?;
        }
        Ok(())
    }
}

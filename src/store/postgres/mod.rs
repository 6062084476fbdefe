//! The Postgres store: the schema and behaviour of the SQLite one, for a
//! platform that keeps its listings in Postgres and runs several importers
//! against it.
//!
//! A round trip to a server costs far more than a statement in SQLite. So
//! the listing writes of an import are buffered and sent as a few
//! multi-row statements per batch ([`writes`]). Reads send what is
//! buffered first, so they always see the store's own writes. A connection
//! that dropped between two transactions is replaced, and the
//! integration locks it held are taken again, before the next transaction
//! starts. Runs publish progress, success and error events with `NOTIFY`
//! ([`events`]).

mod connect;
pub mod events;
mod history;
mod listings;
mod lock;
mod migrations;
mod photos;
pub mod scratch;
#[cfg(test)]
mod tests;
mod writes;

use std::borrow::Cow;
use std::cell::RefCell;

use anyhow::Context;
use deadpool_postgres::{Object, Pool};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use connect::wait;
use events::RunEvents;
use listings::ListingCache;
use writes::WriteBatch;

use super::location::PostgresTarget;

pub use migrations::LATEST_VERSION;

/// The state of the current transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transaction {
    /// Statements commit one by one.
    None,
    /// `begin` was called; `BEGIN` is sent with the first statement, so a
    /// connection found dropped by then can still be replaced.
    Requested,
    /// `BEGIN` was sent.
    Open,
}

/// The store's memory between calls.
struct State {
    transaction: Transaction,
    /// Listing writes not sent yet.
    pending: WriteBatch,
    listings: ListingCache,
    /// Key of the current import's rows in `import_seen` and `import_new_ids`.
    tracker: i64,
    /// Listing ids taken from the sequence and not used yet.
    spare_ids: Vec<i64>,
    /// Integration locks held on this connection, to take again after a
    /// reconnection.
    held_locks: Vec<lock::HeldLock>,
    events: RunEvents,
}

pub struct PostgresStore {
    target: PostgresTarget,
    pool: Pool,
    client: RefCell<Object>,
    state: RefCell<State>,
}

/// Replaces NUL characters, which Postgres text cannot hold, with U+FFFD.
/// A CRM file with a NUL byte in a field then imports as it does into
/// SQLite, the character aside.
fn text(value: &str) -> Cow<'_, str> {
    if value.contains('\0') {
        Cow::Owned(value.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(value)
    }
}

fn optional_text(value: Option<&str>) -> Option<Cow<'_, str>> {
    value.map(text)
}

/// Returns whether an error means the connection is gone: closed, cut at
/// the socket, or ended by the server (an administrator, a restart).
fn connection_lost(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.as_db_error() {
        Some(db_error) => db_error.severity() == "FATAL" || db_error.code().code().starts_with("57P"),
        None => std::error::Error::source(error).is_some_and(|source| source.is::<std::io::Error>()),
    }
}

/// Sets up a connection taken from the pool for this store.
///
/// A commit does not wait for the server to flush its log to disk, as
/// SQLite's `synchronous = NORMAL` does not: a server crash may lose the
/// last batches committed, never the database's consistency, and the next
/// run writes them again. This halves the time of a large import.
///
/// Sequential scans are a last resort. An import fills its tables faster
/// than statistics follow, so a plan made while `listings` was nearly
/// empty could otherwise scan it whole for every batch of lookups. One
/// such run of 100,000 listings took a minute instead of five seconds.
fn prepare_session(client: &Object) -> anyhow::Result<()> {
    wait(client.batch_execute("SET synchronous_commit = off; SET enable_seqscan = off"))?;
    Ok(())
}

impl PostgresStore {
    /// Connects to the database and brings its schema up to date.
    ///
    /// # Errors
    /// The server cannot be reached, refuses the login or lacks the
    /// database, or a migration fails.
    pub fn open(target: &PostgresTarget) -> anyhow::Result<Self> {
        let store = Self::connect(target)?;
        migrations::apply(&mut store.client.borrow_mut())
            .with_context(|| format!("cannot use Postgres database {}", target.redacted()))?;
        Ok(store)
    }

    /// Connects to a database that passerelle has already set up, for a
    /// dry run that must change nothing. Returns `None` when the database
    /// has no passerelle schema yet.
    ///
    /// # Errors
    /// The server cannot be reached, or its schema is newer than this binary.
    pub fn open_existing(target: &PostgresTarget) -> anyhow::Result<Option<Self>> {
        let store = Self::connect(target)?;
        let version = migrations::version(&store.client.borrow())?;
        if version == 0 {
            return Ok(None);
        }
        if version != LATEST_VERSION {
            anyhow::bail!(
                "the Postgres database {} has schema version {version}, and this passerelle uses \
                 {LATEST_VERSION}; run an import without --dry-run to migrate it, or use a matching passerelle",
                target.redacted()
            );
        }
        Ok(Some(store))
    }

    fn connect(target: &PostgresTarget) -> anyhow::Result<Self> {
        let pool = connect::pool(target)?;
        let client = connect::connect(&pool, target)?;
        prepare_session(&client)?;
        Ok(Self {
            target: target.clone(),
            pool,
            client: RefCell::new(client),
            state: RefCell::new(State {
                transaction: Transaction::None,
                pending: WriteBatch::default(),
                listings: ListingCache::default(),
                tracker: 0,
                spare_ids: Vec::new(),
                held_locks: Vec::new(),
                events: RunEvents::new(target.progress_interval),
            }),
        })
    }

    /// Returns the server's process id of this store's connection.
    ///
    /// # Errors
    /// A database error.
    pub fn backend_pid(&self) -> anyhow::Result<i32> {
        Ok(self.query_one("SELECT pg_backend_pid()", &[])?.get(0))
    }

    /// Runs SQL statements without parameters, for tests and tools that
    /// inspect or prepare a database.
    ///
    /// # Errors
    /// A database error.
    pub fn batch_execute(&self, sql: &str) -> anyhow::Result<()> {
        self.guard(|| {
            self.prepare_statement()?;
            wait(self.client.borrow().batch_execute(sql))?;
            Ok(())
        })
    }

    /// Runs `statements`. When they fail because the connection is gone in
    /// the middle of a transaction, the server has rolled that transaction
    /// back, so this drops its state and connects again. The caller's failure path,
    /// such as recording the run as failed, then reaches the database.
    fn guard<T>(&self, statements: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
        let error = match statements() {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let lost = error
            .chain()
            .filter_map(|cause| cause.downcast_ref::<tokio_postgres::Error>())
            .any(connection_lost)
            || self.client.borrow().is_closed();
        let in_transaction = self.state.borrow().transaction == Transaction::Open;
        if !(lost && in_transaction) {
            return Err(error);
        }
        {
            let mut state = self.state.borrow_mut();
            state.transaction = Transaction::None;
            state.pending = WriteBatch::default();
            state.listings = ListingCache::default();
        }
        let cause = format!("{error:#}");
        let reconnected = self.reconnect(&cause);
        let error = error.context(format!(
            "the connection to {} dropped during a batch, whose writes were not committed",
            self.target.redacted()
        ));
        match reconnected {
            Ok(()) => Err(error),
            Err(again) => Err(error.context(format!("{again:#}"))),
        }
    }

    /// Returns the number a query of one `bigint` column counts, for tests
    /// and tools that inspect a database.
    ///
    /// # Errors
    /// A database error.
    pub fn count(&self, sql: &str) -> anyhow::Result<i64> {
        Ok(self.query_one(sql, &[])?.get(0))
    }

    /// Gets the connection ready for a statement: starts the requested
    /// transaction, replacing a dropped connection first, and sends the
    /// buffered writes.
    fn prepare_statement(&self) -> anyhow::Result<()> {
        let requested = self.state.borrow().transaction == Transaction::Requested;
        if requested {
            self.start_transaction()?;
        }
        self.flush()
    }

    /// Sends `BEGIN`. Nothing of the transaction has reached the server
    /// yet, so a dropped connection is replaced and the statement retried.
    fn start_transaction(&self) -> anyhow::Result<()> {
        let first = wait(self.client.borrow().batch_execute("BEGIN"));
        match first {
            Ok(()) => {}
            Err(error) if connection_lost(&error) || self.client.borrow().is_closed() => {
                self.reconnect(&error.to_string())?;
                wait(self.client.borrow().batch_execute("BEGIN"))?;
            }
            Err(error) => return Err(error.into()),
        }
        self.state.borrow_mut().transaction = Transaction::Open;
        Ok(())
    }

    fn reconnect(&self, cause: &str) -> anyhow::Result<()> {
        let fresh = connect::connect(&self.pool, &self.target).with_context(|| {
            format!(
                "the connection to {} dropped ({cause}), and a new one failed",
                self.target.redacted()
            )
        })?;
        prepare_session(&fresh)?;
        *self.client.borrow_mut() = fresh;
        let held = self.state.borrow().held_locks.clone();
        for lock in &held {
            if !self.try_advisory_lock(lock.key)? {
                anyhow::bail!(
                    "the connection to {} dropped ({cause}), and meanwhile another worker took the lock of {} {}; \
                     this run stops and leaves the integration to it",
                    self.target.redacted(),
                    lock.crm,
                    lock.agency_code
                );
            }
        }
        Ok(())
    }

    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> anyhow::Result<Vec<Row>> {
        self.guard(|| {
            self.prepare_statement()?;
            let client = self.client.borrow();
            let rows = wait(async {
                let statement = client.prepare_cached(sql).await?;
                client.query(&statement, params).await
            })?;
            Ok(rows)
        })
    }

    fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> anyhow::Result<Row> {
        self.query(sql, params)?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("a query returned no row: {sql}"))
    }

    fn query_opt(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> anyhow::Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> anyhow::Result<u64> {
        self.guard(|| {
            self.prepare_statement()?;
            let client = self.client.borrow();
            let changed = wait(async {
                let statement = client.prepare_cached(sql).await?;
                client.execute(&statement, params).await
            })?;
            Ok(changed)
        })
    }

    /// Sends the buffered listing writes.
    fn flush(&self) -> anyhow::Result<()> {
        let batch = std::mem::take(&mut self.state.borrow_mut().pending);
        if batch.is_empty() {
            return Ok(());
        }
        let tracker = self.state.borrow().tracker;
        batch.send(&self.client.borrow(), tracker)
    }

    /// Buffers nothing outside a transaction: writes then go out at once.
    fn flush_unless_in_transaction(&self) -> anyhow::Result<()> {
        if self.state.borrow().transaction == Transaction::None {
            self.flush()?;
        }
        Ok(())
    }
}

impl Drop for PostgresStore {
    /// Ends a transaction left open by an error and releases the locks an
    /// error left held, so that the connection goes back to the pool clean.
    fn drop(&mut self) {
        let state = self.state.get_mut();
        let client = self.client.get_mut();
        if state.transaction == Transaction::Open {
            let _ = wait(client.batch_execute("ROLLBACK"));
        }
        if !state.held_locks.is_empty() {
            let _ = wait(client.batch_execute("SELECT pg_advisory_unlock_all()"));
        }
    }
}

//! Schema migrations embedded in the binary, applied in order when a
//! database is opened. SQLite's `user_version` records the last one applied.

use rusqlite::{Connection, TransactionBehavior};

/// Migrations in order; the version of each is its position plus one.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_photos.sql"),
    include_str!("migrations/0003_forced_runs.sql"),
];

/// Schema version of a database with every migration applied.
pub const LATEST_VERSION: usize = MIGRATIONS.len();

/// Applies the migrations a database lacks. The check and the migrations
/// run in one transaction that holds the write lock from its start, so two
/// processes opening a new database at once never both create the schema.
///
/// # Errors
/// A database newer than this binary, or a failed statement.
pub fn apply(connection: &mut Connection) -> anyhow::Result<()> {
    if schema_version(connection)? == LATEST_VERSION {
        return Ok(());
    }
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = schema_version(&transaction)?;
    if current > LATEST_VERSION {
        anyhow::bail!(
            "database schema version {current} is newer than this passerelle supports ({LATEST_VERSION}); \
             upgrade passerelle"
        );
    }
    if current == 0 {
        let tables: Vec<String> = transaction
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        if !tables.is_empty() {
            anyhow::bail!(
                "the database already has tables that passerelle did not create ({}); use a new database file",
                tables.join(", ")
            );
        }
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        transaction.execute_batch(sql)?;
        transaction.pragma_update(None, "user_version", (index + 1) as i64)?;
    }
    transaction.commit()?;
    Ok(())
}

fn schema_version(connection: &Connection) -> anyhow::Result<usize> {
    let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    Ok(usize::try_from(version).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_from_concurrent_openers_creates_schema_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let openers: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut connection = Connection::open(&path).unwrap();
                    connection
                        .busy_timeout(std::time::Duration::from_secs(10))
                        .unwrap();
                    apply(&mut connection).map_err(|error| error.to_string())
                })
            })
            .collect();
        for opener in openers {
            assert_eq!(opener.join().unwrap(), Ok(()));
        }
        let connection = Connection::open(&path).unwrap();
        assert_eq!(schema_version(&connection).unwrap(), LATEST_VERSION);
    }

    #[test]
    fn apply_refuses_newer_schema() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
        let error = apply(&mut connection).unwrap_err().to_string();
        assert!(error.contains("schema version 99 is newer"), "{error}");
    }
}

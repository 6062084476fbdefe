//! Schema migrations embedded in the binary, applied in order when a
//! database is opened. SQLite's `user_version` records the last one applied.

use rusqlite::Connection;

/// Migrations in order; the version of each is its position plus one.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_initial.sql")];

/// Schema version of a database with every migration applied.
pub const LATEST_VERSION: usize = MIGRATIONS.len();

/// Applies the migrations a database lacks, each in its own transaction.
///
/// # Errors
/// A database newer than this binary, or a failed statement.
pub fn apply(connection: &mut Connection) -> anyhow::Result<()> {
    let current: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > LATEST_VERSION {
        anyhow::bail!(
            "database schema version {current} is newer than this passerelle supports ({LATEST_VERSION}); \
             upgrade passerelle"
        );
    }
    if current == 0 {
        let tables: Vec<String> = connection
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
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        transaction.pragma_update(None, "user_version", (index + 1) as i64)?;
        transaction.commit()?;
    }
    Ok(())
}

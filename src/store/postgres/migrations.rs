//! Schema migrations of a Postgres database, embedded in the binary and
//! applied in order when a database is opened. The one row of
//! `passerelle_schema` records the last one applied.

use deadpool_postgres::Object;

use super::connect::wait;

/// Migrations in order; the version of each is its position plus one.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_initial.sql")];

/// Schema version of a database with every migration applied.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// Key of the advisory lock that makes workers opening a new database at
/// once apply the migrations one after the other.
const MIGRATION_LOCK: i64 = 0x7061_7373_6d69_6772;

/// Whether `passerelle_schema` exists, read through pg_tables with the
/// statement's snapshot: `to_regclass` may read a cache that still
/// misses a table another worker created while this one waited for the
/// migration lock.
const SCHEMA_TABLE_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM pg_tables
     WHERE schemaname = current_schema() AND tablename = 'passerelle_schema')";

/// Returns the schema version of the database, 0 when passerelle never
/// wrote to it.
///
/// # Errors
/// A database error.
pub fn version(client: &Object) -> anyhow::Result<i64> {
    let exists: bool = wait(client.query_one(SCHEMA_TABLE_EXISTS, &[]))?.get(0);
    if !exists {
        return Ok(0);
    }
    Ok(wait(client.query_one("SELECT version FROM passerelle_schema", &[]))?.get(0))
}

/// Applies the migrations a database lacks, in one transaction.
///
/// # Errors
/// A database newer than this binary, tables passerelle did not create, or
/// a failed statement.
pub fn apply(client: &mut Object) -> anyhow::Result<()> {
    if version(client)? == LATEST_VERSION {
        return Ok(());
    }
    let transaction = wait(client.transaction())?;
    wait(transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]))?;
    let exists: bool = wait(transaction.query_one(SCHEMA_TABLE_EXISTS, &[]))?.get(0);
    let current: i64 = if exists {
        wait(transaction.query_one("SELECT version FROM passerelle_schema", &[]))?.get(0)
    } else {
        0
    };
    if current > LATEST_VERSION {
        anyhow::bail!(
            "database schema version {current} is newer than this passerelle supports ({LATEST_VERSION}); \
             upgrade passerelle"
        );
    }
    if current == 0 {
        let rows = wait(transaction.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()
               AND tablename IN ('integrations', 'runs', 'listings', 'photos', 'locks')
             ORDER BY tablename",
            &[],
        ))?;
        if !rows.is_empty() {
            let tables: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
            anyhow::bail!(
                "the database already has tables that passerelle did not create ({}); use a database of its own",
                tables.join(", ")
            );
        }
        wait(transaction.batch_execute(
            "CREATE TABLE passerelle_schema (version BIGINT NOT NULL);
             INSERT INTO passerelle_schema VALUES (0);",
        ))?;
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        wait(transaction.batch_execute(sql))?;
        wait(transaction.execute(
            "UPDATE passerelle_schema SET version = $1",
            &[&(index as i64 + 1)],
        ))?;
    }
    wait(transaction.commit())?;
    Ok(())
}

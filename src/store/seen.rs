//! Source ids already read in one pass over a feed, to find duplicates
//! without memory that grows with the feed.

use rusqlite::{Connection, params};

/// A set of source ids, each with the line it was first read at, kept in a
/// private temporary SQLite file that is deleted when the set is dropped.
pub struct SeenIds {
    connection: Connection,
}

impl SeenIds {
    /// # Errors
    /// SQLite cannot create its temporary file.
    pub fn new() -> anyhow::Result<Self> {
        // An empty path opens a private on-disk database that SQLite deletes on close.
        let connection = Connection::open("")?;
        connection.execute_batch(
            "PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             CREATE TABLE seen (source_id TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID;",
        )?;
        Ok(Self { connection })
    }

    /// Records `source_id` as read at `line`. Returns the line it was first
    /// read at when it was already in the set.
    ///
    /// # Errors
    /// SQLite cannot write its temporary file.
    pub fn insert(&self, source_id: &str, line: u64) -> anyhow::Result<Option<u64>> {
        let mut insert = self
            .connection
            .prepare_cached("INSERT INTO seen (source_id, line) VALUES (?1, ?2) ON CONFLICT DO NOTHING")?;
        if insert.execute(params![source_id, line as i64])? == 1 {
            return Ok(None);
        }
        let mut select = self
            .connection
            .prepare_cached("SELECT line FROM seen WHERE source_id = ?1")?;
        let first: i64 = select.query_row([source_id], |row| row.get(0))?;
        Ok(Some(first as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_insert_returns_first_line() {
        let seen = SeenIds::new().unwrap();
        assert_eq!(seen.insert("A-1", 1).unwrap(), None);
        assert_eq!(seen.insert("A-2", 2).unwrap(), None);
        assert_eq!(seen.insert("A-1", 9).unwrap(), Some(1));
        assert_eq!(seen.insert("a-1", 10).unwrap(), None, "ids are compared exactly");
    }
}

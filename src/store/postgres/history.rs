//! The run history as Postgres stores it.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PostgresStore, text};
use crate::store::history::{HistoryStore, RUN_COLUMNS, RunFilter, RunRecord, StoredIssue};
use crate::store::{RunCounts, RunId};

fn run_record(row: &Row) -> RunRecord {
    let count = |index| row.get::<_, i64>(index) as u64;
    RunRecord {
        id: row.get(0),
        crm: row.get(1),
        agency_code: row.get(2),
        source: row.get(3),
        trigger: row.get(19),
        forced: row.get(23),
        started_at: row.get(4),
        finished_at: row.get(5),
        status: row.get(6),
        counts: RunCounts {
            seen: count(7),
            created: count(8),
            updated: count(9),
            unchanged: count(10),
            withdrawn: count(11),
            rejected: count(12),
            skipped: count(13),
            kept: count(14),
            warnings: count(15),
            deleted: count(18),
            photos_stored: count(20),
            photos_reused: count(21),
            photos_failed: count(22),
        },
        guard_reason: row.get(16),
        error: row.get(17),
    }
}

impl HistoryStore for PostgresStore {
    fn last_run_status(&self, crm: &str, agency_code: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .query_opt(
                "SELECT r.status FROM runs r JOIN integrations i ON i.id = r.integration_id
                 WHERE i.crm = $1 AND i.agency_code = $2 ORDER BY r.id DESC LIMIT 1",
                &[&text(crm), &text(agency_code)],
            )?
            .map(|row| row.get(0)))
    }

    fn list_runs(&self, filter: &RunFilter) -> anyhow::Result<Vec<RunRecord>> {
        let mut conditions = Vec::new();
        let mut values: Vec<&(dyn ToSql + Sync)> = Vec::new();
        for (column, value) in [
            ("i.crm", &filter.crm),
            ("i.agency_code", &filter.agency_code),
            ("r.status", &filter.status),
        ] {
            if let Some(value) = value {
                values.push(value);
                conditions.push(format!("{column} = ${}", values.len()));
            }
        }
        let condition = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs r JOIN integrations i ON i.id = r.integration_id {condition}
             ORDER BY r.id DESC LIMIT {}",
            filter.limit
        );
        Ok(self.query(&sql, &values)?.iter().map(run_record).collect())
    }

    fn find_run(&self, id: RunId) -> anyhow::Result<Option<RunRecord>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs r JOIN integrations i ON i.id = r.integration_id WHERE r.id = $1"
        );
        Ok(self.query_opt(&sql, &[&id])?.as_ref().map(run_record))
    }

    fn run_issues(&self, id: RunId) -> anyhow::Result<Vec<StoredIssue>> {
        let rows = self.query(
            "SELECT severity, file, line, source_id, column_rank, column_name, value, message
             FROM run_errors WHERE run_id = $1 ORDER BY line, id",
            &[&id],
        )?;
        Ok(rows
            .iter()
            .map(|row| StoredIssue {
                severity: row.get(0),
                file: row.get(1),
                line: row.get::<_, i64>(2) as u64,
                source_id: row.get(3),
                column_rank: row.get::<_, Option<i64>>(4).map(|rank| rank as u64),
                column_name: row.get(5),
                value: row.get(6),
                message: row.get(7),
            })
            .collect())
    }
}

//! Listing writes buffered for Postgres and sent as one multi-row statement
//! per kind: each column travels as an array, and `unnest` turns the
//! arrays back into rows on the server. The writes of a message of 128
//! operations then cost at most five round trips instead of hundreds.
//!
//! A binary `COPY` of the new listings was tried instead of `unnest`, and
//! made a first import of 100,000 listings take about 1.5 times as long.

use deadpool_postgres::Object;

use super::connect::wait;
use super::text;
use crate::record::RecordIssue;

/// A listing to insert, with the id taken from the sequence beforehand.
pub struct NewListing {
    pub id: i64,
    pub integration: i64,
    pub run: i64,
    pub columns: ListingColumns,
    pub photos_pending: bool,
}

/// A listing whose content changed.
pub struct ChangedListing {
    pub id: i64,
    pub run: i64,
    pub columns: ListingColumns,
}

/// The columns an insert and an update both write.
pub struct ListingColumns {
    pub source_id: String,
    pub reference: Option<String>,
    pub transaction_kind: &'static str,
    pub property_kind: &'static str,
    pub price: Option<f64>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub title: Option<String>,
    pub content_hash: Vec<u8>,
    pub data: String,
    pub raw: String,
    pub at: String,
}

#[derive(Default)]
pub struct WriteBatch {
    pub inserts: Vec<NewListing>,
    pub updates: Vec<ChangedListing>,
    /// Listing, time and run of each withdrawal.
    pub withdrawals: Vec<(i64, String, i64)>,
    /// Listing and line of each listing the import read.
    pub seen: Vec<(i64, i64)>,
    pub issues: Vec<(i64, RecordIssue)>,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.inserts.is_empty()
            && self.updates.is_empty()
            && self.withdrawals.is_empty()
            && self.seen.is_empty()
            && self.issues.is_empty()
    }

    /// Sends the batch. The order matters: a listing is inserted or updated
    /// before it is withdrawn, as the writer decided it in that order.
    ///
    /// # Errors
    /// A database error.
    pub fn send(self, client: &Object, tracker: i64) -> anyhow::Result<()> {
        if !self.inserts.is_empty() {
            send_inserts(client, &self.inserts)?;
        }
        if !self.updates.is_empty() {
            send_updates(client, &self.updates)?;
        }
        if !self.withdrawals.is_empty() {
            let ids: Vec<i64> = self.withdrawals.iter().map(|(id, _, _)| *id).collect();
            let times: Vec<&str> = self.withdrawals.iter().map(|(_, at, _)| at.as_str()).collect();
            let runs: Vec<i64> = self.withdrawals.iter().map(|(_, _, run)| *run).collect();
            execute(
                client,
                "UPDATE listings SET withdrawn_at = w.at, last_changed_at = w.at, last_run_id = w.run
                 FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS w (id, at, run)
                 WHERE listings.id = w.id",
                &[&ids, &times, &runs],
            )?;
        }
        if !self.seen.is_empty() {
            let ids: Vec<i64> = self.seen.iter().map(|(id, _)| *id).collect();
            let lines: Vec<i64> = self.seen.iter().map(|(_, line)| *line).collect();
            execute(
                client,
                "INSERT INTO import_seen (tracker, listing_id, line)
                 SELECT $1, * FROM unnest($2::bigint[], $3::bigint[])
                 ON CONFLICT DO NOTHING",
                &[&tracker, &ids, &lines],
            )?;
        }
        if !self.issues.is_empty() {
            send_issues(client, &self.issues)?;
        }
        Ok(())
    }
}

fn execute(
    client: &Object,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> anyhow::Result<()> {
    wait(async {
        let statement = client.prepare_cached(sql).await?;
        client.execute(&statement, params).await
    })?;
    Ok(())
}

/// The listing columns of a batch, one array per column.
#[derive(Default)]
struct ColumnArrays<'a> {
    source_ids: Vec<std::borrow::Cow<'a, str>>,
    references: Vec<Option<std::borrow::Cow<'a, str>>>,
    transaction_kinds: Vec<&'static str>,
    property_kinds: Vec<&'static str>,
    prices: Vec<Option<f64>>,
    postal_codes: Vec<Option<std::borrow::Cow<'a, str>>>,
    cities: Vec<Option<std::borrow::Cow<'a, str>>>,
    titles: Vec<Option<std::borrow::Cow<'a, str>>>,
    hashes: Vec<&'a [u8]>,
    data: Vec<&'a str>,
    raw: Vec<&'a str>,
    times: Vec<&'a str>,
}

impl<'a> ColumnArrays<'a> {
    fn push(&mut self, columns: &'a ListingColumns) {
        self.source_ids.push(text(&columns.source_id));
        self.references.push(columns.reference.as_deref().map(text));
        self.transaction_kinds.push(columns.transaction_kind);
        self.property_kinds.push(columns.property_kind);
        self.prices.push(columns.price);
        self.postal_codes.push(columns.postal_code.as_deref().map(text));
        self.cities.push(columns.city.as_deref().map(text));
        self.titles.push(columns.title.as_deref().map(text));
        self.hashes.push(&columns.content_hash);
        self.data.push(&columns.data);
        self.raw.push(&columns.raw);
        self.times.push(&columns.at);
    }
}

fn send_inserts(client: &Object, inserts: &[NewListing]) -> anyhow::Result<()> {
    let mut columns = ColumnArrays::default();
    let mut ids = Vec::with_capacity(inserts.len());
    let mut integrations = Vec::with_capacity(inserts.len());
    let mut runs = Vec::with_capacity(inserts.len());
    let mut pending = Vec::with_capacity(inserts.len());
    for insert in inserts {
        ids.push(insert.id);
        integrations.push(insert.integration);
        runs.push(insert.run);
        pending.push(insert.photos_pending);
        columns.push(&insert.columns);
    }
    execute(
        client,
        "INSERT INTO listings (id, integration_id, source_id, reference, transaction_kind, property_kind, price,
             postal_code, city, title, content_hash, data, raw, first_seen_at, last_changed_at, last_run_id,
             photos_pending)
         SELECT id, integration_id, source_id, reference, transaction_kind, property_kind, price, postal_code,
             city, title, content_hash, data, raw, at, at, run, photos_pending
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
             $7::float8[], $8::text[], $9::text[], $10::text[], $11::bytea[], $12::text[], $13::text[],
             $14::text[], $15::bigint[], $16::boolean[])
             AS n (id, integration_id, source_id, reference, transaction_kind, property_kind, price,
                   postal_code, city, title, content_hash, data, raw, at, run, photos_pending)",
        &[
            &ids,
            &integrations,
            &columns.source_ids,
            &columns.references,
            &columns.transaction_kinds,
            &columns.property_kinds,
            &columns.prices,
            &columns.postal_codes,
            &columns.cities,
            &columns.titles,
            &columns.hashes,
            &columns.data,
            &columns.raw,
            &columns.times,
            &runs,
            &pending,
        ],
    )
}

fn send_updates(client: &Object, updates: &[ChangedListing]) -> anyhow::Result<()> {
    let mut columns = ColumnArrays::default();
    let mut ids = Vec::with_capacity(updates.len());
    let mut runs = Vec::with_capacity(updates.len());
    for update in updates {
        ids.push(update.id);
        runs.push(update.run);
        columns.push(&update.columns);
    }
    execute(
        client,
        "UPDATE listings SET reference = u.reference, transaction_kind = u.transaction_kind,
             property_kind = u.property_kind, price = u.price, postal_code = u.postal_code, city = u.city,
             title = u.title, content_hash = u.content_hash, data = u.data, raw = u.raw,
             last_changed_at = u.at, last_run_id = u.run, withdrawn_at = NULL, photos_pending = true
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::text[], $7::text[],
             $8::text[], $9::bytea[], $10::text[], $11::text[], $12::text[], $13::bigint[])
             AS u (id, reference, transaction_kind, property_kind, price, postal_code, city, title,
                   content_hash, data, raw, at, run)
         WHERE listings.id = u.id",
        &[
            &ids,
            &columns.references,
            &columns.transaction_kinds,
            &columns.property_kinds,
            &columns.prices,
            &columns.postal_codes,
            &columns.cities,
            &columns.titles,
            &columns.hashes,
            &columns.data,
            &columns.raw,
            &columns.times,
            &runs,
        ],
    )
}

fn send_issues(client: &Object, issues: &[(i64, RecordIssue)]) -> anyhow::Result<()> {
    let runs: Vec<i64> = issues.iter().map(|(run, _)| *run).collect();
    let severities: Vec<&str> = issues.iter().map(|(_, issue)| issue.severity.as_str()).collect();
    let files: Vec<_> = issues.iter().map(|(_, issue)| text(&issue.file)).collect();
    let lines: Vec<i64> = issues.iter().map(|(_, issue)| issue.line as i64).collect();
    let source_ids: Vec<_> = issues
        .iter()
        .map(|(_, issue)| issue.source_id.as_deref().map(text))
        .collect();
    let ranks: Vec<Option<i64>> = issues
        .iter()
        .map(|(_, issue)| issue.rank.map(|rank| rank as i64))
        .collect();
    let column_names: Vec<_> = issues
        .iter()
        .map(|(_, issue)| issue.column.as_deref().map(text))
        .collect();
    let values: Vec<_> = issues
        .iter()
        .map(|(_, issue)| issue.value.as_deref().map(text))
        .collect();
    let messages: Vec<_> = issues.iter().map(|(_, issue)| text(&issue.reason)).collect();
    execute(
        client,
        "INSERT INTO run_errors (run_id, severity, file, line, source_id, column_rank, column_name, value, message)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[],
             $7::text[], $8::text[], $9::text[])",
        &[
            &runs,
            &severities,
            &files,
            &lines,
            &source_ids,
            &ranks,
            &column_names,
            &values,
            &messages,
        ],
    )
}

//! Integrations, runs and listings in Postgres.
//!
//! The writer of an import prefetches the stored state of each message's
//! listings in one query. The lookups and seen marks that follow read
//! [`ListingCache`], and the writes they lead to wait in the store's
//! [`WriteBatch`](super::writes::WriteBatch).

use std::collections::HashMap;

use chrono::{SecondsFormat, Utc};

use super::writes::{ChangedListing, ListingColumns, NewListing};
use super::{PostgresStore, Transaction, optional_text, text};
use crate::record::RecordIssue;
use crate::store::{
    IntegrationId, ListingId, ListingRow, ListingStore, RunCounts, RunId, RunStatus, StoredListing, timestamp,
};

/// Ids taken from the listing sequence at once.
const IDS_PER_REQUEST: i64 = 1_000;

/// Imports whose seen rows are older than this are over; their rows go.
const STALE_TRACKER_SECONDS: i64 = 24 * 3600;

/// Bits of a tracker below its start time, random so that two imports
/// starting in the same second get different trackers.
const TRACKER_RANDOM_BITS: u32 = 20;

/// A listing as the current message's prefetch found it.
struct CachedListing {
    stored: StoredListing,
    /// The line the import first read it at, once seen.
    seen_at: Option<u64>,
}

/// Stored state of the listings of the message being written.
#[derive(Default)]
pub struct ListingCache {
    integration: Option<IntegrationId>,
    /// By source id; `None` for a source id the prefetch did not find.
    by_source_id: HashMap<String, Option<ListingId>>,
    by_id: HashMap<ListingId, CachedListing>,
}

impl ListingCache {
    fn clear(&mut self) {
        self.integration = None;
        self.by_source_id.clear();
        self.by_id.clear();
    }
}

/// Returns a tracker for a new import: its start time in the high bits, so stale
/// rows can be found by value, and random low bits.
fn new_tracker() -> i64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = Utc::now();
    let mut hasher = blake3::Hasher::new();
    hasher.update(&std::process::id().to_le_bytes());
    hasher.update(&now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
    hasher.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let random = u64::from_le_bytes(hasher.finalize().as_bytes()[..8].try_into().unwrap_or_default());
    (now.timestamp() << TRACKER_RANDOM_BITS) | (random & ((1 << TRACKER_RANDOM_BITS) - 1)) as i64
}

fn columns(row: &ListingRow<'_>, raw: &str) -> ListingColumns {
    let listing = row.listing;
    ListingColumns {
        source_id: listing.source_id.clone(),
        reference: listing.reference.clone(),
        transaction_kind: listing.transaction.kind.as_str(),
        property_kind: listing.property.kind.as_str(),
        price: listing.price.as_ref().map(|price| price.amount),
        postal_code: listing.postal_code.clone(),
        city: listing.city.clone(),
        title: listing.title.clone(),
        content_hash: row.content_hash.to_vec(),
        data: row.data.to_string(),
        raw: raw.to_string(),
        at: timestamp(),
    }
}

fn stored_listing(row: &tokio_postgres::Row) -> StoredListing {
    let hash: Vec<u8> = row.get(1);
    StoredListing {
        id: row.get(0),
        content_hash: hash.try_into().unwrap_or([0; 32]),
        withdrawn: row.get(2),
    }
}

impl PostgresStore {
    /// Runs `statements` with the planner set to match the whole list of
    /// seen listings against the agency's listings at once, by hash or
    /// merge. With statistics on `import_seen`, it otherwise chose a nested
    /// loop that compared every pair, and an import of 50,000 listings
    /// spent a minute finding the ones its feed lacked.
    fn with_hash_joins<T>(&self, statements: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
        self.batch_execute("SET enable_nestloop = off; SET enable_seqscan = on")?;
        let result = statements();
        let reset = self.batch_execute("RESET enable_nestloop; SET enable_seqscan = off");
        // A failed statement aborted the transaction, and the reset with it;
        // its error is the one to report.
        let value = result?;
        reset?;
        Ok(value)
    }

    /// Stores a run's counts.
    fn write_counts(&self, run: RunId, counts: &RunCounts) -> anyhow::Result<()> {
        let values = counts.column_values();
        self.execute(
            "UPDATE runs SET seen = $2, created = $3, updated = $4, unchanged = $5, withdrawn = $6, rejected = $7,
                 skipped = $8, kept = $9, warnings = $10, deleted = $11, photos_stored = $12,
                 photos_reused = $13, photos_failed = $14
             WHERE id = $1",
            &[
                &run, &values[0], &values[1], &values[2], &values[3], &values[4], &values[5], &values[6],
                &values[7], &values[8], &values[9], &values[10], &values[11], &values[12],
            ],
        )?;
        Ok(())
    }

    /// Returns an unused listing id, taking a block from the sequence when
    /// none is left.
    fn next_listing_id(&self) -> anyhow::Result<ListingId> {
        if let Some(id) = self.state.borrow_mut().spare_ids.pop() {
            return Ok(id);
        }
        let rows = self.query(
            "SELECT nextval(pg_get_serial_sequence('listings', 'id')) FROM generate_series(1, $1::bigint)",
            &[&IDS_PER_REQUEST],
        )?;
        let mut ids: Vec<i64> = rows.iter().map(|row| row.get(0)).collect();
        ids.reverse();
        let id = ids
            .pop()
            .ok_or_else(|| anyhow::anyhow!("the listing sequence returned no id"))?;
        self.state.borrow_mut().spare_ids = ids;
        Ok(id)
    }
}

impl ListingStore for PostgresStore {
    fn begin(&self) -> anyhow::Result<()> {
        let mut state = self.state.borrow_mut();
        if state.transaction != Transaction::None {
            anyhow::bail!("a transaction is already open on this connection");
        }
        state.transaction = Transaction::Requested;
        Ok(())
    }

    fn begin_read(&self) -> anyhow::Result<()> {
        self.begin()
    }

    fn commit(&self) -> anyhow::Result<()> {
        let (transaction, buffered) = {
            let state = self.state.borrow();
            (state.transaction, !state.pending.is_empty())
        };
        // Writes that never reached the server still go in one transaction.
        if transaction == Transaction::Requested && buffered {
            self.start_transaction()?;
        }
        if self.state.borrow().transaction == Transaction::Open {
            self.guard(|| {
                self.flush()?;
                super::connect::wait(self.client.borrow().batch_execute("COMMIT"))?;
                Ok(())
            })?;
        }
        self.state.borrow_mut().transaction = Transaction::None;
        Ok(())
    }

    fn rollback(&self) -> anyhow::Result<()> {
        let mut state = self.state.borrow_mut();
        let open = state.transaction == Transaction::Open;
        state.transaction = Transaction::None;
        state.pending = Default::default();
        state.listings.clear();
        drop(state);
        if open {
            super::connect::wait(self.client.borrow().batch_execute("ROLLBACK"))?;
        }
        Ok(())
    }

    fn find_integration(&self, crm: &str, agency_code: &str) -> anyhow::Result<Option<IntegrationId>> {
        Ok(self
            .query_opt(
                "SELECT id FROM integrations WHERE crm = $1 AND agency_code = $2",
                &[&text(crm), &text(agency_code)],
            )?
            .map(|row| row.get(0)))
    }

    fn integration(
        &self,
        crm: &str,
        agency_code: &str,
        organization: Option<&str>,
    ) -> anyhow::Result<IntegrationId> {
        Ok(self
            .query_one(
                "INSERT INTO integrations (crm, agency_code, organization, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (crm, agency_code)
                     DO UPDATE SET organization = coalesce(EXCLUDED.organization, integrations.organization)
                 RETURNING id",
                &[
                    &text(crm),
                    &text(agency_code),
                    &optional_text(organization),
                    &timestamp(),
                ],
            )?
            .get(0))
    }

    fn mark_interrupted_runs(&self, integration: IntegrationId) -> anyhow::Result<usize> {
        let changed = self.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = $2 WHERE integration_id = $1 AND status = 'running'",
            &[&integration, &timestamp()],
        )?;
        Ok(changed as usize)
    }

    fn begin_run(
        &self,
        integration: IntegrationId,
        source: &str,
        trigger: &str,
        forced: bool,
    ) -> anyhow::Result<RunId> {
        let run: RunId = self
            .query_one(
                "INSERT INTO runs (integration_id, source, trigger, started_at, status, forced)
                 VALUES ($1, $2, $3, $4, 'running', $5) RETURNING id",
                &[&integration, &text(source), &trigger, &timestamp(), &forced],
            )?
            .get(0);
        self.start_run_events(run, integration)?;
        Ok(run)
    }

    fn active_count(&self, integration: IntegrationId) -> anyhow::Result<u64> {
        let count: i64 = self
            .query_one(
                "SELECT count(*) FROM listings WHERE integration_id = $1 AND withdrawn_at IS NULL",
                &[&integration],
            )?
            .get(0);
        Ok(count as u64)
    }

    fn prefetch_listings(&self, integration: IntegrationId, source_ids: &[&str]) -> anyhow::Result<()> {
        let keys: Vec<_> = source_ids.iter().map(|source_id| text(source_id)).collect();
        let tracker = self.state.borrow().tracker;

        // The seen line is a subquery per listing, which can only look the
        // row up by its key. As a join, with statistics taken while the
        // table was empty, the planner hashed all the import's seen rows for
        // every message, and a re-import of 50,000 listings took 30 s.
        let rows = self.query(
            "SELECT l.id, l.content_hash, l.withdrawn_at IS NOT NULL, l.source_id,
                 (SELECT s.line FROM import_seen s WHERE s.tracker = $3 AND s.listing_id = l.id)
             FROM listings l
             WHERE l.integration_id = $1 AND l.source_id = ANY($2)",
            &[&integration, &keys, &tracker],
        )?;

        let mut state = self.state.borrow_mut();
        let cache = &mut state.listings;
        cache.clear();
        cache.integration = Some(integration);
        for key in keys {
            cache.by_source_id.insert(key.into_owned(), None);
        }

        for row in &rows {
            let stored = stored_listing(row);
            let source_id: String = row.get(3);
            let seen_at: Option<i64> = row.get(4);
            cache.by_source_id.insert(source_id, Some(stored.id));
            cache.by_id.insert(
                stored.id,
                CachedListing {
                    stored,
                    seen_at: seen_at.map(|line| line as u64),
                },
            );
        }
        Ok(())
    }

    fn find_listing(
        &self,
        integration: IntegrationId,
        source_id: &str,
    ) -> anyhow::Result<Option<StoredListing>> {
        {
            let state = self.state.borrow();
            let cache = &state.listings;
            if cache.integration == Some(integration)
                && let Some(found) = cache.by_source_id.get(text(source_id).as_ref())
            {
                return Ok(found.and_then(|id| cache.by_id.get(&id).map(|cached| cached.stored.clone())));
            }
        }
        Ok(self
            .query_opt(
                "SELECT id, content_hash, withdrawn_at IS NOT NULL FROM listings
                 WHERE integration_id = $1 AND source_id = $2",
                &[&integration, &text(source_id)],
            )?
            .map(|row| stored_listing(&row)))
    }

    fn find_by_reference(
        &self,
        integration: IntegrationId,
        reference: &str,
    ) -> anyhow::Result<Option<(ListingId, String)>> {
        let rows = self.query(
            "SELECT id, source_id FROM listings WHERE integration_id = $1 AND reference = $2 LIMIT 2",
            &[&integration, &text(reference)],
        )?;
        Ok(match rows.as_slice() {
            [row] => Some((row.get(0), row.get(1))),
            _ => None,
        })
    }

    fn insert_listing(
        &self,
        integration: IntegrationId,
        run: RunId,
        row: &ListingRow<'_>,
        raw: &str,
    ) -> anyhow::Result<ListingId> {
        let id = self.next_listing_id()?;
        let listing = NewListing {
            id,
            integration,
            run,
            columns: columns(row, raw),
            photos_pending: !row.listing.photos.is_empty(),
        };
        let mut state = self.state.borrow_mut();
        state.events.wrote(id, row.listing.reference.as_deref());
        let cache = &mut state.listings;
        if cache.integration == Some(integration) {
            cache
                .by_source_id
                .insert(text(&row.listing.source_id).into_owned(), Some(id));
            cache.by_id.insert(
                id,
                CachedListing {
                    stored: StoredListing {
                        id,
                        content_hash: row.content_hash,
                        withdrawn: false,
                    },
                    seen_at: None,
                },
            );
        }
        state.pending.inserts.push(listing);
        drop(state);
        self.flush_unless_in_transaction()?;
        Ok(id)
    }

    fn update_listing(
        &self,
        id: ListingId,
        run: RunId,
        row: &ListingRow<'_>,
        raw: &str,
    ) -> anyhow::Result<()> {
        let mut state = self.state.borrow_mut();
        state.events.wrote(id, row.listing.reference.as_deref());
        if let Some(cached) = state.listings.by_id.get_mut(&id) {
            cached.stored.content_hash = row.content_hash;
            cached.stored.withdrawn = false;
        }
        state.pending.updates.push(ChangedListing {
            id,
            run,
            columns: columns(row, raw),
        });
        drop(state);
        self.flush_unless_in_transaction()
    }

    fn withdraw_listing(&self, id: ListingId, run: RunId) -> anyhow::Result<()> {
        let mut state = self.state.borrow_mut();
        if let Some(cached) = state.listings.by_id.get_mut(&id) {
            cached.stored.withdrawn = true;
        }
        state.pending.withdrawals.push((id, timestamp(), run));
        drop(state);
        self.flush_unless_in_transaction()
    }

    fn record_issue(&self, run: RunId, issue: &RecordIssue) -> anyhow::Result<()> {
        self.state.borrow_mut().pending.issues.push((run, issue.clone()));
        self.flush_unless_in_transaction()
    }

    fn start_seen_tracking(&self) -> anyhow::Result<()> {
        let tracker = new_tracker();
        let stale = (Utc::now().timestamp() - STALE_TRACKER_SECONDS) << TRACKER_RANDOM_BITS;
        let previous = self.state.borrow().tracker;
        for table in ["import_seen", "import_new_ids"] {
            self.execute(
                &format!("DELETE FROM {table} WHERE tracker = $1 OR tracker < $2"),
                &[&previous, &stale],
            )?;
        }
        let mut state = self.state.borrow_mut();
        state.tracker = tracker;
        state.listings.clear();
        Ok(())
    }

    fn mark_seen(&self, id: ListingId, line: u64) -> anyhow::Result<Option<u64>> {
        {
            let mut state = self.state.borrow_mut();
            if let Some(cached) = state.listings.by_id.get_mut(&id) {
                if let Some(first) = cached.seen_at {
                    return Ok(Some(first));
                }
                cached.seen_at = Some(line);
                state.pending.seen.push((id, line as i64));
                drop(state);
                self.flush_unless_in_transaction()?;
                return Ok(None);
            }
        }
        let tracker = self.state.borrow().tracker;
        let inserted = self.execute(
            "INSERT INTO import_seen (tracker, listing_id, line) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&tracker, &id, &(line as i64)],
        )?;
        if inserted == 1 {
            return Ok(None);
        }
        let first: i64 = self
            .query_one(
                "SELECT line FROM import_seen WHERE tracker = $1 AND listing_id = $2",
                &[&tracker, &id],
            )?
            .get(0);
        Ok(Some(first as u64))
    }

    fn mark_new(&self, source_id: &str, line: u64) -> anyhow::Result<Option<u64>> {
        let tracker = self.state.borrow().tracker;
        let inserted = self.execute(
            "INSERT INTO import_new_ids (tracker, source_id, line) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&tracker, &text(source_id), &(line as i64)],
        )?;
        if inserted == 1 {
            return Ok(None);
        }
        let first: i64 = self
            .query_one(
                "SELECT line FROM import_new_ids WHERE tracker = $1 AND source_id = $2",
                &[&tracker, &text(source_id)],
            )?
            .get(0);
        Ok(Some(first as u64))
    }

    fn count_unseen(&self, integration: IntegrationId) -> anyhow::Result<u64> {
        let tracker = self.state.borrow().tracker;
        let count: i64 = self.with_hash_joins(|| {
            Ok(self
                .query_one(
                    "SELECT count(*) FROM listings l WHERE l.integration_id = $1 AND l.withdrawn_at IS NULL
                       AND NOT EXISTS (SELECT 1 FROM import_seen s WHERE s.tracker = $2 AND s.listing_id = l.id)",
                    &[&integration, &tracker],
                )?
                .get(0))
        })?;
        Ok(count as u64)
    }

    fn withdraw_unseen(&self, integration: IntegrationId, run: RunId) -> anyhow::Result<u64> {
        let tracker = self.state.borrow().tracker;
        self.with_hash_joins(|| {
            self.execute(
                "UPDATE listings l SET withdrawn_at = $3, last_changed_at = $3, last_run_id = $4
                 WHERE l.integration_id = $1 AND l.withdrawn_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM import_seen s WHERE s.tracker = $2 AND s.listing_id = l.id)",
                &[&integration, &tracker, &timestamp(), &run],
            )
        })
    }

    fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        counts: &RunCounts,
        guard_reason: Option<&str>,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        self.write_counts(run, counts)?;
        self.execute(
            "UPDATE runs SET finished_at = $2, status = $3, guard_reason = $4, error = $5 WHERE id = $1",
            &[
                &run,
                &timestamp(),
                &status.as_str(),
                &optional_text(guard_reason),
                &optional_text(error),
            ],
        )?;
        let tracker = self.state.borrow().tracker;
        self.execute("DELETE FROM import_seen WHERE tracker = $1", &[&tracker])?;
        self.publish_finished(run, status, counts, error)
    }

    fn record_counts(&self, run: RunId, counts: &RunCounts) -> anyhow::Result<()> {
        self.write_counts(run, counts)?;
        self.publish_progress(run, counts, false)
    }

    fn last_seen_count(&self, integration: IntegrationId) -> anyhow::Result<Option<u64>> {
        let count: Option<i64> = self
            .query_one(
                "SELECT last_seen_count FROM integrations WHERE id = $1",
                &[&integration],
            )?
            .get(0);
        Ok(count.map(|count| count as u64))
    }

    fn delete_withdrawn_before(&self, integration: IntegrationId, days: u32) -> anyhow::Result<u64> {
        let cutoff =
            (Utc::now() - chrono::Duration::days(i64::from(days))).to_rfc3339_opts(SecondsFormat::Secs, true);
        // The photos go with their listing; their files stay in the media
        // directory until `passerelle media gc`.
        self.execute(
            "DELETE FROM photos WHERE listing_id IN (SELECT id FROM listings
                 WHERE integration_id = $1 AND withdrawn_at IS NOT NULL AND withdrawn_at < $2)",
            &[&integration, &cutoff],
        )?;
        self.execute(
            "DELETE FROM listings WHERE integration_id = $1 AND withdrawn_at IS NOT NULL AND withdrawn_at < $2",
            &[&integration, &cutoff],
        )
    }

    fn record_good_run(&self, integration: IntegrationId, run: RunId, seen: u64) -> anyhow::Result<()> {
        self.execute(
            "UPDATE integrations SET last_good_run_id = $2, last_seen_count = $3 WHERE id = $1",
            &[&integration, &run, &(seen as i64)],
        )?;
        Ok(())
    }
}

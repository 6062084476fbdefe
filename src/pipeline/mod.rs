//! One import run: read the feed, convert each record, apply listings to the
//! store in batches, withdraw what the snapshot no longer holds (unless a
//! guard trips), and record the run with its counts and problems.
//!
//! Two threads share the work. This one reads, decodes and converts records
//! and hashes each listing; a writer thread ([`writer`]) owns the database
//! connection and applies listings. A bounded channel between them keeps
//! memory flat while both cores work.

mod writer;

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::thread;

use serde::Serialize;

use crate::crm::adapter::{Feed, ListingRead, RecordOutcome};
use crate::encoding::TextEncoding;
use crate::photos::{self, PhotoCounts, PhotoFiles, PhotoScope, PhotoSettings, StepTarget};
use crate::report::events::{Event, RunTag};
use crate::report::progress::RunProgress;
use crate::report::{Reporter, plural};
use crate::store::lock::LockToken;
use crate::store::{IntegrationId, RunCounts, RunId, RunStatus, Store};
use writer::{Target, WriteOp, Writer};

/// Listings written per transaction, at least: the writer commits at the
/// first message boundary past it. A killed run keeps whole batches only.
pub const BATCH_SIZE: usize = 1_000;

/// Operations sent to the writer in one message: handing them over one by
/// one costs a thread wake-up each.
const OPERATIONS_PER_MESSAGE: usize = 128;

/// Messages waiting for the writer at most, which bounds memory.
const CHANNEL_CAPACITY: usize = 8;

/// Settings of one import, besides those the adapter read the feed with.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The integration's name in the settings file, or `crm/agency`; it
    /// names the run in progress bars and events.
    pub integration: String,
    pub crm: String,
    pub agency_code: String,
    pub organization: Option<String>,
    /// Withdraw even when a guard would stop it.
    pub allow_mass_withdrawal: bool,
    /// Read and compare everything, write nothing.
    pub dry_run: bool,
    /// What becomes of listings a full snapshot no longer holds.
    pub withdrawal: WithdrawalPolicy,
    /// Smallest share of the last good run's listings a feed must hold for
    /// withdrawals to go ahead (0.5: half).
    pub min_share: f64,
    /// What started the run, recorded with it: `import` or `sync`.
    pub trigger: &'static str,
    /// Wait for another process's run of the same agency to end instead of
    /// stopping with the locked status.
    pub wait: bool,
    /// A lock the caller already holds for the whole run (sync holds it
    /// across the fetch); the import then neither takes nor releases one.
    pub held_lock: Option<LockToken>,
    /// The photo step after the listing data; `None` leaves photos alone.
    pub photos: Option<PhotoRun>,
}

/// Photo work a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoStep {
    /// Not looked at: `--no-photos`, or a dry run.
    Skipped,
    /// After the listing data.
    Ran,
    /// Alone: `--photos-only`.
    Only,
}

/// Photo settings of a run.
#[derive(Debug, Clone)]
pub struct PhotoRun {
    pub settings: PhotoSettings,
    pub scope: PhotoScope,
}

/// What becomes of the listings a full snapshot no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WithdrawalPolicy {
    /// Marked withdrawn, with the time; kept in the store.
    #[default]
    Mark,
    /// Never withdrawn for missing; the CRM's own withdrawals still apply.
    Keep,
    /// Marked withdrawn now, and deleted by a later run once withdrawn for
    /// this many days.
    DeleteAfter { days: u32 },
}

/// Share of the last good run's count below which a feed is suspicious.
pub const DEFAULT_MIN_SHARE: f64 = 0.5;

/// Outcome and counts of a run, as printed at its end.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// `None` for a dry run, whose run row was rolled back.
    pub run_id: Option<RunId>,
    pub status: RunStatus,
    pub source: String,
    pub encoding: Option<TextEncoding>,
    pub counts: RunCounts,
    pub guard_reason: Option<String>,
    /// Listings a tripped guard kept from being withdrawn.
    pub would_withdraw: u64,
    /// Records skipped because column 1 names another agency, by agency id.
    pub other_agencies: BTreeMap<String, u64>,
    pub dry_run: bool,
    /// Whether the photo step ran, and how.
    pub photo_step: PhotoStep,
}

/// Imports one agency's feed: listings are created, updated or left alone,
/// and, for a full snapshot, the agency's listings the feed lacks are
/// withdrawn unless a guard trips.
///
/// # Errors
/// The source cannot be read, another process is importing the same agency
/// ([`LockedError`](crate::store::lock::LockedError)), or the database cannot
/// be written. Batches committed before an error stay, and the run is
/// recorded as failed.
pub fn import(
    store: &mut dyn Store,
    feed: &mut dyn Feed,
    options: &ImportOptions,
    reporter: &mut Reporter,
) -> anyhow::Result<RunSummary> {
    let encoding = feed.encoding();
    let source = feed.source().to_string();

    if options.dry_run {
        if let Some(holder) = store.lock_holder(&options.crm, &options.agency_code)? {
            reporter.warn(&format!(
                "another run of {} {} is in progress ({holder}); this dry run compares with whatever it has \
                 written so far",
                options.crm, options.agency_code
            ));
        }
        let integration = store.find_integration(&options.crm, &options.agency_code)?;
        let (active_before, total) = match integration {
            Some(integration) => (
                store.active_count(integration)?,
                store.last_seen_count(integration)?,
            ),
            None => (0, None),
        };
        let progress = reporter.start_run(run_tag(options, None), &source, total, true);
        store.start_seen_tracking()?;
        store.begin_read()?;
        // The lists of seen listings are temporary tables, emptied by the
        // rollback, so the guard is evaluated before it.
        let result = run_feed(store, feed, reporter, Target::Nowhere { integration }, &progress)
            .map_err(|failure| failure.error)
            .and_then(|(mut counts, other_agencies)| {
                let trip = guard(
                    &counts,
                    store,
                    integration,
                    options,
                    &other_agencies,
                    active_before,
                    feed.is_full_snapshot(),
                )?;
                if trip.is_none()
                    && feed.is_full_snapshot()
                    && options.withdrawal != WithdrawalPolicy::Keep
                    && let Some(integration) = integration
                {
                    counts.withdrawn += store.count_unseen(integration)?;
                }
                Ok((counts, other_agencies, trip))
            });
        store.rollback()?;
        let (counts, other_agencies, trip) = result?;
        announce_trip(&progress, trip.as_ref());
        let (guard_reason, would_withdraw) =
            trip.map_or((None, 0), |trip| (Some(trip.reason), trip.would_withdraw));
        return Ok(RunSummary {
            run_id: None,
            status: status_of(&counts, guard_reason.as_deref()),
            source,
            encoding,
            counts,
            guard_reason,
            would_withdraw,
            other_agencies,
            dry_run: true,
            photo_step: PhotoStep::Skipped,
        });
    }

    let Some(lock) = &options.held_lock else {
        let lock = acquire_lock(store, &options.crm, &options.agency_code, options.wait, reporter)?;
        let result = import_locked(store, feed, options, reporter, &lock);
        // Release even after an error; a lock left behind would only expire.
        let released = store.release_lock(&lock);
        tracing::debug!(crm = %options.crm, agency_code = %options.agency_code, "lock released");
        let summary = result?;
        released?;
        return Ok(summary);
    };
    store.begin()?;
    import_locked(store, feed, options, reporter, lock)
}

/// Takes an integration's lock in a transaction left open for the caller
/// to commit. With `wait`, a lock held by another process is waited for.
///
/// # Errors
/// [`LockedError`](crate::store::lock::LockedError) without `wait`, or a
/// database error.
pub fn acquire_lock(
    store: &dyn Store,
    crm: &str,
    agency_code: &str,
    wait: bool,
    reporter: &mut Reporter,
) -> anyhow::Result<LockToken> {
    let mut waiting_announced = false;
    loop {
        store.begin()?;
        match store.acquire_lock(crm, agency_code) {
            Ok(lock) => {
                tracing::debug!(crm, agency_code, "lock taken");
                return Ok(lock);
            }
            Err(error) => {
                store.rollback()?;
                if !wait || !error.is::<crate::store::lock::LockedError>() {
                    return Err(error);
                }
                if !waiting_announced {
                    reporter.info(&format!("{error}; waiting (--wait)"));
                    waiting_announced = true;
                }
                std::thread::sleep(LOCK_POLL);
            }
        }
    }
}

/// Pause between two attempts to take a lock that another process holds.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs the part of a real import that needs the integration's lock, which
/// the caller took in the transaction still open here.
fn import_locked(
    store: &mut dyn Store,
    feed: &mut dyn Feed,
    options: &ImportOptions,
    reporter: &mut Reporter,
    lock: &LockToken,
) -> anyhow::Result<RunSummary> {
    let encoding = feed.encoding();
    let source = feed.source().to_string();
    let integration = store.integration(
        &options.crm,
        &options.agency_code,
        options.organization.as_deref(),
    )?;
    let interrupted = store.mark_interrupted_runs(integration)?;
    if interrupted > 0 {
        reporter.info(&format!(
            "{} of {} {} stopped before finishing; marked interrupted",
            plural(interrupted as u64, "earlier run"),
            options.crm,
            options.agency_code
        ));
    }
    let run = store.begin_run(
        integration,
        &source,
        options.trigger,
        options.allow_mass_withdrawal,
    )?;
    let active_before = store.active_count(integration)?;
    let total = store.last_seen_count(integration)?;
    store.commit()?;
    let progress = reporter.start_run(run_tag(options, Some(run)), &source, total, false);
    tracing::info!(run, %source, integration = %options.integration, "run started");
    let started = std::time::Instant::now();
    store.start_seen_tracking()?;
    store.begin()?;

    let target = Target::Store {
        integration,
        run,
        lock: lock.clone(),
    };
    let (mut counts, other_agencies) = match run_feed(store, feed, reporter, target, &progress) {
        Ok(result) => result,
        Err(failure) => {
            store.finish_run(
                run,
                RunStatus::Failed,
                &failure.counts,
                None,
                Some(&format!("{:#}", failure.error)),
            )?;
            store.commit()?;
            let written = failure.counts.created + failure.counts.updated;
            let stopped = FailedRun {
                run,
                counts: failure.counts,
            };
            return Err(if written > 0 {
                failure.error.context(stopped)
            } else {
                failure.error
            });
        }
    };

    tracing::info!(
        run,
        listings = counts.seen,
        rejected = counts.rejected,
        seconds = started.elapsed().as_secs_f64(),
        "listing step done"
    );
    if !feed.is_full_snapshot() {
        reporter.info(&format!(
            "{source} is not the agency's whole portfolio; no listing is withdrawn for missing from it"
        ));
    }
    let trip = guard(
        &counts,
        store,
        Some(integration),
        options,
        &other_agencies,
        active_before,
        feed.is_full_snapshot(),
    )?;
    announce_trip(&progress, trip.as_ref());
    let (guard_reason, would_withdraw) =
        trip.map_or((None, 0), |trip| (Some(trip.reason), trip.would_withdraw));
    if guard_reason.is_none() {
        if feed.is_full_snapshot() && options.withdrawal != WithdrawalPolicy::Keep {
            counts.withdrawn += store.withdraw_unseen(integration, run)?;
        }
        store.record_good_run(integration, run, counts.seen)?;
    }
    if let WithdrawalPolicy::DeleteAfter { days } = options.withdrawal {
        counts.deleted = store.delete_withdrawn_before(integration, days)?;
    }
    // The listing data is committed before the photos, which may take long.
    store.record_counts(run, &counts)?;
    store.commit()?;
    if let Some(photo_run) = &options.photos {
        let files = feed.photo_files();
        let processed = run_photo_step(
            store,
            integration,
            run,
            &source,
            files.as_ref(),
            photo_run,
            lock,
            reporter,
        );
        let photo_counts = fail_run_on_error(store, run, &counts, processed)?;
        tracing::info!(
            run,
            stored = photo_counts.stored,
            reused = photo_counts.reused,
            failed = photo_counts.failed,
            seconds = started.elapsed().as_secs_f64(),
            "photo step done"
        );
        add_photo_counts(&mut counts, photo_counts);
    }
    store.begin()?;
    let status = status_of(&counts, guard_reason.as_deref());
    store.finish_run(run, status, &counts, guard_reason.as_deref(), None)?;
    store.commit()?;

    Ok(RunSummary {
        run_id: Some(run),
        status,
        source,
        encoding,
        counts,
        guard_reason,
        would_withdraw,
        other_agencies,
        dry_run: false,
        photo_step: if options.photos.is_some() {
            PhotoStep::Ran
        } else {
            PhotoStep::Skipped
        },
    })
}

/// Processes the photos an earlier run left pending or failed, without
/// reading a feed; archive photos are taken from `files` when given. The
/// work is recorded as a run of its own.
///
/// # Errors
/// The integration has no listings yet, another process holds its lock,
/// or the media directory or the database cannot be written.
pub fn import_photos(
    store: &mut dyn Store,
    source: &str,
    files: Option<&PhotoFiles>,
    options: &ImportOptions,
    reporter: &mut Reporter,
) -> anyhow::Result<RunSummary> {
    let Some(photo_run) = &options.photos else {
        anyhow::bail!("photos are switched off for this run");
    };
    let Some(integration) = store.find_integration(&options.crm, &options.agency_code)? else {
        anyhow::bail!(
            "{} {} has no listings in the database yet; import its feed before --photos-only",
            options.crm,
            options.agency_code
        );
    };
    let owned_lock;
    let lock = match &options.held_lock {
        Some(lock) => lock,
        None => {
            owned_lock = acquire_lock(store, &options.crm, &options.agency_code, options.wait, reporter)?;
            store.commit()?;
            &owned_lock
        }
    };
    let result = (|| {
        store.begin()?;
        let run = store.begin_run(integration, source, options.trigger, false)?;
        store.commit()?;
        reporter.start_run(run_tag(options, Some(run)), source, None, false);
        let mut counts = RunCounts::default();
        let processed = run_photo_step(store, integration, run, source, files, photo_run, lock, reporter);
        let photo_counts = fail_run_on_error(store, run, &counts, processed)?;
        add_photo_counts(&mut counts, photo_counts);
        store.begin()?;
        let status = status_of(&counts, None);
        store.finish_run(run, status, &counts, None, None)?;
        store.commit()?;
        Ok(RunSummary {
            run_id: Some(run),
            status,
            source: source.to_string(),
            encoding: None,
            counts,
            guard_reason: None,
            would_withdraw: 0,
            other_agencies: BTreeMap::new(),
            dry_run: false,
            photo_step: PhotoStep::Only,
        })
    })();
    if options.held_lock.is_none() {
        let released = store.release_lock(lock);
        tracing::debug!(crm = %options.crm, agency_code = %options.agency_code, "lock released");
        let summary = result?;
        released?;
        return Ok(summary);
    }
    result
}

/// Runs the photo step of a run whose listing data is committed.
#[allow(clippy::too_many_arguments)]
fn run_photo_step(
    store: &dyn Store,
    integration: IntegrationId,
    run: RunId,
    source: &str,
    files: Option<&PhotoFiles>,
    photo_run: &PhotoRun,
    lock: &LockToken,
    reporter: &mut Reporter,
) -> anyhow::Result<PhotoCounts> {
    let target = StepTarget {
        integration,
        run: Some(run),
        source,
        lock: Some(lock),
    };
    photos::process(
        store,
        &target,
        files,
        &photo_run.settings,
        photo_run.scope,
        reporter,
    )
}

/// Passes the photo step's counts on; when the step itself failed (the
/// media directory cannot be written, say), records the run as failed
/// first. The listing data stays: it was committed before.
fn fail_run_on_error(
    store: &dyn Store,
    run: RunId,
    counts: &RunCounts,
    processed: anyhow::Result<PhotoCounts>,
) -> anyhow::Result<PhotoCounts> {
    match processed {
        Ok(photo_counts) => Ok(photo_counts),
        Err(error) => {
            let error = error.context("the photo step failed");
            store.begin()?;
            store.finish_run(run, RunStatus::Failed, counts, None, Some(&format!("{error:#}")))?;
            store.commit()?;
            Err(error)
        }
    }
}

fn add_photo_counts(counts: &mut RunCounts, photos: PhotoCounts) {
    counts.photos_stored += photos.stored;
    counts.photos_reused += photos.reused;
    counts.photos_failed += photos.failed;
}

/// A run that stopped on an unreadable feed after writing some listings:
/// what it wrote stays, and nothing was withdrawn.
#[derive(Debug, thiserror::Error)]
#[error(
    "run {run} stopped after writing {} ({} created, {} updated), which stay; nothing was withdrawn",
    plural(counts.created + counts.updated, "listing"),
    counts.created,
    counts.updated
)]
pub struct FailedRun {
    pub run: RunId,
    pub counts: RunCounts,
}

/// A feed that could not be read to its end, with the counts until then.
struct FeedFailure {
    error: anyhow::Error,
    counts: RunCounts,
}

impl From<anyhow::Error> for FeedFailure {
    fn from(error: anyhow::Error) -> Self {
        Self {
            error,
            counts: RunCounts::default(),
        }
    }
}

/// Reads the whole feed on this thread and applies it on a writer thread.
/// Returns the counts (withdrawals aside) and the records skipped per other
/// agency.
fn run_feed(
    store: &mut dyn Store,
    feed: &mut dyn Feed,
    reporter: &mut Reporter,
    target: Target,
    progress: &RunProgress,
) -> Result<(RunCounts, BTreeMap<String, u64>), FeedFailure> {
    let mut other_agencies = BTreeMap::new();
    let mut skipped = 0;
    let writer = Writer::new(store, feed.source().to_string(), target, progress.clone());

    let (sender, receiver) = mpsc::sync_channel::<Vec<WriteOp>>(CHANNEL_CAPACITY);
    let mut operations = Vec::with_capacity(OPERATIONS_PER_MESSAGE);
    let (read, written) = thread::scope(|scope| {
        let writing = scope.spawn(move || writer.run_until_closed(receiver));
        let read = feed.read(&mut |outcome| {
            let op = match outcome {
                RecordOutcome::OtherAgency(agency) => {
                    skipped += 1;
                    *other_agencies.entry(agency).or_default() += 1;
                    return Ok(true);
                }
                RecordOutcome::Delete { source_id, line } => WriteOp::Delete { source_id, line },
                RecordOutcome::Rejected { issue, kept } => {
                    reporter.record_issue(&issue);
                    WriteOp::Rejected { issue, kept }
                }
                RecordOutcome::Listing(read) => {
                    let ListingRead {
                        listing,
                        warnings,
                        raw,
                        line,
                        withdrawn,
                    } = *read;
                    for issue in &warnings {
                        reporter.record_issue(issue);
                    }
                    let (data, content_hash) = writer::listing_json(&listing)?;
                    WriteOp::Listing {
                        listing: Box::new(listing),
                        data,
                        content_hash,
                        raw,
                        line,
                        withdrawn,
                        warnings,
                    }
                }
            };
            operations.push(op);
            if operations.len() < OPERATIONS_PER_MESSAGE {
                return Ok(true);
            }
            let full = std::mem::replace(&mut operations, Vec::with_capacity(OPERATIONS_PER_MESSAGE));
            // A closed channel means the writer stopped on an error, which
            // its join below returns.
            Ok(sender.send(full).is_ok())
        });
        if !operations.is_empty() {
            let _ = sender.send(std::mem::take(&mut operations));
        }
        drop(sender);
        let written = writing.join().expect("the writer thread panicked");
        (read, written)
    });
    reporter.end_of_records();

    let mut written = written?;
    progress.listings_done(written.counts.seen, written.last_listing.as_ref());
    written.counts.skipped = skipped;
    for issue in &written.late_issues {
        reporter.record_issue(issue);
    }
    for note in &written.notes {
        reporter.info(note);
    }
    match read {
        Ok(()) => Ok((written.counts, other_agencies)),
        Err(error) => Err(FeedFailure {
            error,
            counts: written.counts,
        }),
    }
}

fn status_of(counts: &RunCounts, guard_reason: Option<&str>) -> RunStatus {
    if guard_reason.is_some() {
        RunStatus::GuardTripped
    } else if counts.rejected > 0 || counts.photos_failed > 0 {
        RunStatus::Partial
    } else {
        RunStatus::Succeeded
    }
}

/// A guard that stopped the withdrawals of a run.
struct GuardTrip {
    reason: String,
    /// The active listings the feed lacks, which would have been withdrawn.
    would_withdraw: u64,
}

/// Sends the `guard_tripped` event of a run whose guard stopped it.
fn announce_trip(progress: &RunProgress, trip: Option<&GuardTrip>) {
    if let Some(trip) = trip {
        progress.emit(&Event::GuardTripped {
            reason: &trip.reason,
            would_withdraw: trip.would_withdraw,
        });
    }
}

/// Names a run in progress bars and events.
fn run_tag(options: &ImportOptions, run: Option<RunId>) -> RunTag {
    RunTag {
        integration: options.integration.clone(),
        crm: options.crm.clone(),
        agency: options.agency_code.clone(),
        run_id: run,
    }
}

/// Decides whether withdrawing the listings the feed did not contain is
/// safe. Returns why a guard stops it, or `None` to go ahead.
fn guard(
    counts: &RunCounts,
    store: &dyn Store,
    integration: Option<i64>,
    options: &ImportOptions,
    other_agencies: &BTreeMap<String, u64>,
    active_before: u64,
    full_snapshot: bool,
) -> anyhow::Result<Option<GuardTrip>> {
    let missing_count = match integration {
        Some(integration) => store.count_unseen(integration)?,
        None => 0,
    };
    // With the keep policy, or a feed that is not a whole portfolio, nothing
    // is withdrawn for missing, so there is nothing to guard.
    if options.withdrawal == WithdrawalPolicy::Keep || !full_snapshot {
        return Ok(None);
    }
    let last_good = match integration {
        Some(integration) => store.last_seen_count(integration)?,
        None => None,
    };
    let reason = if counts.seen == 0 {
        let mut reason = format!("the feed has no valid listing for agency {}", options.agency_code);
        if !other_agencies.is_empty() {
            let agencies: Vec<String> = other_agencies
                .iter()
                .map(|(agency, count)| format!("{agency} ({count})"))
                .collect();
            reason.push_str(&format!(
                "; its records belong to {}: check --agency",
                agencies.join(", ")
            ));
        }
        if missing_count > 0 {
            reason.push_str(&format!(
                "; withdrawing all {missing_count} active listings needs --force"
            ));
        }
        Some(reason)
    } else if missing_count * 2 > active_before {
        Some(format!(
            "the feed would withdraw {missing_count} of {active_before} active listings (more than half); \
             check the file, or pass --force"
        ))
    } else if let Some(last) = last_good
        && (counts.seen as f64) < options.min_share * last as f64
    {
        Some(format!(
            "the feed has {} listings, fewer than {:.0} % of the {last} of the last good run; check the \
             file, or pass --force",
            counts.seen,
            options.min_share * 100.0
        ))
    } else {
        None
    };
    Ok(reason
        .filter(|_| !options.allow_mass_withdrawal)
        .map(|reason| GuardTrip {
            reason,
            would_withdraw: missing_count,
        }))
}

#[cfg(test)]
mod tests {
    //! The pipeline driven by a feed written here, as a new CRM's adapter
    //! would provide it: nothing shared changes for a new CRM.

    use super::*;
    use crate::crm::adapter::{KeptColumns, RawRecord};
    use crate::store::testing::{backends, listing};

    /// A feed that hands out listings it was given.
    struct FakeFeed {
        listings: Vec<(String, bool)>,
    }

    impl Feed for FakeFeed {
        fn source(&self) -> &str {
            "fake-feed"
        }

        fn encoding(&self) -> Option<TextEncoding> {
            None
        }

        fn is_full_snapshot(&self) -> bool {
            true
        }

        fn read(
            &mut self,
            visit: &mut dyn FnMut(RecordOutcome) -> anyhow::Result<bool>,
        ) -> anyhow::Result<()> {
            for (line, (source_id, withdrawn)) in self.listings.iter().enumerate() {
                let read = ListingRead {
                    listing: listing(source_id),
                    warnings: Vec::new(),
                    raw: RawRecord::Columns(KeptColumns::from_columns([(1, source_id.as_str())].into_iter())),
                    line: line as u64 + 1,
                    withdrawn: *withdrawn,
                };
                visit(RecordOutcome::Listing(Box::new(read)))?;
            }
            Ok(())
        }
    }

    fn options() -> ImportOptions {
        ImportOptions {
            integration: "fake/A1".to_string(),
            crm: "fake".to_string(),
            agency_code: "A1".to_string(),
            organization: None,
            allow_mass_withdrawal: false,
            dry_run: false,
            withdrawal: WithdrawalPolicy::Mark,
            min_share: DEFAULT_MIN_SHARE,
            trigger: "import",
            wait: false,
            held_lock: None,
            photos: None,
        }
    }

    fn run(store: &mut dyn Store, listings: &[(&str, bool)]) -> RunSummary {
        run_with(store, listings, &options())
    }

    fn run_with(store: &mut dyn Store, listings: &[(&str, bool)], options: &ImportOptions) -> RunSummary {
        let mut feed = FakeFeed {
            listings: listings
                .iter()
                .map(|(id, withdrawn)| (id.to_string(), *withdrawn))
                .collect(),
        };
        import(
            store,
            &mut feed,
            options,
            &mut Reporter::new(true, crate::report::LogFormat::Text),
        )
        .unwrap()
    }

    fn ids(count: usize) -> Vec<(String, bool)> {
        (1..=count).map(|number| (format!("L{number}"), false)).collect()
    }

    fn as_refs(listings: &[(String, bool)]) -> Vec<(&str, bool)> {
        listings
            .iter()
            .map(|(id, withdrawn)| (id.as_str(), *withdrawn))
            .collect()
    }

    #[test]
    fn any_feed_gets_upserts_and_withdrawals() {
        for mut backend in backends() {
            let store = backend.store();
            let first = run(store, &[("L1", false), ("L2", false), ("L3", false)]);
            assert_eq!((first.counts.created, first.counts.withdrawn), (3, 0));

            let second = run(store, &[("L1", false), ("L2", false), ("L4", false)]);
            assert_eq!(second.counts.unchanged, 2);
            assert_eq!(second.counts.created, 1);
            assert_eq!(second.counts.withdrawn, 1, "L3 left the snapshot");
        }
    }

    #[test]
    fn crm_withdrawal_is_stored_and_counted() {
        for mut backend in backends() {
            let store = backend.store();
            run(store, &[("L1", false), ("L2", false)]);
            let sold = run(store, &[("L1", false), ("L2", true)]);
            assert_eq!(sold.counts.unchanged, 2, "the content did not change");
            assert_eq!(sold.counts.withdrawn, 1, "the CRM withdrew L2");
            let again = run(store, &[("L1", false), ("L2", true)]);
            assert_eq!(again.counts.withdrawn, 0, "L2 was already withdrawn");
            let back = run(store, &[("L1", false), ("L2", false)]);
            assert_eq!(back.counts.updated, 1, "L2 is back on the market");
        }
    }

    #[test]
    fn keep_policy_withdraws_nothing_for_missing() {
        for mut backend in backends() {
            let store = backend.store();
            let keep = ImportOptions {
                withdrawal: WithdrawalPolicy::Keep,
                ..options()
            };
            run_with(store, &[("L1", false), ("L2", false), ("L3", false)], &keep);
            let second = run_with(store, &[("L1", false), ("L2", false), ("L3", true)], &keep);
            assert_eq!(
                second.counts.withdrawn, 1,
                "the CRM's own withdrawal still applies"
            );
            let third = run_with(store, &[("L1", false)], &keep);
            assert_eq!(
                third.guard_reason, None,
                "no guard is needed when nothing can be withdrawn"
            );
            assert_eq!(third.counts.withdrawn, 0, "L2 is kept although missing");
        }
    }

    #[test]
    fn share_of_last_good_run_guards_withdrawals() {
        for mut backend in backends() {
            let store = backend.store();
            let strict = ImportOptions {
                min_share: 0.9,
                ..options()
            };
            run_with(store, &as_refs(&ids(10)), &strict);
            let shrunk = run_with(store, &as_refs(&ids(8)), &strict);
            assert!(
                shrunk
                    .guard_reason
                    .as_deref()
                    .unwrap()
                    .contains("fewer than 90 % of the 10 of the last good run"),
                "{:?}",
                shrunk.guard_reason
            );
            assert_eq!(shrunk.counts.withdrawn, 0);

            let forced_options = ImportOptions {
                allow_mass_withdrawal: true,
                ..strict
            };
            let forced = run_with(store, &as_refs(&ids(8)), &forced_options);
            assert_eq!(forced.counts.withdrawn, 2);
        }
    }

    #[test]
    fn tenth_of_last_run_trips_default_guard() {
        for mut backend in backends() {
            let store = backend.store();
            run(store, &as_refs(&ids(10)));
            let tenth = run(store, &as_refs(&ids(1)));
            assert!(tenth.guard_reason.is_some());
            assert_eq!(tenth.counts.withdrawn, 0);
        }
    }

    #[test]
    fn delete_after_removes_old_withdrawals() {
        for mut backend in backends() {
            let delete = ImportOptions {
                withdrawal: WithdrawalPolicy::DeleteAfter { days: 30 },
                ..options()
            };
            run_with(
                backend.store(),
                &[("L1", false), ("L2", false), ("L3", false)],
                &delete,
            );
            let withdrawn = run_with(backend.store(), &[("L1", false), ("L2", false)], &delete);
            assert_eq!(withdrawn.counts.withdrawn, 1);
            assert_eq!(withdrawn.counts.deleted, 0, "kept for 30 days");
            backend
                .execute("UPDATE listings SET withdrawn_at = '2020-01-01T00:00:00Z' WHERE source_id = 'L3'");
            let later = run_with(backend.store(), &[("L1", false), ("L2", false)], &delete);
            assert_eq!(later.counts.deleted, 1);
            assert_eq!(
                backend.count("SELECT count(*) FROM listings"),
                2,
                "{}",
                backend.name()
            );
        }
    }
}

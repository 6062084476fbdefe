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

use crate::crm::poliris::{self, AgentMapping, ConvertSettings, PolirisPackage};
use crate::encoding::TextEncoding;
use crate::report::Reporter;
use crate::store::{RunCounts, RunId, RunStatus, SqliteStore};
use writer::{KeptColumns, KeptIds, WriteOp, Writer};

/// Listings written per transaction. A killed run keeps whole batches only.
pub const BATCH_SIZE: usize = 1_000;

/// Operations sent to the writer in one message: handing them over one by
/// one costs a thread wake-up each.
const OPERATIONS_PER_MESSAGE: usize = 128;

/// Messages waiting for the writer at most, which bounds memory.
const CHANNEL_CAPACITY: usize = 8;

/// Settings of one import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub crm: String,
    pub agency_code: String,
    pub organization: Option<String>,
    pub agents: AgentMapping,
    pub default_agent: Option<String>,
    /// `None` detects the encoding from the file.
    pub encoding: Option<TextEncoding>,
    /// Withdraw even when a guard would stop it.
    pub allow_mass_withdrawal: bool,
    /// Do everything, then roll back.
    pub dry_run: bool,
}

/// Outcome and counts of a run, as printed at its end.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// `None` for a dry run, whose run row was rolled back.
    pub run_id: Option<RunId>,
    pub status: RunStatus,
    pub source: String,
    pub encoding: TextEncoding,
    pub counts: RunCounts,
    pub guard_reason: Option<String>,
    /// Records skipped because column 1 names another agency, by agency id.
    pub other_agencies: BTreeMap<String, u64>,
    pub dry_run: bool,
}

/// Imports a Poliris delivery as a full snapshot of one agency's listings.
///
/// # Errors
/// The source cannot be read or the database cannot be written. Batches
/// committed before the error stay, and the run is recorded as failed.
pub fn import_poliris(
    store: &mut SqliteStore,
    package: &PolirisPackage,
    options: &ImportOptions,
    reporter: &mut Reporter,
) -> anyhow::Result<RunSummary> {
    let (encoding, warning) = package.choose_encoding(options.encoding)?;
    if let Some(warning) = warning {
        reporter.warn(&warning);
    }
    let source = package.listings_name();

    store.begin()?;
    let integration = store.integration(
        &options.crm,
        &options.agency_code,
        options.organization.as_deref(),
    )?;
    store.mark_interrupted_runs(integration)?;
    let run = store.begin_run(integration, &source)?;
    let active_before = store.active_count(integration)?;
    store.start_seen_tracking()?;
    if !options.dry_run {
        store.commit()?;
        store.begin()?;
    }

    let settings = ConvertSettings {
        crm: options.crm.clone(),
        agency_code: Some(options.agency_code.clone()),
        organization: options.organization.clone(),
        agents: options.agents.clone(),
        default_agent: options.default_agent.clone(),
        currency: currency_code(package),
    };
    let mut other_agencies = BTreeMap::new();
    let mut skipped = 0;
    let writer = Writer::new(store, source.clone(), integration, run, options.dry_run);

    let (sender, receiver) = mpsc::sync_channel::<Vec<WriteOp>>(CHANNEL_CAPACITY);
    let mut operations = Vec::with_capacity(OPERATIONS_PER_MESSAGE);
    let (read, written) = thread::scope(|scope| {
        let writing = scope.spawn(move || writer.run(receiver));
        let read = poliris::read_feed(package, encoding, |record| {
            let has_member = |name: &str| package.has_member(name);
            let other_agency = record
                .split_agency_id()
                .is_some_and(|agency| !agency.eq_ignore_ascii_case(&options.agency_code));
            let converted = if other_agency {
                Ok(None)
            } else {
                record.convert(&source, &settings, &has_member, None).map(Some)
            };
            let op = match converted {
                Ok(None) => {
                    skipped += 1;
                    let agency = record.agency_id().unwrap_or_default().to_string();
                    *other_agencies.entry(agency).or_default() += 1;
                    return Ok(true);
                }
                Err(issue) => {
                    reporter.record_issue(&issue);
                    let (technical_id, reference) = record.readable_ids();
                    WriteOp::Rejected {
                        issue,
                        kept: KeptIds {
                            source_id: technical_id.or(reference).map(str::to_string),
                            reference: reference.map(str::to_string),
                        },
                    }
                }
                Ok(Some(converted)) => {
                    let listing = converted.listing;
                    let warnings = record.warning_issues(&source, &listing.source_id, &converted.warnings);
                    for issue in &warnings {
                        reporter.record_issue(issue);
                    }
                    let (data, content_hash) = writer::listing_json(&listing)?;
                    WriteOp::Listing {
                        listing: Box::new(listing),
                        data,
                        content_hash,
                        raw: KeptColumns::from_record(record),
                        line: record.line,
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
    written.counts.skipped = skipped;
    for issue in &written.late_issues {
        reporter.record_issue(issue);
    }
    for note in &written.notes {
        reporter.info(note);
    }
    if let Err(error) = read {
        fail_run(store, run, &written.counts, options.dry_run, &error)?;
        return Err(error);
    }

    let mut counts = written.counts;
    let guard_reason = withdraw_missing(
        store,
        integration,
        &options.agency_code,
        &other_agencies,
        run,
        active_before,
        options.allow_mass_withdrawal,
        &mut counts,
    )?;
    let status = if guard_reason.is_some() {
        RunStatus::GuardTripped
    } else if counts.rejected > 0 {
        RunStatus::Partial
    } else {
        RunStatus::Succeeded
    };
    store.finish_run(run, status, &counts, guard_reason.as_deref(), None)?;
    if guard_reason.is_none() {
        store.record_good_run(integration, run, counts.seen)?;
    }
    if options.dry_run {
        store.rollback()?;
    } else {
        store.commit()?;
    }

    Ok(RunSummary {
        run_id: (!options.dry_run).then_some(run),
        status,
        source,
        encoding,
        counts,
        guard_reason,
        other_agencies,
        dry_run: options.dry_run,
    })
}

/// Records a run the source could not be read to the end of.
fn fail_run(
    store: &SqliteStore,
    run: RunId,
    counts: &RunCounts,
    dry_run: bool,
    error: &anyhow::Error,
) -> anyhow::Result<()> {
    if dry_run {
        return store.rollback();
    }
    store.finish_run(run, RunStatus::Failed, counts, None, Some(&format!("{error:#}")))?;
    store.commit()
}

/// Withdraws the active listings the snapshot did not contain. Returns the
/// reason a guard stopped it, if one did; then nothing is withdrawn.
#[allow(clippy::too_many_arguments, reason = "each argument is one fact of the run")]
fn withdraw_missing(
    store: &SqliteStore,
    integration: i64,
    agency_code: &str,
    other_agencies: &BTreeMap<String, u64>,
    run: RunId,
    active_before: u64,
    allow_mass_withdrawal: bool,
    counts: &mut RunCounts,
) -> anyhow::Result<Option<String>> {
    let missing_count = store.count_unseen(integration)?;
    let guard = if counts.seen == 0 {
        let mut reason = format!("the file has no valid listing for agency {agency_code}");
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
                "; withdrawing all {missing_count} active listings needs --allow-mass-withdrawal"
            ));
        }
        Some(reason)
    } else if missing_count * 2 > active_before {
        Some(format!(
            "the file would withdraw {missing_count} of {active_before} active listings (more than half); \
             check the file, or pass --allow-mass-withdrawal"
        ))
    } else {
        None
    };
    match guard {
        Some(reason) if !allow_mass_withdrawal => Ok(Some(reason)),
        _ => {
            counts.withdrawn = store.withdraw_unseen(integration, run)?;
            Ok(None)
        }
    }
}

/// Returns the ISO 4217 code for the `Devise` of `Config.txt`. Poliris
/// prices are in euros unless the file declares another currency.
fn currency_code(package: &PolirisPackage) -> String {
    let declared = package
        .config
        .as_ref()
        .and_then(|config| config.currency.as_deref());
    match declared.map(|currency| currency.trim().to_ascii_lowercase()) {
        Some(currency) if currency.len() == 3 && currency != "eur" => currency.to_ascii_uppercase(),
        _ => "EUR".to_string(),
    }
}

//! One import run: read the feed, convert each record, apply listings to the
//! store in batches, withdraw what the snapshot no longer holds (unless a
//! guard trips), and record the run with its counts and problems.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::crm::poliris::{self, AgentMapping, ConvertSettings, PolirisPackage};
use crate::encoding::TextEncoding;
use crate::record::{RecordIssue, Severity};
use crate::report::Reporter;
use crate::store::{
    ApplyOutcome, IntegrationId, ListingId, ListingRow, RunCounts, RunId, RunStatus, SqliteStore,
};

/// Listings written per transaction. A killed run keeps whole batches only.
pub const BATCH_SIZE: usize = 1_000;

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

/// What a run did, as printed at its end.
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
    store: &SqliteStore,
    package: &PolirisPackage,
    options: &ImportOptions,
    reporter: &mut Reporter,
) -> anyhow::Result<RunSummary> {
    let encoding = match options.encoding {
        Some(encoding) => encoding,
        None => package.detect_encoding()?,
    };
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
    if !options.dry_run {
        store.commit()?;
        store.begin()?;
    }

    let mut applier = Applier {
        store,
        integration,
        run,
        dry_run: options.dry_run,
        counts: RunCounts::default(),
        seen: HashMap::new(),
        pending: 0,
        other_agencies: BTreeMap::new(),
    };
    let settings = ConvertSettings {
        crm: options.crm.clone(),
        agency_code: Some(options.agency_code.clone()),
        organization: options.organization.clone(),
        agents: options.agents.clone(),
        default_agent: options.default_agent.clone(),
        currency: currency_code(package),
    };
    let has_member = |name: &str| package.has_member(name);

    let read = poliris::read_feed(package, encoding, |record| {
        if let Some(agency) = record.agency_id()
            && !agency.eq_ignore_ascii_case(&options.agency_code)
        {
            applier.counts.skipped += 1;
            *applier.other_agencies.entry(agency.to_string()).or_default() += 1;
            return Ok(true);
        }
        match record.convert(&source, &settings, &has_member, None) {
            Err(issue) => applier.reject(*issue, reporter)?,
            Ok(converted) => {
                let raw = raw_json(record);
                let line = record.line;
                if let Some(first_line) = applier.apply(&converted.listing, &raw, line)? {
                    let issue = RecordIssue {
                        severity: Severity::Rejected,
                        file: source.clone(),
                        line,
                        source_id: Some(converted.listing.source_id.clone()),
                        rank: None,
                        column: None,
                        value: None,
                        reason: format!(
                            "duplicate listing: source id {:?} was already read at line {first_line}",
                            converted.listing.source_id
                        ),
                    };
                    applier.reject(issue, reporter)?;
                } else {
                    for issue in
                        record.warning_issues(&source, &converted.listing.source_id, &converted.warnings)
                    {
                        applier.counts.warnings += 1;
                        store.record_issue(run, &issue)?;
                        reporter.record_issue(&issue);
                    }
                }
            }
        }
        Ok(true)
    });
    reporter.end_of_records();

    if let Err(error) = read {
        let message = format!("{error:#}");
        if options.dry_run {
            store.rollback()?;
        } else {
            store.finish_run(run, RunStatus::Failed, &applier.counts, None, Some(&message))?;
            store.commit()?;
        }
        return Err(error);
    }

    let guard_reason = applier.withdraw_missing(active_before, options.allow_mass_withdrawal)?;
    let counts = applier.counts;
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
        other_agencies: applier.other_agencies,
        dry_run: options.dry_run,
    })
}

/// ISO 4217 code for the `Devise` of `Config.txt`; Poliris files are in euros
/// unless they say otherwise.
fn currency_code(package: &PolirisPackage) -> String {
    let declared = package
        .config
        .as_ref()
        .and_then(|config| config.currency.as_deref());
    match declared.map(|currency| currency.trim().to_ascii_lowercase()) {
        None => "EUR".to_string(),
        Some(currency)
            if currency.is_empty() || currency == "euro" || currency == "euros" || currency == "eur" =>
        {
            "EUR".to_string()
        }
        Some(currency) if currency.len() == 3 => currency.to_ascii_uppercase(),
        Some(_) => "EUR".to_string(),
    }
}

/// The record's non-empty columns as a JSON object keyed by rank.
fn raw_json(record: &poliris::DecodedRecord<'_>) -> String {
    let columns: serde_json::Map<String, serde_json::Value> = record
        .kept_columns()
        .map(|(rank, value)| (rank.to_string(), serde_json::Value::from(value)))
        .collect();
    serde_json::Value::Object(columns).to_string()
}

/// Applies listings to the store and keeps the run's counts.
struct Applier<'s> {
    store: &'s SqliteStore,
    integration: IntegrationId,
    run: RunId,
    dry_run: bool,
    counts: RunCounts,
    /// Listings read in this run, with the line they were read at.
    seen: HashMap<ListingId, u64>,
    /// Listings written since the last commit.
    pending: usize,
    other_agencies: BTreeMap<String, u64>,
}

impl Applier<'_> {
    fn reject(&mut self, issue: RecordIssue, reporter: &mut Reporter) -> anyhow::Result<()> {
        self.counts.rejected += 1;
        self.store.record_issue(self.run, &issue)?;
        reporter.record_issue(&issue);
        Ok(())
    }

    /// Inserts, updates or leaves a listing. Returns the first line of an
    /// earlier record with the same source id, in which case nothing was written.
    fn apply(
        &mut self,
        listing: &crate::listing::Listing,
        raw: &str,
        line: u64,
    ) -> anyhow::Result<Option<u64>> {
        let data = serde_json::to_string(listing)?;
        let content_hash = *blake3::hash(data.as_bytes()).as_bytes();
        let row = ListingRow {
            listing,
            data: &data,
            content_hash,
            raw: Some(raw),
        };
        let existing = self.store.find_listing(self.integration, &listing.source_id)?;
        let (id, outcome) = match existing {
            Some(stored) => {
                if let Some(first_line) = self.seen.get(&stored.id) {
                    return Ok(Some(*first_line));
                }
                if stored.content_hash == content_hash && !stored.withdrawn {
                    (stored.id, ApplyOutcome::Unchanged)
                } else {
                    self.store.update_listing(stored.id, self.run, &row)?;
                    (stored.id, ApplyOutcome::Updated)
                }
            }
            None => (
                self.store.insert_listing(self.integration, self.run, &row)?,
                ApplyOutcome::Created,
            ),
        };
        self.seen.insert(id, line);
        self.counts.seen += 1;
        match outcome {
            ApplyOutcome::Created => self.counts.created += 1,
            ApplyOutcome::Updated => self.counts.updated += 1,
            ApplyOutcome::Unchanged => self.counts.unchanged += 1,
        }
        if outcome != ApplyOutcome::Unchanged {
            self.pending += 1;
            if self.pending >= BATCH_SIZE && !self.dry_run {
                self.store.commit()?;
                self.store.begin()?;
                self.pending = 0;
            }
        }
        Ok(None)
    }

    /// Withdraws the active listings the snapshot did not contain. Returns
    /// the reason a guard stopped it, if one did; then nothing is withdrawn.
    fn withdraw_missing(
        &mut self,
        active_before: u64,
        allow_mass_withdrawal: bool,
    ) -> anyhow::Result<Option<String>> {
        let missing: Vec<ListingId> = self
            .store
            .active_listing_ids(self.integration)?
            .into_iter()
            .filter(|id| !self.seen.contains_key(id))
            .collect();
        let missing_count = missing.len() as u64;
        let guard = if self.counts.seen == 0 {
            Some(format!(
                "the file has no valid listing for this agency; withdrawing all {missing_count} active listings \
                 needs --allow-mass-withdrawal"
            ))
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
                self.store.withdraw(&missing, self.run)?;
                self.counts.withdrawn = missing_count;
                Ok(None)
            }
        }
    }
}

//! `passerelle sync`: fetch and import every configured integration, a few
//! at a time, going on past failures, for cron.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::cli::{FetchArgs, IntegrationArgs, SummaryFormat, SyncArgs};
use crate::commands::fetch::{fetch_to_staging, is_unchanged};
use crate::commands::import::{
    ImportRequest, exit_status, import_payload, import_pending_photos, prepare_output, report_run_end,
};
use crate::config::{self, ConfigFile, IntegrationConfig};
use crate::crm::registry::{self, Transport};
use crate::exit::{ExitStatus, UsageError};
use crate::notify::{self, RunAlert};
use crate::pipeline;
use crate::report::events::RunTag;
use crate::report::{Level, Reporter};
use crate::store::history::RunFilter;
use crate::store::lock::LockedError;
use crate::store::{Database, RunCounts, RunId};

/// Outcome of syncing one integration.
#[derive(Debug, Serialize)]
pub struct SyncResult {
    pub integration: String,
    pub crm: String,
    pub agency: String,
    /// A run status (`succeeded`, `partial`, `guard_tripped`, `failed`), or
    /// `locked`, `skipped`, `unchanged` (the CRM's feed did not change
    /// since the last fetch, so nothing was imported) or `synced_elsewhere`
    /// (another worker ran the integration after this sync started).
    pub status: String,
    pub counts: Option<RunCounts>,
    pub seconds: f64,
    pub error: Option<String>,
    #[serde(skip)]
    exit: ExitStatus,
}

pub fn run(args: &SyncArgs, config: &ConfigFile, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    prepare_output(&args.events, args.format, reporter)?;
    let database = config::resolve_database(args.database.as_deref(), config)?;
    let mut selected = select(args, config)?;
    if args.retry_failed {
        selected = last_failed(&selected, &database)?;
        if selected.is_empty() {
            reporter.info("no integration's last run failed; nothing to retry");
            if args.format == SummaryFormat::Json {
                reporter.data("[]")?;
                reporter.flush()?;
            }
            return Ok(ExitStatus::Success);
        }
    }
    // Runs other workers start from now on are this round's too.
    let started_after = latest_run(&database)?;
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let settings: &Reporter = reporter;
    std::thread::scope(|scope| {
        for _ in 0..usize::from(args.jobs).min(selected.len()) {
            scope.spawn(|| {
                // Each worker reports on its own; lines of different
                // integrations interleave but never mix.
                let mut reporter = settings.sibling();
                while let Some(entry) = selected.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let result = sync_one(entry, args, config, &database, started_after, &mut reporter);
                    results.lock().expect("a sync worker panicked").push(result);
                }
            });
        }
    });
    let mut results = results.into_inner().expect("a sync worker panicked");
    results.sort_by_key(|result| selected.iter().position(|entry| entry.name == result.integration));

    match args.format {
        SummaryFormat::Json => reporter.data(&serde_json::to_string(&results)?)?,
        SummaryFormat::Text => {
            let events_on_stdout = args.events.events.is_some() && args.events.events_file.is_none();
            print_table(&results, reporter, events_on_stdout)?;
            if args.dry_run {
                reporter.info("dry run: the counts say what would change; nothing was written");
            }
        }
    }
    reporter.flush()?;
    Ok(worst(results.iter().map(|result| result.exit)))
}

/// Keeps the integrations whose latest run failed or was interrupted.
fn last_failed<'c>(
    selected: &[&'c IntegrationConfig],
    database: &Database,
) -> anyhow::Result<Vec<&'c IntegrationConfig>> {
    if database.missing_file().is_some() {
        return Ok(Vec::new());
    }
    let store = database.open()?;
    let mut failed = Vec::new();
    for entry in selected {
        let status = store.last_run_status(&entry.crm, entry.agency.trim())?;
        if matches!(status.as_deref(), Some("failed" | "interrupted")) {
            failed.push(*entry);
        }
    }
    Ok(failed)
}

/// Returns the integrations to sync, in settings-file order.
fn select<'c>(args: &SyncArgs, config: &'c ConfigFile) -> anyhow::Result<Vec<&'c IntegrationConfig>> {
    for name in &args.integrations {
        if !config.integrations.iter().any(|entry| &entry.name == name) {
            let known: Vec<&str> = config
                .integrations
                .iter()
                .map(|entry| entry.name.as_str())
                .collect();
            return Err(UsageError(format!(
                "no integration named `{name}` in the settings file; known: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
            .into());
        }
    }
    let selected: Vec<&IntegrationConfig> = config
        .integrations
        .iter()
        .filter(|entry| args.integrations.is_empty() || args.integrations.contains(&entry.name))
        .filter(|entry| args.crm.as_deref().is_none_or(|crm| entry.crm == crm))
        .collect();
    if selected.is_empty() {
        let Some(path) = &config.path else {
            let default = config::default_location()
                .map_or_else(|| "none".to_string(), |path| path.display().to_string());
            return Err(UsageError(format!(
                "no settings file found, so no integration to sync: pass --config FILE or set \
                 PASSERELLE_CONFIG (default location: {default}); config.example.toml shows the format"
            ))
            .into());
        };
        let reason = if config.integrations.is_empty() {
            format!("{} has no [[integrations]] entry", path.display())
        } else {
            format!(
                "no integration of {} matches --integration or --crm",
                path.display()
            )
        };
        return Err(UsageError(format!(
            "no integration to sync: {reason} (config.example.toml shows how to add one)"
        ))
        .into());
    }
    Ok(selected)
}

fn sync_one(
    entry: &IntegrationConfig,
    args: &SyncArgs,
    config: &ConfigFile,
    database: &Database,
    started_after: RunId,
    reporter: &mut Reporter,
) -> SyncResult {
    let started = Instant::now();
    let mut result = SyncResult {
        integration: entry.name.clone(),
        crm: entry.crm.clone(),
        agency: entry.agency.clone(),
        status: String::new(),
        counts: None,
        seconds: 0.0,
        error: None,
        exit: ExitStatus::Success,
    };
    reporter.event(
        Level::Info,
        &format!("sync {}: started", entry.name),
        run_fields("run_started", &result),
    );
    let synced = sync_steps(entry, args, config, database, started_after, reporter);
    let tag = RunTag {
        integration: entry.name.clone(),
        crm: entry.crm.clone(),
        agency: entry.agency.trim().to_string(),
        run_id: None,
    };
    match &synced {
        Ok(Some(summary)) => report_run_end(tag, Ok(summary), reporter),
        Err(error) if !is_unchanged(error) && !error.is::<SyncedElsewhere>() => {
            report_run_end(tag, Err(error), reporter);
        }
        _ => {}
    }
    match synced {
        Ok(Some(summary)) => {
            result.status = summary.status.as_str().to_string();
            result.exit = exit_status(&summary);
            result.counts = Some(summary.counts);
            result.error = summary.guard_reason.clone();
        }
        Ok(None) => result.status = "skipped".to_string(),
        // A feed that did not change since the last fetch: nothing to import.
        Err(error) if is_unchanged(&error) => {
            result.status = "unchanged".to_string();
            reporter.info(&format!("sync {}: {}", entry.name, error.root_cause()));
        }
        Err(error) if error.is::<SyncedElsewhere>() => {
            result.status = "synced_elsewhere".to_string();
            reporter.info(&format!("sync {}: {error}", entry.name));
        }
        Err(error) => {
            // A run that wrote some listings before failing reports them.
            result.counts = error
                .chain()
                .find_map(|cause| cause.downcast_ref::<pipeline::FailedRun>())
                .map(|failed| failed.counts);
            let locked = error.chain().any(|cause| cause.is::<LockedError>());
            result.status = if locked { "locked" } else { "failed" }.to_string();
            // A missing credential or a bad setting is a usage error, as in fetch.
            result.exit = ExitStatus::for_error(&error);
            result.error = Some(format!("{error:#}"));
            let message = format!("sync {}: {error:#}", entry.name);
            match crate::report::errors::hint(&error) {
                Some(hint) => reporter.error_with_hint(&message, &hint),
                None => reporter.error(&message),
            }
            let reason = format!("{error:#}");
            let alert = RunAlert::new(&entry.name, &entry.crm, &entry.agency, &result.status, &reason);
            notify::send(config, &alert, reporter);
        }
    }
    result.seconds = started.elapsed().as_secs_f64();
    let counts = result.counts.map_or_else(String::new, |counts| {
        format!(
            ": {} created, {} updated, {} unchanged, {} withdrawn, {} rejected; photos: {} stored, {} reused, {} \
             failed",
            counts.created,
            counts.updated,
            counts.unchanged,
            counts.withdrawn,
            counts.rejected,
            counts.photos_stored,
            counts.photos_reused,
            counts.photos_failed
        )
    });
    let message = format!(
        "sync {}: {} in {:.1} s{counts}",
        entry.name, result.status, result.seconds
    );
    let level = match result.exit {
        ExitStatus::Success => Level::Info,
        ExitStatus::Unreadable | ExitStatus::Usage => Level::Error,
        _ => Level::Warning,
    };
    reporter.event(level, &message, run_fields("run_finished", &result));
    result
}

/// Builds the fields of a run's start and end log lines: the event, the
/// integration, then its status, duration and counts once known. Credentials
/// are not among them because `SyncResult` has no field for one.
fn run_fields(event: &str, result: &SyncResult) -> serde_json::Map<String, serde_json::Value> {
    let mut fields = match serde_json::to_value(result) {
        Ok(serde_json::Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    fields.retain(|_, value| !value.is_null() && value.as_str() != Some(""));
    if result.status.is_empty() {
        fields.remove("seconds");
    }
    fields.insert("event".to_string(), serde_json::Value::String(event.to_string()));
    fields
}

/// Fetches and imports one integration. Returns `None` for CRMs whose
/// files are given by path, which sync cannot fetch.
fn sync_steps(
    entry: &IntegrationConfig,
    args: &SyncArgs,
    config: &ConfigFile,
    database: &Database,
    started_after: RunId,
    reporter: &mut Reporter,
) -> anyhow::Result<Option<crate::pipeline::RunSummary>> {
    let crm = registry::find(&entry.crm)?;
    if crm.transport == Transport::Local {
        reporter.warn(&format!(
            "sync {}: {} files are given by path, so there is nothing to fetch; use passerelle import",
            entry.name, crm.code
        ));
        return Ok(None);
    }

    let fetch_args = FetchArgs {
        target: IntegrationArgs {
            integration: Some(entry.name.clone()),
            crm: None,
            agency: None,
        },
        staging_dir: args.staging_dir.clone(),
    };
    let fetch_settings = config::resolve_fetch(&fetch_args, config)?;
    let settings = config::integration_import_settings(config, entry, database.clone())?;

    let run = |held_lock, reporter: &mut Reporter| {
        fetch_and_import(
            entry,
            args,
            config,
            database,
            &fetch_settings,
            &settings,
            held_lock,
            reporter,
        )
    };
    if args.dry_run {
        return run(None, reporter);
    }

    // The agency's lock covers the fetch too, so two syncs never download
    // and import the same agency at once.
    let store = database.open()?;
    let lock = pipeline::acquire_lock(
        store.as_ref(),
        &settings.crm,
        &settings.agency,
        args.wait,
        reporter,
    )?;
    store.commit()?;
    if let Some(elsewhere) = run_since(store.as_ref(), &settings, started_after)? {
        store.release_lock(&lock)?;
        return Err(elsewhere.into());
    }
    let result = run(Some(lock.clone()), reporter);
    let released = store.release_lock(&lock);
    let summary = result?;
    released?;
    Ok(summary)
}

#[allow(
    clippy::too_many_arguments,
    reason = "each argument is one fact of the integration's run"
)]
fn fetch_and_import(
    entry: &IntegrationConfig,
    args: &SyncArgs,
    config: &ConfigFile,
    database: &Database,
    fetch_settings: &config::FetchSettings,
    settings: &config::ImportSettings,
    held_lock: Option<crate::store::lock::LockToken>,
    reporter: &mut Reporter,
) -> anyhow::Result<Option<crate::pipeline::RunSummary>> {
    if args.photos.photos_only {
        let request = ImportRequest {
            payload: std::path::Path::new(""),
            settings,
            encoding: None,
            allow_mass_withdrawal: false,
            dry_run: false,
            trigger: "sync",
            wait: args.wait,
            held_lock,
            photos: args.photos.scope(),
            photos_only: true,
        };
        return import_pending_photos(&request, reporter).map(Some);
    }
    let staged: PathBuf = match fetch_to_staging(fetch_settings, config, reporter) {
        Ok(staged) => staged,
        Err(error) if is_unchanged(&error) => return Err(error),
        Err(error) => {
            if !args.dry_run {
                record_failure(entry, database, &error);
            }
            return Err(error);
        }
    };
    let request = ImportRequest {
        payload: &staged,
        settings,
        encoding: None,
        allow_mass_withdrawal: args.force,
        dry_run: args.dry_run,
        trigger: "sync",
        wait: args.wait,
        held_lock,
        photos: args.photos.scope(),
        photos_only: false,
    };
    import_payload(&request, config, reporter, |_, _| Ok(())).map(Some)
}

/// Another sync worker ran the integration after this sync started, so
/// this one leaves it alone: several workers sharing a database each
/// import an integration once per round between them.
#[derive(Debug, thiserror::Error)]
#[error("another worker ran it meanwhile (run {run}, started {started_at}, {status}); skipped")]
pub struct SyncedElsewhere {
    pub run: crate::store::RunId,
    pub started_at: String,
    pub status: String,
}

/// Returns the id of the newest run in the database, 0 when there is none.
fn latest_run(database: &Database) -> anyhow::Result<RunId> {
    if database.missing_file().is_some() {
        return Ok(0);
    }
    let latest = database.open()?.list_runs(&RunFilter {
        limit: 1,
        ..RunFilter::default()
    })?;
    Ok(latest.first().map_or(0, |run| run.id))
}

/// Returns the integration's latest run if it is newer than run
/// `started_after`, the newest when this sync started.
fn run_since(
    store: &dyn crate::store::Store,
    settings: &config::ImportSettings,
    started_after: RunId,
) -> anyhow::Result<Option<SyncedElsewhere>> {
    let latest = store.list_runs(&RunFilter {
        crm: Some(settings.crm.clone()),
        agency_code: Some(settings.agency.clone()),
        status: None,
        limit: 1,
    })?;
    Ok(latest
        .into_iter()
        .find(|run| run.id > started_after)
        .map(|run| SyncedElsewhere {
            run: run.id,
            started_at: run.started_at,
            status: run.status,
        }))
}

/// Records a failed fetch as a failed run; a failure to record it only
/// loses that line of history.
fn record_failure(entry: &IntegrationConfig, database: &Database, error: &anyhow::Error) {
    if let Ok(store) = database.open() {
        let _ = store.record_failed_run(
            &entry.crm,
            entry.agency.trim(),
            entry.organization.as_deref(),
            &format!("fetch of {}", entry.name),
            "sync",
            &format!("{error:#}"),
        );
    }
}

/// Prints the summary table on stdout, or on stderr when stdout carries the
/// `--events jsonl` stream, which must stay one JSON object per line.
fn print_table(results: &[SyncResult], reporter: &mut Reporter, to_stderr: bool) -> std::io::Result<()> {
    let mut print = |line: String| {
        if to_stderr {
            reporter.info(&line);
            Ok(())
        } else {
            reporter.data(&line)
        }
    };
    print(format!(
        "{:<20} {:<16} {:>7} {:>7} {:>9} {:>9} {:>8} {:>14} {:>9}",
        "INTEGRATION",
        "STATUS",
        "CREATED",
        "UPDATED",
        "UNCHANGED",
        "WITHDRAWN",
        "REJECTED",
        "PHOTOS",
        "SECONDS"
    ))?;
    for result in results {
        let counts = result.counts.unwrap_or_default();
        print(format!(
            "{:<20} {:<16} {:>7} {:>7} {:>9} {:>9} {:>8} {:>14} {:>9.1}",
            result.integration,
            result.status,
            counts.created,
            counts.updated,
            counts.unchanged,
            counts.withdrawn,
            counts.rejected,
            crate::commands::runs::photo_counts(&counts),
            result.seconds
        ))?;
    }
    Ok(())
}

/// Returns the most serious status: an integration that could not be
/// fetched or imported, then one stopped by a setting or a missing
/// credential, a locked one, a tripped guard, rejected records, success.
fn worst(statuses: impl Iterator<Item = ExitStatus>) -> ExitStatus {
    let rank = |status: &ExitStatus| match status {
        ExitStatus::Unreadable => 5,
        ExitStatus::Usage => 4,
        ExitStatus::Locked => 3,
        ExitStatus::GuardTripped => 2,
        ExitStatus::RecordsRejected => 1,
        ExitStatus::Success => 0,
    };
    statuses.max_by_key(rank).unwrap_or(ExitStatus::Success)
}

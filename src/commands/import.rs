//! `passerelle import`: one agency's export into the database.

use std::path::Path;

use anyhow::Context;

use crate::cli::{EventArgs, EventFormat, ImportArgs, SummaryFormat};
use crate::config::{self, ConfigFile};
use crate::crm::adapter::ReadSettings;
use crate::crm::registry;
use crate::exit::{ExitStatus, UsageError};
use crate::notify::{self, RunAlert};
use crate::photos::PhotoScope;
use crate::photos::media::MediaDir;
use crate::pipeline::{self, ImportOptions, PhotoRun, PhotoStep, RunSummary};
use crate::report::events::{Event, EventSink, RunTag};
use crate::report::{Reporter, plural};
use crate::store::{Database, PostgresStore, RunStatus, SqliteStore, Store};
use crate::transport::ftp;

pub fn run(args: &ImportArgs, config: &ConfigFile, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    let result = import(args, config, reporter)
        .with_context(|| format!("cannot import {}", args.input.input.display()));
    match result {
        Ok(status) => Ok(status),
        Err(error) if args.format == SummaryFormat::Json => {
            // A program reading stdout gets a JSON object even when the run
            // never started; the error itself still goes to stderr.
            let status = ExitStatus::for_error(&error);
            let failure = serde_json::json!({
                "status": if status == ExitStatus::Locked { "locked" } else { "failed" },
                "exit_status": status.code(),
                "error": format!("{error:#}"),
            });
            reporter.data(&failure.to_string())?;
            reporter.flush()?;
            Err(error)
        }
        Err(error) => Err(error),
    }
}

fn import(args: &ImportArgs, config: &ConfigFile, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    prepare_output(&args.events, args.format, reporter)?;
    let settings = config::resolve_import(args, config)?;
    let request = ImportRequest {
        payload: &args.input.input,
        settings: &settings,
        encoding: args.input.encoding.forced(),
        allow_mass_withdrawal: args.allow_mass_withdrawal,
        dry_run: args.dry_run,
        trigger: "import",
        wait: args.wait,
        held_lock: None,
        photos: args.photos.scope(),
        photos_only: args.photos.photos_only,
    };
    let imported = import_payload(&request, config, reporter, |summary, reporter| {
        match args.format {
            SummaryFormat::Json => reporter
                .data(&serde_json::to_string(summary)?)
                .map_err(anyhow::Error::from),
            SummaryFormat::Text => {
                print_summary(summary, &settings, reporter);
                Ok(())
            }
        }
    });
    report_run_end(run_tag(&settings), imported.as_ref(), reporter);
    let summary = match imported {
        Ok(summary) => summary,
        Err(error) => {
            alert_failure(config, &settings, &error, reporter);
            return Err(error);
        }
    };
    reporter.flush()?;
    Ok(exit_status(&summary))
}

/// Sets up the `--events` stream, and keeps progress bars off when the
/// command's output is JSON.
///
/// # Errors
/// Events and a JSON summary both asked for stdout, or the events file
/// cannot be opened.
pub fn prepare_output(
    events: &EventArgs,
    format: SummaryFormat,
    reporter: &mut Reporter,
) -> anyhow::Result<()> {
    let on_stdout = events.events == Some(EventFormat::Jsonl) && events.events_file.is_none();
    if on_stdout && format == SummaryFormat::Json {
        return Err(UsageError(
            "--events jsonl and --format json would both write to stdout; pass --events-file PATH to \
             write the events to a file"
                .to_string(),
        )
        .into());
    }
    if on_stdout || format == SummaryFormat::Json {
        reporter.hide_progress();
    }
    if let Some(path) = &events.events_file {
        // A path that cannot be written is a bad argument, like a bad flag.
        let sink = EventSink::file(path).map_err(|error| UsageError(format!("{error:#}")))?;
        reporter.set_events(sink);
    } else if on_stdout {
        reporter.set_events(EventSink::stdout());
    }
    Ok(())
}

/// Sends the event that ends a run: `run_succeeded` when its data was
/// applied, else `run_failed` with the reason.
/// `tag` names the run when it never started.
pub fn report_run_end(mut tag: RunTag, result: Result<&RunSummary, &anyhow::Error>, reporter: &mut Reporter) {
    match result {
        Ok(summary) => {
            let status = summary.status.as_str();
            let event = match summary.status {
                RunStatus::Succeeded | RunStatus::Partial => Event::RunSucceeded {
                    status,
                    counts: &summary.counts,
                },
                _ => Event::RunFailed {
                    status,
                    exit_status: exit_status(summary).code(),
                    error: summary.guard_reason.as_deref().unwrap_or(status),
                    counts: Some(&summary.counts),
                },
            };
            reporter.end_run(tag, &event);
        }
        Err(error) => {
            let failed = error
                .chain()
                .find_map(|cause| cause.downcast_ref::<pipeline::FailedRun>());
            tag.run_id = failed.map(|failed| failed.run);
            let exit = ExitStatus::for_error(error);
            let message = format!("{error:#}");
            let event = Event::RunFailed {
                status: if exit == ExitStatus::Locked {
                    "locked"
                } else {
                    "failed"
                },
                exit_status: exit.code(),
                error: &message,
                counts: failed.map(|failed| &failed.counts),
            };
            reporter.end_run(tag, &event);
        }
    }
}

/// Names an integration's run before it has an id.
pub fn run_tag(settings: &config::ImportSettings) -> RunTag {
    RunTag {
        integration: settings.name.clone(),
        crm: settings.crm.clone(),
        agency: settings.agency.clone(),
        run_id: None,
    }
}

/// What to import and how.
pub struct ImportRequest<'a> {
    /// A file, directory, zip or staged folder.
    pub payload: &'a Path,
    pub settings: &'a config::ImportSettings,
    pub encoding: Option<crate::encoding::TextEncoding>,
    pub allow_mass_withdrawal: bool,
    pub dry_run: bool,
    /// What started the run: `import` or `sync`.
    pub trigger: &'static str,
    /// Wait for a lock another process holds on the agency.
    pub wait: bool,
    /// A lock on the agency that the caller holds for the whole run.
    pub held_lock: Option<crate::store::lock::LockToken>,
    /// The photos the run looks at; `None` leaves photos alone.
    pub photos: Option<PhotoScope>,
    /// Process pending photos only; the payload's listings are not read.
    pub photos_only: bool,
}

/// Imports one payload for one integration: opens it with its CRM's
/// adapter, runs the pipeline, calls `summarize` with the run's summary,
/// reports what an operator must act on, and moves an FTP drop to the
/// processed folder when the settings ask for it.
///
/// # Errors
/// The payload cannot be read, the agency is locked by another process, or
/// the database cannot be written.
pub fn import_payload(
    request: &ImportRequest<'_>,
    config: &ConfigFile,
    reporter: &mut Reporter,
    summarize: impl FnOnce(&RunSummary, &mut Reporter) -> anyhow::Result<()>,
) -> anyhow::Result<RunSummary> {
    let settings = request.settings;
    let crm = registry::find(&settings.crm)?;
    if is_unfinished_fetch(request.payload) {
        anyhow::bail!(
            "{} is an unfinished fetch (its name ends in .partial); run passerelle fetch again",
            request.payload.display()
        );
    }
    if let Some(hint) = registry::format_hint(crm, request.payload) {
        reporter.warn(&hint);
    }
    let read_settings = ReadSettings {
        crm: settings.crm.clone(),
        agency_code: Some(settings.agency.clone()),
        organization: settings.organization.clone(),
        agents: settings.agent_mapping(),
        default_agent: settings.default_agent.clone(),
        encoding: request.encoding,
        language: settings.language.clone(),
    };
    let mut warnings = Vec::new();
    let mut feed = match crm.adapter.open(request.payload, &read_settings, &mut warnings) {
        Ok(feed) => feed,
        Err(error) => {
            if !request.dry_run && ExitStatus::for_error(&error) == ExitStatus::Unreadable {
                record_unreadable(request, &error);
            }
            return Err(error);
        }
    };
    for warning in &warnings {
        reporter.warn(warning);
    }
    if request.photos.is_some() {
        // Checked before any listing is written: the photo step would
        // refuse the directory only after the data is committed.
        MediaDir::new(settings.photos.media_dir.clone())
            .check_owner(&settings.database.media_owner())
            .map_err(|error| UsageError(format!("{error:#}")))?;
    }
    let mut store = open_store(&settings.database, request.dry_run, reporter)?;
    let store = store.as_mut();
    let options = import_options(request);
    if request.photos_only {
        let summary = pipeline::import_photos(
            store,
            &format!("pending photos of {}", feed.source()),
            feed.photo_files().as_ref(),
            &options,
            reporter,
        )?;
        summarize(&summary, reporter)?;
        return Ok(summary);
    }
    let summary = pipeline::import(store, feed.as_mut(), &options, reporter)?;
    summarize(&summary, reporter)?;
    print_alerts(&summary, request, reporter);
    if let Some(reason) = &summary.guard_reason {
        let mut alert = RunAlert::new(
            &settings.name,
            &settings.crm,
            &settings.agency,
            "guard_tripped",
            reason,
        );
        alert.run_id = summary.run_id;
        notify::send(config, &alert, reporter);
    }
    let applied = matches!(summary.status, RunStatus::Succeeded | RunStatus::Partial);
    if applied && !request.dry_run && crm.transport == registry::Transport::Ftp {
        move_processed_drop(request.payload, config, reporter);
    }
    if applied && !request.dry_run {
        mark_feed_imported(request.payload, reporter);
    }
    Ok(summary)
}

/// Returns whether a payload is a staging folder that a fetch is still
/// filling, or left behind when it failed: fetches write under a `.partial`
/// name and rename the folder once complete.
fn is_unfinished_fetch(payload: &Path) -> bool {
    payload
        .file_name()
        .is_some_and(|name| name.to_string_lossy().ends_with(".partial"))
}

/// Processes the photos earlier runs left pending or failed for one
/// integration, without a payload: photos that are files of a delivery
/// wait for the next import that brings it.
///
/// # Errors
/// The integration has no listings yet, its agency is locked, or the
/// database or media directory cannot be written.
pub fn import_pending_photos(
    request: &ImportRequest<'_>,
    reporter: &mut Reporter,
) -> anyhow::Result<RunSummary> {
    let mut store = request.settings.database.open()?;
    pipeline::import_photos(
        store.as_mut(),
        "pending photos",
        None,
        &import_options(request),
        reporter,
    )
}

fn import_options(request: &ImportRequest<'_>) -> ImportOptions {
    let settings = request.settings;
    ImportOptions {
        integration: settings.name.clone(),
        crm: settings.crm.clone(),
        agency_code: settings.agency.clone(),
        organization: settings.organization.clone(),
        allow_mass_withdrawal: request.allow_mass_withdrawal,
        dry_run: request.dry_run,
        withdrawal: settings.withdrawal,
        min_share: settings.min_share,
        trigger: request.trigger,
        wait: request.wait,
        held_lock: request.held_lock.clone(),
        photos: request.photos.map(|scope| PhotoRun {
            settings: settings.photos.clone(),
            scope,
        }),
    }
}

/// Records an import whose payload could not be opened (a truncated zip,
/// a missing listings file) as a failed run, so that the history shows it.
/// A failure to record it only loses that line of history.
fn record_unreadable(request: &ImportRequest<'_>, error: &anyhow::Error) {
    let settings = request.settings;
    if let Ok(store) = settings.database.open() {
        let _ = store.record_failed_run(
            &settings.crm,
            &settings.agency,
            settings.organization.as_deref(),
            &request.payload.display().to_string(),
            request.trigger,
            &format!("{error:#}"),
        );
    }
}

/// Marks a fetched feed as imported, so that the next fetch may ask the
/// server whether it changed. A failure costs one full download next time.
fn mark_feed_imported(payload: &Path, reporter: &mut Reporter) {
    use crate::crm::kyero::fetch::{FEED_MANIFEST, IMPORTED_MARK};
    if !payload.join(FEED_MANIFEST).is_file() {
        return;
    }
    let mark = payload.join(IMPORTED_MARK);
    if let Err(error) = std::fs::write(&mark, crate::store::timestamp()) {
        reporter.warn(&format!("cannot write {}: {error}", mark.display()));
    }
}

/// Announces a run that could not finish on the failure webhook, if any.
pub fn alert_failure(
    config: &ConfigFile,
    settings: &config::ImportSettings,
    error: &anyhow::Error,
    reporter: &mut Reporter,
) {
    let locked = error
        .chain()
        .any(|cause| cause.is::<crate::store::lock::LockedError>());
    let reason = format!("{error:#}");
    let status = if locked { "locked" } else { "failed" };
    let alert = RunAlert::new(&settings.name, &settings.crm, &settings.agency, status, &reason);
    notify::send(config, &alert, reporter);
}

/// Returns the exit status that a run's outcome calls for.
pub fn exit_status(summary: &RunSummary) -> ExitStatus {
    match summary.status {
        RunStatus::Succeeded => ExitStatus::Success,
        RunStatus::Partial => ExitStatus::RecordsRejected,
        RunStatus::GuardTripped => ExitStatus::GuardTripped,
        RunStatus::Running | RunStatus::Failed | RunStatus::Interrupted => ExitStatus::Unreadable,
    }
}

/// Opens the database. A dry run on a SQLite file that does not exist yet,
/// or on a Postgres database passerelle has not set up, compares with an
/// empty database in memory instead of creating anything.
fn open_store(database: &Database, dry_run: bool, reporter: &mut Reporter) -> anyhow::Result<Box<dyn Store>> {
    let database = match database {
        _ if !dry_run => return database.open(),
        Database::Postgres(target) => {
            if let Some(store) = PostgresStore::open_existing(target)? {
                return Ok(Box::new(store));
            }
            reporter.info(&format!(
                "dry run: {database} has no passerelle tables yet; comparing with an empty database, and \
                 creating nothing"
            ));
            return Ok(Box::new(SqliteStore::open_in_memory()?));
        }
        Database::Sqlite(path) if path.exists() => return database.open(),
        Database::Sqlite(path) => path,
    };
    let folder = database.parent().filter(|folder| !folder.as_os_str().is_empty());
    if let Some(folder) = folder.filter(|folder| !folder.is_dir()) {
        anyhow::bail!(
            "cannot open SQLite database {}: folder {} does not exist",
            database.display(),
            folder.display()
        );
    }
    reporter.info(&format!(
        "dry run: {} does not exist; comparing with an empty database, which is not created",
        database.display()
    ));
    Ok(Box::new(SqliteStore::open_in_memory()?))
}

fn print_summary(summary: &RunSummary, settings: &config::ImportSettings, reporter: &mut Reporter) {
    let database = &settings.database;
    let counts = &summary.counts;
    let heading = match summary.run_id {
        Some(run) => format!("run {run} into {database}"),
        None => "dry run, nothing written".to_string(),
    };
    if summary.photo_step == PhotoStep::Only {
        reporter.info(&format!(
            "{heading}: {} {}, {}",
            settings.crm, settings.agency, summary.source
        ));
        print_photo_counts(summary, reporter);
        reporter.info(&format!("  status: {}", summary.status.as_str()));
        return;
    }
    reporter.info(&format!(
        "{heading}: {} {} from {} ({})",
        settings.crm,
        settings.agency,
        summary.source,
        summary.encoding.map_or("binary", |encoding| encoding.label())
    ));
    let mut line = format!(
        "  {}: {} created, {} updated, {} unchanged; {} withdrawn; {}; {}",
        plural(counts.seen, "listing"),
        counts.created,
        counts.updated,
        counts.unchanged,
        counts.withdrawn,
        plural(counts.rejected, "rejected record"),
        plural(counts.warnings, "warning")
    );
    if counts.kept > 0 {
        line.push_str(&format!(
            "; {} kept after a rejected record",
            plural(counts.kept, "listing")
        ));
    }
    reporter.info(&line);
    print_photo_counts(summary, reporter);
    reporter.info(&format!("  status: {}", summary.status.as_str()));
}

fn print_photo_counts(summary: &RunSummary, reporter: &mut Reporter) {
    let counts = &summary.counts;
    let line = match summary.photo_step {
        PhotoStep::Skipped if summary.dry_run => "  photos: not looked at in a dry run".to_string(),
        PhotoStep::Skipped => "  photos: not looked at (--no-photos); the next run takes them".to_string(),
        PhotoStep::Ran | PhotoStep::Only => format!(
            "  photos: {} stored, {} reused, {} failed",
            counts.photos_stored, counts.photos_reused, counts.photos_failed
        ),
    };
    reporter.info(&line);
}

/// Prints what an operator must act on, whatever the summary format.
fn print_alerts(summary: &RunSummary, request: &ImportRequest<'_>, reporter: &mut Reporter) {
    // A sync runs several integrations: its lines name the one they are about.
    let name = &request.settings.name;
    let (prefix, rerun) = if request.trigger == "sync" {
        (
            format!("sync {name}: "),
            format!("passerelle sync --integration {name} --force"),
        )
    } else {
        (String::new(), "--force".to_string())
    };
    if summary.counts.skipped > 0 {
        let agencies: Vec<String> = summary
            .other_agencies
            .iter()
            .map(|(agency, count)| format!("{agency} ({count})"))
            .collect();
        reporter.warn(&format!(
            "{prefix}skipped {} of other agencies: {}; import them with --agency CODE",
            plural(summary.counts.skipped, "record"),
            agencies.join(", ")
        ));
    }
    if let Some(reason) = &summary.guard_reason {
        let hint = if summary.would_withdraw > 0 {
            format!(
                "if the feed is right, run again with {rerun} to withdraw the {} it lacks",
                plural(summary.would_withdraw, "active listing")
            )
        } else {
            // A file of another format is the likeliest cause; its warning
            // came before every rejected record, so it is repeated here.
            registry::find(&request.settings.crm)
                .ok()
                .and_then(|crm| registry::format_hint(crm, request.payload))
                .unwrap_or_else(|| {
                    "check that the CRM and the agency code match the file; `passerelle parse FILE` shows \
                     the agencies and records it holds"
                        .to_string()
                })
        };
        reporter.error_with_hint(
            &format!("{prefix}guard tripped, nothing withdrawn: {reason}"),
            &hint,
        );
    }
}

/// Moves the FTP file a staged payload came from into the processed folder,
/// when the settings ask for it. Moving needs the FTP password, like a
/// fetch. A failure is a warning: the import itself succeeded, and a file
/// left in place is fetched and imported again, unchanged, next time.
fn move_processed_drop(payload: &Path, config: &ConfigFile, reporter: &mut Reporter) {
    let Some(processed) = config.ftp.as_ref().and_then(|ftp| ftp.processed_folder.clone()) else {
        return;
    };
    let manifest_path = payload.join(ftp::DROP_MANIFEST);
    let Ok(text) = std::fs::read_to_string(&manifest_path) else {
        return;
    };
    let moved = (|| -> anyhow::Result<String> {
        let manifest: ftp::DropManifest = serde_json::from_str(&text)
            .with_context(|| format!("invalid fetch manifest {}", manifest_path.display()))?;
        let settings = config::resolve_ftp(config)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(runtime.block_on(ftp::move_to_processed(&settings, &manifest, &processed))?)
    })();
    match moved {
        Ok(target) => reporter.info(&format!("moved the FTP drop to {target}")),
        Err(error) => reporter.warn(&format!("the FTP drop was not moved to {processed}: {error:#}")),
    }
}

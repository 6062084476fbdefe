//! `passerelle runs`: the run history, for a support engineer who wants to
//! know what last night's imports did, or why one failed.

use anyhow::Context;

use crate::cli::{RunsAction, RunsArgs, SummaryFormat};
use crate::config::{self, ConfigFile};
use crate::exit::{ExitStatus, UsageError};
use crate::record::shown_value;
use crate::report::Reporter;
use crate::store::Store;
use crate::store::history::{RunFilter, RunRecord, StoredIssue};

pub fn run(args: &RunsArgs, config: &ConfigFile, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    let database = config::resolve_database(args.database.as_deref(), config)?;
    if let Some(missing) = database.missing_file() {
        return Err(UsageError(format!(
            "no database at {}; pass --database PATH|URL or set database.path or database.url in the settings file",
            missing.display()
        ))
        .into());
    }
    let store = database.open()?;
    match &args.action {
        Some(RunsAction::Show { id }) => show(store.as_ref(), *id, args.format, reporter)?,
        None => list(store.as_ref(), args, config, reporter)?,
    }
    reporter.flush()?;
    Ok(ExitStatus::Success)
}

fn list(
    store: &dyn Store,
    args: &RunsArgs,
    config: &ConfigFile,
    reporter: &mut Reporter,
) -> anyhow::Result<()> {
    let (crm, agency_code) = match &args.target.integration {
        Some(_) => {
            let (_, crm, agency) = config::resolve_target(&args.target, config)?;
            (Some(crm), Some(agency))
        }
        None => (args.target.crm.clone(), args.target.agency.clone()),
    };
    let runs = store.list_runs(&RunFilter {
        crm,
        agency_code,
        status: args.status.clone(),
        limit: args.limit,
    })?;
    if args.format == SummaryFormat::Json {
        return Ok(reporter.data(&serde_json::to_string(&runs)?)?);
    }
    reporter.data(&format!(
        "{:>5}  {:<20}  {:<7} {:<8} {:<16} {:<13} {:>6} {:>7} {:>7} {:>9} {:>9} {:>8} {:>14}",
        "ID",
        "STARTED",
        "TRIGGER",
        "CRM",
        "AGENCY",
        "STATUS",
        "SEEN",
        "CREATED",
        "UPDATED",
        "UNCHANGED",
        "WITHDRAWN",
        "REJECTED",
        "PHOTOS"
    ))?;
    for run in &runs {
        let counts = &run.counts;
        reporter.data(&format!(
            "{:>5}  {:<20}  {:<7} {:<8} {:<16} {:<13} {:>6} {:>7} {:>7} {:>9} {:>9} {:>8} {:>14}",
            run.id,
            run.started_at,
            run.trigger,
            run.crm,
            run.agency_code,
            run.status,
            counts.seen,
            counts.created,
            counts.updated,
            counts.unchanged,
            counts.withdrawn,
            counts.rejected,
            photo_counts(counts)
        ))?;
    }
    if runs.is_empty() {
        reporter.info("no run matches");
    }
    Ok(())
}

/// Formats a run's photo counts for the tables: stored/reused/failed.
pub fn photo_counts(counts: &crate::store::RunCounts) -> String {
    format!(
        "{}/{}/{}",
        counts.photos_stored, counts.photos_reused, counts.photos_failed
    )
}

fn show(store: &dyn Store, id: i64, format: SummaryFormat, reporter: &mut Reporter) -> anyhow::Result<()> {
    let run = store
        .find_run(id)?
        .ok_or_else(|| UsageError(format!("no run {id}; passerelle runs lists them")))?;
    let issues = store.run_issues(id).context("cannot read the run's records")?;
    if format == SummaryFormat::Json {
        let shown = serde_json::json!({"run": run, "issues": issues});
        return Ok(reporter.data(&shown.to_string())?);
    }
    for line in run_lines(&run) {
        reporter.data(&line)?;
    }
    for issue in &issues {
        reporter.data(&issue_line(issue))?;
    }
    Ok(())
}

fn run_lines(run: &RunRecord) -> Vec<String> {
    let counts = &run.counts;
    let mut lines = vec![
        format!("run {}: {} {}", run.id, run.crm, run.agency_code),
        format!("source:   {}", run.source),
        format!(
            "trigger:  {}{}",
            run.trigger,
            if run.forced {
                ", forced past the guards"
            } else {
                ""
            }
        ),
        format!("started:  {}", run.started_at),
        format!("finished: {}", run.finished_at.as_deref().unwrap_or("-")),
        format!("status:   {}", run.status),
        format!(
            "listings: {} seen, {} created, {} updated, {} unchanged, {} withdrawn, {} kept",
            counts.seen, counts.created, counts.updated, counts.unchanged, counts.withdrawn, counts.kept
        ),
        format!(
            "records:  {} rejected, {} of other agencies, {}",
            counts.rejected,
            counts.skipped,
            crate::report::plural(counts.warnings, "warning")
        ),
        format!(
            "photos:   {} stored, {} reused, {} failed",
            counts.photos_stored, counts.photos_reused, counts.photos_failed
        ),
    ];
    if let Some(reason) = &run.guard_reason {
        lines.push(format!("guard:    {reason}"));
    }
    if let Some(error) = &run.error {
        lines.push(format!("error:    {error}"));
    }
    lines
}

fn issue_line(issue: &StoredIssue) -> String {
    // Photo failures have no line: they belong to a listing, not a record.
    let mut line = match issue.line {
        0 => format!("{}: {}: ", issue.severity, issue.file),
        line => format!("{}: {}:{line}: ", issue.severity, issue.file),
    };
    if issue.line == 0
        && let Some(source_id) = &issue.source_id
    {
        line.push_str(&format!("listing {source_id}, "));
    }
    if let Some(rank) = issue.column_rank {
        line.push_str(&format!("column {rank}"));
        if let Some(name) = &issue.column_name {
            line.push_str(&format!(" ({name})"));
        }
        line.push_str(": ");
    } else if let Some(name) = &issue.column_name {
        line.push_str(&format!("{name}: "));
    }
    line.push_str(&issue.message);
    if let Some(value) = issue.value.as_deref().filter(|value| !value.is_empty()) {
        line.push_str(&format!(" [value: {}]", shown_value(value)));
    }
    line
}

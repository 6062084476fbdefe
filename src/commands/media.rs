//! `passerelle media gc`: removes the photo files no stored photo refers to.

use std::time::Duration;

use crate::cli::{MediaAction, MediaGcArgs, SummaryFormat};
use crate::config::{self, ConfigFile};
use crate::exit::{ExitStatus, UsageError};
use crate::photos::media::MediaDir;
use crate::report::{Reporter, plural};

pub fn run(action: &MediaAction, config: &ConfigFile, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    match action {
        MediaAction::Gc(args) => collect_garbage(args, config, reporter),
    }
}

fn collect_garbage(
    args: &MediaGcArgs,
    config: &ConfigFile,
    reporter: &mut Reporter,
) -> anyhow::Result<ExitStatus> {
    let database = config::resolve_database(args.database.as_deref(), config)?;
    if let Some(missing) = database.missing_file() {
        anyhow::bail!(
            "database {} does not exist; pass --database PATH|URL",
            missing.display()
        );
    }
    let store = database.open()?;
    let media = MediaDir::new(config::photo_settings(config, &database)?.media_dir);
    if !media.root().is_dir() {
        reporter.warn(&format!(
            "media directory {} does not exist: {database} has stored no photo there",
            media.root().display(),
        ));
    }
    media
        .check_owner(&database.media_owner())
        .map_err(|error| UsageError(format!("{error:#}")))?;
    let referenced = store.referenced_media()?;
    let report = media.collect_garbage(
        &referenced,
        Duration::from_secs(args.min_age_minutes.saturating_mul(60)),
        args.dry_run,
    )?;
    match args.format {
        SummaryFormat::Json => {
            let mut object = serde_json::to_value(report)?;
            object["media_dir"] = media.root().display().to_string().into();
            object["dry_run"] = args.dry_run.into();
            reporter.data(&object.to_string())?;
        }
        SummaryFormat::Text => {
            if args.dry_run {
                for file in &report.files {
                    reporter.data(&media.root().join(file).display().to_string())?;
                }
            }
            let verb = if args.dry_run { "would remove" } else { "removed" };
            reporter.info(&format!(
                "{}: {verb} {} ({} bytes); kept {} in use and {} younger than {} minutes",
                media.root().display(),
                plural(report.removed, "file"),
                report.removed_bytes,
                plural(report.kept, "file"),
                report.recent,
                args.min_age_minutes
            ));
        }
    }
    reporter.flush()?;
    Ok(ExitStatus::Success)
}

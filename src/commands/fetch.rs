//! `passerelle fetch`: an agency's payload from its CRM into the staging
//! folder, without touching the database.

use anyhow::Context;

use crate::cli::FetchArgs;
use crate::config::{self, ConfigFile};
use crate::crm::adapter::{FeedUnchanged, FetchRequest};
use crate::crm::registry;
use crate::exit::{ExitStatus, UsageError};
use crate::report::Reporter;
use crate::transport::ftp;

/// Downloads an integration's payload into a new staging folder and
/// returns the folder.
///
/// # Errors
/// The CRM's payloads are given by path, or the fetch failed.
pub fn fetch_to_staging(
    settings: &config::FetchSettings,
    config: &ConfigFile,
    reporter: &mut Reporter,
) -> anyhow::Result<std::path::PathBuf> {
    let crm = registry::find(&settings.crm)?;
    let target_dir =
        crate::crm::apimo::fetch::staging_dir(&settings.staging, &settings.crm, &settings.agency);
    let request = FetchRequest {
        crm: &settings.crm,
        agency_code: &settings.agency,
        integration: &settings.integration,
        credentials: &settings.credentials,
        api_url: settings.api_url.as_deref(),
        http: settings.http.clone(),
        target_dir: &target_dir,
    };
    let staged = match (crm.transport, crm.ftp) {
        (registry::Transport::Ftp, Some(layout)) => {
            let ftp = config::resolve_ftp(config)?;
            let file_name = ftp::drop_file_name(layout.file_pattern, &settings.agency);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the FTP runtime")?;
            runtime
                .block_on(ftp::fetch_drop(&ftp, layout.folder, &file_name, &target_dir))
                .map_err(anyhow::Error::new)
                .and_then(|fetched| {
                    reporter.info(&format!(
                        "fetched {}/{} ({} bytes)",
                        layout.folder, fetched.remote_name, fetched.size
                    ));
                    let manifest = ftp::DropManifest {
                        crm: settings.crm.clone(),
                        agency: settings.agency.clone(),
                        folder: layout.folder.to_string(),
                        file: fetched.remote_name.clone(),
                        size: fetched.size,
                        modified: fetched.modified.clone(),
                        fetched_at: crate::store::timestamp(),
                    };
                    let path = target_dir.join(ftp::DROP_MANIFEST);
                    std::fs::write(&path, serde_json::to_vec_pretty(&manifest)?)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    Ok(target_dir.clone())
                })
        }
        _ => crm.adapter.fetch(&request).ok_or_else(|| {
            UsageError(format!(
                "{} delivers files that are given by path; pass the file to passerelle import",
                crm.code
            ))
        })?,
    };
    let staged = staged.with_context(|| format!("cannot fetch {} {}", settings.crm, settings.agency))?;
    let manifest = std::fs::read(staged.join(crate::crm::apimo::fetch::MANIFEST_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<crate::crm::apimo::fetch::Manifest>(&bytes).ok());
    if let Some(manifest) = manifest {
        reporter.info(&format!(
            "fetched {} properties in {}",
            manifest.total_items,
            crate::report::plural(manifest.pages, "page")
        ));
    }
    Ok(staged)
}

/// Returns whether a fetch found the CRM's feed unchanged (a 304).
pub fn is_unchanged(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<FeedUnchanged>())
}

pub fn run(args: &FetchArgs, config: &ConfigFile, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    let settings = config::resolve_fetch(args, config)?;
    if args.target.integration.is_none() && settings.integration.contains('/') {
        reporter.info(&format!(
            "no integration of the settings file matches {} {}; fetching with the defaults",
            settings.crm, settings.agency
        ));
    }
    let staged = match fetch_to_staging(&settings, config, reporter) {
        Ok(staged) => staged,
        Err(error) if is_unchanged(&error) => {
            reporter.info(&format!("{}: nothing fetched", error.root_cause()));
            return Ok(ExitStatus::Success);
        }
        Err(error) => return Err(error),
    };
    reporter.data(&staged.display().to_string())?;
    reporter.flush()?;
    Ok(ExitStatus::Success)
}

//! `passerelle fetch`: an agency's payload from its CRM into the staging
//! folder, without touching the database.

use anyhow::Context;

use crate::cli::FetchArgs;
use crate::config::{self, ConfigFile};
use crate::crm::adapter::FetchRequest;
use crate::crm::registry;
use crate::exit::{ExitStatus, UsageError};
use crate::report::Reporter;

pub fn run(args: &FetchArgs, config: &ConfigFile, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    let settings = config::resolve_fetch(args, config)?;
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
    let fetchable: Vec<&str> = registry::REGISTRY
        .iter()
        .filter(|entry| entry.transport == registry::Transport::Http)
        .map(|entry| entry.code)
        .collect();
    let staged = crm.adapter.fetch(&request).ok_or_else(|| {
        let how = match crm.transport {
            // TODO: fetch FTP drops (registry `ftp` layout) with suppaftp.
            registry::Transport::Ftp => "drops its files on the FTP server, which fetch does not read yet",
            registry::Transport::Local | registry::Transport::Http => "delivers files that are given by path",
        };
        UsageError(format!(
            "{} {how}; pass the file to passerelle import. CRMs that fetch reaches: {}",
            crm.code,
            fetchable.join(", ")
        ))
    })?;
    let staged = staged.with_context(|| format!("cannot fetch {} {}", settings.crm, settings.agency))?;
    reporter.data(&staged.display().to_string())?;
    reporter.flush()?;
    Ok(ExitStatus::Success)
}

//! `passerelle crms`: the registry of CRMs, for people or programs.

use crate::cli::{CrmsArgs, SummaryFormat};
use crate::crm::REGISTRY;
use crate::exit::ExitStatus;
use crate::report::Reporter;

pub fn run(args: &CrmsArgs, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    match args.format {
        SummaryFormat::Json => reporter.data(&serde_json::to_string(REGISTRY)?)?,
        SummaryFormat::Text => {
            reporter.data(&format!(
                "{:<10} {:<10} {:<12} {:<9} {:<22} NAME",
                "CODE", "TRANSPORT", "FORMAT", "SNAPSHOT", "FTP FILES"
            ))?;
            for entry in REGISTRY {
                let transport = serde_json::to_value(entry.transport)?;
                let format = serde_json::to_value(entry.format)?;
                let ftp_files = entry.ftp.map_or_else(
                    || "-".to_string(),
                    |ftp| format!("{}/{}", ftp.folder, ftp.file_pattern),
                );
                reporter.data(&format!(
                    "{:<10} {:<10} {:<12} {:<9} {:<22} {}",
                    entry.code,
                    transport.as_str().unwrap_or_default(),
                    format.as_str().unwrap_or_default(),
                    entry.snapshot.as_str(),
                    ftp_files,
                    entry.name
                ))?;
            }
        }
    }
    reporter.flush()?;
    Ok(ExitStatus::Success)
}

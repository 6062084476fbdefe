//! Apimo, a French real-estate CRM with a REST API (JSON, HTTP Basic auth
//! `provider:token`, pagination with `limit` and `offset`).
//!
//! [`fetch`] downloads an agency's properties page by page into a staging
//! directory. The adapter reads such a directory, or one page file, and
//! [`convert`] turns each property into a listing.

pub mod convert;
pub mod fetch;

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

use crate::crm::adapter::{Adapter, Feed, KeptIds, ListingRead, RawRecord, ReadSettings, RecordOutcome};
use crate::encoding::TextEncoding;
use crate::record::{RecordIssue, Severity};
use convert::{ApimoSettings, convert_property};
use fetch::{MANIFEST_FILE, Manifest};

/// Language of titles and descriptions when the integration names none.
pub const DEFAULT_LANGUAGE: &str = "fr";

/// Property keys that hold people's data or agency-internal notes; they are
/// removed from the raw record kept beside each listing.
const PRIVATE_KEYS: [&str; 4] = ["owner", "private_comment", "interagency_comment", "visit"];

pub struct ApimoAdapter;

impl Adapter for ApimoAdapter {
    fn open<'a>(
        &'a self,
        payload: &Path,
        settings: &'a ReadSettings,
        _warnings: &mut Vec<String>,
    ) -> anyhow::Result<Box<dyn Feed + 'a>> {
        let (pages, manifest) = staged_pages(payload)?;
        Ok(Box::new(ApimoFeed {
            source: payload.display().to_string(),
            pages,
            manifest,
            settings,
            complete: false,
        }))
    }

    fn fetch(&self, request: &crate::crm::adapter::FetchRequest<'_>) -> Option<anyhow::Result<PathBuf>> {
        Some(fetch::fetch_to_staging(request))
    }
}

/// Lists the page files of a staged payload in order, with the fetch's
/// manifest when there is one.
fn staged_pages(payload: &Path) -> anyhow::Result<(Vec<PathBuf>, Option<Manifest>)> {
    if payload.is_file() {
        return Ok((vec![payload.to_path_buf()], None));
    }
    let entries = std::fs::read_dir(payload).with_context(|| format!("cannot read {}", payload.display()))?;
    let mut pages = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        if name.starts_with("properties-") && name.ends_with(".json") {
            pages.push(path);
        }
    }
    pages.sort();
    if pages.is_empty() {
        anyhow::bail!("no Apimo page (properties-*.json) found in {}", payload.display());
    }
    let manifest_path = payload.join(MANIFEST_FILE);
    let manifest = if manifest_path.is_file() {
        let file =
            File::open(&manifest_path).with_context(|| format!("cannot read {}", manifest_path.display()))?;
        Some(
            serde_json::from_reader(BufReader::new(file))
                .with_context(|| format!("invalid fetch manifest {}", manifest_path.display()))?,
        )
    } else {
        None
    };
    Ok((pages, manifest))
}

struct ApimoFeed<'a> {
    source: String,
    pages: Vec<PathBuf>,
    manifest: Option<Manifest>,
    settings: &'a ReadSettings,
    /// The pages held as many properties as the API announced; known once
    /// they are read.
    complete: bool,
}

impl Feed for ApimoFeed<'_> {
    fn source(&self) -> &str {
        &self.source
    }

    fn encoding(&self) -> Option<TextEncoding> {
        Some(TextEncoding::Utf8)
    }

    /// Returns whether the pages held every property the API announced: a
    /// whole fetch is the agency's portfolio, but a single page or a folder
    /// missing pages is not, and must withdraw nothing.
    fn is_full_snapshot(&self) -> bool {
        self.complete
    }

    fn read(&mut self, visit: &mut dyn FnMut(RecordOutcome) -> anyhow::Result<bool>) -> anyhow::Result<()> {
        let settings = ApimoSettings {
            crm: &self.settings.crm,
            agency_code: self.settings.agency_code.as_deref(),
            organization: self.settings.organization.as_deref(),
            agents: &self.settings.agents,
            default_agent: self.settings.default_agent.as_deref(),
            language: self.settings.language.as_deref().unwrap_or(DEFAULT_LANGUAGE),
        };
        let mut total = 0;
        let mut announced = None;
        for page in &self.pages {
            let file_name = page.display().to_string();
            let file = File::open(page).with_context(|| format!("cannot read {file_name}"))?;
            let body: Value = serde_json::from_reader(BufReader::new(file))
                .with_context(|| format!("{file_name} is not valid JSON"))?;
            let properties = body["properties"]
                .as_array()
                .with_context(|| format!("{file_name} has no `properties` array"))?;
            announced = announced.or_else(|| body["total_items"].as_u64());
            for (index, property) in properties.iter().enumerate() {
                total += 1;
                let outcome = outcome_of(property, index as u64 + 1, &file_name, &settings);
                if !visit(outcome)? {
                    return Ok(());
                }
            }
        }
        if let Some(manifest) = &self.manifest
            && total != manifest.total_items
        {
            anyhow::bail!(
                "{} is incomplete: its pages hold {total} properties, but the API announced {}",
                self.source,
                manifest.total_items
            );
        }
        let announced = self
            .manifest
            .as_ref()
            .map(|manifest| manifest.total_items)
            .or(announced);
        self.complete = announced == Some(total);
        Ok(())
    }
}

fn outcome_of(property: &Value, position: u64, file: &str, settings: &ApimoSettings<'_>) -> RecordOutcome {
    let issue = |field: &str, value: String, reason: String, severity: Severity| RecordIssue {
        severity,
        file: file.to_string(),
        line: position,
        source_id: convert::text_of(&property["id"]),
        rank: None,
        column: Some(field.to_string()),
        value: Some(value),
        reason,
    };
    match convert_property(property, settings) {
        Err(problem) => RecordOutcome::Rejected {
            issue: Box::new(issue(
                problem.field,
                problem.value,
                problem.reason,
                Severity::Rejected,
            )),
            kept: KeptIds {
                source_id: convert::text_of(&property["id"]),
                reference: None,
            },
        },
        Ok(converted) => {
            let warnings = converted
                .warnings
                .into_iter()
                .map(|problem| issue(problem.field, problem.value, problem.reason, Severity::Warning))
                .collect();
            let mut raw = property.clone();
            if let Some(object) = raw.as_object_mut() {
                for key in PRIVATE_KEYS {
                    object.remove(key);
                }
            }
            RecordOutcome::Listing(Box::new(ListingRead {
                listing: converted.listing,
                warnings,
                raw: RawRecord::Json(raw.to_string()),
                line: position,
                withdrawn: converted.withdrawn,
            }))
        }
    }
}

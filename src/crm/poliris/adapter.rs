//! Poliris behind the [`Adapter`] contract: any CRM that delivers SeLoger
//! CSV files (Hektor, Twimmo, Propertybase, …) uses this adapter.

use std::collections::BTreeMap;
use std::path::Path;

use super::{ConvertSettings, PolirisPackage, read_feed};
use crate::crm::adapter::{
    Adapter, Feed, KeptColumns, KeptIds, ListingRead, RawRecord, ReadSettings, RecordOutcome,
};
use crate::encoding::TextEncoding;

pub struct PolirisAdapter;

impl Adapter for PolirisAdapter {
    fn open<'a>(
        &'a self,
        payload: &Path,
        settings: &'a ReadSettings,
        warnings: &mut Vec<String>,
    ) -> anyhow::Result<Box<dyn Feed + 'a>> {
        let package = PolirisPackage::open(payload)?;
        let (encoding, warning) = package.choose_encoding(settings.encoding)?;
        warnings.extend(warning);
        Ok(Box::new(PolirisFeed {
            source: package.listings_name(),
            convert: ConvertSettings {
                crm: settings.crm.clone(),
                agency_code: settings.agency_code.clone(),
                organization: settings.organization.clone(),
                agents: settings.agents.clone(),
                default_agent: settings.default_agent.clone(),
                currency: package.currency_code(),
            },
            package,
            encoding,
            agencies: BTreeMap::new(),
            versions: BTreeMap::new(),
            records: 0,
        }))
    }
}

/// An opened Poliris delivery.
pub struct PolirisFeed {
    package: PolirisPackage,
    source: String,
    encoding: TextEncoding,
    convert: ConvertSettings,
    /// Records read, and per agency id (column 1) and format version
    /// (column 301), for the notes.
    records: u64,
    agencies: BTreeMap<String, u64>,
    versions: BTreeMap<String, u64>,
}

impl PolirisFeed {
    pub fn package(&self) -> &PolirisPackage {
        &self.package
    }
}

impl Feed for PolirisFeed {
    fn source(&self) -> &str {
        &self.source
    }

    fn encoding(&self) -> Option<TextEncoding> {
        Some(self.encoding)
    }

    /// Returns `true`: a Poliris file is always the agency's whole portfolio
    /// (the specification's "annule et remplace").
    fn is_full_snapshot(&self) -> bool {
        true
    }

    fn notes(&self) -> Vec<String> {
        let join = |counts: &BTreeMap<String, u64>| {
            let parts: Vec<String> = counts
                .iter()
                .map(|(value, count)| format!("{value} ({count})"))
                .collect();
            parts.join(", ")
        };
        let mut notes = Vec::new();
        if !self.agencies.is_empty() {
            notes.push(format!("agency ids (column 1): {}", join(&self.agencies)));
        } else if self.records > 0 {
            notes.push("agency ids (column 1): none; any --agency CODE imports these records".to_string());
        }
        if !self.versions.is_empty() {
            notes.push(format!("format versions (column 301): {}", join(&self.versions)));
        }
        notes
    }

    fn photo_files(&self) -> Option<crate::photos::PhotoFiles> {
        self.package.photo_files()
    }

    fn read(&mut self, visit: &mut dyn FnMut(RecordOutcome) -> anyhow::Result<bool>) -> anyhow::Result<()> {
        let package = &self.package;
        let source = self.source.as_str();
        let convert = &self.convert;
        let agencies = &mut self.agencies;
        let versions = &mut self.versions;
        let records = &mut self.records;
        let has_member = |name: &str| package.accepts_photo_file(name);
        read_feed(package, self.encoding, |record| {
            *records += 1;
            if let Some(agency) = record.split_agency_id() {
                *agencies.entry(agency.to_string()).or_default() += 1;
            }
            if let Some(version) = record
                .format_version()
                .filter(|_| record.check_syntax(source).is_ok())
            {
                *versions.entry(version.to_string()).or_default() += 1;
            }
            if let (Some(agency), Some(wanted)) = (record.split_agency_id(), convert.agency_code.as_deref())
                && !agency.eq_ignore_ascii_case(wanted)
            {
                return visit(RecordOutcome::OtherAgency(agency.to_string()));
            }
            let outcome = match record.convert(source, convert, &has_member, None) {
                Err(issue) => {
                    let (technical_id, reference) = record.readable_ids();
                    RecordOutcome::Rejected {
                        issue,
                        kept: KeptIds {
                            source_id: technical_id.or(reference).map(str::to_string),
                            reference: reference.map(str::to_string),
                        },
                    }
                }
                Ok(converted) => {
                    let warnings =
                        record.warning_issues(source, &converted.listing.source_id, &converted.warnings);
                    RecordOutcome::Listing(Box::new(ListingRead {
                        listing: converted.listing,
                        warnings,
                        raw: RawRecord::Columns(KeptColumns::from_columns(record.kept_columns())),
                        line: record.line,
                        withdrawn: false,
                    }))
                }
            };
            visit(outcome)
        })
    }
}

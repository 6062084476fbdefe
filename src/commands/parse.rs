//! `passerelle parse`: what each record of an export becomes, without a store.

use crate::cli::{ParseArgs, ParseFormat};
use crate::crm::adapter::{ReadSettings, RecordOutcome};
use crate::crm::poliris::columns::{COLUMN_COUNT, column_name};
use crate::crm::poliris::{self, AgentMapping, ConvertSettings, DecodedRecord, PolirisPackage, TraceEntry};
use crate::crm::registry::{self, Format};
use crate::encoding::TextEncoding;
use crate::exit::{ExitStatus, UsageError};
use crate::listing::{Listing, RentPeriod};
use crate::record::{RecordIssue, shown_value};
use crate::report::{Reporter, plural};
use crate::store::seen::SeenIds;

/// Counts found by a parse, for the closing summary.
#[derive(Default)]
struct Tally {
    records: u64,
    listings: u64,
    rejected: u64,
    warnings: u64,
}

pub fn run(args: &ParseArgs, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    let crm = registry::find(&args.crm)?;
    if let Some(hint) = registry::format_hint(crm, &args.input.input) {
        reporter.warn(&hint);
    }
    if let Some(wanted) = args.explain {
        if crm.format != Format::PolirisCsv {
            return Err(UsageError(format!(
                "--explain reads Poliris files only, and {} is not one",
                crm.code
            ))
            .into());
        }
        let package = PolirisPackage::open(&args.input.input)?;
        let (encoding, warning) = package.choose_encoding(args.input.encoding.forced())?;
        if let Some(warning) = warning {
            reporter.warn(&warning);
        }
        let settings = ConvertSettings {
            crm: crm.code.to_string(),
            agency_code: None,
            organization: None,
            agents: AgentMapping::default(),
            default_agent: None,
            currency: package.currency_code(),
        };
        return explain(&package, encoding, wanted, args.all_columns, &settings, reporter);
    }

    let settings = ReadSettings {
        crm: crm.code.to_string(),
        encoding: args.input.encoding.forced(),
        ..ReadSettings::default()
    };
    let mut warnings = Vec::new();
    let mut feed = crm.adapter.open(&args.input.input, &settings, &mut warnings)?;
    for warning in &warnings {
        reporter.warn(warning);
    }
    let source = feed.source().to_string();
    let mut tally = Tally::default();
    let seen = SeenIds::new()?;
    if args.format == ParseFormat::Table {
        reporter.data(&format!(
            "{:>6}  {:<22} {:<12} {:<11} {:>18}  {:<24} {:>6}",
            "LINE", "SOURCE ID", "TRANSACTION", "PROPERTY", "PRICE", "CITY", "PHOTOS"
        ))?;
    }
    feed.read(&mut |outcome| {
        tally.records += 1;
        let read = match outcome {
            RecordOutcome::Listing(read) => read,
            RecordOutcome::Rejected { issue, .. } => {
                tally.rejected += 1;
                reporter.record_issue(&issue);
                return Ok(true);
            }
            // parse sets no agency, so no record belongs to another one.
            RecordOutcome::OtherAgency(_) => return Ok(true),
            RecordOutcome::Delete { source_id, line } => {
                reporter.info(&format!(
                    "{source}:{line}: listing {source_id:?} is deleted by the CRM"
                ));
                return Ok(true);
            }
        };
        let listing = &read.listing;
        if let Some(first_line) = seen.insert(&listing.source_id, read.line)? {
            tally.rejected += 1;
            reporter.record_issue(&RecordIssue::duplicate(
                &source,
                read.line,
                &listing.source_id,
                first_line,
            ));
            return Ok(true);
        }
        tally.listings += 1;
        for issue in &read.warnings {
            tally.warnings += 1;
            reporter.record_issue(issue);
        }
        match args.format {
            ParseFormat::Jsonl => reporter.data(&serde_json::to_string(listing)?)?,
            ParseFormat::Table => reporter.data(&table_row(read.line, listing))?,
        }
        Ok(true)
    })?;
    reporter.end_of_records();
    reporter.flush()?;
    reporter.info(&format!(
        "{source} ({}): {}, {}, {} rejected, {}",
        feed.encoding().map_or("binary", TextEncoding::label),
        plural(tally.records, "record"),
        plural(tally.listings, "listing"),
        tally.rejected,
        plural(tally.warnings, "warning")
    ));
    for note in feed.notes() {
        reporter.info(&note);
    }

    Ok(if tally.rejected > 0 {
        ExitStatus::RecordsRejected
    } else {
        ExitStatus::Success
    })
}

fn table_row(line: u64, listing: &Listing) -> String {
    let price = listing.price.as_ref().map_or_else(
        || "-".to_string(),
        |price| {
            let period = match price.period {
                Some(RentPeriod::Week) => "/week",
                Some(RentPeriod::Month) => "/month",
                Some(RentPeriod::Year) => "/year",
                None => "",
            };
            format!("{:.0} {}{period}", price.amount, price.currency)
        },
    );
    let city = listing.city.as_deref().unwrap_or("-");
    format!(
        "{line:>6}  {:<22} {:<12} {:<11} {:>18}  {:<24} {:>6}",
        truncate(&listing.source_id, 22),
        listing.transaction.kind.as_str(),
        listing.property.kind.as_str(),
        price,
        truncate(city, 24),
        listing.photos.len()
    )
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

/// Prints record `wanted` column by column, then what the conversion gave.
fn explain(
    package: &PolirisPackage,
    encoding: TextEncoding,
    wanted: u64,
    all_columns: bool,
    settings: &ConvertSettings,
    reporter: &mut Reporter,
) -> anyhow::Result<ExitStatus> {
    let source = package.listings_name();
    let mut status = None;
    let mut last_record = 0;
    poliris::read_feed(package, encoding, |record| {
        last_record = record.number;
        if record.number < wanted {
            return Ok(true);
        }
        let mut trace = Vec::new();
        let has_member = |name: &str| package.accepts_photo_file(name);
        let result = record.convert(&source, settings, &has_member, Some(&mut trace));
        print_columns(record, &source, encoding, &trace, all_columns, reporter)?;
        status = Some(match result {
            Ok(converted) => {
                for issue in record.warning_issues(&source, &converted.listing.source_id, &converted.warnings)
                {
                    reporter.data(&format!("warning: {issue}"))?;
                }
                reporter.data(&format!(
                    "result: imported as {}",
                    serde_json::to_string_pretty(&converted.listing)?
                ))?;
                ExitStatus::Success
            }
            Err(issue) => {
                reporter.data(&format!("result: rejected: {issue}"))?;
                ExitStatus::RecordsRejected
            }
        });
        Ok(false)
    })?;
    reporter.flush()?;
    status.ok_or_else(|| {
        UsageError(format!(
            "{source} has {last_record} records; there is no record {wanted}"
        ))
        .into()
    })
}

fn print_columns(
    record: &DecodedRecord<'_>,
    source: &str,
    encoding: TextEncoding,
    trace: &[TraceEntry],
    all_columns: bool,
    reporter: &mut Reporter,
) -> anyhow::Result<()> {
    reporter.data(&format!(
        "record {} of {source}, line {} ({}), {} columns (version 4.12 has {COLUMN_COUNT})",
        record.number,
        record.line,
        encoding.label(),
        record.fields.len()
    ))?;
    reporter.data(&format!(
        "{:>5}  {:<38} {:<40} BECAME",
        "RANK", "COLUMN", "RAW VALUE"
    ))?;
    for (index, value) in record.fields.iter().enumerate() {
        let rank = index + 1;
        let uses: Vec<&TraceEntry> = trace.iter().filter(|entry| entry.rank == rank).collect();
        if value.trim().is_empty() && uses.is_empty() && !all_columns {
            continue;
        }
        let became = if uses.is_empty() {
            "-".to_string()
        } else {
            uses.iter()
                .map(|entry| format!("{} = {}", entry.field, truncate(&entry.value, 60)))
                .collect::<Vec<_>>()
                .join("; ")
        };
        reporter.data(&format!(
            "{rank:>5}  {:<38} {:<40} {became}",
            truncate(&column_name(rank), 38),
            truncate(&shown_value(value.trim()), 40)
        ))?;
    }
    Ok(())
}

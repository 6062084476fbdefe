//! OpenImmo, the German and Austrian exchange format: a zip (usually
//! dropped on FTP) holding one or more XML files and the attachments they
//! name, or a bare XML file. `<uebertragung umfang="VOLL">` marks a full
//! snapshot, whose missing listings are withdrawn; `TEIL` a partial
//! delivery, which withdraws only the objects it deletes.
//!
//! The adapter reads each XML file one `<immobilie>` at a time; [`convert`]
//! turns each into a listing.

pub mod convert;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::crm::adapter::{Adapter, Feed, RawRecord, ReadSettings, RecordOutcome, RecordPlace};
use crate::crm::xml::{RecordReader, XmlLimits};
use crate::encoding::TextEncoding;
use crate::photos::PhotoFiles;
use crate::transport::archive::Archive;
use convert::{Action, PRIVATE_ELEMENTS};

/// Elements returned whole by the reader: the delivery's header, the
/// provider's ids, and the objects.
const RECORDS: &[&str] = &["uebertragung", "anbieternr", "openimmo_anid", "anid", "immobilie"];

pub struct OpenImmoAdapter;

impl Adapter for OpenImmoAdapter {
    fn open<'a>(
        &'a self,
        payload: &Path,
        settings: &'a ReadSettings,
        _warnings: &mut Vec<String>,
    ) -> anyhow::Result<Box<dyn Feed + 'a>> {
        let delivery = Delivery::find(payload)?;
        Ok(Box::new(OpenImmoFeed {
            source: payload.display().to_string(),
            delivery,
            settings,
            scope: None,
        }))
    }
}

/// Location of the XML files of a delivery.
enum Delivery {
    Zip { path: PathBuf, members: Vec<String> },
    Files { files: Vec<PathBuf>, folder: PathBuf },
}

impl Delivery {
    fn find(payload: &Path) -> anyhow::Result<Self> {
        if !payload.exists() {
            anyhow::bail!("{} does not exist", payload.display());
        }
        if payload.is_dir() {
            let mut xml = Vec::new();
            let mut zips = Vec::new();
            for entry in
                std::fs::read_dir(payload).with_context(|| format!("cannot read {}", payload.display()))?
            {
                let path = entry?.path();
                match extension(&path).as_deref() {
                    Some("xml") => xml.push(path),
                    Some("zip") => zips.push(path),
                    _ => {}
                }
            }
            xml.sort();
            return match (xml.is_empty(), zips.as_slice()) {
                (false, _) => Ok(Self::Files {
                    files: xml,
                    folder: payload.to_path_buf(),
                }),
                (true, [zip]) => Self::find(zip),
                _ => anyhow::bail!("no OpenImmo .xml file, nor one zip, in {}", payload.display()),
            };
        }
        if extension(payload).as_deref() == Some("zip") {
            let archive = Archive::open(payload)?;
            let mut members: Vec<String> = archive
                .member_names()
                .into_iter()
                .filter(|name| name.to_ascii_lowercase().ends_with(".xml"))
                .collect();
            members.sort();
            if members.is_empty() {
                anyhow::bail!(
                    "{} contains no .xml file; an OpenImmo zip needs one",
                    payload.display()
                );
            }
            return Ok(Self::Zip {
                path: payload.to_path_buf(),
                members,
            });
        }
        Ok(Self::Files {
            files: vec![payload.to_path_buf()],
            folder: payload.parent().map(Path::to_path_buf).unwrap_or_default(),
        })
    }
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .map(|extension| extension.to_string_lossy().to_ascii_lowercase())
}

struct OpenImmoFeed<'a> {
    source: String,
    delivery: Delivery,
    settings: &'a ReadSettings,
    /// `umfang` of every file read: `VOLL`, `TEIL`, or empty when absent.
    scope: Option<Vec<String>>,
}

impl Feed for OpenImmoFeed<'_> {
    fn source(&self) -> &str {
        &self.source
    }

    fn encoding(&self) -> Option<TextEncoding> {
        Some(TextEncoding::Utf8)
    }

    /// Returns whether every file of the delivery declares `umfang="VOLL"`.
    /// A delivery without that header withdraws nothing for missing.
    fn is_full_snapshot(&self) -> bool {
        self.scope
            .as_ref()
            .is_some_and(|scopes| !scopes.is_empty() && scopes.iter().all(|scope| scope == "VOLL"))
    }

    fn notes(&self) -> Vec<String> {
        match &self.scope {
            Some(scopes) if scopes.iter().any(String::is_empty) => {
                vec!["no <uebertragung umfang> header: read as a partial delivery".to_string()]
            }
            Some(scopes) => vec![format!("delivery scope (umfang): {}", scopes.join(", "))],
            None => Vec::new(),
        }
    }

    fn photo_files(&self) -> Option<PhotoFiles> {
        Some(match &self.delivery {
            Delivery::Zip { path, .. } => PhotoFiles::Zip(path.clone()),
            Delivery::Files { folder, .. } => PhotoFiles::Directory(folder.clone()),
        })
    }

    fn read(&mut self, visit: &mut dyn FnMut(RecordOutcome) -> anyhow::Result<bool>) -> anyhow::Result<()> {
        let mut scopes = Vec::new();
        let settings = self.settings;
        match &self.delivery {
            Delivery::Zip { path, members } => {
                let mut archive = Archive::open(path)?;
                for member in members {
                    let name = format!("{}!{member}", path.display());
                    let stream = archive.stream_member(member)?;
                    let scope = read_file(BufReader::new(stream), &name, settings, visit)?;
                    scopes.push(scope);
                }
            }
            Delivery::Files { files, .. } => {
                for file in files {
                    let name = file.display().to_string();
                    let opened = std::fs::File::open(file).with_context(|| format!("cannot read {name}"))?;
                    let scope = read_file(BufReader::new(opened), &name, settings, visit)?;
                    scopes.push(scope);
                }
            }
        }
        self.scope = Some(scopes);
        Ok(())
    }
}

/// Reads one XML file's objects; returns its `umfang`, empty when absent.
fn read_file(
    source: impl BufRead,
    name: &str,
    settings: &ReadSettings,
    visit: &mut dyn FnMut(RecordOutcome) -> anyhow::Result<bool>,
) -> anyhow::Result<String> {
    let mut records = RecordReader::new(source, RECORDS, XmlLimits::default());
    let mut objects = 0;
    let mut scope = String::new();
    let mut provider: Option<String> = None;
    let mut provider_number: Option<String> = None;
    while let Some(record) = records
        .next_record()
        .with_context(|| format!("{name} cannot be read to its end"))?
    {
        let element = record.element;
        match element.name.as_str() {
            "uebertragung" => {
                scope = element
                    .attribute("umfang")
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_uppercase();
            }
            "openimmo_anid" | "anid" => {
                provider = Some(element.text.clone()).filter(|text| !text.is_empty());
            }
            "anbieternr" => {
                provider_number = Some(element.text.clone()).filter(|text| !text.is_empty());
            }
            _ => {
                objects += 1;
                let provider_id = provider.as_deref().or(provider_number.as_deref());
                let outcome = outcome_of(&element, provider_id, record.at.line, name, settings);
                if !visit(outcome)? {
                    return Ok(scope);
                }
            }
        }
    }
    // A delivery with no object is a delivery; a file of another kind is not.
    match records.root() {
        _ if objects > 0 => Ok(scope),
        Some("openimmo") => Ok(scope),
        Some(other) => {
            anyhow::bail!("{name} is not an OpenImmo file: its root element is <{other}>, not <openimmo>")
        }
        None => anyhow::bail!("{name} contains no XML element, so it is not an OpenImmo file"),
    }
}

fn outcome_of(
    object: &crate::crm::xml::Element,
    provider: Option<&str>,
    line: u64,
    file: &str,
    settings: &ReadSettings,
) -> RecordOutcome {
    let source_id = convert::source_id(object, provider);
    let action = convert::action(object);
    if action == Action::Delete
        && let Some(source_id) = &source_id
    {
        return RecordOutcome::Delete {
            source_id: source_id.clone(),
            line,
        };
    }
    let place = RecordPlace {
        file,
        line,
        source_id,
        reference: object
            .text_at(&["verwaltung_techn", "objektnr_extern"])
            .map(str::to_string),
    };
    RecordOutcome::of_conversion(
        convert::convert_object(object, provider, settings),
        place,
        || RawRecord::Json(object.to_json(&PRIVATE_ELEMENTS).to_string()),
        action == Action::Reference,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields of an object, `{}` standing for a random value.
    const FIELDS: [&str; 12] = [
        "<verwaltung_techn><openimmo_obid>{}</openimmo_obid><objektnr_extern>{}</objektnr_extern></verwaltung_techn>",
        "<verwaltung_techn><aktion aktionart=\"{}\"/><objektnr_extern>{}</objektnr_extern></verwaltung_techn>",
        "<preise><kaufpreis>{}</kaufpreis><kaltmiete>{}</kaltmiete><waehrung iso_waehrung=\"{}\"/></preise>",
        "<objektkategorie><vermarktungsart KAUF=\"{}\" MIETE_PACHT=\"{}\"/></objektkategorie>",
        "<objektkategorie><objektart><haus haustyp=\"{}\"/></objektart></objektkategorie>",
        "<flaechen><wohnflaeche>{}</wohnflaeche><anzahl_zimmer>{}</anzahl_zimmer></flaechen>",
        "<geo><plz>{}</plz><geokoordinaten breitengrad=\"{}\"/><etage>{}</etage></geo>",
        "<freitexte><objekttitel>{}</objekttitel><objekt_text>{}</objekt_text></freitexte>",
        "<anhaenge><anhang location=\"{}\" gruppe=\"{}\"><daten><pfad>{}</pfad></daten></anhang></anhaenge>",
        "<zustand_angaben><baujahr>{}</baujahr><energiepass><wertklasse>{}</wertklasse></energiepass></zustand_angaben>",
        "<ausstattung><moebliert moeb=\"{}\"/><fahrstuhl PERSONEN=\"{}\"/></ausstattung>",
        "<kontaktperson><email_direkt>{}</email_direkt></kontaktperson>",
    ];

    /// Reads a delivery of these bytes to its end or its first error.
    fn read(bytes: &[u8]) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("openimmo.xml");
        std::fs::write(&path, bytes).unwrap();
        let settings = ReadSettings::for_tests("openimmo");
        let Ok(mut feed) = OpenImmoAdapter.open(&path, &settings, &mut Vec::new()) else {
            return;
        };
        let _ = feed.read(&mut |_| Ok(true));
        let _ = feed.is_full_snapshot();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn any_values_convert_or_reject_without_panicking(
            objects in proptest::collection::vec(
                proptest::collection::vec((0usize..FIELDS.len(), "[ -~]{0,12}"), 0..20),
                1..5,
            ),
            scope in "[A-Z]{0,5}",
        ) {
            let mut xml = format!("<openimmo><uebertragung umfang=\"{scope}\"/><anbieter>");
            for fields in &objects {
                xml.push_str("<immobilie>");
                for (field, value) in fields {
                    let value = value.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
                    xml.push_str(&FIELDS[*field].replace("{}", &value));
                }
                xml.push_str("</immobilie>");
            }
            xml.push_str("</anbieter></openimmo>");
            read(xml.as_bytes());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            read(&bytes);
        }
    }
}

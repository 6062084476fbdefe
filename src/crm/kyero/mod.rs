//! Kyero v3, the XML feed format of many Spanish and European CRMs: one
//! `<property>` per listing in a `<root>`, published at a URL per agency.
//! The feed is absolute: a listing missing from it is withdrawn.
//!
//! [`fetch`] pulls the feed with a conditional request into a staging
//! folder. The adapter reads a feed file, or a folder holding one `.xml`
//! file, one property at a time; [`convert`] turns each into a listing.

pub mod convert;
pub mod fetch;

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::crm::adapter::{Adapter, Feed, RawRecord, ReadSettings, RecordOutcome, RecordPlace};
use crate::crm::xml::{Element, RecordReader, XmlLimits};
use crate::encoding::TextEncoding;

/// Elements kept out of the raw record: the agency's private notes.
const PRIVATE_ELEMENTS: [&str; 1] = ["notes"];

pub struct KyeroAdapter;

impl Adapter for KyeroAdapter {
    fn open<'a>(
        &'a self,
        payload: &Path,
        settings: &'a ReadSettings,
        _warnings: &mut Vec<String>,
    ) -> anyhow::Result<Box<dyn Feed + 'a>> {
        let file = feed_file(payload)?;
        Ok(Box::new(KyeroFeed {
            source: file.display().to_string(),
            file,
            settings,
        }))
    }

    fn fetch(&self, request: &crate::crm::adapter::FetchRequest<'_>) -> Option<anyhow::Result<PathBuf>> {
        Some(fetch::fetch_to_staging(request))
    }
}

/// Finds the feed: the path itself, or the one `.xml` file of a folder.
fn feed_file(payload: &Path) -> anyhow::Result<PathBuf> {
    if !payload.is_dir() {
        if !payload.exists() {
            anyhow::bail!("{} does not exist", payload.display());
        }
        return Ok(payload.to_path_buf());
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(payload).with_context(|| format!("cannot read {}", payload.display()))? {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("xml"))
        {
            found.push(path);
        }
    }
    match found.as_slice() {
        [file] => Ok(file.clone()),
        [] => anyhow::bail!("no .xml feed in {}", payload.display()),
        _ => anyhow::bail!(
            "{} contains {} .xml files; pass the path of the feed itself",
            payload.display(),
            found.len()
        ),
    }
}

struct KyeroFeed<'a> {
    source: String,
    file: PathBuf,
    settings: &'a ReadSettings,
}

impl Feed for KyeroFeed<'_> {
    fn source(&self) -> &str {
        &self.source
    }

    fn encoding(&self) -> Option<TextEncoding> {
        Some(TextEncoding::Utf8)
    }

    /// Returns `true`: Kyero feeds are absolute.
    fn is_full_snapshot(&self) -> bool {
        true
    }

    fn read(&mut self, visit: &mut dyn FnMut(RecordOutcome) -> anyhow::Result<bool>) -> anyhow::Result<()> {
        let file = File::open(&self.file).with_context(|| format!("cannot read {}", self.source))?;
        let mut records = RecordReader::new(BufReader::new(file), &["property"], XmlLimits::default());
        let mut properties = 0;
        while let Some(record) = records
            .next_record()
            .with_context(|| format!("{} cannot be read to its end", self.source))?
        {
            properties += 1;
            let outcome = outcome_of(&record.element, record.at.line, &self.source, self.settings);
            if !visit(outcome)? {
                return Ok(());
            }
        }
        // An empty feed is a feed (the guards judge it); a file of another kind is not.
        match records.root() {
            _ if properties > 0 => Ok(()),
            Some("root") => Ok(()),
            Some(other) => anyhow::bail!(
                "{} is not a Kyero feed: its root element is <{other}>, not <root>",
                self.source
            ),
            None => anyhow::bail!(
                "{} contains no XML element, so it is not a Kyero feed",
                self.source
            ),
        }
    }
}

fn outcome_of(property: &Element, line: u64, file: &str, settings: &ReadSettings) -> RecordOutcome {
    let place = RecordPlace {
        file,
        line,
        source_id: property.text_at(&["id"]).map(str::to_string),
        reference: property.text_at(&["ref"]).map(str::to_string),
    };
    RecordOutcome::of_conversion(
        convert::convert_property(property, settings),
        place,
        || RawRecord::Json(property.to_json(&PRIVATE_ELEMENTS).to_string()),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields of a property, `{}` standing for a random value.
    const FIELDS: [&str; 12] = [
        "<id>{}</id>",
        "<price>{}</price>",
        "<price_freq>{}</price_freq>",
        "<currency>{}</currency>",
        "<type>{}</type>",
        "<beds>{}</beds>",
        "<surface_area><built>{}</built><plot>{}</plot></surface_area>",
        "<location><latitude>{}</latitude></location>",
        "<energy_rating><consumption>{}</consumption></energy_rating>",
        "<desc><en>{}</en><xx>{}</xx></desc>",
        "<images><image id=\"{}\"><url>{}</url></image></images>",
        "<features><feature>{}</feature></features>",
    ];

    /// Reads a feed of these bytes to its end or its first error.
    fn read(bytes: &[u8]) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feed.xml");
        std::fs::write(&path, bytes).unwrap();
        let settings = ReadSettings::for_tests("kyero");
        let Ok(mut feed) = KyeroAdapter.open(&path, &settings, &mut Vec::new()) else {
            return;
        };
        let _ = feed.read(&mut |_| Ok(true));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn any_values_convert_or_reject_without_panicking(
            properties in proptest::collection::vec(
                proptest::collection::vec((0usize..FIELDS.len(), "[ -~]{0,12}"), 0..20),
                1..5,
            ),
        ) {
            let mut xml = String::from("<root>");
            for fields in &properties {
                xml.push_str("<property>");
                for (field, value) in fields {
                    let value = value.replace('&', "&amp;").replace('<', "&lt;");
                    xml.push_str(&FIELDS[*field].replace("{}", &value));
                }
                xml.push_str("</property>");
            }
            xml.push_str("</root>");
            read(xml.as_bytes());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            read(&bytes);
        }
    }
}

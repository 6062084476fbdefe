//! OpenImmo deliveries: the two real samples field by field, and invented
//! VOLL and TEIL deliveries of fixtures/openimmo/, zipped here with their
//! attachment files.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::gallery::{jpeg, two_tone};
use crate::support::{
    SettingsFile, active_source_ids, by_source_id, counts, imported, open_database, parse, passerelle,
    samples_of,
};

const AGENCY: &str = "MAKLER-7";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/openimmo")
        .join(name)
}

fn photo_sources(listing: &Value) -> Vec<String> {
    listing["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|photo| photo["source"]["location"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn immowelt_export_falls_back_to_its_external_number() {
    let Some(samples) = samples_of("openimmo") else {
        return;
    };
    let file = samples.join("immowelt-export-1.2.7.xml");
    let (output, listings) = parse(&["--crm", "openimmo", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("1 record, 1 listing, 0 rejected"), "{stderr}");
    let flat = by_source_id(&listings, "8333");
    assert_eq!(
        flat["reference"], "8333",
        "an empty openimmo_obid falls back to objektnr_extern"
    );
    assert_eq!(flat["transaction"]["kind"], "rent");
    assert_eq!(flat["price"]["amount"], 940.0);
    assert_eq!(flat["price"]["period"], "month");
    assert_eq!(flat["charges"], 322.0);
    assert_eq!(flat["living_area"], 72.3);
    assert_eq!(flat["rooms"], 2);
    assert_eq!(flat["postal_code"], "97084");
    assert_eq!(flat["city"], "Heidingsfeld, Heidingsfeld");
    assert_eq!(flat["title"], "Reinkommen, wohlfühlen, losleben!");
    let description = flat["description"].as_str().unwrap();
    assert!(
        description.starts_with("Diese Wohnung beeindruckt mit ihrem großzügigen Grundriss"),
        "{description}"
    );
    assert!(
        description.contains("\n\nHeidingsfeld war von 1367 bis 1929"),
        "lage follows: {description}"
    );
    assert_eq!(flat["features"]["lift"], true);
    assert_eq!(flat["features"]["cellar"], true);
    let photos = flat["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 6);
    assert_eq!(photos[0]["caption"], "Wohn- und Essbereich");
    assert_eq!(photos[5]["caption"], "Bad mit Dusche");
    assert!(photo_sources(flat)[1].contains("30a50499-0b6b-4540-aa5b-21577d671480.jpg"));
    assert_eq!(flat["property"]["kind"], "other", "the export has no objektart");
}

#[test]
fn association_example_maps_its_fields() {
    let Some(samples) = samples_of("openimmo") else {
        return;
    };
    let file = samples.join("openimmo-ev-example-1.2.7.xml");
    let (output, listings) = parse(&["--crm", "openimmo", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1 record, 1 listing, 0 rejected"), "{stderr}");
    assert!(stderr.contains("delivery scope (umfang): VOLL"), "{stderr}");
    let object = by_source_id(&listings, "111");
    assert_eq!(object["transaction"]["kind"], "sale");
    assert_eq!(object["property"]["raw"], "zimmer/ZIMMER");
    assert_eq!(object["price"]["currency"], "DEM");
    assert_eq!(object["country"], "DEU");
    assert_eq!(object["latitude"], 22.22);
    assert_eq!(
        (object["floor"].as_i64(), object["floors"].as_i64()),
        (Some(1), Some(3))
    );
    assert_eq!(object["title"], "Schönes Appartment im Stadtzentrum");
    assert_eq!(object["description"], "Nice appartment in the inner city");
    assert_eq!(object["dpe"]["class"]["kind"], "C");
    assert_eq!(object["dpe"]["value"], 80.0);
    assert_eq!(object["features"]["furnished"], true);
    assert_eq!(photo_sources(object), ["abc.jpg"]);
    assert_eq!(object["photos"][0]["source"]["type"], "archive_member");
    let text = serde_json::to_string(object).unwrap();
    assert!(!text.contains("foo@bar.de"), "contact details stay out: {text}");
}

/// Zips a delivery: its XML file and the attachment files given.
fn zip(path: &Path, xml: &Path, files: &[&str]) {
    let mut archive = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    archive.start_file("openimmo.xml", options).unwrap();
    archive.write_all(&std::fs::read(xml).unwrap()).unwrap();
    for (index, name) in files.iter().enumerate() {
        archive.start_file(format!("bilder/{name}"), options).unwrap();
        archive
            .write_all(&jpeg(&two_tone(20 + index as u32, 16), None))
            .unwrap();
    }
    archive.finish().unwrap();
}

fn import(database: &Path, delivery: &Path) -> crate::support::Imported {
    let output = passerelle()
        .arg("import")
        .arg(delivery)
        .args([
            "--crm",
            "openimmo",
            "--agency",
            AGENCY,
            "--format",
            "json",
            "--database",
        ])
        .arg(database)
        .output()
        .unwrap();
    imported(&output)
}

#[test]
fn partial_delivery_changes_one_and_deletes_one() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let voll = dir.path().join("voll.zip");
    // balkon.jpg is named by the XML but missing from the zip.
    zip(
        &voll,
        &fixture("voll.xml"),
        &["titel.jpg", "wohnzimmer.jpg", "grundriss.jpg"],
    );
    let first = import(&database, &voll);
    assert_eq!(counts(&first.summary), (3, 0, 0, 0, 0), "{}", first.stderr);
    let photos = &first.summary["counts"];
    assert_eq!(photos["photos_stored"], 3, "{}", first.stderr);
    assert_eq!(
        photos["photos_failed"], 2,
        "balkon.jpg is missing, the EXTERN URL refused"
    );
    let (error, rank): (String, i64) = open_database(&database)
        .query_row(
            "SELECT error, rank FROM photos WHERE source = 'balkon.jpg'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(error, "`balkon.jpg` is not in the delivery");
    assert_eq!(rank, 3, "title picture, then pictures, floor plan last");
    let order: Vec<String> = open_database(&database)
        .prepare("SELECT source FROM photos p JOIN listings l ON l.id = p.listing_id WHERE l.source_id = 'OBJ-A' ORDER BY rank")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        order,
        ["titel.jpg", "wohnzimmer.jpg", "balkon.jpg", "grundriss.jpg"]
    );

    let teil = dir.path().join("teil.zip");
    zip(&teil, &fixture("teil.xml"), &[]);
    let second = import(&database, &teil);
    assert_eq!(
        counts(&second.summary),
        (0, 1, 0, 1, 0),
        "OBJ-A changed, OBJ-B deleted, G-303 left alone: {}",
        second.stderr
    );
    assert!(
        second.stderr.contains("not the agency's whole portfolio"),
        "{}",
        second.stderr
    );
    assert_eq!(
        active_source_ids(&database, AGENCY),
        ["OBJ-A", "OI-MAKLER-7/G-303"]
    );
    let (price, data): (f64, String) = open_database(&database)
        .query_row(
            "SELECT price, data FROM listings WHERE source_id = 'OBJ-B'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(price, 489_000.0, "a deleted listing keeps its data");
    assert!(data.contains("Einfamilienhaus mit Garten"));
    assert_eq!(
        second.summary["counts"]["photos_reused"], 3,
        "OBJ-A's three photos come from the first zip: {}",
        second.stderr
    );
}

#[test]
fn kyero_feed_is_not_an_openimmo_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let kyero = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kyero/feed-1.xml");
    let run = import(&dir.path().join("passerelle.db"), &kyero);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("is not an OpenImmo file: its root element is <root>, not <openimmo>"),
        "{}",
        run.stderr
    );
}

/// An OpenImmo zip dropped on our FTP server goes through sync like any
/// drop, its INTERN photos taken from the fetched zip.
#[test]
fn sync_imports_a_zip_dropped_on_ftp() {
    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("ftp-root/openimmo");
    std::fs::create_dir_all(&drops).unwrap();
    zip(
        &drops.join(format!("{AGENCY}.zip")),
        &fixture("voll.xml"),
        &["titel.jpg", "wohnzimmer.jpg", "balkon.jpg", "grundriss.jpg"],
    );
    let ftp = crate::ftp::start_server(&dir.path().join("ftp-root"), 54200..=54299);
    let settings = SettingsFile::new()
        .ftp(ftp.port)
        .integration("makler", "openimmo", AGENCY, "")
        .write(dir.path());
    let output = passerelle()
        .args(["sync", "--format", "json", "--config"])
        .arg(&settings)
        .env("PASSERELLE_FTP_PASSWORD", crate::ftp::PASSWORD)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let results: Vec<Value> =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{error}: {stderr}"));
    let counts = &results[0]["counts"];
    assert_eq!(counts["created"], 3, "{stderr}");
    assert_eq!(
        counts["photos_stored"], 4,
        "the four INTERN photos come from the zip: {stderr}"
    );
    assert_eq!(
        counts["photos_failed"], 1,
        "the EXTERN URL on 127.0.0.1 is refused: {stderr}"
    );
    assert_eq!(results[0]["status"], "partial");
}

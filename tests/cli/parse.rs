//! `passerelle parse` on the fixtures: what each record becomes.

use std::io::Read;
use std::process::Stdio;

use passerelle::crm::poliris::synthetic;
use passerelle::encoding::TextEncoding;
use serde_json::{Value, json};

use crate::support::{by_source_id, fixture, parse, passerelle};

fn path(name: &str) -> String {
    fixture(name).to_str().unwrap().to_string()
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn cp1252_crlf_export_decodes_every_record() {
    let (output, listings) = parse(&[&path("cp1252-crlf.csv")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(listings.len(), 4);
    assert!(stderr_of(&output).contains("Windows-1252"));

    let bastide = by_source_id(&listings, "SUD-77101");
    assert_eq!(bastide["title"], "Bastide d’architecte – piscine et oliveraie");
    assert_eq!(
        bastide["transaction"],
        json!({"kind": "sale", "raw": "Vente de prestige"})
    );
    assert_eq!(bastide["property"]["kind"], "house");
    assert_eq!(bastide["property_subtype"], "Bastide");
    assert_eq!(bastide["price"]["amount"], 1_850_000.0);
    assert_eq!(bastide["price"]["currency"], "EUR");
    assert_eq!(bastide["living_area"], 245.0);
    assert_eq!(bastide["land_area"], 4800.0);
    assert_eq!(bastide["rooms"], 7);
    assert_eq!(bastide["bedrooms"], 5);
    assert_eq!(bastide["year_built"], 1998);
    assert_eq!(
        bastide["postal_code"], "13540",
        "real postal code (rank 108) wins"
    );
    assert_eq!(bastide["city"], "Puyricard", "real city (rank 109) wins");
    assert_eq!(bastide["crm_agency_id"], "AGENCE-SUD");
    assert_eq!(bastide["reference"], "12_3101");
    assert_eq!(bastide["latitude"], 43.5651);
    assert_eq!(bastide["dpe_date"], "2025-02-12");
    assert_eq!(bastide["features"]["pool"], true);
    assert_eq!(bastide["features"]["furnished"], false);
}

#[test]
fn description_br_variants_become_line_breaks() {
    let (_, listings) = parse(&[&path("cp1252-crlf.csv")]);
    let bastide = by_source_id(&listings, "SUD-77101");
    let expected = "Au cœur d’un parc de 4 800 m² planté d’oliviers, bastide d’architecte de 245 m² \
                    entièrement rénovée.\n\
                    Rez-de-chaussée : séjour de 70 m², cuisine ouverte, suite parentale.\n\
                    Étage : quatre chambres, deux salles d’eau.\n\
                    Piscine chauffée 12 x 5, pool-house, garage double.\n\n\
                    Prix : 1 850 000 € honoraires inclus à la charge de l’acquéreur (3,90 % TTC).";
    assert_eq!(bastide["description"], expected);
}

#[test]
fn decimal_comma_price_keeps_magnitude() {
    let (_, listings) = parse(&[&path("cp1252-crlf.csv")]);
    let flat = by_source_id(&listings, "12_3103");
    assert_eq!(flat["price"]["amount"], 249_500.0);
    assert_eq!(flat["title"], "Appartement 4 pièces intra-muros – 249 500 €");
}

#[test]
fn placeholders_become_unknown_not_zero() {
    let (_, listings) = parse(&[&path("cp1252-crlf.csv")]);
    let flat = by_source_id(&listings, "12_3103");
    assert_eq!(flat["available_from"], Value::Null, "00/00/0000 is no date");
    assert_eq!(flat["dpe_date"], Value::Null, "00/00/0000 is no date");
    assert_eq!(flat["year_built"], Value::Null, "year 0 is unknown");
    assert_eq!(flat["charges"], Value::Null, "an empty number is unknown");
    assert_eq!(flat["land_area"], 0.0, "a written 0 stays 0");
}

#[test]
fn id_falls_back_to_reference() {
    let (_, listings) = parse(&[&path("cp1252-crlf.csv")]);
    let flat = by_source_id(&listings, "12_3103");
    assert_eq!(flat["reference"], "12_3103");
}

#[test]
fn swapped_dpe_is_restored_with_warning() {
    let (output, listings) = parse(&[&path("cp1252-crlf.csv")]);
    let bastide = by_source_id(&listings, "SUD-77101");
    assert_eq!(bastide["dpe"]["value"], 185.0);
    assert_eq!(bastide["dpe"]["class"]["kind"], "D");
    assert_eq!(bastide["ges"]["value"], 41.0);
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("cp1252-crlf.csv:1: column 176 (Consommation énergie)"),
        "{stderr}"
    );
    assert!(stderr.contains("swapped back"), "{stderr}");
}

#[test]
fn blank_and_exempt_energy_classes() {
    let (_, listings) = parse(&[&path("cp1252-crlf.csv")]);
    let rental = by_source_id(&listings, "SUD-77102");
    assert_eq!(
        rental["dpe"],
        json!({"class": {"kind": "blank", "raw": "VI"}, "value": null})
    );
    assert_eq!(
        rental["ges"],
        json!({"class": {"kind": "not_subject", "raw": "NS"}, "value": null})
    );
}

#[test]
fn rental_fields_are_read() {
    let (_, listings) = parse(&[&path("cp1252-crlf.csv")]);
    let rental = by_source_id(&listings, "SUD-77102");
    assert_eq!(rental["transaction"]["kind"], "rent");
    assert_eq!(
        rental["price"],
        json!({"amount": 1250.0, "currency": "EUR", "period": "month"})
    );
    assert_eq!(rental["charges"], 120.0);
    assert_eq!(rental["deposit"], 2260.0);
    assert_eq!(rental["fees"], json!({"value": 890.0, "unit": "amount"}));
    assert_eq!(rental["features"]["furnished"], true);
    assert_eq!(rental["features"]["lift"], true);
    assert_eq!(
        rental["city"], "Marseille 6ème",
        "shown city when rank 109 is empty"
    );
}

#[test]
fn photos_follow_rank_order_across_blocks() {
    let (_, listings) = parse(&[&path("cp1252-crlf.csv")]);
    let bastide = by_source_id(&listings, "SUD-77101");
    let photos = bastide["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 4, "ranks 85, 86, 87 and 164");
    assert_eq!(
        photos[0]["source"],
        json!({"type": "url", "location": "http://127.0.0.1:9/photos.agence.example/sud/77101/facade.jpg"})
    );
    assert_eq!(photos[0]["caption"], "Façade sud");
    assert_eq!(photos[1]["caption"], "Piscine – vue depuis la terrasse");
    assert_eq!(
        photos[3]["source"]["location"],
        "http://127.0.0.1:9/photos.agence.example/sud/77101/oliveraie.jpg"
    );
    assert_eq!(by_source_id(&listings, "SUD-77104")["photos"], json!([]));
}

#[test]
fn owner_personal_data_never_printed() {
    let (output, _) = parse(&[&path("cp1252-crlf.csv")]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for personal in [
        "Dupont",
        "0600000000",
        "SCI Les Oliviers Fictifs",
        "ne pas transmettre",
    ] {
        assert!(!stdout.contains(personal), "{personal} leaked into the output");
    }
}

#[test]
fn utf8_variants_parse_to_four_listings() {
    let (output, listings) = parse(&[&path("utf8-lf-variants.csv")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(listings.len(), 4);
    let first = by_source_id(&listings, "NORD-9001");
    assert_eq!(
        first["crm_agency_id"], "AGENCE-NORD",
        "the BOM is not part of rank 1"
    );
    assert_eq!(first["title"], "T3 lumineux – quartier Vauban");
    let spaced = by_source_id(&listings, "NORD-9002");
    assert_eq!(spaced["property"]["kind"], "parking");
    assert_eq!(spaced["price"]["amount"], 95.0);
    assert_eq!(spaced["city"], "Lille");
}

#[test]
fn raw_line_break_joins_the_record() {
    let (_, listings) = parse(&[&path("utf8-lf-variants.csv")]);
    let house = by_source_id(&listings, "NORD-9003");
    assert_eq!(
        house["description"],
        "Maison de village de 110 m² rénovée en 2019, au calme.\n\
         À l’étage, trois chambres et une salle de bains.\n\
         Jardin de 420 m² exposé sud, dépendance."
    );
    assert_eq!(house["property_subtype"], "Maison de village");
    assert_eq!(house["photos"].as_array().unwrap().len(), 3);
}

#[test]
fn version_408_record_with_306_columns() {
    let (output, listings) = parse(&[&path("utf8-lf-variants.csv")]);
    let land = by_source_id(&listings, "NORD-9004");
    assert_eq!(land["property"]["kind"], "land");
    assert_eq!(land["land_area"], 650.0);
    assert_eq!(land["living_area"], Value::Null);
    assert_eq!(
        land["dpe_date"],
        Value::Null,
        "rank 324 is past a 306-column record"
    );
    assert!(stderr_of(&output).contains("4.08-006 (1), 4.12 (3)"));
}

#[test]
fn translations_are_kept_by_language() {
    let (_, listings) = parse(&[&path("utf8-lf-variants.csv")]);
    let first = by_source_id(&listings, "NORD-9001");
    assert_eq!(
        first["translations"],
        json!([{
            "language": "EN",
            "title": "Bright two-bedroom flat – Vauban",
            "description": "Second-floor flat of 67.5 m² in a 1972 building, five minutes' walk from the \
                            citadel.\nLiving room, fitted kitchen, two bedrooms, bathroom."
        }])
    );
}

#[test]
fn rejected_records_name_line_column_value() {
    let (output, listings) = parse(&[&path("rejects.csv")]);
    assert_eq!(output.status.code(), Some(1), "exit 1 when records are rejected");
    let ids: Vec<&Value> = listings.iter().map(|listing| &listing["source_id"]).collect();
    assert_eq!(ids, [&json!("EST-0501"), &json!("EST-0504")]);

    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("rejects.csv:2: column 13 (Loyer CC): record has 12 columns"),
        "{stderr}"
    );
    assert!(
        stderr.contains("rejects.csv:3: column 3 (Type d'annonce): unknown transaction type `échange`"),
        "{stderr}"
    );
    assert!(stderr.contains("[value: \"échange\"]"), "{stderr}");
}

#[test]
fn zip_with_lowercase_members() {
    let (output, listings) = parse(&[&path("lowercase-members.zip")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(listings.len(), 2);
    let first = by_source_id(&listings, "ZIP-001");
    let photos = first["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 2);
    assert_eq!(photos[0]["source"]["type"], "archive_member");
    assert_eq!(photos[0]["source"]["location"], "zip-001-a.jpg");
    assert!(stderr_of(&output).contains("lowercase-members.zip!Annonces.csv"));
}

#[test]
fn zip_and_directory_inputs() {
    let (_, zipped) = parse(&[&path("uppercase-members.zip")]);
    assert_eq!(zipped.len(), 1);
    assert_eq!(zipped[0]["source_id"], "ZIP-101");
    assert_eq!(zipped[0]["photos"][0]["source"]["type"], "url");

    let (output, listed) = parse(&[&path("dir-input")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["crm_agency_id"], "AGENCE-DIR");
}

#[test]
fn photo_file_missing_from_zip_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let csv = std::fs::read_to_string(fixture("dir-input/Annonces.csv")).unwrap();
    let first_photo = csv
        .split("!#")
        .nth(84)
        .unwrap()
        .trim_matches(|c| c == '"' || c == ' ')
        .to_string();
    std::fs::write(
        dir.path().join("annonces.CSV"),
        csv.replace(&first_photo, "absent.jpg"),
    )
    .unwrap();

    let (output, listings) = parse(&[dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(listings.len(), 1, "a missing photo does not reject the listing");
    let stderr = stderr_of(&output);
    assert!(stderr.contains("column 85 (Photo 1)"), "{stderr}");
    assert!(
        stderr.contains("`absent.jpg` is neither an http(s) URL nor a file of the delivery"),
        "{stderr}"
    );
}

#[test]
fn table_format_lists_each_listing() {
    let output = passerelle()
        .args(["parse", "--format", "table", &path("snapshot-1.csv")])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "a header and five rows:\n{stdout}");
    assert!(lines[0].contains("SOURCE ID"));
    assert!(
        lines[3].contains("OUEST-003") && lines[3].contains("312000 EUR"),
        "{}",
        lines[3]
    );
}

#[test]
fn explain_shows_rank_name_raw_and_result() {
    let output = passerelle()
        .args(["parse", "--explain", "3", &path("cp1252-crlf.csv")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("record 3 of"), "{stdout}");
    let price = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("11 "))
        .unwrap();
    assert!(price.contains("Prix / Loyer / Prix de cession"), "{price}");
    assert!(price.contains("\"249 500,00\""), "{price}");
    assert!(price.contains("price.amount = 249500"), "{price}");
    let unused = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("105 "))
        .unwrap();
    assert!(
        unused.trim_end().ends_with('-'),
        "rank 105 is not imported: {unused}"
    );
    assert!(stdout.contains("result: imported as"), "{stdout}");
}

#[test]
fn explain_of_rejected_record_gives_reason() {
    let output = passerelle()
        .args(["parse", "--explain", "3", &path("rejects.csv")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("result: rejected:"), "{stdout}");
    assert!(stdout.contains("unknown transaction type"), "{stdout}");
}

#[test]
fn explain_past_the_end_is_a_usage_error() {
    let output = passerelle()
        .args(["parse", "--explain", "99", &path("rejects.csv")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("has 4 records; there is no record 99"),
        "{stderr}"
    );
}

#[test]
fn forced_encoding_overrides_detection() {
    let (output, listings) = parse(&["--encoding", "utf-8", &path("cp1252-crlf.csv")]);
    assert_eq!(output.status.code(), Some(0));
    let title = listings[0]["title"].as_str().unwrap();
    assert!(
        title.contains('\u{fffd}'),
        "cp1252 bytes read as UTF-8 become U+FFFD: {title}"
    );
}

#[test]
fn stray_byte_in_utf8_file_is_warned() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(path("snapshot-1.csv")).unwrap();
    let second_record = bytes.iter().position(|byte| *byte == b'\n').unwrap() + 1;
    // A Windows-1252 `é` (0xE9) left in the second record of a UTF-8 file.
    let at = second_record + 1;
    bytes.insert(at, 0xE9);
    let file = dir.path().join("Annonces.csv");
    std::fs::write(&file, &bytes).unwrap();

    let (output, _) = parse(&[file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(&format!(
            "Annonces.csv: byte {at} is not valid UTF-8, although the accented text before it is"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("pass --encoding utf-8"), "{stderr}");
}

#[test]
fn missing_input_exits_3_naming_it() {
    let output = passerelle()
        .args(["parse", "no/such/Annonces.csv"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = stderr_of(&output);
    assert!(
        stderr.starts_with("error: no/such/Annonces.csv does not exist"),
        "{stderr}"
    );
}

#[test]
fn zip_without_listings_file_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let archive_path = dir.path().join("photos-only.zip");
    let mut archive = zip::ZipWriter::new(std::fs::File::create(&archive_path).unwrap());
    archive
        .start_file("photo.jpg", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut archive, b"not a listing").unwrap();
    archive.finish().unwrap();

    let output = passerelle().arg("parse").arg(&archive_path).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("no Annonces.csv in"), "{stderr}");
    assert!(stderr.contains("found: photo.jpg"), "{stderr}");
}

#[test]
fn damaged_zip_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let damaged = dir.path().join("damaged.zip");
    let mut bytes = std::fs::read(fixture("uppercase-members.zip")).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&damaged, bytes).unwrap();

    let output = passerelle().arg("parse").arg(&damaged).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr_of(&output).contains("is not a readable zip archive"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn empty_file_parses_to_nothing() {
    let (output, listings) = parse(&[&path("empty.csv")]);
    assert_eq!(output.status.code(), Some(0));
    assert!(listings.is_empty());
    assert!(stderr_of(&output).contains("0 records"));
}

#[test]
fn closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("Annonces.csv");
    let mut file = std::fs::File::create(&export).unwrap();
    synthetic::write_export(&mut file, "AG", 2_000, 3, 0, TextEncoding::Utf8).unwrap();

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("passerelle"))
        .arg("parse")
        .arg(&export)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut start = [0u8; 10];
    child.stdout.take().unwrap().read_exact(&mut start).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "a reader that stops early is no error"
    );
    assert!(!stderr_of(&output).contains("error"), "{}", stderr_of(&output));
}

#[test]
fn explain_zero_is_invalid() {
    let output = passerelle()
        .args(["parse", "--explain", "0", &path("rejects.csv")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("invalid value '0' for '--explain <N>'"),
        "{}",
        stderr_of(&output)
    );
}

//! `passerelle crms` and CRM codes on the command line.

use serde_json::Value;

use crate::support::{fixture, import, open_database, passerelle};

#[test]
fn crms_lists_every_registered_code() {
    let output = passerelle().arg("crms").output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    for code in ["apimo", "poliris", "hektor", "twimmo"] {
        assert!(
            stdout.lines().any(|line| line.starts_with(&format!("{code} "))),
            "{code} missing:\n{stdout}"
        );
    }
    assert!(stdout.contains("hektor/{agency}.csv"), "{stdout}");
    assert!(stdout.contains("twimmo/{agency}.zip"), "{stdout}");
}

#[test]
fn crms_json_describes_each_entry() {
    let output = passerelle().args(["crms", "--format", "json"]).output().unwrap();
    assert!(output.status.success());
    let entries: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let hektor = entries.iter().find(|entry| entry["code"] == "hektor").unwrap();
    assert_eq!(hektor["transport"], "ftp");
    assert_eq!(hektor["format"], "poliris_csv");
    assert_eq!(hektor["snapshot"], "full");
    assert_eq!(hektor["ftp"]["zipped"], false);
    let apimo = entries.iter().find(|entry| entry["code"] == "apimo").unwrap();
    assert_eq!(apimo["transport"], "http");
    assert_eq!(apimo["credentials"], serde_json::json!(["provider", "token"]));
}

#[test]
fn unknown_crm_lists_known_codes() {
    let output = passerelle()
        .args(["parse", "--crm", "nosuchcrm"])
        .arg(fixture("snapshot-1.csv"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("[possible values: apimo, poliris, hektor, twimmo, kyero, openimmo]"),
        "{stderr}"
    );
}

#[test]
fn hektor_code_imports_poliris_files() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let output = passerelle()
        .args(["import", "--no-photos"])
        .arg(fixture("cp1252-crlf.csv"))
        .args(["--crm", "hektor", "--agency", "AGENCE-SUD", "--database"])
        .arg(&database)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (crm, data): (String, String) = open_database(&database)
        .query_row(
            "SELECT i.crm, l.data FROM listings l JOIN integrations i ON i.id = l.integration_id LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(crm, "hektor");
    let listing: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(listing["crm"], "hektor");

    let again = import(&database, &fixture("cp1252-crlf.csv"), "AGENCE-SUD", &[]);
    assert_eq!(
        again.summary["counts"]["created"], 4,
        "poliris and hektor are two integrations"
    );
}

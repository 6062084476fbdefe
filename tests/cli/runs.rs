//! `passerelle runs`: the run history recorded by imports.

use std::path::Path;

use serde_json::Value;

use crate::support::{fixture, import, passerelle};

fn runs(database: &Path, args: &[&str]) -> std::process::Output {
    passerelle()
        .arg("runs")
        .args(args)
        .arg("--database")
        .arg(database)
        .output()
        .unwrap()
}

/// Imports a clean snapshot, a file with rejects and an empty file.
fn three_runs(database: &Path) {
    import(database, &fixture("snapshot-1.csv"), "AGENCE-OUEST", &[]);
    import(database, &fixture("rejects.csv"), "AGENCE-EST", &[]);
    import(database, &fixture("empty.csv"), "AGENCE-OUEST", &[]);
}

#[test]
fn runs_lists_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    three_runs(&database);

    let output = runs(&database, &["--format", "json"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let statuses: Vec<&str> = listed.iter().map(|run| run["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["guard_tripped", "partial", "succeeded"]);
    assert_eq!(listed[1]["agency_code"], "AGENCE-EST");
    assert_eq!(listed[1]["counts"]["rejected"], 2);
    assert!(
        listed[0]["guard_reason"]
            .as_str()
            .unwrap()
            .contains("no valid listing")
    );

    let text = runs(&database, &[]);
    let stdout = String::from_utf8(text.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 4, "a header and three runs:\n{stdout}");
    assert!(stdout.lines().next().unwrap().contains("TRIGGER"), "{stdout}");
    assert!(
        stdout.lines().skip(1).all(|line| line.contains(" import ")),
        "{stdout}"
    );
}

#[test]
fn runs_filter_by_status_and_agency() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    three_runs(&database);

    let partial: Vec<Value> =
        serde_json::from_slice(&runs(&database, &["--status", "partial", "--format", "json"]).stdout)
            .unwrap();
    assert_eq!(partial.len(), 1);
    assert_eq!(partial[0]["agency_code"], "AGENCE-EST");

    let ouest: Vec<Value> = serde_json::from_slice(
        &runs(
            &database,
            &["--crm", "poliris", "--agency", "AGENCE-OUEST", "--format", "json"],
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(ouest.len(), 2);

    let limited: Vec<Value> =
        serde_json::from_slice(&runs(&database, &["--limit", "1", "--format", "json"]).stdout).unwrap();
    assert_eq!(limited.len(), 1);
}

#[test]
fn run_show_lists_rejected_records() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    three_runs(&database);

    let text = runs(&database, &["show", "2"]);
    assert_eq!(text.status.code(), Some(0));
    let stdout = String::from_utf8(text.stdout).unwrap();
    assert!(stdout.contains("status:   partial"), "{stdout}");
    assert!(stdout.contains("trigger:  import"), "{stdout}");
    assert!(
        stdout.contains("rejects.csv:3: column 3 (Type d'annonce): unknown transaction type `échange`"),
        "{stdout}"
    );

    let json: Value =
        serde_json::from_slice(&runs(&database, &["show", "2", "--format", "json"]).stdout).unwrap();
    assert_eq!(json["run"]["id"], 2);
    assert_eq!(json["issues"].as_array().unwrap().len(), 2);
    assert_eq!(json["issues"][1]["value"], "échange");
}

#[test]
fn unknown_run_and_database_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    three_runs(&database);

    let missing_run = runs(&database, &["show", "99"]);
    assert_eq!(missing_run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing_run.stderr).contains("no run 99"));

    let missing_database = runs(&dir.path().join("nope.db"), &[]);
    assert_eq!(missing_database.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing_database.stderr).contains("no database at"));
    assert!(!dir.path().join("nope.db").exists(), "no database is created");
}

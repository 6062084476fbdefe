//! Output for operators: progress bars under a terminal, plain text
//! without one, quiet runs, and the `--events jsonl` stream.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::{fixture, passerelle, under_terminal};

const OUEST: &str = "AGENCE-OUEST";
/// The agency of rejects.csv: two rejected records, and a photo on a
/// closed loopback port, which fails.
const EST: &str = "AGENCE-EST";

#[test]
fn terminal_shows_progress_bars() {
    let dir = tempfile::tempdir().unwrap();
    let archive = fixture("photos-full.zip");
    let archive = archive.to_str().unwrap();
    let (code, shown) = under_terminal(
        dir.path(),
        &["import", archive, "--crm", "poliris", "--agency", OUEST],
        &[],
    );
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains("poliris/AGENCE-OUEST photos   ["),
        "no photos bar:\n{shown}"
    );
    assert!(shown.contains("/5 "), "the bar shows no total:\n{shown}");
    assert!(shown.contains("poliris/AGENCE-OUEST listings"), "{shown}");
    assert!(shown.contains("status: succeeded"), "{shown}");

    let (code, hidden) = under_terminal(
        dir.path(),
        &[
            "import",
            archive,
            "--crm",
            "poliris",
            "--agency",
            OUEST,
            "--no-progress",
            "--database",
            "second.db",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{hidden}");
    assert!(!hidden.contains("photos   ["), "{hidden}");
    assert!(hidden.contains("status: succeeded"), "{hidden}");
}

fn import_rejects(dir: &Path, extra: &[&str]) -> Output {
    passerelle()
        .current_dir(dir)
        .arg("import")
        .arg(fixture("rejects.csv"))
        .args(["--crm", "poliris", "--agency", EST])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn without_a_terminal_output_has_no_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    // A rejected value with an escape sequence that would clear a screen.
    let text = std::fs::read_to_string(fixture("rejects.csv")).unwrap();
    assert!(text.contains("échange"), "rejects.csv changed");
    let nasty = dir.path().join("nasty.csv");
    std::fs::write(&nasty, text.replace("échange", "é\u{1b}[2Jchange")).unwrap();

    let output = passerelle()
        .current_dir(dir.path())
        .arg("import")
        .arg(&nasty)
        .args(["--crm", "poliris", "--agency", EST])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let control = stderr.chars().find(|c| c.is_control() && *c != '\n');
    assert_eq!(control, None, "a control character reached stderr:\n{stderr}");
    assert!(
        stderr.contains("unknown transaction type `é\\u{1b}[2Jchange`"),
        "{stderr}"
    );
    assert!(stderr.contains("1 photo failed"), "{stderr}");
    assert!(stderr.contains("status: partial"), "{stderr}");
}

#[test]
fn quiet_prints_only_what_needs_acting_on() {
    let dir = tempfile::tempdir().unwrap();
    let clean = passerelle()
        .current_dir(dir.path())
        .arg("import")
        .arg(fixture("snapshot-1.csv"))
        .args(["--crm", "poliris", "--agency", OUEST, "--no-photos", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(clean.status.code(), Some(0));
    assert!(clean.stdout.is_empty(), "{clean:?}");
    assert!(clean.stderr.is_empty(), "{clean:?}");

    let partial = import_rejects(dir.path(), &["--quiet"]);
    assert_eq!(partial.status.code(), Some(1));
    let stderr = String::from_utf8(partial.stderr).unwrap();
    assert!(!stderr.is_empty());
    for line in stderr.lines() {
        assert!(
            line.starts_with("rejected: ") || line.starts_with("warning: "),
            "quiet printed more than problems: {line}"
        );
    }

    let failed = import_missing(dir.path()).arg("--quiet").output().unwrap();
    assert_eq!(failed.status.code(), Some(3));
    let stderr = String::from_utf8(failed.stderr).unwrap();
    assert!(stderr.starts_with("error: cannot import missing.csv"), "{stderr}");
}

/// Returns an import of a file that does not exist, run in `dir`.
fn import_missing(dir: &Path) -> assert_cmd::Command {
    let mut command = passerelle();
    command
        .current_dir(dir)
        .args(["import", "missing.csv", "--crm", "poliris", "--agency", OUEST]);
    command
}

fn events(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect()
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["type"].as_str().expect("every event has a type"))
        .collect()
}

fn position(types: &[&str], wanted: &str) -> usize {
    types
        .iter()
        .position(|kind| *kind == wanted)
        .unwrap_or_else(|| panic!("no {wanted} event in {types:?}"))
}

#[test]
fn events_follow_partial_run_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let output = import_rejects(dir.path(), &["--events", "jsonl"]);
    assert_eq!(output.status.code(), Some(1));
    let events = events(&String::from_utf8(output.stdout).unwrap());
    let types = types(&events);

    assert_eq!(types.first(), Some(&"run_started"), "{types:?}");
    assert_eq!(types.last(), Some(&"run_succeeded"), "{types:?}");
    let rejected = position(&types, "listing_rejected");
    let progress = position(&types, "progress");
    let photo = position(&types, "photo_failed");
    assert!(rejected < photo, "{types:?}");
    assert!(progress < photo, "{types:?}");
    assert_eq!(
        types.iter().filter(|kind| **kind == "listing_rejected").count(),
        2
    );

    for event in &events {
        assert_eq!(event["integration"], "poliris/AGENCE-EST");
        assert_eq!(event["run_id"], 1);
        assert!(event["time"].is_string());
    }
    let started = &events[0];
    assert_eq!(started["dry_run"], false);
    assert!(started["source"].as_str().unwrap().ends_with("rejects.csv"));
    let rejection = events
        .iter()
        .find(|event| event["type"] == "listing_rejected" && event["line"] == 3)
        .unwrap_or_else(|| panic!("no rejection of line 3: {events:?}"));
    assert_eq!(rejection["field"], "Type d'annonce");
    assert_eq!(rejection["value"], "échange");
    let last_progress = events.iter().rfind(|event| event["type"] == "progress").unwrap();
    assert_eq!(last_progress["imported"], 2);
    assert_eq!(last_progress["last_listing"]["source_id"], "EST-0504");
    assert!(last_progress["last_listing"]["id"].is_i64());
    let failure = &events[photo];
    assert_eq!(failure["listing_source_id"], "EST-0501");
    assert!(
        failure["location"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:9/")
    );
    let end = events.last().unwrap();
    assert_eq!(end["status"], "partial");
    assert_eq!(end["counts"]["rejected"], 2);
    assert_eq!(end["counts"]["photos_failed"], 1);
}

#[test]
fn guard_trip_gives_event_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let events_file = dir.path().join("events.jsonl");
    let import = |file: &str| {
        passerelle()
            .current_dir(dir.path())
            .arg("import")
            .arg(fixture(file))
            .args([
                "--crm",
                "poliris",
                "--agency",
                OUEST,
                "--no-photos",
                "--events-file",
            ])
            .arg(&events_file)
            .output()
            .unwrap()
    };
    assert_eq!(import("snapshot-1.csv").status.code(), Some(0));
    let tripped = import("empty.csv");
    assert_eq!(tripped.status.code(), Some(4));
    let stderr = String::from_utf8(tripped.stderr).unwrap();
    assert!(
        stderr
            .contains("hint: if the feed is right, run again with --force to withdraw the 5 active listings"),
        "{stderr}"
    );

    let events = events(&std::fs::read_to_string(&events_file).unwrap());
    let types = types(&events);
    assert_eq!(
        types.iter().filter(|kind| **kind == "run_started").count(),
        2,
        "the file gathers both runs: {types:?}"
    );
    let guard = position(&types, "guard_tripped");
    assert_eq!(events[guard]["would_withdraw"], 5);
    assert_eq!(events[guard]["run_id"], 2);
    let end = events.last().unwrap();
    assert_eq!(end["type"], "run_failed");
    assert_eq!(end["status"], "guard_tripped");
    assert_eq!(end["exit_status"], 4);
}

#[test]
fn run_that_cannot_start_fails() {
    let dir = tempfile::tempdir().unwrap();
    let output = import_missing(dir.path())
        .args(["--events", "jsonl"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let events = events(&String::from_utf8(output.stdout).unwrap());
    assert_eq!(types(&events), ["run_failed"]);
    assert_eq!(events[0]["run_id"], Value::Null);
    assert_eq!(events[0]["exit_status"], 3);
    assert!(events[0]["error"].as_str().unwrap().contains("missing.csv"));
}

#[test]
fn events_and_a_json_summary_cannot_share_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let refused = import_rejects(dir.path(), &["--events", "jsonl", "--format", "json"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pass --events-file PATH"));

    let unwritable = import_rejects(dir.path(), &["--events-file", "no-such-folder/events.jsonl"]);
    assert_eq!(unwritable.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unwritable.stderr)
            .contains("cannot open the events file no-such-folder/events.jsonl"),
        "{}",
        String::from_utf8_lossy(&unwritable.stderr)
    );

    let split = import_rejects(
        dir.path(),
        &["--events-file", "events.jsonl", "--format", "json", "--no-photos"],
    );
    assert_eq!(split.status.code(), Some(1));
    let summary: Value = serde_json::from_slice(&split.stdout).unwrap();
    assert_eq!(summary["status"], "partial");
    let written = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    assert_eq!(types(&events(&written)).last(), Some(&"run_succeeded"));
}

#[test]
fn verbose_and_rust_log_choose_the_diagnostic_logs() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str], rust_log: Option<&str>| {
        let mut command = passerelle();
        command
            .current_dir(dir.path())
            .arg("import")
            .arg(fixture("snapshot-1.csv"))
            .args(["--crm", "poliris", "--agency", OUEST, "--no-photos"])
            .args(extra)
            .env_remove("RUST_LOG");
        if let Some(filter) = rust_log {
            command.env("RUST_LOG", filter);
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(0));
        String::from_utf8(output.stderr).unwrap()
    };
    assert!(!run(&[], None).contains("lock taken"));
    let verbose = run(&["-v"], None);
    assert!(
        verbose.contains("DEBUG passerelle::pipeline: lock taken"),
        "{verbose}"
    );
    assert!(verbose.contains("listing step done"), "{verbose}");

    let json = run(&["--log-format", "json"], Some("passerelle::pipeline=info"));
    let lines: Vec<Value> = events(&json);
    let step = lines
        .iter()
        .find(|line| line["message"] == "listing step done")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(step["level"], "info");
    assert_eq!(step["listings"], 5);
    assert_eq!(step["target"], "passerelle::pipeline");
    assert!(
        !json.contains("opening the database"),
        "RUST_LOG chose one module only"
    );
}

#[test]
fn color_follows_the_flag_and_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let missing = |extra: &[&str], no_color: Option<&str>| {
        let mut command = import_missing(dir.path());
        command.args(extra).env_remove("NO_COLOR");
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        String::from_utf8(command.output().unwrap().stderr).unwrap()
    };
    let always = missing(&["--color", "always"], Some("1"));
    assert!(
        always.starts_with("\u{1b}[1;31merror:\u{1b}[0m cannot import"),
        "{always:?}"
    );
    // Piped stderr is not a terminal, so `auto` writes no colour.
    assert!(missing(&[], None).starts_with("error: cannot import"));
    assert!(missing(&["--color", "never"], None).starts_with("error: cannot import"));
}

#[test]
fn xml_as_poliris_ends_on_format_hint() {
    let dir = tempfile::tempdir().unwrap();
    let feed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kyero/feed-1.xml");
    let output = passerelle()
        .current_dir(dir.path())
        .arg("import")
        .arg(&feed)
        .args(["--crm", "poliris", "--agency", "COSTA-1", "--no-photos"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("hint: ") && last.ends_with("pass --crm kyero or --crm openimmo"),
        "{stderr}"
    );
}

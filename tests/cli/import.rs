//! `passerelle import` into a real SQLite file: upserts, snapshots,
//! withdrawals and their guards, rejected records, dry runs.

use std::path::Path;

use passerelle::crm::poliris::synthetic;
use passerelle::encoding::TextEncoding;
use serde_json::Value;

use crate::gallery::{Gallery, Served, jpeg, two_tone};
use crate::support::{active_source_ids, counts, fixture, import, open_database, passerelle};

const OUEST: &str = "AGENCE-OUEST";

fn run_row(database: &Path, run: i64) -> (String, Option<String>) {
    open_database(database)
        .query_row(
            "SELECT status, guard_reason FROM runs WHERE id = ?1",
            [run],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap()
}

#[test]
fn first_import_creates_every_listing() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let imported = import(&database, &fixture("snapshot-1.csv"), OUEST, &[]);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    assert_eq!(counts(&imported.summary), (5, 0, 0, 0, 0));
    assert_eq!(imported.summary["status"], "succeeded");
    assert_eq!(
        active_source_ids(&database, OUEST),
        ["OUEST-001", "OUEST-002", "OUEST-003", "OUEST-004", "OUEST-005"]
    );
}

#[test]
fn same_file_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    import(&database, &fixture("snapshot-1.csv"), OUEST, &[]);
    let again = import(&database, &fixture("snapshot-1.csv"), OUEST, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(counts(&again.summary), (0, 0, 5, 0, 0));
}

#[test]
fn later_snapshot_applies_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    import(&database, &fixture("snapshot-1.csv"), OUEST, &[]);
    let second = import(&database, &fixture("snapshot-2.csv"), OUEST, &[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(counts(&second.summary), (1, 2, 2, 1, 0));
    assert_eq!(
        active_source_ids(&database, OUEST),
        ["OUEST-001", "OUEST-002", "OUEST-003", "OUEST-004", "OUEST-006"]
    );

    let connection = open_database(&database);
    let (price, withdrawn_at): (f64, Option<String>) = connection
        .query_row(
            "SELECT price, withdrawn_at FROM listings WHERE source_id = 'OUEST-003'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(price, 299_000.0);
    assert_eq!(withdrawn_at, None);
    let still_stored: i64 = connection
        .query_row(
            "SELECT count(*) FROM listings WHERE source_id = 'OUEST-005' AND withdrawn_at IS NOT NULL",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(still_stored, 1, "a withdrawn listing is kept, marked withdrawn");
}

#[test]
fn returning_listing_is_reactivated() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    import(&database, &fixture("snapshot-1.csv"), OUEST, &[]);
    import(&database, &fixture("snapshot-2.csv"), OUEST, &[]);
    let id_before: i64 = open_database(&database)
        .query_row(
            "SELECT id FROM listings WHERE source_id = 'OUEST-005'",
            [],
            |row| row.get(0),
        )
        .unwrap();

    let back = import(&database, &fixture("snapshot-1.csv"), OUEST, &[]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(
        counts(&back.summary),
        (0, 3, 2, 1, 0),
        "005 back, 003 and 004 reverted, 006 gone"
    );
    let id_after: i64 = open_database(&database)
        .query_row(
            "SELECT id FROM listings WHERE source_id = 'OUEST-005' AND withdrawn_at IS NULL",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(id_before, id_after, "the listing keeps its identity");
}

#[test]
fn empty_file_trips_guard_and_withdraws_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    import(&database, &fixture("snapshot-1.csv"), OUEST, &[]);
    let empty = import(&database, &fixture("empty.csv"), OUEST, &[]);
    assert_eq!(empty.code, 4, "{}", empty.stderr);
    assert_eq!(empty.summary["status"], "guard_tripped");
    assert_eq!(counts(&empty.summary), (0, 0, 0, 0, 0));
    assert!(
        empty.stderr.contains("guard tripped, nothing withdrawn"),
        "{}",
        empty.stderr
    );
    assert_eq!(active_source_ids(&database, OUEST).len(), 5);

    let run = empty.summary["run_id"].as_i64().unwrap();
    let (status, reason) = run_row(&database, run);
    assert_eq!(status, "guard_tripped");
    assert!(reason.unwrap().contains("no valid listing"));

    let forced = import(&database, &fixture("empty.csv"), OUEST, &["--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_eq!(counts(&forced.summary), (0, 0, 0, 5, 0));
    assert!(active_source_ids(&database, OUEST).is_empty());
}

#[test]
fn tenth_of_the_listings_trips_guard_until_forced() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let write = |name: &str, count: usize| {
        let path = dir.path().join(name);
        let mut file = std::fs::File::create(&path).unwrap();
        synthetic::write_export(&mut file, "DIXIEME", count, 3, 0, TextEncoding::Windows1252).unwrap();
        path
    };
    let full = write("full.csv", 200);
    let tenth = write("tenth.csv", 20);
    assert_eq!(import(&database, &full, "DIXIEME", &[]).code, 0);

    let guarded = import(&database, &tenth, "DIXIEME", &[]);
    assert_eq!(guarded.code, 4, "{}", guarded.stderr);
    assert_eq!(guarded.summary["status"], "guard_tripped");
    assert_eq!(counts(&guarded.summary), (0, 0, 20, 0, 0));
    assert_eq!(active_source_ids(&database, "DIXIEME").len(), 200);

    let forced = import(&database, &tenth, "DIXIEME", &["--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_eq!(counts(&forced.summary), (0, 0, 20, 180, 0));
    assert_eq!(active_source_ids(&database, "DIXIEME").len(), 20);
    let flags: Vec<bool> = open_database(&database)
        .prepare("SELECT forced FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(flags, [false, false, true], "the history shows the forced run");
    let run = forced.summary["run_id"].as_i64().unwrap().to_string();
    let shown = passerelle()
        .args(["runs", "show", &run, "--database"])
        .arg(&database)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&shown.stdout).contains("trigger:  import, forced past the guards"));
}

#[test]
fn empty_file_on_new_agency_trips_guard() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let empty = import(&database, &fixture("empty.csv"), "NEW-AGENCY", &[]);
    assert_eq!(empty.code, 4, "{}", empty.stderr);
}

#[test]
fn shrunken_snapshot_trips_guard_until_forced() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    import(&database, &fixture("snapshot-1.csv"), OUEST, &[]);
    let shrunk = dir.path().join("Annonces.csv");
    let lines: Vec<String> = std::fs::read_to_string(fixture("snapshot-1.csv"))
        .unwrap()
        .lines()
        .take(2)
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&shrunk, lines.concat()).unwrap();

    let guarded = import(&database, &shrunk, OUEST, &[]);
    assert_eq!(guarded.code, 4, "{}", guarded.stderr);
    assert_eq!(counts(&guarded.summary), (0, 0, 2, 0, 0));
    assert!(
        guarded.summary["guard_reason"]
            .as_str()
            .unwrap()
            .contains("would withdraw 3 of 5 active listings"),
        "{}",
        guarded.summary
    );
    assert_eq!(active_source_ids(&database, OUEST).len(), 5);

    let forced = import(&database, &shrunk, OUEST, &["--allow-mass-withdrawal"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_eq!(counts(&forced.summary), (0, 0, 2, 3, 0));
    assert_eq!(active_source_ids(&database, OUEST), ["OUEST-001", "OUEST-002"]);
}

#[test]
fn rejected_records_are_stored_with_locators() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let imported = import(&database, &fixture("rejects.csv"), "AGENCE-EST", &[]);
    assert_eq!(imported.code, 1, "{}", imported.stderr);
    assert_eq!(imported.summary["status"], "partial");
    assert_eq!(counts(&imported.summary), (2, 0, 0, 0, 2));
    assert_eq!(
        active_source_ids(&database, "AGENCE-EST"),
        ["EST-0501", "EST-0504"]
    );

    let connection = open_database(&database);
    let mut statement = connection
        .prepare("SELECT line, column_rank, column_name, value FROM run_errors WHERE severity = 'rejected' ORDER BY line")
        .unwrap();
    type Locator = (i64, Option<i64>, Option<String>, Option<String>);
    let rows: Vec<Locator> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, 2);
    assert_eq!(rows[0].1, Some(13));
    assert_eq!(
        rows[1],
        (
            3,
            Some(3),
            Some("Type d'annonce".to_string()),
            Some("échange".to_string())
        )
    );
}

#[test]
fn file_cut_inside_last_record_keeps_its_listing() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    assert_eq!(import(&database, &fixture("snapshot-1.csv"), OUEST, &[]).code, 0);

    // Cut after column 164 of the last record, at a field boundary, so that
    // what remains still splits cleanly: no technical id (column 175), no
    // format version (column 301), no line end.
    let text = std::fs::read_to_string(fixture("snapshot-1.csv")).unwrap();
    let last_start = text.trim_end().rfind('\n').unwrap() + 1;
    let fields: Vec<&str> = text[last_start..].split("\"!#\"").collect();
    let cut = format!("{}{}\"", &text[..last_start], fields[..164].join("\"!#\""));
    let file = dir.path().join("cut.csv");
    std::fs::write(&file, cut).unwrap();

    let imported = import(&database, &file, OUEST, &[]);
    assert_eq!(imported.code, 1, "{}", imported.stderr);
    assert_eq!(counts(&imported.summary), (0, 0, 4, 0, 1), "{}", imported.stderr);
    assert_eq!(imported.summary["counts"]["kept"], 1);
    assert!(
        imported.stderr.contains("cut.csv:5: column 164")
            && imported.stderr.contains("the file ends inside this record"),
        "{}",
        imported.stderr
    );
    assert_eq!(
        active_source_ids(&database, OUEST).len(),
        5,
        "nothing is withdrawn"
    );
}

#[test]
fn duplicate_source_id_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let text = std::fs::read_to_string(fixture("snapshot-1.csv")).unwrap();
    let first_line = text.lines().next().unwrap();
    let doubled = dir.path().join("Annonces.csv");
    std::fs::write(&doubled, format!("{text}{first_line}\n")).unwrap();

    let imported = import(&database, &doubled, OUEST, &[]);
    assert_eq!(imported.code, 1, "{}", imported.stderr);
    assert_eq!(counts(&imported.summary), (5, 0, 0, 0, 1));
    assert!(
        imported.stderr.contains(
            "Annonces.csv:6: duplicate listing: source id \"OUEST-001\" was already read at line 1"
        ),
        "{}",
        imported.stderr
    );
}

#[test]
fn other_agencies_in_grouped_file_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let grouped = dir.path().join("Annonces.csv");
    let ouest = std::fs::read_to_string(fixture("snapshot-1.csv")).unwrap();
    let est = std::fs::read_to_string(fixture("rejects.csv")).unwrap();
    std::fs::write(&grouped, format!("{ouest}{est}")).unwrap();

    let imported = import(&database, &grouped, OUEST, &[]);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    assert_eq!(counts(&imported.summary), (5, 0, 0, 0, 0));
    assert_eq!(imported.summary["counts"]["skipped"], 4);
    assert_eq!(imported.summary["other_agencies"]["AGENCE-EST"], 4);
    assert!(
        imported
            .stderr
            .contains("skipped 4 records of other agencies: AGENCE-EST (4)"),
        "{}",
        imported.stderr
    );
}

#[test]
fn dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    import(&database, &fixture("snapshot-1.csv"), OUEST, &[]);
    let dry = import(&database, &fixture("snapshot-2.csv"), OUEST, &["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(counts(&dry.summary), (1, 2, 2, 1, 0), "the counts of a real run");
    assert_eq!(dry.summary["run_id"], Value::Null);
    assert_eq!(
        active_source_ids(&database, OUEST),
        ["OUEST-001", "OUEST-002", "OUEST-003", "OUEST-004", "OUEST-005"]
    );
    let runs: i64 = open_database(&database)
        .query_row("SELECT count(*) FROM runs", [], |row| row.get(0))
        .unwrap();
    assert_eq!(runs, 1, "the dry run left no run row");
}

#[test]
fn agent_mapping_and_organization_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let imported = import(
        &database,
        &fixture("cp1252-crlf.csv"),
        "AGENCE-SUD",
        &[
            "--agent",
            "NEG-07=helene",
            "--organization",
            "org-42",
            "--default-agent",
            "desk",
        ],
    );
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let data: String = open_database(&database)
        .query_row(
            "SELECT data FROM listings WHERE source_id = 'SUD-77101'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let listing: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(listing["agent"], "helene");
    assert_eq!(listing["organization"], "org-42");
    assert_eq!(listing["agency_code"], "AGENCE-SUD");
}

#[test]
fn raw_record_keeps_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    import(&database, &fixture("cp1252-crlf.csv"), "AGENCE-SUD", &[]);
    let raw: String = open_database(&database)
        .query_row(
            "SELECT raw FROM listings WHERE source_id = 'SUD-77101'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let columns: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(columns["20"], "Bastide d’architecte – piscine et oliveraie");
    assert_eq!(columns["11"], "1850000");
    for rank in 114..=122 {
        assert!(columns.get(rank.to_string()).is_none(), "rank {rank} was kept");
    }
    assert!(!raw.contains("Dupont"));
}

#[test]
fn zip_delivery_imports() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let imported = import(&database, &fixture("lowercase-members.zip"), "AGENCE-ZIP", &[]);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    assert_eq!(counts(&imported.summary), (2, 0, 0, 0, 0));
    assert!(
        imported.summary["source"]
            .as_str()
            .unwrap()
            .ends_with("lowercase-members.zip!Annonces.csv")
    );
}

#[test]
fn unknown_crm_is_a_usage_error() {
    let output = passerelle()
        .args([
            "import",
            "--no-photos",
            "x.csv",
            "--crm",
            "nosuchcrm",
            "--agency",
            "A",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("possible values: apimo, poliris"), "{stderr}");
}

#[test]
fn unreadable_database_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_database = dir.path().join("notes.db");
    std::fs::write(&not_a_database, "these are notes, not SQLite").unwrap();
    let output = passerelle()
        .args(["import", "--no-photos"])
        .arg(fixture("snapshot-1.csv"))
        .args(["--crm", "poliris", "--agency", OUEST, "--database"])
        .arg(&not_a_database)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot use SQLite database"), "{stderr}");
    assert!(stderr.contains("notes.db"), "{stderr}");
}

/// Kills imports of a large export at several moments, then checks that the
/// database contains no duplicate and a final run completes the work.
#[test]
fn killed_import_resumes_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let export = dir.path().join("Annonces.csv");
    let mut file = std::fs::File::create(&export).unwrap();
    synthetic::write_export(&mut file, "BIG", 20_000, 11, 0, TextEncoding::Windows1252).unwrap();
    drop(file);

    for delay_ms in [40, 120, 300] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("passerelle"))
            .args(["import", "--no-photos"])
            .arg(&export)
            .args(["--quiet", "--crm", "poliris", "--agency", "BIG", "--database"])
            .arg(&database)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
    }

    let last = import(&database, &export, "BIG", &[]);
    assert_eq!(last.code, 0, "{}", last.stderr);
    let (created, updated, unchanged, withdrawn, rejected) = counts(&last.summary);
    assert_eq!(created + unchanged, 20_000, "{}", last.summary);
    assert_eq!((updated, withdrawn, rejected), (0, 0, 0));

    let connection = open_database(&database);
    let (rows, distinct): (i64, i64) = connection
        .query_row(
            "SELECT count(*), count(DISTINCT source_id) FROM listings",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, distinct), (20_000, 20_000));
    let running: i64 = connection
        .query_row("SELECT count(*) FROM runs WHERE status = 'running'", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(running, 0, "killed runs are marked interrupted by the next run");
}

#[test]
fn settings_file_supplies_the_integration() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("passerelle.toml");
    std::fs::write(
        &settings,
        r#"
[database]
path = "from-settings.db"

[[integrations]]
name = "sud"
crm = "poliris"
agency = "AGENCE-SUD"
organization = "org-sud"

[integrations.agents]
"neg-07" = "helene"
"#,
    )
    .unwrap();
    let output = passerelle()
        .args([
            "import",
            "--no-photos",
            "--integration",
            "sud",
            "--format",
            "json",
            "--config",
        ])
        .arg(&settings)
        .arg(fixture("cp1252-crlf.csv"))
        .env_remove("PASSERELLE_DATABASE")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let database = dir.path().join("from-settings.db");
    assert!(
        database.is_file(),
        "the database path is relative to the settings file"
    );
    let data: String = open_database(&database)
        .query_row(
            "SELECT data FROM listings WHERE source_id = 'SUD-77101'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let listing: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(listing["organization"], "org-sud");
    assert_eq!(listing["agent"], "helene");
}

#[test]
fn invalid_settings_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("passerelle.toml");
    std::fs::write(&settings, "[database]\npth = \"x.db\"\n").unwrap();
    let output = passerelle()
        .args([
            "import",
            "--no-photos",
            "--crm",
            "poliris",
            "--agency",
            "A",
            "--config",
        ])
        .arg(&settings)
        .arg(fixture("snapshot-1.csv"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid settings file"), "{stderr}");
    assert!(stderr.contains("unknown field `pth`"), "{stderr}");
}

/// Writes snapshot-1 with line `line` (1-based) passed through `edit`.
fn edited_snapshot(dir: &Path, line: usize, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    let text = std::fs::read_to_string(fixture("snapshot-1.csv")).unwrap();
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(index, content)| {
            if index + 1 == line {
                edit(content)
            } else {
                content.to_string()
            }
        })
        .collect();
    let path = dir.join("Annonces.csv");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn missing_quote_mid_record_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    import(&database, &fixture("snapshot-1.csv"), OUEST, &[]);
    let broken = edited_snapshot(dir.path(), 2, |line| {
        line.replacen("Chantenay\"!#", "Chantenay!#", 1)
    });

    let imported = import(&database, &broken, OUEST, &[]);
    assert_eq!(imported.code, 1, "{}", imported.stderr);
    assert_eq!(counts(&imported.summary), (0, 0, 4, 0, 1));
    assert!(
        imported
            .stderr
            .contains("Annonces.csv:2: column 20 (Libellé): quoted field has no closing quote"),
        "{}",
        imported.stderr
    );
    assert_eq!(imported.summary["counts"]["kept"], 1);
    assert!(
        imported
            .stderr
            .contains("listing \"OUEST-002\" is kept as it was"),
        "{}",
        imported.stderr
    );
    assert_eq!(
        active_source_ids(&database, OUEST).len(),
        5,
        "the broken record withdraws nothing"
    );
}

#[test]
fn rejected_record_keeps_its_listing() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    import(&database, &fixture("snapshot-1.csv"), OUEST, &[]);
    let unknown_type = edited_snapshot(dir.path(), 3, |line| line.replacen("\"vente\"", "\"troc\"", 1));

    let imported = import(&database, &unknown_type, OUEST, &[]);
    assert_eq!(imported.code, 1, "{}", imported.stderr);
    assert_eq!(counts(&imported.summary), (0, 0, 4, 0, 1));
    assert_eq!(active_source_ids(&database, OUEST).len(), 5);
    let source_id: Option<String> = open_database(&database)
        .query_row(
            "SELECT source_id FROM run_errors WHERE severity = 'rejected'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(source_id.as_deref(), Some("OUEST-003"));
}

#[test]
fn wrong_separator_is_rejected_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let semicolons = dir.path().join("Annonces.csv");
    let text = std::fs::read_to_string(fixture("snapshot-1.csv")).unwrap();
    std::fs::write(&semicolons, text.replace("!#", ";")).unwrap();

    let imported = import(&database, &semicolons, OUEST, &[]);
    assert_eq!(imported.code, 4, "{}", imported.stderr);
    assert_eq!(counts(&imported.summary), (0, 0, 0, 0, 5));
    assert_eq!(imported.summary["counts"]["skipped"], 0);
    assert!(
        imported.stderr.contains("check that fields are separated by !#"),
        "{}",
        imported.stderr
    );
}

#[test]
fn wrong_agency_guard_names_the_right_one() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let imported = import(&database, &fixture("snapshot-1.csv"), "AGENCE-OEST", &["--quiet"]);
    assert_eq!(imported.code, 4, "{}", imported.stderr);
    assert!(
        imported.stderr.contains(
            "the feed has no valid listing for agency AGENCE-OEST; its records belong to AGENCE-OUEST (5): check --agency"
        ),
        "{}",
        imported.stderr
    );
}

#[test]
fn forced_wrong_encoding_warns() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let imported = import(
        &database,
        &fixture("cp1252-crlf.csv"),
        "AGENCE-SUD",
        &["--encoding", "utf-8"],
    );
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    assert!(
        imported.stderr.contains("--encoding utf-8 forced on")
            && imported.stderr.contains("is not valid UTF-8"),
        "{}",
        imported.stderr
    );
}

#[test]
fn dry_run_creates_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("new.db");
    let dry = import(&database, &fixture("snapshot-1.csv"), OUEST, &["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(counts(&dry.summary), (5, 0, 0, 0, 0));
    assert!(!database.exists(), "a dry run left {}", database.display());
}

#[test]
fn foreign_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("other.db");
    open_database(&database)
        .execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
        .unwrap();
    let output = passerelle()
        .args(["import", "--no-photos"])
        .arg(fixture("snapshot-1.csv"))
        .args(["--crm", "poliris", "--agency", OUEST, "--database"])
        .arg(&database)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tables that passerelle did not create (customers)"),
        "{stderr}"
    );
    let tables: i64 = open_database(&database)
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tables, 1, "nothing was added to the other program's database");
}

#[test]
fn duplicate_integration_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("passerelle.toml");
    let entry = "[[integrations]]\nname = \"sud\"\ncrm = \"poliris\"\nagency = \"AGENCE-SUD\"\n";
    std::fs::write(&settings, format!("{entry}{entry}")).unwrap();
    let output = passerelle()
        .args(["import", "--no-photos", "--integration", "sud", "--config"])
        .arg(&settings)
        .arg(fixture("cp1252-crlf.csv"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("integration name `sud` is used twice"),
        "{stderr}"
    );
}

/// Blanks every photo URL of a synthetic export but the first, which
/// becomes `photo`.
fn one_photo_only(export: &[u8], photo: &str) -> String {
    let text = std::str::from_utf8(export).unwrap();
    let mut kept = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive("\r\n") {
        let fields: Vec<String> = line
            .trim_end_matches("\r\n")
            .split("!#")
            .map(|field| {
                if !field.starts_with("\"http://127.0.0.1:9/") {
                    field.to_string()
                } else if kept {
                    "\"\"".to_string()
                } else {
                    kept = true;
                    format!("\"{photo}\"")
                }
            })
            .collect();
        out.push_str(&fields.join("!#"));
        out.push_str("\r\n");
    }
    out
}

#[test]
fn concurrent_import_of_same_agency_stops() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    // The first import holds the agency's lock for at least four seconds,
    // whatever the machine's speed: its only photo comes from a slow server.
    let gallery = Gallery::start();
    let mut slow = Served::photo(jpeg(&two_tone(8, 8), None), "image/jpeg");
    slow.delay = Some(std::time::Duration::from_secs(4));
    gallery.serve("/slow.jpg", slow);
    let settings = dir.path().join("passerelle.toml");
    std::fs::write(
        &settings,
        "[photos]\nallow_private_networks = true\ntimeout_seconds = 30\n",
    )
    .unwrap();
    let mut generated = Vec::new();
    synthetic::write_export(&mut generated, "BIG", 20_000, 5, 0, TextEncoding::Utf8).unwrap();
    let export = dir.path().join("Annonces.csv");
    std::fs::write(&export, one_photo_only(&generated, &gallery.url("/slow.jpg"))).unwrap();

    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("passerelle"))
        .arg("import")
        .arg(&export)
        .args(["--quiet", "--crm", "poliris", "--agency", "BIG", "--config"])
        .arg(&settings)
        .arg("--database")
        .arg(&database)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let mut locked = false;
    while !locked && started.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(20));
        if database.exists() {
            locked = open_database(&database)
                .query_row(
                    "SELECT count(*) FROM locks WHERE agency_code = 'BIG'",
                    [],
                    |row| row.get::<_, i64>(0),
                )
                .unwrap_or(0)
                == 1;
        }
    }
    assert!(locked, "the first import never took its lock");
    let waiting = std::process::Command::new(assert_cmd::cargo::cargo_bin("passerelle"))
        .args(["import", "--no-photos"])
        .arg(&export)
        .args([
            "--wait",
            "--crm",
            "poliris",
            "--agency",
            "BIG",
            "--format",
            "json",
            "--database",
        ])
        .arg(&database)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let second = passerelle()
        .args(["import", "--no-photos"])
        .arg(fixture("snapshot-1.csv"))
        .args(["--crm", "poliris", "--agency", "BIG", "--database"])
        .arg(&database)
        .output()
        .unwrap();
    let other_agency = import(&database, &fixture("snapshot-1.csv"), OUEST, &[]);
    let first_status = first.wait().unwrap();

    assert_eq!(second.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another run of poliris BIG is in progress: pid"),
        "{stderr}"
    );
    assert_eq!(
        other_agency.code, 0,
        "another agency imports meanwhile: {}",
        other_agency.stderr
    );
    assert_eq!(first_status.code(), Some(0));
    let waited = waiting.wait_with_output().unwrap();
    assert_eq!(
        waited.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
    assert!(String::from_utf8_lossy(&waited.stderr).contains("waiting (--wait)"));
    let waited_summary: Value = serde_json::from_slice(&waited.stdout).unwrap();
    assert_eq!(
        counts(&waited_summary),
        (0, 0, 20_000, 0, 0),
        "it ran after the first one"
    );
    let (rows, locks): (i64, i64) = open_database(&database)
        .query_row(
            "SELECT (SELECT count(*) FROM listings l JOIN integrations i ON i.id = l.integration_id
                     WHERE i.agency_code = 'BIG'),
                    (SELECT count(*) FROM locks)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(rows, 20_000);
    assert_eq!(locks, 0, "every lock was released");
}

#[test]
fn json_format_reports_failures_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let output = passerelle()
        .args([
            "import",
            "--no-photos",
            "no/such/Annonces.csv",
            "--crm",
            "poliris",
            "--agency",
            OUEST,
            "--format",
            "json",
        ])
        .arg("--database")
        .arg(dir.path().join("passerelle.db"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let failure: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(failure["status"], "failed");
    assert_eq!(failure["exit_status"], 3);
    assert!(
        failure["error"].as_str().unwrap().contains("does not exist"),
        "{failure}"
    );
}

#[test]
fn example_settings_file_imports_its_integration() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("passerelle.toml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml"),
        &settings,
    )
    .unwrap();
    let output = passerelle()
        .args([
            "import",
            "--no-photos",
            "--integration",
            "agence-ouest",
            "--format",
            "json",
            "--config",
        ])
        .arg(&settings)
        .arg(fixture("snapshot-1.csv"))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(counts(&summary), (5, 0, 0, 0, 0));
    assert!(dir.path().join("passerelle.db").is_file());
}

#[test]
fn truncated_zip_withdraws_nothing_even_forced() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let delivery = fixture("lowercase-members.zip");
    let first = import(&database, &delivery, "AGENCE-ZIP", &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = active_source_ids(&database, "AGENCE-ZIP");
    assert_eq!(before.len(), 2);

    // An upload cut short: the central directory at the end of the zip is gone.
    let bytes = std::fs::read(&delivery).unwrap();
    let truncated = dir.path().join("AGENCE-ZIP.zip");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    for extra in [&[][..], &["--force"][..]] {
        let failed = import(&database, &truncated, "AGENCE-ZIP", extra);
        assert_eq!(failed.code, 3, "{extra:?}: {}", failed.stderr);
        let error = failed.summary["error"].as_str().unwrap_or_default();
        assert!(error.contains("AGENCE-ZIP.zip"), "{extra:?}: {}", failed.summary);
        assert_eq!(active_source_ids(&database, "AGENCE-ZIP"), before, "{extra:?}");
    }
}

#[test]
fn unreadable_delivery_is_recorded_as_a_failed_run() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let zip = std::fs::read(fixture("uppercase-members.zip")).unwrap();
    let truncated = dir.path().join("truncated.zip");
    std::fs::write(&truncated, &zip[..zip.len() / 2]).unwrap();
    let run = import(&database, &truncated, "AGENCE-ZIP", &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let (status, error): (String, String) = open_database(&database)
        .query_row("SELECT status, error FROM runs", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert_eq!(status, "failed");
    assert!(error.contains("is not a readable zip archive"), "{error}");
}

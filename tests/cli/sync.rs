//! `passerelle sync` with three integrations: Poliris on a local FTP server,
//! Apimo on a local HTTP server, and an Apimo agency whose server is down.

use std::path::Path;

use serde_json::Value;

use crate::apimo::{PROVIDER, TOKEN, mount_all_pages, start_server as start_api};
use crate::ftp::{PASSWORD, start_server as start_ftp};
use crate::support::{SettingsFile, fixture, open_database, passerelle, under_terminal};

fn settings(dir: &Path, ftp_port: u16, api_url: &str) -> std::path::PathBuf {
    SettingsFile::new()
        .ftp(ftp_port)
        .integration("sud", "hektor", "AGENCE-SUD", "")
        .integration(
            "azur",
            "apimo",
            "4242",
            &format!("api_url = \"{api_url}\"\nrequests_per_second = 50"),
        )
        .integration(
            "azur-down",
            "apimo",
            "4343",
            "api_url = \"http://127.0.0.1:9\"\ntimeout_seconds = 2",
        )
        .write(dir)
}

fn sync(settings: &Path, extra: &[&str]) -> std::process::Output {
    passerelle()
        .args(["sync", "--no-photos", "--format", "json", "--config"])
        .arg(settings)
        .args(extra)
        .env("PASSERELLE_FTP_PASSWORD", PASSWORD)
        .env("PASSERELLE_APIMO_PROVIDER", PROVIDER)
        .env("PASSERELLE_APIMO_TOKEN", TOKEN)
        .output()
        .unwrap()
}

#[test]
fn healthy_integrations_import_and_the_down_one_fails() {
    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("ftp-root/hektor");
    std::fs::create_dir_all(&drops).unwrap();
    std::fs::copy(fixture("cp1252-crlf.csv"), drops.join("AGENCE-SUD.csv")).unwrap();
    let ftp = start_ftp(&dir.path().join("ftp-root"), 53800..=53899);
    let (runtime, api) = start_api();
    mount_all_pages(&runtime, &api);
    let settings = settings(dir.path(), ftp.port, &api.uri());

    let events_file = dir.path().join("events.jsonl");
    let output = sync(&settings, &["--events-file", events_file.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();

    // Each integration's events, in the order they were written.
    let events: Vec<Value> = std::fs::read_to_string(&events_file)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let types_of = |name: &str| -> Vec<String> {
        events
            .iter()
            .filter(|event| event["integration"] == name)
            .map(|event| event["type"].as_str().unwrap().to_string())
            .collect()
    };
    for name in ["sud", "azur"] {
        let types = types_of(name);
        assert_eq!(
            types.first().map(String::as_str),
            Some("run_started"),
            "{name}: {types:?}"
        );
        assert!(types.iter().any(|kind| kind == "progress"), "{name}: {types:?}");
        assert_eq!(
            types.last().map(String::as_str),
            Some("run_succeeded"),
            "{name}: {types:?}"
        );
    }
    assert_eq!(types_of("azur-down"), ["run_failed"]);
    let down_event = events
        .iter()
        .find(|event| event["integration"] == "azur-down")
        .unwrap();
    assert_eq!(down_event["exit_status"], 3);
    assert!(
        down_event["error"].as_str().unwrap().contains("127.0.0.1:9"),
        "{down_event}"
    );
    let status_of = |name: &str| {
        results
            .iter()
            .find(|result| result["integration"] == name)
            .map(|result| result["status"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(status_of("sud"), "succeeded");
    assert_eq!(status_of("azur"), "succeeded");
    assert_eq!(status_of("azur-down"), "failed");
    let down = results
        .iter()
        .find(|result| result["integration"] == "azur-down")
        .unwrap();
    assert!(down["error"].as_str().unwrap().contains("127.0.0.1:9"), "{down}");
    assert_eq!(results[0]["counts"]["created"], 4);
    assert_eq!(results[1]["counts"]["created"], 5);

    let database = dir.path().join("passerelle.db");
    let runs: Vec<(String, String)> = open_database(&database)
        .prepare("SELECT i.agency_code, r.status FROM runs r JOIN integrations i ON i.id = r.integration_id ORDER BY i.agency_code")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        runs,
        [
            ("4242".to_string(), "succeeded".to_string()),
            ("4343".to_string(), "failed".to_string()),
            ("AGENCE-SUD".to_string(), "succeeded".to_string()),
        ]
    );

    let listed = passerelle()
        .args(["runs", "--format", "json", "--config"])
        .arg(&settings)
        .output()
        .unwrap();
    assert_eq!(
        listed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let mut history: Vec<(&str, &str, &str)> = listed
        .iter()
        .map(|run| {
            (
                run["agency_code"].as_str().unwrap(),
                run["status"].as_str().unwrap(),
                run["trigger"].as_str().unwrap(),
            )
        })
        .collect();
    history.sort();
    assert_eq!(
        history,
        [
            ("4242", "succeeded", "sync"),
            ("4343", "failed", "sync"),
            ("AGENCE-SUD", "succeeded", "sync")
        ]
    );

    let retried = sync(&settings, &["--retry-failed", "--log-format", "json"]);
    let retry_log = String::from_utf8_lossy(&retried.stderr);
    let ended: Value = retry_log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["event"] == "run_finished")
        .unwrap_or_else(|| panic!("no end line: {retry_log}"));
    assert_eq!(
        (&ended["level"], &ended["status"]),
        (&"error".into(), &"failed".into())
    );
    let retried_results: Vec<Value> = serde_json::from_slice(&retried.stdout).unwrap();
    assert_eq!(retried_results.len(), 1, "only the failed integration is retried");
    assert_eq!(retried_results[0]["integration"], "azur-down");
    let triggers: Vec<String> = open_database(&database)
        .prepare("SELECT DISTINCT trigger FROM runs")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(triggers, ["sync"]);

    let again = sync(
        &settings,
        &[
            "--integration",
            "sud",
            "--integration",
            "azur",
            "--log-format",
            "json",
        ],
    );
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["counts"]["unchanged"], 4);
    assert_eq!(
        results[1]["counts"]["unchanged"], 5,
        "the sold listing too, still withdrawn"
    );
    assert_eq!(results[1]["counts"]["withdrawn"], 0);

    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");
    let lines: Vec<Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}")))
        .collect();
    let events: Vec<(&str, &str)> = lines
        .iter()
        .filter_map(|line| Some((line["event"].as_str()?, line["integration"].as_str()?)))
        .collect();
    assert!(events.contains(&("run_started", "sud")), "{stderr}");
    assert!(events.contains(&("run_started", "azur")), "{stderr}");
    let finished = lines
        .iter()
        .find(|line| line["event"] == "run_finished" && line["integration"] == "azur")
        .unwrap_or_else(|| panic!("no end line for azur: {stderr}"));
    assert_eq!(finished["level"], "info");
    assert_eq!(finished["status"], "succeeded");
    assert_eq!(finished["counts"]["unchanged"], 5);
    assert!(finished["time"].as_str().is_some_and(|time| time.ends_with('Z')));

    // A drop with one of the four listings trips the guard, and the error
    // names the integration and how to force that one alone.
    let text = std::fs::read(fixture("cp1252-crlf.csv")).unwrap();
    let first_record = text.windows(2).position(|pair| pair == b"\r\n").unwrap() + 2;
    std::fs::write(drops.join("AGENCE-SUD.csv"), &text[..first_record]).unwrap();
    let guarded = sync(&settings, &["--integration", "sud"]);
    let stderr = String::from_utf8_lossy(&guarded.stderr);
    assert_eq!(guarded.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("error: sync sud: guard tripped, nothing withdrawn"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("hint: if the feed is right, run again with passerelle sync --integration sud --force"),
        "{stderr}"
    );
    let results: Vec<Value> = serde_json::from_slice(&guarded.stdout).unwrap();
    assert_eq!(results[0]["status"], "guard_tripped");
    assert!(
        results[0]["error"]
            .as_str()
            .unwrap()
            .contains("would withdraw 3 of 4"),
        "{}",
        results[0]
    );
}

#[test]
fn unknown_integration_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path(), 9, "http://127.0.0.1:9");
    let output = sync(&settings, &["--integration", "nord"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no integration named `nord`"));

    let nothing_failed = sync(&settings, &["--retry-failed"]);
    assert_eq!(nothing_failed.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&nothing_failed.stdout).trim(), "[]");
}

#[test]
fn failures_and_guards_reach_the_webhook() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let (runtime, hook) = start_api();
    runtime.block_on(
        Mock::given(method("POST"))
            .and(path("/hook"))
            .respond_with(ResponseTemplate::new(200))
            .expect(2)
            .mount(&hook),
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("passerelle.toml");
    std::fs::write(
        &settings,
        format!(
            r#"
[database]
path = "passerelle.db"

[staging]
path = "staging"

[notify]
webhook_url = "{}/hook"
timeout_seconds = 2

[[integrations]]
name = "azur-down"
crm = "apimo"
agency = "4343"
api_url = "http://127.0.0.1:9"
timeout_seconds = 2
"#,
            hook.uri()
        ),
    )
    .unwrap();

    let failed = sync(&settings, &[]);
    assert_eq!(failed.status.code(), Some(3));
    let guarded = passerelle()
        .args(["import", "--no-photos"])
        .arg(fixture("empty.csv"))
        .args(["--crm", "poliris", "--agency", "AGENCE-OUEST", "--config"])
        .arg(&settings)
        .output()
        .unwrap();
    assert_eq!(guarded.status.code(), Some(4));

    let requests = runtime.block_on(hook.received_requests()).unwrap();
    let bodies: Vec<Value> = requests
        .iter()
        .map(|request| serde_json::from_slice(&request.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["status"], "failed");
    assert_eq!(bodies[0]["integration"], "azur-down");
    assert!(
        bodies[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("passerelle: azur-down (apimo 4343) failed")
    );
    assert_eq!(bodies[1]["status"], "guard_tripped");
    assert_eq!(bodies[1]["agency"], "AGENCE-OUEST");
    assert!(bodies[1]["run_id"].is_number());
    runtime.block_on(hook.verify());
}

#[test]
fn unreachable_webhook_changes_no_result() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("passerelle.toml");
    std::fs::write(
        &settings,
        "[database]\npath = \"passerelle.db\"\n\n[notify]\nwebhook_url = \"http://127.0.0.1:9/hook\"\ntimeout_seconds = 1\n",
    )
    .unwrap();
    let guarded = passerelle()
        .args(["import", "--no-photos"])
        .arg(fixture("empty.csv"))
        .args(["--crm", "poliris", "--agency", "AGENCE-OUEST", "--config"])
        .arg(&settings)
        .output()
        .unwrap();
    assert_eq!(guarded.status.code(), Some(4), "the guard's own status");
    assert!(String::from_utf8_lossy(&guarded.stderr).contains("the failure webhook was not notified"));
}

/// Starts an FTP server whose Hektor drop has `rows` synthetic listings of
/// agency BIG, and writes a settings file with one integration, `big`.
fn big_drop(
    dir: &Path,
    rows: usize,
    passive_ports: std::ops::RangeInclusive<u16>,
) -> (crate::ftp::FtpServer, std::path::PathBuf) {
    use passerelle::crm::poliris::synthetic;
    use passerelle::encoding::TextEncoding;

    let drops = dir.join("ftp-root/hektor");
    std::fs::create_dir_all(&drops).unwrap();
    let mut file = std::fs::File::create(drops.join("BIG.csv")).unwrap();
    synthetic::write_export(&mut file, "BIG", rows, 9, 0, TextEncoding::Utf8).unwrap();
    drop(file);
    let ftp = start_ftp(&dir.join("ftp-root"), passive_ports);
    let settings = dir.join("passerelle.toml");
    std::fs::write(
        &settings,
        format!(
            "[database]\npath = \"passerelle.db\"\n\n[staging]\npath = \"staging\"\n\n[ftp]\nhost = \"127.0.0.1\"\n\
             port = {}\nuser = \"passerelle\"\nmin_age_seconds = 0\n\n[[integrations]]\nname = \"big\"\n\
             crm = \"hektor\"\nagency = \"BIG\"\n",
            ftp.port
        ),
    )
    .unwrap();
    (ftp, settings)
}

fn start_sync(settings: &Path) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("passerelle"))
        .args(["sync", "--no-photos", "--format", "json", "--config"])
        .arg(settings)
        .env("PASSERELLE_FTP_PASSWORD", PASSWORD)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Returns the number of listing rows and of distinct source ids.
fn listing_rows(database: &Path) -> (i64, i64) {
    open_database(database)
        .query_row(
            "SELECT count(*), count(DISTINCT source_id) FROM listings",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap()
}

#[test]
fn two_syncs_import_an_agency_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_ftp, settings) = big_drop(dir.path(), 20_000, 53900..=53999);
    let start = || start_sync(&settings);
    let first = start();
    let second = start();
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];

    let mut codes: Vec<i32> = outputs
        .iter()
        .map(|output| output.status.code().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, [0, 5], "one imports, the other is locked out");
    let statuses: Vec<String> = outputs
        .iter()
        .map(|output| {
            let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
            results[0]["status"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(statuses.contains(&"locked".to_string()), "{statuses:?}");
    assert!(statuses.contains(&"succeeded".to_string()), "{statuses:?}");

    assert_eq!(listing_rows(&dir.path().join("passerelle.db")), (20_000, 20_000));
    let staged = std::fs::read_dir(dir.path().join("staging/hektor/BIG"))
        .unwrap()
        .count();
    assert_eq!(staged, 1, "the locked sync fetched nothing");
}

#[test]
fn sync_killed_mid_import_leaves_a_consistent_database() {
    const ROWS: u64 = 40_000;
    let dir = tempfile::tempdir().unwrap();
    let (_ftp, settings) = big_drop(dir.path(), ROWS as usize, 54000..=54099);
    let database = dir.path().join("passerelle.db");

    // Kill the sync once some listings are stored and its run is still going.
    let mut child = start_sync(&settings);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut killed_mid_run = false;
    while std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        let stored: Option<(i64, i64)> = database.is_file().then(|| {
            open_database(&database)
                .query_row(
                    "SELECT (SELECT count(*) FROM listings), (SELECT count(*) FROM runs WHERE status = 'running')",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .unwrap_or((0, 0))
        });
        if let Some((listings, running)) = stored
            && listings > 0
            && running == 1
        {
            child.kill().unwrap();
            killed_mid_run = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.wait().unwrap();
    assert!(killed_mid_run, "the sync ended before any listing was stored");
    let (stored, _) = listing_rows(&database);
    assert!(
        stored < ROWS as i64,
        "killed before the last batch: {stored} rows"
    );

    let next = sync(&settings, &[]);
    assert_eq!(
        next.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&next.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&next.stdout).unwrap();
    let counts = &results[0]["counts"];
    assert_eq!(results[0]["status"], "succeeded");
    assert_eq!(
        counts["created"].as_u64().unwrap() + counts["unchanged"].as_u64().unwrap(),
        ROWS,
        "{counts}"
    );
    assert_eq!(
        counts["created"].as_u64().unwrap(),
        ROWS - stored as u64,
        "{counts}"
    );
    assert_eq!(
        (counts["updated"].as_u64(), counts["withdrawn"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(listing_rows(&database), (ROWS as i64, ROWS as i64));
    let statuses: Vec<String> = open_database(&database)
        .prepare("SELECT status FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(statuses, ["interrupted", "succeeded"]);
}

#[test]
fn sync_without_settings_file_says_so() {
    let output = passerelle().arg("sync").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no settings file found, so no integration to sync"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pass --config FILE or set PASSERELLE_CONFIG"),
        "{stderr}"
    );
}

#[test]
fn missing_credential_is_a_usage_error_as_in_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let settings = SettingsFile::new()
        .integration("azur", "apimo", "4242", "api_url = \"http://127.0.0.1:9\"")
        .write(dir.path());
    let output = passerelle()
        .args(["sync", "--format", "json", "--config"])
        .arg(&settings)
        .env_remove("PASSERELLE_APIMO_PROVIDER")
        .env_remove("PASSERELLE_APIMO_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing credential"), "{stderr}");
}

#[test]
fn terminal_shows_bar_per_integration() {
    use passerelle::crm::poliris::synthetic;
    use passerelle::encoding::TextEncoding;

    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("ftp-root/hektor");
    std::fs::create_dir_all(&drops).unwrap();
    for agency in ["NORD", "SUD"] {
        let mut file = std::fs::File::create(drops.join(format!("{agency}.csv"))).unwrap();
        synthetic::write_export(&mut file, agency, 4_000, 9, 0, TextEncoding::Utf8).unwrap();
    }
    let ftp = start_ftp(&dir.path().join("ftp-root"), 54400..=54499);
    let settings = SettingsFile::new()
        .ftp(ftp.port)
        .integration("nord", "hektor", "NORD", "")
        .integration("sud", "hektor", "SUD", "")
        .write(dir.path());

    let (code, shown) = under_terminal(
        dir.path(),
        &[
            "sync",
            "--jobs",
            "2",
            "--no-photos",
            "--config",
            settings.to_str().unwrap(),
        ],
        &[("PASSERELLE_FTP_PASSWORD", PASSWORD)],
    );
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("nord listings"), "no bar for nord:\n{shown}");
    assert!(shown.contains("sud listings"), "no bar for sud:\n{shown}");
    assert!(shown.contains("succeeded"), "{shown}");
}

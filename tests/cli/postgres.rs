//! The binary against a Postgres database: the same imports as on SQLite,
//! several `sync` processes sharing one database, and the NOTIFY events a
//! web application listens to. Each test creates a database of its own on
//! a throw-away server, and is skipped, saying so, without one.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use passerelle::crm::poliris::synthetic;
use passerelle::encoding::TextEncoding;
use passerelle::store::postgres::scratch;
use serde_json::Value;

use crate::ftp::{PASSWORD, start_server as start_ftp};
use crate::support::{SettingsFile, counts, fixture, imported, passerelle};

/// Counts of a query on a database, through a connection of its own.
fn count(url: &str, sql: &str) -> i64 {
    let database = passerelle::store::Database::parse(url);
    let passerelle::store::Database::Postgres(target) = &database else {
        unreachable!("a Postgres URL");
    };
    passerelle::store::PostgresStore::open(target)
        .unwrap()
        .count(sql)
        .unwrap()
}

#[test]
fn fixture_imports_like_sqlite() {
    let Some(url) = scratch::database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let import = |database: &str, media: &str| {
        passerelle()
            .current_dir(dir.path())
            .args([
                "import",
                "--crm",
                "poliris",
                "--agency",
                "AGENCE-OUEST",
                "--format",
                "json",
            ])
            .args(["--database", database])
            .arg(fixture("photos-full.zip"))
            .env("PASSERELLE_CONFIG", dir.path().join(format!("{media}.toml")))
            .output()
            .unwrap()
    };
    std::fs::write(
        dir.path().join("lite.toml"),
        "[photos]\nmedia_dir = \"lite-media\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("pg.toml"), "[photos]\nmedia_dir = \"pg-media\"\n").unwrap();

    let on_sqlite = imported(&import("lite.db", "lite"));
    let on_postgres = imported(&import(&url, "pg"));
    assert_eq!(on_postgres.code, on_sqlite.code, "{}", on_postgres.stderr);
    assert_eq!(
        on_postgres.summary["counts"], on_sqlite.summary["counts"],
        "photos too"
    );
    let first = counts(&on_postgres.summary);
    assert!(first.0 > 0, "{}", on_postgres.summary);
    assert!(on_postgres.summary["counts"]["photos_stored"].as_u64().unwrap() > 0);

    let again = imported(&import(&url, "pg"));
    let second = counts(&again.summary);
    assert_eq!((second.0, second.1), (0, 0), "nothing new: {}", again.summary);
    assert_eq!(second.2, first.0, "every listing unchanged");

    let runs = passerelle()
        .args(["runs", "--format", "json", "--database", &url])
        .output()
        .unwrap();
    let runs: Vec<Value> = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(runs.len(), 2);
    let owner = std::fs::read_to_string(dir.path().join("pg-media/.passerelle-database")).unwrap();
    assert!(owner.starts_with("postgres://"), "{owner}");
}

#[test]
fn two_syncs_import_each_once() {
    const AGENCIES: usize = 10;
    const ROWS: usize = 3_000;
    let Some(url) = scratch::database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("ftp-root/hektor");
    std::fs::create_dir_all(&drops).unwrap();
    let mut settings = SettingsFile::new();
    for number in 1..=AGENCIES {
        let agency = format!("AG{number:02}");
        let mut file = std::fs::File::create(drops.join(format!("{agency}.csv"))).unwrap();
        synthetic::write_export(&mut file, &agency, ROWS, 9, 0, TextEncoding::Utf8).unwrap();
        settings = settings.integration(&agency.to_lowercase(), "hektor", &agency, "");
    }
    let ftp = start_ftp(&dir.path().join("ftp-root"), 54300..=54399);
    let settings = settings.ftp(ftp.port).write(dir.path());

    let start = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("passerelle"))
            .args([
                "sync",
                "--no-photos",
                "--jobs",
                "3",
                "--format",
                "json",
                "--config",
            ])
            .arg(&settings)
            .args(["--database", &url])
            .env("PASSERELLE_FTP_PASSWORD", PASSWORD)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let workers = [start(), start()];
    let mut imported_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for worker in workers {
        let output = worker.wait_with_output().unwrap();
        let results: Vec<Value> = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
        assert_eq!(results.len(), AGENCIES, "each worker reports every integration");
        for result in results {
            let status = result["status"].as_str().unwrap().to_string();
            assert!(
                ["succeeded", "locked", "synced_elsewhere"].contains(&status.as_str()),
                "{result}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            imported_by
                .entry(result["integration"].as_str().unwrap().to_string())
                .or_default()
                .push(status);
        }
    }
    assert_eq!(imported_by.len(), AGENCIES);
    for (integration, statuses) in &imported_by {
        let imports = statuses.iter().filter(|status| *status == "succeeded").count();
        assert_eq!(
            imports, 1,
            "{integration} is imported by exactly one worker: {statuses:?}"
        );
    }
    assert_eq!(count(&url, "SELECT count(*) FROM runs"), AGENCIES as i64);
    let rows = count(&url, "SELECT count(*) FROM listings");
    let distinct = count(
        &url,
        "SELECT count(*) FROM (SELECT DISTINCT integration_id, source_id FROM listings) AS keys",
    );
    assert_eq!(
        (rows, distinct),
        ((AGENCIES * ROWS) as i64, (AGENCIES * ROWS) as i64)
    );
    assert_eq!(
        count(&url, "SELECT count(*) FROM locks"),
        0,
        "every lock was released"
    );
}

/// Notifications of the events channel, collected by a connection of the
/// test's own.
struct Listener {
    events: mpsc::Receiver<Value>,
    _runtime: tokio::runtime::Runtime,
}

impl Listener {
    fn start(url: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (sender, events) = mpsc::channel();
        let (ready, listening) = mpsc::channel();
        let url = url.to_string();
        runtime.spawn(async move {
            let (client, mut connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let (forward, mut payloads) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(async move {
                while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    if let tokio_postgres::AsyncMessage::Notification(notification) = message {
                        let _ = forward.send(notification.payload().to_string());
                    }
                }
            });
            client.batch_execute("LISTEN passerelle_events").await.unwrap();
            ready.send(()).unwrap();
            while let Some(payload) = payloads.recv().await {
                let _ = sender.send(serde_json::from_str(&payload).unwrap());
            }
            drop(client);
        });
        listening.recv().unwrap();
        Self {
            events,
            _runtime: runtime,
        }
    }

    /// Collects the events received until one of type `success` or `error`.
    fn until_end(&self) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let event = self
                .events
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("no success or error event after {events:#?}"));
            let end = event["type"] != "progress";
            events.push(event);
            if end {
                // Anything after the end would be a second ending.
                while let Ok(late) = self.events.recv_timeout(Duration::from_millis(300)) {
                    events.push(late);
                }
                return events;
            }
        }
    }
}

fn import_with_events(url: &str, dir: &Path, input: &Path, agency: &str) -> std::process::Output {
    std::fs::write(dir.join("events.toml"), "[database]\nprogress_interval_ms = 0\n").unwrap();
    passerelle()
        .args([
            "import",
            "--crm",
            "hektor",
            "--agency",
            agency,
            "--no-photos",
            "--quiet",
        ])
        .args(["--database", url, "--config"])
        .arg(dir.join("events.toml"))
        .arg(input)
        .output()
        .unwrap()
}

#[test]
fn listener_sees_progress_then_success() {
    const ROWS: usize = 3_500;
    let Some(url) = scratch::database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("EVENTS.csv");
    let mut file = std::fs::File::create(&input).unwrap();
    synthetic::write_export(&mut file, "EVENTS", ROWS, 9, 0, TextEncoding::Utf8).unwrap();
    drop(file);

    let listener = Listener::start(&url);
    let output = import_with_events(&url, dir.path(), &input, "EVENTS");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = listener.until_end();

    let (ends, progress): (Vec<&Value>, Vec<&Value>) =
        events.iter().partition(|event| event["type"] != "progress");
    assert_eq!(ends.len(), 1, "{events:#?}");
    assert_eq!(ends[0]["type"], "success");
    assert_eq!(ends[0]["status"], "succeeded");
    assert_eq!(ends[0]["imported"], ROWS as u64);
    assert_eq!(ends[0]["crm"], "hektor");
    assert_eq!(ends[0]["agency_code"], "EVENTS");
    assert_eq!(events.last().unwrap()["type"], "success", "the end comes last");
    assert!(
        progress.len() >= 3,
        "one per committed batch at least: {events:#?}"
    );
    let imported: Vec<u64> = progress
        .iter()
        .map(|event| event["imported"].as_u64().unwrap())
        .collect();
    assert!(imported.windows(2).all(|pair| pair[0] < pair[1]), "{imported:?}");
    assert_eq!(imported.last(), Some(&(ROWS as u64)));
    let last = &progress.last().unwrap()["last_listing"];
    assert!(
        last["id"].as_i64().is_some() && last["reference"].is_string(),
        "{last}"
    );
}

#[test]
fn failed_import_sends_one_error() {
    let Some(url) = scratch::database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("photos-full.zip")).unwrap();
    let truncated = dir.path().join("BROKEN.zip");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();

    let listener = Listener::start(&url);
    let output = import_with_events(&url, dir.path(), &truncated, "BROKEN");
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = listener.until_end();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["type"], "error");
    assert_eq!(events[0]["agency_code"], "BROKEN");
    assert!(
        events[0]["error"].as_str().unwrap().contains("BROKEN.zip"),
        "{events:#?}"
    );
}

//! Snapshots (insta) of the help of every command and of how common
//! failures are shown. A change to either shows up as a snapshot diff to
//! review: `cargo insta review`, or `INSTA_UPDATE=always cargo test` to
//! accept all.

use std::path::Path;

use clap::CommandFactory;
use passerelle::cli::Cli;

use crate::support::{fixture, passerelle};

/// Returns the path of every command and subcommand: `[]`, `["import"]`,
/// `["runs", "show"]`, …
fn command_paths(command: &clap::Command, prefix: &[String], paths: &mut Vec<Vec<String>>) {
    paths.push(prefix.to_vec());
    for sub in command.get_subcommands() {
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_string());
        command_paths(sub, &path, paths);
    }
}

#[test]
fn help_of_every_command() {
    let mut paths = Vec::new();
    command_paths(&Cli::command(), &[], &mut paths);
    assert!(paths.len() > 10, "{paths:?}");
    for path in paths {
        let output = passerelle().args(&path).arg("--help").output().unwrap();
        assert!(output.status.success(), "{path:?}");
        let name = if path.is_empty() {
            "help".to_string()
        } else {
            format!("help_{}", path.join("_"))
        };
        insta::assert_snapshot!(name, String::from_utf8(output.stdout).unwrap());
    }
}

/// Runs passerelle in `dir` and returns its exit status and stderr.
fn failure(dir: &Path, args: &[&str]) -> String {
    let output = passerelle()
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    format!(
        "exit status: {}\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stderr).unwrap()
    )
}

fn copy_fixture(dir: &Path, name: &str) {
    std::fs::copy(fixture(name), dir.join(name)).unwrap();
}

#[test]
fn error_unknown_crm_code() {
    let dir = tempfile::tempdir().unwrap();
    insta::assert_snapshot!(failure(
        dir.path(),
        &["import", "feed.csv", "--crm", "polris", "--agency", "AG1"]
    ));
}

#[test]
fn error_unknown_crm_in_the_settings_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("passerelle.toml"),
        "[[integrations]]\nname = \"ouest\"\ncrm = \"Hecktor\"\nagency = \"AG1\"\n",
    )
    .unwrap();
    insta::assert_snapshot!(failure(
        dir.path(),
        &["fetch", "--config", "passerelle.toml", "--integration", "ouest"]
    ));
}

#[test]
fn error_missing_input() {
    let dir = tempfile::tempdir().unwrap();
    insta::assert_snapshot!(failure(
        dir.path(),
        &[
            "import",
            "Annonces.csv",
            "--crm",
            "poliris",
            "--agency",
            "AGENCE-OUEST"
        ]
    ));
}

#[test]
fn error_invalid_settings_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("passerelle.toml"),
        "[database]\npath = \"listings.db\"\n[photos\nconcurrency = 4\n",
    )
    .unwrap();
    copy_fixture(dir.path(), "snapshot-1.csv");
    insta::assert_snapshot!(failure(
        dir.path(),
        &[
            "import",
            "snapshot-1.csv",
            "--config",
            "passerelle.toml",
            "--crm",
            "poliris",
            "--agency",
            "AGENCE-OUEST"
        ]
    ));
}

#[test]
fn error_agency_locked_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path(), "snapshot-1.csv");
    let args = [
        "import",
        "snapshot-1.csv",
        "--crm",
        "poliris",
        "--agency",
        "AGENCE-OUEST",
        "--no-photos",
        "--quiet",
    ];
    assert!(
        passerelle()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
            .status
            .success()
    );
    // A worker on another host holds the lock; its heartbeat is recent
    // until 2100, so the lock is live and its expiry is fixed.
    let connection = rusqlite::Connection::open(dir.path().join("passerelle.db")).unwrap();
    connection
        .execute(
            "INSERT INTO locks (crm, agency_code, pid, host, acquired_at, heartbeat_unix)
             VALUES ('poliris', 'AGENCE-OUEST', 4242, 'crm-worker-2', '2026-12-04T22:00:00Z', 4102444800)",
            [],
        )
        .unwrap();
    insta::assert_snapshot!(failure(dir.path(), &args));
}

#[test]
fn error_guard_tripped() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path(), "snapshot-1.csv");
    copy_fixture(dir.path(), "empty.csv");
    let import = |file: &str| {
        failure(
            dir.path(),
            &[
                "import",
                file,
                "--crm",
                "poliris",
                "--agency",
                "AGENCE-OUEST",
                "--no-photos",
            ],
        )
    };
    assert!(import("snapshot-1.csv").starts_with("exit status: 0"));
    insta::assert_snapshot!(import("empty.csv"));
}

#[test]
fn error_truncated_archive() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("photos-full.zip")).unwrap();
    std::fs::write(dir.path().join("feed.zip"), &bytes[..bytes.len() / 2]).unwrap();
    insta::assert_snapshot!(failure(
        dir.path(),
        &[
            "import",
            "feed.zip",
            "--crm",
            "poliris",
            "--agency",
            "AGENCE-OUEST"
        ]
    ));
}

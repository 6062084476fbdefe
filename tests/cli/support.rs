//! Helpers shared by the command-line tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// Returns the `passerelle` binary built for these tests, shielded from the
/// settings of the person running them.
pub fn passerelle() -> Command {
    let mut command = Command::cargo_bin("passerelle").expect("the passerelle binary is built");
    command
        .env("XDG_CONFIG_HOME", "/nonexistent/passerelle-tests")
        .env_remove("PASSERELLE_CONFIG")
        .env_remove("PASSERELLE_DATABASE");
    command
}

/// Runs the binary in `dir` under a pseudo-terminal made by `script`
/// (util-linux), 120 columns wide, with `envs` set. Returns the exit status
/// and what the terminal received.
pub fn under_terminal(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let binary = assert_cmd::cargo::cargo_bin("passerelle");
    let quoted: Vec<String> = std::iter::once(binary.display().to_string())
        .chain(args.iter().map(|arg| (*arg).to_string()))
        .map(|arg| format!("'{}'", arg.replace('\'', r"'\''")))
        .collect();
    let command = format!("stty cols 120 rows 40; exec {}", quoted.join(" "));
    let output = std::process::Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .current_dir(dir)
        .env("TERM", "xterm")
        .env("XDG_CONFIG_HOME", "/nonexistent/passerelle-tests")
        .env_remove("NO_COLOR")
        .env_remove("PASSERELLE_CONFIG")
        .env_remove("PASSERELLE_DATABASE")
        .envs(envs.iter().copied())
        .output()
        .expect("`script` from util-linux runs the binary under a pseudo-terminal");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// Returns the path of a file under `fixtures/poliris/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/poliris")
        .join(name)
}

/// Returns the folder of real Poliris exports beside the repository, or `None` with a visible
/// message when they are absent (a clone outside the project workspace).
pub fn samples_dir() -> Option<PathBuf> {
    samples_of("poliris")
}

/// Returns the folder of real exports of one format (`poliris`, `kyero`, …)
/// beside the repository, or `None` with a visible message when absent.
pub fn samples_of(format: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/samples")
        .join(format);
    if dir.is_dir() {
        Some(dir)
    } else {
        // Written to stderr directly, not with eprintln!, which the test
        // harness captures: a skip must be visible in a normal run.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: real {format} samples not found at {}",
            dir.display()
        );
        None
    }
}

/// Runs `passerelle parse` and returns its output and the listings it printed.
pub fn parse(args: &[&str]) -> (Output, Vec<Value>) {
    let output = passerelle().arg("parse").args(args).output().unwrap();
    let listings = String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    (output, listings)
}

/// Returns the listing with this source id.
pub fn by_source_id<'a>(listings: &'a [Value], source_id: &str) -> &'a Value {
    listings
        .iter()
        .find(|listing| listing["source_id"] == source_id)
        .unwrap_or_else(|| panic!("no listing with source id {source_id}"))
}

/// Result of one `passerelle import` run.
pub struct Imported {
    pub code: i32,
    pub summary: Value,
    pub stderr: String,
}

/// Runs `passerelle import --crm poliris --format json --no-photos` into
/// `database`. The fixtures' photo URLs point at a closed loopback port;
/// tests/cli/photos.rs covers photos.
pub fn import(database: &Path, input: &Path, agency: &str, extra: &[&str]) -> Imported {
    import_as("poliris", database, input, agency, extra)
}

/// Runs `passerelle import --format json --no-photos` of a `crm` payload
/// into `database`.
pub fn import_as(crm: &str, database: &Path, input: &Path, agency: &str, extra: &[&str]) -> Imported {
    let output = passerelle()
        .arg("import")
        .arg(input)
        .args([
            "--crm",
            crm,
            "--agency",
            agency,
            "--format",
            "json",
            "--no-photos",
            "--database",
        ])
        .arg(database)
        .args(extra)
        .output()
        .unwrap();
    imported(&output)
}

/// Reads the JSON summary of a `passerelle import --format json` run.
pub fn imported(output: &Output) -> Imported {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("no JSON summary ({error}); stdout: {stdout}; stderr: {stderr}"));
    Imported {
        code: output.status.code().unwrap_or(-1),
        summary,
        stderr,
    }
}

/// Returns the run counts of a summary as (created, updated, unchanged, withdrawn, rejected).
pub fn counts(summary: &Value) -> (u64, u64, u64, u64, u64) {
    let counts = &summary["counts"];
    let number = |name: &str| counts[name].as_u64().unwrap();
    (
        number("created"),
        number("updated"),
        number("unchanged"),
        number("withdrawn"),
        number("rejected"),
    )
}

pub fn open_database(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

/// Source ids of the listings of an agency that are not withdrawn, sorted.
pub fn active_source_ids(database: &Path, agency: &str) -> Vec<String> {
    let connection = open_database(database);
    let mut statement = connection
        .prepare(
            "SELECT l.source_id FROM listings l JOIN integrations i ON i.id = l.integration_id
             WHERE i.agency_code = ?1 AND l.withdrawn_at IS NULL ORDER BY l.source_id",
        )
        .unwrap();
    statement
        .query_map([agency], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A settings file for a test, built section by section: the database is
/// `passerelle.db` and the staging folder `staging`, both in the test's
/// directory, then whatever the test adds.
pub struct SettingsFile {
    text: String,
}

impl SettingsFile {
    pub fn new() -> Self {
        Self {
            text: "[database]\npath = \"passerelle.db\"\n\n[staging]\npath = \"staging\"\n".to_string(),
        }
    }

    /// Adds an `[ftp]` section for the test FTP server on this port, which
    /// takes a drop at once.
    pub fn ftp(self, port: u16) -> Self {
        self.section(&format!(
            "[ftp]\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"passerelle\"\nmin_age_seconds = 0\n"
        ))
    }

    /// Adds an integration; `extra` holds more of its keys, one per line.
    pub fn integration(self, name: &str, crm: &str, agency: &str, extra: &str) -> Self {
        self.section(&format!(
            "[[integrations]]\nname = \"{name}\"\ncrm = \"{crm}\"\nagency = \"{agency}\"\n{extra}"
        ))
    }

    /// Adds TOML as it is.
    pub fn section(mut self, toml: &str) -> Self {
        self.text.push('\n');
        self.text.push_str(toml);
        if !toml.ends_with('\n') {
            self.text.push('\n');
        }
        self
    }

    /// Writes `passerelle.toml` in `dir` and returns its path.
    pub fn write(self, dir: &Path) -> PathBuf {
        let path = dir.join("passerelle.toml");
        std::fs::write(&path, self.text).unwrap();
        path
    }
}

//! `passerelle config check` on the shipped example and on a broken file.

use std::path::Path;

use crate::support::passerelle;

#[test]
fn example_settings_pass_the_check() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let output = passerelle()
        .args(["config", "check"])
        .arg(&example)
        .env("AZUR_APIMO_PROVIDER", "8123")
        .env("AZUR_APIMO_TOKEN", "token")
        .env("PASSERELLE_FTP_PASSWORD", "password")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("no problem found"));
}

#[test]
fn broken_settings_report_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("passerelle.toml");
    std::fs::write(
        &settings,
        r#"
[database]
pth = "x.db"

[ftp]
host = "127.0.0.1"
user = "passerelle"

[[integrations]]
name = "sud"
crm = "hektorr"
agency = "AGENCE-SUD"
schedule = "15 25 * * *"

[[integrations]]
name = "sud"
crm = "apimo"
agency = "4242"
api_url = "api.example.net"
requests_per_second = 0.0
min_share = "half"
credentials = { secret = "APIMO_SECRET" }

[notify]
webhook_url = "hooks.example.net/passerelle"
"#,
    )
    .unwrap();
    let output = passerelle()
        .args(["config", "check"])
        .arg(&settings)
        .env_remove("PASSERELLE_APIMO_PROVIDER")
        .env_remove("PASSERELLE_APIMO_TOKEN")
        .env_remove("PASSERELLE_FTP_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let expected = [
        "database.pth: unknown key",
        "integrations[0].crm: unknown CRM `hektorr`",
        "integrations[0].schedule: hour `25`: 25 is outside 0-23",
        "integrations[1].name: integration name `sud` is used twice",
        "integrations[1].credentials.provider: environment variable PASSERELLE_APIMO_PROVIDER is not set",
        "integrations[1].credentials.token: environment variable PASSERELLE_APIMO_TOKEN is not set",
        "integrations[1].api_url: `api.example.net` does not start with http:// or https://",
        "integrations[1].requests_per_second: must be above 0",
        "integrations[1].min_share: invalid type: string \"half\", expected f64",
        "integrations[1].credentials.secret: apimo has no credential `secret`; it takes: provider, token",
        "notify.webhook_url: `hooks.example.net/passerelle` does not start with http:// or https://",
        "ftp.password_variable: environment variable PASSERELLE_FTP_PASSWORD is not set",
    ];
    for problem in expected {
        assert!(stdout.contains(problem), "missing `{problem}` in:\n{stdout}");
    }
    assert_eq!(stdout.lines().count(), expected.len(), "{stdout}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("12 problems"));
}

#[test]
fn crontab_lines_follow_the_schedules() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("my settings.toml");
    std::fs::write(
        &settings,
        "[[integrations]]\nname = \"ouest\"\ncrm = \"hektor\"\nagency = \"AGENCE-OUEST\"\n\
         schedule = \"15  6 * * 1-5\"\n\n[[integrations]]\nname = \"est\"\ncrm = \"hektor\"\n\
         agency = \"AGENCE-EST\"\n\n[[integrations]]\nname = \"by-hand\"\ncrm = \"poliris\"\n\
         agency = \"AGENCE-NORD\"\nschedule = \"0 7 * * *\"\n",
    )
    .unwrap();
    let output = passerelle()
        .args(["config", "crontab"])
        .arg(&settings)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    let program = assert_cmd::cargo::cargo_bin("passerelle");
    assert_eq!(
        lines[1],
        format!(
            "15 6 * * 1-5 {} sync --config '{}' --integration ouest --quiet",
            program.display(),
            settings.display()
        )
    );
    assert_eq!(lines[2], "# est: no schedule in the settings file");
    assert_eq!(
        lines[3],
        "# by-hand: poliris files are given by path, so sync has nothing to fetch; schedule `passerelle \
         import FILE --integration by-hand` instead"
    );

    std::fs::write(
        &settings,
        "[[integrations]]\nname = \"ouest\"\ncrm = \"hektor\"\nagency = \"A\"\nschedule = \"daily\"\n",
    )
    .unwrap();
    let refused = passerelle()
        .args(["config", "crontab"])
        .arg(&settings)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("`ouest`: schedule: a schedule has five fields"),
        "{stderr}"
    );
}

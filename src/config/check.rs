//! `passerelle config check`: every problem of a settings file at once,
//! each with its key path, so that a file is fixed in one pass.

use std::collections::HashSet;
use std::path::Path;

use toml::Value;

use super::{ConfigFile, default_credential_variable};
use crate::crm::registry::{self, Transport};

/// One problem found in a settings file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path of the problem, e.g. `integrations[1].crm`; empty for a
    /// problem of the whole file, such as invalid TOML.
    pub path: String,
    pub message: String,
}

/// Keys allowed in each section; `*` allows any key (name → value maps).
const SECTIONS: [(&str, &[&str]); 7] = [
    (
        "",
        &["database", "staging", "ftp", "notify", "photos", "integrations"],
    ),
    (
        "photos",
        &[
            "media_dir",
            "concurrency",
            "connect_timeout_seconds",
            "timeout_seconds",
            "max_megabytes",
            "attempts",
            "allow_private_networks",
            "format",
            "quality",
            "variants",
            "max_pixels",
        ],
    ),
    ("notify", &["webhook_url", "timeout_seconds"]),
    ("database", &["path", "url", "progress_interval_ms"]),
    ("staging", &["path"]),
    (
        "ftp",
        &[
            "host",
            "port",
            "user",
            "tls",
            "tls_ca_file",
            "password_variable",
            "stable_seconds",
            "min_age_seconds",
            "timeout_seconds",
            "processed_folder",
        ],
    ),
    (
        "integrations",
        &[
            "name",
            "crm",
            "agency",
            "organization",
            "default_agent",
            "agents",
            "credentials",
            "api_url",
            "language",
            "requests_per_second",
            "timeout_seconds",
            "withdrawal",
            "min_share",
            "schedule",
        ],
    ),
];

/// Checks a settings file's text. `environment` returns whether a variable
/// is set, so that tests need not change the process's environment.
pub fn check(path: &Path, text: &str, environment: &dyn Fn(&str) -> bool) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |path: String, message: String| problems.push(Problem { path, message });
    let document = match text.parse::<toml::Table>() {
        Ok(table) => Value::Table(table),
        Err(error) => {
            problem(String::new(), format!("invalid TOML: {error}"));
            return problems;
        }
    };

    unknown_keys(&document, &mut problem);
    // Type errors: the sections as a whole, then each integration alone so
    // that a problem names its entry.
    let mut sections = document.clone();
    let entries = sections
        .as_table_mut()
        .and_then(|table| table.remove("integrations"))
        .and_then(|entries| entries.as_array().cloned())
        .unwrap_or_default();
    // [photos] is checked key by key below, so that every mistake shows.
    let photos = sections.as_table_mut().and_then(|table| table.remove("photos"));
    let type_errors = std::iter::once((String::new(), sections.try_into::<ConfigFile>().err())).chain(
        entries.into_iter().enumerate().map(|(index, entry)| {
            (
                format!("integrations[{index}]"),
                entry.try_into::<super::IntegrationConfig>().err(),
            )
        }),
    );
    for (at, error) in type_errors {
        if let Some(error) = error
            && !error.to_string().contains("unknown field")
            && !error.to_string().contains("missing field")
        {
            let message = error.to_string().trim().replace('\n', " ");
            // The toml crate ends the message with "in `key.path`".
            let (message, key) = match message.rsplit_once(" in `") {
                Some((reason, key)) => (reason.to_string(), key.trim_end_matches('`').to_string()),
                None => (message, String::new()),
            };
            let full = [at.as_str(), key.as_str()]
                .into_iter()
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(".");
            problem(
                if full.is_empty() {
                    path.display().to_string()
                } else {
                    full
                },
                message,
            );
        }
    }
    if let Some(url) = document
        .get("notify")
        .and_then(|notify| notify.get("webhook_url"))
        .and_then(Value::as_str)
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        problem(
            "notify.webhook_url".to_string(),
            format!("`{url}` does not start with http:// or https://"),
        );
    }

    if let Some(Value::Table(database)) = document.get("database") {
        if database.contains_key("url") && database.contains_key("path") {
            problem(
                "database".to_string(),
                "set either `url` (Postgres) or `path` (SQLite), not both".to_string(),
            );
        }
        if let Some(url) = database.get("url").and_then(Value::as_str)
            && !matches!(
                crate::store::Database::parse(url),
                crate::store::Database::Postgres(_)
            )
        {
            problem(
                "database.url".to_string(),
                format!(
                    "`{}` is not a postgres:// URL; a SQLite file goes in database.path",
                    crate::store::location::redact(url)
                ),
            );
        }
    }

    if let Some(Value::Table(photos)) = photos {
        check_photos(&photos, &mut problem);
    }

    let integrations = document
        .get("integrations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut names = HashSet::new();
    let mut uses_ftp = false;
    for (index, integration) in integrations.iter().enumerate() {
        let at = |key: &str| format!("integrations[{index}].{key}");
        let text_of = |key: &str| integration.get(key).and_then(Value::as_str);
        for required in ["name", "crm", "agency"] {
            if text_of(required).is_none_or(|value| value.trim().is_empty()) {
                problem(at(required), format!("missing {required}"));
            }
        }
        if let Some(name) = text_of("name")
            && !names.insert(name.to_string())
        {
            problem(at("name"), format!("integration name `{name}` is used twice"));
        }
        if let Some(expression) = text_of("schedule")
            && let Some(reason) = super::schedule::problem(expression)
        {
            problem(at("schedule"), reason);
        }
        let Some(crm_code) = text_of("crm") else {
            continue;
        };
        let Ok(crm) = registry::find(crm_code) else {
            problem(
                at("crm"),
                format!(
                    "unknown CRM `{crm_code}`; known CRMs: {}",
                    registry::codes().join(", ")
                ),
            );
            continue;
        };
        uses_ftp |= crm.transport == Transport::Ftp;
        let named = integration.get("credentials").and_then(Value::as_table);
        for credential in named.into_iter().flat_map(|named| named.keys()) {
            let known: Vec<&str> = crm
                .credentials
                .iter()
                .chain(crm.optional_credentials)
                .copied()
                .collect();
            if !known.contains(&credential.as_str()) {
                problem(
                    format!("integrations[{index}].credentials.{credential}"),
                    format!(
                        "{} has no credential `{credential}`; it takes: {}",
                        crm.code,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
            }
        }
        let optional_named = crm
            .optional_credentials
            .iter()
            .filter(|credential| named.is_some_and(|named| named.contains_key(**credential)));
        for credential in crm.credentials.iter().chain(optional_named) {
            let variable = named
                .and_then(|named| named.get(*credential))
                .and_then(Value::as_str)
                .map_or_else(
                    || default_credential_variable(crm_code, credential),
                    str::to_string,
                );
            if !environment(&variable) {
                problem(
                    format!("integrations[{index}].credentials.{credential}"),
                    format!("environment variable {variable} is not set"),
                );
            }
        }
        if crm.url_required && text_of("api_url").is_none() {
            problem(
                at("api_url"),
                format!(
                    "{} needs api_url: the URL its deliveries are fetched from",
                    crm.code
                ),
            );
        }
        if let Some(url) = text_of("api_url")
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problem(
                at("api_url"),
                format!("`{url}` does not start with http:// or https://"),
            );
        }
        if let Some(share) = integration.get("min_share").and_then(Value::as_float)
            && !(0.0..=1.0).contains(&share)
        {
            problem(at("min_share"), "must be between 0 and 1".to_string());
        }
        if let Some(setting) = integration
            .get("withdrawal")
            .and_then(|value| value.clone().try_into::<super::WithdrawalSetting>().ok())
            && let Err(reason) = setting.policy()
        {
            problem(at("withdrawal"), reason);
        }
        if let Some(rate) = integration.get("requests_per_second").and_then(Value::as_float)
            && rate <= 0.0
        {
            problem(at("requests_per_second"), "must be above 0".to_string());
        }
    }

    match document.get("ftp") {
        Some(ftp) => {
            let variable = ftp
                .get("password_variable")
                .and_then(Value::as_str)
                .unwrap_or("PASSERELLE_FTP_PASSWORD");
            if !environment(variable) {
                problem(
                    "ftp.password_variable".to_string(),
                    format!("environment variable {variable} is not set"),
                );
            }
        }
        None if uses_ftp => problem(
            "ftp".to_string(),
            "an integration's CRM drops files on FTP, but there is no [ftp] section".to_string(),
        ),
        None => {}
    }
    problems
}

/// Reports keys that no section allows, with their path.
/// Checks each `[photos]` key alone: its type, then its value with the
/// code that applies it. Unknown keys are left to [`unknown_keys`].
fn check_photos(photos: &toml::Table, problem: &mut impl FnMut(String, String)) {
    for (key, value) in photos {
        let mut alone = toml::Table::new();
        alone.insert(key.clone(), value.clone());
        let section = match Value::Table(alone).try_into::<super::PhotosSection>() {
            Ok(section) => section,
            Err(error) => {
                let message = error.to_string();
                if !message.contains("unknown field") {
                    let reason = message.lines().next().unwrap_or_default();
                    // Serde names Rust types: say what the file needs instead.
                    let unsigned = ["u8", "u32", "u64", "usize"]
                        .iter()
                        .any(|kind| reason.ends_with(&format!("expected {kind}")));
                    let reason = if unsigned {
                        "must be a whole number above 0".to_string()
                    } else {
                        reason.to_string()
                    };
                    problem(format!("photos.{key}"), reason);
                }
                continue;
            }
        };
        let file = ConfigFile {
            photos: section,
            ..ConfigFile::default()
        };
        if let Err(error) =
            super::photo_settings(&file, &crate::store::Database::parse(super::DEFAULT_DATABASE))
        {
            let message = error.to_string();
            let reason = message
                .split_once(": ")
                .map_or(message.as_str(), |(_, reason)| reason);
            problem(format!("photos.{key}"), reason.to_string());
        }
    }
}

fn unknown_keys(document: &Value, problem: &mut impl FnMut(String, String)) {
    let allowed = |section: &str| {
        SECTIONS
            .iter()
            .find(|(name, _)| *name == section)
            .map(|(_, keys)| *keys)
    };
    let mut check_table = |section: &str, path: &str, table: &toml::Table| {
        let Some(keys) = allowed(section) else {
            return;
        };
        for key in table.keys() {
            if !keys.contains(&key.as_str()) {
                let full = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                problem(full, format!("unknown key; expected one of: {}", keys.join(", ")));
            }
        }
    };
    let Some(root) = document.as_table() else {
        return;
    };
    check_table("", "", root);
    for section in ["database", "staging", "ftp", "notify", "photos"] {
        if let Some(table) = root.get(section).and_then(Value::as_table) {
            check_table(section, section, table);
        }
    }
    if let Some(integrations) = root.get("integrations").and_then(Value::as_array) {
        for (index, integration) in integrations.iter().enumerate() {
            if let Some(table) = integration.as_table() {
                check_table("integrations", &format!("integrations[{index}]"), table);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|problem| problem.path.as_str()).collect()
    }

    #[test]
    fn example_file_has_no_problem() {
        let text = include_str!("../../config.example.toml");
        let problems = check(Path::new("config.example.toml"), text, &|_| true);
        assert_eq!(problems, Vec::new());
    }

    #[test]
    fn reports_every_photo_mistake_at_once() {
        let text = r#"
[photos]
allow_private_networks = "yes"
format = "gif"
max_megabytes = -1
attempts = 0
media_dir = ""
concurrency = 0
quality = 150
colour = 1
"#;
        let problems = check(Path::new("bad.toml"), text, &|_| true);
        let mut found = paths(&problems);
        found.sort_unstable();
        assert_eq!(
            found,
            [
                "photos.allow_private_networks",
                "photos.attempts",
                "photos.colour",
                "photos.concurrency",
                "photos.format",
                "photos.max_megabytes",
                "photos.media_dir",
                "photos.quality",
            ],
            "{problems:#?}"
        );
    }

    #[test]
    fn reports_photo_values_that_make_no_sense() {
        let duplicate = "[photos]\nvariants = [{ name = \"large\", max_side = 800 }, { name = \"large\", max_side = 200 }]\n";
        let problems = check(Path::new("bad.toml"), duplicate, &|_| true);
        assert_eq!(paths(&problems), ["photos.variants"]);
        assert!(
            problems[0].message.contains("`large` is named twice"),
            "{problems:?}"
        );
        let quality = check(Path::new("bad.toml"), "[photos]\nquality = 0\n", &|_| true);
        assert_eq!(paths(&quality), ["photos.quality"]);
        let beyond_a_byte = check(Path::new("bad.toml"), "[photos]\nquality = 300\n", &|_| true);
        assert!(
            beyond_a_byte[0]
                .message
                .contains("must be between 1 and 100, not 300"),
            "{beyond_a_byte:?}"
        );
    }

    #[test]
    fn reports_every_kind_of_mistake() {
        let text = r#"
[database]
pth = "x.db"

[[integrations]]
name = "sud"
crm = "hektorr"
agency = "AGENCE-SUD"

[[integrations]]
name = "sud"
crm = "apimo"
agency = "4242"
api_url = "api.example.net"

[[integrations]]
name = "nord"
crm = "poliris"
"#;
        let problems = check(Path::new("bad.toml"), text, &|variable| {
            variable != "PASSERELLE_APIMO_TOKEN"
        });
        assert_eq!(
            paths(&problems),
            [
                "database.pth",
                "integrations[0].crm",
                "integrations[1].name",
                "integrations[1].credentials.token",
                "integrations[1].api_url",
                "integrations[2].agency",
            ]
        );
        assert!(
            problems[1]
                .message
                .contains("unknown CRM `hektorr`; known CRMs: apimo")
        );
        assert!(problems[3].message.contains("PASSERELLE_APIMO_TOKEN is not set"));
    }

    #[test]
    fn database_url_and_path_conflict() {
        let both = "[database]\npath = \"x.db\"\nurl = \"postgres://importer:s3cret@db/listings\"\n";
        let problems = check(Path::new("f.toml"), both, &|_| true);
        assert_eq!(paths(&problems), ["database"]);
        assert!(
            problems[0].message.contains("not both"),
            "{}",
            problems[0].message
        );

        let not_postgres = "[database]\nurl = \"mysql://importer:s3cret@db/listings\"\n";
        let problems = check(Path::new("f.toml"), not_postgres, &|_| true);
        assert_eq!(paths(&problems), ["database.url"]);
        assert!(problems[0].message.contains("not a postgres:// URL"));
        assert!(!problems[0].message.contains("s3cret"), "{}", problems[0].message);
    }

    #[test]
    fn ftp_crm_without_ftp_section() {
        let text = "[[integrations]]\nname = \"h\"\ncrm = \"hektor\"\nagency = \"A\"\n";
        let problems = check(Path::new("f.toml"), text, &|_| true);
        assert_eq!(paths(&problems), ["ftp"]);
    }

    #[test]
    fn invalid_toml_is_one_problem() {
        let problems = check(Path::new("broken.toml"), "[database\npath = 1", &|_| true);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.starts_with("invalid TOML"));
    }
}

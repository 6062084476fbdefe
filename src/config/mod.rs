//! The settings file and the one place where flags, environment variables,
//! the file and defaults are merged.
//!
//! Precedence, highest first: a command-line flag, its environment variable
//! (clap reads both into the same argument), the settings file, the default.
//! The file is the one named by `--config` or `PASSERELLE_CONFIG`, else
//! `$XDG_CONFIG_HOME/passerelle/config.toml` (`~/.config/…`) when it exists.
//! `config.example.toml` documents every key.

pub mod check;
pub mod schedule;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::{FetchArgs, ImportArgs, IntegrationArgs};
use crate::crm::adapter::Credential;
use crate::crm::poliris::AgentMapping;
use crate::crm::registry;
use crate::exit::UsageError;
use crate::photos::PhotoSettings;
use crate::photos::variants::{OutputFormat, VariantSpec};
use crate::pipeline::{DEFAULT_MIN_SHARE, WithdrawalPolicy};
use crate::store::Database;
use crate::transport::ftp::FtpSettings;
use crate::transport::http::HttpSettings;

/// Database file used when no flag, variable or setting names one.
pub const DEFAULT_DATABASE: &str = "passerelle.db";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub database: DatabaseSection,
    #[serde(default)]
    pub staging: StagingSection,
    /// Our FTP server, where CRMs drop their files.
    pub ftp: Option<FtpSection>,
    /// Where failures and tripped guards are announced.
    pub notify: Option<NotifySection>,
    #[serde(default)]
    pub photos: PhotosSection,
    #[serde(default)]
    pub integrations: Vec<IntegrationConfig>,
    /// The file these settings were read from; `None` when no file was found.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    /// SQLite file; a relative path is taken from the settings file's folder.
    pub path: Option<PathBuf>,
    /// Postgres database, as a `postgres://` URL; instead of `path`.
    pub url: Option<String>,
    /// Shortest time between two progress events of a run published with
    /// Postgres NOTIFY, in milliseconds [default: 1000].
    pub progress_interval_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagingSection {
    /// Folder of fetched payloads; a relative path is taken from the
    /// settings file's folder.
    pub path: Option<PathBuf>,
}

/// Settings for downloading, checking and rendering photos. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhotosSection {
    /// Folder of the rendered photos; a relative path is taken from the
    /// settings file's folder [default: beside the database, named after it
    /// with `.media` for extension].
    pub media_dir: Option<PathBuf>,
    /// Photos downloaded at the same time [default: 8].
    pub concurrency: Option<usize>,
    /// Seconds allowed to connect to a photo's server [default: 10].
    pub connect_timeout_seconds: Option<u64>,
    /// Seconds allowed for one photo's whole download [default: 60].
    pub timeout_seconds: Option<u64>,
    /// Largest photo accepted, in megabytes [default: 40].
    pub max_megabytes: Option<u64>,
    /// Attempts per photo on transient errors, the first included [default: 3].
    pub attempts: Option<u32>,
    /// Fetch photo URLs on loopback, private and link-local addresses
    /// [default: false].
    #[serde(default)]
    pub allow_private_networks: bool,
    /// Encoding of the variants: `jpeg`, or `webp` (lossless) [default: jpeg].
    pub format: Option<OutputFormat>,
    /// JPEG quality, 1 to 100 [default: 82]. Read as a wider integer so
    /// that 300 gets the range in its error, not serde's `expected u8`.
    pub quality: Option<u32>,
    /// Variants to render, each fitting a square of `max_side` pixels
    /// [default: large 1600, thumb 400].
    pub variants: Option<Vec<VariantSpec>>,
    /// Largest photo decoded, in pixels (width × height) [default: 50000000].
    pub max_pixels: Option<u64>,
}

/// Resolves the photo settings of a run on `database`.
///
/// # Errors
/// An invalid quality, variant list or concurrency.
pub fn photo_settings(file: &ConfigFile, database: &Database) -> anyhow::Result<PhotoSettings> {
    let section = &file.photos;
    let media_dir = match &section.media_dir {
        Some(folder) if folder.as_os_str().is_empty() => {
            return Err(UsageError(
                "photos.media_dir: must name a folder; leave it out for the default beside the database"
                    .to_string(),
            )
            .into());
        }
        Some(folder) => folder.clone(),
        None => database.default_media_dir(),
    };
    let mut settings = PhotoSettings::new(media_dir);
    settings.database = Some(database.media_owner());
    if let Some(concurrency) = section.concurrency {
        settings.concurrency = in_range("concurrency", concurrency, 1, 64)?;
    }
    let download = &mut settings.download;
    if let Some(seconds) = section.connect_timeout_seconds {
        download.connect_timeout = Duration::from_secs(in_range("connect_timeout_seconds", seconds, 1, 600)?);
    }
    if let Some(seconds) = section.timeout_seconds {
        download.timeout = Duration::from_secs(in_range("timeout_seconds", seconds, 1, 3600)?);
    }
    if let Some(megabytes) = section.max_megabytes {
        download.max_bytes = in_range("max_megabytes", megabytes, 1, 1024)? * 1024 * 1024;
    }
    if let Some(attempts) = section.attempts {
        download.max_attempts = in_range("attempts", attempts, 1, 10)?;
    }
    download.allow_private_networks = section.allow_private_networks;
    let render = &mut settings.render;
    if let Some(format) = section.format {
        render.format = format;
    }
    if let Some(quality) = section.quality {
        // The range check makes the narrowing lossless.
        render.quality = in_range("quality", quality, 1, 100)? as u8;
    }
    if let Some(variants) = &section.variants {
        render.variants = checked_variants(variants)?;
    }
    if let Some(pixels) = section.max_pixels {
        render.max_pixels = in_range("max_pixels", pixels, 10_000, 1_000_000_000)?;
    }
    Ok(settings)
}

/// Returns a `[photos]` number when it lies between `low` and `high`.
fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    key: &str,
    value: T,
    low: T,
    high: T,
) -> anyhow::Result<T> {
    if value < low || value > high {
        return Err(UsageError(format!(
            "photos.{key}: must be between {low} and {high}, not {value}"
        ))
        .into());
    }
    Ok(value)
}

/// Checks the variants: at least one, each with a plain unique name and a
/// size. Every problem is named at once.
fn checked_variants(variants: &[VariantSpec]) -> anyhow::Result<Vec<VariantSpec>> {
    let mut names = std::collections::HashSet::new();
    let mut problems = Vec::new();
    if variants.is_empty() {
        problems.push("name at least one variant".to_string());
    }
    for variant in variants {
        let plain = !variant.name.is_empty()
            && variant
                .name
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || character == '_');
        if !plain {
            problems.push(format!(
                "`{}`: a name takes letters, digits and _ only",
                variant.name
            ));
        }
        if variant.max_side == 0 {
            problems.push(format!("`{}`: max_side must be above 0", variant.name));
        }
        if !names.insert(variant.name.as_str()) {
            problems.push(format!("`{}` is named twice", variant.name));
        }
    }
    if problems.is_empty() {
        Ok(variants.to_vec())
    } else {
        Err(UsageError(format!("photos.variants: {}", problems.join("; "))).into())
    }
}

/// The FTP server CRMs drop files on, and when a dropped file is complete.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtpSection {
    pub host: String,
    #[serde(default = "default_ftp_port")]
    pub port: u16,
    pub user: String,
    /// Explicit FTPS: `AUTH TLS` before logging in [default: false].
    #[serde(default)]
    pub tls: bool,
    /// PEM file of certificates to trust for FTPS, for a private
    /// certificate authority; a relative path is taken from the settings
    /// file's folder [default: the system's roots].
    pub tls_ca_file: Option<PathBuf>,
    /// Environment variable that contains the password [default:
    /// PASSERELLE_FTP_PASSWORD].
    pub password_variable: Option<String>,
    /// Seconds between the two listings that show a file is complete [default: 10].
    pub stable_seconds: Option<u64>,
    /// Age in seconds past which a file is complete without a second listing [default: 120].
    pub min_age_seconds: Option<u64>,
    /// Seconds allowed for connecting, each command and each transfer [default: 60].
    pub timeout_seconds: Option<u64>,
    /// When set, a dropped file whose import succeeded is moved into this
    /// folder, inside the CRM's folder, so that the next fetch sees only new
    /// drops. Unset, files are left in place.
    pub processed_folder: Option<String>,
}

fn default_ftp_port() -> u16 {
    21
}

/// Reads the FTP settings and the password from the environment.
///
/// # Errors
/// No `[ftp]` section, or the password variable is not set.
pub fn resolve_ftp(file: &ConfigFile) -> anyhow::Result<FtpSettings> {
    let section = file.ftp.as_ref().ok_or_else(|| {
        UsageError("no [ftp] section in the settings file; config.example.toml shows one".to_string())
    })?;
    let variable = section
        .password_variable
        .clone()
        .unwrap_or_else(|| "PASSERELLE_FTP_PASSWORD".to_string());
    let password = std::env::var(&variable)
        .ok()
        .filter(|value| !value.is_empty())
        .ok_or_else(|| {
            UsageError(format!(
                "missing FTP password: set the environment variable {variable} for user {}",
                section.user
            ))
        })?;
    let timeout = Duration::from_secs(section.timeout_seconds.unwrap_or(60));
    Ok(FtpSettings {
        host: section.host.clone(),
        port: section.port,
        tls: section.tls,
        tls_ca_file: section.tls_ca_file.clone(),
        user: section.user.clone(),
        password,
        password_variable: variable,
        connect_timeout: timeout,
        timeout,
        stable_interval: Duration::from_secs(section.stable_seconds.unwrap_or(10)),
        min_age: Duration::from_secs(section.min_age_seconds.unwrap_or(120)),
    })
}

/// The webhook that hears of failed runs and tripped guards.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySection {
    pub webhook_url: String,
    /// Seconds the webhook has to answer [default: 5].
    pub timeout_seconds: Option<u64>,
}

/// Staging folder used when no flag or setting names one.
pub const DEFAULT_STAGING: &str = "staging";

/// One agency's link to one CRM.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationConfig {
    pub name: String,
    pub crm: String,
    pub agency: String,
    pub organization: Option<String>,
    pub default_agent: Option<String>,
    /// CRM negotiator code or contact e-mail → agent on our side.
    #[serde(default)]
    pub agents: BTreeMap<String, String>,
    /// Credential name (as `passerelle crms` lists them) → name of the
    /// environment variable that contains its value.
    #[serde(default)]
    pub credentials: BTreeMap<String, String>,
    /// Base URL of the CRM's API, for a test server or a proxy; for a
    /// Kyero integration, the URL of its feed.
    pub api_url: Option<String>,
    /// Language of titles and descriptions, for CRMs that send several.
    pub language: Option<String>,
    /// Maximum API requests per second [default: 10].
    pub requests_per_second: Option<f64>,
    /// Seconds allowed for one API request, body included [default: 60].
    pub timeout_seconds: Option<u64>,
    /// What becomes of listings a delivery no longer holds: `"mark"`
    /// (withdrawn, the default), `"keep"`, or `{ delete_after = "30d" }`.
    pub withdrawal: Option<WithdrawalSetting>,
    /// Smallest share of the last good run's listings a delivery must hold
    /// for withdrawals to go ahead [default: 0.5].
    pub min_share: Option<f64>,
    /// When to sync the integration, as a five-field cron expression;
    /// `passerelle config crontab` writes the crontab lines.
    pub schedule: Option<String>,
}

/// The `withdrawal` setting as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum WithdrawalSetting {
    Word(String),
    DeleteAfter { delete_after: String },
}

impl WithdrawalSetting {
    /// Returns the policy, or why the setting is invalid.
    pub fn policy(&self) -> Result<WithdrawalPolicy, String> {
        match self {
            Self::Word(word) if word == "mark" => Ok(WithdrawalPolicy::Mark),
            Self::Word(word) if word == "keep" => Ok(WithdrawalPolicy::Keep),
            Self::Word(word) => Err(format!(
                "`{word}` is not a withdrawal policy; use \"mark\", \"keep\" or {{ delete_after = \"30d\" }}"
            )),
            Self::DeleteAfter { delete_after } => delete_after
                .strip_suffix('d')
                .and_then(|days| days.trim().parse().ok())
                .map(|days| WithdrawalPolicy::DeleteAfter { days })
                .ok_or_else(|| {
                    format!("delete_after `{delete_after}` is not a number of days such as \"30d\"")
                }),
        }
    }
}

/// A settings file that cannot be used; the command stops with exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read settings file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid settings file {path}")]
    Invalid {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("invalid settings file {path}: integration name `{name}` is used twice; names must be unique")]
    DuplicateName { path: PathBuf, name: String },
}

/// Reads the settings file named by `explicit` (`--config` or
/// `PASSERELLE_CONFIG`), else the default location if a file is there,
/// else returns empty settings.
///
/// # Errors
/// A named file that is missing, or any file that is not valid.
pub fn load(explicit: Option<&Path>) -> anyhow::Result<ConfigFile> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => match default_location().filter(|path| path.is_file()) {
            Some(path) => path,
            None => return Ok(ConfigFile::default()),
        },
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let mut config: ConfigFile = toml::from_str(&text).map_err(|source| ConfigError::Invalid {
        path: path.clone(),
        source: Box::new(source),
    })?;
    if let Some(folder) = path.parent() {
        let ca_file = config.ftp.as_mut().map(|ftp| &mut ftp.tls_ca_file);
        for setting in [
            &mut config.database.path,
            &mut config.staging.path,
            &mut config.photos.media_dir,
        ]
        .into_iter()
        .chain(ca_file)
        {
            if let Some(relative) = setting.as_ref().filter(|setting| setting.is_relative()) {
                *setting = Some(folder.join(relative));
            }
        }
    }
    let mut names = std::collections::HashSet::new();
    for integration in &config.integrations {
        if !names.insert(integration.name.as_str()) {
            return Err(ConfigError::DuplicateName {
                path,
                name: integration.name.clone(),
            }
            .into());
        }
    }
    config.path = Some(path);
    Ok(config)
}

/// Returns the settings file to use when none is named: the default
/// location, whether or not a file is there.
pub fn default_location() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("passerelle").join("config.toml"))
}

/// Everything an import needs, once all sources are merged.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSettings {
    /// The integration's name, or `crm/agency` without a settings entry.
    pub name: String,
    pub database: Database,
    pub crm: String,
    pub agency: String,
    pub organization: Option<String>,
    pub default_agent: Option<String>,
    pub agents: BTreeMap<String, String>,
    pub language: Option<String>,
    pub withdrawal: WithdrawalPolicy,
    pub min_share: f64,
    pub photos: PhotoSettings,
}

/// Reads an integration's withdrawal policy and guard share.
///
/// # Errors
/// An invalid `withdrawal` or `min_share`.
fn withdrawal_settings(entry: Option<&IntegrationConfig>) -> anyhow::Result<(WithdrawalPolicy, f64)> {
    let Some(entry) = entry else {
        return Ok((WithdrawalPolicy::Mark, DEFAULT_MIN_SHARE));
    };
    let policy = match &entry.withdrawal {
        Some(setting) => setting
            .policy()
            .map_err(|reason| UsageError(format!("withdrawal of integration {}: {reason}", entry.name)))?,
        None => WithdrawalPolicy::Mark,
    };
    let share = entry.min_share.unwrap_or(DEFAULT_MIN_SHARE);
    if !(0.0..=1.0).contains(&share) {
        return Err(UsageError(format!(
            "min_share of integration {} must be between 0 and 1",
            entry.name
        ))
        .into());
    }
    Ok((policy, share))
}

impl ImportSettings {
    pub fn agent_mapping(&self) -> AgentMapping {
        let mut mapping = AgentMapping::default();
        for (key, agent) in &self.agents {
            mapping.insert(key, agent);
        }
        mapping
    }
}

fn find_integration<'f>(file: &'f ConfigFile, name: &str) -> anyhow::Result<&'f IntegrationConfig> {
    let Some(path) = &file.path else {
        let default = default_location().map_or_else(
            || "no default location".to_string(),
            |path| path.display().to_string(),
        );
        return Err(UsageError(format!(
            "--integration {name} needs a settings file, and none was found: pass --config PATH or set \
             PASSERELLE_CONFIG (default location: {default}); config.example.toml shows the format"
        ))
        .into());
    };
    file.integrations
        .iter()
        .find(|entry| entry.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = file
                .integrations
                .iter()
                .map(|entry| entry.name.as_str())
                .collect();
            UsageError(format!(
                "no integration named `{name}` in {}; known: {}",
                path.display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
            .into()
        })
}

/// Variable naming a Postgres database, below `--database` and
/// `PASSERELLE_DATABASE` and above the settings file.
pub const DATABASE_URL_VARIABLE: &str = "PASSERELLE_DATABASE_URL";

/// Returns the database: the flag (or `PASSERELLE_DATABASE`), else
/// `PASSERELLE_DATABASE_URL`, else the settings file's `database.url` or
/// `database.path`, else passerelle.db.
///
/// # Errors
/// The settings file sets both `database.url` and `database.path`, or a
/// `database.url` that is not a `postgres://` URL.
pub fn resolve_database(flag: Option<&str>, file: &ConfigFile) -> anyhow::Result<Database> {
    let section = &file.database;
    if section.url.is_some() && section.path.is_some() {
        return Err(UsageError(
            "database: set either `url` (Postgres) or `path` (SQLite), not both".to_string(),
        )
        .into());
    }
    let from_environment = std::env::var(DATABASE_URL_VARIABLE)
        .ok()
        .filter(|url| !url.is_empty());
    let mut database = if let Some(flag) = flag {
        if Database::looks_like_connection(flag) && !matches!(Database::parse(flag), Database::Postgres(_)) {
            return Err(UsageError(
                "--database (or PASSERELLE_DATABASE) looks like a connection string, not a SQLite file path; \
                 give Postgres as postgres://user:password@host:port/database"
                    .to_string(),
            )
            .into());
        }
        Database::parse(flag)
    } else if let Some(url) = from_environment.as_deref().or(section.url.as_deref()) {
        let database = Database::parse(url);
        if !matches!(database, Database::Postgres(_)) {
            return Err(UsageError(format!(
                "database.url (or {DATABASE_URL_VARIABLE}) must be a postgres:// URL; a SQLite file goes in \
                 database.path"
            ))
            .into());
        }
        database
    } else {
        Database::Sqlite(
            section
                .path
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATABASE)),
        )
    };
    if let (Database::Postgres(target), Some(interval)) = (&mut database, section.progress_interval_ms) {
        target.progress_interval = Duration::from_millis(interval);
    }
    Ok(database)
}

/// Checks that an integration's `crm` is a known code. The error names the
/// file and the key, since the code was read there and not from a flag.
///
/// # Errors
/// [`UnknownCrm`](crate::crm::registry::UnknownCrm), with the key as context.
fn check_integration_crm(file: &ConfigFile, entry: &IntegrationConfig) -> anyhow::Result<()> {
    let Err(unknown) = registry::find(&entry.crm) else {
        return Ok(());
    };
    let path = file.path.as_ref().map_or_else(
        || "the settings file".to_string(),
        |path| path.display().to_string(),
    );
    Err(anyhow::Error::new(unknown).context(format!("{path}: integrations `{}`: crm", entry.name)))
}

/// Returns the import settings of a settings-file integration.
///
/// # Errors
/// An invalid `withdrawal`, `min_share` or `[photos]` setting.
pub fn integration_import_settings(
    file: &ConfigFile,
    entry: &IntegrationConfig,
    database: Database,
) -> anyhow::Result<ImportSettings> {
    // The code comes from the file, so the error names where to fix it.
    if let Err(unknown) = crate::crm::registry::find(&entry.crm) {
        let file = file.path.as_ref().map_or_else(
            || "the settings file".to_string(),
            |path| path.display().to_string(),
        );
        return Err(
            anyhow::Error::new(unknown).context(format!("{file}: integrations `{}`: crm", entry.name))
        );
    }
    let (withdrawal, min_share) = withdrawal_settings(Some(entry))?;
    let photos = photo_settings(file, &database)?;
    Ok(ImportSettings {
        photos,
        name: entry.name.clone(),
        database,
        crm: entry.crm.clone(),
        agency: entry.agency.trim().to_string(),
        organization: entry.organization.clone(),
        default_agent: entry.default_agent.clone(),
        agents: entry.agents.clone(),
        language: entry.language.clone(),
        withdrawal,
        min_share,
    })
}

/// Merges the import's flags with the settings file.
///
/// The integration is the one `--integration` names, else the one whose
/// CRM and agency match the flags, if any. Flags win over its settings;
/// `--agent` pairs are added to its agent mapping.
///
/// # Errors
/// An unknown integration name, or no CRM or agency from any source.
pub fn resolve_import(args: &ImportArgs, file: &ConfigFile) -> anyhow::Result<ImportSettings> {
    let (integration, crm, agency) = resolve_target(&args.target, file)?;
    let (withdrawal, min_share) = withdrawal_settings(integration)?;
    let mut agents = integration.map(|entry| entry.agents.clone()).unwrap_or_default();
    agents.extend(args.agents.iter().cloned());
    let database = resolve_database(args.database.as_deref(), file)?;
    Ok(ImportSettings {
        name: integration.map_or_else(|| format!("{crm}/{agency}"), |entry| entry.name.clone()),
        photos: photo_settings(file, &database)?,
        database,
        crm,
        agency,
        organization: args
            .organization
            .clone()
            .or_else(|| integration.and_then(|entry| entry.organization.clone())),
        default_agent: args
            .default_agent
            .clone()
            .or_else(|| integration.and_then(|entry| entry.default_agent.clone())),
        agents,
        language: integration.and_then(|entry| entry.language.clone()),
        withdrawal,
        min_share,
    })
}

/// Everything a fetch needs, once all sources are merged.
#[derive(Debug)]
pub struct FetchSettings {
    pub crm: String,
    pub agency: String,
    /// The integration's name, or `crm/agency` without a settings entry.
    pub integration: String,
    pub credentials: BTreeMap<String, Credential>,
    pub api_url: Option<String>,
    pub http: HttpSettings,
    pub staging: PathBuf,
}

/// Merges a fetch's flags with the settings file and reads the credentials
/// the CRM needs from the environment.
///
/// Each credential comes from the variable the integration names in
/// `credentials`, else from `PASSERELLE_<CRM>_<NAME>` (for example
/// `PASSERELLE_APIMO_TOKEN`). Values are never printed; messages name the
/// variable only.
///
/// # Errors
/// As [`resolve_import`], or a credential variable that is not set.
pub fn resolve_fetch(args: &FetchArgs, file: &ConfigFile) -> anyhow::Result<FetchSettings> {
    let (integration, crm, agency) = resolve_target(&args.target, file)?;
    let name = integration.map_or_else(|| format!("{crm}/{agency}"), |entry| entry.name.clone());
    let mut credentials = BTreeMap::new();
    let entry = registry::find(&crm)?;
    // Optional credentials count once the integration names their variable.
    let optional_named = entry.optional_credentials.iter().filter(|credential| {
        integration.is_some_and(|integration| integration.credentials.contains_key(**credential))
    });
    for credential in entry.credentials.iter().chain(optional_named) {
        let variable = integration
            .and_then(|entry| entry.credentials.get(*credential).cloned())
            .unwrap_or_else(|| default_credential_variable(&crm, credential));
        let value = std::env::var(&variable).ok().filter(|value| !value.is_empty()).ok_or_else(|| {
            UsageError(format!(
                "missing credential: set the environment variable {variable} to the {crm} {credential} of \
                 integration {name}"
            ))
        })?;
        credentials.insert(credential.to_string(), Credential { value, variable });
    }
    let mut http = HttpSettings::default();
    if let Some(seconds) = integration.and_then(|entry| entry.timeout_seconds) {
        http.timeout = Duration::from_secs(seconds.max(1));
        http.connect_timeout = http.connect_timeout.min(http.timeout);
    }
    if let Some(url) = integration.and_then(|entry| entry.api_url.as_deref())
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(UsageError(format!(
            "api_url of integration {name} must start with http:// or https://, not `{url}`"
        ))
        .into());
    }
    if let Some(rate) = integration.and_then(|entry| entry.requests_per_second) {
        if rate.is_nan() || rate <= 0.0 {
            return Err(UsageError(format!(
                "requests_per_second of integration {name} must be above 0"
            ))
            .into());
        }
        http.requests_per_second = rate;
    }
    Ok(FetchSettings {
        crm,
        agency,
        integration: name,
        credentials,
        api_url: integration.and_then(|entry| entry.api_url.clone()),
        http,
        staging: args
            .staging_dir
            .clone()
            .or_else(|| file.staging.path.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STAGING)),
    })
}

/// Returns the variable a credential is read from when the integration
/// names none: `PASSERELLE_APIMO_TOKEN` for the `token` of `apimo`.
pub fn default_credential_variable(crm: &str, credential: &str) -> String {
    format!("PASSERELLE_{}_{}", crm, credential)
        .to_uppercase()
        .replace('-', "_")
}

/// Finds the integration the flags name, and the CRM and agency to work on.
///
/// # Errors
/// As [`resolve_import`].
pub fn resolve_target<'f>(
    args: &IntegrationArgs,
    file: &'f ConfigFile,
) -> anyhow::Result<(Option<&'f IntegrationConfig>, String, String)> {
    let crm_flag = args.crm.as_deref();
    let integration = match &args.integration {
        Some(name) => Some(find_integration(file, name)?),
        None => file.integrations.iter().find(|entry| {
            Some(entry.crm.as_str()) == crm_flag
                && args
                    .agency
                    .as_deref()
                    .is_some_and(|agency| agency.trim().eq_ignore_ascii_case(&entry.agency))
        }),
    };
    if let (Some(entry), Some(name)) = (integration, &args.integration) {
        if let Some(crm) = crm_flag.filter(|crm| *crm != entry.crm) {
            return Err(UsageError(format!(
                "--crm {crm} differs from integration `{name}`, whose CRM is {}; drop one of them",
                entry.crm
            ))
            .into());
        }
        if let Some(agency) = args
            .agency
            .as_deref()
            .filter(|agency| !agency.trim().eq_ignore_ascii_case(&entry.agency))
        {
            return Err(UsageError(format!(
                "--agency {agency} differs from integration `{name}`, whose agency is {}; drop one of them",
                entry.agency
            ))
            .into());
        }
    }

    let crm = crm_flag
        .map(str::to_string)
        .or_else(|| integration.map(|entry| entry.crm.clone()))
        .ok_or_else(|| {
            UsageError("missing --crm (or --integration NAME from the settings file)".to_string())
        })?;
    match integration {
        Some(entry) if crm_flag.is_none() => check_integration_crm(file, entry)?,
        _ => {
            registry::find(&crm)?;
        }
    }
    // The settings file's spelling wins when both name the agency, since
    // they agree but for letter case and the store compares codes exactly.
    let agency = integration
        .map(|entry| entry.agency.clone())
        .or_else(|| args.agency.clone())
        .ok_or_else(|| {
            UsageError("missing --agency CODE (or --integration NAME from the settings file)".to_string())
        })?;

    Ok((integration, crm, agency.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    const FILE: &str = r#"
        [database]
        path = "/var/lib/passerelle/file.db"

        [[integrations]]
        name = "sud"
        crm = "poliris"
        agency = "AGENCE-SUD"
        organization = "org-file"
        default_agent = "desk-file"
        agents = { "NEG-07" = "helene", "NEG-08" = "paul" }
    "#;

    fn import_args(words: &[&str]) -> ImportArgs {
        let mut argv = vec!["passerelle", "import", "in.csv"];
        argv.extend_from_slice(words);
        match Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Import(args) => args,
            _ => unreachable!(),
        }
    }

    fn settings_file() -> ConfigFile {
        let mut file: ConfigFile = toml::from_str(FILE).unwrap();
        file.path = Some(PathBuf::from("/etc/passerelle/config.toml"));
        file
    }

    #[test]
    fn precedence_flag_then_file_then_default() {
        let file = settings_file();
        let empty = ConfigFile::default();
        // Flags, settings file, then the expected database, organization and default agent.
        type Case<'a> = (
            &'a [&'a str],
            &'a ConfigFile,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
        );
        let cases: [Case; 5] = [
            (
                &["--crm", "poliris", "--agency", "X"],
                &empty,
                DEFAULT_DATABASE,
                None,
                None,
            ),
            (
                &["--crm", "poliris", "--agency", "X"],
                &file,
                "/var/lib/passerelle/file.db",
                None,
                None,
            ),
            (
                &["--integration", "sud"],
                &file,
                "/var/lib/passerelle/file.db",
                Some("org-file"),
                Some("desk-file"),
            ),
            (
                &[
                    "--integration",
                    "sud",
                    "--database",
                    "flag.db",
                    "--organization",
                    "org-flag",
                ],
                &file,
                "flag.db",
                Some("org-flag"),
                Some("desk-file"),
            ),
            (
                &["--crm", "poliris", "--agency", "AGENCE-SUD"],
                &file,
                "/var/lib/passerelle/file.db",
                Some("org-file"),
                Some("desk-file"),
            ),
        ];
        for (flags, config, database, organization, default_agent) in cases {
            let settings = resolve_import(&import_args(flags), config).unwrap();
            assert_eq!(
                settings.database,
                Database::Sqlite(PathBuf::from(database)),
                "{flags:?}"
            );
            assert_eq!(settings.organization.as_deref(), organization, "{flags:?}");
            assert_eq!(settings.default_agent.as_deref(), default_agent, "{flags:?}");
        }
    }

    #[test]
    fn agent_flags_extend_the_file_mapping() {
        let file = settings_file();
        let settings = resolve_import(
            &import_args(&["--integration", "sud", "--agent", "NEG-08=zoe"]),
            &file,
        )
        .unwrap();
        assert_eq!(settings.agents["NEG-07"], "helene");
        assert_eq!(settings.agents["NEG-08"], "zoe");
        assert_eq!(settings.crm, "poliris");
        assert_eq!(settings.agency, "AGENCE-SUD");
    }

    #[test]
    fn unknown_integration_lists_known_ones() {
        let error = resolve_import(&import_args(&["--integration", "nord"]), &settings_file()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no integration named `nord` in /etc/passerelle/config.toml; known: sud"
        );
    }

    #[test]
    fn integration_without_settings_file() {
        let error =
            resolve_import(&import_args(&["--integration", "sud"]), &ConfigFile::default()).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("--integration sud needs a settings file"),
            "{error}"
        );
    }

    #[test]
    fn flags_contradicting_the_integration() {
        let file = settings_file();
        let error = resolve_import(
            &import_args(&["--integration", "sud", "--agency", "AGENCE-NORD"]),
            &file,
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("--agency AGENCE-NORD differs from integration `sud`"),
            "{error}"
        );
        let same = resolve_import(
            &import_args(&["--integration", "sud", "--agency", "agence-sud"]),
            &file,
        )
        .unwrap();
        assert_eq!(same.agency, "AGENCE-SUD", "the settings file's spelling is kept");
    }

    #[test]
    fn crm_and_agency_are_required_somewhere() {
        let error = resolve_import(&import_args(&["--agency", "X"]), &ConfigFile::default()).unwrap_err();
        assert!(error.to_string().starts_with("missing --crm"));
        let error = resolve_import(&import_args(&["--crm", "poliris"]), &ConfigFile::default()).unwrap_err();
        assert!(error.to_string().starts_with("missing --agency"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let error = toml::from_str::<ConfigFile>("[database]\npth = \"x.db\"\n").unwrap_err();
        assert!(error.to_string().contains("unknown field `pth`"), "{error}");
    }

    #[test]
    fn example_file_is_valid() {
        let text = include_str!("../../config.example.toml");
        let config: ConfigFile = toml::from_str(text).unwrap();
        assert!(!config.integrations.is_empty());
    }
}

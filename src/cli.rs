//! Command-line definitions. The doc comments are the help text.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::crm::REGISTRY;
use crate::encoding::TextEncoding;
use crate::report::LogFormat;
use crate::report::terminal::ColorChoice;

/// Import real-estate listings exported by CRMs into one property database.
#[derive(Debug, Parser)]
#[command(
    name = "passerelle",
    version,
    about,
    propagate_version = true,
    disable_help_subcommand = true,
    after_long_help = EXIT_STATUS_HELP
)]
pub struct Cli {
    /// Print only errors, rejected records and failed photos on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Show diagnostic logs on stderr: -v for each step, request and
    /// batch, -vv for each photo and the libraries' own logs. RUST_LOG,
    /// when set, replaces this choice (e.g. RUST_LOG=passerelle=debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr:
    /// `auto` does when stderr is a terminal and NO_COLOR is unset or empty.
    #[arg(long, global = true, value_enum, default_value_t, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Draw no progress bar. Bars show only when stderr is a terminal, and
    /// never with --quiet, --log-format json, --format json or events on
    /// stdout.
    #[arg(long, global = true)]
    pub no_progress: bool,

    /// Format of the messages on stderr: `json` writes one object per line
    /// with `time`, `level` and `message`, for log collectors.
    #[arg(long, global = true, value_enum, default_value_t, value_name = "FORMAT")]
    pub log_format: LogFormat,

    /// Settings file; also read from PASSERELLE_CONFIG [default:
    /// $XDG_CONFIG_HOME/passerelle/config.toml when it exists].
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "PASSERELLE_CONFIG",
        hide_env = true
    )]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// Exit statuses, shown by `--help` and in the man page.
pub const EXIT_STATUS_HELP: &str = "Exit status:
  0  success
  1  finished, but some records were rejected or some photos failed
  2  invalid arguments or settings file
  3  the input could not be read, or the database could not be opened or written
  4  a safety guard kept listings from being withdrawn
  5  another process is importing the same agency";

/// Exit statuses of `passerelle fetch`.
pub const FETCH_EXIT_STATUS_HELP: &str = "Exit status:
  0  fetched; the folder's path is on stdout
  2  invalid arguments or settings file, or a missing credential variable
  3  nothing fetched: refused credentials, unreachable server, missing file, a file still being uploaded, or an invalid answer";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read a CRM export and print each listing as JSON, without storing anything.
    ///
    /// Rejected records go to stderr with their file, line, column and reason.
    #[command(after_long_help = EXIT_STATUS_HELP)]
    Parse(ParseArgs),
    /// Download an agency's payload from its CRM into the staging folder,
    /// without importing it, and print the folder's path.
    ///
    /// `passerelle import` takes that folder, so fetch and import reproduce
    /// a sync step by step.
    #[command(after_long_help = FETCH_EXIT_STATUS_HELP)]
    Fetch(FetchArgs),
    /// Import a CRM export into the database as the agency's full list of listings.
    ///
    /// Listings missing from a full export are marked withdrawn, unless a
    /// guard finds the export empty or shrunk by more than half. Partial
    /// deliveries (an OpenImmo `TEIL`) withdraw only what they delete.
    #[command(after_long_help = EXIT_STATUS_HELP)]
    Import(ImportArgs),
    /// Print a shell completion script to stdout.
    Completions(CompletionsArgs),
    /// Print the man page to stdout, or write every page to a directory.
    Man(ManArgs),
    /// List the CRMs passerelle can import, with their transport and format.
    Crms(CrmsArgs),
    /// List recent import runs, newest first, or show one run with its
    /// rejected records, warnings and failed photos (`passerelle runs show
    /// ID`). The PHOTOS column counts stored/reused/failed photos.
    Runs(RunsArgs),
    /// Work with the settings file.
    #[command(subcommand)]
    Config(ConfigAction),
    /// Look after the media directory of rendered photos.
    #[command(subcommand)]
    Media(MediaAction),
    /// Fetch and import every integration of the settings file, or those
    /// named, keep going past failures, and print one line per integration.
    #[command(after_long_help = SYNC_EXIT_STATUS_HELP)]
    Sync(SyncArgs),
}

/// Exit statuses of `passerelle sync`: the worst of its integrations'.
pub const SYNC_EXIT_STATUS_HELP: &str = "Exit status, the worst of the integrations' results:
  0  every integration imported
  1  some records were rejected or some photos failed
  2  invalid arguments or settings file
  3  an integration could not be fetched or imported
  4  a safety guard kept listings from being withdrawn
  5  another process is importing one of the agencies";

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Integration to sync, by its `name` in the settings file; repeatable
    /// [default: every integration].
    #[arg(long = "integration", value_name = "NAME")]
    pub integrations: Vec<String>,

    /// Only the integrations of this CRM.
    #[arg(long, value_parser = crm_code_parser())]
    pub crm: Option<String>,

    /// Integrations synced at the same time.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=32))]
    pub jobs: u8,

    /// SQLite database file, or a postgres://user:password@host/db URL;
    /// also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL,
    /// else `database.url` or `database.path` of the settings file, else
    /// passerelle.db].
    #[arg(long, value_name = "PATH|URL", env = "PASSERELLE_DATABASE", hide_env = true)]
    pub database: Option<String>,

    /// Folder that receives the fetched payloads [default: `staging.path`
    /// of the settings file, else ./staging].
    #[arg(long, value_name = "DIR")]
    pub staging_dir: Option<PathBuf>,

    /// Withdraw missing listings even when a guard would stop it.
    #[arg(long)]
    pub force: bool,

    /// Sync only the integrations whose last run failed or was interrupted.
    #[arg(long)]
    pub retry_failed: bool,

    /// Wait for another process's run of the same agency to end, instead
    /// of skipping that agency with the locked status.
    #[arg(long)]
    pub wait: bool,

    /// Fetch and compare everything, write nothing to the database.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub photos: PhotoArgs,

    #[command(flatten)]
    pub events: EventArgs,

    /// Summary: a table for people, or JSON for programs.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
}

/// The event stream of `import` and `sync`.
#[derive(Debug, Args)]
pub struct EventArgs {
    /// Write the run's events as they happen: `jsonl` writes one JSON
    /// object per line, with a `type` (docs/EVENTS.md lists them), to
    /// stdout unless --events-file is given.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub events: Option<EventFormat>,

    /// Append the events to this file instead of stdout; implies
    /// --events jsonl.
    #[arg(long, value_name = "PATH")]
    pub events_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventFormat {
    /// JSON Lines: one event per line.
    Jsonl,
}

/// Photo options of `import` and `sync`.
#[derive(Debug, Args)]
pub struct PhotoArgs {
    /// Import the listing data only; photos are neither fetched nor checked.
    #[arg(long, conflicts_with_all = ["photos_only", "refresh_photos"])]
    pub no_photos: bool,

    /// Process only the photos that earlier runs left pending or failed,
    /// without importing listings. `import` takes archive photos from its
    /// INPUT; `sync` fetches nothing.
    #[arg(long, conflicts_with = "dry_run")]
    pub photos_only: bool,

    /// Download again the stored photos whose server sent no ETag or
    /// Last-Modified; without this flag they count as unchanged while their
    /// URL is.
    #[arg(long)]
    pub refresh_photos: bool,
}

impl PhotoArgs {
    /// Returns the photo scope of a run, or `None` with --no-photos.
    pub fn scope(&self) -> Option<crate::photos::PhotoScope> {
        (!self.no_photos).then_some(crate::photos::PhotoScope {
            unstored_only: self.photos_only,
            refresh: self.refresh_photos,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Check a settings file and report every problem with its key path:
    /// unknown keys, unknown CRM codes, repeated names, invalid values and
    /// environment variables that are not set. Exits with status 2 when it
    /// finds a problem, else 0.
    Check {
        /// The file to check [default: --config, PASSERELLE_CONFIG, else
        /// $XDG_CONFIG_HOME/passerelle/config.toml].
        file: Option<PathBuf>,
    },
    /// Print crontab lines that sync each integration on its `schedule`,
    /// with absolute paths to this program and the settings file.
    Crontab {
        /// The settings file [default: --config, PASSERELLE_CONFIG, else
        /// $XDG_CONFIG_HOME/passerelle/config.toml].
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub action: Option<RunsAction>,

    #[command(flatten)]
    pub target: IntegrationArgs,

    /// Only runs with this status.
    #[arg(long, value_parser = PossibleValuesParser::new(RUN_STATUSES))]
    pub status: Option<String>,

    /// Number of runs listed.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,

    /// SQLite database file, or a postgres://user:password@host/db URL;
    /// also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL,
    /// else `database.url` or `database.path` of the settings file, else
    /// passerelle.db].
    #[arg(
        long,
        global = true,
        value_name = "PATH|URL",
        env = "PASSERELLE_DATABASE",
        hide_env = true
    )]
    pub database: Option<String>,

    /// Output: a table for people, or JSON for programs.
    #[arg(long, global = true, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
}

#[derive(Debug, Subcommand)]
pub enum MediaAction {
    /// Remove the photo files that no listing's photo refers to any more:
    /// photos dropped from their listing, or of deleted listings. Imports
    /// never remove files; this does, when run.
    Gc(MediaGcArgs),
}

#[derive(Debug, Args)]
pub struct MediaGcArgs {
    /// Database whose photos are kept: a SQLite file or a postgres://user:password@host/db URL;
    /// also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL,
    /// else `database.url` or `database.path` of the settings file, else
    /// passerelle.db].
    #[arg(long, value_name = "PATH|URL", env = "PASSERELLE_DATABASE", hide_env = true)]
    pub database: Option<String>,

    /// Keep unreferenced files younger than this many minutes: an import
    /// running now writes files before it records them.
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    pub min_age_minutes: u64,

    /// Count what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Summary: text on stderr for people, or one JSON object on stdout.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
}

#[derive(Debug, Subcommand)]
pub enum RunsAction {
    /// Show one run: its counts, status, error, rejected records and warnings.
    Show {
        /// The run's id, as `passerelle runs` lists it.
        id: i64,
    },
}

/// Statuses a run can have, as stored.
pub const RUN_STATUSES: [&str; 6] = [
    "running",
    "succeeded",
    "partial",
    "guard_tripped",
    "failed",
    "interrupted",
];

#[derive(Debug, Args)]
pub struct CrmsArgs {
    /// Output: a table for people, or one JSON array for programs.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write passerelle.1 and one page per subcommand (passerelle-import.1, …)
    /// into this directory instead of printing passerelle.1.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

/// Input options shared by `parse` and `import`.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// The export: a Poliris `Annonces.csv`, a directory or zip holding one,
    /// an Apimo staging folder, a Kyero XML feed, or an OpenImmo zip, folder
    /// or XML file (with --crm kyero or --crm openimmo).
    pub input: PathBuf,

    /// Text encoding of the listings file; `auto` picks UTF-8 when the whole
    /// file is valid UTF-8, else Windows-1252.
    #[arg(long, value_enum, default_value_t = EncodingArg::Auto)]
    pub encoding: EncodingArg,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// CRM the export comes from; `passerelle crms` lists them.
    #[arg(long, value_parser = crm_code_parser(), default_value = "poliris")]
    pub crm: String,

    /// Output: one JSON listing per line, or a table for people.
    #[arg(long, value_enum, default_value_t = ParseFormat::Jsonl)]
    pub format: ParseFormat,

    /// Show record N (1 is the first record) column by column: rank,
    /// specification name, raw value and the listing field it became.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "format")]
    pub explain: Option<u64>,

    /// With --explain, also list the empty columns.
    #[arg(long, requires = "explain")]
    pub all_columns: bool,
}

/// Which agency of which CRM a command works on.
#[derive(Debug, Args)]
pub struct IntegrationArgs {
    /// Integration, by its `name` in the settings file; it supplies the CRM,
    /// agency, organization, agent mapping and credentials.
    #[arg(long, value_name = "NAME")]
    pub integration: Option<String>,

    /// CRM code (or from --integration); `passerelle crms` lists them.
    #[arg(long, value_parser = crm_code_parser())]
    pub crm: Option<String>,

    /// The agency's code in the CRM (Poliris column 1, the Apimo agency id).
    /// Records of other agencies in a grouped file are skipped;
    /// `passerelle parse` lists the codes a file holds.
    #[arg(long, value_name = "CODE")]
    pub agency: Option<String>,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub target: IntegrationArgs,

    /// Folder that receives <crm>/<agency>/<UTC time>/ [default:
    /// `staging.path` of the settings file, else ./staging].
    #[arg(long, value_name = "DIR")]
    pub staging_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub target: IntegrationArgs,

    /// SQLite database file, created when missing, or a postgres://user:password@host/db URL;
    /// also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL,
    /// else `database.url` or `database.path` of the settings file, else
    /// passerelle.db].
    #[arg(long, value_name = "PATH|URL", env = "PASSERELLE_DATABASE", hide_env = true)]
    pub database: Option<String>,

    /// Organization the listings belong to on our side.
    #[arg(long)]
    pub organization: Option<String>,

    /// Agent given to listings whose negotiator is not in the agent mapping.
    #[arg(long, value_name = "AGENT")]
    pub default_agent: Option<String>,

    /// Map a CRM negotiator code or contact e-mail to an agent; repeatable.
    #[arg(long = "agent", value_name = "KEY=AGENT", value_parser = parse_agent_pair)]
    pub agents: Vec<(String, String)>,

    /// Withdraw missing listings even when a guard would stop it: an
    /// export with no valid listing, one that would withdraw more than half
    /// of the active listings, or one much smaller than the last.
    #[arg(long, visible_alias = "force")]
    pub allow_mass_withdrawal: bool,

    /// Read and check everything, report what would change, write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Wait for another process's import of the same agency to end, instead
    /// of stopping with exit status 5.
    #[arg(long)]
    pub wait: bool,

    #[command(flatten)]
    pub photos: PhotoArgs,

    #[command(flatten)]
    pub events: EventArgs,

    /// Summary format: text on stderr for people, or one JSON object on
    /// stdout for programs.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncodingArg {
    Auto,
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    #[value(name = "windows-1252", alias = "cp1252")]
    Windows1252,
}

impl EncodingArg {
    /// Returns the forced encoding, or `None` to detect it.
    pub fn forced(self) -> Option<TextEncoding> {
        match self {
            Self::Auto => None,
            Self::Utf8 => Some(TextEncoding::Utf8),
            Self::Windows1252 => Some(TextEncoding::Windows1252),
        }
    }
}

/// Parses a CRM code, accepting only codes of the registry; an unknown code
/// is an error that lists them.
fn crm_code_parser() -> PossibleValuesParser {
    PossibleValuesParser::new(
        REGISTRY
            .iter()
            .map(|entry| PossibleValue::new(entry.code).help(entry.name)),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ParseFormat {
    Jsonl,
    Table,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    Text,
    Json,
}

fn parse_agent_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, agent)) if !key.trim().is_empty() && !agent.trim().is_empty() => {
            Ok((key.trim().to_string(), agent.trim().to_string()))
        }
        _ => Err(format!(
            "`{text}` is not KEY=AGENT, e.g. nego-12=alice@agency.example"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every command and argument explains itself in `--help` and the man
    /// pages; clap's own `--help` and `--version` aside.
    #[test]
    fn every_command_and_argument_has_help() {
        fn check(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            if command.get_about().is_none() && !path.is_empty() {
                missing.push(format!("command `{path}`"));
            }
            for argument in command.get_arguments() {
                let id = argument.get_id().as_str();
                if argument.get_help().is_none() && !matches!(id, "help" | "version") {
                    missing.push(format!("`{id}` of `{path}`"));
                }
            }
            for sub in command.get_subcommands() {
                check(sub, format!("{path} {}", sub.get_name()).trim(), missing);
            }
        }
        let mut missing = Vec::new();
        check(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }

    #[test]
    fn agent_pairs_need_both_sides() {
        assert_eq!(
            parse_agent_pair("N1=alice"),
            Ok(("N1".to_string(), "alice".to_string()))
        );
        assert!(parse_agent_pair("N1").is_err());
        assert!(parse_agent_pair("=alice").is_err());
    }
}

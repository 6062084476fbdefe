//! One module per subcommand; each takes its parsed arguments and the
//! reporter and returns the exit status.

pub mod config;
pub mod crms;
pub mod docs;
pub mod fetch;
pub mod import;
pub mod media;
pub mod parse;
pub mod runs;
pub mod sync;

use crate::cli::{Cli, Command};
use crate::config as settings;
use crate::exit::ExitStatus;
use crate::report::Reporter;

/// Runs the subcommand chosen on the command line.
///
/// # Errors
/// Whatever stopped the command; `main` renders it.
pub fn run(cli: Cli, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Parse(args) => parse::run(&args, reporter),
        Command::Fetch(args) => {
            let config = settings::load(cli.config.as_deref())?;
            fetch::run(&args, &config, reporter)
        }
        Command::Import(args) => {
            let config = settings::load(cli.config.as_deref())?;
            import::run(&args, &config, reporter)
        }
        Command::Completions(args) => docs::completions(&args, reporter),
        Command::Man(args) => docs::man(&args, reporter),
        Command::Crms(args) => crms::run(&args, reporter),
        Command::Config(action) => config::run(&action, cli.config.as_deref(), reporter),
        Command::Media(action) => {
            let config = settings::load(cli.config.as_deref())?;
            media::run(&action, &config, reporter)
        }
        Command::Sync(args) => {
            let config = settings::load(cli.config.as_deref())?;
            sync::run(&args, &config, reporter)
        }
        Command::Runs(args) => {
            let config = settings::load(cli.config.as_deref())?;
            runs::run(&args, &config, reporter)
        }
    }
}

//! One module per subcommand; each takes its parsed arguments and the
//! reporter and returns the exit status.

pub mod import;
pub mod parse;

use crate::cli::{Cli, Command};
use crate::exit::ExitStatus;
use crate::report::Reporter;

/// Runs the subcommand chosen on the command line.
///
/// # Errors
/// Whatever stopped the command; `main` renders it.
pub fn run(cli: Cli, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Parse(args) => parse::run(&args, reporter),
        Command::Import(args) => import::run(&args, reporter),
    }
}

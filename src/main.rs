use std::io;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use passerelle::cli::Cli;
use passerelle::exit::ExitStatus;
use passerelle::report::errors::ErrorReport;
use passerelle::report::terminal::Terminal;
use passerelle::report::{Reporter, logging};

/// The import moves listings between two threads; glibc's allocator
/// serializes the frees on one lock, mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let show_bars = !cli.no_progress && !cli.quiet && cli.log_format == passerelle::report::LogFormat::Text;
    let terminal = Arc::new(Terminal::new(cli.color, show_bars));
    let log_warning = logging::init(cli.verbose, cli.quiet, cli.log_format, Arc::clone(&terminal));
    let mut reporter = Reporter::new(cli.quiet, cli.log_format).with_terminal(terminal);
    if let Some(warning) = log_warning {
        reporter.warn(&warning);
    }
    match passerelle::commands::run(cli, &mut reporter) {
        Ok(status) => ExitCode::from(status.code()),
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = reporter.flush();
            reporter.report_error(&ErrorReport::new(&error));
            ExitCode::from(ExitStatus::for_error(&error).code())
        }
    }
}

/// Returns whether the error is a closed stdout (`passerelle parse … | head`),
/// which ends the command quietly.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|cause| cause.kind() == io::ErrorKind::BrokenPipe)
}

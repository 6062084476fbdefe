use std::io;
use std::process::ExitCode;

use clap::Parser;

use passerelle::cli::Cli;
use passerelle::exit::ExitStatus;
use passerelle::report::Reporter;

/// The import moves listings between two threads; glibc's allocator
/// serializes the frees on one lock, mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut reporter = Reporter::new(cli.quiet, cli.log_format);
    match passerelle::commands::run(cli, &mut reporter) {
        Ok(status) => ExitCode::from(status.code()),
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = reporter.flush();
            reporter.error(&render_error(&error));
            ExitCode::from(ExitStatus::for_error(&error).code())
        }
    }
}

/// Renders an error as `error: …` with one `caused by:` line per cause.
fn render_error(error: &anyhow::Error) -> String {
    let mut text = format!("error: {error}");
    let mut previous = error.to_string();
    for cause in error.chain().skip(1) {
        // Some libraries repeat their own message as the cause's.
        let message = cause.to_string();
        if message != previous {
            text.push_str(&format!("\n  caused by: {message}"));
        }
        previous = message;
    }
    text
}

/// Returns whether the error is a closed stdout (`passerelle parse … | head`),
/// which ends the command quietly.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|cause| cause.kind() == io::ErrorKind::BrokenPipe)
}

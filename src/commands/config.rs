//! `passerelle config check`: the settings file's problems, all at once.

use crate::cli::ConfigAction;
use crate::config::{self, check};
use crate::exit::{ExitStatus, UsageError};
use crate::report::{Reporter, plural};

pub fn run(
    action: &ConfigAction,
    global_config: Option<&std::path::Path>,
    reporter: &mut Reporter,
) -> anyhow::Result<ExitStatus> {
    let ConfigAction::Check { file } = action;
    let path = file
        .clone()
        .or_else(|| global_config.map(std::path::Path::to_path_buf))
        .or_else(config::default_location)
        .ok_or_else(|| UsageError("no settings file named and no default location; pass FILE".to_string()))?;
    let text = std::fs::read_to_string(&path).map_err(|source| config::ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let problems = check::check(&path, &text, &|variable| {
        std::env::var(variable).is_ok_and(|value| !value.is_empty())
    });
    for problem in &problems {
        reporter.data(&format!(
            "{}: {}: {}",
            path.display(),
            problem.path,
            problem.message
        ))?;
    }
    reporter.flush()?;
    if problems.is_empty() {
        reporter.info(&format!("{}: no problem found", path.display()));
        Ok(ExitStatus::Success)
    } else {
        reporter.info(&format!(
            "{}: {}",
            path.display(),
            plural(problems.len() as u64, "problem")
        ));
        Ok(ExitStatus::Usage)
    }
}

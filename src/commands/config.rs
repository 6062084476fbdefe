//! `passerelle config check`: the settings file's problems, all at once;
//! `passerelle config crontab`: crontab lines from the integrations' schedules.

use crate::cli::ConfigAction;
use crate::config::{self, check, schedule};
use crate::crm::registry::{self, Transport};
use crate::exit::{ExitStatus, UsageError};
use crate::report::{Reporter, plural};

pub fn run(
    action: &ConfigAction,
    global_config: Option<&std::path::Path>,
    reporter: &mut Reporter,
) -> anyhow::Result<ExitStatus> {
    match action {
        ConfigAction::Check { file } => check_file(&settings_path(file.as_deref(), global_config)?, reporter),
        ConfigAction::Crontab { file } => crontab(&settings_path(file.as_deref(), global_config)?, reporter),
    }
}

fn settings_path(
    file: Option<&std::path::Path>,
    global_config: Option<&std::path::Path>,
) -> anyhow::Result<std::path::PathBuf> {
    file.or(global_config)
        .map(std::path::Path::to_path_buf)
        .or_else(config::default_location)
        .ok_or_else(|| {
            UsageError("no settings file named and no default location; pass FILE".to_string()).into()
        })
}

/// Writes one crontab line per integration with a schedule. Paths are
/// absolute because cron starts jobs in the home folder with a short PATH.
fn crontab(path: &std::path::Path, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    let settings = config::load(Some(path))?;
    let path = std::path::absolute(path)?;
    let program = std::env::current_exe()?;
    reporter.data(&format!("# passerelle sync schedules from {}", path.display()))?;
    for entry in &settings.integrations {
        let Some(schedule) = &entry.schedule else {
            reporter.data(&format!("# {}: no schedule in the settings file", entry.name))?;
            continue;
        };
        if registry::find(&entry.crm).is_ok_and(|crm| crm.transport == Transport::Local) {
            reporter.data(&format!(
                "# {}: {} files are given by path, so sync has nothing to fetch; schedule `passerelle import \
                 FILE --integration {}` instead",
                entry.name, entry.crm, entry.name
            ))?;
            continue;
        }
        if let Some(reason) = schedule::problem(schedule) {
            return Err(UsageError(format!(
                "{}: integrations `{}`: schedule: {reason}",
                path.display(),
                entry.name
            ))
            .into());
        }
        reporter.data(&format!(
            "{} {} sync --config {} --integration {} --quiet",
            schedule.split_whitespace().collect::<Vec<_>>().join(" "),
            shell_quote(&program.to_string_lossy()),
            shell_quote(&path.to_string_lossy()),
            shell_quote(&entry.name)
        ))?;
    }
    reporter.flush()?;
    Ok(ExitStatus::Success)
}

/// Quotes a word for the shell cron runs jobs with, unless it is plain.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | ':' | '@'));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn check_file(path: &std::path::Path, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    let path = path.to_path_buf();
    let text = std::fs::read_to_string(&path).map_err(|source| config::ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let problems = check::check(&path, &text, &|variable| {
        std::env::var(variable).is_ok_and(|value| !value.is_empty())
    });
    for problem in &problems {
        // A problem of the whole file, such as its syntax, has no key path.
        let line = if problem.path.is_empty() {
            format!("{}: {}", path.display(), problem.message)
        } else {
            format!("{}: {}: {}", path.display(), problem.path, problem.message)
        };
        reporter.data(&line)?;
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

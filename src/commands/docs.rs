//! `passerelle completions` and `passerelle man`: documentation generated
//! from the same clap definition as the command line, so it cannot drift.

use std::fs;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::exit::ExitStatus;
use crate::report::Reporter;

pub fn completions(args: &CompletionsArgs, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "passerelle", &mut script);
    reporter.data(String::from_utf8(script)?.trim_end())?;
    reporter.flush()?;
    Ok(ExitStatus::Success)
}

pub fn man(args: &ManArgs, reporter: &mut Reporter) -> anyhow::Result<ExitStatus> {
    let pages = man_pages()?;
    match &args.output_dir {
        None => reporter.data(pages[0].1.trim_end())?,
        Some(dir) => {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            for (name, page) in &pages {
                let path = dir.join(name);
                fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
                reporter.info(&format!("wrote {}", path.display()));
            }
        }
    }
    reporter.flush()?;
    Ok(ExitStatus::Success)
}

/// Renders `passerelle.1` first, then one page per subcommand, as
/// (file name, roff text).
pub fn man_pages() -> anyhow::Result<Vec<(String, String)>> {
    let command = Cli::command();
    let mut pages = vec![("passerelle.1".to_string(), render(command.clone())?)];
    for subcommand in command.get_subcommands() {
        let name = format!("passerelle-{}", subcommand.get_name());
        let page = subcommand.clone().name(name.clone());
        pages.push((format!("{name}.1"), render(page)?));
    }
    Ok(pages)
}

fn render(command: clap::Command) -> anyhow::Result<String> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(command).render(&mut roff)?;
    Ok(String::from_utf8(roff)?)
}

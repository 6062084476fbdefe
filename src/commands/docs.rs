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
    let mut command = Cli::command();
    // Building propagates the global options (--quiet, --config) into each
    // subcommand, so that their pages list them too.
    command.build();
    let mut pages = vec![("passerelle.1".to_string(), render(command.clone(), "passerelle")?)];
    for subcommand in command.get_subcommands() {
        let name = format!("passerelle-{}", subcommand.get_name());
        let page = subcommand
            .clone()
            .name(name.clone())
            .bin_name(format!("passerelle {}", subcommand.get_name()));
        pages.push((format!("{name}.1"), render(page, &name)?));
    }
    Ok(pages)
}

/// Renders one page: clap's sections, then the exit statuses under their
/// own heading rather than clap's generic one.
fn render(command: clap::Command, title: &str) -> anyhow::Result<String> {
    let man = clap_mangen::Man::new(command.clone()).title(title);
    let mut roff = Vec::new();
    man.render_title(&mut roff)?;
    man.render_name_section(&mut roff)?;
    man.render_synopsis_section(&mut roff)?;
    man.render_description_section(&mut roff)?;
    if command.get_arguments().any(|argument| !argument.is_hide_set()) {
        man.render_options_section(&mut roff)?;
    }
    if command.has_subcommands() {
        man.render_subcommands_section(&mut roff)?;
    }
    if let Some(help) = command.get_after_long_help() {
        roff.extend_from_slice(exit_status_section(&help.to_string()).as_bytes());
    }
    man.render_version_section(&mut roff)?;
    Ok(String::from_utf8(roff)?)
}

/// The EXIT STATUS section in roff, from the same text as `--help`.
fn exit_status_section(help: &str) -> String {
    let mut section = String::from(".SH \"EXIT STATUS\"\n");
    for line in help.lines().skip(1) {
        if let Some((code, meaning)) = line.trim().split_once("  ") {
            section.push_str(&format!(".TP\n{code}\n{}\n", meaning.trim()));
        }
    }
    section
}

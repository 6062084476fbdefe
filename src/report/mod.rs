//! The one place that writes output: data on stdout, messages and progress
//! bars on stderr, run events to `--events`. Commands never print
//! directly, so quiet modes, colours, bars and machine-readable formats are
//! decided here alone.

pub mod errors;
pub mod events;
pub mod logging;
pub mod progress;
pub mod terminal;

use std::io::{self, BufWriter, Stdout, Write};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::record::{RecordIssue, Severity};
use errors::ErrorReport;
use events::{Event, EventSink, RunTag};
use progress::{Outputs, RunProgress};
use terminal::{Prefix, Terminal, escape_controls};

/// Format of the messages written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object per line, for log collectors: `time`, `level`,
    /// `message` and the event's own fields.
    Json,
}

/// Most warnings printed one by one in a run; the rest are counted and stay
/// in the run's stored errors.
pub const MAX_WARNINGS_SHOWN: u64 = 20;

/// Severity of a logged event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

pub struct Reporter {
    stdout: BufWriter<Stdout>,
    terminal: Arc<Terminal>,
    quiet: bool,
    log_format: LogFormat,
    /// Destination of the `--events jsonl` stream, when given.
    events: Option<EventSink>,
    /// Whether this command may draw progress bars: not with a JSON
    /// summary or events on stdout.
    bars: bool,
    /// The run being reported on this thread.
    run: Option<RunProgress>,
    warnings_shown: u64,
    warnings_hidden: u64,
}

impl Reporter {
    /// `quiet` keeps only errors and rejected records on stderr. The
    /// reporter writes plain text and draws no bar until given a terminal.
    pub fn new(quiet: bool, log_format: LogFormat) -> Self {
        Self {
            stdout: BufWriter::with_capacity(64 * 1024, io::stdout()),
            terminal: Arc::new(Terminal::plain()),
            quiet,
            log_format,
            events: None,
            bars: true,
            run: None,
            warnings_shown: 0,
            warnings_hidden: 0,
        }
    }

    /// Writes stderr through this terminal, which may draw bars and colours.
    #[must_use]
    pub fn with_terminal(mut self, terminal: Arc<Terminal>) -> Self {
        self.terminal = terminal;
        self
    }

    /// Creates a reporter with the same settings, for a worker thread.
    pub fn sibling(&self) -> Self {
        let mut sibling = Self::new(self.quiet, self.log_format).with_terminal(Arc::clone(&self.terminal));
        sibling.events = self.events.clone();
        sibling.bars = self.bars;
        sibling
    }

    /// Sends run events to this sink from now on.
    pub fn set_events(&mut self, events: EventSink) {
        self.events = Some(events);
    }

    /// Keeps progress bars off, for a command whose output is JSON.
    pub fn hide_progress(&mut self) {
        self.bars = false;
    }

    /// Announces a run: the `run_started` event and its progress bar.
    /// The returned handle, also kept here, reports its progress from any
    /// thread.
    pub fn start_run(&mut self, tag: RunTag, source: &str, total: Option<u64>, dry_run: bool) -> RunProgress {
        if let Some(previous) = self.run.take() {
            previous.close();
        }
        let outputs = Outputs {
            terminal: Arc::clone(&self.terminal),
            events: self.events.clone(),
            bars: self.bars && !self.quiet && self.log_format == LogFormat::Text,
            plain_lines: !self.quiet && self.log_format == LogFormat::Text && self.terminal.bars().is_none(),
        };
        let progress = RunProgress::start(tag, source, total, dry_run, outputs);
        self.run = Some(progress.clone());
        progress
    }

    /// Returns the progress of the run this thread reports, if any.
    pub fn run_progress(&self) -> Option<RunProgress> {
        self.run.clone()
    }

    /// Sends the event that ends a run, and clears the run. `tag` names
    /// the run when it never started (a locked agency, an unreadable
    /// payload).
    pub fn end_run(&mut self, tag: RunTag, event: &Event<'_>) {
        let run = self.run.take();
        if let Some(run) = &run {
            run.close();
        }
        if let Some(events) = &self.events {
            let tag = run.as_ref().map_or(tag, |run| run.tag().clone());
            events.emit(&tag, event);
        }
    }

    /// Writes one line of data to stdout.
    ///
    /// # Errors
    /// Writing failed, e.g. a closed pipe (`passerelle parse … | head`).
    pub fn data(&mut self, line: &str) -> io::Result<()> {
        self.stdout.write_all(line.as_bytes())?;
        self.stdout.write_all(b"\n")
    }

    /// Writes a message for people to stderr, unless quiet.
    pub fn info(&mut self, message: &str) {
        if !self.quiet {
            self.log(Level::Info, message, Map::new());
        }
    }

    /// Writes a message with fields for log collectors. The text format
    /// shows the message alone. Quiet keeps only the errors.
    pub fn event(&mut self, level: Level, message: &str, fields: Map<String, Value>) {
        if !self.quiet || level == Level::Error {
            self.log(level, message, fields);
        }
    }

    /// Writes a warning to stderr, unless quiet.
    pub fn warn(&mut self, message: &str) {
        if !self.quiet {
            self.log(Level::Warning, message, Map::new());
        }
    }

    /// Reports a record problem: rejections always, warnings up to
    /// [`MAX_WARNINGS_SHOWN`] per run unless quiet. A rejection is also a
    /// `listing_rejected` event.
    pub fn record_issue(&mut self, issue: &RecordIssue) {
        match issue.severity {
            Severity::Rejected => {
                if let Some(run) = &self.run {
                    run.emit(&Event::rejected(issue));
                }
                self.log_issue(Prefix::Rejected, issue);
            }
            Severity::Warning if self.quiet => {}
            Severity::Warning if self.warnings_shown < MAX_WARNINGS_SHOWN => {
                self.warnings_shown += 1;
                self.log_issue(Prefix::Warning, issue);
            }
            Severity::Warning => self.warnings_hidden += 1,
        }
    }

    /// Says how many warnings were not printed, then starts a new count.
    pub fn end_of_records(&mut self) {
        if self.warnings_hidden > 0 {
            let hidden = self.warnings_hidden;
            self.info(&format!("… {hidden} more warnings not shown"));
        }
        self.warnings_shown = 0;
        self.warnings_hidden = 0;
    }

    /// Writes a warning about data that could not be imported (failed
    /// photos), whatever the quiet setting: like a rejected record, it is
    /// what an operator acts on.
    pub fn failure(&mut self, message: &str) {
        self.log(Level::Warning, message, Map::new());
    }

    /// Writes an error to stderr, whatever the quiet setting.
    pub fn error(&mut self, message: &str) {
        self.log(Level::Error, message, Map::new());
    }

    /// Writes an error with a hint on what to do, whatever the quiet setting.
    pub fn error_with_hint(&mut self, message: &str, hint: &str) {
        let report = ErrorReport {
            message: message.to_string(),
            causes: Vec::new(),
            hint: Some(hint.to_string()),
        };
        self.report_error(&report);
    }

    /// Writes an error that stopped a command: `error: …`, one `caused by:`
    /// line per cause and a `hint:` line when one is known. The JSON format
    /// puts the causes and the hint in fields of their own.
    pub fn report_error(&mut self, report: &ErrorReport) {
        match self.log_format {
            LogFormat::Text => {
                let terminal = &self.terminal;
                let line = |prefix: Prefix, text: &str| {
                    format!("{} {}\n", terminal.prefix(prefix), escape_controls(text))
                };
                let mut text = line(Prefix::Error, &report.message);
                for cause in &report.causes {
                    text.push_str("  ");
                    text.push_str(&line(Prefix::CausedBy, cause));
                }
                if let Some(hint) = &report.hint {
                    text.push_str(&line(Prefix::Hint, hint));
                }
                terminal.write(text.as_bytes());
            }
            LogFormat::Json => {
                let mut fields = Map::new();
                if !report.causes.is_empty() {
                    fields.insert("causes".to_string(), report.causes.clone().into());
                }
                if let Some(hint) = &report.hint {
                    fields.insert("hint".to_string(), hint.clone().into());
                }
                self.log(Level::Error, &report.message, fields);
            }
        }
    }

    fn log_issue(&mut self, prefix: Prefix, issue: &RecordIssue) {
        let fields = match serde_json::to_value(issue) {
            Ok(Value::Object(fields)) => fields,
            _ => Map::new(),
        };
        match self.log_format {
            LogFormat::Text => self.write_text(Some(prefix), &issue.to_string()),
            LogFormat::Json => {
                let level = if prefix == Prefix::Rejected {
                    "rejected"
                } else {
                    "warning"
                };
                self.write_json(level, &issue.to_string(), fields);
            }
        }
    }

    /// Writes one message in the chosen format. Text puts the level before
    /// warnings and errors only.
    fn log(&mut self, level: Level, message: &str, fields: Map<String, Value>) {
        match self.log_format {
            LogFormat::Text => {
                let prefix = match level {
                    Level::Info => None,
                    Level::Warning => Some(Prefix::Warning),
                    Level::Error => Some(Prefix::Error),
                };
                self.write_text(prefix, message);
            }
            LogFormat::Json => self.write_json(level.name(), message, fields),
        }
    }

    fn write_text(&self, prefix: Option<Prefix>, message: &str) {
        let message = escape_controls(message);
        let line = match prefix {
            Some(prefix) => format!("{} {message}\n", self.terminal.prefix(prefix)),
            None => format!("{message}\n"),
        };
        self.terminal.write(line.as_bytes());
    }

    fn write_json(&self, level: &str, message: &str, fields: Map<String, Value>) {
        let line = json_line(level, message.into(), fields);
        self.terminal.write(line.as_bytes());
    }

    /// Flushes stdout.
    ///
    /// # Errors
    /// As for [`Reporter::data`].
    pub fn flush(&mut self) -> io::Result<()> {
        self.stdout.flush()
    }
}

/// Builds one line of `--log-format json`: `time`, `level` and `message`,
/// then the other fields, which cannot replace those three.
fn json_line(level: &str, message: Value, fields: Map<String, Value>) -> String {
    let mut line = Map::new();
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    line.insert("time".to_string(), time.into());
    line.insert("level".to_string(), level.into());
    line.insert("message".to_string(), message);
    for (key, value) in fields {
        line.entry(key).or_insert(value);
    }
    let mut text = Value::Object(line).to_string();
    text.push('\n');
    text
}

/// Writes a count with its noun, adding `s` unless the count is one:
/// `plural(1, "warning")` is `1 warning`, `plural(3, "warning")` is `3 warnings`.
pub fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

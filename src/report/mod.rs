//! The one place that writes to the terminal: data on stdout, messages on
//! stderr. Commands never print directly, so quiet modes, progress bars and
//! machine-readable events can be added here without touching them.

use std::io::{self, BufWriter, Stderr, Stdout, Write};

use serde_json::{Map, Value};

use crate::record::{RecordIssue, Severity};

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

pub struct Reporter {
    stdout: BufWriter<Stdout>,
    stderr: Stderr,
    quiet: bool,
    log_format: LogFormat,
    warnings_shown: u64,
    warnings_hidden: u64,
}

impl Reporter {
    /// `quiet` keeps only errors and rejected records on stderr.
    pub fn new(quiet: bool, log_format: LogFormat) -> Self {
        Self {
            stdout: BufWriter::with_capacity(64 * 1024, io::stdout()),
            stderr: io::stderr(),
            quiet,
            log_format,
            warnings_shown: 0,
            warnings_hidden: 0,
        }
    }

    /// Creates a reporter with the same settings, for a worker thread.
    pub fn sibling(&self) -> Self {
        Self::new(self.quiet, self.log_format)
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
            self.log("info", message, Map::new());
        }
    }

    /// Writes a message with fields for log collectors. The text format
    /// shows the message alone. Quiet keeps only the errors.
    pub fn event(&mut self, level: Level, message: &str, fields: Map<String, Value>) {
        if !self.quiet || level == Level::Error {
            let name = match level {
                Level::Info => "info",
                Level::Warning => "warning",
                Level::Error => "error",
            };
            self.log(name, message, fields);
        }
    }

    /// Writes a warning to stderr, unless quiet.
    pub fn warn(&mut self, message: &str) {
        if !self.quiet {
            self.log("warning", message, Map::new());
        }
    }

    /// Reports a record problem: rejections always, warnings up to
    /// [`MAX_WARNINGS_SHOWN`] per run unless quiet.
    pub fn record_issue(&mut self, issue: &RecordIssue) {
        match issue.severity {
            Severity::Rejected => self.log_issue("rejected", issue),
            Severity::Warning if self.quiet => {}
            Severity::Warning if self.warnings_shown < MAX_WARNINGS_SHOWN => {
                self.warnings_shown += 1;
                self.log_issue("warning", issue);
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
        self.log("warning", message, Map::new());
    }

    /// Writes an error to stderr, whatever the quiet setting.
    pub fn error(&mut self, message: &str) {
        self.log("error", message, Map::new());
    }

    fn log_issue(&mut self, level: &str, issue: &RecordIssue) {
        let fields = match serde_json::to_value(issue) {
            Ok(Value::Object(fields)) => fields,
            _ => Map::new(),
        };
        self.log(level, &issue.to_string(), fields);
    }

    /// Writes one message in the chosen format. Text puts the level before
    /// warnings and rejections only.
    fn log(&mut self, level: &str, message: &str, fields: Map<String, Value>) {
        let _ = match self.log_format {
            LogFormat::Text => match level {
                "warning" | "rejected" => writeln!(self.stderr, "{level}: {message}"),
                _ => writeln!(self.stderr, "{message}"),
            },
            LogFormat::Json => {
                let mut line = Map::new();
                line.insert(
                    "time".to_string(),
                    Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                );
                line.insert("level".to_string(), Value::String(level.to_string()));
                line.insert("message".to_string(), Value::String(message.to_string()));
                for (key, value) in fields {
                    line.entry(key).or_insert(value);
                }
                writeln!(self.stderr, "{}", Value::Object(line))
            }
        };
    }

    /// Flushes stdout.
    ///
    /// # Errors
    /// As for [`Reporter::data`].
    pub fn flush(&mut self) -> io::Result<()> {
        self.stdout.flush()
    }
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

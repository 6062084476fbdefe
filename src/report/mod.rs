//! The one place that writes to the terminal: data on stdout, messages on
//! stderr. Commands never print directly, so quiet modes, progress bars and
//! machine-readable events can be added here without touching them.

use std::io::{self, BufWriter, Stderr, Stdout, Write};

use crate::record::{RecordIssue, Severity};

/// Most warnings printed one by one in a run; the rest are counted and stay
/// in the run's stored errors.
pub const MAX_WARNINGS_SHOWN: u64 = 20;

pub struct Reporter {
    stdout: BufWriter<Stdout>,
    stderr: Stderr,
    quiet: bool,
    warnings_shown: u64,
    warnings_hidden: u64,
}

impl Reporter {
    /// `quiet` keeps only errors and rejected records on stderr.
    pub fn new(quiet: bool) -> Self {
        Self {
            stdout: BufWriter::with_capacity(64 * 1024, io::stdout()),
            stderr: io::stderr(),
            quiet,
            warnings_shown: 0,
            warnings_hidden: 0,
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
            let _ = writeln!(self.stderr, "{message}");
        }
    }

    /// Writes a warning to stderr, unless quiet.
    pub fn warn(&mut self, message: &str) {
        if !self.quiet {
            let _ = writeln!(self.stderr, "warning: {message}");
        }
    }

    /// Reports a record problem: rejections always, warnings up to
    /// [`MAX_WARNINGS_SHOWN`] per run unless quiet.
    pub fn record_issue(&mut self, issue: &RecordIssue) {
        match issue.severity {
            Severity::Rejected => {
                let _ = writeln!(self.stderr, "rejected: {issue}");
            }
            Severity::Warning if self.quiet => {}
            Severity::Warning if self.warnings_shown < MAX_WARNINGS_SHOWN => {
                self.warnings_shown += 1;
                let _ = writeln!(self.stderr, "warning: {issue}");
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

    /// Writes an error to stderr, whatever the quiet setting.
    pub fn error(&mut self, message: &str) {
        let _ = writeln!(self.stderr, "{message}");
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

//! Diagnostic logs, written with `tracing` for developers and support
//! engineers; the messages for operators go through the [`Reporter`].
//!
//! Level policy:
//! - `error` and `warn`: something went wrong that the command's own
//!   messages may not report; shown by default.
//! - `info`: the steps of a run (database opened, run started, listing
//!   step and photo step done, with their durations); shown with `-v`.
//! - `debug`: each request to a CRM or FTP server, each batch committed,
//!   each lock taken or released; shown with `-v`.
//! - `trace`: each photo; shown with `-vv`, which also shows the `debug`
//!   logs of the libraries (HTTP, FTP, Postgres).
//!
//! `RUST_LOG` replaces this choice with its own filter, e.g.
//! `RUST_LOG=passerelle::photos=trace`.
//!
//! [`Reporter`]: super::Reporter

use std::fmt;
use std::io;
use std::sync::Arc;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use super::LogFormat;
use super::terminal::Terminal;

/// Returns the filter for a number of `-v` flags, or for `--quiet`.
pub fn default_filter(verbosity: u8, quiet: bool) -> &'static str {
    match (quiet, verbosity) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "warn,passerelle=debug",
        (false, _) => "debug,passerelle=trace",
    }
}

/// Installs the logger for the process. Returns a warning to show when
/// `RUST_LOG` could not be read, in which case the default filter applies.
pub fn init(verbosity: u8, quiet: bool, format: LogFormat, terminal: Arc<Terminal>) -> Option<String> {
    let default = default_filter(verbosity, quiet);
    let (filter, warning) = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => match EnvFilter::try_new(&directives) {
            Ok(filter) => (filter, None),
            Err(error) => (
                EnvFilter::new(default),
                Some(format!(
                    "RUST_LOG={directives:?} is not a valid filter ({error}); using {default}"
                )),
            ),
        },
        _ => (EnvFilter::new(default), None),
    };
    let installed = match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(terminal.color())
            .with_writer(TerminalWriter(terminal))
            .try_init()
            .map_err(|error| error.to_string()),
        LogFormat::Json => tracing_subscriber::registry()
            .with(filter)
            .with(JsonLines(terminal))
            .try_init()
            .map_err(|error| error.to_string()),
    };
    // A second call (tests run many commands in one process) keeps the first.
    drop(installed);
    warning
}

/// Writes each log as one JSON object with the same keys as the
/// reporter's messages (`time`, `level`, `message`), plus `target` and the
/// log's own fields, so that a log collector reads both alike.
struct JsonLines(Arc<Terminal>);

impl<S: Subscriber> tracing_subscriber::Layer<S> for JsonLines {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let mut fields = Map::new();
        event.record(&mut JsonFields(&mut fields));
        let metadata = event.metadata();
        let message = fields.remove("message").unwrap_or(Value::Null);
        fields.insert("target".to_string(), metadata.target().into());
        let level = metadata.level().as_str().to_ascii_lowercase();
        let text = super::json_line(&level, message, fields);
        self.0.write(text.as_bytes());
    }
}

/// Collects a log's fields as JSON values.
struct JsonFields<'a>(&'a mut Map<String, Value>);

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
}

/// Hands each log line to the terminal, which lifts the progress bars out
/// of its way.
struct TerminalWriter(Arc<Terminal>);

/// One log line, written when the formatter is done with it.
struct LineBuffer {
    terminal: Arc<Terminal>,
    bytes: Vec<u8>,
}

impl<'a> MakeWriter<'a> for TerminalWriter {
    type Writer = LineBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        LineBuffer {
            terminal: Arc::clone(&self.0),
            bytes: Vec::with_capacity(256),
        }
    }
}

impl io::Write for LineBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if !self.bytes.is_empty() {
            self.terminal.write(&self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_v_shows_more() {
        assert_eq!(default_filter(0, false), "warn");
        assert!(default_filter(1, false).contains("passerelle=debug"));
        assert!(default_filter(2, false).contains("passerelle=trace"));
        assert_eq!(default_filter(3, true), "error");
    }
}

//! The JSON Lines event stream of `--events jsonl`: one object per line,
//! each with a `type`, that another program reads to follow a run as it
//! happens. docs/EVENTS.md documents every type and field.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use serde::Serialize;

use crate::record::RecordIssue;
use crate::store::RunCounts;

/// Destination of the events, shared by every thread of the process.
#[derive(Clone)]
pub struct EventSink {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl EventSink {
    /// Events on stdout.
    pub fn stdout() -> Self {
        Self::new(Box::new(io::stdout()))
    }

    /// Events appended to a file, created when missing.
    ///
    /// # Errors
    /// The file cannot be opened for writing.
    pub fn file(path: &Path) -> anyhow::Result<Self> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the events file {}", path.display()))?;
        Ok(Self::new(Box::new(BufWriter::new(file))))
    }

    fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Arc::new(Mutex::new(out)),
        }
    }

    /// Writes one event as one line and flushes it, so that a reader sees
    /// it at once. An event that cannot be written is dropped: the run
    /// itself must not fail because its follower went away.
    pub fn emit(&self, run: &RunTag, event: &Event<'_>) {
        let line = Line {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            run,
            event,
        };
        let Ok(mut text) = serde_json::to_string(&line) else {
            return;
        };
        text.push('\n');
        let mut out = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
}

/// Identity of the run an event is about; every event carries these fields.
#[derive(Debug, Clone, Serialize)]
pub struct RunTag {
    /// The integration's name in the settings file, or `crm/agency`.
    pub integration: String,
    pub crm: String,
    pub agency: String,
    /// The run's id; `null` in a dry run, or when the run never began.
    pub run_id: Option<i64>,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    #[serde(flatten)]
    run: &'a RunTag,
    #[serde(flatten)]
    event: &'a Event<'a>,
}

/// The listing written last when a progress event went out.
#[derive(Debug, Clone, Serialize)]
pub struct LastListing {
    /// The listing's id in the database; `null` in a dry run.
    pub id: Option<i64>,
    /// The listing's id in the CRM.
    pub source_id: String,
    /// The agency's own reference, when the CRM gives one.
    pub reference: Option<String>,
}

/// One event. The variant's name, in snake case, is the `type` field.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event<'a> {
    /// The run began reading its feed.
    RunStarted {
        source: &'a str,
        /// Listings expected: the last complete run's count, or `null`.
        total: Option<u64>,
        dry_run: bool,
    },
    /// Listings written so far, at most a few times a second.
    Progress {
        imported: u64,
        total: Option<u64>,
        last_listing: Option<&'a LastListing>,
    },
    /// A record that was not imported.
    ListingRejected {
        file: &'a str,
        line: u64,
        source_id: Option<&'a str>,
        /// The column's rank, for formats with columns.
        rank: Option<usize>,
        field: Option<&'a str>,
        value: Option<&'a str>,
        reason: &'a str,
    },
    /// A photo that could not be stored; the next run tries it again.
    PhotoFailed {
        listing_source_id: &'a str,
        /// The photo's position in its listing, from 1.
        rank: i64,
        /// The photo's URL or file in the delivery.
        location: &'a str,
        error: &'a str,
    },
    /// A guard kept missing listings from being withdrawn.
    GuardTripped {
        reason: &'a str,
        /// Listings the run would have withdrawn.
        would_withdraw: u64,
    },
    /// The run ended with its data applied: `succeeded`, or `partial` when
    /// records were rejected or photos failed.
    RunSucceeded { status: &'a str, counts: &'a RunCounts },
    /// The run ended without applying everything: `failed`,
    /// `guard_tripped` or `locked`.
    RunFailed {
        status: &'a str,
        exit_status: u8,
        error: &'a str,
        counts: Option<&'a RunCounts>,
    },
}

impl<'a> Event<'a> {
    /// Builds the event of a rejected record.
    pub fn rejected(issue: &'a RecordIssue) -> Self {
        Self::ListingRejected {
            file: &issue.file,
            line: issue.line,
            source_id: issue.source_id.as_deref(),
            rank: issue.rank,
            field: issue.column.as_deref(),
            value: issue.value.as_deref(),
            reason: &issue.reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test reads back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn sink_writes_one_line_per_event() {
        let written = Shared::default();
        let sink = EventSink::new(Box::new(written.clone()));
        let tag = RunTag {
            integration: "paris".to_string(),
            crm: "poliris".to_string(),
            agency: "AG1".to_string(),
            run_id: Some(7),
        };

        sink.emit(
            &tag,
            &Event::GuardTripped {
                reason: "the feed is empty\nreally",
                would_withdraw: 3,
            },
        );
        sink.emit(
            &tag,
            &Event::Progress {
                imported: 10,
                total: None,
                last_listing: None,
            },
        );

        let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();

        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["type"], "guard_tripped");
        assert_eq!(lines[0]["run_id"], 7);
        assert_eq!(lines[0]["would_withdraw"], 3);
        assert_eq!(lines[1]["type"], "progress");
        assert_eq!(lines[1]["integration"], "paris");
        assert!(lines[1]["time"].as_str().unwrap().ends_with('Z'));
    }
}

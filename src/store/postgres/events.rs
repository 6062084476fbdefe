//! Run events published with Postgres `NOTIFY` on the [`CHANNEL`] channel,
//! so that a web application can show an import's progress live and learn
//! how it ended. `docs/EVENTS.md` describes the payloads for subscribers.
//!
//! Progress is published when a batch is committed, at most once per
//! [`PostgresTarget::progress_interval`](crate::store::location::PostgresTarget),
//! plus once more when the run ends. Each run ends with exactly one
//! `success` or `error` event. A notification sent inside a transaction
//! reaches listeners when it commits, and never if it rolls back, so an
//! event never announces writes that are not visible yet.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::PostgresStore;
use crate::store::{IntegrationId, ListingId, RunCounts, RunId, RunStatus};

/// The channel every event is published on.
pub const CHANNEL: &str = "passerelle_events";

/// Characters of an error kept in an event; Postgres refuses payloads of
/// 8,000 bytes or more.
const ERROR_CHARS: usize = 1_000;

/// The facts the events of the current run name.
struct RunContext {
    run: RunId,
    integration: IntegrationId,
    crm: String,
    agency_code: String,
    organization: Option<String>,
    /// Listings the integration's last good run saw: the best estimate of
    /// this run's total.
    expected: Option<u64>,
}

/// Event state of the store's current run.
pub struct RunEvents {
    interval: Duration,
    context: Option<RunContext>,
    last_progress: Option<(Instant, u64)>,
    last_listing: Option<(ListingId, Option<String>)>,
}

impl RunEvents {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            context: None,
            last_progress: None,
            last_listing: None,
        }
    }

    /// Remembers the listing written last, named in the next progress event.
    pub fn wrote(&mut self, id: ListingId, reference: Option<&str>) {
        self.last_listing = Some((id, reference.map(str::to_string)));
    }
}

/// The kind of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Listings written so far.
    Progress,
    /// The run finished: succeeded, partial or guard_tripped.
    Success,
    /// The run failed.
    Error,
}

/// The most recent listing written.
#[derive(Debug, Serialize)]
pub struct LastListing<'a> {
    pub id: ListingId,
    pub reference: Option<&'a str>,
}

/// The JSON payload of one event.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub run_id: RunId,
    pub integration_id: IntegrationId,
    pub crm: &'a str,
    pub agency_code: &'a str,
    pub organization: Option<&'a str>,
    /// The run's status; `running` in progress events.
    pub status: &'static str,
    /// Listings read and stored so far: created, updated or unchanged.
    pub imported: u64,
    /// Listings of the last complete run, an estimate of this run's total;
    /// `null` for an integration's first run.
    pub total: Option<u64>,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub withdrawn: u64,
    pub rejected: u64,
    pub last_listing: Option<LastListing<'a>>,
    /// The cause of the failure, shortened, in `error` events.
    pub error: Option<String>,
}

impl PostgresStore {
    /// Starts the events of a new run, reading what they name.
    pub(super) fn start_run_events(&self, run: RunId, integration: IntegrationId) -> anyhow::Result<()> {
        let row = self.query_one(
            "SELECT crm, agency_code, organization, last_seen_count FROM integrations WHERE id = $1",
            &[&integration],
        )?;
        let expected: Option<i64> = row.get(3);
        let mut state = self.state.borrow_mut();
        state.events.context = Some(RunContext {
            run,
            integration,
            crm: row.get(0),
            agency_code: row.get(1),
            organization: row.get(2),
            expected: expected.map(|count| count as u64),
        });
        state.events.last_progress = None;
        state.events.last_listing = None;
        Ok(())
    }

    /// Publishes progress if the interval has passed since the last
    /// progress event, or, with `closing`, if anything changed since.
    pub(super) fn publish_progress(
        &self,
        run: RunId,
        counts: &RunCounts,
        closing: bool,
    ) -> anyhow::Result<()> {
        let imported = counts.created + counts.updated + counts.unchanged;
        let due = {
            let state = self.state.borrow();
            let events = &state.events;
            let ours = events.context.as_ref().is_some_and(|context| context.run == run);
            ours && match events.last_progress {
                None => true,
                Some((_, sent)) if closing => sent != imported,
                Some((at, _)) => at.elapsed() >= events.interval,
            }
        };
        if !due {
            return Ok(());
        }
        self.publish(EventKind::Progress, "running", counts, None)?;
        self.state.borrow_mut().events.last_progress = Some((Instant::now(), imported));
        Ok(())
    }

    /// Publishes the last progress and the one event that ends a run.
    pub(super) fn publish_finished(
        &self,
        run: RunId,
        status: RunStatus,
        counts: &RunCounts,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        let ours = {
            let state = self.state.borrow();
            state
                .events
                .context
                .as_ref()
                .is_some_and(|context| context.run == run)
        };
        if !ours {
            return Ok(());
        }
        let kind = if status == RunStatus::Failed {
            EventKind::Error
        } else {
            self.publish_progress(run, counts, true)?;
            EventKind::Success
        };
        self.publish(kind, status.as_str(), counts, error)?;
        self.state.borrow_mut().events.context = None;
        Ok(())
    }

    fn publish(
        &self,
        kind: EventKind,
        status: &'static str,
        counts: &RunCounts,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        let payload = {
            let state = self.state.borrow();
            let events = &state.events;
            let Some(context) = &events.context else {
                return Ok(());
            };
            let event = Event {
                kind,
                run_id: context.run,
                integration_id: context.integration,
                crm: &context.crm,
                agency_code: &context.agency_code,
                organization: context.organization.as_deref(),
                status,
                imported: counts.created + counts.updated + counts.unchanged,
                total: context.expected,
                created: counts.created,
                updated: counts.updated,
                unchanged: counts.unchanged,
                withdrawn: counts.withdrawn,
                rejected: counts.rejected,
                last_listing: events.last_listing.as_ref().map(|(id, reference)| LastListing {
                    id: *id,
                    reference: reference.as_deref(),
                }),
                error: error.map(shorten),
            };
            serde_json::to_string(&event)?
        };
        self.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])?;
        Ok(())
    }
}

/// Keeps the start of a long error message, on a character boundary.
fn shorten(error: &str) -> String {
    let error = error.replace('\0', "\u{FFFD}");
    match error.char_indices().nth(ERROR_CHARS) {
        Some((end, _)) => format!("{}…", &error[..end]),
        None => error,
    }
}

//! Progress of one run, as the pipeline's threads report it: progress bars
//! on a terminal, a plain line now and then when stderr is a log file, and
//! events for `--events jsonl`. A [`RunProgress`] is cheap to clone and may
//! be used from any thread.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use super::events::{Event, EventSink, LastListing, RunTag};
use super::terminal::Terminal;

/// Shortest time between two progress events.
const EVENT_INTERVAL: Duration = Duration::from_millis(250);

/// Shortest time between two plain progress lines on a non-terminal stderr.
const LINE_INTERVAL: Duration = Duration::from_secs(30);

/// How often a bar redraws on its own, so that its rate and ETA stay
/// current while the count waits on a slow server.
const TICK: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct RunProgress {
    shared: Arc<Shared>,
}

/// Destinations of a run's progress, chosen by the reporter.
pub(super) struct Outputs {
    pub terminal: Arc<Terminal>,
    pub events: Option<EventSink>,
    pub bars: bool,
    pub plain_lines: bool,
}

impl Outputs {
    /// Adds the bar `make` builds to the terminal's bars, when bars show.
    fn show_bar(&self, make: impl FnOnce() -> ProgressBar) -> Option<ProgressBar> {
        let bars = self.terminal.bars().filter(|_| self.bars)?;
        Some(show(bars, make()))
    }
}

struct Shared {
    tag: RunTag,
    total: Option<u64>,
    outputs: Outputs,
    listings: Option<ProgressBar>,
    photos: Mutex<Option<ProgressBar>>,
    state: Mutex<State>,
}

struct State {
    last_event: Option<Instant>,
    /// Listings written at the last progress event.
    evented: u64,
    last_line: Instant,
    photos_total: u64,
}

impl RunProgress {
    /// Announces a run and shows its listings bar.
    pub(super) fn start(
        tag: RunTag,
        source: &str,
        total: Option<u64>,
        dry_run: bool,
        outputs: Outputs,
    ) -> Self {
        if let Some(events) = &outputs.events {
            events.emit(
                &tag,
                &Event::RunStarted {
                    source,
                    total,
                    dry_run,
                },
            );
        }
        let listings = outputs.show_bar(|| listings_bar(&tag.integration, total));
        Self {
            shared: Arc::new(Shared {
                tag,
                total,
                outputs,
                listings,
                photos: Mutex::new(None),
                state: Mutex::new(State {
                    last_event: None,
                    evented: 0,
                    last_line: Instant::now(),
                    photos_total: 0,
                }),
            }),
        }
    }

    pub fn tag(&self) -> &RunTag {
        &self.shared.tag
    }

    /// Sends an event about this run, when events are on.
    pub fn emit(&self, event: &Event<'_>) {
        if let Some(events) = &self.shared.outputs.events {
            events.emit(&self.shared.tag, event);
        }
    }

    /// Records the number of listings written so far and the last one.
    pub fn listings(&self, imported: u64, last: Option<&LastListing>) {
        let shared = &self.shared;
        if let Some(bar) = &shared.listings {
            if bar.length().is_some_and(|length| imported > length) {
                bar.set_length(imported);
            }
            bar.set_position(imported);
        }
        let mut state = self.state();
        let now = Instant::now();
        if shared.outputs.events.is_some()
            && state
                .last_event
                .is_none_or(|last| now.duration_since(last) >= EVENT_INTERVAL)
        {
            state.last_event = Some(now);
            state.evented = imported;
            self.emit(&Event::Progress {
                imported,
                total: shared.total,
                last_listing: last,
            });
        }
        if shared.outputs.plain_lines && now.duration_since(state.last_line) >= LINE_INTERVAL {
            state.last_line = now;
            self.line(&format!("{} listings written", imported));
        }
    }

    /// Ends the listing step: a last progress event if the count changed
    /// since the previous one, and the bar goes away.
    pub fn listings_done(&self, imported: u64, last: Option<&LastListing>) {
        let evented = std::mem::replace(&mut self.state().evented, imported);
        if self.shared.outputs.events.is_some() && (imported != evented || imported == 0) {
            self.emit(&Event::Progress {
                imported,
                total: self.shared.total,
                last_listing: last,
            });
        }
        if let Some(bar) = &self.shared.listings {
            bar.finish_and_clear();
        }
    }

    /// Adds photos to check, found a page at a time; the photos bar shows
    /// from the first page.
    pub fn photos_found(&self, count: u64) {
        let total = {
            let mut state = self.state();
            state.photos_total += count;
            state.photos_total
        };
        let mut photos = self.photos_bar();
        match photos.as_ref() {
            Some(bar) => bar.set_length(total),
            None => {
                let shared = &self.shared;
                *photos = shared
                    .outputs
                    .show_bar(|| photos_bar(&shared.tag.integration, total));
            }
        }
    }

    /// Records the number of photos checked so far: stored, reused,
    /// failed or left alone.
    pub fn photos(&self, done: u64) {
        if let Some(bar) = self.photos_bar().as_ref() {
            bar.set_position(done);
        }
        if self.shared.outputs.plain_lines {
            let mut state = self.state();
            let now = Instant::now();
            if now.duration_since(state.last_line) >= LINE_INTERVAL {
                state.last_line = now;
                let total = state.photos_total;
                drop(state);
                self.line(&format!("{done} of {total} photos checked"));
            }
        }
    }

    /// Ends the photo step; its bar goes away.
    pub fn photos_done(&self) {
        if let Some(bar) = self.photos_bar().take() {
            bar.finish_and_clear();
        }
    }

    /// Takes the bars away, whatever state the run ended in.
    pub(super) fn close(&self) {
        if let Some(bar) = &self.shared.listings {
            bar.finish_and_clear();
        }
        self.photos_done();
    }

    fn line(&self, message: &str) {
        let text = format!("{}: {message}\n", self.shared.tag.integration);
        self.shared.outputs.terminal.write(text.as_bytes());
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn photos_bar(&self) -> MutexGuard<'_, Option<ProgressBar>> {
        self.shared.photos.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Builds the listings bar: a bar with rate and ETA when the last run's
/// count gives a total, a spinner with the rate otherwise.
fn listings_bar(integration: &str, total: Option<u64>) -> ProgressBar {
    let (bar, template) = match total {
        Some(total) => (
            ProgressBar::new(total),
            "{prefix} listings [{bar:30}] {human_pos}/{human_len} {rate} ETA {eta}",
        ),
        None => (
            ProgressBar::no_length(),
            "{prefix} listings {spinner} {human_pos} {rate}",
        ),
    };
    decorate(bar, integration, template)
}

fn photos_bar(integration: &str, total: u64) -> ProgressBar {
    decorate(
        ProgressBar::new(total),
        integration,
        "{prefix} photos   [{bar:30}] {human_pos}/{human_len} {rate} ETA {eta}",
    )
}

fn decorate(bar: ProgressBar, integration: &str, template: &str) -> ProgressBar {
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |state: &ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.0}/s", state.per_sec());
        })
        .progress_chars("=> ");
    bar.with_style(style).with_prefix(integration.to_string())
}

/// Adds a bar to the terminal's bars and starts its ticking; a bar ticks
/// only once added, or it would draw outside the others.
fn show(bars: &indicatif::MultiProgress, bar: ProgressBar) -> ProgressBar {
    let bar = bars.add(bar);
    bar.enable_steady_tick(TICK);
    bar
}

//! The photo step of a run, after the listing data is committed: each
//! photo of the integration's active listings is reused, downloaded or
//! extracted, decoded, resized into its variants, stored in the media
//! directory and recorded.
//!
//! A source is transferred again only when it changed. URLs are requested
//! with their stored `ETag` / `Last-Modified`, and a 304 means unchanged. A
//! URL without validators counts as unchanged unless a refresh is requested.
//! Archive members are compared by size and CRC-32. Photos sharing a source
//! are fetched once, and identical bytes are stored once.
//!
//! Downloads run concurrently on one thread. Decoding and resizing run on
//! the blocking pool, at most one photo per core at a time. A photo that
//! fails is recorded with its error and tried again by the next run, and it
//! never fails its listing or the run.

pub mod address;
pub mod download;
pub mod media;
pub mod variants;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::listing::PhotoSource;
use crate::report::events::Event;
use crate::report::progress::RunProgress;
use crate::report::{Reporter, plural};
use crate::store::lock::{HEARTBEAT_SECONDS, LockToken};
use crate::store::photos::{PhotoFailure, PhotoId, PhotoRow, PhotoStatus, StoredImage, StoredVariant};
use crate::store::{IntegrationId, RunId, Store};
use crate::transport::archive::{self, Archive};
use download::{DownloadSettings, Downloader, Fetched, Validators};
use media::MediaDir;
use variants::RenderSettings;

/// Photo updates written per transaction, at most.
const UPDATES_PER_COMMIT: usize = 200;

/// Maximum wait before buffered photo updates are written.
const FLUSH_INTERVAL: Duration = Duration::from_secs(2);

/// Distinct failure messages printed one by one; the rest are counted.
const FAILURES_SHOWN: usize = 5;

/// Maximum number of failed photos recorded with a run. The `photos` table
/// contains every one.
const MAX_RECORDED_FAILURES: usize = 100;

/// Everything the photo step needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoSettings {
    pub media_dir: PathBuf,
    /// The database the media directory is claimed for, as
    /// [`Database::media_owner`](crate::store::Database::media_owner) names
    /// it; `None` claims nothing.
    pub database: Option<String>,
    /// Photos downloaded at the same time.
    pub concurrency: usize,
    pub download: DownloadSettings,
    pub render: RenderSettings,
    /// Bytes extracted from a delivery's archive in one run, at most.
    pub max_archive_bytes: u64,
}

impl PhotoSettings {
    /// Default settings, with the media directory given.
    pub fn new(media_dir: PathBuf) -> Self {
        Self {
            media_dir,
            database: None,
            concurrency: 8,
            download: DownloadSettings::default(),
            render: RenderSettings::default(),
            max_archive_bytes: 8 * 1024 * 1024 * 1024,
        }
    }
}

/// Selection of the photos a run looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PhotoScope {
    /// Only pending and failed photos: nothing stored is checked again.
    pub unstored_only: bool,
    /// Download again the stored photos whose URL has no validators.
    pub refresh: bool,
}

/// Location of the photo files of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhotoFiles {
    Zip(PathBuf),
    Directory(PathBuf),
}

/// The run a photo step works for.
#[derive(Debug, Clone, Copy)]
pub struct StepTarget<'a> {
    pub integration: IntegrationId,
    /// The run that records failed photos with its rejected records.
    pub run: Option<RunId>,
    /// The feed, named in the recorded failures.
    pub source: &'a str,
    /// The integration's lock, kept alive through a long step.
    pub lock: Option<&'a LockToken>,
}

/// Photos of one run, counted per listing photo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhotoCounts {
    pub stored: u64,
    pub reused: u64,
    pub failed: u64,
}

/// Runs the photo step for an integration's active listings.
///
/// # Errors
/// The media directory or the database cannot be written, or the
/// delivery's archive cannot be opened. A single photo's failure is
/// recorded, not returned.
pub fn process(
    store: &dyn Store,
    target: &StepTarget<'_>,
    files: Option<&PhotoFiles>,
    settings: &PhotoSettings,
    scope: PhotoScope,
    reporter: &mut Reporter,
) -> anyhow::Result<PhotoCounts> {
    let (integration, lock) = (target.integration, target.lock);
    sync_photo_rows(store, integration, lock)?;
    let mut page = store.photos_to_check(integration, scope.unstored_only, None, PAGE_ROWS)?;
    if page.is_empty() {
        return Ok(PhotoCounts::default());
    }

    let mut delivery = match files {
        Some(files) => Some(Delivery::open(files)?),
        None => None,
    };
    let media = MediaDir::new(settings.media_dir.clone());
    if let Some(database) = &settings.database {
        media.claim(database)?;
    }

    let mut step = Step {
        store,
        media: &media,
        target,
        issues_recorded: 0,
        counts: PhotoCounts::default(),
        failures: BTreeMap::new(),
        pending: Vec::new(),
        recent: HashMap::new(),
        last_flush: Instant::now(),
        last_heartbeat: Instant::now(),
        skipped: 0,
        progress: reporter.run_progress(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let tools = Tools::new(settings)?;

    // A page at a time, so that memory does not grow with the number of
    // photos. A source repeated across two pages is fetched once per page,
    // but its bytes are still stored once.
    while !page.is_empty() {
        if let Some(progress) = &step.progress {
            progress.photos_found(page.len() as u64);
        }
        let cursor = page.last().map(PhotoRow::position);
        let jobs = group_by_source(std::mem::take(&mut page));
        runtime.block_on(step.run(jobs, delivery.as_mut(), settings, scope, &tools))?;
        step.flush()?;
        page = store.photos_to_check(integration, scope.unstored_only, cursor, PAGE_ROWS)?;
    }
    if let Some(progress) = &step.progress {
        progress.photos_done();
    }
    step.report(reporter);
    Ok(step.counts)
}

/// Photo rows read from the store at a time.
const PAGE_ROWS: usize = 4_000;

/// Resources every page of a photo step shares: the HTTP client, one permit per
/// core for rendering, and the render settings.
struct Tools {
    downloader: Arc<Downloader>,
    cpu: Arc<Semaphore>,
    render: Arc<RenderSettings>,
}

impl Tools {
    fn new(settings: &PhotoSettings) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        Ok(Self {
            downloader: Arc::new(Downloader::new(settings.download.clone())?),
            cpu: Arc::new(Semaphore::new(cores)),
            render: Arc::new(settings.render.clone()),
        })
    }
}

/// Listings whose photo rows are brought in line per transaction.
const LISTINGS_PER_COMMIT: usize = 500;

/// Brings the photo rows of the listings created or changed since the last
/// photo step in line with their photo lists. The listing writes only mark
/// them, which keeps the import of listing data fast.
fn sync_photo_rows(
    store: &dyn Store,
    integration: IntegrationId,
    lock: Option<&LockToken>,
) -> anyhow::Result<()> {
    let listings = store.listings_with_pending_photos(integration)?;
    for chunk in listings.chunks(LISTINGS_PER_COMMIT) {
        store.begin()?;
        let synced = chunk
            .iter()
            .try_for_each(|listing| store.sync_listing_photos(*listing))
            .and_then(|()| lock.map_or(Ok(()), |lock| store.heartbeat(lock)));
        match synced {
            Ok(()) => store.commit()?,
            Err(error) => {
                store.rollback()?;
                return Err(error);
            }
        }
    }
    Ok(())
}

/// The photo rows sharing one source, handled as one.
struct Job {
    source: PhotoSource,
    rows: Vec<PhotoRow>,
}

impl Job {
    fn ids(&self) -> Vec<PhotoId> {
        self.rows.iter().map(|row| row.id).collect()
    }

    fn all_stored(&self) -> bool {
        self.rows.iter().all(|row| row.status == PhotoStatus::Stored)
    }

    fn any_stored(&self) -> bool {
        self.rows.iter().any(|row| row.status == PhotoStatus::Stored)
    }

    /// Returns the validators of a stored row, for a conditional request.
    fn validators(&self) -> Option<Validators> {
        self.rows
            .iter()
            .find(|row| row.status == PhotoStatus::Stored && !row.validators.is_empty())
            .map(|row| row.validators.clone())
    }

    /// Names the photo for people: its listing, its place and its source.
    fn describe(&self) -> String {
        let row = &self.rows[0];
        format!(
            "listing {}, photo {}: {}",
            row.listing_source_id,
            row.rank,
            self.source.location()
        )
    }
}

fn group_by_source(rows: Vec<PhotoRow>) -> Vec<Job> {
    let mut jobs: Vec<Job> = Vec::new();
    let mut index: HashMap<PhotoSource, usize> = HashMap::new();
    for row in rows {
        match index.get(&row.source) {
            Some(&position) => jobs[position].rows.push(row),
            None => {
                index.insert(row.source.clone(), jobs.len());
                jobs.push(Job {
                    source: row.source.clone(),
                    rows: vec![row],
                });
            }
        }
    }
    jobs
}

/// The photo files of a delivery, looked up by file name in any case.
enum Delivery {
    Zip {
        archive: Box<Archive>,
        /// Lower-cased file name → member name, size and CRC-32.
        members: HashMap<String, (String, u64, u32)>,
        extracted: u64,
    },
    Directory {
        folder: PathBuf,
        /// Lower-cased file name → file name.
        files: HashMap<String, String>,
    },
}

impl Delivery {
    fn open(files: &PhotoFiles) -> anyhow::Result<Self> {
        match files {
            PhotoFiles::Zip(path) => {
                let mut archive = Archive::open(path)?;
                let members = archive
                    .member_details()?
                    .into_iter()
                    .map(|member| {
                        let key = archive::base_name(&member.name).to_lowercase();
                        (key, (member.name, member.size, member.crc32))
                    })
                    .collect();
                Ok(Self::Zip {
                    archive: Box::new(archive),
                    members,
                    extracted: 0,
                })
            }
            PhotoFiles::Directory(folder) => {
                let mut files = HashMap::new();
                for entry in std::fs::read_dir(folder)
                    .with_context(|| format!("cannot list the photos of {}", folder.display()))?
                {
                    let entry = entry?;
                    if entry.file_type()?.is_file() {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        files.insert(name.to_lowercase(), name);
                    }
                }
                Ok(Self::Directory {
                    folder: folder.clone(),
                    files,
                })
            }
        }
    }
}

/// Action for one job, decided before any transfer.
enum Plan {
    /// The stored photo is current, so nothing is transferred.
    Reuse,
    Fail(String),
    Download {
        url: String,
        validators: Option<Validators>,
    },
    /// Bytes in hand (an archive member or a delivered file), with the
    /// member's size and CRC when it came from a zip.
    Render {
        bytes: Vec<u8>,
        member: Option<(u64, u32)>,
    },
    /// Nothing to do in this run: an archive photo without its delivery.
    Skip,
}

/// Result a task returns to the step.
enum TaskOutcome {
    NotModified(Validators),
    Fetched {
        bytes: Vec<u8>,
        validators: Validators,
    },
    Stored {
        image: StoredImage,
        validators: Validators,
        member: Option<(u64, u32)>,
    },
    Failed(String),
}

struct Step<'a> {
    store: &'a dyn Store,
    media: &'a MediaDir,
    target: &'a StepTarget<'a>,
    /// Failed photos recorded with the run so far.
    issues_recorded: usize,
    counts: PhotoCounts,
    /// Failure message → number of photos and one example source.
    failures: BTreeMap<String, (u64, String)>,
    /// Outcomes not written yet. They are written in short transactions,
    /// never held open while a download is awaited, so that other runs
    /// sharing the database can write meanwhile.
    pending: Vec<Update>,
    /// Photos rendered by this step, by content hash, before they are written.
    recent: HashMap<String, StoredImage>,
    last_flush: Instant,
    last_heartbeat: Instant,
    /// Photos left alone because nothing needed doing.
    skipped: u64,
    progress: Option<RunProgress>,
}

/// An outcome to record for the rows of one job.
enum Update {
    Unchanged {
        ids: Vec<PhotoId>,
        validators: Option<Validators>,
    },
    Stored {
        ids: Vec<PhotoId>,
        image: StoredImage,
        validators: Validators,
        member: Option<(u64, u32)>,
    },
    Failed {
        ids: Vec<PhotoId>,
        error: String,
        /// The failures to record with the run, within [`MAX_RECORDED_FAILURES`].
        issues: Vec<PhotoFailure>,
    },
}

impl Step<'_> {
    async fn run(
        &mut self,
        jobs: Vec<Job>,
        mut delivery: Option<&mut Delivery>,
        settings: &PhotoSettings,
        scope: PhotoScope,
        tools: &Tools,
    ) -> anyhow::Result<()> {
        let downloader = &tools.downloader;
        let concurrency = settings.concurrency.max(1);
        let mut jobs = jobs.into_iter().enumerate();
        let mut waiting: HashMap<usize, Job> = HashMap::new();
        let mut tasks: JoinSet<(usize, TaskOutcome)> = JoinSet::new();
        loop {
            while tasks.len() < concurrency {
                let Some((key, job)) = jobs.next() else {
                    break;
                };
                match plan(&job, delivery.as_deref_mut(), settings, scope) {
                    Plan::Skip => {
                        self.skipped += job.rows.len() as u64;
                        self.show_progress();
                    }
                    Plan::Reuse => {
                        if !self.reuse(&job, None)? {
                            // The stored files are gone: fetch the photo again.
                            if let PhotoSource::Url(url) = &job.source {
                                spawn_download(&mut tasks, downloader, key, url.clone(), None);
                                waiting.insert(key, job);
                            }
                        }
                    }
                    Plan::Fail(error) => self.fail(&job, &error)?,
                    Plan::Download { url, validators } => {
                        spawn_download(&mut tasks, downloader, key, url, validators);
                        waiting.insert(key, job);
                    }
                    Plan::Render { bytes, member } => {
                        let received = Received {
                            bytes,
                            validators: Validators::default(),
                            member,
                        };
                        self.store_bytes(key, job, received, tools, &mut tasks, &mut waiting)?;
                    }
                }
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            let (key, outcome) = joined.context("a photo task panicked")?;
            self.flush_if_due()?;
            let Some(job) = waiting.remove(&key) else {
                continue;
            };
            match outcome {
                TaskOutcome::Fetched { bytes, validators } => {
                    let received = Received {
                        bytes,
                        validators,
                        member: None,
                    };
                    self.store_bytes(key, job, received, tools, &mut tasks, &mut waiting)?;
                }
                other => self.apply(&job, other)?,
            }
        }
        Ok(())
    }

    /// Records a job whose source did not change. Its rows not stored yet
    /// (a URL that a new listing shares with a stored photo) get the stored
    /// photo's files. Returns `false` when those files are gone.
    fn reuse(&mut self, job: &Job, validators: Option<Validators>) -> anyhow::Result<bool> {
        let validators = validators.filter(|validators| !validators.is_empty());
        if job.all_stored() {
            tracing::trace!(location = job.source.location(), "photo unchanged");
            self.counts.reused += job.rows.len() as u64;
            self.record(Update::Unchanged {
                ids: job.ids(),
                validators,
            })?;
            return Ok(true);
        }
        let Some(content_hash) = job
            .rows
            .iter()
            .find(|row| row.status == PhotoStatus::Stored)
            .and_then(|row| row.content_hash.clone())
        else {
            return Ok(false);
        };
        let known = match self.recent.get(&content_hash) {
            Some(image) => Some(image.clone()),
            None => self.store.stored_image(&content_hash)?,
        };
        let Some(image) = known.filter(|image| self.media_complete(image)) else {
            return Ok(false);
        };
        let validators = validators.or_else(|| job.validators()).unwrap_or_default();
        self.apply(
            job,
            TaskOutcome::Stored {
                image,
                validators,
                member: None,
            },
        )?;
        Ok(true)
    }

    /// Stores a job's bytes: at once when they are known already, else by
    /// a render task, whose outcome `run` applies when it ends.
    fn store_bytes(
        &mut self,
        key: usize,
        job: Job,
        received: Received,
        tools: &Tools,
        tasks: &mut JoinSet<(usize, TaskOutcome)>,
        waiting: &mut HashMap<usize, Job>,
    ) -> anyhow::Result<()> {
        let content_hash = hash_hex(&received.bytes);
        if let Some(outcome) = self.known_bytes(&job, &content_hash, received.member, &received.validators)? {
            return self.apply(&job, outcome);
        }
        tasks.spawn(render_task(
            key,
            content_hash,
            received,
            Arc::clone(&tools.cpu),
            Arc::clone(&tools.render),
            self.media.clone(),
        ));
        waiting.insert(key, job);
        Ok(())
    }

    /// Returns the outcome for bytes already known: the same bytes the
    /// photo has (unchanged), or bytes stored for another photo whose
    /// files are all present (stored without rendering again).
    fn known_bytes(
        &self,
        job: &Job,
        content_hash: &str,
        member: Option<(u64, u32)>,
        validators: &Validators,
    ) -> anyhow::Result<Option<TaskOutcome>> {
        let known = match self.recent.get(content_hash) {
            Some(image) => Some(image.clone()),
            None => self.store.stored_image(content_hash)?,
        };
        let Some(image) = known else {
            return Ok(None);
        };
        let media = self.media_complete(&image);
        let same_as_stored = job.all_stored()
            && job
                .rows
                .iter()
                .all(|row| row.content_hash.as_deref() == Some(content_hash));
        if same_as_stored && media && member.is_none() {
            return Ok(Some(TaskOutcome::NotModified(validators.clone())));
        }
        Ok(media.then(|| TaskOutcome::Stored {
            image,
            validators: validators.clone(),
            member,
        }))
    }

    fn media_complete(&self, image: &StoredImage) -> bool {
        !image.variants.is_empty()
            && image
                .variants
                .iter()
                .all(|variant| self.media.contains(&variant.path))
    }

    fn apply(&mut self, job: &Job, outcome: TaskOutcome) -> anyhow::Result<()> {
        let ids = job.ids();
        match outcome {
            TaskOutcome::NotModified(validators) => {
                if self.reuse(job, Some(validators))? {
                    Ok(())
                } else {
                    self.fail(
                        job,
                        "the server says the photo is unchanged, but its stored files are gone; \
                         --refresh-photos downloads it again",
                    )
                }
            }
            TaskOutcome::Stored {
                image,
                validators,
                member,
            } => {
                for row in &job.rows {
                    if row.status == PhotoStatus::Stored
                        && row.content_hash.as_deref() == Some(&image.content_hash)
                    {
                        self.counts.reused += 1;
                    } else {
                        self.counts.stored += 1;
                    }
                }
                tracing::trace!(location = job.source.location(), "photo stored");
                self.recent.insert(image.content_hash.clone(), image.clone());
                self.record(Update::Stored {
                    ids,
                    image,
                    validators,
                    member,
                })
            }
            TaskOutcome::Failed(error) => self.fail(job, &error),
            TaskOutcome::Fetched { .. } => unreachable!("fetched bytes are rendered before they are applied"),
        }
    }

    fn fail(&mut self, job: &Job, error: &str) -> anyhow::Result<()> {
        tracing::trace!(location = job.source.location(), error, "photo failed");
        self.counts.failed += job.rows.len() as u64;
        let entry = self
            .failures
            .entry(error.to_string())
            .or_insert_with(|| (0, job.describe()));
        entry.0 += job.rows.len() as u64;
        if let Some(progress) = &self.progress {
            for row in &job.rows {
                progress.emit(&Event::PhotoFailed {
                    listing_source_id: &row.listing_source_id,
                    rank: row.rank,
                    location: job.source.location(),
                    error,
                });
            }
        }
        let room = match self.target.run {
            Some(_) => MAX_RECORDED_FAILURES.saturating_sub(self.issues_recorded),
            None => 0,
        };
        let issues: Vec<PhotoFailure> = job
            .rows
            .iter()
            .take(room)
            .map(|row| PhotoFailure {
                file: self.target.source.to_string(),
                listing_source_id: row.listing_source_id.clone(),
                rank: row.rank,
                location: job.source.location().to_string(),
                error: error.to_string(),
            })
            .collect();
        self.issues_recorded += issues.len();
        self.record(Update::Failed {
            ids: job.ids(),
            error: error.to_string(),
            issues,
        })
    }

    fn record(&mut self, update: Update) -> anyhow::Result<()> {
        self.pending.push(update);
        self.show_progress();
        self.flush_if_due()
    }

    fn show_progress(&self) {
        if let Some(progress) = &self.progress {
            let counts = &self.counts;
            progress.photos(counts.stored + counts.reused + counts.failed + self.skipped);
        }
    }

    /// Writes the buffered updates once there are [`UPDATES_PER_COMMIT`] of
    /// them or [`FLUSH_INTERVAL`] has passed, and keeps the lock's
    /// heartbeat going through long photo steps.
    fn flush_if_due(&mut self) -> anyhow::Result<()> {
        let heartbeat_due = self.last_heartbeat.elapsed() >= Duration::from_secs(HEARTBEAT_SECONDS);
        if self.pending.len() >= UPDATES_PER_COMMIT
            || heartbeat_due
            || (!self.pending.is_empty() && self.last_flush.elapsed() >= FLUSH_INTERVAL)
        {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered updates in one transaction, with a heartbeat.
    fn flush(&mut self) -> anyhow::Result<()> {
        let store = self.store;
        store.begin()?;
        let written = self
            .pending
            .iter()
            .try_for_each(|update| match update {
                Update::Unchanged { ids, validators } => {
                    store.record_photo_unchanged(ids, validators.as_ref())
                }
                Update::Stored {
                    ids,
                    image,
                    validators,
                    member,
                } => store.record_photo_stored(ids, image, validators, *member),
                Update::Failed { ids, error, issues } => {
                    store.record_photo_failed(ids, error)?;
                    match self.target.run {
                        Some(run) => issues
                            .iter()
                            .try_for_each(|issue| store.record_photo_issue(run, issue)),
                        None => Ok(()),
                    }
                }
            })
            .and_then(|()| self.target.lock.map_or(Ok(()), |lock| store.heartbeat(lock)));
        match written {
            Ok(()) => store.commit()?,
            Err(error) => {
                store.rollback()?;
                return Err(error);
            }
        }
        self.pending.clear();
        self.recent.clear();
        self.last_flush = Instant::now();
        self.last_heartbeat = Instant::now();
        Ok(())
    }

    fn report(&self, reporter: &mut Reporter) {
        for (error, (count, example)) in self.failures.iter().take(FAILURES_SHOWN) {
            reporter.failure(&format!(
                "{} failed: {error} (e.g. {example})",
                plural(*count, "photo")
            ));
        }
        let hidden: u64 = self
            .failures
            .values()
            .skip(FAILURES_SHOWN)
            .map(|(count, _)| count)
            .sum();
        if hidden > 0 {
            reporter.failure(&format!(
                "{} failed for other reasons",
                plural(hidden, "more photo")
            ));
        }
        if self.counts.failed > 0 && self.target.run.is_some() {
            let listed = if self.issues_recorded < self.counts.failed as usize {
                format!("the first {}", self.issues_recorded)
            } else {
                "them".to_string()
            };
            reporter.failure(&format!(
                "failed photos are tried again by the next run; passerelle runs show lists {listed}"
            ));
        }
    }
}

/// Decides what a job needs, reading its bytes from the delivery when the
/// photo is a file of it.
fn plan(job: &Job, delivery: Option<&mut Delivery>, settings: &PhotoSettings, scope: PhotoScope) -> Plan {
    match &job.source {
        // A URL stored for one listing serves the others that share it.
        PhotoSource::Url(url) => match job.validators() {
            Some(validators) => Plan::Download {
                url: url.clone(),
                validators: Some(validators),
            },
            None if job.any_stored() && !scope.refresh => Plan::Reuse,
            None => Plan::Download {
                url: url.clone(),
                validators: None,
            },
        },
        PhotoSource::ArchiveMember(name) => {
            let Some(delivery) = delivery else {
                return if job.all_stored() { Plan::Reuse } else { Plan::Skip };
            };
            plan_member(job, name, delivery, settings)
        }
    }
}

fn plan_member(job: &Job, name: &str, delivery: &mut Delivery, settings: &PhotoSettings) -> Plan {
    let key = archive::base_name(name).to_lowercase();
    let limit = settings.download.max_bytes;
    match delivery {
        Delivery::Zip {
            archive,
            members,
            extracted,
        } => {
            let Some((member, size, crc)) = members.get(&key).cloned() else {
                // A DIFF delivery repeats only new files: earlier ones stand.
                return if job.all_stored() {
                    Plan::Reuse
                } else {
                    Plan::Fail(format!("`{name}` is not in the delivery"))
                };
            };
            if job.all_stored() && job.rows.iter().all(|row| row.member == Some((size, crc))) {
                return Plan::Reuse;
            }
            if *extracted + size > settings.max_archive_bytes {
                return Plan::Fail(format!(
                    "not extracted: the run reached its limit of {} bytes extracted from {}",
                    settings.max_archive_bytes,
                    archive.path().display()
                ));
            }
            match archive.read_member(&member, limit) {
                Ok(bytes) => {
                    *extracted += bytes.len() as u64;
                    Plan::Render {
                        bytes,
                        member: Some((size, crc)),
                    }
                }
                Err(error) => Plan::Fail(format!("{:#}", anyhow::Error::new(error))),
            }
        }
        Delivery::Directory { folder, files } => {
            let Some(file_name) = files.get(&key) else {
                return if job.all_stored() {
                    Plan::Reuse
                } else {
                    Plan::Fail(format!("`{name}` is not in {}", folder.display()))
                };
            };
            let path = folder.join(file_name);
            match std::fs::metadata(&path) {
                Ok(metadata) if metadata.len() > limit => {
                    return Plan::Fail(format!("larger than the {limit}-byte limit"));
                }
                Ok(_) => {}
                Err(error) => return Plan::Fail(format!("cannot read {}: {error}", path.display())),
            }
            match std::fs::read(&path) {
                Ok(bytes) => Plan::Render { bytes, member: None },
                Err(error) => Plan::Fail(format!("cannot read {}: {error}", path.display())),
            }
        }
    }
}

/// Starts the download of one job's URL.
fn spawn_download(
    tasks: &mut JoinSet<(usize, TaskOutcome)>,
    downloader: &Arc<Downloader>,
    key: usize,
    url: String,
    validators: Option<Validators>,
) {
    let downloader = Arc::clone(downloader);
    tasks.spawn(async move {
        let outcome = match downloader.fetch(&url, validators.as_ref()).await {
            Ok(Fetched::NotModified(validators)) => TaskOutcome::NotModified(validators),
            Ok(Fetched::Body { bytes, validators }) => TaskOutcome::Fetched { bytes, validators },
            Err(error) => TaskOutcome::Failed(error.to_string()),
        };
        (key, outcome)
    });
}

/// A photo's bytes in hand, with what identifies their version.
struct Received {
    bytes: Vec<u8>,
    /// HTTP validators of a download; empty for a delivered file.
    validators: Validators,
    /// Size and CRC-32 of an archive member.
    member: Option<(u64, u32)>,
}

/// Decodes, resizes and stores one photo on the blocking pool, one photo
/// per core at a time.
async fn render_task(
    key: usize,
    content_hash: String,
    received: Received,
    cpu: Arc<Semaphore>,
    settings: Arc<RenderSettings>,
    media: MediaDir,
) -> (usize, TaskOutcome) {
    let Ok(_permit) = cpu.acquire_owned().await else {
        return (key, TaskOutcome::Failed("the photo step was stopped".to_string()));
    };
    let Received {
        bytes,
        validators,
        member,
    } = received;
    let rendered =
        tokio::task::spawn_blocking(move || render_and_store(&bytes, content_hash, &settings, &media)).await;
    let outcome = match rendered {
        Ok(Ok(image)) => TaskOutcome::Stored {
            image,
            validators,
            member,
        },
        Ok(Err(error)) => TaskOutcome::Failed(error),
        Err(error) => TaskOutcome::Failed(format!("decoding stopped: {error}")),
    };
    (key, outcome)
}

fn render_and_store(
    bytes: &[u8],
    content_hash: String,
    settings: &RenderSettings,
    media: &MediaDir,
) -> Result<StoredImage, String> {
    let rendered = variants::render(bytes, settings).map_err(|error| error.to_string())?;
    let extension = settings.format.extension();
    let mut stored = Vec::with_capacity(rendered.variants.len());
    for variant in rendered.variants {
        let path = media::variant_path(&content_hash, &variant.name, extension);
        media.write(&path, &variant.bytes).map_err(|error| {
            format!(
                "cannot write {} in the media directory {}: {error}",
                path,
                media.root().display()
            )
        })?;
        stored.push(StoredVariant {
            name: variant.name,
            width: variant.width,
            height: variant.height,
            path,
        });
    }
    Ok(StoredImage {
        content_hash,
        width: rendered.width,
        height: rendered.height,
        variants: stored,
    })
}

fn hash_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

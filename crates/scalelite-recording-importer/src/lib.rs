//! `scalelite-recording-importer`: imports the recording archives BBB servers drop into the spool directory
//! (`docs/compatibility.md#importer`).
//!
//! An archive is one uncompressed tar per recording whose top level is the format directories
//! (`presentation/<recordID>/metadata.xml`, `video/<recordID>/…`). [`import_one`] unpacks it into a scratch
//! directory under `RECORDING_WORK_DIR` (refusing links, devices and paths leading out), reads every
//! `<format>/<recordID>/metadata.xml`, writes each recording with its metadata, formats and thumbnails in one store
//! call, then renames each format's directory into `RECORDING_PUBLISH_DIR/<format>/<recordID>` (or the unpublish
//! directory), replacing any copy in either. The archive is removed once everything is in place. With `S3_RECORDING`
//! ([`ImportSettings::s3`]) the files are uploaded to the bucket instead, under `published/` or `unpublished/` +
//! `<format>/<recordID>/...` ([`upload`]); an upload failure leaves the archive in the spool for the next pass.
//!
//! What can go wrong, and what happens:
//! - **The archive** (not a tar, truncated, an unsafe entry, no `metadata.xml`, no format whose metadata can be
//!   read): it is moved to a `failed/` directory next to the spool, with one log line saying why; nothing is
//!   written to the store or the published tree. A format whose metadata is bad is skipped (logged) while the
//!   archive's other formats are imported, as in the original.
//! - **The store** (unreachable, timing out): a few attempts with growing pauses, then the archive stays in the
//!   spool and is tried again on a later pass.
//! - **The archive is too big** (more entries, bytes or bytes in one file than [`ArchiveLimits`] allow, or sparse
//!   files): like any archive at fault, it goes to `failed/` with the reason.
//! - **This machine** (disk full, permissions): the archive stays in the spool and is tried again later; the
//!   daemon pauses every import for [`ImportSettings::io_backoff`], doubled after each further failure (at most
//!   [`MAX_IO_BACKOFF`]), so a full disk is not hammered.
//! - **A crash**: the store is written before any file is moved and the archive is removed last, so the archive is
//!   still in the spool and its next import completes the job; scratch directories are removed on the next start.
//!
//! [`run`] is the daemon: it watches the spool (filesystem notifications plus a rescan every
//! `RECORDING_IMPORT_POLL_INTERVAL`, since notifications do not cross NFS), imports what arrives in name order, and
//! is active only while it holds the `importer` lease in the store, so a second importer stands by.
//! [`import_backlog`] is the one-shot import of everything waiting (`scalelite-cli recordings:import`).
//! Recording-ready callbacks go out from a background task ([`ImportContext::with_callbacks`]). Both unpack the
//! next archive into its own scratch directory while the current ones are written and placed, and write and place
//! up to two archives at once (each import whole and on its own, as above) but never two of the same recording: a
//! recording's archives are imported one after the other, in name order.
//!
//! Publish state on re-import: when an API call has published or unpublished the recording before
//! (`publish_updated`), the stored flag is kept (the original meant to, but its re-import overwrote it); otherwise
//! `RECORDING_IMPORT_UNPUBLISHED` makes it unpublished, else the metadata's `<published>` decides. The store's
//! upsert applies that rule to the row as it is when it writes, so a publish that lands during an import is not
//! reverted either, and the files go where the written row says. `protected` is set from
//! `PROTECTED_RECORDINGS_ENABLED` on every import, as in the original. The same write links the meeting's
//! `callback_data` to the recording, as the original's importer does.
//!
//! `service` is the binary: its command line (`service::Cli`) and the wiring (store, S3, callbacks, the metrics
//! listener of `METRICS_BIND`, shutdown) around [`run`] and [`import_backlog`].

mod archive;
mod callbacks;
pub mod fixture;
mod metadata;
pub mod metrics;
mod place;
pub mod service;
mod spool;
pub mod upload;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use scalelite_core::config::RecordingArgs;
use scalelite_core::domain::Recording;
use scalelite_core::s3::{S3Bucket, S3Error};
use scalelite_core::shutdown::Shutdown;
use scalelite_core::storage::store::Store;
use scalelite_core::storage::{MiscStore, RecordingStore, StoreError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use crate::archive::{ArchiveLimits, ExtractError, Extracted, WriteFault, extract};
pub use crate::callbacks::{CallbackSettings, jwt_algorithm};
pub use crate::metadata::{
    FormatMetadata, MetadataError, PublishPolicy, merge_recording, parse_metadata, path_and_query,
};
pub use crate::metrics::MetricsSnapshot;

use crate::callbacks::{CallbackJob, CallbackQueue};
use crate::metrics::Metrics;
use crate::place::{Destinations, FoundFormat};
use crate::spool::{SpoolEntry, TarIdentity};

/// The longest pause after repeated failures of this machine (full disk, ...).
pub const MAX_IO_BACKOFF: Duration = Duration::from_secs(600);

/// Name of the lease that elects the active importer.
pub const LEASE_NAME: &str = "importer";

/// The shortest `importer` lease: long enough that a renewal delayed by one slow store operation (bounded at 5 s)
/// does not let it lapse.
pub const MIN_LEASE_TTL: Duration = Duration::from_secs(6);

/// Prefix of the scratch directories under `RECORDING_WORK_DIR` (leftovers of a crash are removed on start).
const SCRATCH_PREFIX: &str = ".scalelite-import-";

/// What the importer needs from the configuration.
#[derive(Clone, Debug)]
pub struct ImportSettings {
    /// `RECORDING_SPOOL_DIR`: where archives arrive.
    pub spool_dir: PathBuf,
    /// `RECORDING_WORK_DIR`: scratch space; must be on the publish directories' filesystem for moves to be renames.
    pub work_dir: PathBuf,
    /// `RECORDING_PUBLISH_DIR`.
    pub publish_dir: PathBuf,
    /// `RECORDING_UNPUBLISH_DIR`.
    pub unpublish_dir: PathBuf,
    /// Where archives that cannot be imported go: `failed/` next to the spool directory.
    pub failed_dir: PathBuf,
    /// `RECORDING_IMPORT_UNPUBLISHED` and `PROTECTED_RECORDINGS_ENABLED`.
    pub policy: PublishPolicy,
    /// `RECORDING_DISABLED`: import nothing (archives stay in the spool).
    pub disabled: bool,
    /// `RECORDING_IMPORT_POLL_INTERVAL`: time between rescans of the spool.
    pub poll_interval: Duration,
    /// An archive modified less than this long ago may still be being written and waits.
    pub settle_time: Duration,
    /// `DB_CONNECTION_RETRY_COUNT`: attempts at a store operation before the import is given up for this pass.
    pub store_attempts: u32,
    /// Pause after the first failed store attempt, doubled after each further one (capped at 30 s).
    pub store_backoff: Duration,
    /// How long the `importer` lease lasts unless renewed (it is renewed well before): three
    /// `RECORDING_IMPORT_POLL_INTERVAL`s, at least [`MIN_LEASE_TTL`]. A standby takes over this long after the
    /// active importer died.
    pub lease_ttl: Duration,
    /// `RECORDING_IMPORT_MAX_ENTRIES`, `RECORDING_IMPORT_MAX_SIZE`, `RECORDING_IMPORT_MAX_FILE_SIZE`.
    pub limits: ArchiveLimits,
    /// Pause of the daemon's imports after this machine failed one (full disk, ...), doubled after each further
    /// failure up to [`MAX_IO_BACKOFF`]; a successful import resets it.
    pub io_backoff: Duration,
    /// `S3_RECORDING`: upload the files to this bucket instead of placing them in the publish directories.
    /// `from_config` leaves it `None`; the binaries set it from [`S3Bucket::from_config`].
    pub s3: Option<S3Bucket>,
}

impl ImportSettings {
    /// The settings the configuration gives. `failed/` is next to the spool directory (inside it when the spool
    /// has no parent).
    pub fn from_config(recording: &RecordingArgs) -> Self {
        let spool_dir = recording.recording_spool_dir.clone();
        Self {
            failed_dir: default_failed_dir(&spool_dir),
            spool_dir,
            work_dir: recording.recording_work_dir.clone(),
            publish_dir: recording.recording_publish_dir.clone(),
            unpublish_dir: recording.recording_unpublish_dir.clone(),
            policy: PublishPolicy {
                import_unpublished: recording.recording_import_unpublished,
                protected: recording.protected_recordings_enabled,
            },
            disabled: recording.recording_disabled,
            poll_interval: recording.recording_import_poll_interval,
            settle_time: Duration::from_secs(2),
            store_attempts: recording.db_connection_retry_count.max(1),
            store_backoff: Duration::from_secs(1),
            lease_ttl: (recording.recording_import_poll_interval * 3).max(MIN_LEASE_TTL),
            limits: ArchiveLimits {
                max_entries: recording.recording_import_max_entries,
                max_total_bytes: recording.recording_import_max_size,
                max_file_bytes: recording.recording_import_max_file_size,
            },
            io_backoff: Duration::from_secs(10),
            s3: None,
        }
    }

    /// Settings for the four directories under `root` (`spool`, `work`, `published`, `unpublished`, `failed`),
    /// with the original's defaults otherwise and short pauses: for tests and tools.
    pub fn under(root: &Path) -> Self {
        Self {
            spool_dir: root.join("spool"),
            work_dir: root.join("work"),
            publish_dir: root.join("published"),
            unpublish_dir: root.join("unpublished"),
            failed_dir: root.join("failed"),
            policy: PublishPolicy::default(),
            disabled: false,
            poll_interval: Duration::from_secs(60),
            settle_time: Duration::ZERO,
            store_attempts: 3,
            store_backoff: Duration::from_millis(50),
            lease_ttl: Duration::from_secs(60),
            limits: ArchiveLimits::default(),
            io_backoff: Duration::from_millis(200),
            s3: None,
        }
    }
}

/// `failed/` beside the spool directory.
pub fn default_failed_dir(spool: &Path) -> PathBuf {
    match spool.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join("failed"),
        _ => spool.join("failed"),
    }
}

/// Everything an import needs: the store, the settings, the counters and (optionally) the callback queue. Cheap to
/// clone; clones share the counters and the queue.
#[derive(Clone)]
pub struct ImportContext {
    store: Store,
    settings: Arc<ImportSettings>,
    metrics: Arc<Metrics>,
    callbacks: Option<CallbackQueue>,
    write_fault: Option<WriteFault>,
}

impl fmt::Debug for ImportContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportContext")
            .field("store", &self.store.kind())
            .field("settings", &self.settings)
            .field("callbacks", &self.callbacks.is_some())
            .finish()
    }
}

impl ImportContext {
    /// A context without recording-ready callbacks.
    pub fn new(store: Store, settings: ImportSettings) -> Self {
        Self {
            store,
            settings: Arc::new(settings),
            metrics: Arc::default(),
            callbacks: None,
            write_fault: None,
        }
    }

    /// Call `fault` before every file an import unpacks and every format it places; its error stands for that
    /// write's error. A seam for tests: a full disk cannot be made on demand.
    #[must_use]
    pub fn with_write_fault(mut self, fault: WriteFault) -> Self {
        self.write_fault = Some(fault);
        self
    }

    /// Send recording-ready callbacks after each import, from a background task tracked by `shutdown`. Once
    /// shutdown starts, the task gives what is queued a last attempt and ends (the caller's drain bounds it).
    /// Must be called inside a tokio runtime.
    pub fn with_callbacks(mut self, settings: CallbackSettings, shutdown: &Shutdown) -> Self {
        self.callbacks = Some(callbacks::spawn(
            self.store.clone(),
            settings,
            self.metrics.clone(),
            shutdown,
        ));
        self
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The settings.
    pub fn settings(&self) -> &ImportSettings {
        &self.settings
    }

    /// The counters, now.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }
}

/// What [`import_one`] did with an archive.
#[derive(Debug)]
pub enum ImportOutcome {
    /// Imported; the archive was removed from the spool.
    Imported(ImportReport),
    /// The archive cannot be imported. It was moved to `moved_to` in `failed/`; `None` when that was impossible
    /// (or the spool name now holds a newer copy), and the archive is where it was.
    Rejected {
        /// Why.
        reason: RejectReason,
        /// Where the archive is now.
        moved_to: Option<PathBuf>,
    },
    /// `RECORDING_DISABLED`: nothing was done.
    Disabled,
}

/// What an import wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The recordings, by record id.
    pub recordings: Vec<ImportedRecording>,
    /// Formats left out because their `metadata.xml` could not be used.
    pub skipped: Vec<SkippedFormat>,
    /// Files unpacked.
    pub files: u64,
    /// Bytes unpacked.
    pub bytes: u64,
}

/// One recording an import wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedRecording {
    /// Its record id.
    pub record_id: String,
    /// Its external meeting id.
    pub meeting_id: String,
    /// Whether it went to the publish directory (else the unpublish directory).
    pub published: bool,
    /// The formats imported, by name.
    pub formats: Vec<String>,
}

/// A format left out of an import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedFormat {
    /// `<format>/<recordID>` inside the archive.
    pub path: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for SkippedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// Why an archive cannot be imported (it goes to `failed/`).
#[derive(Debug, thiserror::Error)]
pub enum RejectReason {
    /// It cannot be unpacked.
    #[error("{0}")]
    Archive(ExtractError),
    /// It holds no `<format>/<recordID>/metadata.xml`.
    #[error("no <format>/<recordID>/metadata.xml in the archive")]
    NoMetadata,
    /// Every format's metadata was unusable.
    #[error("no format could be imported: {}", join_skipped(.0))]
    NoUsableFormat(Vec<SkippedFormat>),
}

fn join_skipped(skipped: &[SkippedFormat]) -> String {
    skipped
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// An import that did not happen for a reason that may pass; the archive stays in the spool.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The store did not answer after every attempt.
    #[error("the store is unavailable ({attempts} attempts): {source}")]
    Store {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        #[source]
        source: StoreError,
    },
    /// Reading the spool or writing files failed on this machine.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Another importer holds the `importer` lease.
    #[error(
        "another importer is active (it holds the `{LEASE_NAME}` lease); try again when it has stopped"
    )]
    LeaseHeld,
    /// A blocking step panicked.
    #[error("an import step failed unexpectedly: {0}")]
    Task(String),
    /// Uploading to the S3 bucket failed (`S3_RECORDING`); the archive stays in the spool.
    #[error("{context}: {source}")]
    S3 {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: S3Error,
    },
}

impl ImportError {
    fn io(context: impl Into<String>, source: io::Error) -> Self {
        ImportError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Import one archive (see the crate documentation). Does not take the lease: callers that may run beside a daemon
/// use [`import_backlog`].
///
/// # Errors
/// [`ImportError`] when the store or this machine failed; the archive is left in the spool. An archive at fault is
/// an `Ok(`[`ImportOutcome::Rejected`]`)`.
pub async fn import_one(ctx: &ImportContext, tar: &Path) -> Result<ImportOutcome, ImportError> {
    if ctx.settings.disabled {
        return Ok(ImportOutcome::Disabled);
    }
    let staging = staging_of(spawn_stage(ctx, tar)).await;
    finish(ctx, tar, staging).await
}

/// How many archives a backlog unpacks ahead of the last one started: the unpacking (file system) of the next
/// archive runs while the store writes and the placements of the ones started wait on the store.
const STAGE_AHEAD: usize = 1;

/// An archive being unpacked (and its metadata read) on a blocking thread. Dropping it lets the unpacking finish
/// and then removes its scratch directory.
type StageTask = tokio::task::JoinHandle<Result<Staging, ImportError>>;

fn spawn_stage(ctx: &ImportContext, tar: &Path) -> StageTask {
    let settings = ctx.settings.clone();
    let tar = tar.to_path_buf();
    let fault = ctx.write_fault.clone();
    tokio::task::spawn_blocking(move || stage(&settings, &tar, fault.as_ref()))
}

async fn staging_of(task: StageTask) -> Result<Staging, ImportError> {
    task.await.map_err(|e| ImportError::Task(e.to_string()))?
}

/// The archives of one pass over the spool, each unpacked up to [`STAGE_AHEAD`] archives before its turn.
/// Unpacking only writes into the archive's own scratch directory, so doing it early changes nothing anybody sees.
struct Ahead<'a> {
    ctx: &'a ImportContext,
    waiting: std::vec::IntoIter<SpoolEntry>,
    started: VecDeque<(SpoolEntry, StageTask)>,
}

impl<'a> Ahead<'a> {
    fn new(ctx: &'a ImportContext, entries: Vec<SpoolEntry>) -> Self {
        Self {
            ctx,
            waiting: entries.into_iter(),
            started: VecDeque::new(),
        }
    }

    /// The next archive with its unpacking (started now if it was not yet), after starting the next ones'.
    fn next(&mut self) -> Option<(SpoolEntry, StageTask)> {
        while self.started.len() <= STAGE_AHEAD {
            let Some(entry) = self.waiting.next() else {
                break;
            };
            let task = spawn_stage(self.ctx, &entry.path);
            self.started.push_back((entry, task));
        }
        self.started.pop_front()
    }
}

/// How many archives a backlog writes and places at once. Each import waits on the store for most of its time (a few
/// round trips and a commit's flush), so a second one overlaps its waits with the first's; two imports of the same
/// recording never run at once, so each recording's archives still go in name order.
const IN_FLIGHT: usize = 2;

/// An archive's store write and placement, running.
struct Running {
    entry: SpoolEntry,
    record_ids: Vec<String>,
    task: tokio::task::JoinHandle<Result<ImportOutcome, ImportError>>,
}

/// What [`Imports::next`] gives.
enum Next {
    /// An archive's import finished (in name order).
    Done(SpoolEntry, Result<ImportOutcome, ImportError>),
    /// The lease was lost before the next archive's import started; [`Imports::drain`] the ones running.
    LeaseLost,
    /// Every archive is done.
    Empty,
}

/// The imports of one pass over the spool: archives unpacked ahead ([`Ahead`]), then written and placed up to
/// [`IN_FLIGHT`] at a time, each import whole and on its own (a failure leaves the others as they are), the results
/// given in name order.
struct Imports<'a> {
    ctx: &'a ImportContext,
    ahead: Ahead<'a>,
    /// The next archive, unpacked, waiting for a running import of one of its recordings.
    held: Option<(SpoolEntry, Result<Staging, ImportError>)>,
    running: VecDeque<Running>,
}

impl<'a> Imports<'a> {
    fn new(ctx: &'a ImportContext, entries: Vec<SpoolEntry>) -> Self {
        Self {
            ctx,
            ahead: Ahead::new(ctx, entries),
            held: None,
            running: VecDeque::new(),
        }
    }

    /// Start imports while fewer than [`IN_FLIGHT`] run and the next archive's recordings are not being imported,
    /// then wait for the oldest, renewing the lease meanwhile.
    async fn next(&mut self, lease: &mut Lease<'_>) -> Next {
        while self.running.len() < IN_FLIGHT {
            let (entry, staging) = match self.held.take() {
                Some(held) => held,
                None => {
                    let Some((entry, task)) = self.ahead.next() else {
                        break;
                    };
                    match lease.run(staging_of(task)).await {
                        Some(staging) => (entry, staging),
                        None => return Next::LeaseLost,
                    }
                }
            };
            let record_ids: Vec<String> = match &staging {
                Ok(Staging::Ready(staged)) => staged.recordings.keys().cloned().collect(),
                _ => Vec::new(),
            };
            let busy = self
                .running
                .iter()
                .any(|r| r.record_ids.iter().any(|id| record_ids.contains(id)));
            if busy {
                self.held = Some((entry, staging));
                break;
            }
            let ctx = self.ctx.clone();
            let tar = entry.path.clone();
            let task = tokio::spawn(async move { finish(&ctx, &tar, staging).await });
            self.running.push_back(Running {
                entry,
                record_ids,
                task,
            });
        }
        let Some(mut oldest) = self.running.pop_front() else {
            return Next::Empty;
        };
        // Once started, an import is finished even if the lease slipped away (stopping half-way is worse).
        let joined = match lease.run(&mut oldest.task).await {
            Some(joined) => joined,
            None => oldest.task.await,
        };
        Next::Done(oldest.entry, joined_outcome(joined))
    }

    /// Wait for the imports running (started archives are finished whatever happens), in name order; the archives
    /// not started stay in the spool.
    async fn drain(&mut self) -> Vec<(SpoolEntry, Result<ImportOutcome, ImportError>)> {
        self.held = None;
        let mut done = Vec::new();
        while let Some(running) = self.running.pop_front() {
            done.push((running.entry, joined_outcome(running.task.await)));
        }
        done
    }
}

fn joined_outcome(
    joined: Result<Result<ImportOutcome, ImportError>, tokio::task::JoinError>,
) -> Result<ImportOutcome, ImportError> {
    joined.map_err(|e| ImportError::Task(e.to_string()))?
}

/// The rest of [`import_one`] once the archive is unpacked: the store, the files, the spool.
async fn finish(
    ctx: &ImportContext,
    tar: &Path,
    staging: Result<Staging, ImportError>,
) -> Result<ImportOutcome, ImportError> {
    let staged = match staging {
        Err(e) => {
            ctx.metrics.error();
            return Err(e);
        }
        Ok(Staging::Rejected { reason, identity }) => {
            return reject(ctx, tar, &identity, reason).await;
        }
        Ok(Staging::Ready(staged)) => staged,
    };
    let result = write_and_place(ctx, tar, &staged).await;
    // The scratch directory goes with whatever was not moved out and the replaced copies.
    let Staged { scratch, trash, .. } = staged;
    let _ = tokio::task::spawn_blocking(move || {
        drop(scratch);
        if let Err(e) = std::fs::remove_dir_all(&trash) {
            if e.kind() != ErrorKind::NotFound {
                tracing::warn!(dir = %trash.display(), error.message = %e, "could not remove replaced copies");
            }
        }
    })
    .await;
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            ctx.metrics.error();
            return Err(e);
        }
    };
    ctx.metrics.imported(report.recordings.len());
    Ok(ImportOutcome::Imported(report))
}

/// An unpacked archive, its metadata read.
struct Staged {
    /// The unpacked archive.
    scratch: tempfile::TempDir,
    /// Where a re-import parks the copies it replaces (created when needed, removed with the scratch directory).
    trash: PathBuf,
    identity: TarIdentity,
    recordings: BTreeMap<String, Vec<StagedFormat>>,
    skipped: Vec<SkippedFormat>,
    extracted: Extracted,
}

struct StagedFormat {
    metadata: FormatMetadata,
    dir: PathBuf,
}

enum Staging {
    Ready(Staged),
    Rejected {
        reason: RejectReason,
        identity: TarIdentity,
    },
}

/// Unpack and read the metadata (blocking).
fn stage(
    settings: &ImportSettings,
    tar: &Path,
    fault: Option<&WriteFault>,
) -> Result<Staging, ImportError> {
    let identity = TarIdentity::of(tar)
        .map_err(|e| ImportError::io(format!("cannot read {}", tar.display()), e))?;
    if !settings.work_dir.is_dir() {
        std::fs::create_dir_all(&settings.work_dir).map_err(|e| {
            ImportError::io(format!("cannot create {}", settings.work_dir.display()), e)
        })?;
    }
    let scratch = tempfile::Builder::new()
        .prefix(SCRATCH_PREFIX)
        .tempdir_in(&settings.work_dir)
        .map_err(|e| {
            ImportError::io(
                format!(
                    "cannot create a scratch directory in {}",
                    settings.work_dir.display()
                ),
                e,
            )
        })?;
    // The archive is unpacked into the scratch directory itself, and copies replaced on a re-import go to a
    // sibling made only when needed: every directory made (and removed after) costs an inode allocation, the
    // import's most expensive system call on ext4 (`perf`: mkdir and file creation were 70% of its kernel time).
    let root = scratch.path().to_path_buf();
    let mut trash = root.clone().into_os_string();
    trash.push(".replaced");
    let trash = PathBuf::from(trash);

    let extracted = match archive::extract(tar, &root, &settings.limits, fault) {
        Ok(extracted) => extracted,
        Err(ExtractError::Io { context, source }) => {
            return Err(ImportError::Io { context, source });
        }
        Err(e) => {
            return Ok(Staging::Rejected {
                reason: RejectReason::Archive(e),
                identity,
            });
        }
    };
    let found = place::find_formats(&root)
        .map_err(|e| ImportError::io(format!("cannot list {}", root.display()), e))?;
    if found.is_empty() {
        return Ok(Staging::Rejected {
            reason: RejectReason::NoMetadata,
            identity,
        });
    }

    let mut recordings: BTreeMap<String, Vec<StagedFormat>> = BTreeMap::new();
    let mut skipped = Vec::new();
    for format in found {
        match read_format(&format) {
            Ok(metadata) => recordings
                .entry(metadata.record_id.clone())
                .or_default()
                .push(StagedFormat {
                    metadata,
                    dir: format.dir,
                }),
            Err(reason) => {
                let path = format!("{}/{}", format.format, format.record_id);
                skipped.push(SkippedFormat { path, reason });
            }
        }
    }
    if recordings.is_empty() {
        return Ok(Staging::Rejected {
            reason: RejectReason::NoUsableFormat(skipped),
            identity,
        });
    }
    Ok(Staging::Ready(Staged {
        scratch,
        trash,
        identity,
        recordings,
        skipped,
        extracted,
    }))
}

/// Read one format's metadata and check it names the directory it lives in (the original moves the directory the
/// XML names; requiring both to agree means the files placed are the ones the metadata describes).
fn read_format(format: &FoundFormat) -> Result<FormatMetadata, String> {
    let bytes = std::fs::read(format.dir.join("metadata.xml"))
        .map_err(|e| format!("cannot read metadata.xml: {e}"))?;
    let metadata = parse_metadata(&bytes).map_err(|e| e.to_string())?;
    if metadata.playback.format != format.format || metadata.record_id != format.record_id {
        return Err(format!(
            "metadata.xml describes {}/{} but lies in {}/{}",
            metadata.playback.format, metadata.record_id, format.format, format.record_id
        ));
    }
    Ok(metadata)
}

/// Write every recording to the store and move its files into place, then remove the archive and queue the
/// callbacks.
async fn write_and_place(
    ctx: &ImportContext,
    tar: &Path,
    staged: &Staged,
) -> Result<ImportReport, ImportError> {
    let settings = &ctx.settings;
    // Logged here rather than while reading: an archive with no usable format gets one line, when it is rejected.
    for skipped in &staged.skipped {
        tracing::warn!(
            archive = %tar.display(),
            "Skipping recording format from {} due to import error: {}",
            skipped.path,
            skipped.reason
        );
    }
    let mut report = ImportReport {
        recordings: Vec::new(),
        skipped: staged.skipped.clone(),
        files: staged.extracted.files,
        bytes: staged.extracted.bytes,
    };
    let mut callbacks = Vec::new();
    for (record_id, formats) in &staged.recordings {
        let stored = with_store_retries(settings, || async {
            match ctx.store.get_recording(record_id).await {
                Ok(recording) => Ok(Some(recording)),
                Err(StoreError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await?;
        let metadata: Vec<&FormatMetadata> = formats.iter().map(|f| &f.metadata).collect();
        let moves: Vec<(PathBuf, String)> = formats
            .iter()
            .map(|f| (f.dir.clone(), f.metadata.playback.format.clone()))
            .collect();
        let written = match (&settings.s3, stored) {
            // A re-import on the filesystem: the row stays locked from the write until the files are in place,
            // so a publish/unpublish call (which moves files under the same lock) runs wholly before or after.
            (None, Some(_)) => {
                let (lock, written) = with_store_retries(settings, || async {
                    let mut lock = ctx.store.lock_recording(record_id).await?;
                    let recording =
                        merge_recording(&metadata, Some(lock.recording()), settings.policy);
                    match lock.upsert(&recording).await {
                        Ok(written) => Ok((lock, written)),
                        Err(e) => {
                            lock.release().await;
                            Err(e)
                        }
                    }
                })
                .await?;
                if let Err(e) = place_files(ctx, staged, record_id, &moves, written.published).await
                {
                    lock.release().await;
                    return Err(e);
                }
                // Should the commit fail, the files are placed but the row is the old one; the archive stays in
                // the spool and its next import repairs the row.
                lock.commit().await.map_err(|source| ImportError::Store {
                    attempts: 1,
                    source,
                })?;
                written
            }
            // A first import (no publish call can reach a row that does not exist yet), or S3 (uploads are too
            // slow to hold a lock over; publishing is not supported there): the row first, then the files.
            (_, stored) => {
                let recording = merge_recording(&metadata, stored.as_ref(), settings.policy);
                let written: Recording =
                    with_store_retries(settings, || ctx.store.upsert_recording(recording.clone()))
                        .await?;
                // Files last: the store already says what they are, and a crash from here on is repaired by
                // importing the archive (still in the spool) again. The written row decides where they go (the
                // upsert is conditional on the row as it is when it runs).
                if let Some(bucket) = &settings.s3 {
                    for (dir, format) in &moves {
                        upload::upload_format(bucket, dir, format, record_id, written.published)
                            .await?;
                    }
                } else {
                    place_files(ctx, staged, record_id, &moves, written.published).await?;
                }
                written
            }
        };
        let published = written.published;

        let format_names: Vec<String> = formats
            .iter()
            .map(|f| f.metadata.playback.format.clone())
            .collect();
        tracing::info!(
            record_id = %record_id,
            meeting_id = %written.meeting_id,
            published,
            formats = %format_names.join(","),
            "Imported recording {record_id} from {}",
            tar.display()
        );
        callbacks.push(CallbackJob {
            record_id: record_id.clone(),
            meeting_id: written.meeting_id.clone(),
            tenant_id: written
                .metadata
                .iter()
                .find(|(k, _)| k == "tenant-id")
                .map(|(_, v)| v.clone()),
            attempts: 0,
        });
        report.recordings.push(ImportedRecording {
            record_id: record_id.clone(),
            meeting_id: written.meeting_id,
            published,
            formats: format_names,
        });
    }

    let tar_path = tar.to_path_buf();
    let identity = staged.identity.clone();
    match blocking(move || Ok(spool::remove(&tar_path, &identity))).await? {
        Ok(true) => {}
        Ok(false) => tracing::info!(
            archive = %tar.display(),
            "a newer copy of the archive arrived during the import; it will be imported next"
        ),
        // Importing it again is harmless; leaving the recording half-announced is not, so carry on.
        Err(e) => {
            tracing::warn!(archive = %tar.display(), error.message = %e, "could not remove the imported archive")
        }
    }
    if let Some(queue) = &ctx.callbacks {
        for job in callbacks {
            queue.push(job);
        }
    }
    Ok(report)
}

/// Move each unpacked format directory into the publish or unpublish tree (replacing any copy in either).
async fn place_files(
    ctx: &ImportContext,
    staged: &Staged,
    record_id: &str,
    moves: &[(PathBuf, String)],
    published: bool,
) -> Result<(), ImportError> {
    let publish = ctx.settings.publish_dir.clone();
    let unpublish = ctx.settings.unpublish_dir.clone();
    let trash = staged.trash.clone();
    let id = record_id.to_owned();
    let moves = moves.to_vec();
    let fault = ctx.write_fault.clone();
    blocking(move || {
        let to = Destinations {
            publish: &publish,
            unpublish: &unpublish,
            trash: &trash,
        };
        for (dir, format) in &moves {
            if let Some(fault) = &fault {
                fault(dir)
                    .map_err(|e| ImportError::io(format!("cannot place {format}/{id}"), e))?;
            }
            place::place_format(dir, format, &id, published, &to)
                .map_err(|e| ImportError::io(format!("cannot place {format}/{id}"), e))?;
        }
        Ok(())
    })
    .await
}

/// Move a rejected archive to `failed/` and log why, once.
async fn reject(
    ctx: &ImportContext,
    tar: &Path,
    identity: &TarIdentity,
    reason: RejectReason,
) -> Result<ImportOutcome, ImportError> {
    let message = reason.to_string();
    let tar_path = tar.to_path_buf();
    let identity = identity.clone();
    let failed_dir = ctx.settings.failed_dir.clone();
    let reason_text = message.clone();
    let moved = blocking(move || {
        Ok(spool::move_to_failed(
            &tar_path,
            &identity,
            &failed_dir,
            &reason_text,
        ))
    })
    .await?;
    let moved_to = match moved {
        Ok(Some(path)) => {
            tracing::error!(
                archive = %tar.display(),
                moved_to = %path.display(),
                "Failed to import recording {}: {message}; moved to {}",
                tar.display(),
                path.display()
            );
            Some(path)
        }
        Ok(None) => {
            tracing::error!(
                archive = %tar.display(),
                "Failed to import recording {}: {message}; a newer copy has arrived since and is kept",
                tar.display()
            );
            None
        }
        Err(e) => {
            tracing::error!(
                archive = %tar.display(),
                "Failed to import recording {}: {message}; could not move it to {} ({e}), it is left in the spool \
                 and skipped until restart",
                tar.display(),
                ctx.settings.failed_dir.display()
            );
            None
        }
    };
    ctx.metrics.failed();
    Ok(ImportOutcome::Rejected { reason, moved_to })
}

/// Run a store operation up to `store_attempts` times, pausing `store_backoff` (doubling, at most 30 s) in between.
/// `NotFound` and `Conflict` are answers, not outages, except that a `Conflict` from a write race is retried too.
async fn with_store_retries<T, F, Fut>(
    settings: &ImportSettings,
    mut op: F,
) -> Result<T, ImportError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let attempts = settings.store_attempts.max(1);
    let mut pause = settings.store_backoff;
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(e) if attempt >= attempts || matches!(e, StoreError::NotFound(_)) => {
                return Err(ImportError::Store {
                    attempts: attempt,
                    source: e,
                });
            }
            Err(e) => {
                tracing::warn!(attempt, error.message = %e, "store operation failed during an import; retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
                attempt += 1;
            }
        }
    }
}

/// Run blocking filesystem work off the async threads.
async fn blocking<T, F>(f: F) -> Result<T, ImportError>
where
    F: FnOnce() -> Result<T, ImportError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ImportError::Task(e.to_string()))?
}

/// The importer daemon: import what arrives in the spool until `shutdown`, while holding the `importer` lease
/// (renewed during long imports; a second importer stands by and takes over within one lease period when the
/// active one dies). Shutdown is looked at between archives: the archive in hand is finished first.
pub async fn run(ctx: ImportContext, shutdown: CancellationToken) {
    let settings = ctx.settings.clone();
    if let Err(e) = std::fs::create_dir_all(&settings.spool_dir) {
        tracing::warn!(spool = %settings.spool_dir.display(), error.message = %e, "cannot create the spool directory");
    }
    let (wake_tx, mut wake_rx) = mpsc::channel::<()>(1);
    let _watcher = watch(&settings.spool_dir, wake_tx);
    let holder = scalelite_core::storage::lease_holder_id();
    let mut lease = Lease::new(&ctx, &holder);
    let mut active = false;
    let mut skipped: HashSet<TarIdentity> = HashSet::new();
    let mut backoff = IoBackoff::default();
    tracing::info!(spool = %settings.spool_dir.display(), "recording importer started");

    while !shutdown.is_cancelled() {
        let wait = if settings.disabled {
            settings.poll_interval
        } else {
            match lease.keep().await {
                Ok(true) => {
                    ctx.metrics.set_active(true);
                    if !active {
                        active = true;
                        tracing::info!("this importer is active");
                        remove_scratch_leftovers(&settings.work_dir).await;
                    }
                    // Wake up in time to renew the lease even when nothing arrives.
                    pass(&ctx, &mut lease, &shutdown, &mut skipped, &mut backoff)
                        .await
                        .min(lease.renewal_period())
                }
                Ok(false) => {
                    ctx.metrics.set_active(false);
                    if active {
                        tracing::warn!("lost the importer lease to another importer; standing by");
                        active = false;
                    } else {
                        tracing::debug!("another importer holds the lease; standing by");
                    }
                    settings.poll_interval.min(settings.lease_ttl / 2)
                }
                Err(e) => {
                    ctx.metrics.set_active(false);
                    tracing::warn!(error.message = %e, "cannot reach the store for the importer lease");
                    settings.poll_interval
                }
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(()) = wake_rx.recv() => {
                // Let a burst of events (one per file written) settle into one rescan.
                tokio::time::sleep(Duration::from_millis(200)).await;
                while wake_rx.try_recv().is_ok() {}
            }
            () = tokio::time::sleep(wait) => {}
        }
    }
    if active {
        if let Err(e) = ctx.store.release_lease(LEASE_NAME, &holder).await {
            tracing::warn!(error.message = %e, "could not release the importer lease");
        }
    }
    ctx.metrics.set_active(false);
    tracing::info!("Exiting recording importer gracefully");
}

/// One pass over the spool. Returns how long to wait before the next.
async fn pass(
    ctx: &ImportContext,
    lease: &mut Lease<'_>,
    shutdown: &CancellationToken,
    skipped: &mut HashSet<TarIdentity>,
    backoff: &mut IoBackoff,
) -> Duration {
    let settings = &ctx.settings;
    // After a failure of this machine, not even a look at the spool until the pause is over: file events (the
    // failed import itself reads the archive) would otherwise turn the retry into a hot loop.
    if let Some(rest) = backoff.remaining() {
        return rest;
    }
    let mut wait = settings.poll_interval;
    let spool_dir = settings.spool_dir.clone();
    let entries = match blocking(move || {
        spool::list(&spool_dir).map_err(|e| ImportError::io("cannot list the spool", e))
    })
    .await
    {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(error.message = %e, "cannot list the spool directory");
            return wait;
        }
    };
    skipped.retain(|identity| entries.iter().any(|e| &e.identity == identity));
    let waiting: Vec<SpoolEntry> = entries
        .into_iter()
        .filter(|e| !skipped.contains(&e.identity))
        .collect();
    ctx.metrics.set_queue_depth(waiting.len());
    let now = SystemTime::now();
    let (fresh, ready): (Vec<SpoolEntry>, Vec<SpoolEntry>) = waiting
        .into_iter()
        .partition(|entry| entry.identity.is_fresh(now, settings.settle_time));
    if !fresh.is_empty() {
        // Still being written, perhaps: look again once it has been quiet for the settle time.
        wait = wait.min(settings.settle_time);
    }

    let mut imports = Imports::new(ctx, ready);
    let mut stop = None;
    while stop.is_none() && !shutdown.is_cancelled() {
        stop = match imports.next(lease).await {
            Next::Empty => break,
            Next::LeaseLost => {
                tracing::warn!("lost the importer lease during a pass; stopping it");
                Some(settings.poll_interval.min(settings.lease_ttl / 2))
            }
            Next::Done(entry, outcome) => {
                pass_outcome(ctx, &entry, outcome, wait, skipped, backoff, false)
            }
        };
    }
    // The imports already started are finished, whatever stopped the pass.
    for (entry, outcome) in imports.drain().await {
        let stopping = stop.is_some();
        if let Some(pause) = pass_outcome(ctx, &entry, outcome, wait, skipped, backoff, stopping) {
            stop = Some(stop.map_or(pause, |wait| wait.max(pause)));
        }
    }
    stop.unwrap_or(wait)
}

/// Book an import of the daemon's pass; `Some(pause)` when the pass should stop, the next to start after `pause`
/// (`wait` when nothing else says). Once the pass is `stopping`, a success does not end a pause a failure started.
fn pass_outcome(
    ctx: &ImportContext,
    entry: &SpoolEntry,
    outcome: Result<ImportOutcome, ImportError>,
    wait: Duration,
    skipped: &mut HashSet<TarIdentity>,
    backoff: &mut IoBackoff,
    stopping: bool,
) -> Option<Duration> {
    let settings = &ctx.settings;
    match outcome {
        Ok(ImportOutcome::Imported(_)) if stopping => {}
        Ok(ImportOutcome::Imported(_)) => backoff.succeeded(),
        Ok(ImportOutcome::Rejected { moved_to: None, .. }) => {
            skipped.insert(entry.identity.clone());
        }
        Ok(ImportOutcome::Rejected { .. }) => {}
        Ok(ImportOutcome::Disabled) => return Some(wait),
        Err(e @ ImportError::Store { .. }) => {
            tracing::error!(archive = %entry.path.display(), "Failed to import recording: {e}; it stays in the spool");
            // The next archives would fail the same way: wait for the next pass.
            return Some(wait);
        }
        Err(ImportError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
            tracing::debug!(archive = %entry.path.display(), "archive gone before it could be imported");
        }
        Err(e) => {
            // This machine failed (disk full, permissions, S3): the next archives would fail the same way.
            let pause = backoff.failed(settings.io_backoff);
            let disk_full = matches!(&e, ImportError::Io { source, .. } if is_disk_full(source));
            tracing::error!(
                archive = %entry.path.display(),
                disk_full,
                "Failed to import recording: {e}; it stays in the spool and imports pause for {pause:?}"
            );
            return Some(pause);
        }
    }
    None
}

/// The daemon's pause after this machine failed an import: from `io_backoff`, doubled after each further failure
/// up to [`MAX_IO_BACKOFF`], cleared by a successful import.
#[derive(Debug, Default)]
struct IoBackoff {
    until: Option<tokio::time::Instant>,
    next: Duration,
}

impl IoBackoff {
    /// Time left in the current pause, if one is running.
    fn remaining(&self) -> Option<Duration> {
        self.until
            .map(|until| until.saturating_duration_since(tokio::time::Instant::now()))
            .filter(|rest| !rest.is_zero())
    }

    /// Start a pause after a failure; returns its length.
    fn failed(&mut self, base: Duration) -> Duration {
        let pause = if self.next.is_zero() { base } else { self.next };
        let pause = pause.min(MAX_IO_BACKOFF);
        self.next = pause.saturating_mul(2).min(MAX_IO_BACKOFF);
        self.until = Some(tokio::time::Instant::now() + pause);
        pause
    }

    fn succeeded(&mut self) {
        *self = IoBackoff::default();
    }
}

/// A full disk or an exhausted quota (ENOSPC, EDQUOT).
fn is_disk_full(error: &io::Error) -> bool {
    error.kind() == ErrorKind::StorageFull
        || error.kind() == ErrorKind::QuotaExceeded
        || matches!(error.raw_os_error(), Some(28 | 122))
}

/// The importer lease as this process holds it: renewed when a third of its time has passed, not before every
/// archive.
struct Lease<'a> {
    ctx: &'a ImportContext,
    holder: &'a str,
    renewed: Option<tokio::time::Instant>,
}

impl<'a> Lease<'a> {
    fn new(ctx: &'a ImportContext, holder: &'a str) -> Self {
        Self {
            ctx,
            holder,
            renewed: None,
        }
    }

    fn renewal_period(&self) -> Duration {
        (self.ctx.settings.lease_ttl / 3).max(Duration::from_millis(100))
    }

    /// Take or renew the lease if due. `Ok(false)`: another importer holds it.
    async fn keep(&mut self) -> Result<bool, StoreError> {
        if self
            .renewed
            .is_some_and(|at| at.elapsed() < self.renewal_period())
        {
            return Ok(true);
        }
        let held = self
            .ctx
            .store
            .try_lease(LEASE_NAME, self.holder, self.ctx.settings.lease_ttl)
            .await;
        self.renewed = match held {
            Ok(true) => Some(tokio::time::Instant::now()),
            _ => None,
        };
        held
    }

    /// Run `import` (one archive's), renewing the lease meanwhile. `None` when the lease was lost before the import
    /// started.
    async fn run<T>(&mut self, import: impl Future<Output = T>) -> Option<T> {
        match self.keep().await {
            Ok(true) => {}
            Ok(false) => return None,
            // The store being down shows in the import itself.
            Err(e) => tracing::debug!(error.message = %e, "could not renew the importer lease"),
        }
        tokio::pin!(import);
        let mut renew = tokio::time::interval(self.renewal_period());
        renew.tick().await;
        loop {
            tokio::select! {
                result = &mut import => return Some(result),
                _ = renew.tick() => {
                    // The import in hand is finished even if the lease slipped away: stopping half-way is worse.
                    // The renewal is bounded: the import is not polled meanwhile, and on the embedded store it may
                    // hold the only write connection (a recording lock) that the renewal waits for.
                    self.renewed = None;
                    match tokio::time::timeout(self.renewal_period(), self.keep()).await {
                        Ok(Ok(false)) => {
                            tracing::warn!("the importer lease was taken over during an import");
                        }
                        Ok(_) => {}
                        Err(_) => tracing::debug!("the importer lease renewal is waiting; trying again later"),
                    }
                }
            }
        }
    }
}

/// Remove scratch directories a crashed import left behind (only this importer, holding the lease, uses them).
async fn remove_scratch_leftovers(work_dir: &Path) {
    let work_dir = work_dir.to_path_buf();
    let removed = tokio::task::spawn_blocking(move || {
        let mut removed = 0;
        let Ok(entries) = std::fs::read_dir(&work_dir) else {
            return removed;
        };
        for entry in entries.flatten() {
            let is_scratch = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(SCRATCH_PREFIX));
            if is_scratch
                && entry.file_type().is_ok_and(|t| t.is_dir())
                && std::fs::remove_dir_all(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
        removed
    })
    .await
    .unwrap_or(0);
    if removed > 0 {
        tracing::info!(
            removed,
            "removed scratch directories left by an interrupted import"
        );
    }
}

/// Watch the spool for new files; `None` (and a warning) when the platform or the filesystem cannot, in which case
/// the periodic rescan still finds everything.
fn watch(spool: &Path, wake: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    let handler = move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if matches!(
                event.kind,
                EventKind::Create(_) | EventKind::Modify(_) | EventKind::Access(_)
            ) {
                // A full channel already holds a wake-up.
                let _ = wake.try_send(());
            }
        }
    };
    let watcher = notify::recommended_watcher(handler).and_then(|mut watcher| {
        watcher.watch(spool, RecursiveMode::NonRecursive)?;
        Ok(watcher)
    });
    match watcher {
        Ok(watcher) => Some(watcher),
        Err(e) => {
            tracing::warn!(spool = %spool.display(), error.message = %e, "cannot watch the spool; relying on the periodic rescan");
            None
        }
    }
}

/// What [`import_backlog`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BacklogReport {
    /// Archives found in the spool.
    pub total: usize,
    /// Imported (and removed).
    pub imported: usize,
    /// Moved to `failed/` (or left, when that was impossible).
    pub rejected: usize,
    /// Left in the spool after a filesystem error.
    pub errors: usize,
}

/// Import every archive waiting in the spool, once (`scalelite-cli recordings:import`), calling
/// `progress(done, total)` after each. Takes the `importer` lease for the duration, so it never runs beside an
/// active importer daemon.
///
/// # Errors
/// [`ImportError::LeaseHeld`] when another importer is active; [`ImportError::Store`] when the store is down (the
/// remaining archives stay in the spool); [`ImportError::Io`] when the spool cannot be read.
pub async fn import_backlog(
    ctx: &ImportContext,
    mut progress: impl FnMut(usize, usize),
) -> Result<BacklogReport, ImportError> {
    let settings = &ctx.settings;
    let holder = scalelite_core::storage::lease_holder_id();
    let held = with_store_retries(settings, || {
        ctx.store.try_lease(LEASE_NAME, &holder, settings.lease_ttl)
    })
    .await?;
    let mut lease = Lease::new(ctx, &holder);
    lease.renewed = Some(tokio::time::Instant::now());
    if !held {
        return Err(ImportError::LeaseHeld);
    }
    let result = backlog(ctx, &mut lease, &mut progress).await;
    if let Err(e) = ctx.store.release_lease(LEASE_NAME, &holder).await {
        tracing::warn!(error.message = %e, "could not release the importer lease");
    }
    result
}

async fn backlog(
    ctx: &ImportContext,
    lease: &mut Lease<'_>,
    progress: &mut impl FnMut(usize, usize),
) -> Result<BacklogReport, ImportError> {
    let spool_dir = ctx.settings.spool_dir.clone();
    remove_scratch_leftovers(&ctx.settings.work_dir).await;
    let entries = blocking(move || {
        spool::list(&spool_dir)
            .map_err(|e| ImportError::io(format!("cannot list {}", spool_dir.display()), e))
    })
    .await?;
    let mut report = BacklogReport {
        total: entries.len(),
        ..BacklogReport::default()
    };
    ctx.metrics.set_queue_depth(entries.len());
    if ctx.settings.disabled && !entries.is_empty() {
        tracing::warn!("recordings are disabled (RECORDING_DISABLED); nothing imported");
        return Ok(report);
    }
    let mut imports = Imports::new(ctx, entries);
    let mut done = 0;
    let mut stop = None;
    while stop.is_none() {
        let (entry, outcome) = match imports.next(lease).await {
            Next::Empty => break,
            Next::LeaseLost => {
                stop = Some(Err(ImportError::LeaseHeld));
                break;
            }
            Next::Done(entry, outcome) => (entry, outcome),
        };
        stop = backlog_outcome(&entry, outcome, &mut report);
        done += 1;
        progress(done, report.total);
    }
    // The imports already started are finished, whatever stopped the backlog.
    for (entry, outcome) in imports.drain().await {
        let stopped = backlog_outcome(&entry, outcome, &mut report);
        if stop.is_none() {
            stop = stopped;
        }
        done += 1;
        progress(done, report.total);
    }
    match stop {
        Some(Err(e)) => Err(e),
        _ => Ok(report),
    }
}

/// Book an import of a backlog in `report`; `Some` when the backlog should stop: `Ok` with the report, `Err` with
/// the error.
fn backlog_outcome(
    entry: &SpoolEntry,
    outcome: Result<ImportOutcome, ImportError>,
    report: &mut BacklogReport,
) -> Option<Result<(), ImportError>> {
    match outcome {
        Ok(ImportOutcome::Imported(_)) => report.imported += 1,
        Ok(ImportOutcome::Rejected { .. }) => report.rejected += 1,
        Ok(ImportOutcome::Disabled) => {
            tracing::warn!("recordings are disabled (RECORDING_DISABLED); nothing imported");
            return Some(Ok(()));
        }
        Err(e @ ImportError::Store { .. }) => return Some(Err(e)),
        Err(ImportError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            tracing::error!(archive = %entry.path.display(), "Failed to import recording: {e}");
            report.errors += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests;

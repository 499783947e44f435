//! The recording importer against real storage (`docs/compatibility.md#importer`): archives
//! built like BBB's post-publish script builds them, imported with `import_one`, `import_backlog` and `run`, and
//! checked in the store and on disk field by field.

mod archives;
mod callbacks;
mod daemon;
mod limits;
mod outage;

use std::path::{Path, PathBuf};

use scalelite_core::storage::store::Store;
use scalelite_recording_importer::fixture::FixtureRecording;
use scalelite_recording_importer::{ImportContext, ImportOutcome, ImportReport, ImportSettings};

use crate::harness::*;

/// An importer over a fresh store and a fresh directory tree (`spool`, `work`, `published`, `unpublished`,
/// `failed` under one temporary directory).
pub(super) struct Env {
    pub dir: tempfile::TempDir,
    pub ctx: ImportContext,
    pub store: Store,
    _guard: Option<TestStore>,
}

impl Env {
    pub async fn new(backend: Backend) -> Env {
        Self::with(backend, |_| {}).await
    }

    pub async fn with(backend: Backend, configure: impl FnOnce(&mut ImportSettings)) -> Env {
        crate::init_logs();
        let guard = test_store(backend).await;
        let store = guard.store.clone();
        Self::over(store, Some(guard), configure)
    }

    /// An importer over an existing store.
    pub fn over(
        store: Store,
        guard: Option<TestStore>,
        configure: impl FnOnce(&mut ImportSettings),
    ) -> Env {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut settings = ImportSettings::under(dir.path());
        configure(&mut settings);
        Env {
            ctx: ImportContext::new(store.clone(), settings),
            store,
            dir,
            _guard: guard,
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn spool(&self) -> PathBuf {
        self.path("spool")
    }

    /// Drop the recording's archive into the spool.
    pub fn send(&self, recording: &FixtureRecording) -> PathBuf {
        recording
            .write_tar(&self.spool())
            .expect("write the archive")
    }

    /// Drop raw bytes into the spool as `<name>`.
    pub fn send_bytes(&self, name: &str, bytes: &[u8]) -> PathBuf {
        scalelite_recording_importer::fixture::write_atomically(&self.spool(), name, bytes)
            .expect("write the archive")
    }

    /// Import one archive that must import, and return the report.
    pub async fn import(&self, tar: &Path) -> ImportReport {
        match scalelite_recording_importer::import_one(&self.ctx, tar).await {
            Ok(ImportOutcome::Imported(report)) => report,
            other => panic!("expected an import of {}, got {other:?}", tar.display()),
        }
    }

    /// Every file under `relative` (a path relative to the environment), as sorted relative paths.
    pub fn files(&self, relative: &str) -> Vec<String> {
        files_under(&self.path(relative))
    }

    /// The scratch space holds nothing once an import is over.
    #[track_caller]
    pub fn assert_no_scratch_left(&self) {
        let work = self.path("work");
        let left: Vec<_> = std::fs::read_dir(&work)
            .map(|entries| entries.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "left in the work directory: {left:?}");
    }
}

/// Every file under `root` as sorted `/`-separated relative paths (none when `root` is missing).
pub(super) fn files_under(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                walk(root, &entry.path(), out);
            } else {
                let relative = entry.path().strip_prefix(root).unwrap().to_owned();
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Wait (bounded) until `check` holds; panics with `what` otherwise.
pub(super) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

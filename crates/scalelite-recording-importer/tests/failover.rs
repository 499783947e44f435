//! Two `scalelite-recording-importer` processes on one PostgreSQL + Redis: one imports, the other stands by. The
//! active one is killed (SIGKILL) while it unpacks a large archive; the standby takes over once the lease has
//! expired and imports the recording exactly once: one row, every file in place, the archive gone from the spool,
//! no half-placed copy and no scratch directory left. `RECORDING_IMPORT_POLL_INTERVAL=1` makes the lease last its
//! minimum (6 s).

use std::path::{Path, PathBuf};
use std::time::Duration;

use scalelite_core::domain::RecordingFilter;
use scalelite_core::storage::RecordingStore;
use scalelite_recording_importer::fixture::FixtureRecording;
use scalelite_testkit::process::Service;
use scalelite_testkit::{Backend, test_store};

const ACTIVE: &str = "this importer is active";
const STANDING_BY: &str = "another importer holds the lease; standing by";
/// Generous for a loaded two-core machine.
const WITHIN: Duration = Duration::from_secs(60);
/// The archive: this many files of `FILE_SIZE` bytes, so unpacking it takes a while.
const FILES: usize = 24;
const FILE_SIZE: usize = 8 << 20;

fn spawn_importer(env: &[(String, String)]) -> Service {
    Service::spawn(
        Path::new(env!("CARGO_BIN_EXE_scalelite-recording-importer")),
        &[],
        env,
    )
}

/// Entries of `dir` (none when it does not exist).
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|it| it.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

/// Every path under `dir`, recursively, relative to it.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for path in entries(&current) {
            out.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_importer_leaves_the_archive_to_the_standby_which_imports_it_once() {
    let store = test_store(Backend::Production).await;
    let dirs = tempfile::tempdir().unwrap();
    let dir = |sub: &str| dirs.path().join(sub);
    let mut env = store.env().to_vec();
    for (name, sub) in [
        ("RECORDING_SPOOL_DIR", "spool"),
        ("RECORDING_WORK_DIR", "work"),
        ("RECORDING_PUBLISH_DIR", "published"),
        ("RECORDING_UNPUBLISH_DIR", "unpublished"),
    ] {
        std::fs::create_dir_all(dir(sub)).unwrap();
        env.push((name.into(), dir(sub).display().to_string()));
    }
    env.push(("RECORDING_IMPORT_POLL_INTERVAL".into(), "1".into()));
    env.push((
        "RUST_LOG".into(),
        "info,scalelite_recording_importer=debug".into(),
    ));

    let mut active = spawn_importer(&env);
    assert!(
        active.wait_for_log(ACTIVE, WITHIN).await,
        "{}",
        active.log()
    );
    let standby = spawn_importer(&env);
    assert!(
        standby.wait_for_log(STANDING_BY, WITHIN).await,
        "the second importer stands by:\n{}",
        standby.log()
    );

    let mut recording =
        FixtureRecording::new("failover-meeting", 1_714_557_600_000).with_format("presentation");
    let files: Vec<(String, Vec<u8>)> = (0..FILES)
        .map(|n| (format!("video/part-{n}.webm"), vec![n as u8; FILE_SIZE]))
        .collect();
    recording.formats[0].files.extend(files.iter().cloned());
    let record_id = recording.record_id.clone();
    let tar = recording.write_tar(&dir("spool")).unwrap();

    // Kill the active importer as soon as it starts unpacking (its scratch directory appears).
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let unpacking = entries(&dir("work")).iter().any(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".scalelite-import-"))
        });
        if unpacking {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the import never started:\n{}",
            active.log()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    active.kill();
    assert!(
        tar.exists(),
        "the import finished before the kill; the archive is too small to test this"
    );
    assert!(
        !active.log().contains("Imported recording"),
        "{}",
        active.log()
    );

    assert!(
        standby.wait_for_log(ACTIVE, WITHIN).await,
        "the standby takes over once the dead importer's lease expired:\n{}",
        standby.log()
    );
    let deadline = tokio::time::Instant::now() + WITHIN;
    while tar.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the standby never imported:\n{}",
            standby.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Exactly once: one row, one import logged.
    let filter = RecordingFilter {
        record_ids: Some(vec![record_id.clone()]),
        states: None,
        ..RecordingFilter::default()
    };
    let rows = store.store.find_recordings(&filter).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].meeting_id, "failover-meeting");
    assert_eq!(
        standby.log().matches("Imported recording").count(),
        1,
        "{}",
        standby.log()
    );
    // Every file complete, in the published tree only; nothing half-placed.
    let placed = dir("published").join("presentation").join(&record_id);
    for (name, data) in &files {
        let bytes = std::fs::read(placed.join(name)).unwrap();
        assert!(
            bytes.len() == data.len() && bytes == *data,
            "{name} is incomplete"
        );
    }
    assert!(placed.join("metadata.xml").is_file());
    assert_eq!(
        tree(&dir("published"))
            .iter()
            .filter(|p| p.contains(".importing"))
            .count(),
        0
    );
    assert!(
        tree(&dir("unpublished")).is_empty(),
        "{:?}",
        tree(&dir("unpublished"))
    );
    // The spool is empty, nothing was rejected, and the dead importer's scratch directory was cleaned up.
    assert!(
        entries(&dir("spool")).is_empty(),
        "{:?}",
        entries(&dir("spool"))
    );
    assert!(entries(&dir("failed")).is_empty());
    assert!(
        entries(&dir("work")).is_empty(),
        "{:?}",
        entries(&dir("work"))
    );
}

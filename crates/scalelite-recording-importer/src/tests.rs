//! Log lines of `import_one`, on the embedded store (the behaviour on both back-ends is covered end to end in the
//! `scalelite-e2e` package).

use std::cell::RefCell;
use std::io::Write;
use std::sync::Once;

use scalelite_core::storage::sqlite::SqliteStore;
use scalelite_core::storage::store::Store;

use crate::fixture::{FixtureRecording, build_tar, write_atomically};
use crate::{ImportContext, ImportOutcome, ImportSettings, import_one};

thread_local! {
    /// What the subscriber wrote on this thread.
    static CAPTURED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Writes into this thread's [`CAPTURED`].
struct ThreadCapture;

impl Write for ThreadCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with(|captured| captured.borrow_mut().extend_from_slice(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One process-wide subscriber (warnings and errors, into the writing thread's buffer), installed once.
///
/// A subscriber set per test with `with_default` lost lines now and then (a third to half of the runs on a 2-core
/// machine): tracing caches whether a call site is wanted, and tests running on other threads without that
/// subscriber could leave a call site cached as "never". With one global subscriber every call site is wanted.
fn capture_logs() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ThreadCapture)
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
    });
}

/// Import each archive (name, bytes) on a fresh embedded store, on this thread (a current-thread runtime), and
/// return the warning and error lines logged meanwhile.
fn logged(archives: &[(&str, Vec<u8>)]) -> Vec<String> {
    capture_logs();
    CAPTURED.with(|captured| captured.borrow_mut().clear());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite3"))
            .await
            .unwrap();
        let ctx = ImportContext::new(Store::Embedded(store), ImportSettings::under(dir.path()));
        for (name, bytes) in archives {
            let tar = write_atomically(&ctx.settings().spool_dir, name, bytes).unwrap();
            let outcome = import_one(&ctx, &tar).await.unwrap();
            assert!(!matches!(outcome, ImportOutcome::Disabled));
        }
    });
    let text =
        CAPTURED.with(|captured| String::from_utf8(captured.borrow_mut().split_off(0)).unwrap());
    text.lines().map(str::to_owned).collect()
}

#[test]
fn a_rejected_archive_is_one_log_line() {
    let rid = "abc-1";
    let bad_everywhere = build_tar(&[
        (
            format!("presentation/{rid}/metadata.xml"),
            Some(b"<recording>".to_vec()),
        ),
        (
            format!("video/{rid}/metadata.xml"),
            Some(b"not xml".to_vec()),
        ),
    ]);
    for (name, bytes) in [
        ("bad-xml.tar", bad_everywhere),
        ("garbage.tar", b"garbage".repeat(100)),
        ("empty.tar", Vec::new()),
    ] {
        let lines = logged(&[(name, bytes)]);
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].contains("ERROR"), "{}", lines[0]);
        assert!(
            lines[0].contains("Failed to import recording"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains(&format!("failed/{name}")), "{}", lines[0]);
    }
}

#[test]
fn a_skipped_format_is_a_warning_and_the_rest_imports() {
    let recording = FixtureRecording::new("m", 1).with_format("presentation");
    let rid = recording.record_id.clone();
    let bytes = build_tar(&[
        (
            format!("presentation/{rid}/metadata.xml"),
            Some(recording.metadata_xml(&recording.formats[0]).into_bytes()),
        ),
        (
            format!("video/{rid}/metadata.xml"),
            Some(b"<recording/>".to_vec()),
        ),
    ]);
    let lines = logged(&[("partial.tar", bytes)]);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("WARN"));
    assert!(
        lines[0].contains(&format!(
            "Skipping recording format from video/{rid} due to import error: metadata.xml has no id"
        )),
        "{}",
        lines[0]
    );
}

/// `ImportSettings::from_config`: every field takes the variable it names (distinct values, so a swap fails).
#[test]
fn import_settings_take_their_variables() {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::time::Duration;

    use scalelite_core::config::{RecordingArgs, from_env_map};

    let env: HashMap<String, String> = [
        ("RECORDING_SPOOL_DIR", "/data/in/spool"),
        ("RECORDING_WORK_DIR", "/data/work"),
        ("RECORDING_PUBLISH_DIR", "/data/pub"),
        ("RECORDING_UNPUBLISH_DIR", "/data/unpub"),
        ("RECORDING_IMPORT_UNPUBLISHED", "true"),
        ("PROTECTED_RECORDINGS_ENABLED", "true"),
        ("RECORDING_DISABLED", "true"),
        ("RECORDING_IMPORT_POLL_INTERVAL", "2.5"),
        ("DB_CONNECTION_RETRY_COUNT", "7"),
        ("RECORDING_IMPORT_MAX_ENTRIES", "101"),
        ("RECORDING_IMPORT_MAX_SIZE", "102"),
        ("RECORDING_IMPORT_MAX_FILE_SIZE", "103"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let s = ImportSettings::from_config(&from_env_map::<RecordingArgs>(&env).unwrap());
    assert_eq!(s.spool_dir, PathBuf::from("/data/in/spool"));
    assert_eq!(s.failed_dir, PathBuf::from("/data/in/failed"));
    assert_eq!(s.work_dir, PathBuf::from("/data/work"));
    assert_eq!(s.publish_dir, PathBuf::from("/data/pub"));
    assert_eq!(s.unpublish_dir, PathBuf::from("/data/unpub"));
    assert!(s.policy.import_unpublished);
    assert!(s.policy.protected);
    assert!(s.disabled);
    assert_eq!(s.poll_interval, Duration::from_millis(2500));
    assert_eq!(s.store_attempts, 7);
    assert_eq!(
        (
            s.limits.max_entries,
            s.limits.max_total_bytes,
            s.limits.max_file_bytes
        ),
        (101, 102, 103)
    );
    assert!(
        s.s3.is_none(),
        "the binaries set S3 from S3Bucket::from_config"
    );

    let d = ImportSettings::from_config(&RecordingArgs::default());
    assert_eq!(d.spool_dir, PathBuf::from("/var/bigbluebutton/spool"));
    assert_eq!(d.failed_dir, PathBuf::from("/var/bigbluebutton/failed"));
    assert_eq!(
        d.work_dir,
        PathBuf::from("/var/bigbluebutton/recording/scalelite")
    );
    assert_eq!(d.publish_dir, PathBuf::from("/var/bigbluebutton/published"));
    assert_eq!(
        d.unpublish_dir,
        PathBuf::from("/var/bigbluebutton/unpublished")
    );
    assert!(!d.policy.import_unpublished && !d.policy.protected && !d.disabled);
    assert_eq!(d.poll_interval, Duration::from_secs(60));
    assert_eq!(d.store_attempts, 3);
}

#[test]
fn the_pause_after_a_machine_failure_doubles_up_to_the_cap_and_resets() {
    use std::time::Duration;

    use crate::{IoBackoff, MAX_IO_BACKOFF};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut backoff = IoBackoff::default();
        assert_eq!(backoff.remaining(), None);
        let base = Duration::from_secs(10);
        let pauses: Vec<Duration> = (0..8).map(|_| backoff.failed(base)).collect();
        let secs: Vec<u64> = pauses.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [10, 20, 40, 80, 160, 320, 600, 600]);
        assert_eq!(MAX_IO_BACKOFF, Duration::from_secs(600));
        assert!(
            backoff
                .remaining()
                .is_some_and(|rest| rest <= MAX_IO_BACKOFF)
        );
        backoff.succeeded();
        assert_eq!(backoff.remaining(), None);
        assert_eq!(backoff.failed(base), base);
    });
}

//! Log lines of `import_one`, on the embedded store (the behaviour on both back-ends is covered end to end in the
//! `scalelite-e2e` package).

use std::io::Write;
use std::sync::{Arc, Mutex};

use scalelite_core::storage::sqlite::SqliteStore;
use scalelite_core::storage::store::Store;

use crate::fixture::{FixtureRecording, build_tar, write_atomically};
use crate::{ImportContext, ImportOutcome, ImportSettings, import_one};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Import each archive (name, bytes) on a fresh embedded store and return the warning and error lines logged.
fn logged(archives: &[(&str, Vec<u8>)]) -> Vec<String> {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
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
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
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

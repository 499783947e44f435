use std::time::{Duration, UNIX_EPOCH};

use scalelite_core::storage::sqlite::SqliteStore;
use scalelite_core::storage::store::Store;
use tokio_util::sync::CancellationToken;

use crate::fixture::{FixtureRecording, write_atomically};
use crate::metrics::{CONTENT_TYPE, MetricsSnapshot, render, serve};
use crate::{ImportContext, ImportOutcome, ImportSettings, import_one};

#[test]
fn render_shows_the_snapshot_values() {
    let snapshot = MetricsSnapshot {
        imports_done: 3,
        recordings_imported: 4,
        imports_failed: 2,
        import_errors: 5,
        queue_depth: 7,
        last_import: Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_500)),
        callbacks_sent: 6,
        callbacks_failed: 1,
        active: true,
    };
    let text = render(&snapshot).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for expected in [
        "# TYPE scalelite_importer_imports_done counter",
        "scalelite_importer_imports_done_total 3",
        "scalelite_importer_recordings_imported_total 4",
        "scalelite_importer_imports_failed_total 2",
        "scalelite_importer_import_errors_total 5",
        "# TYPE scalelite_importer_queue_depth gauge",
        "scalelite_importer_queue_depth 7",
        "scalelite_importer_last_import_timestamp_seconds 1700000000.5",
        "scalelite_importer_callbacks_sent_total 6",
        "scalelite_importer_callbacks_failed_total 1",
        "# TYPE scalelite_importer_active gauge",
        "scalelite_importer_active 1",
    ] {
        assert!(
            lines.contains(&expected),
            "{expected:?} missing in:\n{text}"
        );
    }
    assert_eq!(lines.last(), Some(&"# EOF"));
    assert_eq!(text.matches("# EOF").count(), 1);
}

#[test]
fn nothing_imported_yet_has_no_last_import_time() {
    let text = render(&MetricsSnapshot::default()).unwrap();
    assert!(
        text.lines()
            .any(|line| line == "scalelite_importer_imports_done_total 0")
    );
    assert!(
        text.lines()
            .any(|line| line == "scalelite_importer_queue_depth 0")
    );
    assert!(!text.contains("last_import_timestamp"), "{text}");
}

#[tokio::test]
async fn the_listener_serves_the_importers_metrics_and_stops_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db.sqlite3"))
        .await
        .unwrap();
    let ctx = ImportContext::new(Store::Embedded(store), ImportSettings::under(dir.path()));
    let spool = ctx.settings().spool_dir.clone();
    let good = FixtureRecording::new("m", 1)
        .with_format("presentation")
        .write_tar(&spool)
        .unwrap();
    let bad = write_atomically(&spool, "garbage.tar", &b"garbage".repeat(100)).unwrap();
    for tar in [good, bad] {
        let outcome = import_one(&ctx, &tar).await.unwrap();
        assert!(!matches!(outcome, ImportOutcome::Disabled));
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(listener, ctx, shutdown.clone()));

    let http = reqwest::Client::new();
    let response = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        CONTENT_TYPE
    );
    let body = response.text().await.unwrap();
    for expected in [
        "scalelite_importer_imports_done_total 1",
        "scalelite_importer_recordings_imported_total 1",
        "scalelite_importer_imports_failed_total 1",
    ] {
        assert!(
            body.lines().any(|line| line == expected),
            "{expected}: {body}"
        );
    }
    assert!(
        body.contains("scalelite_importer_last_import_timestamp_seconds "),
        "{body}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");

    shutdown.cancel();
    server.await.unwrap().unwrap();
    assert!(
        http.get(format!("http://{addr}/metrics"))
            .send()
            .await
            .is_err(),
        "the listener is closed after shutdown"
    );
}

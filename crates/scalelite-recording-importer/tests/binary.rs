//! The `scalelite-recording-importer` binary as operators run it.

use std::time::Duration;

use scalelite_testkit::process::Service;
use scalelite_testkit::{Backend, test_store};

#[tokio::test]
async fn becomes_active_and_stops_on_sigterm() {
    let store = test_store(Backend::Embedded).await;
    let dirs = tempfile::tempdir().unwrap();
    let mut env = store.env().to_vec();
    for (name, sub) in [
        ("RECORDING_SPOOL_DIR", "spool"),
        ("RECORDING_WORK_DIR", "work"),
        ("RECORDING_PUBLISH_DIR", "published"),
        ("RECORDING_UNPUBLISH_DIR", "unpublished"),
    ] {
        let dir = dirs.path().join(sub);
        std::fs::create_dir_all(&dir).unwrap();
        env.push((name.into(), dir.display().to_string()));
    }
    let mut importer = Service::spawn(
        std::path::Path::new(env!("CARGO_BIN_EXE_scalelite-recording-importer")),
        &[],
        &env,
    );
    assert!(
        importer
            .wait_for_log("this importer is active", Duration::from_secs(30))
            .await,
        "the importer takes its lease:\n{}",
        importer.log()
    );
    importer.terminate();
    let status = importer.wait_exit(Duration::from_secs(30)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "exits cleanly on SIGTERM ({status:?}):\n{}",
        importer.log()
    );
}

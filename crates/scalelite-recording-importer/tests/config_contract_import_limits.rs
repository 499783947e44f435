//! Configuration contract of the importer's archive limits: the real binary, configured through its environment,
//! moves an archive over the limit to `failed/` with a reason naming the variable.

use std::path::{Path, PathBuf};
use std::time::Duration;

use scalelite_recording_importer::fixture::FixtureRecording;
use scalelite_testkit::process::Service;
use scalelite_testkit::{Backend, test_store};

/// Run the importer with `variable=value` on one archive: the `.reason` text of the archive in `failed/`, or `None`
/// when it was imported.
async fn import_with(variable: &str, value: &str) -> Option<String> {
    let store = test_store(Backend::Embedded).await;
    let dirs = tempfile::tempdir().unwrap();
    let mut env = store.env().to_vec();
    let dir = |sub: &str| -> PathBuf { dirs.path().join(sub) };
    for (name, sub) in [
        ("RECORDING_SPOOL_DIR", "spool"),
        ("RECORDING_WORK_DIR", "work"),
        ("RECORDING_PUBLISH_DIR", "published"),
        ("RECORDING_UNPUBLISH_DIR", "unpublished"),
    ] {
        std::fs::create_dir_all(dir(sub)).unwrap();
        env.push((name.into(), dir(sub).display().to_string()));
    }
    env.push(("RECORDING_IMPORT_POLL_INTERVAL".into(), "0.5".into()));
    env.push((variable.into(), value.into()));
    let recording =
        FixtureRecording::new("contract", 1_700_000_000_000).with_format("presentation");
    let tar = recording.write_tar(&dir("spool")).unwrap();
    let name = tar.file_name().unwrap().to_owned();
    let _importer = Service::spawn(
        Path::new(env!("CARGO_BIN_EXE_scalelite-recording-importer")),
        &[],
        &env,
    );
    let failed = dirs.path().join("failed").join(&name);
    let published = dir("published")
        .join("presentation")
        .join(&recording.record_id);
    for _ in 0..600 {
        if published.is_dir() {
            return None;
        }
        if let Ok(reason) = std::fs::read_to_string(format!("{}.reason", failed.display())) {
            return Some(reason);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the archive was neither imported nor moved to failed/");
}

#[tokio::test]
async fn contract_recording_import_max_entries() {
    let reason = import_with("RECORDING_IMPORT_MAX_ENTRIES", "1").await;
    assert!(
        reason
            .expect("refused")
            .contains("RECORDING_IMPORT_MAX_ENTRIES")
    );
    assert_eq!(
        import_with("RECORDING_IMPORT_MAX_ENTRIES", "1000").await,
        None
    );
}

#[tokio::test]
async fn contract_recording_import_max_size() {
    let reason = import_with("RECORDING_IMPORT_MAX_SIZE", "10").await;
    assert!(
        reason
            .expect("refused")
            .contains("RECORDING_IMPORT_MAX_SIZE")
    );
    assert_eq!(
        import_with("RECORDING_IMPORT_MAX_SIZE", "1000000").await,
        None
    );
}

#[tokio::test]
async fn contract_recording_import_max_file_size() {
    let reason = import_with("RECORDING_IMPORT_MAX_FILE_SIZE", "10").await;
    assert!(
        reason
            .expect("refused")
            .contains("RECORDING_IMPORT_MAX_FILE_SIZE")
    );
    assert_eq!(
        import_with("RECORDING_IMPORT_MAX_FILE_SIZE", "1000000").await,
        None
    );
}

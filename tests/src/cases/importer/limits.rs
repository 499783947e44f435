//! Importer limits: archives over the entry, total-size or file-size limit go to `failed/` with the reason and
//! leave nothing behind; a full disk keeps the archive in the spool and pauses the daemon instead of retrying hot.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use scalelite_core::storage::RecordingStore;
use scalelite_recording_importer::fixture::{FixtureRecording, build_tar};
use scalelite_recording_importer::{ArchiveLimits, ImportOutcome, RejectReason, WriteFault};
use tokio_util::sync::CancellationToken;

use super::*;

/// A recording archive with its metadata and `extra` more files of `size` bytes each.
fn archive_with(recording: &FixtureRecording, extra: usize, size: usize) -> Vec<u8> {
    let rid = &recording.record_id;
    let mut entries = vec![(
        format!("presentation/{rid}/metadata.xml"),
        Some(recording.metadata_xml(&recording.formats[0]).into_bytes()),
    )];
    for i in 0..extra {
        entries.push((
            format!("presentation/{rid}/slide-{i}.svg"),
            Some(vec![b'x'; size]),
        ));
    }
    build_tar(&entries)
}

/// The number of entries and the largest file of `archive_with(recording, extra, size)`, measured by importing it
/// without limits.
async fn measure(backend: Backend, bytes: &[u8]) -> (u64, u64) {
    let env = Env::new(backend).await;
    let tar = env.send_bytes("measure.tar", bytes);
    let report = env.import(&tar).await;
    let mut entries = 0;
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().unwrap() {
        entry.unwrap();
        entries += 1;
    }
    (entries, report.bytes)
}

async fn refused_over(backend: Backend, limits: ArchiveLimits, bytes: &[u8], variable: &str) {
    let env = Env::with(backend, |s| s.limits = limits).await;
    let tar = env.send_bytes("big.tar", bytes);
    match scalelite_recording_importer::import_one(&env.ctx, &tar)
        .await
        .unwrap()
    {
        ImportOutcome::Rejected {
            reason: RejectReason::Archive(why),
            moved_to: Some(moved),
        } => {
            assert!(why.to_string().contains(variable), "{why}");
            assert!(moved.starts_with(env.path("failed")));
            let reason = std::fs::read_to_string(format!("{}.reason", moved.display())).unwrap();
            assert!(reason.contains(variable), "{reason}");
        }
        other => panic!("expected a refusal naming {variable}, got {other:?}"),
    }
    assert!(env.files("spool").is_empty());
    assert!(env.files("published").is_empty());
    env.assert_no_scratch_left();
}

async fn accepted_at(backend: Backend, limits: ArchiveLimits, bytes: &[u8]) {
    let env = Env::with(backend, |s| s.limits = limits).await;
    let tar = env.send_bytes("fits.tar", bytes);
    env.import(&tar).await;
}

both_backends! {
    async fn archives_at_a_limit_import_and_over_it_go_to_failed(backend: Backend) {
        let recording = FixtureRecording::new("limits", 1_700_000_000_000).with_format("presentation");
        let bytes = archive_with(&recording, 3, 1000);
        let (entries, total) = measure(backend, &bytes).await;
        let base = ArchiveLimits::default();

        let at = ArchiveLimits { max_entries: entries, ..base };
        accepted_at(backend, at, &bytes).await;
        let over = ArchiveLimits { max_entries: entries - 1, ..base };
        refused_over(backend, over, &bytes, "RECORDING_IMPORT_MAX_ENTRIES").await;

        let at = ArchiveLimits { max_total_bytes: total, ..base };
        accepted_at(backend, at, &bytes).await;
        let over = ArchiveLimits { max_total_bytes: total - 1, ..base };
        refused_over(backend, over, &bytes, "RECORDING_IMPORT_MAX_SIZE").await;

        // The slides are the largest files (1000 bytes; the metadata is smaller).
        let at = ArchiveLimits { max_file_bytes: 1000, ..base };
        accepted_at(backend, at, &bytes).await;
        let over = ArchiveLimits { max_file_bytes: 999, ..base };
        refused_over(backend, over, &bytes, "RECORDING_IMPORT_MAX_FILE_SIZE").await;
    }

    async fn a_full_disk_keeps_the_archive_and_pauses_the_daemon(backend: Backend) {
        let env = Env::with(backend, |s| {
            // Passes as often as the tests allow, so a retry without a pause would show at once.
            s.poll_interval = Duration::from_millis(20);
            s.io_backoff = Duration::from_secs(5);
        })
        .await;
        let full = Arc::new(AtomicBool::new(true));
        let attempts = Arc::new(AtomicUsize::new(0));
        let fault: WriteFault = {
            let (full, attempts) = (full.clone(), attempts.clone());
            Arc::new(move |_: &std::path::Path| {
                if full.load(Ordering::SeqCst) {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
                } else {
                    Ok(())
                }
            })
        };
        let ctx = env.ctx.clone().with_write_fault(fault);
        let recording = FixtureRecording::new("disk-full", 1_700_000_000_000).with_format("presentation");
        let tar = env.send(&recording);

        let shutdown = CancellationToken::new();
        let daemon = tokio::spawn(scalelite_recording_importer::run(ctx, shutdown.clone()));
        eventually("the first attempt", || async { attempts.load(Ordering::SeqCst) >= 1 }).await;
        // During the pause (5 s from the failure) dozens of 20 ms passes go by: none touches the archive.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(attempts.load(Ordering::SeqCst), 1, "retried without a pause");
        assert!(tar.exists(), "the archive stays in the spool");
        assert!(env.files("failed").is_empty(), "a full disk is not the archive's fault");
        assert!(env.store.get_recording(&recording.record_id).await.is_err());
        env.assert_no_scratch_left();

        // Space again: after the pause the archive is imported.
        full.store(false, Ordering::SeqCst);
        eventually("imported after the pause", || async {
            env.store.get_recording(&recording.record_id).await.is_ok()
        })
        .await;
        // The row is written before the archive leaves the spool.
        eventually("the archive leaves the spool", || async { !tar.exists() }).await;
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), daemon).await.expect("the daemon stops").unwrap();
    }
}

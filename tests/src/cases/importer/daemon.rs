//! The importer daemon: picks up what arrives, holds the `importer` lease so no second importer runs, and stops
//! cleanly.

use std::time::Duration;

use scalelite_core::storage::{MiscStore, RecordingStore};
use scalelite_recording_importer::fixture::FixtureRecording;
use scalelite_recording_importer::{ImportError, LEASE_NAME, import_backlog};
use tokio_util::sync::CancellationToken;

use super::*;

both_backends! {
    async fn the_daemon_imports_what_arrives_and_holds_the_lease(backend: Backend) {
        // A long poll interval: the second archive can only be found through the spool watch.
        let env = Env::with(backend, |s| s.poll_interval = Duration::from_secs(3600)).await;
        let waiting = FixtureRecording::new("before-start", 1_700_000_000_000).with_format("presentation");
        env.send(&waiting);

        let shutdown = CancellationToken::new();
        let daemon = tokio::spawn(scalelite_recording_importer::run(env.ctx.clone(), shutdown.clone()));
        eventually("the waiting archive imported", || async {
            env.store.get_recording(&waiting.record_id).await.is_ok()
        })
        .await;

        let arriving = FixtureRecording::new("after-start", 1_700_000_000_000)
            .with_format("presentation")
            .with_format("video");
        env.send(&arriving);
        eventually("the arriving archive imported", || async { env.ctx.metrics().imports_done == 2 }).await;
        assert!(env.store.get_recording(&arriving.record_id).await.is_ok());
        assert!(env.files("spool").is_empty());
        assert!(env.path(&format!("published/video/{}/metadata.xml", arriving.record_id)).is_file());

        // Only one importer: the lease is held, and a one-shot import refuses to run beside the daemon.
        assert!(!env.store.try_lease(LEASE_NAME, "intruder", Duration::from_secs(60)).await.unwrap());
        let other = Env::over(env.store.clone(), None, |_| {});
        other.send(&FixtureRecording::new("elsewhere", 1).with_format("notes"));
        assert!(matches!(import_backlog(&other.ctx, |_, _| {}).await, Err(ImportError::LeaseHeld)));
        assert_eq!(other.files("spool").len(), 1, "nothing imported by the second importer");

        let metrics = env.ctx.metrics();
        assert_eq!(metrics.recordings_imported, 2);
        assert_eq!(metrics.queue_depth, 0);
        assert!(metrics.active, "scalelite_importer_active is 1 while the lease is held");

        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), daemon).await.expect("the daemon stops").unwrap();
        assert!(!env.ctx.metrics().active, "and 0 once the daemon stopped");
        // The lease is given up on the way out: another importer may start at once.
        assert!(env.store.try_lease(LEASE_NAME, "intruder", Duration::from_secs(60)).await.unwrap());
        env.store.release_lease(LEASE_NAME, "intruder").await.unwrap();
        let report = import_backlog(&other.ctx, |_, _| {}).await.unwrap();
        assert_eq!(report.imported, 1);
    }

    async fn a_standby_daemon_imports_nothing(backend: Backend) {
        let env = Env::with(backend, |s| s.poll_interval = Duration::from_millis(50)).await;
        // Another importer is active.
        assert!(env.store.try_lease(LEASE_NAME, "active-elsewhere", Duration::from_secs(600)).await.unwrap());
        let recording = FixtureRecording::new("standby", 1_700_000_000_000).with_format("podcast");
        let tar = env.send(&recording);

        let shutdown = CancellationToken::new();
        let daemon = tokio::spawn(scalelite_recording_importer::run(env.ctx.clone(), shutdown.clone()));
        // Give the standby a few of its 50 ms cycles; it must not touch the archive.
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(tar.exists());
        }
        assert!(env.store.get_recording(&recording.record_id).await.is_err());
        assert!(!env.ctx.metrics().active, "a standby reports scalelite_importer_active 0");

        // The active one goes away: the standby takes over and imports.
        env.store.release_lease(LEASE_NAME, "active-elsewhere").await.unwrap();
        eventually("the standby took over", || async {
            env.store.get_recording(&recording.record_id).await.is_ok()
        })
        .await;
        assert!(env.ctx.metrics().active);
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), daemon).await.expect("the daemon stops").unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_waits_for_archives_still_being_written() {
    let env = Env::with(Backend::Embedded, |s| {
        s.poll_interval = Duration::from_secs(3600);
        s.settle_time = Duration::from_secs(3);
    })
    .await;
    // Written in place (no rename), a third at a time: a copy in progress. Importing the first third would fail
    // (a truncated archive goes to failed/), so the importer must wait until the file has been quiet for the
    // settle time. Each write comes well within the settle time of the previous one, even on a loaded machine.
    let recording =
        FixtureRecording::new("slow-copy", 1_700_000_000_000).with_format("presentation");
    std::fs::create_dir_all(env.spool()).unwrap();
    let tar = env.spool().join(format!("{}.tar", recording.record_id));
    let bytes = recording.tar_bytes();
    let third = bytes.len() / 3;
    std::fs::write(&tar, &bytes[..third]).unwrap();

    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(scalelite_recording_importer::run(
        env.ctx.clone(),
        shutdown.clone(),
    ));
    for chunk in [&bytes[third..2 * third], &bytes[2 * third..]] {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let metrics = env.ctx.metrics();
        assert_eq!(
            (metrics.imports_done, metrics.imports_failed),
            (0, 0),
            "nothing is imported while the archive is being written"
        );
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().append(true).open(&tar).unwrap();
        file.write_all(chunk).unwrap();
    }
    eventually("imported once settled", || async {
        env.ctx.metrics().imports_done == 1
    })
    .await;
    assert!(env.store.get_recording(&recording.record_id).await.is_ok());
    assert!(!tar.exists());
    assert_eq!(env.ctx.metrics().imports_failed, 0);
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .expect("the daemon stops")
        .unwrap();
}

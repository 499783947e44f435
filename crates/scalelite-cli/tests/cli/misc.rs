//! `poll:all`, the recording tasks, `db:*`, `liveness`, and `--help` for every task.

use chrono::{TimeZone, Utc};
use fake_bbb::SeedMeeting;
use scalelite_core::domain::{PlaybackFormat, Recording, Tenant};
use scalelite_core::storage::RecordingStore;

use crate::support::*;

fn recording(record_id: &str, published: bool, metadata: &[(&str, &str)]) -> Recording {
    Recording {
        record_id: record_id.into(),
        meeting_id: format!("meeting-{record_id}"),
        name: Some(format!("Recording {record_id}")),
        published,
        participants: Some(3),
        state: Some(
            if published {
                "published"
            } else {
                "unpublished"
            }
            .into(),
        ),
        starttime: Utc.timestamp_opt(1_700_000_000, 0).single(),
        endtime: Utc.timestamp_opt(1_700_003_600, 0).single(),
        deleted_at: None,
        protected: false,
        publish_updated: false,
        metadata: metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        playback_formats: vec![PlaybackFormat {
            format: "presentation".into(),
            url: format!("/playback/presentation/2.3/{record_id}"),
            length: Some(60),
            processing_time: None,
            thumbnails: Vec::new(),
        }],
    }
}

fn metadata_value(recording: &Recording, key: &str) -> Option<String> {
    recording
        .metadata
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

/// Every task name, from the top-level help.
async fn task_names(cli: &Cli) -> Vec<String> {
    let out = cli.run(&["--help"]).await;
    let help = out.success().stdout.clone();
    let commands = help
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section");
    commands
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_has_help() {
    let cli = Cli::new(Backend::Embedded).await;
    let names = task_names(&cli).await;
    for expected in [
        "servers",
        "servers:add",
        "servers:sync",
        "status",
        "poll:all",
        "meetings:end",
        "tenants:update_lrs_kc",
        "tenantSettings:add",
        "recordings:addToTenant",
        "db:migrate",
        "liveness",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(names.len() >= 33, "{names:?}");
    for name in &names {
        let out = cli.run(&[name, "--help"]).await;
        assert!(
            out.success()
                .stdout
                .contains(&format!("Usage: scalelite-cli {name}")),
            "{name}: {out:?}"
        );
    }
    // Aliases and the bracket form reach the same help.
    for alias in ["meetings:list", "poll:servers", "db:setup"] {
        assert!(
            cli.run(&[alias, "--help"])
                .await
                .success()
                .stdout
                .contains("Usage: scalelite-cli"),
            "{alias}"
        );
    }
    let out = cli.run(&[]).await;
    assert_eq!(out.code, 2, "no task: help and status 2");
    assert!(out.stdout.contains("Usage:"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_and_bad_storage_settings() {
    let mut cli = Cli::new(Backend::Embedded).await;
    cli.set_env("DATABASE_URL", "mysql://nowhere");
    assert_eq!(
        cli.run(&["liveness"]).await.success().stdout,
        "success\n",
        "no store needed"
    );
    let message = cli.run(&["servers"]).await.failure();
    assert!(message.contains("DATABASE_URL"), "{message}");
}

both_backends! {
    async fn recordings_import_imports_the_spool_backlog(backend: Backend) {
        let mut cli = Cli::new(backend).await;
        let root = tempfile::tempdir().unwrap();
        let dir = |name: &str| root.path().join(name).display().to_string();
        for (var, name) in [
            ("RECORDING_SPOOL_DIR", "spool"),
            ("RECORDING_WORK_DIR", "work"),
            ("RECORDING_PUBLISH_DIR", "published"),
            ("RECORDING_UNPUBLISH_DIR", "unpublished"),
        ] {
            std::fs::create_dir_all(dir(name)).unwrap();
            cli.set_env(var, &dir(name));
        }
        let recording = scalelite_recording_importer::fixture::FixtureRecording::new("cli-meeting", 1_700_000_000_000)
            .with_format("presentation");
        let tar = recording.write_tar(&root.path().join("spool")).unwrap();
        // Older than the importer's settle time, as a finished transfer would be.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(&tar).unwrap().set_modified(old).unwrap();

        let out = cli.run(&["recordings:import"]).await;
        assert_eq!(
            out.success().stdout,
            "Imported 1 of 1 archives (0 moved to failed, 0 left in the spool)\n"
        );
        assert!(!tar.exists(), "the archive leaves the spool");
        let stored = cli.store().get_recording(&recording.record_id).await.unwrap();
        assert_eq!(stored.meeting_id, "cli-meeting");
        assert!(root.path().join("published/presentation").join(&recording.record_id).is_dir());
        // Nothing left: a second run imports nothing.
        let out = cli.run(&["recordings:import"]).await;
        assert_eq!(out.success().stdout, "Imported 0 of 0 archives (0 moved to failed, 0 left in the spool)\n");
    }

    async fn database_tasks_open_the_store(backend: Backend) {
        let cli = Cli::new(backend).await;
        for task in ["db:migrate", "db:setup", "db:create", "db:schema:load"] {
            let out = cli.run(&[task]).await;
            let kind = match backend { Backend::Embedded => "embedded", Backend::Production => "production" };
            assert!(out.success().stdout.starts_with(&format!("Database ready: {kind}")), "{task}: {out:?}");
            assert!(out.stdout.ends_with("OK\n"));
        }
    }

    async fn poll_all_brings_servers_online(backend: Backend) {
        let cli = Cli::new(backend).await;
        let fake = fake_bbb::FakeServer::start("sec").await.unwrap();
        cli.add_server("s1", &fake.url(), "sec", ServerState::Enabled, None).await;
        cli.add_server("dead", "http://127.0.0.1:9/bigbluebutton/api/", "x", ServerState::Enabled, None).await;
        fake.seed_meeting(SeedMeeting { meeting_id: "m1".into(), participant_count: 4, running: true, ..SeedMeeting::default() }).unwrap();

        let out = cli.run(&["poll:all"]).await;
        assert_eq!(out.success().stdout, "Polled 2 servers: 1 online, 1 offline\n");
        let s1 = cli.server("s1").await;
        assert!(s1.online);
        // A fresh meeting counts at least LOAD_MIN_USER_COUNT (15) participants.
        assert_eq!(s1.load, Some(15.0));
        assert_eq!((s1.stats.meetings, s1.stats.users), (1, 4));
        assert!(!cli.server("dead").await.online);
        // The aliases run the same cycle.
        cli.run(&["poll:servers"]).await.success();
        let out = cli.run(&["status"]).await;
        assert!(out.success().stdout.contains(" online   1         4 "), "{out:?}");
    }

    async fn poll_all_run_twice_forgets_ended_meetings(backend: Backend) {
        let mut cli = Cli::new(backend).await;
        // The grace is the BBB client's connect + response timeout: 0.3 s here.
        cli.set_env("CONNECT_TIMEOUT", "0.1");
        cli.set_env("RESPONSE_TIMEOUT", "0.2");
        let fake = cli.add_fake("s1").await;
        cli.add_meeting("running", "s1", Some(&fake)).await;
        cli.add_meeting("ended", "s1", None).await;

        // The first one-off run finds "ended" missing and marks it in the store; it keeps it, in case its create
        // is still on the way to the server.
        cli.run(&["poll:all"]).await.success();
        assert_eq!(cli.meeting_ids().await, ["ended", "running"]);
        // Well past the grace, a second one-off run (a new process) finds it missing again: forgotten.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        cli.run(&["poll:all"]).await.success();
        assert_eq!(cli.meeting_ids().await, ["running"]);
        // The running meeting stays however often it runs.
        cli.run(&["poll:all"]).await.success();
        assert_eq!(cli.meeting_ids().await, ["running"]);
    }

    async fn poll_loop_runs_until_sigterm(backend: Backend) {
        let cli = Cli::new(backend).await;
        let fake = fake_bbb::FakeServer::start("sec").await.unwrap();
        cli.add_server("s1", &fake.url(), "sec", ServerState::Enabled, None).await;
        let mut child = cli.spawn(&["poll", "0.2"]);
        // Wait (bounded) until a cycle has brought the server online, then ask the process to stop.
        let mut online = false;
        for _ in 0..300 {
            if cli.server("s1").await.online {
                online = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(online, "the poll loop brought the server online");
        let pid = child.id().expect("running").to_string();
        let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        assert!(status.success());
        let exit = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait()).await
            .expect("stopped after SIGTERM").expect("exit status");
        assert!(exit.success(), "{exit:?}");
        assert!(fake.requests().iter().filter(|r| r.call == "getMeetings").count() >= 1);
        assert_eq!(cli.run(&["poll", "soon"]).await.failure(), "invalid interval 'soon': expected a number of seconds");
    }

    async fn recordings_add_to_tenant(backend: Backend) {
        let mut cli = Cli::new(backend).await;
        cli.set_env("MULTITENANCY_ENABLED", "true");
        let tenant = cli.store().add_tenant(Tenant {
            id: "tenant-uuid".into(),
            name: "t1".into(),
            secrets: vec![Secret::new("s")],
            ..Tenant::default()
        }).await.unwrap();
        cli.store().upsert_recording(recording("r1", true, &[])).await.unwrap();
        cli.store().upsert_recording(recording("r2", false, &[("tenant-id", "other"), ("k", "v")])).await.unwrap();
        cli.store().upsert_recording(recording("r3", true, &[("k", "v")])).await.unwrap();

        assert_eq!(cli.run(&["recordings:addToTenant"]).await.failure(), "No tenant ID was provided");
        assert_eq!(cli.run(&["recordings:addToTenant", "nope"]).await.failure(), "Couldn't find Tenant with id=nope");
        let out = cli.run(&["recordings:addToTenant", &tenant.id]).await;
        assert_eq!(out.success().stdout,
            "All existing recordings have been successfully linked to tenant tenant-uuid (2 updated)\n");
        let store = cli.store().clone();
        let get = |id: &'static str| {
            let store = store.clone();
            async move { store.get_recording(id).await.unwrap() }
        };
        assert_eq!(metadata_value(&get("r1").await, "tenant-id").as_deref(), Some("tenant-uuid"));
        assert_eq!(metadata_value(&get("r2").await, "tenant-id").as_deref(), Some("other"), "already had a tenant");
        let r3 = get("r3").await;
        assert_eq!(metadata_value(&r3, "tenant-id").as_deref(), Some("tenant-uuid"));
        assert_eq!(metadata_value(&r3, "k").as_deref(), Some("v"));
        assert_eq!(cli.run(&["recordings:addToTenant", &tenant.id]).await.success().stdout,
            "All existing recordings have been successfully linked to tenant tenant-uuid (0 updated)\n");
    }

    async fn recordings_update_moves_unpublished_files(backend: Backend) {
        let mut cli = Cli::new(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let (published, unpublished) = (dir.path().join("published"), dir.path().join("unpublished"));
        cli.set_env("RECORDING_PUBLISH_DIR", &published.display().to_string());
        cli.set_env("RECORDING_UNPUBLISH_DIR", &unpublished.display().to_string());
        for id in ["r1", "r2", "r3"] {
            let path = published.join("presentation").join(id);
            std::fs::create_dir_all(&path).unwrap();
            std::fs::write(path.join("index.html"), id).unwrap();
        }
        cli.store().upsert_recording(recording("r1", false, &[])).await.unwrap();
        cli.store().upsert_recording(recording("r2", true, &[])).await.unwrap();
        // r3 is unpublished and already has a copy in the unpublished tree: left alone.
        cli.store().upsert_recording(recording("r3", false, &[])).await.unwrap();
        std::fs::create_dir_all(unpublished.join("presentation").join("r3")).unwrap();

        let out = cli.run(&["recordings:update"]).await;
        assert_eq!(out.success().stdout, "Moved presentation of recording r1 to the unpublished directory\nOK\n");
        assert_eq!(std::fs::read_to_string(unpublished.join("presentation/r1/index.html")).unwrap(), "r1");
        assert!(!published.join("presentation/r1").exists());
        assert!(published.join("presentation/r2/index.html").exists());
        assert!(published.join("presentation/r3/index.html").exists());
        // Nothing left to move.
        assert_eq!(cli.run(&["recordings:update"]).await.success().stdout, "OK\n");
    }
}

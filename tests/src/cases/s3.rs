//! Recording storage in S3 (`S3_RECORDING`): the importer uploads instead of placing files
//! (`docs/compatibility.md#importer-s3`), and deleteRecordings deletes the objects instead of directories
//! (`docs/compatibility.md#api-deleterecordings`), against the in-memory fake S3 that checks every request's Signature
//! V4 with its own code.

use scalelite_core::storage::RecordingStore;
use scalelite_recording_importer::fixture::FixtureRecording;
use scalelite_recording_importer::{ImportError, ImportOutcome};

use super::importer::Env;
use crate::harness::*;
use crate::s3::FakeS3;

const BUCKET: &str = "test-bucket";

/// The keys an import of `recording` writes under `tree` (`published` or `unpublished`), sorted.
fn expected_keys(tree: &str, recording: &FixtureRecording) -> Vec<String> {
    let mut keys: Vec<String> = recording
        .formats
        .iter()
        .flat_map(|format| {
            let prefix = format!("{tree}/{}/{}/", format.format, recording.record_id);
            std::iter::once(format!("{prefix}metadata.xml")).chain(
                format
                    .files
                    .iter()
                    .map(move |(name, _)| format!("{prefix}{name}")),
            )
        })
        .collect();
    keys.sort();
    keys
}

/// The API in S3 mode with recording directories in a temporary directory, and an importer over its store
/// uploading to the same fake bucket.
struct S3Fixture {
    fake: FakeS3,
    app: TestApp,
    importer: Env,
    publish_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn s3_fixture(backend: Backend) -> S3Fixture {
    let fake = FakeS3::start().await;
    let api_bucket = fake.bucket(BUCKET);
    let dir = tempfile::tempdir().expect("temporary directory");
    let publish_dir = dir.path().join("published");
    let (p, u) = (publish_dir.clone(), dir.path().join("unpublished"));
    let app = TestApp::spawn_with(backend, move |s| {
        s.s3 = Some(api_bucket);
        s.recording_publish_dir = p;
        s.recording_unpublish_dir = u;
    })
    .await;
    let importer = Env::over(app.store.clone(), None, |s| {
        s.s3 = Some(fake.bucket(BUCKET))
    });
    S3Fixture {
        fake,
        app,
        importer,
        publish_dir,
        _dir: dir,
    }
}

both_backends! {
    async fn import_uploads_every_file_under_the_published_prefix(backend: Backend) {
        let fake = FakeS3::start().await;
        let env = Env::with(backend, |s| s.s3 = Some(fake.bucket(BUCKET))).await;
        let recording = FixtureRecording::new("s3-room", 1_700_000_000_000)
            .with_format("presentation")
            .with_format("podcast");
        let tar = env.send(&recording);
        let report = env.import(&tar).await;
        assert!(report.recordings[0].published);

        assert_eq!(fake.keys(BUCKET), expected_keys("published", &recording));
        let rid = &recording.record_id;
        let slide = fake
            .object(BUCKET, &format!("published/presentation/{rid}/presentation/deck/slide-1.png"))
            .unwrap();
        assert_eq!(slide.body, b"png");
        assert_eq!(slide.content_type.as_deref(), Some("image/png"));
        assert_eq!(slide.content_disposition, None);
        let audio = fake.object(BUCKET, &format!("published/podcast/{rid}/audio.ogg")).unwrap();
        assert_eq!(audio.content_type.as_deref(), Some("audio/ogg"));
        assert_eq!(audio.content_disposition.as_deref(), Some("attachment"));
        let metadata = fake.object(BUCKET, &format!("published/presentation/{rid}/metadata.xml")).unwrap();
        assert_eq!(metadata.content_type.as_deref(), Some("application/xml"));
        assert!(String::from_utf8(metadata.body).unwrap().contains(rid.as_str()));
        assert_eq!(fake.rejected(), 0);

        // Nothing on the filesystem: no placed files, no scratch, the archive gone; the store has the recording.
        assert!(env.files("published").is_empty(), "{:?}", env.files("published"));
        assert!(env.files("unpublished").is_empty());
        env.assert_no_scratch_left();
        assert!(!tar.exists());
        let stored = env.store.get_recording(rid).await.unwrap();
        assert!(stored.published);
        assert_eq!(stored.playback_formats.len(), 2);
    }

    async fn import_unpublished_uploads_under_the_unpublished_prefix(backend: Backend) {
        let fake = FakeS3::start().await;
        let env = Env::with(backend, |s| {
            s.s3 = Some(fake.bucket(BUCKET));
            s.policy.import_unpublished = true;
        })
        .await;
        let recording = FixtureRecording::new("s3-hidden", 1_700_000_000_000).with_format("presentation");
        let tar = env.send(&recording);
        env.import(&tar).await;
        assert_eq!(fake.keys(BUCKET), expected_keys("unpublished", &recording));
        assert!(!env.store.get_recording(&recording.record_id).await.unwrap().published);
    }

    async fn a_refused_upload_leaves_the_archive_in_the_spool(backend: Backend) {
        let fake = FakeS3::start().await;
        let env = Env::with(backend, |s| s.s3 = Some(fake.bucket_with_secret(BUCKET, "wrong secret"))).await;
        let recording = FixtureRecording::new("s3-denied", 1_700_000_000_000).with_format("presentation");
        let tar = env.send(&recording);
        let outcome = scalelite_recording_importer::import_one(&env.ctx, &tar).await;
        match outcome {
            Err(ImportError::S3 { source, .. }) => {
                let message = source.to_string();
                assert!(message.contains("403") && message.contains("SignatureDoesNotMatch"), "{message}");
                assert!(!message.contains("wrong secret"), "{message}");
            }
            other => panic!("expected an S3 error, got {other:?}"),
        }
        assert_eq!(fake.rejected(), 1);
        assert!(fake.keys(BUCKET).is_empty());
        assert!(tar.exists(), "the archive stays in the spool for the next pass");
        env.assert_no_scratch_left();
    }

    async fn delete_recordings_deletes_the_objects_and_marks_the_recording_deleted(backend: Backend) {
        let f = s3_fixture(backend).await;
        // Four objects: the listing takes two pages of the fake's two keys each.
        let doomed = FixtureRecording::new("s3-delete", 1_700_000_000_000).with_format("presentation");
        let kept = FixtureRecording::new("s3-keep", 1_700_000_000_000).with_format("presentation");
        for recording in [&doomed, &kept] {
            let tar = f.importer.send(recording);
            assert!(matches!(
                scalelite_recording_importer::import_one(&f.importer.ctx, &tar).await,
                Ok(ImportOutcome::Imported(_))
            ));
        }
        let rid = &doomed.record_id;
        // A copy left under the other prefix by an earlier import is removed too
        // (`docs/compatibility.md#api-deleterecordings`).
        f.fake.put(BUCKET, &format!("unpublished/presentation/{rid}/old.png"), b"old");
        // No filesystem deletion in S3 mode.
        let local = f.publish_dir.join("presentation").join(rid);
        std::fs::create_dir_all(&local).unwrap();
        std::fs::write(local.join("index.html"), "local").unwrap();

        let xml = f.app.call("deleteRecordings", &format!("recordID={rid}")).await;
        xml.assert_success();
        assert_eq!(xml.get("deleted").as_deref(), Some("true"));

        assert_eq!(f.fake.keys(BUCKET), expected_keys("published", &kept));
        let stored = f.app.store.get_recording(rid).await.unwrap();
        assert_eq!(stored.state.as_deref(), Some("deleted"));
        assert!(stored.playback_formats.is_empty() && stored.metadata.is_empty());
        assert_eq!(
            f.app.store.get_recording(&kept.record_id).await.unwrap().state.as_deref(),
            Some("published")
        );
        assert_eq!(std::fs::read_to_string(local.join("index.html")).unwrap(), "local");
        let log = f.fake.log();
        assert!(
            log.iter().any(|line| line.starts_with("GET /test-bucket?") && line.contains("continuation-token=")),
            "the listing should follow a continuation token: {log:?}"
        );
        assert_eq!(log.iter().filter(|line| line.starts_with("DELETE ")).count(), 5, "{log:?}");
        assert_eq!(f.fake.rejected(), 0);
    }

    async fn delete_recordings_answers_internal_error_when_s3_fails(backend: Backend) {
        let f = s3_fixture(backend).await;
        let recording = FixtureRecording::new("s3-broken", 1_700_000_000_000).with_format("presentation");
        let tar = f.importer.send(&recording);
        f.importer.import(&tar).await;
        let before = f.fake.keys(BUCKET);
        f.fake.fail();

        let xml = f.app.call("deleteRecordings", &format!("recordID={}", recording.record_id)).await;
        assert_eq!(xml.assert_failed("internalError"), "Unable to delete recording.");
        let stored = f.app.store.get_recording(&recording.record_id).await.unwrap();
        assert_eq!(stored.state.as_deref(), Some("published"));
        assert_eq!(stored.playback_formats.len(), 1);
        assert_eq!(f.fake.keys(BUCKET), before);
    }
}

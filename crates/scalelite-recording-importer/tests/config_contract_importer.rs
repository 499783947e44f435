//! Configuration contract of `scalelite-recording-importer`: each `contract_<variable>` sets that one variable in
//! the environment of the real binary and observes its effect from outside (files moved between directories, the
//! objects a fake S3 received, the recording's record in the store).

use std::path::{Path, PathBuf};
use std::time::Duration;

use scalelite_core::storage::{MiscStore, RecordingStore};
use scalelite_recording_importer::fixture::FixtureRecording;
use scalelite_testkit::contract::{
    PATIENCE, TapProxy, eventually, postgres_host, postgres_through, with_env,
};
use scalelite_testkit::process::Service;
use scalelite_testkit::s3::{ACCESS_KEY_ID, FakeS3, SECRET_ACCESS_KEY};
use scalelite_testkit::{Backend, TestStore, test_store};

const BIN: &str = env!("CARGO_BIN_EXE_scalelite-recording-importer");

/// The four directories, each under its own name in a temporary directory, and a store.
struct Importer {
    root: tempfile::TempDir,
    store: TestStore,
}

impl Importer {
    async fn new() -> Importer {
        Importer {
            root: tempfile::tempdir().unwrap(),
            store: test_store(Backend::Embedded).await,
        }
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// The importer with every directory under the root (`spool`, `work`, `published`, `unpublished`) and `extra`.
    fn spawn(&self, extra: &[(&str, &str)]) -> Service {
        let dirs: Vec<(String, String)> = [
            ("RECORDING_SPOOL_DIR", "spool"),
            ("RECORDING_WORK_DIR", "work"),
            ("RECORDING_PUBLISH_DIR", "published"),
            ("RECORDING_UNPUBLISH_DIR", "unpublished"),
        ]
        .iter()
        .map(|(name, dir)| ((*name).to_owned(), self.dir(dir).display().to_string()))
        .collect();
        let dirs: Vec<(&str, &str)> = dirs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut env: Vec<(&str, &str)> = Vec::new();
        env.extend(dirs);
        env.extend_from_slice(extra);
        Service::spawn(Path::new(BIN), &[], &with_env(self.store.env(), &env))
    }
}

fn recording() -> FixtureRecording {
    FixtureRecording::new("recorded-meeting", 1_700_000_000_000).with_format("presentation")
}

/// Wait until `path` exists; on failure show the importer's log.
async fn appears(path: &Path, service: &Service) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !path.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} did not appear within {PATIENCE:?}; log:\n{}",
            path.display(),
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn contract_recording_spool_dir() {
    let importer = Importer::new().await;
    let spool = importer.dir("elsewhere/spool");
    let spool_env = spool.display().to_string();
    let service = importer.spawn(&[("RECORDING_SPOOL_DIR", &spool_env)]);
    let recording = recording();
    let tar = recording.write_tar(&spool).unwrap();
    appears(
        &importer
            .dir("published")
            .join("presentation")
            .join(&recording.record_id),
        &service,
    )
    .await;
    assert!(!tar.exists(), "the archive left the spool");
}

#[tokio::test]
async fn contract_recording_work_dir() {
    // Scratch directories left by a crashed import are removed from the work directory on start.
    let importer = Importer::new().await;
    let work = importer.dir("scratch-space");
    let leftover = work.join(".scalelite-import-crashed");
    std::fs::create_dir_all(leftover.join("presentation")).unwrap();
    let work_env = work.display().to_string();
    let service = importer.spawn(&[("RECORDING_WORK_DIR", &work_env)]);
    eventually("the leftover is removed", || async { !leftover.exists() }).await;
    assert!(work.exists(), "{}", service.log());
}

#[tokio::test]
async fn contract_recording_publish_dir() {
    let importer = Importer::new().await;
    let publish = importer.dir("public/recordings");
    let publish_env = publish.display().to_string();
    let service = importer.spawn(&[("RECORDING_PUBLISH_DIR", &publish_env)]);
    let recording = recording();
    recording.write_tar(&importer.dir("spool")).unwrap();
    appears(
        &publish
            .join("presentation")
            .join(&recording.record_id)
            .join("metadata.xml"),
        &service,
    )
    .await;
}

#[tokio::test]
async fn contract_recording_unpublish_dir() {
    let importer = Importer::new().await;
    let unpublish = importer.dir("hidden/recordings");
    let unpublish_env = unpublish.display().to_string();
    let service = importer.spawn(&[
        ("RECORDING_UNPUBLISH_DIR", &unpublish_env),
        ("RECORDING_IMPORT_UNPUBLISHED", "true"),
    ]);
    let recording = recording();
    recording.write_tar(&importer.dir("spool")).unwrap();
    appears(
        &unpublish.join("presentation").join(&recording.record_id),
        &service,
    )
    .await;
}

#[tokio::test]
async fn contract_recording_import_unpublished() {
    let importer = Importer::new().await;
    let service = importer.spawn(&[("RECORDING_IMPORT_UNPUBLISHED", "true")]);
    let recording = recording();
    recording.write_tar(&importer.dir("spool")).unwrap();
    appears(
        &importer
            .dir("unpublished")
            .join("presentation")
            .join(&recording.record_id),
        &service,
    )
    .await;
    let record = importer
        .store
        .store
        .get_recording(&recording.record_id)
        .await
        .unwrap();
    assert!(!record.published);
    assert!(
        !importer
            .dir("published")
            .join("presentation")
            .join(&recording.record_id)
            .exists()
    );
}

#[tokio::test]
async fn contract_protected_recordings_enabled() {
    let importer = Importer::new().await;
    let service = importer.spawn(&[("PROTECTED_RECORDINGS_ENABLED", "true")]);
    let recording = recording();
    recording.write_tar(&importer.dir("spool")).unwrap();
    appears(
        &importer
            .dir("published")
            .join("presentation")
            .join(&recording.record_id),
        &service,
    )
    .await;
    let record = importer
        .store
        .store
        .get_recording(&recording.record_id)
        .await
        .unwrap();
    assert!(record.protected);
}

/// Another importer holds the lease for two more seconds. A standby looks again every poll interval (capped by the
/// lease), so with a half-second interval it takes over and imports the waiting archive soon after; the default
/// (60 s) would not look again within the test's patience.
#[tokio::test]
async fn contract_recording_import_poll_interval() {
    let importer = Importer::new().await;
    assert!(
        importer
            .store
            .store
            .try_lease("importer", "another-importer", Duration::from_secs(2))
            .await
            .unwrap()
    );
    let recording = recording();
    recording.write_tar(&importer.dir("spool")).unwrap();
    let service = importer.spawn(&[("RECORDING_IMPORT_POLL_INTERVAL", "0.5")]);
    appears(
        &importer
            .dir("published")
            .join("presentation")
            .join(&recording.record_id),
        &service,
    )
    .await;
}

// --- S3 ---------------------------------------------------------------------------------------------------------

const BUCKET: &str = "recordings-bucket";

/// The S3 settings that work with the fake, with `extra` over them.
fn s3_env<'a>(fake: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("S3_RECORDING", "true"),
        ("S3_BUCKET_NAME", BUCKET),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ("AWS_ENDPOINT_URL", fake),
    ];
    for (name, value) in extra {
        env.retain(|(k, _)| k != name);
        env.push((name, value));
    }
    env
}

/// The importer in S3 mode (with `extra`) and one recording in its spool; returns once the fake S3 has stored the
/// recording's metadata (in any bucket) or refused a request.
async fn import_to_s3(extra: &[(&str, &str)]) -> (FakeS3, String, Importer, Service) {
    let fake = FakeS3::start().await;
    let importer = Importer::new().await;
    let endpoint = fake.endpoint();
    let service = importer.spawn(&s3_env(&endpoint, extra));
    let recording = recording();
    recording.write_tar(&importer.dir("spool")).unwrap();
    let metadata = format!("/presentation/{}/metadata.xml", recording.record_id);
    let what = format!(
        "the fake S3 stores or refuses an upload; log:\n{}",
        service.log()
    );
    eventually(&what, || async {
        fake.rejected() > 0 || fake.log().iter().any(|line| line.contains(&metadata))
    })
    .await;
    assert!(
        !importer
            .dir("published")
            .join("presentation")
            .join(&recording.record_id)
            .exists(),
        "nothing is placed on disk in S3 mode"
    );
    (fake, recording.record_id, importer, service)
}

fn metadata_key(record_id: &str) -> String {
    format!("published/presentation/{record_id}/metadata.xml")
}

#[tokio::test]
async fn contract_s3_recording() {
    let (fake, record_id, _importer, _service) = import_to_s3(&[]).await;
    assert_eq!(fake.rejected(), 0);
    assert!(fake.object(BUCKET, &metadata_key(&record_id)).is_some());
}

#[tokio::test]
async fn contract_s3_bucket_name() {
    let (fake, record_id, _importer, _service) =
        import_to_s3(&[("S3_BUCKET_NAME", "other-bucket")]).await;
    assert!(
        fake.object("other-bucket", &metadata_key(&record_id))
            .is_some()
    );
    assert!(fake.keys(BUCKET).is_empty());
}

#[tokio::test]
async fn contract_aws_region() {
    let (fake, record_id, _importer, _service) =
        import_to_s3(&[("AWS_REGION", "eu-central-1")]).await;
    assert!(
        fake.object(BUCKET, &metadata_key(&record_id)).is_some(),
        "signed right"
    );
    let authorizations = fake.header_values("authorization");
    assert!(
        authorizations
            .iter()
            .all(|a| a.contains("/eu-central-1/s3/aws4_request")),
        "{authorizations:?}"
    );
}

#[tokio::test]
async fn contract_aws_access_key_id() {
    // The fake knows one access key only: another one is sent, and refused.
    let (fake, _, _importer, _service) =
        import_to_s3(&[("AWS_ACCESS_KEY_ID", "AKIDSOMEONEELSE")]).await;
    assert!(fake.rejected() > 0);
    let authorizations = fake.header_values("authorization");
    assert!(
        authorizations
            .iter()
            .all(|a| a.contains("Credential=AKIDSOMEONEELSE/")),
        "{authorizations:?}"
    );
}

#[tokio::test]
async fn contract_aws_secret_access_key() {
    // Signed with another secret than the one the fake checks with: refused, nothing stored.
    let (fake, _, _importer, _service) =
        import_to_s3(&[("AWS_SECRET_ACCESS_KEY", "not/the+right/secret")]).await;
    assert!(fake.rejected() > 0);
    assert!(fake.keys(BUCKET).is_empty());
}

#[tokio::test]
async fn contract_aws_session_token() {
    let (fake, _, _importer, _service) =
        import_to_s3(&[("AWS_SESSION_TOKEN", "temporary-token")]).await;
    let tokens = fake.header_values("x-amz-security-token");
    assert!(
        !tokens.is_empty() && tokens.iter().all(|t| t == "temporary-token"),
        "{tokens:?}"
    );
}

#[tokio::test]
async fn contract_aws_endpoint_url() {
    // Requests go path-style to the endpoint (the default would be AWS itself).
    let (fake, record_id, _importer, _service) = import_to_s3(&[]).await;
    let expected = format!("PUT /{BUCKET}/{}", metadata_key(&record_id));
    assert!(
        fake.log().iter().any(|line| line.starts_with(&expected)),
        "{:?}",
        fake.log()
    );
}

/// PostgreSQL goes away while an archive waits: with 2 attempts the import is given up for this pass after the
/// second (the default makes 3), and the archive is imported once the database is back.
#[tokio::test]
async fn contract_db_connection_retry_count() {
    let root = tempfile::tempdir().unwrap();
    let store = test_store(Backend::Production).await;
    let proxy = TapProxy::start(&postgres_host()).await;
    let mut env = postgres_through(store.env(), &proxy);
    for (name, dir) in [
        ("RECORDING_SPOOL_DIR", "spool"),
        ("RECORDING_WORK_DIR", "work"),
        ("RECORDING_PUBLISH_DIR", "published"),
        ("RECORDING_UNPUBLISH_DIR", "unpublished"),
    ] {
        env.push((name.to_owned(), root.path().join(dir).display().to_string()));
    }
    env.push(("DB_CONNECTION_RETRY_COUNT".to_owned(), "2".to_owned()));
    env.push(("RECORDING_IMPORT_POLL_INTERVAL".to_owned(), "1".to_owned()));
    let service = Service::spawn(Path::new(BIN), &[], &with_env(&env, &[]));
    assert!(
        service
            .wait_for_log("this importer is active", PATIENCE)
            .await,
        "{}",
        service.log()
    );
    proxy.cut();
    let recording = recording();
    recording.write_tar(&root.path().join("spool")).unwrap();
    assert!(
        service
            .wait_for_log("the store is unavailable (2 attempts)", PATIENCE)
            .await,
        "{}",
        service.log()
    );
    assert!(!service.log().contains("(3 attempts)"));
    proxy.restore();
    appears(
        &root
            .path()
            .join("published")
            .join("presentation")
            .join(&recording.record_id),
        &service,
    )
    .await;
}

/// The importer in S3 mode (with `extra`) importing a recording with a `size`-byte `big.bin`; returns the fake's
/// request log once the fake holds that object.
async fn import_big_to_s3(extra: &[(&str, &str)], size: usize) -> Vec<String> {
    let fake = FakeS3::start().await;
    let importer = Importer::new().await;
    let endpoint = fake.endpoint();
    let service = importer.spawn(&s3_env(&endpoint, extra));
    let mut recording = recording();
    let big: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
    recording.formats[0]
        .files
        .push(("big.bin".to_owned(), big.clone()));
    recording.write_tar(&importer.dir("spool")).unwrap();
    let key = format!("published/presentation/{}/big.bin", recording.record_id);
    let what = format!("the fake S3 holds {key}; log:\n{}", service.log());
    eventually(&what, || async { fake.object(BUCKET, &key).is_some() }).await;
    assert!(fake.object(BUCKET, &key).unwrap().body == big);
    fake.log()
        .into_iter()
        .filter(|line| line.contains("/big.bin"))
        .collect()
}

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn contract_s3_multipart_threshold() {
    // 3 MiB: one PutObject by default (8 MiB threshold), a multipart upload (of one part) above a 1 MiB threshold.
    let log = import_big_to_s3(&[], 3 * MIB).await;
    assert!(log.iter().all(|l| !l.contains("uploadId=")), "{log:?}");
    let log = import_big_to_s3(&[("S3_MULTIPART_THRESHOLD", "1048576")], 3 * MIB).await;
    assert!(
        log.iter()
            .any(|l| l.starts_with("POST ") && l.contains("uploads")),
        "{log:?}"
    );
    let parts = log.iter().filter(|l| l.contains("partNumber=")).count();
    assert_eq!(parts, 1, "{log:?}");
}

#[tokio::test]
async fn contract_s3_part_size() {
    // 11 MiB: two parts of the default 8 MiB, three of 5 MiB.
    let parts = |log: &[String]| log.iter().filter(|l| l.contains("partNumber=")).count();
    assert_eq!(parts(&import_big_to_s3(&[], 11 * MIB).await), 2);
    let log = import_big_to_s3(&[("S3_PART_SIZE", "5242880")], 11 * MIB).await;
    assert_eq!(parts(&log), 3, "{log:?}");

    // Below S3's 5 MiB minimum: the importer does not start.
    let fake = FakeS3::start().await;
    let importer = Importer::new().await;
    let endpoint = fake.endpoint();
    let mut service = importer.spawn(&s3_env(&endpoint, &[("S3_PART_SIZE", "1048576")]));
    let status = service
        .wait_exit(PATIENCE)
        .await
        .expect("the importer exits");
    assert!(!status.success());
    assert!(service.log().contains("S3_PART_SIZE"), "{}", service.log());
}

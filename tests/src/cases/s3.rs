//! Recording storage in S3 (`S3_RECORDING`): the importer uploads instead of placing files
//! (`docs/compatibility.md#importer-s3`), publishRecordings moves the objects between the prefixes
//! (`docs/compatibility.md#api-publishrecordings`), deleteRecordings deletes them
//! (`docs/compatibility.md#api-deleterecordings`), and protected playback goes through CloudFront
//! (`docs/compatibility.md#playback`).
//!
//! The recording calls run against two S3 servers on both store back-ends: the in-memory fake that checks every
//! request's Signature V4 with its own code, and moto's standalone server (a third-party S3, from PyPI). The fake
//! alone also checks signatures, request logs and injected faults.

use scalelite_core::storage::RecordingStore;
use scalelite_recording_importer::fixture::FixtureRecording;
use scalelite_recording_importer::{ImportError, ImportOutcome};
use scalelite_testkit::s3::{S3Kind, TestS3};

use super::importer::Env;
use crate::harness::*;
use crate::s3::FakeS3;

/// One test per S3 server (the fake, moto) and store back-end (embedded, production).
macro_rules! every_s3_and_backend {
    ($(async fn $name:ident($s3:ident: S3Kind, $backend:ident: Backend) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($s3: S3Kind, $backend: Backend) $body
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn fake_embedded() {
                    run(S3Kind::Fake, Backend::Embedded).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn fake_production() {
                    run(S3Kind::Fake, Backend::Production).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn moto_embedded() {
                    run(S3Kind::Moto, Backend::Embedded).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn moto_production() {
                    run(S3Kind::Moto, Backend::Production).await
                }
            }
        )*
    };
}

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

/// The API in S3 mode (and CloudFront mode when `cloudfront` is given) over `s3`, with an importer over its store
/// uploading to the same bucket.
struct Lifecycle {
    s3: TestS3,
    app: TestApp,
    importer: Env,
}

const CLOUDFRONT: &str = "https://d111111abcdef8.cloudfront.net";

async fn lifecycle(kind: S3Kind, backend: Backend, protected: bool) -> Lifecycle {
    let s3 = TestS3::start(kind).await;
    let bucket = s3.bucket(BUCKET).await;
    let api_bucket = bucket.clone();
    let app = TestApp::spawn_with(backend, move |s| {
        s.s3 = Some(api_bucket);
        s.protected_recordings = protected;
        s.secret_key_base = scalelite_core::domain::Secret::new("s3-playback-secret");
        s.cloudfront = Some(
            scalelite_api::cloudfront::CloudFront::new(
                CLOUDFRONT,
                "K2JCJMDEHXQW5F",
                scalelite_testkit::CLOUDFRONT_TEST_KEY,
            )
            .expect("the test key"),
        );
    })
    .await;
    let importer = Env::over(app.store.clone(), None, |s| {
        s.s3 = Some(bucket);
        s.policy.protected = protected;
    });
    Lifecycle { s3, app, importer }
}

/// The recording of the lifecycle tests: a presentation and a podcast.
fn two_formats(meeting: &str) -> FixtureRecording {
    FixtureRecording::new(meeting, 1_700_000_000_000)
        .with_format("presentation")
        .with_format("podcast")
}

/// Every object of `recording` is under `tree` with its content, and none under the other tree.
async fn assert_objects_under(s3: &TestS3, tree: &str, recording: &FixtureRecording) {
    let expected = expected_keys(tree, recording);
    let keys = s3.keys(BUCKET).await;
    let rid = &recording.record_id;
    let mine: Vec<String> = keys
        .into_iter()
        .filter(|k| k.contains(rid.as_str()))
        .collect();
    assert_eq!(mine, expected, "the objects should all be under {tree}/");
    let slide = s3
        .body(
            BUCKET,
            &format!("{tree}/presentation/{rid}/presentation/deck/slide-1.png"),
        )
        .await;
    assert_eq!(slide.as_deref(), Some(&b"png"[..]));
}

every_s3_and_backend! {
    async fn import_get_unpublish_publish_update_delete(kind: S3Kind, backend: Backend) {
        let f = lifecycle(kind, backend, false).await;
        let recording = two_formats("s3-life");
        let other = FixtureRecording::new("s3-bystander", 1_700_000_000_000).with_format("presentation");
        for r in [&recording, &other] {
            let tar = f.importer.send(r);
            f.importer.import(&tar).await;
        }
        let rid = &recording.record_id;
        assert_objects_under(&f.s3, "published", &recording).await;

        let xml = f.app.call("getRecordings", &format!("recordID={rid}")).await;
        xml.assert_success();
        assert!(xml.text.contains(&format!("<recordID>{rid}</recordID>")), "{}", xml.text);
        assert!(xml.text.contains("<published>true</published>"), "{}", xml.text);

        // Unpublish: every object moves to unpublished/ (copied on the server, then deleted).
        let xml = f.app.call("publishRecordings", &format!("recordID={rid}&publish=false")).await;
        xml.assert_success();
        assert_eq!(xml.get("published").as_deref(), Some("false"));
        assert_objects_under(&f.s3, "unpublished", &recording).await;
        let stored = f.app.store.get_recording(rid).await.unwrap();
        assert!(!stored.published);
        assert_eq!(stored.state.as_deref(), Some("unpublished"));
        let xml = f.app.call("getRecordings", &format!("recordID={rid}")).await;
        assert!(xml.text.contains("<state>unpublished</state>"), "{}", xml.text);
        // Asking again changes nothing.
        f.app.call("publishRecordings", &format!("recordID={rid}&publish=false")).await.assert_success();
        assert_objects_under(&f.s3, "unpublished", &recording).await;

        // Publish: back to published/.
        let xml = f.app.call("publishRecordings", &format!("recordID={rid}&publish=true")).await;
        xml.assert_success();
        assert_objects_under(&f.s3, "published", &recording).await;
        assert!(f.app.store.get_recording(rid).await.unwrap().published);

        // Update: metadata, with the objects untouched.
        let xml = f.app.call("updateRecordings", &format!("recordID={rid}&meta_course=Physics")).await;
        xml.assert_success();
        assert_eq!(xml.get("updated").as_deref(), Some("true"));
        let xml = f.app.call("getRecordings", &format!("recordID={rid}")).await;
        assert!(xml.text.contains("<course>Physics</course>"), "{}", xml.text);
        assert_objects_under(&f.s3, "published", &recording).await;

        // Delete: the recording's objects go, the other recording's stay.
        let xml = f.app.call("deleteRecordings", &format!("recordID={rid}")).await;
        xml.assert_success();
        assert_eq!(f.s3.keys(BUCKET).await, expected_keys("published", &other));
        assert_eq!(f.app.store.get_recording(rid).await.unwrap().state.as_deref(), Some("deleted"));
    }

    async fn an_interrupted_move_is_finished_by_the_same_call(kind: S3Kind, backend: Backend) {
        let f = lifecycle(kind, backend, false).await;
        let recording = two_formats("s3-half-moved");
        let tar = f.importer.send(&recording);
        f.importer.import(&tar).await;
        let rid = &recording.record_id;
        // As if an unpublish stopped after moving one object: it is under unpublished/ only, the rest under
        // published/, and the row still says published.
        let moved = format!("presentation/{rid}/shapes.svg");
        let body = f.s3.body(BUCKET, &format!("published/{moved}")).await.unwrap();
        f.s3.put(BUCKET, &format!("unpublished/{moved}"), &body).await;
        let bucket = f.s3.bucket(BUCKET).await;
        bucket.client.delete_object(BUCKET, &format!("published/{moved}")).await.unwrap();

        f.app.call("publishRecordings", &format!("recordID={rid}&publish=false")).await.assert_success();
        assert_objects_under(&f.s3, "unpublished", &recording).await;
        assert_eq!(
            f.s3.body(BUCKET, &format!("unpublished/{moved}")).await.as_deref(),
            Some(&b"<svg/>"[..])
        );
    }

    async fn publishing_a_recording_without_objects_fails_and_changes_nothing(kind: S3Kind, backend: Backend) {
        let f = lifecycle(kind, backend, false).await;
        let recording = two_formats("s3-gone");
        let tar = f.importer.send(&recording);
        f.importer.import(&tar).await;
        let rid = &recording.record_id;
        // The podcast's objects are gone from the bucket (under both prefixes).
        let bucket = f.s3.bucket(BUCKET).await;
        for key in bucket.client.list_objects(BUCKET, &format!("published/podcast/{rid}/")).await.unwrap() {
            bucket.client.delete_object(BUCKET, &key).await.unwrap();
        }
        let xml = f.app.call("publishRecordings", &format!("recordID={rid}&publish=false")).await;
        assert_eq!(xml.assert_failed("internalError"), "Unable to publish/unpublish recording.");
        // Nothing moved (the presentation is checked before anything moves) and the row is unchanged.
        let keys = f.s3.keys(BUCKET).await;
        assert!(keys.iter().all(|k| k.starts_with("published/presentation/")), "{keys:?}");
        assert!(!keys.is_empty());
        assert!(f.app.store.get_recording(rid).await.unwrap().published);
    }

    async fn protected_playback_goes_through_cloudfront(kind: S3Kind, backend: Backend) {
        let f = lifecycle(kind, backend, true).await;
        let recording = FixtureRecording::new("s3-protected", 1_700_000_000_000).with_format("presentation");
        let tar = f.importer.send(&recording);
        f.importer.import(&tar).await;
        let rid = &recording.record_id;
        assert!(f.app.store.get_recording(rid).await.unwrap().protected);
        let base = f.app.url("");

        // Without the access cookie the resource is refused, and no CloudFront cookie is given.
        let resource = format!("{base}/presentation/{rid}/");
        let refused = f.app.http.get(&resource).header("accept", "text/html").send().await.unwrap();
        assert_eq!(refused.status(), 404);
        assert!(refused.headers().get("set-cookie").is_none());

        // getRecordings gives a one-time link; following it sets the access cookie.
        let xml = f.app.call("getRecordings", &format!("recordID={rid}")).await;
        let link = xml
            .root
            .find_all("recordings/recording/playback/format")
            .into_iter()
            .find_map(|format| format.child_text("url"))
            .expect("a playback URL");
        assert!(link.starts_with(&format!("{base}/recording/{rid}/presentation?token=")), "{link}");
        let played = f.app.http.get(&link).send().await.unwrap();
        assert_eq!(played.status(), 307);
        let access = played.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();

        // With it, an HTML request is redirected to the recording on CloudFront with the three signed cookies.
        let granted = f.app.http.get(&resource).header("accept", "text/html").header("cookie", &access).send().await.unwrap();
        assert_eq!(granted.status(), 307);
        let location = granted.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(location, format!("{CLOUDFRONT}/published/presentation/{rid}/index.html"));
        let cookies: Vec<String> = granted
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let names: Vec<&str> = cookies.iter().map(|c| c.split('=').next().unwrap()).collect();
        assert_eq!(names, ["CloudFront-Policy", "CloudFront-Signature", "CloudFront-Key-Pair-Id"]);
        for cookie in &cookies {
            assert!(cookie.contains("; path=/; expires=") && cookie.ends_with("; secure; HttpOnly; SameSite=None"), "{cookie}");
        }
        assert!(cookies[2].starts_with("CloudFront-Key-Pair-Id=K2JCJMDEHXQW5F;"), "{}", cookies[2]);
        let policy = cookies[0].split(';').next().unwrap().trim_start_matches("CloudFront-Policy=");
        let policy = base64_decode_cloudfront(policy);
        let resource_pattern = format!("{CLOUDFRONT}/published/presentation/{rid}/*");
        assert!(policy.contains(&format!("\"Resource\":\"{resource_pattern}\"")), "{policy}");
        // What CloudFront serves there is the recording's objects in the bucket (the distribution's origin).
        let prefix = location.strip_prefix(CLOUDFRONT).unwrap().trim_start_matches('/').trim_end_matches("index.html");
        let served: Vec<String> = f.s3.keys(BUCKET).await.into_iter().filter(|k| k.starts_with(prefix)).collect();
        assert_eq!(served, expected_keys("published", &recording));

        // A request that does not negotiate HTML is served by nginx as usual.
        let image = f.app.http
            .get(format!("{base}/presentation/{rid}/presentation/deck/slide-1.png"))
            .header("accept", "image/png")
            .header("cookie", &access)
            .send()
            .await
            .unwrap();
        assert_eq!(image.status(), 200);
        assert_eq!(
            image.headers()["x-accel-redirect"],
            format!("/static-resource/presentation/{rid}/presentation/deck/slide-1.png").as_str()
        );
    }

    async fn a_big_file_streams_in_parts_and_an_interrupted_upload_is_redone_once(kind: S3Kind, backend: Backend) {
        // 12 MiB in 5 MiB parts: 5 + 5 + 2.
        let big: Vec<u8> = (0..12u32 * 1024 * 1024).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let mut recording = FixtureRecording::new("s3-big", 1_700_000_000_000).with_format("video");
        recording.formats[0].files.push(("big.mp4".to_owned(), big.clone()));
        let key = format!("published/video/{}/big.mp4", recording.record_id);
        let s3 = TestS3::start(kind).await;
        let direct = s3.bucket(BUCKET).await;
        let multipart = scalelite_core::s3::MultipartSettings {
            threshold: 5 * 1024 * 1024,
            part_size: 5 * 1024 * 1024,
        };
        // The first import loses S3 after the first part: through a proxy that cuts itself (moto), or the fake
        // failing every request from then on. Neither the part's retries nor the abort get through.
        let proxy = match &s3 {
            TestS3::Moto(moto) => {
                let target: std::net::SocketAddr = moto.endpoint().trim_start_matches("http://").parse().unwrap();
                Some(crate::proxy::TcpProxy::start(target).await)
            }
            TestS3::Fake(_) => None,
        };
        let mut first = match (&s3, &proxy) {
            (TestS3::Moto(moto), Some(proxy)) => moto.bucket_via(BUCKET, &format!("http://{}", proxy.addr())).await,
            _ => direct.clone(),
        };
        first.multipart = multipart;
        let env = Env::with(backend, |s| s.s3 = Some(first)).await;
        let tar = env.send(&recording);
        match (&s3, &proxy) {
            (TestS3::Fake(fake), _) => fake.fail_after_parts(1),
            (_, Some(proxy)) => proxy.cut_after(7 * 1024 * 1024),
            _ => unreachable!(),
        }
        let outcome = scalelite_recording_importer::import_one(&env.ctx, &tar).await;
        assert!(matches!(outcome, Err(ImportError::S3 { .. })), "{outcome:?}");
        assert!(tar.exists(), "the archive stays in the spool");
        match (&s3, &proxy) {
            (TestS3::Fake(fake), _) => fake.recover(),
            (_, Some(proxy)) => proxy.restore(),
            _ => unreachable!(),
        }
        let stale = s3.uploads(BUCKET).await;
        assert_eq!(stale.len(), 1, "the crashed upload is left behind: {stale:?}");
        assert_eq!(stale[0].0, key);
        assert!(s3.body(BUCKET, &key).await.is_none(), "no partial object is visible");

        // The next pass aborts the stale upload and uploads the file again: one complete, correct object.
        env.import(&tar).await;
        assert!(!tar.exists());
        assert_eq!(s3.uploads(BUCKET).await, Vec::<(String, String)>::new());
        let keys = s3.keys(BUCKET).await;
        assert_eq!(keys.iter().filter(|k| k.ends_with("big.mp4")).count(), 1, "{keys:?}");
        assert_eq!(keys, expected_keys("published", &recording));
        let stored = s3.body(BUCKET, &key).await.expect("the object");
        assert_eq!(stored.len(), big.len());
        assert!(stored == big, "the object has the file's bytes");
    }
}

/// Decode a CloudFront-base64 value (`-` `_` `~` for `+` `=` `/`).
fn base64_decode_cloudfront(value: &str) -> String {
    let standard: String = value
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '=',
            '~' => '/',
            c => c,
        })
        .collect();
    // A small decoder of its own, so the test does not share the API's base64 code path.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in standard.bytes().filter(|b| *b != b'=') {
        let value = ALPHABET.iter().position(|c| *c == byte).expect("base64") as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    String::from_utf8(out).expect("UTF-8 policy")
}

/// moto with authentication on checks our signatures with botocore's code: every operation the importer and the
/// API use, correctly signed, is accepted (listings without a `/` in the prefix, see `testkit::moto`); the same
/// request signed with another secret is refused.
#[tokio::test]
async fn moto_accepts_our_signatures_and_refuses_a_wrong_one() {
    let moto = scalelite_testkit::moto::Moto::start_authenticated().await;
    let bucket = moto.bucket(BUCKET).await;
    let (client, name) = (&bucket.client, BUCKET);
    client
        .put_object(
            name,
            "published/v/r/a.txt",
            b"hello".to_vec(),
            "text/plain",
            None,
        )
        .await
        .expect("PutObject");
    assert_eq!(
        client
            .get_object(name, "published/v/r/a.txt")
            .await
            .expect("GetObject"),
        b"hello"
    );
    client
        .copy_object(name, "published/v/r/a.txt", "unpublished/v/r/a.txt")
        .await
        .expect("CopyObject");
    let part = vec![7u8; 5 * 1024 * 1024];
    let id = client
        .create_multipart_upload(
            name,
            "published/v/r/big.bin",
            "application/octet-stream",
            None,
        )
        .await
        .expect("CreateMultipartUpload");
    let etag = client
        .upload_part(name, "published/v/r/big.bin", &id, 1, part.clone().into())
        .await
        .expect("UploadPart");
    let last = client
        .upload_part(name, "published/v/r/big.bin", &id, 2, vec![1u8; 10].into())
        .await
        .expect("UploadPart");
    assert_eq!(
        client
            .list_multipart_uploads(name, "published")
            .await
            .expect("ListMultipartUploads"),
        [("published/v/r/big.bin".to_owned(), id.clone())]
    );
    let parts = [
        scalelite_core::s3::CompletedPart { number: 1, etag },
        scalelite_core::s3::CompletedPart {
            number: 2,
            etag: last,
        },
    ];
    client
        .complete_multipart_upload(name, "published/v/r/big.bin", &id, &parts)
        .await
        .expect("CompleteMultipartUpload");
    let other = client
        .create_multipart_upload(name, "published/v/r/c.bin", "text/plain", None)
        .await
        .unwrap();
    client
        .abort_multipart_upload(name, "published/v/r/c.bin", &other)
        .await
        .expect("AbortMultipartUpload");
    client
        .copy_object_in_parts(
            name,
            "published/v/r/big.bin",
            "unpublished/v/r/big.bin",
            5 * 1024 * 1024 + 10,
            5 * 1024 * 1024,
            ("application/octet-stream", None),
        )
        .await
        .expect("UploadPartCopy");
    client
        .delete_object(name, "published/v/r/a.txt")
        .await
        .expect("DeleteObject");
    let mut keys = client.list_objects(name, "").await.expect("ListObjectsV2");
    keys.sort();
    assert_eq!(
        keys,
        [
            "published/v/r/big.bin",
            "unpublished/v/r/a.txt",
            "unpublished/v/r/big.bin"
        ]
    );
    let copied = client
        .get_object(name, "unpublished/v/r/big.bin")
        .await
        .unwrap();
    assert_eq!(copied.len(), 5 * 1024 * 1024 + 10);
    assert!(copied[..part.len()] == part[..] && copied[part.len()..] == [1u8; 10]);

    let refused = moto
        .client_with_wrong_secret()
        .list_objects(BUCKET, "")
        .await;
    match refused {
        Err(scalelite_core::s3::S3Error::Status {
            status: 403, code, ..
        }) => {
            assert_eq!(code, "SignatureDoesNotMatch");
        }
        other => panic!("expected SignatureDoesNotMatch, got {other:?}"),
    }
}

both_backends! {
    async fn a_failed_part_is_retried_and_parts_keep_type_and_disposition(backend: Backend) {
        let fake = FakeS3::start().await;
        let mut bucket = fake.bucket(BUCKET);
        bucket.multipart = scalelite_core::s3::MultipartSettings { threshold: 6 * 1024 * 1024, part_size: 5 * 1024 * 1024 };
        let env = Env::with(backend, |s| s.s3 = Some(bucket)).await;
        let audio: Vec<u8> = (0..11u32 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let mut recording = FixtureRecording::new("s3-retry", 1_700_000_000_000).with_format("podcast");
        recording.formats[0].files.push(("long.ogg".to_owned(), audio.clone()));
        let tar = env.send(&recording);
        // Two failures in a row: the part that meets them is tried a third time. Any other request is retried
        // the same way (here the listing of stale uploads).
        fake.fail_next_parts(2);
        fake.fail_next(1);
        env.import(&tar).await;
        let key = format!("published/podcast/{}/long.ogg", recording.record_id);
        let object = fake.object(BUCKET, &key).expect("uploaded");
        assert!(object.body == audio);
        assert_eq!(object.content_type.as_deref(), Some("audio/ogg"));
        assert_eq!(object.content_disposition.as_deref(), Some("attachment"));
        let log = fake.log();
        let parts: Vec<&String> = log.iter().filter(|l| l.starts_with("PUT ") && l.contains("partNumber=")).collect();
        assert_eq!(parts.len(), 5, "11 MiB in 5 MiB parts, the first tried three times: {log:?}");
        assert!(log.iter().any(|l| l.starts_with("POST ") && l.contains("uploads")), "{log:?}");
        // The small files went in one PutObject each.
        assert!(log.iter().any(|l| l.starts_with("PUT ") && l.contains("metadata.xml?") && !l.contains("partNumber")), "{log:?}");
        assert!(fake.uploads(BUCKET).is_empty());
        assert_eq!(fake.rejected(), 0);
    }
}

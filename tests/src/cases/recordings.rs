//! The recording calls through the API (`docs/compatibility.md#api-recordings`), on both back-ends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use scalelite_api::Settings;
use scalelite_core::bbb::xml::Element;
use scalelite_core::domain::{PlaybackFormat, Recording, Secret, Tenant, Thumbnail};
use scalelite_core::storage::{MiscStore, RecordingStore, TenantStore};
use sqlx::types::chrono::{DateTime, Utc};

use crate::harness::*;

/// Start of the first recording, as the original's factories (2002-10-31T02:02:02Z); recording `n` starts `n` days
/// later.
const BASE_MS: i64 = 1_036_029_722_000;
const DAY_MS: i64 = 86_400_000;
/// The MT fixtures' host: tenant `bn`.
const BN_HOST: &str = "bn.api.rna1.blindside-dev.com";
const OTHER_HOST: &str = "other.api.rna1.blindside-dev.com";

/// The API with its recording directories in a temporary directory.
struct Fixture {
    app: TestApp,
    _dir: tempfile::TempDir,
    published: PathBuf,
    unpublished: PathBuf,
}

async fn fixture(backend: Backend) -> Fixture {
    fixture_with(backend, |_| {}).await
}

async fn fixture_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let published = dir.path().join("published");
    let unpublished = dir.path().join("unpublished");
    let (p, u) = (published.clone(), unpublished.clone());
    let app = TestApp::spawn_with(backend, move |s| {
        s.recording_publish_dir = p;
        s.recording_unpublish_dir = u;
        configure(s);
    })
    .await;
    Fixture {
        app,
        _dir: dir,
        published,
        unpublished,
    }
}

fn time(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// The original's record id: `sha256(meeting id)-<start ms>`.
fn record_id(meeting_id: &str, n: i64) -> String {
    format!("{}-{}", sha256_hex(meeting_id), BASE_MS + n * DAY_MS)
}

/// A published recording of `meeting_id` starting `n` days after the base time, with a presentation format.
fn recording(meeting_id: &str, n: i64) -> Recording {
    let record_id = record_id(meeting_id, n);
    Recording {
        record_id: record_id.clone(),
        meeting_id: meeting_id.to_owned(),
        name: Some(format!("Meeting {meeting_id}")),
        published: true,
        participants: Some(3),
        state: Some("published".into()),
        starttime: time(BASE_MS + n * DAY_MS),
        endtime: time(BASE_MS + n * DAY_MS + 30 * 60_000),
        deleted_at: None,
        protected: false,
        publish_updated: false,
        metadata: vec![
            ("bbb-origin".into(), "Greenlight".into()),
            ("gl-listed".into(), "true".into()),
        ],
        playback_formats: vec![format("presentation", &record_id, 2)],
    }
}

fn format(name: &str, record_id: &str, thumbnails: i32) -> PlaybackFormat {
    PlaybackFormat {
        format: name.to_owned(),
        url: if name == "presentation" {
            format!("/playback/presentation/2.3/{record_id}")
        } else {
            format!("/{name}/{record_id}/")
        },
        length: Some(33),
        processing_time: Some(7177),
        thumbnails: (0..thumbnails)
            .map(|i| Thumbnail {
                width: Some(176),
                height: Some(136),
                alt: Some(format!("Slide {}", i + 1)),
                url: format!("/{name}/{record_id}/thumbnails/thumb-{}.png", i + 1),
                sequence: i,
            })
            .collect(),
    }
}

fn with_state(mut recording: Recording, state: Option<&str>, published: bool) -> Recording {
    recording.state = state.map(str::to_owned);
    recording.published = published;
    recording
}

fn with_meta(mut recording: Recording, key: &str, value: &str) -> Recording {
    recording.metadata.push((key.to_owned(), value.to_owned()));
    recording
}

async fn store(app: &TestApp, recordings: impl IntoIterator<Item = Recording>) {
    for recording in recordings {
        app.store
            .upsert_recording(recording)
            .await
            .expect("store a recording");
    }
}

/// `<dir>/<format>/<record_id>/index.html` holding `content`.
fn put_files(dir: &Path, format: &str, record_id: &str, content: &str) {
    let path = dir.join(format).join(record_id);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("index.html"), content).unwrap();
}

fn files(dir: &Path, format: &str, record_id: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(format).join(record_id).join("index.html")).ok()
}

/// Every entry of `dir`'s format directories (set-aside copies included), to show nothing is left behind.
fn entries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for format in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for entry in std::fs::read_dir(format.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            out.push(format!(
                "{}/{}",
                format.file_name().to_string_lossy(),
                entry.file_name().to_string_lossy()
            ));
        }
    }
    out.sort();
    out
}

fn ids(xml: &Xml) -> Vec<String> {
    xml.root
        .find_all("recordings/recording")
        .iter()
        .filter_map(|r| r.child_text("recordID"))
        .collect()
}

#[track_caller]
fn assert_no_recordings(xml: &Xml) {
    xml.assert_success();
    assert!(xml.root.child("recordings").is_some(), "{}", xml.text);
    assert!(ids(xml).is_empty(), "{}", xml.text);
    assert_eq!(xml.message_key(), "noRecordings", "{}", xml.text);
    assert_eq!(
        xml.get("message").as_deref(),
        Some("There are not recordings for the meetings")
    );
}

/// The names of `element`'s children, in order.
fn child_names(element: &Element) -> Vec<&str> {
    element.elements().map(|e| e.name.as_str()).collect()
}

/// A signed GET sent with another Host header (multitenancy).
async fn call_on_host(app: &TestApp, host: &str, call: &str, query: &str, secret: &str) -> Xml {
    let response = app
        .http
        .get(app.signed_with(call, query, secret))
        .header("host", host)
        .send()
        .await
        .expect("request");
    Xml::from(response).await
}

async fn add_tenant(app: &TestApp, id: &str, name: &str) -> Tenant {
    app.store
        .add_tenant(Tenant {
            id: id.to_owned(),
            name: name.to_owned(),
            secrets: vec![
                Secret::new(format!("{name}-secret-1")),
                Secret::new(format!("{name}-secret-2")),
            ],
            ..Tenant::default()
        })
        .await
        .expect("add tenant")
}

/// A form-encoded POST of `body` to `call` (no URL query).
async fn post_form(app: &TestApp, call: &str, body: String) -> Xml {
    let response = app
        .http
        .post(app.url(&format!("/bigbluebutton/api/{call}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("request");
    Xml::from(response).await
}

#[tokio::test]
async fn recording_calls_check_the_checksum() {
    let app = TestApp::spawn(Backend::Embedded).await;
    for call in [
        "getRecordings",
        "publishRecordings",
        "updateRecordings",
        "deleteRecordings",
    ] {
        let base = app.url(&format!("/bigbluebutton/api/{call}"));
        for url in [
            base.clone(),
            format!("{base}?checksum={}", "x".repeat(40)),
            format!(
                "{base}?recordID=r&publish=true&checksum={}",
                sha256_hex("nope")
            ),
        ] {
            let xml = Xml::from(app.http.get(&url).send().await.unwrap()).await;
            assert_eq!(
                xml.assert_failed("checksumError"),
                "You did not pass the checksum security check",
                "{url}"
            );
        }
        // A checksum computed for another call does not pass either.
        let query = "recordID=r&publish=true";
        let checksum = sha256_hex(&format!("getMeetings{query}{LB_SECRET}"));
        let url = app.url(&format!(
            "/bigbluebutton/api/{call}?{query}&checksum={checksum}"
        ));
        let xml = Xml::from(app.http.get(url).send().await.unwrap()).await;
        xml.assert_failed("checksumError");
    }
}

#[tokio::test]
async fn get_and_update_recordings_check_the_post_content_type() {
    let app = TestApp::spawn(Backend::Embedded).await;
    for call in ["getRecordings", "updateRecordings"] {
        let response = app
            .http
            .post(app.signed(call, "recordID=r"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        Xml::from(response)
            .await
            .assert_failed("unsupportedContentType");
        // With RECORDING_DISABLED the check stays.
        let disabled =
            TestApp::spawn_with(Backend::Embedded, |s| s.recording_disabled = true).await;
        let response = disabled
            .http
            .post(disabled.url(&format!("/bigbluebutton/api/{call}")))
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        Xml::from(response)
            .await
            .assert_failed("unsupportedContentType");
    }
    // A form body is fine, and its parameters count when the URL has none.
    app.store.upsert_recording(recording("m", 1)).await.unwrap();
    let body = "meetingID=m";
    let checksum = sha256_hex(&format!("getRecordings{body}{LB_SECRET}"));
    let xml = post_form(&app, "getRecordings", format!("{body}&checksum={checksum}")).await;
    assert_eq!(ids(&xml), [record_id("m", 1)]);
}

#[tokio::test]
async fn recording_disabled_variants_need_no_checksum() {
    let app = TestApp::spawn_with(Backend::Embedded, |s| s.recording_disabled = true).await;
    store(&app, [recording("m1", 1)]).await;
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let response = app
            .http
            .request(method.clone(), app.url("/bigbluebutton/api/getRecordings"))
            .send()
            .await
            .unwrap();
        assert_no_recordings(&Xml::from(response).await);
    }
    // The signed call is not answered from the store either.
    assert_no_recordings(&app.call("getRecordings", "").await);
    for call in ["publishRecordings", "updateRecordings", "deleteRecordings"] {
        let response = app
            .http
            .get(app.url(&format!("/bigbluebutton/api/{call}?recordID=x")))
            .send()
            .await
            .unwrap();
        let xml = Xml::from(response).await;
        assert_eq!(
            xml.assert_failed("notFound"),
            "We could not find recordings",
            "{call}"
        );
    }
    // Methods stay as routed: update takes POST, publish and delete do not.
    let xml = post_form(&app, "updateRecordings", "recordID=x".into()).await;
    xml.assert_failed("notFound");
    for call in ["publishRecordings", "deleteRecordings"] {
        post_form(&app, call, "recordID=x".into())
            .await
            .assert_failed("unsupportedRequest");
    }
    // The playback routes are gone too.
    let response = app
        .http
        .get(app.url(&format!("/presentation/{}/x", record_id("m1", 1))))
        .send()
        .await
        .unwrap();
    Xml::from(response)
        .await
        .assert_failed("unsupportedRequest");
}

both_backends! {
    async fn get_recordings_with_only_a_checksum_lists_published_and_unpublished(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        store(&app, [
            recording("m1", 1),
            with_state(recording("m2", 3), Some("unpublished"), false),
            recording("m3", 2),
            with_state(recording("m4", 4), Some("processing"), false),
            with_state(recording("m5", 5), Some("deleted"), false),
            with_state(recording("m6", 6), None, true),
        ])
        .await;
        let xml = app.call("getRecordings", "").await;
        xml.assert_success();
        // Newest first.
        assert_eq!(ids(&xml), [record_id("m2", 3), record_id("m3", 2), record_id("m1", 1)]);
        assert!(xml.get("messageKey").is_none(), "{}", xml.text);
        // The same as a form POST carrying only the checksum.
        let body = format!("checksum={}", sha256_hex(&format!("getRecordings{LB_SECRET}")));
        let posted = post_form(&app, "getRecordings", body).await;
        assert_eq!(ids(&posted), ids(&xml));
        // SHA1 works as well.
        let url = app.url(&format!(
            "/bigbluebutton/api/getRecordings?checksum={}",
            sha1_hex(&format!("getRecordings{LB_SECRET}"))
        ));
        let sha1 = Xml::from(app.http.get(url).send().await.unwrap()).await;
        assert_eq!(ids(&sha1), ids(&xml));
    }

    async fn get_recordings_by_meeting_id_field_by_field(backend: Backend) {
        let mut wanted = recording("room-1", 1);
        wanted.name = Some("Physics & <Chemistry>".into());
        wanted.metadata = vec![
            ("bbb-origin".into(), "Greenlight".into()),
            ("gl-listed".into(), String::new()),
            ("note".into(), "  ".into()),
            ("name-ü".into(), "漢字 <b>".into()),
        ];
        let rid = wanted.record_id.clone();
        let mut podcast = format("podcast", &rid, 0);
        podcast.processing_time = None;
        podcast.length = Some(60);
        wanted.playback_formats = vec![format("presentation", &rid, 2), podcast];

        // The same answer with and without GET_RECORDINGS_API_FILTERED.
        for filtered in [false, true] {
            let app = TestApp::spawn_with(backend, |s| s.get_recordings_filtered = filtered).await;
            store(&app, [wanted.clone(), recording("room-2", 2), recording("room-3", 3)]).await;
            let xml = app.call("getRecordings", "meetingID=room-1").await;
            xml.assert_success();
            assert_eq!(child_names(&xml.root), ["returncode", "recordings"]);
            let recordings = xml.root.find_all("recordings/recording");
            assert_eq!(recordings.len(), 1, "{}", xml.text);
            let r = recordings[0];
            assert_eq!(
                child_names(r),
                ["recordID", "meetingID", "internalMeetingID", "name", "published", "state", "startTime",
                 "endTime", "participants", "metadata", "playback"]
            );
            assert_eq!(r.child_text("recordID").as_deref(), Some(rid.as_str()));
            assert_eq!(r.child_text("meetingID").as_deref(), Some("room-1"));
            assert_eq!(r.child_text("internalMeetingID").as_deref(), Some(rid.as_str()));
            assert_eq!(r.child_text("name").as_deref(), Some("Physics & <Chemistry>"));
            assert_eq!(r.child_text("published").as_deref(), Some("true"));
            assert_eq!(r.child_text("state").as_deref(), Some("published"));
            let start = BASE_MS + DAY_MS;
            assert_eq!(r.child_text("startTime"), Some(start.to_string()));
            assert_eq!(r.child_text("endTime"), Some((start + 30 * 60_000).to_string()));
            assert_eq!(r.child_text("participants").as_deref(), Some("3"));
            // No <protected> unless PROTECTED_RECORDINGS_ENABLED.
            assert!(r.child("protected").is_none());

            let metadata = r.child("metadata").unwrap();
            assert_eq!(child_names(metadata), ["bbb-origin", "gl-listed", "note", "name-ü"]);
            assert_eq!(metadata.child_text("bbb-origin").as_deref(), Some("Greenlight"));
            // Empty and blank values are an empty CDATA section.
            assert!(xml.text.contains("<gl-listed><![CDATA[]]></gl-listed>"), "{}", xml.text);
            assert!(xml.text.contains("<note><![CDATA[]]></note>"), "{}", xml.text);
            assert_eq!(metadata.child_text("name-ü").as_deref(), Some("漢字 <b>"));

            let prefix = app.url("");
            let formats = r.find_all("playback/format");
            assert_eq!(formats.len(), 2);
            // Ordered by format name.
            let podcast = formats[0];
            assert_eq!(child_names(podcast), ["type", "url", "length"]);
            assert_eq!(podcast.child_text("type").as_deref(), Some("podcast"));
            assert_eq!(podcast.child_text("url"), Some(format!("{prefix}/podcast/{rid}/")));
            assert_eq!(podcast.child_text("length").as_deref(), Some("60"));
            let presentation = formats[1];
            assert_eq!(
                child_names(presentation),
                ["type", "url", "length", "processingTime", "preview"]
            );
            assert_eq!(presentation.child_text("type").as_deref(), Some("presentation"));
            assert_eq!(
                presentation.child_text("url"),
                Some(format!("{prefix}/playback/presentation/2.3/{rid}"))
            );
            assert_eq!(presentation.child_text("length").as_deref(), Some("33"));
            assert_eq!(presentation.child_text("processingTime").as_deref(), Some("7177"));
            let images = presentation.find_all("preview/images/image");
            assert_eq!(images.len(), 2);
            for (i, image) in images.iter().enumerate() {
                assert_eq!(image.attribute("alt"), Some(format!("Slide {}", i + 1).as_str()));
                assert_eq!(image.attribute("width"), Some("176"));
                assert_eq!(image.attribute("height"), Some("136"));
                assert_eq!(
                    image.text(),
                    format!("{prefix}/presentation/{rid}/thumbnails/thumb-{}.png", i + 1)
                );
            }
        }
    }

    async fn get_recordings_id_filters(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut all: Vec<Recording> = (0..7).map(|i| recording(&format!("meeting-{i}"), i)).collect();
        all.extend((0..20).map(|i| recording("bulk-prefix-match", 100 + i)));
        all.extend((0..5).map(|i| recording("other-meeting", 200 + i)));
        store(&app, all).await;

        let xml = app.call("getRecordings", "meetingID=meeting-1,meeting-4").await;
        assert_eq!(ids(&xml), [record_id("meeting-4", 4), record_id("meeting-1", 1)]);
        // Exact meeting ids only.
        assert_no_recordings(&app.call("getRecordings", "meetingID=meeting").await);

        // recordID is a case-sensitive prefix.
        let upper = record_id("meeting-2", 2).to_uppercase();
        assert_no_recordings(&app.call("getRecordings", &format!("recordID={upper}")).await);
        let prefix = &record_id("bulk-prefix-match", 100)[..40];
        let xml = app.call("getRecordings", &format!("recordID={prefix}")).await;
        assert_eq!(ids(&xml).len(), 20);
        assert!(ids(&xml).iter().all(|id| id.starts_with(prefix)));
        let both = format!("{},{}", record_id("meeting-3", 3), record_id("meeting-5", 5));
        assert_eq!(ids(&app.call("getRecordings", &format!("recordID={both}")).await).len(), 2);
        // LIKE wildcards in a prefix are literal.
        assert_no_recordings(&app.call("getRecordings", "recordID=%25").await);
        assert_no_recordings(&app.call("getRecordings", "recordID=_").await);
        // Only commas: nothing. A leading empty element: the empty prefix, everything.
        assert_no_recordings(&app.call("getRecordings", "recordID=,").await);
        assert_eq!(ids(&app.call("getRecordings", "recordID=,nothing").await).len(), 32);
        // Both ids: ANDed.
        let xml = app
            .call("getRecordings", &format!("meetingID=meeting-3&recordID={}", &record_id("meeting-3", 3)[..20]))
            .await;
        assert_eq!(ids(&xml), [record_id("meeting-3", 3)]);
        assert_no_recordings(
            &app.call("getRecordings", &format!("meetingID=meeting-2&recordID={}", record_id("meeting-3", 3))).await,
        );

        let filtered = TestApp::spawn_with(backend, |s| s.get_recordings_filtered = true).await;
        store(&filtered, (0..3).map(|i| recording(&format!("meeting-{i}"), i))).await;
        let xml = filtered.call("getRecordings", "").await;
        assert_eq!(
            xml.assert_failed("missingParameters"),
            "param meetingID or recordID must be included."
        );
        filtered.call("getRecordings", "meetingID=&recordID=%20&state=any").await.assert_failed("missingParameters");
        assert_eq!(ids(&filtered.call("getRecordings", "meetingID=meeting-0,meeting-2").await).len(), 2);
        let both = format!("{},{}", record_id("meeting-0", 0), record_id("meeting-1", 1));
        assert_eq!(ids(&filtered.call("getRecordings", &format!("recordID={both}")).await).len(), 2);
    }

    async fn get_recordings_state_and_meta_filters(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let r1 = with_meta(recording("m", 1), "bbb-context-name", "test1");
        let r2 = with_meta(with_state(recording("m", 2), Some("unpublished"), false), "bbb-origin-tag", "GL");
        let r3 = with_meta(with_state(recording("m", 3), Some("deleted"), false), "bbb-origin-tag", "GL");
        let r4 = with_meta(with_state(recording("m", 4), None, false), "bbb-origin-tag", "GL");
        let r5 = with_state(recording("m", 5), Some("processing"), false);
        let ids_of = |rs: &[&Recording]| rs.iter().map(|r| r.record_id.clone()).collect::<Vec<_>>();
        let listed = [&r1, &r2, &r3, &r4, &r5].iter().map(|r| r.record_id.clone()).collect::<Vec<_>>().join(",");
        store(&app, [r1.clone(), r2.clone(), r3.clone(), r4.clone(), r5.clone()]).await;

        let xml = app.call("getRecordings", &format!("recordID={listed}&state=published,unpublished")).await;
        assert_eq!(ids(&xml), ids_of(&[&r2, &r1]));
        // Default: published and unpublished.
        assert_eq!(ids(&app.call("getRecordings", &format!("recordID={listed}")).await), ids_of(&[&r2, &r1]));
        let xml = app.call("getRecordings", "state=processing,deleted").await;
        assert_eq!(ids(&xml), ids_of(&[&r5, &r3]));
        // `any`: every state, a null state included.
        let xml = app.call("getRecordings", "state=deleted,any").await;
        assert_eq!(ids(&xml), ids_of(&[&r5, &r4, &r3, &r2, &r1]));
        let state = xml.root.find_all("recordings/recording")[1].child("state").map(|s| s.text());
        assert_eq!(state, None, "a null state is left out");
        assert_no_recordings(&app.call("getRecordings", "state=,").await);

        // meta_ filters are ORed.
        let xml = app
            .call(
                "getRecordings",
                "state=published,unpublished,deleted&meta_bbb-context-name=test1,test2&meta_bbb-origin-tag=GL",
            )
            .await;
        assert_eq!(ids(&xml), ids_of(&[&r3, &r2, &r1]));
        let xml = app
            .call("getRecordings", "state=published,unpublished&meta_bbb-context-name=test1,test2&meta_bbb-origin-tag=GL")
            .await;
        assert_eq!(ids(&xml), ids_of(&[&r2, &r1]));
        assert_no_recordings(
            &app.call("getRecordings", "meta_bbb-context-name=test12&meta_bbb-origin-tag=GL1,GL2").await,
        );
        // Keys are normalised as updateRecordings does (prefix removed, lower-cased:
        // `docs/compatibility.md#api-getrecordings`); values are exact; an empty value matches nothing.
        assert_eq!(ids(&app.call("getRecordings", "meta_BBB-Context-Name=test1").await), ids_of(&[&r1]));
        assert_no_recordings(&app.call("getRecordings", "meta_bbb-context-name=TEST1").await);
        assert_no_recordings(&app.call("getRecordings", "meta_bbb-context-name=").await);
        // Combined with ids: ANDed.
        assert_no_recordings(
            &app.call("getRecordings", &format!("recordID={}&meta_bbb-origin-tag=GL", r1.record_id)).await,
        );

        let filtered = TestApp::spawn_with(backend, |s| s.get_recordings_filtered = true).await;
        store(&filtered, [r1.clone(), r2.clone(), r3.clone(), r4.clone()]).await;
        let three = ids_of(&[&r1, &r2, &r3]).join(",");
        let xml = filtered.call("getRecordings", &format!("recordID={three}&state=published,unpublished")).await;
        assert_eq!(ids(&xml), ids_of(&[&r2, &r1]));
        let with_null = ids_of(&[&r1, &r2, &r4]).join(",");
        let xml = filtered
            .call(
                "getRecordings",
                &format!("recordID={with_null}&state=published,unpublished&meta_bbb-context-name=test1,test2&meta_bbb-origin-tag=GL"),
            )
            .await;
        assert_eq!(ids(&xml), ids_of(&[&r2, &r1]));
    }

    async fn get_recordings_pagination(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        // 125 recordings over 5 meetings, every second one tagged.
        let all: Vec<Recording> = (0..125)
            .map(|i| {
                let r = recording(&format!("page-{}", i % 5), i);
                if i % 2 == 0 { with_meta(r, "tag", "even") } else { r }
            })
            .collect();
        store(&app, all).await;
        let everything = ids(&app.call("getRecordings", "").await);
        assert_eq!(everything.len(), 125);
        let expected: Vec<String> = (0..125).rev().map(|i| record_id(&format!("page-{}", i % 5), i)).collect();
        assert_eq!(everything, expected);

        // Pages of 10 put back together give the whole listing, in order.
        let mut paged = Vec::new();
        for offset in (0..130).step_by(10) {
            let xml = app.call("getRecordings", &format!("offset={offset}&limit=10")).await;
            xml.assert_success();
            let page = ids(&xml);
            assert_eq!(page.len(), 10.min(125usize.saturating_sub(offset)), "offset {offset}");
            paged.extend(page);
        }
        assert_eq!(paged, everything);
        // Beyond the end: no recordings.
        assert_no_recordings(&app.call("getRecordings", "offset=125&limit=10").await);
        // limit is at most 100; without a limit, offset alone skips.
        assert_eq!(ids(&app.call("getRecordings", "limit=1000").await), everything[..100]);
        assert_eq!(ids(&app.call("getRecordings", "offset=120").await), everything[120..]);
        // Invalid values are ignored.
        assert_eq!(ids(&app.call("getRecordings", "offset=-3&limit=0").await), everything);
        assert_eq!(ids(&app.call("getRecordings", "offset=x&limit=y").await), everything);
        // Pagination applies after the filters.
        let tagged: Vec<String> = expected.iter().enumerate()
            .filter(|(i, _)| (124 - i) % 2 == 0)
            .map(|(_, id)| id.clone())
            .collect();
        let xml = app.call("getRecordings", "meta_tag=even&offset=5&limit=7").await;
        assert_eq!(ids(&xml), tagged[5..12]);
        let meeting: Vec<String> = expected.iter().filter(|id| id.starts_with(&sha256_hex("page-3"))).cloned().collect();
        let xml = app.call("getRecordings", "meetingID=page-3&offset=20&limit=10").await;
        assert_eq!(ids(&xml), meeting[20..25]);
    }

    async fn get_recordings_multitenancy(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.multitenancy = true).await;
        let bn = add_tenant(&app, "bn-id", "bn").await;
        let other = add_tenant(&app, "other-id", "other").await;
        let mine = with_meta(with_meta(recording("m", 1), "tenant-id", &bn.id), "test-key", "test-value");
        let theirs = with_meta(with_meta(recording("m", 2), "tenant-id", &other.id), "test-key", "test-value");
        let nobodys = recording("m", 3);
        store(&app, [mine.clone(), theirs.clone(), nobodys.clone()]).await;
        let both = format!("recordID={},{}", mine.record_id, theirs.record_id);

        let xml = call_on_host(&app, BN_HOST, "getRecordings", &both, "bn-secret-2").await;
        assert_eq!(ids(&xml), [mine.record_id.as_str()]);
        let metadata = xml.root.find("recordings/recording/metadata").unwrap();
        assert_eq!(child_names(metadata), ["bbb-origin", "gl-listed", "tenant-id", "test-key"]);
        assert_eq!(metadata.child_text("tenant-id").as_deref(), Some("bn-id"));
        assert_eq!(metadata.child_text("test-key").as_deref(), Some("test-value"));
        let xml = call_on_host(&app, OTHER_HOST, "getRecordings", "", "other-secret-1").await;
        assert_eq!(ids(&xml), [theirs.record_id.as_str()]);

        // Meta filters work with a tenant (`docs/compatibility.md#api-getrecordings`), and never reach another tenant's
        // recordings.
        let xml = call_on_host(&app, BN_HOST, "getRecordings", "meta_test-key=test-value", "bn-secret-1").await;
        assert_eq!(ids(&xml), [mine.record_id.as_str()]);
        let xml = call_on_host(&app, BN_HOST, "getRecordings", "meta_tenant-id=other-id", "bn-secret-1").await;
        assert_no_recordings(&xml);

        // The LB secret and another tenant's secret are refused; so is an unknown tenant.
        call_on_host(&app, BN_HOST, "getRecordings", "", LB_SECRET).await.assert_failed("checksumError");
        call_on_host(&app, BN_HOST, "getRecordings", "", "other-secret-1").await.assert_failed("checksumError");
        call_on_host(&app, "nobody.example.com", "getRecordings", "", "bn-secret-1")
            .await
            .assert_failed("checksumError");
    }

    async fn get_recordings_protected_links(backend: Backend) {
        for show in [true, false] {
            let app = TestApp::spawn_with(backend, |s| {
                s.protected_recordings = show;
                s.protected_token_ttl = Duration::from_secs(600);
            })
            .await;
            let mut protected = recording("m", 1);
            protected.protected = true;
            let rid = protected.record_id.clone();
            protected.playback_formats.push(format("video", &rid, 1));
            store(&app, [protected, recording("m", 2)]).await;

            let first = app.call("getRecordings", "meetingID=m").await;
            let second = app.call("getRecordings", "meetingID=m").await;
            let prefix = app.url("");
            let mut tokens = Vec::new();
            for xml in [&first, &second] {
                let recordings = xml.root.find_all("recordings/recording");
                assert_eq!(recordings.len(), 2);
                let (public, protected) = (recordings[0], recordings[1]);
                assert_eq!(public.child("protected").map(|p| p.text()), show.then(|| "false".to_owned()));
                assert_eq!(protected.child("protected").map(|p| p.text()), show.then(|| "true".to_owned()));
                assert!(public.find("playback/format/preview").is_some());
                for format in protected.find_all("playback/format") {
                    assert!(format.child("preview").is_none(), "no thumbnails for protected recordings");
                    let kind = format.child_text("type").unwrap();
                    let url = format.child_text("url").unwrap();
                    let head = format!("{prefix}/recording/{rid}/{kind}?token=");
                    let token = url.strip_prefix(&head).unwrap_or_else(|| panic!("{url}")).to_owned();
                    assert_eq!(token.len(), 64);
                    assert!(token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
                    tokens.push((token, kind));
                }
            }
            // A fresh token per format per call, each stored once for its recording and format.
            assert_eq!(tokens.len(), 4);
            let mut distinct: Vec<&String> = tokens.iter().map(|(t, _)| t).collect();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), 4);
            for (token, kind) in &tokens {
                assert_eq!(
                    app.store.take_playback_token(token).await.unwrap(),
                    Some((rid.clone(), kind.clone()))
                );
                assert_eq!(app.store.take_playback_token(token).await.unwrap(), None);
            }
        }
    }

    async fn get_recordings_url_follows_the_request_host(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let r = recording("m", 1);
        store(&app, [r.clone()]).await;
        let url_for = |xml: &Xml| xml.root.find("recordings/recording/playback/format/url").map(|u| u.text());
        let response = app
            .http
            .get(app.signed("getRecordings", ""))
            .header("host", "lb.example.com")
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .unwrap();
        let xml = Xml::from(response).await;
        assert_eq!(url_for(&xml), Some(format!("https://lb.example.com/playback/presentation/2.3/{}", r.record_id)));
        let response = app
            .http
            .get(app.signed("getRecordings", ""))
            .header("host", "lb.example.com:8443")
            .send()
            .await
            .unwrap();
        let xml = Xml::from(response).await;
        assert_eq!(url_for(&xml), Some(format!("http://lb.example.com:8443/playback/presentation/2.3/{}", r.record_id)));
    }

    async fn publish_recordings_moves_the_files(backend: Backend) {
        let f = fixture(backend).await;
        let app = &f.app;
        let mut r = recording("m", 1);
        let rid = r.record_id.clone();
        r.playback_formats.push(format("podcast", &rid, 0));
        let other = recording("m", 2);
        store(app, [r.clone(), other.clone()]).await;
        put_files(&f.published, "presentation", &rid, "slides");
        put_files(&f.published, "podcast", &rid, "audio");
        put_files(&f.published, "presentation", &other.record_id, "other");

        // Unpublish: files move, the row follows.
        let xml = app.call("publishRecordings", &format!("recordID={rid}&publish=false")).await;
        xml.assert_success();
        assert_eq!(xml.get("published").as_deref(), Some("false"));
        let stored = app.store.get_recording(&rid).await.unwrap();
        assert!(!stored.published);
        assert!(stored.publish_updated);
        assert_eq!(stored.state.as_deref(), Some("unpublished"));
        assert_eq!(files(&f.unpublished, "presentation", &rid).as_deref(), Some("slides"));
        assert_eq!(files(&f.unpublished, "podcast", &rid).as_deref(), Some("audio"));
        assert!(files(&f.published, "presentation", &rid).is_none());
        assert_eq!(entries(&f.published), [format!("presentation/{}", other.record_id)]);
        assert!(app.store.get_recording(&other.record_id).await.unwrap().published);

        // Publish again (any case of "true"); unknown ids next to known ones are ignored.
        let xml = app.call("publishRecordings", &format!("recordID=unknown,{rid}&publish=TRUE")).await;
        assert_eq!(xml.get("published").as_deref(), Some("true"));
        let stored = app.store.get_recording(&rid).await.unwrap();
        assert!(stored.published);
        assert_eq!(stored.state.as_deref(), Some("published"));
        assert_eq!(files(&f.published, "podcast", &rid).as_deref(), Some("audio"));
        assert!(entries(&f.unpublished).is_empty(), "{:?}", entries(&f.unpublished));

        // Anything but "true" means false; an already-unpublished recording is left alone.
        let xml = app.call("publishRecordings", &format!("recordID={rid}&publish=yes")).await;
        assert_eq!(xml.get("published").as_deref(), Some("false"));
        assert!(!app.store.get_recording(&rid).await.unwrap().published);
        app.call("publishRecordings", &format!("recordID={rid}&publish=1")).await.assert_success();
        assert_eq!(files(&f.unpublished, "presentation", &rid).as_deref(), Some("slides"));
    }

    async fn publish_recordings_state_rules_and_file_cases(backend: Backend) {
        let f = fixture(backend).await;
        let app = &f.app;
        // Imported unpublished: state published, published false.
        let hidden = with_state(recording("m", 1), Some("published"), false);
        let processing = with_state(recording("m", 2), Some("processing"), true);
        let both_places = recording("m", 3);
        let already_moved = recording("m", 4);
        let no_files = recording("m", 5);
        store(app, [hidden.clone(), processing.clone(), both_places.clone(), already_moved.clone(), no_files.clone()]).await;
        put_files(&f.unpublished, "presentation", &hidden.record_id, "h");

        let xml = app.call("publishRecordings", &format!("recordID={}&publish=true", hidden.record_id)).await;
        assert_eq!(xml.get("published").as_deref(), Some("true"));
        let stored = app.store.get_recording(&hidden.record_id).await.unwrap();
        assert!(stored.published);
        assert_eq!(files(&f.published, "presentation", &hidden.record_id).as_deref(), Some("h"));

        // Only published/unpublished states count.
        let xml = app.call("publishRecordings", &format!("recordID={}&publish=false", processing.record_id)).await;
        assert_eq!(xml.assert_failed("notFound"), "We could not find recordings");
        assert!(app.store.get_recording(&processing.record_id).await.unwrap().published);

        // In both directories: the copy in the current one goes.
        put_files(&f.published, "presentation", &both_places.record_id, "old");
        put_files(&f.unpublished, "presentation", &both_places.record_id, "new");
        app.call("publishRecordings", &format!("recordID={}&publish=false", both_places.record_id))
            .await
            .assert_success();
        assert!(files(&f.published, "presentation", &both_places.record_id).is_none());
        assert_eq!(files(&f.unpublished, "presentation", &both_places.record_id).as_deref(), Some("new"));

        // Already only in the target: nothing to move.
        put_files(&f.unpublished, "presentation", &already_moved.record_id, "moved");
        app.call("publishRecordings", &format!("recordID={}&publish=false", already_moved.record_id))
            .await
            .assert_success();
        assert!(!app.store.get_recording(&already_moved.record_id).await.unwrap().published);

        // Nowhere: internalError, the row unchanged.
        let xml = app.call("publishRecordings", &format!("recordID={}&publish=false", no_files.record_id)).await;
        assert_eq!(xml.assert_failed("internalError"), "Unable to publish/unpublish recording.");
        let stored = app.store.get_recording(&no_files.record_id).await.unwrap();
        assert!(stored.published);
        assert!(!stored.publish_updated);

        // A failure part-way leaves the earlier formats where they were.
        let mut partial = recording("m", 6);
        let pid = partial.record_id.clone();
        partial.playback_formats.push(format("video", &pid, 0));
        store(app, [partial]).await;
        put_files(&f.published, "presentation", &pid, "p");
        let xml = app.call("publishRecordings", &format!("recordID={pid}&publish=false")).await;
        xml.assert_failed("internalError");
        assert_eq!(files(&f.published, "presentation", &pid).as_deref(), Some("p"));
        assert!(files(&f.unpublished, "presentation", &pid).is_none());
        assert!(app.store.get_recording(&pid).await.unwrap().published);
        assert!(!entries(&f.published).iter().any(|e| e.contains(".deleting-")));
    }

    async fn publish_recordings_parameters_and_methods(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let r = recording("m", 1);
        store(&app, [r.clone()]).await;
        let xml = app.call("publishRecordings", "publish=true").await;
        assert_eq!(xml.assert_failed("missingParamRecordID"), "You must specify a recordID.");
        // recordID is checked first.
        app.call("publishRecordings", "recordID=%20").await.assert_failed("missingParamRecordID");
        let xml = app.call("publishRecordings", &format!("recordID={}", r.record_id)).await;
        assert_eq!(xml.assert_failed("missingParamPublish"), "You must specify a publish value true or false.");
        app.call("publishRecordings", &format!("recordID={}&publish=", r.record_id))
            .await
            .assert_failed("missingParamPublish");
        app.call("publishRecordings", "recordID=unknown&publish=true").await.assert_failed("notFound");
        // POST is not a publishRecordings method; nothing changes.
        let query = format!("recordID={}&publish=false", r.record_id);
        let response = app.http.post(app.signed("publishRecordings", &query)).send().await.unwrap();
        Xml::from(response).await.assert_failed("unsupportedRequest");
        assert!(app.store.get_recording(&r.record_id).await.unwrap().published);
    }

    async fn publish_recordings_multitenancy(backend: Backend) {
        let f = fixture_with(backend, |s| s.multitenancy = true).await;
        let app = &f.app;
        add_tenant(app, "bn-id", "bn").await;
        add_tenant(app, "other-id", "other").await;
        let mine = with_meta(recording("m", 1), "tenant-id", "bn-id");
        let theirs = with_meta(recording("m", 2), "tenant-id", "other-id");
        store(app, [mine.clone(), theirs.clone()]).await;
        put_files(&f.published, "presentation", &mine.record_id, "mine");
        put_files(&f.published, "presentation", &theirs.record_id, "theirs");

        let xml = call_on_host(app, BN_HOST, "publishRecordings", &format!("recordID={}&publish=false", mine.record_id), "bn-secret-1").await;
        assert_eq!(xml.get("published").as_deref(), Some("false"));
        assert!(!app.store.get_recording(&mine.record_id).await.unwrap().published);
        let xml = call_on_host(app, BN_HOST, "publishRecordings", &format!("recordID={}&publish=false", theirs.record_id), "bn-secret-1").await;
        xml.assert_failed("notFound");
        assert!(app.store.get_recording(&theirs.record_id).await.unwrap().published);
        assert_eq!(files(&f.published, "presentation", &theirs.record_id).as_deref(), Some("theirs"));
        call_on_host(app, OTHER_HOST, "publishRecordings", "recordID=unknown&publish=false", "other-secret-1")
            .await
            .assert_failed("notFound");
    }

    async fn update_recordings_metadata(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let r1 = recording("m", 1);
        let mut r2 = with_state(recording("m", 2), Some("processing"), false);
        r2.metadata.clear();
        store(&app, [r1.clone(), r2.clone()]).await;
        let metadata = |r: Recording| r.metadata;

        let xml = app.call("updateRecordings", "meta_newparam=newvalue").await;
        assert_eq!(xml.assert_failed("missingParamRecordID"), "You must specify a recordID.");

        let xml = app.call("updateRecordings", &format!("recordID={}&meta_newparam=newvalue", r1.record_id)).await;
        xml.assert_success();
        assert_eq!(xml.get("updated").as_deref(), Some("true"));
        let stored = metadata(app.store.get_recording(&r1.record_id).await.unwrap());
        assert_eq!(stored.len(), 3);
        assert!(stored.contains(&("newparam".into(), "newvalue".into())));

        // An existing key is updated in place; POST works; an unchanged value still counts as updated.
        let xml = app.call("updateRecordings", &format!("recordID={}&meta_gl-listed=false", r1.record_id)).await;
        assert_eq!(xml.get("updated").as_deref(), Some("true"));
        let stored = metadata(app.store.get_recording(&r1.record_id).await.unwrap());
        assert_eq!(stored.len(), 3);
        assert!(stored.contains(&("gl-listed".into(), "false".into())));
        let body = format!("recordID={}&meta_gl-listed=false", r1.record_id);
        let checksum = sha256_hex(&format!("updateRecordings{body}{LB_SECRET}"));
        let response = app
            .http
            .post(app.url(&format!("/bigbluebutton/api/updateRecordings?{body}&checksum={checksum}")))
            .send()
            .await
            .unwrap();
        assert_eq!(Xml::from(response).await.get("updated").as_deref(), Some("true"));

        // A blank value deletes; keys are lower-cased.
        let xml = app.call("updateRecordings", &format!("recordID={}&meta_GL-Listed=", r1.record_id)).await;
        assert_eq!(xml.get("updated").as_deref(), Some("true"));
        let stored = metadata(app.store.get_recording(&r1.record_id).await.unwrap());
        assert_eq!(stored.len(), 2);
        assert!(!stored.iter().any(|(k, _)| k == "gl-listed"));
        app.call("updateRecordings", &format!("recordID={}&meta_MixedCase=v", r1.record_id)).await.assert_success();
        let stored = metadata(app.store.get_recording(&r1.record_id).await.unwrap());
        assert!(stored.contains(&("mixedcase".into(), "v".into())), "{stored:?}");

        // Two recordings (any state): upserts and deletes on both.
        app.call("updateRecordings", &format!("recordID={}&meta_gl-listed=true", r1.record_id)).await.assert_success();
        let before = metadata(app.store.get_recording(&r1.record_id).await.unwrap()).len()
            + metadata(app.store.get_recording(&r2.record_id).await.unwrap()).len();
        let xml = app
            .call("updateRecordings", &format!("recordID={},{}&meta_newkey=newvalue&meta_gl-listed=", r1.record_id, r2.record_id))
            .await;
        assert_eq!(xml.get("updated").as_deref(), Some("true"));
        let m1 = metadata(app.store.get_recording(&r1.record_id).await.unwrap());
        let m2 = metadata(app.store.get_recording(&r2.record_id).await.unwrap());
        assert_eq!(m1.len() + m2.len(), before + 1);
        for m in [&m1, &m2] {
            assert!(m.contains(&("newkey".into(), "newvalue".into())));
            assert!(!m.iter().any(|(k, _)| k == "gl-listed"));
        }

        // Nothing to do: updated=false. An unknown or repeated id: updated=false and nothing changes.
        let xml = app.call("updateRecordings", &format!("recordID={}", r1.record_id)).await;
        assert_eq!(xml.get("updated").as_deref(), Some("false"));
        for ids in [format!("{},unknown", r1.record_id), format!("{0},{0}", r1.record_id)] {
            let xml = app.call("updateRecordings", &format!("recordID={ids}&meta_extra=1")).await;
            xml.assert_success();
            assert_eq!(xml.get("updated").as_deref(), Some("false"), "{ids}");
        }
        assert!(!metadata(app.store.get_recording(&r1.record_id).await.unwrap()).iter().any(|(k, _)| k == "extra"));
    }

    async fn update_recordings_protect(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let rs: Vec<Recording> = (1..=3).map(|i| recording("m", i)).collect();
        store(&app, rs.clone()).await;
        let all = rs.iter().map(|r| r.record_id.clone()).collect::<Vec<_>>().join(",");
        // protect applies to every listed recording (`docs/compatibility.md#api-updaterecordings`), with Rails' boolean
        // casting.
        let xml = app.call("updateRecordings", &format!("recordID={all}&protect=true")).await;
        assert_eq!(xml.get("updated").as_deref(), Some("true"));
        assert_eq!(protected_flags(&app, &rs).await, [true, true, true]);
        for (value, expected) in [("false", false), ("False", true), ("0", false), ("no", true), ("OFF", false), ("1", true)] {
            let xml = app.call("updateRecordings", &format!("recordID={all}&protect={value}")).await;
            assert_eq!(xml.get("updated").as_deref(), Some("true"));
            assert_eq!(protected_flags(&app, &rs).await, [expected; 3], "protect={value}");
        }
        // A blank protect is no protect.
        let xml = app.call("updateRecordings", &format!("recordID={all}&protect=")).await;
        assert_eq!(xml.get("updated").as_deref(), Some("false"));
        assert_eq!(protected_flags(&app, &rs).await, [true; 3]);
    }

    async fn update_recordings_multitenancy(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.multitenancy = true).await;
        add_tenant(&app, "bn-id", "bn").await;
        add_tenant(&app, "other-id", "other").await;
        let mine = with_meta(recording("m", 1), "tenant-id", "bn-id");
        let theirs = with_meta(recording("m", 2), "tenant-id", "other-id");
        store(&app, [mine.clone(), theirs.clone()]).await;
        let count = |r: Recording| r.metadata.len();
        let before = (
            count(app.store.get_recording(&mine.record_id).await.unwrap()),
            count(app.store.get_recording(&theirs.record_id).await.unwrap()),
        );
        let xml = call_on_host(&app, BN_HOST, "updateRecordings", &format!("recordID={}&meta_newkey=v", mine.record_id), "bn-secret-1").await;
        assert_eq!(xml.get("updated").as_deref(), Some("true"));
        assert_eq!(count(app.store.get_recording(&mine.record_id).await.unwrap()), before.0 + 1);
        for ids in [theirs.record_id.clone(), format!("{},{}", mine.record_id, theirs.record_id)] {
            let xml = call_on_host(&app, BN_HOST, "updateRecordings", &format!("recordID={ids}&meta_other=v&protect=true"), "bn-secret-1").await;
            xml.assert_success();
            assert_eq!(xml.get("updated").as_deref(), Some("false"), "{ids}");
        }
        let stored = app.store.get_recording(&theirs.record_id).await.unwrap();
        assert_eq!(stored.metadata.len(), before.1);
        assert!(!stored.protected);
        assert!(!app.store.get_recording(&mine.record_id).await.unwrap().protected);

        // The tenant a recording belongs to cannot be changed or removed through its metadata, whatever the case.
        for change in ["meta_tenant-id=other-id", "meta_Tenant-Id=other-id", "meta_TENANT-ID="] {
            call_on_host(&app, BN_HOST, "updateRecordings", &format!("recordID={}&{change}", mine.record_id), "bn-secret-1").await.assert_success();
            let stored = app.store.get_recording(&mine.record_id).await.unwrap();
            let tenant = stored.metadata.iter().find(|(k, _)| k == "tenant-id").map(|(_, v)| v.as_str());
            assert_eq!(tenant, Some("bn-id"), "{change}");
        }
    }

    async fn delete_recordings_removes_every_copy(backend: Backend) {
        let f = fixture(backend).await;
        let app = &f.app;
        let mut r = recording("m", 1);
        let rid = r.record_id.clone();
        r.playback_formats.push(format("podcast", &rid, 0));
        let keep = recording("m", 2);
        let hidden = with_state(recording("m", 3), Some("unpublished"), false);
        store(app, [r.clone(), keep.clone(), hidden.clone()]).await;
        put_files(&f.published, "presentation", &rid, "p");
        put_files(&f.published, "podcast", &rid, "a");
        put_files(&f.unpublished, "video", &rid, "stale copy");
        put_files(&f.published, "presentation", &keep.record_id, "keep");
        put_files(&f.unpublished, "presentation", &hidden.record_id, "hidden");

        let xml = app.call("deleteRecordings", &format!("recordID={rid}")).await;
        xml.assert_success();
        assert_eq!(xml.get("deleted").as_deref(), Some("true"));
        let stored = app.store.get_recording(&rid).await.unwrap();
        assert_eq!(stored.state.as_deref(), Some("deleted"));
        assert!(stored.metadata.is_empty() && stored.playback_formats.is_empty());
        // Published and unpublished copies are gone (`docs/compatibility.md#api-deleterecordings`); other recordings'
        // files stay.
        assert_eq!(
            entries(&f.published),
            [format!("presentation/{}", keep.record_id)]
        );
        assert_eq!(entries(&f.unpublished), [format!("presentation/{}", hidden.record_id)]);

        // Deleted recordings show only with state=deleted or any, with empty metadata and playback.
        assert_eq!(ids(&app.call("getRecordings", "").await), [hidden.record_id.clone(), keep.record_id.clone()]);
        let xml = app.call("getRecordings", "state=deleted").await;
        assert_eq!(ids(&xml), [rid.as_str()]);
        let deleted = xml.root.find("recordings/recording").unwrap();
        assert!(deleted.child("metadata").unwrap().elements().next().is_none());
        assert!(deleted.child("playback").unwrap().elements().next().is_none());

        // Several ids at once, any state (deleting again is fine).
        let xml = app.call("deleteRecordings", &format!("recordID={},{},{rid}", keep.record_id, hidden.record_id)).await;
        xml.assert_success();
        for id in [&keep.record_id, &hidden.record_id] {
            assert_eq!(app.store.get_recording(id).await.unwrap().state.as_deref(), Some("deleted"));
        }
        assert!(entries(&f.published).is_empty() && entries(&f.unpublished).is_empty());
    }

    async fn delete_recordings_parameters_and_methods(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let r = recording("m", 1);
        store(&app, [r.clone()]).await;
        let xml = app.call("deleteRecordings", "").await;
        assert_eq!(xml.assert_failed("missingParamRecordID"), "You must specify a recordID.");
        let xml = app.call("deleteRecordings", "recordID=123").await;
        assert_eq!(xml.assert_failed("notFound"), "We could not find recordings");
        let response = app
            .http
            .post(app.signed("deleteRecordings", &format!("recordID={}", r.record_id)))
            .send()
            .await
            .unwrap();
        Xml::from(response).await.assert_failed("unsupportedRequest");
        assert_eq!(app.store.get_recording(&r.record_id).await.unwrap().state.as_deref(), Some("published"));
    }

    async fn delete_recordings_multitenancy(backend: Backend) {
        let f = fixture_with(backend, |s| s.multitenancy = true).await;
        let app = &f.app;
        add_tenant(app, "bn-id", "bn").await;
        add_tenant(app, "other-id", "other").await;
        let mine = with_meta(recording("m", 1), "tenant-id", "bn-id");
        let theirs = with_meta(recording("m", 2), "tenant-id", "other-id");
        store(app, [mine.clone(), theirs.clone()]).await;
        put_files(&f.published, "presentation", &theirs.record_id, "theirs");

        let xml = call_on_host(app, BN_HOST, "deleteRecordings", &format!("recordID={}", theirs.record_id), "bn-secret-1").await;
        xml.assert_failed("notFound");
        assert_eq!(files(&f.published, "presentation", &theirs.record_id).as_deref(), Some("theirs"));
        assert_eq!(app.store.get_recording(&theirs.record_id).await.unwrap().state.as_deref(), Some("published"));
        let xml = call_on_host(app, BN_HOST, "deleteRecordings", &format!("recordID={}", mine.record_id), "bn-secret-2").await;
        assert_eq!(xml.get("deleted").as_deref(), Some("true"));
        assert_eq!(app.store.get_recording(&mine.record_id).await.unwrap().state.as_deref(), Some("deleted"));
    }
}

async fn protected_flags(app: &TestApp, recordings: &[Recording]) -> Vec<bool> {
    let mut out = Vec::new();
    for r in recordings {
        out.push(
            app.store
                .get_recording(&r.record_id)
                .await
                .unwrap()
                .protected,
        );
    }
    out
}

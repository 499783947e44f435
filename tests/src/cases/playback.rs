//! Playback (`docs/compatibility.md#playback`): the one-time links of protected recordings and the resource route,
//! first against the API alone, then end to end through a real nginx running our configuration (docker/nginx/),
//! rendered from its templates into a temporary directory.
//!
//! The nginx tests need Debian's `nginx` package (`apt-get install nginx`); they fail, saying so, without it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scalelite_api::Settings;
use scalelite_core::domain::{PlaybackFormat, Recording, Secret, Tenant};
use scalelite_core::storage::{RecordingStore, TenantStore};
use sqlx::types::chrono::DateTime;

use crate::harness::*;

const NGINX: &str = "/usr/sbin/nginx";
const SECRET_KEY_BASE: &str = "e2e-secret-key-base";

/// A published recording with the given formats (each with the usual playback URL).
fn recording(record_id: &str, formats: &[&str]) -> Recording {
    Recording {
        record_id: record_id.to_owned(),
        meeting_id: format!("meeting-{record_id}"),
        name: Some("Playback".into()),
        published: true,
        participants: Some(2),
        state: Some("published".into()),
        starttime: DateTime::from_timestamp_millis(1_700_000_000_000),
        endtime: DateTime::from_timestamp_millis(1_700_000_600_000),
        deleted_at: None,
        protected: false,
        publish_updated: false,
        metadata: Vec::new(),
        playback_formats: formats
            .iter()
            .map(|format| PlaybackFormat {
                format: (*format).to_owned(),
                url: match *format {
                    "presentation" => format!("/playback/presentation/2.3/{record_id}"),
                    "podcast" => format!("/podcast/{record_id}/audio.ogg"),
                    other => format!("/{other}/{record_id}/"),
                },
                length: Some(1),
                processing_time: None,
                thumbnails: Vec::new(),
            })
            .collect(),
    }
}

fn protected(mut recording: Recording) -> Recording {
    recording.protected = true;
    recording
}

fn unpublished(mut recording: Recording) -> Recording {
    recording.published = false;
    recording.state = Some("unpublished".into());
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

fn playback_settings(s: &mut Settings) {
    s.secret_key_base = Secret::new(SECRET_KEY_BASE);
    s.protected_token_ttl = Duration::from_secs(600);
}

/// A plain GET of `path` on `base` (no redirects followed), optionally with a cookie and another Host.
async fn get(app: &TestApp, base: &str, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = app.http.get(format!("{base}{path}"));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.expect("request")
}

#[track_caller]
fn assert_not_found_page(status: u16, headers: &reqwest::header::HeaderMap, body: &str) {
    assert_eq!(status, 404, "{body}");
    assert!(headers.get("x-accel-redirect").is_none());
    assert!(body.contains("Recording Not Found"), "{body}");
    assert!(body.contains("The recording URL is invalid."), "{body}");
}

async fn expect_not_found(response: reqwest::Response) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    assert_not_found_page(status, &headers, &body);
}

/// The playback URLs getRecordings gives for `record_id`: `(format, url)`.
async fn playback_urls(app: &TestApp, base: &str, record_id: &str) -> Vec<(String, String)> {
    playback_urls_with(&app.http, base, record_id).await
}

async fn playback_urls_with(
    http: &reqwest::Client,
    base: &str,
    record_id: &str,
) -> Vec<(String, String)> {
    let checksum = sha256_hex(&format!("getRecordingsrecordID={record_id}{LB_SECRET}"));
    let response = http
        .get(format!(
            "{base}/bigbluebutton/api/getRecordings?recordID={record_id}&checksum={checksum}"
        ))
        .send()
        .await
        .unwrap();
    let xml = Xml::from(response).await;
    xml.assert_success();
    xml.root
        .find_all("recordings/recording/playback/format")
        .iter()
        .map(|f| (f.child_text("type").unwrap(), f.child_text("url").unwrap()))
        .collect()
}

/// A request line sent as is (HTTP clients normalise `..` away), returning the status and the body.
fn raw_get(addr: SocketAddr, target: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    (status, answer)
}

both_backends! {
    async fn resource_route_checks_publication_and_answers_with_x_accel_redirect(backend: Backend) {
        let app = TestApp::spawn_with(backend, playback_settings).await;
        store(&app, [
            recording("cap-1", &["capture"]),
            recording("pod-1", &["podcast", "presentation"]),
            unpublished(recording("hidden-1", &["presentation"])),
        ])
        .await;
        let base = app.url("");

        let response = get(&app, &base, "/capture/cap-1/capture.js", None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-accel-redirect"], "/static-resource/capture/cap-1/capture.js");
        assert_eq!(response.headers()["content-disposition"], "attachment");
        assert!(response.text().await.unwrap().is_empty());
        // Query strings go along; a trailing slash stays; presentation files are shown inline.
        let response = get(&app, &base, "/presentation/pod-1/slides/1.svg?v=2", None).await;
        assert_eq!(response.headers()["x-accel-redirect"], "/static-resource/presentation/pod-1/slides/1.svg?v=2");
        assert!(response.headers().get("content-disposition").is_none());
        let response = get(&app, &base, "/podcast/pod-1/", None).await;
        assert_eq!(response.headers()["x-accel-redirect"], "/static-resource/podcast/pod-1/");
        let response = get(&app, &base, "/podcast/pod-1", None).await;
        assert_eq!(response.headers()["x-accel-redirect"], "/static-resource/podcast/pod-1");

        // Unpublished, unknown, a format the recording does not have: the not-found page.
        for path in ["/presentation/hidden-1/x.js", "/presentation/nope/x.js", "/video/pod-1/x.webm"] {
            expect_not_found(get(&app, &base, path, None).await).await;
        }
        // A format outside RECORDING_PLAYBACK_FORMATS is not a playback route at all.
        let xml = Xml::from(get(&app, &base, "/playback/presentation/2.0/pod-1", None).await).await;
        xml.assert_failed("unsupportedRequest");
        // Other methods are not playback either.
        let response = app.http.post(app.url("/presentation/pod-1/x")).send().await.unwrap();
        Xml::from(response).await.assert_failed("unsupportedRequest");
        // Unknown ids on the play route.
        expect_not_found(get(&app, &base, "/recording/invalid_recording_id/invalid_format", None).await).await;

        // Traversal and encoded separators never reach an X-Accel-Redirect.
        for target in [
            "/presentation/pod-1/../../../etc/passwd",
            "/presentation/pod-1/%2e%2e/%2e%2e/etc/passwd",
            "/presentation/pod-1/..%2f..%2fetc%2fpasswd",
            "/presentation/..%2fpod-1/x",
            "/presentation/pod-1/a%00b",
            "/presentation/pod-1//x",
        ] {
            let (status, answer) = raw_get(app.addr, target);
            assert_eq!(status, 404, "{target}: {answer}");
            assert!(!answer.to_ascii_lowercase().contains("x-accel-redirect"), "{target}: {answer}");
        }
    }

    async fn protected_recordings_need_the_token_then_the_cookie(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| {
            playback_settings(s);
            s.protected_recordings = true;
        })
        .await;
        store(&app, [protected(recording("prot-1", &["presentation", "video"])), protected(recording("prot-2", &["presentation"]))]).await;
        let base = app.url("");

        // No cookie: refused.
        expect_not_found(get(&app, &base, "/presentation/prot-1/slides/1.svg", None).await).await;

        let urls = playback_urls(&app, &base, "prot-1").await;
        assert_eq!(urls.len(), 2);
        let (_, presentation) = urls.iter().find(|(f, _)| f == "presentation").unwrap();
        let (_, video) = urls.iter().find(|(f, _)| f == "video").unwrap();
        let path = presentation.strip_prefix(&base).unwrap();

        // A token is for its own recording and format only: the video token on the presentation link fails (and
        // is spent).
        let video_token = video.split("token=").nth(1).unwrap();
        expect_not_found(get(&app, &base, &format!("/recording/prot-1/presentation?token={video_token}"), None).await).await;
        expect_not_found(get(&app, &base, video.strip_prefix(&base).unwrap(), None).await).await;
        // Malformed tokens.
        for token in ["", "abc", &"A".repeat(64), &"0".repeat(64)] {
            expect_not_found(get(&app, &base, &format!("/recording/prot-1/presentation?token={token}"), None).await).await;
        }
        expect_not_found(get(&app, &base, "/recording/prot-1/presentation", None).await).await;

        let response = app.http.get(presentation).header("user-agent", "Mozilla/5.0 Firefox/120.0").send().await.unwrap();
        assert_eq!(response.status(), 307);
        assert_eq!(response.headers()["location"], format!("{base}/playback/presentation/2.3/prot-1").as_str());
        let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
        let (pair, attributes) = set_cookie.split_once("; ").unwrap();
        assert_eq!(attributes, "path=/presentation/prot-1; secure; HttpOnly; SameSite=None");
        assert!(pair.starts_with("recording_presentation_prot-1="), "{pair}");
        // The token is single use.
        expect_not_found(get(&app, &base, path, None).await).await;

        // The cookie opens the recording's files, not another recording's or format's.
        let response = get(&app, &base, "/presentation/prot-1/slides/1.svg", Some(pair)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-accel-redirect"], "/static-resource/presentation/prot-1/slides/1.svg");
        let value = pair.split_once('=').unwrap().1;
        let renamed = format!("recording_presentation_prot-2={value}");
        expect_not_found(get(&app, &base, "/presentation/prot-2/slides/1.svg", Some(&renamed)).await).await;
        let renamed = format!("recording_video_prot-1={value}");
        expect_not_found(get(&app, &base, "/video/prot-1/v.webm", Some(&renamed)).await).await;
        // A cookie signed with another key is refused.
        let forged = format!("{}{}", &pair[..pair.len() - 4], "AAAA");
        expect_not_found(get(&app, &base, "/presentation/prot-1/slides/1.svg", Some(&forged)).await).await;

        // Browsers that mishandle SameSite=None get the cookie without it.
        let urls = playback_urls(&app, &base, "prot-1").await;
        let (_, presentation) = urls.iter().find(|(f, _)| f == "presentation").unwrap();
        let response = app
            .http
            .get(presentation)
            .header("user-agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 12_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 307);
        assert!(!response.headers()["set-cookie"].to_str().unwrap().contains("SameSite"));
    }

    async fn protection_switches(backend: Backend) {
        // PROTECTED_RECORDINGS_ENABLED off: the resource route does not ask for the cookie, but play still wants a
        // token for a protected recording (as the original).
        let app = TestApp::spawn_with(backend, playback_settings).await;
        store(&app, [protected(recording("prot-1", &["presentation"])), recording("open-1", &["presentation"])]).await;
        let base = app.url("");
        let response = get(&app, &base, "/presentation/prot-1/slides/1.svg", None).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("x-accel-redirect").is_some());
        expect_not_found(get(&app, &base, "/recording/prot-1/presentation", None).await).await;
        // An unprotected recording's play link redirects without a token and sets no cookie.
        let response = get(&app, &base, "/recording/open-1/presentation", None).await;
        assert_eq!(response.status(), 307);
        assert_eq!(response.headers()["location"], format!("{base}/playback/presentation/2.3/open-1").as_str());
        assert!(response.headers().get("set-cookie").is_none());
        // An unpublished recording has no play link either.
        store(&app, [unpublished(recording("open-1", &["presentation"]))]).await;
        expect_not_found(get(&app, &base, "/recording/open-1/presentation", None).await).await;
    }

    async fn playback_with_multitenancy(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| {
            playback_settings(s);
            s.multitenancy = true;
        })
        .await;
        for (id, name) in [("bn-id", "bn"), ("other-id", "other")] {
            app.store
                .add_tenant(Tenant {
                    id: id.into(),
                    name: name.into(),
                    secrets: vec![Secret::new(format!("{name}-secret"))],
                    ..Tenant::default()
                })
                .await
                .unwrap();
        }
        let mut mine = recording("mt-1", &["presentation"]);
        mine.metadata.push(("tenant-id".into(), "bn-id".into()));
        store(&app, [mine]).await;
        let on = |host: &'static str| {
            app.http.get(app.url("/presentation/mt-1/slides/1.svg")).header("host", host)
        };
        let response = on("bn.api.rna1.blindside-dev.com").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-accel-redirect"], "/static-resource/presentation/mt-1/slides/1.svg");
        expect_not_found(on("other.api.rna1.blindside-dev.com").send().await.unwrap()).await;
        // An unknown tenant is a checksum error, as everywhere else.
        let xml = Xml::from(on("nobody.api.rna1.blindside-dev.com").send().await.unwrap()).await;
        xml.assert_failed("checksumError");
    }

    async fn published_files_served_through_nginx(backend: Backend) {
        let dirs = RecordingDirs::new();
        let published = dirs.published.clone();
        let app = TestApp::spawn_with(backend, move |s| {
            playback_settings(s);
            s.protected_recordings = true;
            s.recording_publish_dir = published;
        })
        .await;
        store(&app, [
            recording("pub-1", &["presentation", "podcast"]),
            unpublished(recording("unpub-1", &["presentation"])),
            protected(recording("prot-1", &["presentation"])),
        ])
        .await;
        dirs.put("presentation/pub-1/slides/1.svg", "<svg>pub-1</svg>");
        dirs.put("presentation/pub-1/index.html", "<html>pub-1</html>");
        dirs.put("podcast/pub-1/audio.ogg", "OggS pub-1");
        dirs.put("presentation/pub-1/slides/a b+ü.svg", "<svg>spaced</svg>");
        // An unpublished recording whose files (wrongly) sit in the published directory is still refused.
        dirs.put("presentation/unpub-1/slides/1.svg", "<svg>unpub-1</svg>");
        dirs.put("presentation/prot-1/slides/1.svg", "<svg>prot-1</svg>");
        dirs.put_outside("secret.txt", "TOP SECRET");
        dirs.put_player();

        let nginx = Nginx::start(&dirs, Template::Plain, app.addr);
        let base = nginx.base();

        // Published: served by nginx from the published directory, with the right type.
        let response = get(&app, &base, "/presentation/pub-1/slides/1.svg", None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/svg+xml");
        assert!(response.headers().get("x-accel-redirect").is_none(), "nginx consumes the header");
        assert_eq!(response.text().await.unwrap(), "<svg>pub-1</svg>");
        let response = get(&app, &base, "/presentation/pub-1/slides/a%20b%2B%C3%BC.svg", None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "<svg>spaced</svg>");
        let response = get(&app, &base, "/podcast/pub-1/audio.ogg", None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-disposition"], "attachment");
        assert_eq!(response.text().await.unwrap(), "OggS pub-1");
        // Unpublished: refused.
        expect_not_found(get(&app, &base, "/presentation/unpub-1/slides/1.svg", None).await).await;
        // The internal location cannot be asked for directly.
        let response = get(&app, &base, "/static-resource/presentation/pub-1/slides/1.svg", None).await;
        assert_eq!(response.status(), 404);
        assert!(!response.text().await.unwrap().contains("pub-1</svg>"));

        // Protected: refused without the cookie; the link from getRecordings (made on nginx's host) gives it.
        expect_not_found(get(&app, &base, "/presentation/prot-1/slides/1.svg", None).await).await;
        let urls = playback_urls(&app, &base, "prot-1").await;
        let (_, link) = &urls[0];
        assert!(link.starts_with(&format!("{base}/recording/prot-1/presentation?token=")), "{link}");
        let response = app.http.get(link).send().await.unwrap();
        assert_eq!(response.status(), 307);
        assert_eq!(response.headers()["location"], format!("{base}/playback/presentation/2.3/prot-1").as_str());
        let cookie = response.headers()["set-cookie"].to_str().unwrap().split("; ").next().unwrap().to_owned();
        let response = get(&app, &base, "/presentation/prot-1/slides/1.svg", Some(&cookie)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "<svg>prot-1</svg>");
        // The redirect target is the player, served by nginx.
        let response = get(&app, &base, "/playback/presentation/2.3/prot-1", None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "player");

        // Path traversal, plain and encoded, never leaves the recording's directory.
        for target in [
            "/presentation/pub-1/../../../secret.txt",
            "/presentation/pub-1/../../secret.txt",
            "/presentation/pub-1/%2e%2e/%2e%2e/%2e%2e/secret.txt",
            "/presentation/pub-1/..%2f..%2f..%2fsecret.txt",
            "/presentation/pub-1/slides/..%2f..%2f..%2f..%2fsecret.txt",
            "/static-resource/../secret.txt",
            "/presentation/pub-1/%252e%252e/%252e%252e/secret.txt",
        ] {
            let (status, answer) = raw_get(nginx.addr, target);
            assert!(!answer.contains("TOP SECRET"), "{target}: {answer}");
            // Refused by nginx (400), by the API (404), or normalised by nginx to a path outside the playback
            // routes (the API's catch-all).
            assert!(
                status == 400 || status == 404 || answer.contains("unsupportedRequest"),
                "{target}: {answer}"
            );
        }

        // The API behind nginx: health check and the BBB API.
        let response = get(&app, &base, "/health_check", None).await;
        assert_eq!(response.text().await.unwrap(), "success");
        let xml = Xml::from(get(&app, &base, "/bigbluebutton/api", None).await).await;
        xml.assert_success();
        // Legacy playback links.
        let response = get(&app, &base, "/playback/video/pub-1/", None).await;
        assert_eq!(response.status(), 307);
        assert!(response.headers()["location"].to_str().unwrap().ends_with("/video/pub-1/"));
        let response = get(&app, &base, "/recording/screenshare/pub-1/", None).await;
        assert_eq!(response.status(), 307);
        assert!(response.headers()["location"].to_str().unwrap().ends_with("/screenshare/pub-1/"));
        let response = get(&app, &base, "/playback/presentation/2.0/playback.html?meetingId=pub-1", None).await;
        assert_eq!(response.status(), 301);
        assert!(response.headers()["location"].to_str().unwrap().ends_with("/playback/presentation/2.3/pub-1?meetingId=pub-1"));
        nginx.stop();
    }
}

#[test]
fn every_template_passes_nginx_t() {
    let dirs = RecordingDirs::new();
    let api: SocketAddr = "127.0.0.1:3000".parse().unwrap();
    for template in [
        Template::Plain,
        Template::Proxy,
        Template::Ssl,
        Template::RecordingsOnly,
    ] {
        let nginx = NginxConfig::render(&dirs, template, api);
        let output = Command::new(nginx_binary())
            .args(nginx.args())
            .arg("-t")
            .output()
            .expect("run nginx -t");
        let log = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{template:?}: {log}");
        assert!(log.contains("test is successful"), "{template:?}: {log}");
    }
}

/// The proxying templates bound what they pass to the API, in step with the API's defaults, and never pass on a
/// client's own X-Forwarded-Host.
#[test]
fn proxying_templates_set_limits_and_their_own_x_forwarded_host() {
    let api_body_limit = Settings::default().max_body_bytes;
    assert_eq!(
        api_body_limit,
        32 * 1024 * 1024,
        "client_max_body_size 32m below follows it"
    );
    for template in [Template::Plain, Template::Proxy, Template::Ssl] {
        let text = std::fs::read_to_string(
            templates_dir().join(format!("templates/{}.template", template.file())),
        )
        .unwrap();
        for directive in [
            "client_max_body_size 32m;",
            "client_header_timeout 10s;",
            "client_body_timeout 60s;",
            "keepalive_timeout 75s;",
            "proxy_set_header  X-Forwarded-Host $http_host;",
        ] {
            assert_eq!(
                text.matches(directive).count(),
                1,
                "{template:?}: {directive}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_refuses_oversized_bodies_and_replaces_a_clients_x_forwarded_host() {
    let app =
        TestApp::spawn_with(Backend::Embedded, |s| s.url_host = Some("127.0.0.1".into())).await;
    let dirs = RecordingDirs::new();
    let nginx = Nginx::start(&dirs, Template::Plain, app.addr);

    // A client-supplied X-Forwarded-Host does not reach the API: the host allow-list sees the real Host.
    let response = app
        .http
        .get(format!("{}/bigbluebutton/api", nginx.base()))
        .header("x-forwarded-host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "the API saw the client's X-Forwarded-Host"
    );
    // The same request straight to the API with that header is refused, so the check above means something.
    let direct = app
        .http
        .get(app.url("/bigbluebutton/api"))
        .header("host", "127.0.0.1")
        .header("x-forwarded-host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 403);

    // A body announced over client_max_body_size is refused by nginx before it is sent.
    let (status, _) = raw_request(
        nginx.addr,
        &format!(
            "POST /bigbluebutton/api/create HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            32 * 1024 * 1024 + 1
        ),
    );
    assert_eq!(status, 413);
    nginx.stop();
}

/// Send `head` as is and return the status and the answer.
fn raw_request(addr: SocketAddr, head: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    (status, answer)
}

#[test]
fn start_script_picks_the_template() {
    let script = templates_dir().join("start");
    let cases: [(&[(&str, &str)], &str); 10] = [
        (&[], "scalelite"),
        (&[("NGINX_SSL", "true")], "scalelite-ssl"),
        (&[("NGINX_SSL", "TRUE")], "scalelite-ssl"),
        (&[("NGINX_SSL", "yes")], "scalelite"),
        (&[("NGINX_BEHIND_PROXY", "true")], "scalelite-proxy"),
        (&[("BEHIND_PROXY", "true")], "scalelite-proxy"),
        (
            &[("NGINX_BEHIND_PROXY", "true"), ("NGINX_SSL", "true")],
            "scalelite-proxy",
        ),
        (
            &[("NGINX_RECORDINGS_ONLY", "true"), ("NGINX_SSL", "true")],
            "scalelite-recordings-only",
        ),
        (
            &[("NGINX_RECORDINGS_ONLY", "true"), ("BEHIND_PROXY", "true")],
            "scalelite-recordings-only",
        ),
        (
            &[
                ("NGINX_RECORDINGS_ONLY", "false"),
                ("NGINX_BEHIND_PROXY", "0"),
            ],
            "scalelite",
        ),
    ];
    for (env, expected) in cases {
        let output = Command::new("/bin/sh")
            .arg(&script)
            .arg("template")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .envs(env.iter().copied())
            .output()
            .expect("run the start script");
        assert!(
            output.status.success(),
            "{env:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            expected,
            "{env:?}"
        );
        assert!(
            templates_dir()
                .join("templates")
                .join(format!("{expected}.template"))
                .is_file()
        );
    }
}

#[test]
fn templates_use_only_the_start_scripts_variables() {
    let script = std::fs::read_to_string(templates_dir().join("start")).unwrap();
    let line = script
        .lines()
        .find(|l| l.starts_with("VARIABLES='"))
        .expect("the VARIABLES line of the start script");
    let listed: Vec<&str> = line
        .trim_start_matches("VARIABLES='")
        .trim_end_matches('\'')
        .split(' ')
        .map(|v| v.trim_start_matches("${").trim_end_matches('}'))
        .collect();
    assert_eq!(listed, VARIABLES);
    for file in template_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            let end = start + rest[start..].find('}').unwrap();
            let name = &rest[start + 2..end];
            assert!(
                VARIABLES.contains(&name),
                "{}: unknown variable {name}",
                file.display()
            );
            // Each one also has a default in the start script.
            assert!(
                script.contains(&format!("export {name}=\"${{{name}:-")),
                "{name} has no default"
            );
            rest = &rest[start + 2..];
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_proxy_templates_serve_the_api() {
    let app = TestApp::spawn(Backend::Embedded).await;
    store(&app, [recording("tls-1", &["presentation"])]).await;
    let dirs = RecordingDirs::new();

    let nginx = Nginx::start(&dirs, Template::Ssl, app.addr);
    let https = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let https_base = format!("https://{}", nginx.https_addr.expect("an HTTPS port"));
    let response = https
        .get(format!("{https_base}/health_check"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "success");
    // The API sees https through X-Forwarded-Proto.
    let urls = playback_urls_with(&https, &https_base, "tls-1").await;
    assert!(urls[0].1.starts_with("https://"), "{urls:?}");
    // Plain HTTP is redirected.
    let response = get(&app, &nginx.base(), "/bigbluebutton/api?x=1", None).await;
    assert_eq!(response.status(), 301);
    assert_eq!(
        response.headers()["location"],
        "https://127.0.0.1/bigbluebutton/api?x=1"
    );
    nginx.stop();

    // Behind a proxy: the scheme comes from the load balancer's X-Forwarded-Proto.
    let nginx = Nginx::start(&dirs, Template::Proxy, app.addr);
    let base = nginx.base();
    let checksum = sha256_hex(&format!("getRecordings{LB_SECRET}"));
    for (proto, expected) in [("https", "https://"), ("http", "http://")] {
        let response = app
            .http
            .get(format!(
                "{base}/bigbluebutton/api/getRecordings?checksum={checksum}"
            ))
            .header("x-forwarded-proto", proto)
            .send()
            .await
            .unwrap();
        let xml = Xml::from(response).await;
        let url = xml
            .root
            .find("recordings/recording/playback/format/url")
            .unwrap()
            .text();
        assert!(url.starts_with(expected), "{proto}: {url}");
    }
    nginx.stop();

    // Recordings only: the player and redirects, no API.
    dirs.put_player();
    let nginx = Nginx::start(&dirs, Template::RecordingsOnly, app.addr);
    let base = nginx.base();
    let response = get(&app, &base, "/bigbluebutton/api", None).await;
    assert_eq!(response.status(), 404);
    let response = get(&app, &base, "/playback/presentation/2.3/tls-1", None).await;
    assert_eq!(response.text().await.unwrap(), "player");
    let response = get(&app, &base, "/playback/video/tls-1/", None).await;
    assert_eq!(response.status(), 307);
    nginx.stop();
}

/// The variables the templates may use, as the start script lists them.
const VARIABLES: [&str; 13] = [
    "URL_HOST",
    "SCALELITE_API_HOST",
    "SCALELITE_API_PORT",
    "NGINX_HTTP_LISTEN",
    "NGINX_HTTP_LISTEN_V6",
    "NGINX_HTTPS_LISTEN",
    "NGINX_HTTPS_LISTEN_V6",
    "NGINX_SSL_DIR",
    "NGINX_DHPARAM",
    "NGINX_PUBLISHED_DIR",
    "NGINX_PLAYBACK_ROOT",
    "NGINX_CONF_DIR",
    "NGINX_SNIPPETS_DIR",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Template {
    Plain,
    Proxy,
    Ssl,
    RecordingsOnly,
}

impl Template {
    fn file(self) -> &'static str {
        match self {
            Template::Plain => "scalelite",
            Template::Proxy => "scalelite-proxy",
            Template::Ssl => "scalelite-ssl",
            Template::RecordingsOnly => "scalelite-recordings-only",
        }
    }
}

fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker/nginx")
}

fn template_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["templates", "playback"] {
        for entry in std::fs::read_dir(templates_dir().join(dir)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    files.sort();
    files
}

fn nginx_binary() -> &'static str {
    assert!(
        Path::new(NGINX).is_file(),
        "{NGINX} is missing: these tests run a real nginx; install it with `apt-get install nginx`"
    );
    NGINX
}

/// `envsubst` with an explicit variable list: only `${NAME}` of the listed names is replaced.
fn render(text: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = text.to_owned();
    for (name, value) in vars {
        out = out.replace(&format!("${{{name}}}"), value);
    }
    out
}

/// A free TCP port on 127.0.0.1 (bound, then released for nginx).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The IPv6 listen address for `port`, or a second IPv4 loopback address where IPv6 is unavailable.
fn listen_v6(port: u16) -> String {
    match TcpListener::bind(("::1", port)) {
        Ok(_) => format!("[::1]:{port}"),
        Err(_) => format!("127.0.0.2:{port}"),
    }
}

/// The recording directories and the player, in a temporary directory nginx's workers can read.
struct RecordingDirs {
    tmp: tempfile::TempDir,
    published: PathBuf,
}

impl RecordingDirs {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let published = tmp.path().join("published");
        std::fs::create_dir_all(&published).unwrap();
        let dirs = RecordingDirs { tmp, published };
        dirs.open_up(dirs.tmp.path());
        dirs
    }

    fn put(&self, relative: &str, content: &str) {
        self.write(&self.published.join(relative), content);
    }

    fn put_outside(&self, relative: &str, content: &str) {
        self.write(&self.tmp.path().join(relative), content);
    }

    /// The BBB player stand-in under `<tmp>/playback/presentation/2.3/index.html`.
    fn put_player(&self) {
        self.write(
            &self.tmp.path().join("playback/presentation/2.3/index.html"),
            "player",
        );
    }

    fn write(&self, path: &Path, content: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        let mut dir = path.parent();
        while let Some(d) = dir {
            self.open_up(d);
            if d == self.tmp.path() {
                break;
            }
            dir = d.parent();
        }
        self.open_up(path);
    }

    /// World-readable, so nginx's unprivileged workers can serve it.
    fn open_up(&self, path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// Our nginx configuration rendered into its own temporary directory, with a main `nginx.conf` around it.
struct NginxConfig {
    dir: tempfile::TempDir,
    http_addr: SocketAddr,
    https_addr: Option<SocketAddr>,
}

impl NginxConfig {
    fn render(dirs: &RecordingDirs, template: Template, api: SocketAddr) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let conf_dir = root.join("http.d");
        let snippets_dir = root.join("snippets");
        let ssl_dir = root.join("ssl");
        std::fs::create_dir_all(&conf_dir).unwrap();
        std::fs::create_dir_all(&snippets_dir).unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/nginx");
        std::fs::create_dir_all(ssl_dir.join("live/localhost")).unwrap();
        for file in ["fullchain.pem", "privkey.pem"] {
            std::fs::copy(
                fixtures.join(file),
                ssl_dir.join("live/localhost").join(file),
            )
            .unwrap();
        }
        let http_port = free_port();
        let https_port = free_port();
        let vars: BTreeMap<&str, String> = [
            ("URL_HOST", "localhost".to_owned()),
            ("SCALELITE_API_HOST", api.ip().to_string()),
            ("SCALELITE_API_PORT", api.port().to_string()),
            ("NGINX_HTTP_LISTEN", format!("127.0.0.1:{http_port}")),
            ("NGINX_HTTP_LISTEN_V6", listen_v6(http_port)),
            ("NGINX_HTTPS_LISTEN", format!("127.0.0.1:{https_port}")),
            ("NGINX_HTTPS_LISTEN_V6", listen_v6(https_port)),
            ("NGINX_SSL_DIR", ssl_dir.display().to_string()),
            (
                "NGINX_DHPARAM",
                fixtures.join("dhparam.pem").display().to_string(),
            ),
            ("NGINX_PUBLISHED_DIR", dirs.published.display().to_string()),
            ("NGINX_PLAYBACK_ROOT", dirs.tmp.path().display().to_string()),
            ("NGINX_CONF_DIR", conf_dir.display().to_string()),
            ("NGINX_SNIPPETS_DIR", snippets_dir.display().to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(vars.len(), VARIABLES.len());
        let read = |path: PathBuf| std::fs::read_to_string(path).unwrap();
        let templates = templates_dir();
        std::fs::write(
            conf_dir.join("scalelite.conf"),
            render(
                &read(templates.join(format!("templates/{}.template", template.file()))),
                &vars,
            ),
        )
        .unwrap();
        std::fs::write(
            conf_dir.join("scalelite.common"),
            render(
                &read(templates.join("templates/scalelite.common.template")),
                &vars,
            ),
        )
        .unwrap();
        for file in template_files()
            .into_iter()
            .filter(|f| f.starts_with(templates.join("playback")))
        {
            let name = file
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches(".template")
                .to_owned();
            std::fs::write(snippets_dir.join(name), render(&read(file), &vars)).unwrap();
        }
        // Running as root, nginx would switch its workers to `nobody`; keep them as the test's user instead.
        let marker = root.join("owner");
        std::fs::write(&marker, "").unwrap();
        let as_root =
            std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&marker).unwrap()) == 0;
        let user = if as_root { "user root;" } else { "" };
        let r = root.display();
        let main = format!(
            "daemon off;\nworker_processes 1;\npid {r}/nginx.pid;\nerror_log {r}/error.log info;\n{user}\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
               types {{ text/html html; image/svg+xml svg; audio/ogg ogg; video/webm webm; application/javascript js; }}\n\
               default_type application/octet-stream;\n\
               client_body_temp_path {r}/client_body;\n proxy_temp_path {r}/proxy;\n\
               fastcgi_temp_path {r}/fastcgi;\n uwsgi_temp_path {r}/uwsgi;\n scgi_temp_path {r}/scgi;\n\
               include {r}/http.d/*.conf;\n\
             }}\n"
        );
        std::fs::write(root.join("nginx.conf"), main).unwrap();
        let has_https = template == Template::Ssl;
        NginxConfig {
            dir,
            http_addr: SocketAddr::from(([127, 0, 0, 1], http_port)),
            https_addr: has_https.then(|| SocketAddr::from(([127, 0, 0, 1], https_port))),
        }
    }

    /// `-p <dir> -c <dir>/nginx.conf -e <dir>/error.log`.
    fn args(&self) -> Vec<String> {
        let root = self.dir.path().display().to_string();
        vec![
            "-p".into(),
            root.clone(),
            "-c".into(),
            format!("{root}/nginx.conf"),
            "-e".into(),
            format!("{root}/error.log"),
        ]
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

/// A running nginx; stopped (gracefully, by its own pid file) when dropped.
struct Nginx {
    config: NginxConfig,
    child: Option<Child>,
    addr: SocketAddr,
    https_addr: Option<SocketAddr>,
}

impl Nginx {
    fn start(dirs: &RecordingDirs, template: Template, api: SocketAddr) -> Nginx {
        let binary = nginx_binary();
        let config = NginxConfig::render(dirs, template, api);
        let child = Command::new(binary)
            .args(config.args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut nginx = Nginx {
            addr: config.http_addr,
            https_addr: config.https_addr,
            config,
            child: Some(child),
        };
        nginx.wait_until_listening();
        nginx
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let addrs: Vec<SocketAddr> = std::iter::once(self.addr).chain(self.https_addr).collect();
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("nginx exited with {status}: {}", self.config.log());
            }
            if addrs
                .iter()
                .all(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok())
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nginx does not listen on {addrs:?}: {}",
                self.config.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new(NGINX)
            .args(self.config.args())
            .args(["-s", "quit"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.shut_down();
    }
}

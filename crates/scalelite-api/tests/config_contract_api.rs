//! Configuration contract of `scalelite-api`: each `contract_<variable>` sets that one variable in the environment
//! of the real binary and observes its effect from outside (the HTTP answer, what a fake BBB server received, a
//! timeout hit). A checker test requires one such function per variable of README's configuration table.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fake_bbb::{FakeServer, Fault, LoggedRequest};
use hmac::{Hmac, Mac};
use scalelite_core::domain::{Secret, Tenant};
use scalelite_core::storage::{RecordingStore, TenantStore};
use scalelite_recording_importer::fixture::FixtureRecording;
use scalelite_recording_importer::{ImportContext, ImportOutcome, ImportSettings, import_one};
use scalelite_testkit::contract::{
    PATIENCE, SECRET, eventually, free_port, get, http, register, signed_query, tag, with_env,
};
use scalelite_testkit::process::Service;
use scalelite_testkit::{Backend, TestStore, test_store};
use sha1::Sha1;
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_scalelite-api");
const FAKE_SECRET: &str = "fake-bbb-secret";

/// The API with `extra` in its environment, on an embedded store, with one fake BBB server registered.
struct Api {
    service: Service,
    store: TestStore,
    fake: FakeServer,
}

impl Api {
    async fn start(extra: &[(&str, &str)]) -> Api {
        let store = test_store(Backend::Embedded).await;
        let fake = FakeServer::start(FAKE_SECRET).await.expect("a fake BBB");
        register(&store.store, "bbb-1", &fake.url(), FAKE_SECRET).await;
        Api::on(store, fake, extra).await
    }

    async fn on(store: TestStore, fake: FakeServer, extra: &[(&str, &str)]) -> Api {
        let service =
            Service::spawn_listening(Path::new(BIN), &[], &with_env(store.env(), extra)).await;
        Api {
            service,
            store,
            fake,
        }
    }

    /// The URL of an API call signed with `secret`.
    fn url_with(&self, call: &str, query: &str, secret: &str) -> String {
        self.service.url(&format!(
            "/bigbluebutton/api/{call}?{}",
            signed_query(call, query, secret)
        ))
    }

    /// GET a call signed with the LB secret: (status, headers, body).
    async fn call(&self, call: &str, query: &str) -> (u16, reqwest::header::HeaderMap, String) {
        get(&self.url_with(call, query, SECRET)).await
    }

    /// The body of a call signed with the LB secret.
    async fn body(&self, call: &str, query: &str) -> String {
        self.call(call, query).await.2
    }

    /// A create that must succeed.
    async fn create(&self, query: &str) -> String {
        let body = self.body("create", query).await;
        assert!(
            body.contains("<returncode>SUCCESS</returncode>"),
            "create {query}: {body}\n{}",
            self.service.log()
        );
        body
    }

    /// What the fake BBB server received for `call`.
    fn forwarded(&self, call: &str) -> Vec<LoggedRequest> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.call == call)
            .collect()
    }

    /// The one `call` the fake received.
    fn last_forwarded(&self, call: &str) -> LoggedRequest {
        self.forwarded(call)
            .pop()
            .unwrap_or_else(|| panic!("the fake BBB received no {call}"))
    }

    /// The Location of a join redirect.
    async fn join_location(&self, query: &str) -> String {
        let (status, headers, body) = self.call("join", query).await;
        assert_eq!(status, 302, "{body}");
        headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("a Location")
            .to_owned()
    }
}

fn message_key(body: &str) -> &str {
    tag(body, "messageKey").unwrap_or_default()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| v.to_owned())
    })
}

// --- secrets, checksums, tenants --------------------------------------------------------------------------------

#[tokio::test]
async fn contract_loadbalancer_secret() {
    let api = Api::start(&[("LOADBALANCER_SECRET", "operator-secret")]).await;
    let (_, _, ok) = get(&api.url_with("getMeetings", "", "operator-secret")).await;
    assert!(ok.contains("<returncode>SUCCESS</returncode>"), "{ok}");
    let (_, _, wrong) = get(&api.url_with("getMeetings", "", SECRET)).await;
    assert_eq!(message_key(&wrong), "checksumError", "{wrong}");
}

#[tokio::test]
async fn contract_loadbalancer_secrets() {
    let api = Api::start(&[("LOADBALANCER_SECRETS", "second-secret:third-secret")]).await;
    for secret in [SECRET, "second-secret", "third-secret"] {
        let (_, _, body) = get(&api.url_with("getMeetings", "", secret)).await;
        assert!(
            body.contains("<returncode>SUCCESS</returncode>"),
            "{secret}: {body}"
        );
    }
    let (_, _, wrong) = get(&api.url_with("getMeetings", "", "fourth-secret")).await;
    assert_eq!(message_key(&wrong), "checksumError");
}

#[tokio::test]
async fn contract_loadbalancer_checksum_algorithm() {
    // Only SHA1: SHA-256 checksums (what the helper signs with) are refused, SHA1 ones accepted, and outbound calls
    // are signed with SHA1 (40 hex digits; the fake BBB checks them its own way).
    let api = Api::start(&[("LOADBALANCER_CHECKSUM_ALGORITHM", "SHA1")]).await;
    let body = api.body("getMeetings", "").await;
    assert_eq!(message_key(&body), "checksumError", "{body}");
    let query = "meetingID=sha1&name=s";
    let checksum = hex::encode(Sha1::digest(format!("create{query}{SECRET}").as_bytes()));
    let url = api.service.url(&format!(
        "/bigbluebutton/api/create?{query}&checksum={checksum}"
    ));
    let (_, _, body) = get(&url).await;
    assert!(body.contains("<returncode>SUCCESS</returncode>"), "{body}");
    let forwarded = api.last_forwarded("create");
    assert_eq!(forwarded.checksum_ok, Some(true));
    let outbound = forwarded
        .query
        .as_deref()
        .and_then(|q| q.split("checksum=").nth(1))
        .unwrap_or_default()
        .to_owned();
    assert_eq!(outbound.len(), 40, "SHA1 outbound: {outbound}");
    let api = Api::start(&[("LOADBALANCER_CHECKSUM_ALGORITHM", "SHA256")]).await;
    let body = api.body("getMeetings", "").await;
    assert!(body.contains("<returncode>SUCCESS</returncode>"), "{body}");
}

#[tokio::test]
async fn contract_multitenancy_enabled() {
    let store = test_store(Backend::Embedded).await;
    store
        .store
        .add_tenant(Tenant {
            id: "tenant-id-1".into(),
            name: "acme".into(),
            secrets: vec![Secret::new("acme-secret")],
            ..Tenant::default()
        })
        .await
        .expect("add tenant");
    let fake = FakeServer::start(FAKE_SECRET).await.unwrap();
    let api = Api::on(store, fake, &[("MULTITENANCY_ENABLED", "true")]).await;
    // The LB secret no longer opens the API: the tenant named by the host's first label must sign.
    let body = api.body("getMeetings", "").await;
    assert_eq!(message_key(&body), "checksumError", "{body}");
    let response = http()
        .get(api.url_with("getMeetings", "", "acme-secret"))
        .header("host", "acme.lb.example.com")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        response.contains("<returncode>SUCCESS</returncode>"),
        "{response}"
    );
}

#[tokio::test]
async fn contract_url_host() {
    let api = Api::start(&[("URL_HOST", "lb.example.com")]).await;
    let (status, _, _) = api.call("getMeetings", "").await;
    assert_eq!(status, 403, "a request to another host is refused");
    let response = http()
        .get(api.url_with("getMeetings", "", SECRET))
        .header("host", "lb.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

async fn fsapi(api: &Api, password: Option<&str>) -> (u16, String) {
    let mut request = http()
        .post(api.service.url("/fsapi"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("section=dialplan&Caller-Destination-Number=6135551234");
    if let Some(password) = password {
        request = request.basic_auth("fsapi", Some(password));
    }
    let response = request.send().await.expect("fsapi answers");
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

#[tokio::test]
async fn contract_fsapi_password() {
    let api = Api::start(&[("FSAPI_PASSWORD", "dial-in-password")]).await;
    assert_eq!(fsapi(&api, Some(SECRET)).await.0, 401, "not the LB secret");
    let (status, body) = fsapi(&api, Some("dial-in-password")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("play_and_get_digits"), "{body}");
}

// --- calls to BBB servers ---------------------------------------------------------------------------------------

#[tokio::test]
async fn contract_connect_timeout() {
    // A server whose accept queue is full: connecting never completes. With a huge CONNECT_TIMEOUT the create is
    // still waiting long after the default (5 s + the 1 s response timeout) would have given up.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let _fills_the_queue = std::net::TcpStream::connect(addr).unwrap();
    let store = test_store(Backend::Embedded).await;
    let url = format!("http://{addr}/bigbluebutton/api/");
    register(&store.store, "full", &url, FAKE_SECRET).await;
    let fake = FakeServer::start(FAKE_SECRET).await.unwrap();
    let api = Api::on(
        store,
        fake,
        &[("CONNECT_TIMEOUT", "3600"), ("RESPONSE_TIMEOUT", "1")],
    )
    .await;
    let create = api.call("create", "meetingID=m&name=m");
    let waited = tokio::time::timeout(Duration::from_secs(12), create).await;
    assert!(
        waited.is_err(),
        "the create gave up before CONNECT_TIMEOUT: {waited:?}"
    );
    drop(listener);
}

#[tokio::test]
async fn contract_response_timeout() {
    // A call may take CONNECT_TIMEOUT + RESPONSE_TIMEOUT. The server answers after 8 s: the default response
    // timeout (1 + 10 s) would wait for it, 1 + 1 s does not.
    let api = Api::start(&[("RESPONSE_TIMEOUT", "1"), ("CONNECT_TIMEOUT", "1")]).await;
    api.fake
        .set_fault(Fault::Delay(Duration::from_secs(8)))
        .await
        .unwrap();
    let body = api.body("create", "meetingID=m&name=m").await;
    assert!(body.contains("<returncode>FAILED</returncode>"), "{body}");
}

// --- meetings ---------------------------------------------------------------------------------------------------

#[tokio::test]
async fn contract_max_meeting_duration() {
    let api = Api::start(&[("MAX_MEETING_DURATION", "45")]).await;
    api.create("meetingID=a&name=a&duration=600").await;
    assert_eq!(api.last_forwarded("create").param("duration"), Some("45"));
}

#[tokio::test]
async fn contract_default_meeting_ttl() {
    // The meeting record expires after 1 s although the server still holds the meeting (no poller runs).
    let api = Api::start(&[("DEFAULT_MEETING_TTL", "1")]).await;
    api.create("meetingID=short-lived&name=x").await;
    eventually("the meeting record expires", || async {
        let body = api.body("getMeetingInfo", "meetingID=short-lived").await;
        message_key(&body) == "notFound"
    })
    .await;
    assert!(api.fake.meeting("short-lived").is_some());
}

#[tokio::test]
async fn contract_create_exclude_params() {
    let api = Api::start(&[("CREATE_EXCLUDE_PARAMS", "logo,welcome")]).await;
    api.create("meetingID=a&name=a&logo=x&welcome=hi&record=true")
        .await;
    let create = api.last_forwarded("create");
    assert_eq!(
        (create.param("logo"), create.param("welcome")),
        (None, None)
    );
    assert_eq!(create.param("record"), Some("true"));
}

#[tokio::test]
async fn contract_join_exclude_params() {
    let api = Api::start(&[("JOIN_EXCLUDE_PARAMS", "avatarURL")]).await;
    api.create("meetingID=a&name=a&moderatorPW=mp").await;
    let location = api
        .join_location("meetingID=a&fullName=u&password=mp&avatarURL=x&userID=u1")
        .await;
    assert_eq!(query_param(&location, "avatarURL"), None, "{location}");
    assert_eq!(query_param(&location, "userID").as_deref(), Some("u1"));
}

#[tokio::test]
async fn contract_default_create_params() {
    let api = Api::start(&[("DEFAULT_CREATE_PARAMS", "record=true,maxParticipants=7")]).await;
    api.create("meetingID=a&name=a&maxParticipants=3").await;
    let create = api.last_forwarded("create");
    assert_eq!(create.param("record"), Some("true"), "added");
    assert_eq!(
        create.param("maxParticipants"),
        Some("3"),
        "the client's wins"
    );
}

#[tokio::test]
async fn contract_override_create_params() {
    let api = Api::start(&[("OVERRIDE_CREATE_PARAMS", "record=false")]).await;
    api.create("meetingID=a&name=a&record=true").await;
    assert_eq!(api.last_forwarded("create").param("record"), Some("false"));
}

#[tokio::test]
async fn contract_default_join_params() {
    let api = Api::start(&[(
        "DEFAULT_JOIN_PARAMS",
        "userdata-bbb_skip_check_audio=true,guest=false",
    )])
    .await;
    api.create("meetingID=a&name=a&moderatorPW=mp").await;
    let location = api
        .join_location("meetingID=a&fullName=u&password=mp&guest=true")
        .await;
    assert_eq!(
        query_param(&location, "userdata-bbb_skip_check_audio").as_deref(),
        Some("true")
    );
    assert_eq!(query_param(&location, "guest").as_deref(), Some("true"));
}

#[tokio::test]
async fn contract_override_join_params() {
    let api = Api::start(&[("OVERRIDE_JOIN_PARAMS", "guest=false")]).await;
    api.create("meetingID=a&name=a&moderatorPW=mp").await;
    let location = api
        .join_location("meetingID=a&fullName=u&password=mp&guest=true")
        .await;
    assert_eq!(query_param(&location, "guest").as_deref(), Some("false"));
}

/// One digit gives nine numbers, fewer than the ten tries: every create still answers at once (the generator once
/// looped forever), the first nine with distinct one-digit bridges and the tenth with an error.
#[tokio::test]
async fn contract_voice_bridge_len() {
    let api = Api::start(&[("VOICE_BRIDGE_LEN", "1")]).await;
    let mut bridges = Vec::new();
    for i in 0..9 {
        let query = format!("meetingID=m{i}&name=m{i}");
        let body = tokio::time::timeout(PATIENCE, api.body("create", &query))
            .await
            .expect("create answers at once");
        assert!(body.contains("<returncode>SUCCESS</returncode>"), "{body}");
        let bridge = tag(&body, "voiceBridge").expect("a voiceBridge").to_owned();
        assert_eq!(bridge.len(), 1, "{bridge}");
        bridges.push(bridge);
    }
    bridges.sort();
    assert_eq!(bridges, ["1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    let tenth = tokio::time::timeout(PATIENCE, api.body("create", "meetingID=m9&name=m9"))
        .await
        .expect("the tenth create answers at once");
    assert!(tenth.contains("<returncode>FAILED</returncode>"), "{tenth}");
}

#[tokio::test]
async fn contract_voice_bridge_min() {
    let api = Api::start(&[("VOICE_BRIDGE_MIN", "3")]).await;
    let (_, body) = fsapi(&api, Some(SECRET)).await;
    assert!(body.contains("3 9 3 7000 #"), "{body}");
}

#[tokio::test]
async fn contract_voice_bridge_max() {
    let api = Api::start(&[("VOICE_BRIDGE_MAX", "12")]).await;
    let (_, body) = fsapi(&api, Some(SECRET)).await;
    assert!(body.contains("5 12 3 7000 #"), "{body}");
}

#[tokio::test]
async fn contract_use_external_voice_bridge() {
    let api = Api::start(&[("USE_EXTERNAL_VOICE_BRIDGE", "true")]).await;
    api.create("meetingID=a&name=a&voiceBridge=70707").await;
    assert_eq!(
        api.last_forwarded("create").param("voiceBridge"),
        Some("70707")
    );
}

#[tokio::test]
async fn contract_get_meetings_api_disabled() {
    let api = Api::start(&[("GET_MEETINGS_API_DISABLED", "true")]).await;
    api.create("meetingID=running&name=r").await;
    let body = api.body("getMeetings", "").await;
    assert_eq!(message_key(&body), "noMeetings", "{body}");
    assert!(api.forwarded("getMeetings").is_empty());
}

#[tokio::test]
async fn contract_fsapi_max_duration() {
    let api = Api::start(&[("FSAPI_MAX_DURATION", "7")]).await;
    let (_, body) = fsapi(&api, Some(SECRET)).await;
    assert!(body.contains("+420 normal_clearing"), "{body}");
}

// --- recordings -------------------------------------------------------------------------------------------------

/// Import a recording (presentation and video) into the store, protected or not; returns its record id.
async fn import(store: &TestStore, protected: bool) -> (String, tempfile::TempDir) {
    let dirs = tempfile::tempdir().unwrap();
    let mut settings = ImportSettings::under(dirs.path());
    settings.policy.protected = protected;
    let ctx = ImportContext::new(store.store.clone(), settings);
    let recording = FixtureRecording::new("recorded-meeting", 1_700_000_000_000)
        .with_format("presentation")
        .with_format("video");
    let tar = recording.write_tar(&dirs.path().join("spool")).unwrap();
    let outcome = import_one(&ctx, &tar).await.expect("import");
    assert!(matches!(outcome, ImportOutcome::Imported(_)), "{outcome:?}");
    store
        .store
        .get_recording(&recording.record_id)
        .await
        .expect("the recording is in the store");
    (recording.record_id, dirs)
}

async fn api_with_recording(
    protected: bool,
    extra: &[(&str, &str)],
) -> (Api, String, tempfile::TempDir) {
    let store = test_store(Backend::Embedded).await;
    let (record_id, dirs) = import(&store, protected).await;
    let fake = FakeServer::start(FAKE_SECRET).await.unwrap();
    (Api::on(store, fake, extra).await, record_id, dirs)
}

#[tokio::test]
async fn contract_recording_disabled() {
    let (api, record_id, _dirs) =
        api_with_recording(false, &[("RECORDING_DISABLED", "true")]).await;
    let body = api.body("getRecordings", "").await;
    assert!(!body.contains(&record_id), "{body}");
    assert_eq!(message_key(&body), "noRecordings", "{body}");
    let (_, _, publish) = api
        .call(
            "publishRecordings",
            &format!("recordID={record_id}&publish=false"),
        )
        .await;
    assert_eq!(message_key(&publish), "notFound", "{publish}");
}

#[tokio::test]
async fn contract_get_recordings_api_filtered() {
    let (api, record_id, _dirs) =
        api_with_recording(false, &[("GET_RECORDINGS_API_FILTERED", "true")]).await;
    let body = api.body("getRecordings", "").await;
    assert_eq!(message_key(&body), "missingParameters", "{body}");
    let body = api
        .body("getRecordings", "meetingID=recorded-meeting")
        .await;
    assert!(body.contains(&record_id), "{body}");
}

#[tokio::test]
async fn contract_recording_playback_formats() {
    let (api, record_id, _dirs) =
        api_with_recording(false, &[("RECORDING_PLAYBACK_FORMATS", "video")]).await;
    let (status, headers, _) =
        get(&api.service.url(&format!("/video/{record_id}/video-0.m4v"))).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("x-accel-redirect"));
    let (_, headers, _) = get(&api.service.url(&format!("/presentation/{record_id}/"))).await;
    assert!(
        !headers.contains_key("x-accel-redirect"),
        "presentation is not served"
    );
}

#[tokio::test]
async fn contract_protected_recordings_enabled() {
    let (api, record_id, _dirs) =
        api_with_recording(true, &[("PROTECTED_RECORDINGS_ENABLED", "true")]).await;
    let body = api
        .body("getRecordings", &format!("recordID={record_id}"))
        .await;
    assert_eq!(tag(&body, "protected"), Some("true"), "{body}");
    // Files of a protected recording need the access cookie.
    let (status, _, _) = get(&api.service.url(&format!("/video/{record_id}/"))).await;
    assert_eq!(status, 404);
}

/// The one-time playback link of a protected recording: its URL from getRecordings.
async fn playback_link(api: &Api, record_id: &str) -> String {
    let body = api
        .body("getRecordings", &format!("recordID={record_id}"))
        .await;
    let url = body
        .split("<url>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</url>").map(|(url, _)| url))
        .find(|url| url.contains("/recording/") && url.contains("/video?token="))
        .unwrap_or_else(|| panic!("a protected video link: {body}"))
        .replace("&amp;", "&");
    // Ask this API, whatever host the link names.
    let path = &url[url.find("/recording/").unwrap()..];
    api.service.url(path)
}

#[tokio::test]
async fn contract_protected_recordings_token_timeout() {
    // 0 minutes: every link has expired by the time it is used.
    let (api, record_id, _dirs) = api_with_recording(
        true,
        &[
            ("PROTECTED_RECORDINGS_ENABLED", "true"),
            ("PROTECTED_RECORDINGS_TOKEN_TIMEOUT", "0"),
        ],
    )
    .await;
    let (status, _, _) = get(&playback_link(&api, &record_id).await).await;
    assert_eq!(status, 404, "the token expired");
    // The same store and recording with the default lifetime: the link works.
    let Api {
        store,
        fake,
        service,
    } = api;
    drop(service);
    let api = Api::on(store, fake, &[("PROTECTED_RECORDINGS_ENABLED", "true")]).await;
    let (status, _, _) = get(&playback_link(&api, &record_id).await).await;
    assert_eq!(status, 307);
}

/// The access cookie a used playback link sets: (its value, the claims of the JWT in it).
async fn access_cookie(api: &Api, record_id: &str) -> (String, serde_json::Value) {
    let (status, headers, _) = get(&playback_link(api, record_id).await).await;
    assert_eq!(status, 307);
    let cookie = headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("an access cookie");
    let value = cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, v)| v.to_owned())
        .expect("name=value");
    let payload = value.split('.').nth(1).expect("a JWT");
    let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    (value, claims)
}

fn now_secs() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[tokio::test]
async fn contract_protected_recordings_timeout() {
    let (api, record_id, _dirs) = api_with_recording(
        true,
        &[
            ("PROTECTED_RECORDINGS_ENABLED", "true"),
            ("PROTECTED_RECORDINGS_TIMEOUT", "1000"),
        ],
    )
    .await;
    let (_, claims) = access_cookie(&api, &record_id).await;
    let left = claims["exp"].as_i64().unwrap() - now_secs();
    // 1000 minutes, give or take a loaded machine (the default is 360 minutes).
    assert!((59_000..=60_000).contains(&left), "{claims}");
}

#[tokio::test]
async fn contract_secret_key_base() {
    let (api, record_id, _dirs) = api_with_recording(
        true,
        &[
            ("PROTECTED_RECORDINGS_ENABLED", "true"),
            ("SECRET_KEY_BASE", "the-cookie-key"),
        ],
    )
    .await;
    let (cookie, _) = access_cookie(&api, &record_id).await;
    let (signed, signature) = cookie.rsplit_once('.').unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(b"the-cookie-key").unwrap();
    mac.update(signed.as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap())
        .expect("the cookie is signed with SECRET_KEY_BASE");
    let (status, headers, _) = {
        let response = http()
            .get(api.service.url(&format!("/video/{record_id}/")))
            .header("cookie", format!("recording_video_{record_id}={cookie}"))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.headers().clone(), ())
    };
    assert_eq!(status, 200);
    assert!(headers.contains_key("x-accel-redirect"));
}

// --- misc -------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn contract_build_number() {
    let api = Api::start(&[("BUILD_NUMBER", "build-4711")]).await;
    let (_, _, body) = get(&api.service.url("/bigbluebutton/api")).await;
    assert_eq!(tag(&body, "build"), Some("build-4711"), "{body}");
}

#[tokio::test]
async fn contract_bind() {
    let port = free_port();
    let bind = format!("tcp://127.0.0.1:{port}");
    let api = Api::start(&[("BIND", &bind)]).await;
    assert_eq!(api.service.addr.map(|a| a.port()), Some(port));
    let (status, _, _) = get(&format!("http://127.0.0.1:{port}/bigbluebutton/api")).await;
    assert_eq!(status, 200);
}

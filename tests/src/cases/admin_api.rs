//! The admin REST API `/scalelite/api/*`, against both back-ends.

use fake_bbb::Fault;
use scalelite_core::bbb::checksum::AllowedAlgorithms;
use scalelite_core::domain::{NewServer, Secret, ServerPatch, ServerState, Tenant};
use scalelite_core::storage::{MeetingStore, ServerStore, StoreError, TenantStore};
use serde_json::{Value, json};

use scalelite_core::bbb::checksum::Algorithm;
use scalelite_core::bbb_client::{BbbClient, Timeouts};
use scalelite_poller::PollSettings;

use crate::harness::*;

/// `/scalelite/api/<action>?<query>&checksum=<sha256(action + query + body + LB secret)>`, signed independently
/// of the core.
fn admin_url(app: &TestApp, action: &str, query: &str, body: &str) -> String {
    let checksum = sha256_hex(&format!("{action}{query}{body}{LB_SECRET}"));
    let sep = if query.is_empty() { "" } else { "&" };
    app.url(&format!(
        "/scalelite/api/{action}?{query}{sep}checksum={checksum}"
    ))
}

/// Status and body of an answer; the body as JSON when it is JSON, else as a string.
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

async fn get(app: &TestApp, action: &str, query: &str) -> (u16, Value) {
    answer(
        app.http
            .get(admin_url(app, action, query, ""))
            .send()
            .await
            .expect("request"),
    )
    .await
}

async fn post(app: &TestApp, action: &str, query: &str, body: Value) -> (u16, Value) {
    let body = body.to_string();
    let response = app
        .http
        .post(admin_url(app, action, query, &body))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    answer(response).await
}

/// Assert a BBB XML `FAILED` answer (HTTP 200) with this messageKey.
#[track_caller]
fn assert_xml_failed(status: u16, body: &Value, key: &str) {
    assert_eq!(status, 200, "{body}");
    let text = body
        .as_str()
        .unwrap_or_else(|| panic!("expected XML, got {body}"));
    let root = scalelite_core::bbb::xml::parse(text.as_bytes()).expect("XML");
    assert_eq!(
        root.child_text("returncode").as_deref(),
        Some("FAILED"),
        "{text}"
    );
    assert_eq!(
        root.child_text("messageKey").as_deref(),
        Some(key),
        "{text}"
    );
}

async fn store_server(
    app: &TestApp,
    id: &str,
    state: ServerState,
    load: Option<f64>,
    multiplier: f64,
) {
    app.store
        .add_server(NewServer {
            id: id.into(),
            url: format!("https://{id}.example.com/bigbluebutton/api/"),
            secret: Secret::new(format!("{id}-secret")),
            tag: None,
            state,
            load_multiplier: multiplier,
        })
        .await
        .expect("add server");
    if load.is_some() {
        app.store
            .patch_server(
                id,
                ServerPatch {
                    online: Some(true),
                    load: Some(load),
                    ..ServerPatch::default()
                },
            )
            .await
            .expect("patch server");
    }
}

async fn multitenant(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| s.multitenancy = true).await
}

async fn store_tenant(app: &TestApp, name: &str) -> Tenant {
    app.store
        .add_tenant(Tenant {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.into(),
            secrets: vec![
                Secret::new(format!("{name}-s1")),
                Secret::new(format!("{name}-s2")),
            ],
            ..Tenant::default()
        })
        .await
        .expect("add tenant")
}

both_backends! {
    async fn get_servers_lists_every_server_with_the_original_fields(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (status, body) = get(&app, "getServers", "").await;
        assert_eq!((status, body), (404, json!({"error": "No servers are configured"})));

        store_server(&app, "s1", ServerState::Enabled, Some(25.0), 1.0).await;
        store_server(&app, "s2", ServerState::Cordoned, Some(3.0), 2.5).await;
        store_server(&app, "s3", ServerState::Disabled, None, 1.0).await;
        app.store.patch_server("s1", ServerPatch {
            tag: Some(Some("gpu".into())),
            bbb_version: Some("3.0.4".into()),
            ..ServerPatch::default()
        }).await.unwrap();

        let (status, body) = get(&app, "getServers", "").await;
        assert_eq!(status, 200, "{body}");
        let mut list = body.as_array().expect("an array").clone();
        list.sort_by_key(|s| s["id"].as_str().unwrap().to_owned());
        assert_eq!(list, vec![
            json!({"id": "s1", "url": "https://s1.example.com/bigbluebutton/api/", "secret": "s1-secret",
                   "tag": "gpu", "bbb_version": "3.0.4", "state": "enabled", "load": 25.0,
                   "load_multiplier": 1.0, "online": "online"}),
            json!({"id": "s2", "url": "https://s2.example.com/bigbluebutton/api/", "secret": "s2-secret",
                   "tag": "", "bbb_version": "", "state": "cordoned", "load": 3.0,
                   "load_multiplier": 2.5, "online": "online"}),
            json!({"id": "s3", "url": "https://s3.example.com/bigbluebutton/api/", "secret": "s3-secret",
                   "tag": "", "bbb_version": "", "state": "disabled", "load": "unavailable",
                   "load_multiplier": 1.0, "online": "offline"}),
        ]);

        let (status, body) = get(&app, "getServerInfo", "id=s2").await;
        assert_eq!(status, 200);
        assert_eq!(body["id"], "s2");
        assert_eq!(body["load_multiplier"], json!(2.5), "always a number");
        let (status, body) = get(&app, "getServerInfo", "id=nonexistent-id").await;
        assert_eq!((status, body), (404, json!({"error": "Couldn't find server with id=nonexistent-id"})));
    }

    async fn add_server_creates_a_disabled_server(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (status, body) = post(&app, "addServer", "", json!({"server": {
            "url": "https://bbb1.example.com/bigbluebutton/api/", "secret": "sec1",
            "load_multiplier": 1.5, "tag": "test-tag"}})).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["state"], "disabled");
        assert_eq!(body["load"], "unavailable");
        assert_eq!(body["online"], "offline");
        assert_eq!(body["load_multiplier"], json!(1.5));
        let id = body["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 36, "a UUID: {id}");
        let stored = app.store.get_server(&id).await.unwrap();
        assert_eq!((stored.load_multiplier, stored.tag.as_deref(), stored.state), (1.5, Some("test-tag"), ServerState::Disabled));
        assert_eq!(stored.secret.expose(), "sec1");

        // The root object may be left out; no multiplier (or 0) means 1.0; a URL without the API path is fixed.
        let (status, body) = post(&app, "addServer", "", json!({"url": "https://bbb2.example.com", "secret": "s2", "load_multiplier": "0"})).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["load_multiplier"], json!(1.0));
        assert_eq!(body["url"], "https://bbb2.example.com/bigbluebutton/api/");
        assert_eq!(body["tag"], "");
        assert_eq!(app.store.list_servers().await.unwrap().len(), 2);

        for bad in [json!({"server": {"url": "https://x.example.com/bigbluebutton/api/"}}),
                    json!({"server": {"secret": "s"}}),
                    json!({"server": {"url": " ", "secret": "s"}})] {
            let (status, body) = post(&app, "addServer", "", bad).await;
            assert_eq!((status, body), (400, json!({"error": "Server needs a URL and a secret"})));
        }
        let (status, body) = post(&app, "addServer", "", json!({"url": "bbb3.example.com", "secret": "s"})).await;
        assert_eq!((status, body), (400, json!({"error": "Server URL must start with http:// or https://"})));
        let (status, body) = post(&app, "addServer", "", json!({"url": "https://b.example.com/", "secret": "s", "load_multiplier": "lots"})).await;
        assert_eq!(status, 400);
        assert!(body["error"].as_str().unwrap().contains("invalid load multiplier"), "{body}");
        // No body at all: the original's ParameterMissing, as BBB XML.
        let response = app.http.post(admin_url(&app, "addServer", "", "")).send().await.unwrap();
        let (status, body) = answer(response).await;
        assert_xml_failed(status, &body, "internalError");
        assert!(body.as_str().unwrap().contains("param is missing or the value is empty: server"));
        assert_eq!(app.store.list_servers().await.unwrap().len(), 2, "nothing added by the failures");
    }

    async fn add_server_with_hostname_ids(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.server_id_is_hostname = true).await;
        let (status, body) = post(&app, "addServer", "", json!({"url": "https://TEST.example.com/bigbluebutton/api/", "secret": "s"})).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["id"], "test.example.com");
        let (status, body) = post(&app, "addServer", "", json!({"url": "https://test.EXAMPLE.com/bigbluebutton/api", "secret": "s"})).await;
        assert_eq!(status, 409, "{body}");
        assert!(body["error"].as_str().unwrap().contains("already exists"), "{body}");
        assert_eq!(app.store.list_servers().await.unwrap().len(), 1);
    }

    async fn update_server_applies_state_multiplier_secret_and_tag(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        store_server(&app, "s1", ServerState::Disabled, None, 1.0).await;
        for (given, stored) in [("enable", ServerState::Enabled), ("cordon", ServerState::Cordoned), ("disable", ServerState::Disabled)] {
            let (status, body) = post(&app, "updateServer", "", json!({"id": "s1", "server": {"state": given}})).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!((body["id"].as_str(), body["state"].as_str()), (Some("s1"), Some(stored.as_str())));
            assert_eq!(app.store.get_server("s1").await.unwrap().state, stored);
        }
        let (status, body) = post(&app, "updateServer", "", json!({"id": "s1", "server": {"state": "invalid_state", "load_multiplier": 3}})).await;
        assert_eq!((status, body), (400, json!({"error": "Invalid state parameter: invalid_state"})));
        assert_eq!(app.store.get_server("s1").await.unwrap().load_multiplier, 1.0, "nothing applied");

        let (status, body) = post(&app, "updateServer", "", json!({"id": "s1", "server": {"load_multiplier": "2.5", "state": "enable"}})).await;
        assert_eq!(status, 200);
        assert_eq!(body["load_multiplier"], json!(2.5));
        assert_eq!(body["state"], "enabled");
        let (status, body) = post(&app, "updateServer", "", json!({"id": "s1", "server": {"load_multiplier": 0}})).await;
        assert_eq!((status, body), (400, json!({"error": "Load-multiplier must be a non-zero number"})));
        assert_eq!(app.store.get_server("s1").await.unwrap().load_multiplier, 2.5);

        let (status, body) = post(&app, "updateServer", "", json!({"id": "s1", "server": {"tag": "test-tag", "secret": "new-secret"}})).await;
        assert_eq!((status, body["tag"].as_str()), (200, Some("test-tag")));
        assert_eq!(body["secret"], "new-secret");
        let stored = app.store.get_server("s1").await.unwrap();
        assert_eq!((stored.tag.as_deref(), stored.secret.expose()), (Some("test-tag"), "new-secret"));
        // A tag key left out keeps the tag; an empty tag removes it.
        let (status, _) = post(&app, "updateServer", "", json!({"id": "s1", "server": {"secret": "other"}})).await;
        assert_eq!(status, 200);
        assert_eq!(app.store.get_server("s1").await.unwrap().tag.as_deref(), Some("test-tag"));
        let (status, body) = post(&app, "updateServer", "", json!({"id": "s1", "server": {"tag": ""}})).await;
        assert_eq!((status, body["tag"].as_str()), (200, Some("")));
        assert_eq!(app.store.get_server("s1").await.unwrap().tag, None);

        // The id may come in the query.
        let (status, body) = post(&app, "updateServer", "id=s1", json!({"server": {"state": "cordon"}})).await;
        assert_eq!((status, body["state"].as_str()), (200, Some("cordoned")));
        let (status, body) = post(&app, "updateServer", "", json!({"id": "nonexistent-id", "server": {"state": "enable"}})).await;
        assert_eq!((status, body), (404, json!({"error": "Couldn't find server with id=nonexistent-id"})));
    }

    async fn delete_server(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        store_server(&app, "s1", ServerState::Enabled, Some(1.0), 1.0).await;
        store_server(&app, "s2", ServerState::Enabled, Some(1.0), 1.0).await;
        let (status, body) = post(&app, "deleteServer", "", json!({"id": "s1"})).await;
        assert_eq!((status, body), (200, json!({"success": "Server id=s1 was destroyed"})));
        let left: Vec<String> = app.store.list_servers().await.unwrap().into_iter().map(|s| s.id).collect();
        assert_eq!(left, ["s2"]);
        let (status, body) = post(&app, "deleteServer", "", json!({"id": "nonexistent-id"})).await;
        assert_eq!((status, body), (404, json!({"error": "Couldn't find server with id=nonexistent-id"})));
    }

    async fn get_meetings_shows_the_server_of_each_meeting(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let one = app.add_server("bbb1").await;
        app.call("create", "meetingID=m1").await.assert_success();
        app.store.patch_server("bbb1", ServerPatch { load: Some(Some(100.0)), ..ServerPatch::default() }).await.unwrap();
        let two = app.add_server("bbb2").await;
        app.call("create", "meetingID=m2").await.assert_success();
        assert_eq!(app.store.get_meeting("m2").await.unwrap().server_id, "bbb2");

        let (status, body) = get(&app, "getMeetings", "").await;
        assert_eq!((status, body), (200, json!([
            {"meeting_id": "m1", "server_id": "bbb1", "server_url": one.url()},
            {"meeting_id": "m2", "server_id": "bbb2", "server_url": two.url()},
        ])));
        let (status, body) = get(&app, "getMeetings", "meetingID=m2").await;
        assert_eq!((status, body), (200, json!([{"meeting_id": "m2", "server_id": "bbb2", "server_url": two.url()}])));
        let (status, body) = get(&app, "getMeetings", "meetingID=nope").await;
        assert_eq!((status, body), (404, json!({"error": "Couldn't find meeting with id=nope"})));
    }

    async fn panic_server_forgets_and_ends_meetings(backend: Backend) {
        // Without MEETING_FAILOVER, as the original.
        let mut app = TestApp::spawn_with(backend, |s| s.meeting_failover = false).await;
        let fake = app.add_server("bbb1").await;
        app.call("create", "meetingID=m1&moderatorPW=pw").await.assert_success();
        app.call("create", "meetingID=m2&moderatorPW=pw").await.assert_success();
        assert_eq!(fake.meetings().len(), 2);

        let (status, body) = post(&app, "panicServer", "", json!({"id": "bbb1"})).await;
        assert_eq!((status, body), (200, json!({"success": "Server id=bbb1 has been disabled and the meetings have been destroyed"})));
        assert_eq!(app.store.get_server("bbb1").await.unwrap().state, ServerState::Disabled);
        assert!(app.store.list_meetings().await.unwrap().is_empty());
        let ends: Vec<(Option<String>, Option<String>)> = fake.requests().iter().filter(|r| r.call == "end")
            .map(|r| (r.param("meetingID").map(str::to_owned), r.param("password").map(str::to_owned))).collect();
        assert_eq!(ends.len(), 2);
        assert!(ends.contains(&(Some("m1".into()), Some("pw".into()))), "{ends:?}");
        assert!(fake.requests().iter().filter(|r| r.call == "end").all(|r| r.checksum_ok == Some(true)));
        assert!(fake.meetings().is_empty());

        // keep_state at the top level (as the original reads it) or under `server` (as its docs say).
        for body in [json!({"id": "bbb1", "keep_state": true}), json!({"id": "bbb1", "server": {"keep_state": "yes"}})] {
            let enabled = ServerPatch { state: Some(ServerState::Enabled), load: Some(Some(0.0)), ..ServerPatch::default() };
            app.store.patch_server("bbb1", enabled).await.unwrap();
            app.call("create", "meetingID=m3").await.assert_success();
            let (status, _) = post(&app, "panicServer", "", body).await;
            assert_eq!(status, 200);
            assert_eq!(app.store.get_server("bbb1").await.unwrap().state, ServerState::Enabled);
            assert!(app.store.list_meetings().await.unwrap().is_empty());
        }
        // The string "false" is false (the original counted it as true).
        let (status, _) = post(&app, "panicServer", "", json!({"id": "bbb1", "keep_state": "false"})).await;
        assert_eq!(status, 200);
        assert_eq!(app.store.get_server("bbb1").await.unwrap().state, ServerState::Disabled);
        let (status, body) = post(&app, "panicServer", "", json!({"id": "bbb1", "keep_state": "perhaps"})).await;
        assert_eq!(status, 400, "{body}");

        let (status, body) = post(&app, "panicServer", "", json!({"id": "nonexistent_id"})).await;
        assert_eq!((status, body), (404, json!({"error": "Couldn't find server with id=nonexistent_id"})));
    }

    async fn panic_of_a_dead_server_still_forgets_its_meetings(backend: Backend) {
        let mut app = TestApp::spawn_with(backend, |s| s.meeting_failover = false).await;
        let fake = app.add_server("dead").await;
        app.call("create", "meetingID=m1").await.assert_success();
        fake.set_fault(Fault::Refuse).await.unwrap();
        let (status, body) = post(&app, "panicServer", "", json!({"id": "dead"})).await;
        assert_eq!(status, 200, "{body}");
        assert!(matches!(app.store.get_meeting("m1").await, Err(StoreError::NotFound(_))));
        assert_eq!(app.store.get_server("dead").await.unwrap().state, ServerState::Disabled);
    }

    // With MEETING_FAILOVER (the default), panicServer ends the meetings on the server and disables it, but keeps
    // their records: the poller does not forget them, and the next join creates the meeting again, with the
    // parameters of its first create, on another server.
    async fn panic_keeps_meetings_for_their_next_join(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let a = app.add_server("a").await;
        app.call("create", "meetingID=pk-1&name=Kept&moderatorPW=mp&attendeePW=ap&record=true&meta_course=Chem")
            .await
            .assert_success();
        let on_a = a.meeting("pk-1").expect("created on A, the only server");
        let b = app.add_server("b").await;

        let (status, body) = post(&app, "panicServer", "", json!({"id": "a"})).await;
        assert_eq!((status, body), (200, json!({
            "success": "Server id=a has been disabled and the meetings have been destroyed",
            "meetings_kept_for_failover": 1,
        })));
        assert!(a.meeting("pk-1").is_none(), "ended on A");
        assert_eq!(app.store.get_server("a").await.unwrap().state, ServerState::Disabled);
        assert_eq!(app.store.get_meeting("pk-1").await.unwrap().server_id, "a", "the record stays");

        // A answers getMeetings without the meeting: with failover the poller keeps the record of a disabled
        // server's meeting (without failover it would forget it as ended).
        let timeouts = Timeouts { connect: std::time::Duration::from_secs(1), response: std::time::Duration::from_secs(5) };
        let bbb = BbbClient::new(timeouts, Algorithm::Sha256);
        let poller = scalelite_poller::Poller::new(app.store.clone(), bbb, PollSettings {
            ended_grace: Some(std::time::Duration::ZERO),
            meeting_failover: true,
            ..PollSettings::default()
        });
        for _ in 0..3 {
            let report = poller.poll_once().await.expect("poll");
            assert!(report.meetings_removed.is_empty(), "{report:?}");
        }
        assert_eq!(app.store.get_meeting("pk-1").await.unwrap().server_id, "a");

        // The next join creates it on B with the same parameters and is sent there.
        let response = app.get("join", "meetingID=pk-1&fullName=Ann&password=ap").await;
        assert_eq!(response.status(), 302);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(&b.url()), "join went to {location}, not B");
        let on_b = b.meeting("pk-1").expect("created again on B");
        let sent: Vec<(&str, &str)> = on_b.create_params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        for expected in [("name", "Kept"), ("moderatorPW", "mp"), ("attendeePW", "ap"), ("record", "true"), ("meta_course", "Chem")] {
            assert!(sent.contains(&expected), "{expected:?} not in {sent:?}");
        }
        assert_eq!(on_b.voice_bridge, on_a.voice_bridge, "the same voice bridge");
        assert_eq!(app.store.get_meeting("pk-1").await.unwrap().server_id, "b");
        let info = app.call("getMeetingInfo", "meetingID=pk-1").await;
        info.assert_success();
        assert!(b.requests().iter().any(|r| r.call == "getMeetingInfo"), "answered by B");
        assert!(a.meeting("pk-1").is_none(), "nothing created again on the disabled server");
    }

    async fn checksum_rules(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let body = json!({"server": {"url": "https://c.example.com/bigbluebutton/api/", "secret": "s"}}).to_string();
        let send = |url: String, content_type: &'static str| {
            let body = body.clone();
            let http = app.http.clone();
            async move { answer(http.post(url).header("content-type", content_type).body(body).send().await.unwrap()).await }
        };
        // SHA1, SHA256 and SHA512 of "addServer" + body + secret.
        let signed = format!("addServer{body}{LB_SECRET}");
        let sha512 = {
            use sha2::Digest;
            hex::encode(sha2::Sha512::digest(signed.as_bytes()))
        };
        for checksum in [sha1_hex(&signed), sha256_hex(&signed), sha512] {
            let (status, body) = send(app.url(&format!("/scalelite/api/addServer?checksum={checksum}")), "application/json").await;
            assert_eq!(status, 201, "{body}");
        }
        // Upper-case hex is accepted.
        let upper = sha256_hex(&signed).to_uppercase();
        let (status, _) = send(app.url(&format!("/scalelite/api/addServer?checksum={upper}")), "application/json").await;
        assert_eq!(status, 201);
        // Wrong secret, missing checksum, wrong action, and the original's form that leaves the body out.
        let wrong = sha256_hex(&format!("addServer{body}other-secret"));
        let (status, body_) = send(app.url(&format!("/scalelite/api/addServer?checksum={wrong}")), "application/json").await;
        assert_xml_failed(status, &body_, "checksumError");
        let (status, body_) = send(app.url("/scalelite/api/addServer"), "application/json").await;
        assert_xml_failed(status, &body_, "checksumError");
        let other_action = sha256_hex(&format!("getServers{body}{LB_SECRET}"));
        let (status, body_) = send(app.url(&format!("/scalelite/api/addServer?checksum={other_action}")), "application/json").await;
        assert_xml_failed(status, &body_, "checksumError");
        let legacy = sha256_hex(&format!("addServer{LB_SECRET}"));
        let (status, body_) = send(app.url(&format!("/scalelite/api/addServer?checksum={legacy}")), "application/json").await;
        assert_xml_failed(status, &body_, "checksumError");
        // The right checksum with a form body.
        let right = sha256_hex(&signed);
        let (status, body_) = send(app.url(&format!("/scalelite/api/addServer?checksum={right}")), "application/x-www-form-urlencoded").await;
        assert_xml_failed(status, &body_, "unsupportedContentType");
        assert_eq!(app.store.list_servers().await.unwrap().len(), 4, "only the accepted calls added a server");

        // The checksum covers the rest of the query and the body; it is only read from the query.
        let id = app.store.list_servers().await.unwrap()[0].id.clone();
        let (status, _) = get(&app, "getServerInfo", &format!("id={id}")).await;
        assert_eq!(status, 200);
        let forged = format!("/scalelite/api/getServerInfo?id={id}&checksum={}", sha256_hex(&format!("getServerInfoid=other{LB_SECRET}")));
        let (status, body_) = answer(app.http.get(app.url(&forged)).send().await.unwrap()).await;
        assert_xml_failed(status, &body_, "checksumError");
        let in_body = json!({"id": id, "checksum": sha256_hex(&format!("deleteServer{LB_SECRET}"))}).to_string();
        let (status, body_) = answer(app.http.post(app.url("/scalelite/api/deleteServer")).header("content-type", "application/json").body(in_body).send().await.unwrap()).await;
        assert_xml_failed(status, &body_, "checksumError");
        let tampered = json!({"id": id}).to_string();
        let url = admin_url(&app, "getServerInfo", "", &json!({"id": "other"}).to_string());
        let (status, body_) = answer(app.http.get(url).header("content-type", "application/json").body(tampered).send().await.unwrap()).await;
        assert_xml_failed(status, &body_, "checksumError");
        assert_eq!(app.store.list_servers().await.unwrap().len(), 4);

        // Other methods fall through to unsupportedRequest.
        let (status, body_) = answer(app.http.get(admin_url(&app, "addServer", "", "")).send().await.unwrap()).await;
        assert_xml_failed(status, &body_, "unsupportedRequest");
        let (status, body_) = answer(app.http.post(admin_url(&app, "getServers", "", "")).send().await.unwrap()).await;
        assert_xml_failed(status, &body_, "unsupportedRequest");
    }

    async fn legacy_checksum_only_when_opted_in(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.admin_legacy_checksum = true).await;
        let body = json!({"server": {"url": "https://l.example.com/bigbluebutton/api/", "secret": "s"}}).to_string();
        // The original's form: the body is not covered; the checksum in the query or in the JSON body.
        let legacy = sha256_hex(&format!("addServer{LB_SECRET}"));
        let response = app.http.post(app.url(&format!("/scalelite/api/addServer?checksum={legacy}")))
            .header("content-type", "application/json").body(body.clone()).send().await.unwrap();
        assert_eq!(response.status(), 201);
        let id = app.store.list_servers().await.unwrap()[0].id.clone();
        let in_body = json!({"id": id, "checksum": sha256_hex(&format!("getServerInfo{LB_SECRET}"))}).to_string();
        let response = app.http.get(app.url("/scalelite/api/getServerInfo"))
            .header("content-type", "application/json").body(in_body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        // The current form still works alongside.
        let (status, _) = post(&app, "addServer", "", json!({"server": {"url": "https://m.example.com/bigbluebutton/api/", "secret": "s"}})).await;
        assert_eq!(status, 201);
    }

    async fn admin_secret_replaces_the_lb_secrets(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.admin_secret = Some(Secret::new("admin-only"))).await;
        let (status, body) = get(&app, "getServers", "").await;
        assert_xml_failed(status, &body, "checksumError");
        let checksum = sha256_hex("getServersadmin-only");
        let response = app.http.get(app.url(&format!("/scalelite/api/getServers?checksum={checksum}"))).send().await.unwrap();
        assert_eq!(response.status(), 404, "no servers, but the call was admitted");
    }

    async fn timestamps_with_a_max_age(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.admin_max_age = std::time::Duration::from_secs(300)).await;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let (status, body) = get(&app, "getServers", "").await;
        assert_xml_failed(status, &body, "checksumError");
        let (status, _) = get(&app, "getServers", &format!("timestamp={now}")).await;
        assert_eq!(status, 404, "admitted");
        for stale in [now - 3600, now + 3600] {
            let (status, body) = get(&app, "getServers", &format!("timestamp={stale}")).await;
            assert_xml_failed(status, &body, "checksumError");
        }
        let (status, body) = get(&app, "getServers", "timestamp=soon").await;
        assert_xml_failed(status, &body, "checksumError");
    }

    async fn checksum_algorithms_and_tenant_secrets(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.checksum_algorithms = AllowedAlgorithms::parse(Some("SHA256")).unwrap();
            s.multitenancy = true;
        }).await;
        let sha1 = sha1_hex(&format!("getServers{LB_SECRET}"));
        let (status, body) = answer(app.http.get(app.url(&format!("/scalelite/api/getServers?checksum={sha1}"))).send().await.unwrap()).await;
        assert_xml_failed(status, &body, "checksumError");
        let (status, _) = get(&app, "getServers", "").await;
        assert_eq!(status, 404, "SHA256 is accepted");
        // Tenant secrets never sign admin calls, even with multitenancy.
        let tenant = store_tenant(&app, "t1").await;
        let with_tenant = sha256_hex(&format!("getTenants{}", tenant.secrets[0].expose()));
        let (status, body) = answer(app.http.get(app.url(&format!("/scalelite/api/getTenants?checksum={with_tenant}")))
            .header("host", "t1.scalelite.example.com").send().await.unwrap()).await;
        assert_xml_failed(status, &body, "checksumError");
    }

    async fn tenant_calls_need_multitenancy(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for (status, body) in [get(&app, "getTenants", "").await, get(&app, "getTenantInfo", "id=x").await,
                               post(&app, "addTenant", "", json!({"tenant": {"name": "a", "secrets": "b"}})).await] {
            assert_eq!((status, body), (412, json!({"message": "Multitenancy is disabled"})));
        }
        // The checksum is checked first.
        let (status, body) = answer(app.http.get(app.url("/scalelite/api/getTenants?checksum=00")).send().await.unwrap()).await;
        assert_xml_failed(status, &body, "checksumError");
    }

    async fn tenants_list_info_and_errors(backend: Backend) {
        let app = multitenant(backend).await;
        let (status, body) = get(&app, "getTenants", "").await;
        assert_eq!((status, body), (200, json!({"message": "No tenants exist"})));
        let t1 = store_tenant(&app, "t1").await;
        store_tenant(&app, "t2").await;
        store_tenant(&app, "t3").await;
        let (status, body) = get(&app, "getTenants", "").await;
        assert_eq!(status, 200);
        let list = body.as_array().unwrap();
        assert_eq!(list.len(), 3);
        assert!(list.contains(&json!({"id": t1.id, "name": "t1", "secrets": "t1-s1:t1-s2"})), "{body}");

        let (status, body) = get(&app, "getTenantInfo", &format!("id={}", t1.id)).await;
        assert_eq!((status, body), (200, json!({"name": "t1", "secrets": "t1-s1:t1-s2", "id": t1.id})),
                   "no new_record/destroyed flags");
        let (status, body) = get(&app, "getTenantInfo", "id=nonexistent-id").await;
        assert_eq!((status, body), (404, json!({"error": "Couldn't find Tenant with id=nonexistent-id"})));
    }

    async fn add_update_and_delete_tenants(backend: Backend) {
        let app = multitenant(backend).await;
        let (status, body) = post(&app, "addTenant", "", json!({"tenant": {"name": "bn", "secrets": "s1:s2"}})).await;
        assert_eq!(status, 201, "{body}");
        let id = body["tenant"]["id"].as_str().expect("an id").to_owned();
        assert_eq!(body, json!({"tenant": {"name": "bn", "secrets": "s1:s2", "id": id}}));
        assert_eq!(app.store.list_tenants().await.unwrap().len(), 1);
        for bad in [json!({"tenant": {"name": "x"}}), json!({"tenant": {"secrets": "x"}}), json!({"name": "", "secrets": "x"})] {
            let (status, body) = post(&app, "addTenant", "", bad).await;
            assert_eq!((status, body), (400, json!({"message": "Error: both name and secrets are required to create a Tenant"})));
        }
        let (status, body) = post(&app, "addTenant", "", json!({"name": "bn", "secrets": "other"})).await;
        assert_eq!(status, 409, "a second tenant with the same name is refused: {body}");
        assert_eq!(app.store.list_tenants().await.unwrap().len(), 1);

        let (status, body) = post(&app, "updateTenant", "", json!({"id": id, "tenant": {"name": "bn2"}})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["tenant"]["name"], "bn2");
        assert_eq!(app.store.get_tenant(&id).await.unwrap().name, "bn2");
        assert_eq!(app.store.get_tenant_by_name("bn2").await.unwrap().id, id);
        assert!(matches!(app.store.get_tenant_by_name("bn").await, Err(StoreError::NotFound(_))));
        let (status, body) = post(&app, "updateTenant", "", json!({"id": id, "tenant": {"secrets": "n1:n2"}})).await;
        assert_eq!((status, body["tenant"]["secrets"].as_str()), (200, Some("n1:n2")));
        let secrets: Vec<String> = app.store.get_tenant(&id).await.unwrap().secrets.iter().map(|s| s.expose().to_owned()).collect();
        assert_eq!(secrets, ["n1", "n2"]);
        let (status, body) = post(&app, "updateTenant", "", json!({"id": "nonexistent-id", "tenant": {"name": "z"}})).await;
        assert_eq!((status, body), (404, json!({"error": "Couldn't find Tenant with id=nonexistent-id"})));

        let (status, body) = post(&app, "deleteTenant", "", json!({"id": id})).await;
        assert_eq!((status, body), (200, json!({"success": format!("Tenant id={id} was destroyed")})));
        assert!(app.store.list_tenants().await.unwrap().is_empty());
        let (status, _) = post(&app, "deleteTenant", "", json!({"id": id})).await;
        assert_eq!(status, 404);

        // SHA1 of "addTenant" + secret, and a form body refused.
        let body = json!({"tenant": {"name": "t9", "secrets": "x"}}).to_string();
        let sha1 = sha1_hex(&format!("addTenant{body}{LB_SECRET}"));
        let url = app.url(&format!("/scalelite/api/addTenant?checksum={sha1}"));
        let (status, _) = answer(app.http.post(&url).header("content-type", "application/json").body(body.clone()).send().await.unwrap()).await;
        assert_eq!(status, 201);
        let (status, body) = answer(app.http.post(&url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap()).await;
        assert_xml_failed(status, &body, "unsupportedContentType");
    }
}

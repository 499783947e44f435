//! The analytics callback relay and its capture at create.

use scalelite_core::domain::{Secret, Tenant};
use scalelite_core::jwt::{self, JwtAlgorithm};
use scalelite_core::storage::store::Store;
use scalelite_core::storage::{MeetingStore, RecordingStore, TenantStore};
use serde_json::json;

use crate::harness::*;
use crate::receiver::Receiver;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A token as a BBB server makes it: HS512 with its own secret.
fn server_token(secret: &str) -> String {
    jwt::encode(
        &json!({ "exp": now() + 600 }),
        secret.as_bytes(),
        JwtAlgorithm::Hs512,
    )
}

async fn post_callback(
    app: &TestApp,
    host: Option<&str>,
    authorization: Option<&str>,
    body: &serde_json::Value,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/bigbluebutton/api/analytics_callback"))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(host) = host {
        request = request.header("X-Forwarded-Host", host);
    }
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    request.send().await.expect("request")
}

#[track_caller]
fn assert_no_content(status: u16, body: &str) {
    assert_eq!(status, 204, "{body}");
    assert!(body.is_empty(), "{body}");
}

async fn no_content(response: reqwest::Response) {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_no_content(status, &body);
}

/// The token on a relayed callback verifies with `secret` (HS512) and expires in about a day.
#[track_caller]
fn assert_relay_token(authorization: Option<&str>, secret: &str) {
    let token = authorization
        .and_then(|a| a.strip_prefix("Bearer "))
        .expect("a Bearer token");
    let claims: serde_json::Value =
        jwt::decode(token, secret.as_bytes(), JwtAlgorithm::Hs512, now())
            .expect("signed with the secret");
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(
        exp > now() + 23 * 3600 && exp <= now() + 24 * 3600 + 60,
        "{claims}"
    );
}

both_backends! {
    async fn create_captures_and_the_relay_forwards(backend: Backend) {
        let mut app = TestApp::spawn_with(backend, |s| s.url_host = Some("lb.test".into())).await;
        let fake = app.add_server("bbb1").await;
        let receiver = Receiver::start(200, "{}").await;
        let original = receiver.url("/analytics?source=lms");
        let query = format!(
            "meetingID=a1&meta_analytics-callback-url={}",
            original.replace(':', "%3A").replace('/', "%2F").replace('?', "%3F").replace('=', "%3D")
        );
        let created = app.http.get(app.signed("create", &query)).header("Host", "lb.test").send().await.unwrap();
        Xml::from(created).await.assert_success();
        let sent = fake.requests().into_iter().find(|r| r.call == "create").unwrap();
        assert_eq!(
            sent.param("meta_analytics-callback-url"),
            Some("https://lb.test/bigbluebutton/api/analytics_callback")
        );
        let stored = app.store.get_callback_data(None, "a1").await.unwrap().expect("callback data");
        assert_eq!(stored.analytics_callback_url.as_deref(), Some(original.as_str()));

        let body = json!({
            "version": "1.0",
            "meeting_id": "a1",
            "internal_meeting_id": "abc-123",
            "data": { "metadata": { "analytics_callback_url": "x" }, "duration": 42 }
        });
        let token = server_token("bbb1-secret");
        let response = post_callback(&app, Some("lb.test"), Some(&format!("Bearer {token}")), &body).await;
        no_content(response).await;

        let requests = receiver.requests();
        assert_eq!(requests.len(), 1);
        let relayed = &requests[0];
        assert_eq!(relayed.method, "POST");
        assert_eq!(relayed.uri, "/analytics?source=lms");
        assert_eq!(relayed.header("content-type"), Some("application/json"));
        assert_eq!(relayed.header("user-agent"), Some("BigBlueButton Analytics Callback"));
        assert_relay_token(relayed.header("authorization"), LB_SECRET);
        let mut expected = body.clone();
        expected["customer"] = json!("scalelite");
        assert_eq!(relayed.json(), expected);
        // The callback data is left as it was.
        assert_eq!(app.store.get_callback_data(None, "a1").await.unwrap(), Some(stored));
    }

    async fn relay_tries_each_secret_until_a_2xx(backend: Backend) {
        let mut app = TestApp::spawn_with(backend, |s| {
            s.lb_secrets = ["s-1", "s-2", "s-3"].into_iter().map(Secret::new).collect();
        })
        .await;
        app.add_server("bbb1").await;
        let receiver = Receiver::start(500, "{}").await;
        let mut data = scalelite_core::domain::CallbackData {
            meeting_id: "m1".into(),
            server_id: Some("bbb1".into()),
            ..Default::default()
        };
        data.analytics_callback_url = Some(receiver.url("/cb"));
        app.store.put_callback_data(data).await.unwrap();
        let authorization = format!("Bearer {}", server_token("bbb1-secret"));
        let body = json!({ "meeting_id": "m1" });

        // Every answer non-2xx: one POST per secret, in order.
        no_content(post_callback(&app, None, Some(&authorization), &body).await).await;
        let requests = receiver.requests();
        assert_eq!(requests.len(), 3);
        for (request, secret) in requests.iter().zip(["s-1", "s-2", "s-3"]) {
            assert_relay_token(request.header("authorization"), secret);
        }
        // A 2xx on the first: one POST.
        receiver.answer(202, "");
        no_content(post_callback(&app, None, Some(&authorization), &body).await).await;
        assert_eq!(receiver.requests().len(), 4);
    }

    async fn bad_tokens_and_unknown_meetings_are_dropped_with_204(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        app.add_server("bbb1").await;
        app.add_server("bbb2").await;
        let receiver = Receiver::start(200, "{}").await;
        app.store.put_callback_data(scalelite_core::domain::CallbackData {
            meeting_id: "m1".into(),
            server_id: Some("bbb1".into()),
            analytics_callback_url: Some(receiver.url("/cb")),
            ..Default::default()
        }).await.unwrap();
        let body = json!({ "meeting_id": "m1" });
        let expired = jwt::encode(&json!({ "exp": now() - 10 }), b"bbb1-secret", JwtAlgorithm::Hs512);
        let hs256 = jwt::encode(&json!({ "exp": now() + 600 }), b"bbb1-secret", JwtAlgorithm::Hs256);
        let no_exp = jwt::encode(&json!({ "meeting_id": "m1" }), b"bbb1-secret", JwtAlgorithm::Hs512);
        let cases = [
            None,
            Some("Bearer".to_owned()),
            Some("Basic Zm9vOmJhcg==".to_owned()),
            Some(format!("Bearer {}", server_token("not-a-server"))),
            Some(format!("Bearer {}", server_token(LB_SECRET))),
            Some(format!("Bearer {expired}")),
            Some(format!("Bearer {hs256}")),
            Some(format!("Bearer {no_exp}")),
            // Another registered server's token: the meeting was created on bbb1.
            Some(format!("Bearer {}", server_token("bbb2-secret"))),
            Some("Bearer not.a.token".to_owned()),
        ];
        for authorization in &cases {
            no_content(post_callback(&app, None, authorization.as_deref(), &body).await).await;
        }
        assert!(receiver.requests().is_empty(), "{:?}", receiver.requests());
        // The meeting's server's token but no callback for the meeting, or no meeting_id at all.
        let authorization = format!("Bearer {}", server_token("bbb1-secret"));
        for body in [json!({ "meeting_id": "unknown" }), json!({ "other": 1 })] {
            no_content(post_callback(&app, None, Some(&authorization), &body).await).await;
        }
        assert!(receiver.requests().is_empty());
        // The same token with a known meeting is relayed.
        no_content(post_callback(&app, None, Some(&authorization), &json!({ "meeting_id": "m1" })).await).await;
        assert_eq!(receiver.requests().len(), 1);
    }

    async fn multitenant_relay_uses_the_tenants_secrets_and_name(backend: Backend) {
        let mut app = TestApp::spawn_with(backend, |s| {
            s.multitenancy = true;
            s.url_host = Some("api.test".into());
        })
        .await;
        app.store.add_tenant(Tenant {
            id: "tid-bn".into(),
            name: "bn".into(),
            secrets: vec![Secret::new("bn-s1"), Secret::new("bn-s2")],
            ..Tenant::default()
        }).await.unwrap();
        let fake = app.add_server("bbb1").await;
        let receiver = Receiver::start(400, "{}").await;
        let query = format!("meetingID=mt1&meta_analytics-callback-url={}", receiver.url("/cb").replace(':', "%3A").replace('/', "%2F"));
        let created = app.http.get(app.signed_with("create", &query, "bn-s1"))
            .header("X-Forwarded-Host", "bn.api.test").send().await.unwrap();
        Xml::from(created).await.assert_success();
        let sent = fake.requests().into_iter().find(|r| r.call == "create").unwrap();
        assert_eq!(
            sent.param("meta_analytics-callback-url"),
            Some("https://bn.api.test/bigbluebutton/api/analytics_callback")
        );

        let authorization = format!("Bearer {}", server_token("bbb1-secret"));
        let body = json!({ "meeting_id": "mt1" });
        no_content(post_callback(&app, Some("bn.api.test"), Some(&authorization), &body).await).await;
        let requests = receiver.requests();
        assert_eq!(requests.len(), 2, "one POST per tenant secret");
        assert_relay_token(requests[0].header("authorization"), "bn-s1");
        assert_relay_token(requests[1].header("authorization"), "bn-s2");
        assert_eq!(requests[0].json()["customer"], json!("bn"));

        // An unknown tenant is a checksumError, not a 204.
        let unknown = post_callback(&app, Some("nobody.api.test"), Some(&authorization), &body).await;
        Xml::from(unknown).await.assert_failed("checksumError");
        assert_eq!(receiver.requests().len(), 2);

        // Another tenant's Host: that tenant has no callback for mt1, so nothing is relayed (the original relayed
        // bn's analytics signed with the other tenant's secrets and named after it).
        app.store.add_tenant(Tenant {
            id: "tid-other".into(),
            name: "other".into(),
            secrets: vec![Secret::new("other-s1")],
            ..Tenant::default()
        }).await.unwrap();
        no_content(post_callback(&app, Some("other.api.test"), Some(&authorization), &body).await).await;
        assert_eq!(receiver.requests().len(), 2);

        // Once bn's meeting is over, the other tenant uses the same meetingID with its own URL: each tenant keeps
        // its own.
        app.store.delete_meeting("mt1").await.unwrap();
        let other_receiver = Receiver::start(200, "{}").await;
        let query = format!("meetingID=mt1&meta_analytics-callback-url={}", other_receiver.url("/o").replace(':', "%3A").replace('/', "%2F"));
        let created = app.http.get(app.signed_with("create", &query, "other-s1"))
            .header("X-Forwarded-Host", "other.api.test").send().await.unwrap();
        Xml::from(created).await.assert_success();
        let bn = app.store.get_callback_data(Some("tid-bn"), "mt1").await.unwrap().unwrap();
        assert_eq!(bn.analytics_callback_url.as_deref(), Some(receiver.url("/cb").as_str()));
        let other = app.store.get_callback_data(Some("tid-other"), "mt1").await.unwrap().unwrap();
        assert_eq!(other.analytics_callback_url.as_deref(), Some(other_receiver.url("/o").as_str()));
    }

    async fn a_create_without_callbacks_clears_the_earlier_ones(backend: Backend) {
        let mut app = TestApp::spawn_with(backend, |s| s.url_host = Some("lb.test".into())).await;
        app.add_server("bbb1").await;
        let receiver = Receiver::start(200, "{}").await;
        let encoded = receiver.url("/cb").replace(':', "%3A").replace('/', "%2F");
        let query = format!("meetingID=c1&meta_analytics-callback-url={encoded}&meta_bbb-recording-ready-url={encoded}");
        Xml::from(app.http.get(app.signed("create", &query)).header("Host", "lb.test").send().await.unwrap()).await.assert_success();
        let stored = app.store.get_callback_data(None, "c1").await.unwrap().unwrap();
        assert!(stored.analytics_callback_url.is_some() && stored.recording_ready_url.is_some());
        assert_eq!(stored.server_id.as_deref(), Some("bbb1"));

        Xml::from(app.http.get(app.signed("create", "meetingID=c1")).header("Host", "lb.test").send().await.unwrap()).await.assert_success();
        let stored = app.store.get_callback_data(None, "c1").await.unwrap().unwrap();
        assert_eq!((stored.analytics_callback_url, stored.recording_ready_url), (None, None));
        let authorization = format!("Bearer {}", server_token("bbb1-secret"));
        no_content(post_callback(&app, Some("lb.test"), Some(&authorization), &json!({ "meeting_id": "c1" })).await).await;
        assert!(receiver.requests().is_empty());
    }
}

#[tokio::test]
async fn analytics_callback_is_post_only() {
    let app = TestApp::spawn(Backend::Embedded).await;
    for method in [reqwest::Method::GET, reqwest::Method::PUT] {
        let response = app
            .http
            .request(method, app.url("/bigbluebutton/api/analytics_callback"))
            .send()
            .await
            .unwrap();
        Xml::from(response)
            .await
            .assert_failed("unsupportedRequest");
    }
    // POST needs no checksum and no Content-Type.
    let response = app
        .http
        .post(app.url("/bigbluebutton/api/analytics_callback"))
        .body("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

/// The API indexes the callback data when it starts (production store): a row with URLs left without a mark, as the
/// original writes them, gets its generation, so a create without URLs still clears it once creates of meetings
/// without a generation skip PostgreSQL.
#[tokio::test]
async fn production_api_indexes_the_callback_data_at_start() {
    let guard = test_store(Backend::Production).await;
    let Store::Production(production) = &guard.store else {
        unreachable!("a production store")
    };
    let keys = production.keys().clone();
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("Redis at TEST_REDIS_URL (start it with redis-server --daemonize yes)");
    guard
        .store
        .put_callback_data(scalelite_core::domain::CallbackData {
            meeting_id: "legacy".into(),
            tenant_id: None,
            server_id: None,
            recording_id: None,
            recording_ready_url: Some("https://lms.example.com/ready".into()),
            analytics_callback_url: None,
        })
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(keys.callback_urls("legacy"))
        .query_async(&mut redis)
        .await
        .unwrap();

    let mut app = TestApp::spawn_on(guard, |_| {}).await;
    app.add_server("bbb1").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let indexed: bool = redis::cmd("EXISTS")
            .arg(keys.callback_urls_indexed())
            .query_async(&mut redis)
            .await
            .unwrap();
        if indexed {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the API did not index the callback data"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.call("create", "meetingID=legacy")
        .await
        .assert_success();
    let stored = app
        .store
        .get_callback_data(None, "legacy")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.recording_ready_url, None,
        "cleared by the create without URLs"
    );
}

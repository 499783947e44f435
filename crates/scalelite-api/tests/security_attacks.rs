//! Attacks on a running balancer that must fail, played against the real `scalelite-api` binary with fake BBB
//! servers behind it, on both back-ends. Each test asserts what the attacker got and what the BBB server received.
//!
//! 1. Admin API takeover from one logged URL: the original's admin checksum covers the action and the query only,
//!    so `sha256("getServerInfo" + secret)` with any JSON body read any server's secret, and the `updateServer`
//!    one repointed any server.
//! 2. Dropping a signed parameter: `guest=true&...` rewritten as `guestchecksum=<X>=true&...&checksum=<X>` verified
//!    when the checksum pair was removed as text rather than as a parameter.
//! 3. Mixed-case metadata: BBB lower-cases `meta_` names, so `meta_BBB-Recording-Ready-URL`,
//!    `meta_Analytics-Callback-Url`, `meta_Tenant-Id` and excluded names in another case reached BBB unchanged.

use std::path::Path;

use fake_bbb::FakeServer;
use scalelite_core::domain::{NewServer, Secret, ServerPatch, ServerState, Tenant};
use scalelite_core::storage::{ServerStore, TenantStore};
use scalelite_testkit::process::Service;
use scalelite_testkit::{Backend, TestStore, test_store};
use sha2::{Digest, Sha256};

const LB_SECRET: &str = "security-lb-secret";

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct Lb {
    service: Service,
    store: TestStore,
    fake: FakeServer,
    http: reqwest::Client,
}

impl Lb {
    /// The binary with `extra` in its environment and one enabled, online fake BBB server `bbb1`.
    async fn start(backend: Backend, extra: &[(&str, &str)]) -> Lb {
        let store = test_store(backend).await;
        let fake = FakeServer::start("bbb1-secret")
            .await
            .expect("start a fake BBB server");
        store
            .store
            .add_server(NewServer {
                id: "bbb1".into(),
                url: fake.url(),
                secret: Secret::new("bbb1-secret"),
                tag: None,
                state: ServerState::Enabled,
                load_multiplier: 1.0,
            })
            .await
            .expect("add server");
        store
            .store
            .patch_server(
                "bbb1",
                ServerPatch {
                    online: Some(true),
                    load: Some(Some(0.0)),
                    ..ServerPatch::default()
                },
            )
            .await
            .expect("server online");
        let mut env = store.env().to_vec();
        env.push(("LOADBALANCER_SECRET".into(), LB_SECRET.into()));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let service =
            Service::spawn_listening(Path::new(env!("CARGO_BIN_EXE_scalelite-api")), &[], &env)
                .await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Lb {
            service,
            store,
            fake,
            http,
        }
    }

    fn signed(&self, call: &str, query: &str, secret: &str) -> String {
        let checksum = sha256_hex(&format!("{call}{query}{secret}"));
        self.service.url(&format!(
            "/bigbluebutton/api/{call}?{query}&checksum={checksum}"
        ))
    }

    async fn get(&self, url: &str, host: Option<&str>) -> (u16, String) {
        let mut request = self.http.get(url);
        if let Some(host) = host {
            request = request.header("X-Forwarded-Host", host);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// The parameters of the `create` calls the fake BBB server received.
    fn creates(&self) -> Vec<Vec<(String, String)>> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.call == "create")
            .map(|r| r.params)
            .collect()
    }
}

#[track_caller]
fn assert_failed(status: u16, body: &str, key: &str) {
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<returncode>FAILED</returncode>"), "{body}");
    assert!(
        body.contains(&format!("<messageKey>{key}</messageKey>")),
        "{body}"
    );
}

/// Values of every parameter whose name is `name` in any case.
fn any_case<'p>(params: &'p [(String, String)], name: &str) -> Vec<&'p str> {
    params
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

async fn admin_takeover_from_one_logged_url(backend: Backend) {
    let lb = Lb::start(backend, &[]).await;
    // The original's checksum of each action with an empty query: one fixed value per action.
    let info = sha256_hex(&format!("getServerInfo{LB_SECRET}"));
    let response = lb
        .http
        .get(
            lb.service
                .url(&format!("/scalelite/api/getServerInfo?checksum={info}")),
        )
        .header("content-type", "application/json")
        .body(r#"{"id":"bbb1"}"#)
        .send()
        .await
        .unwrap();
    let (status, body) = (response.status().as_u16(), response.text().await.unwrap());
    assert_failed(status, &body, "checksumError");
    assert!(!body.contains("bbb1-secret"), "{body}");

    let update = sha256_hex(&format!("updateServer{LB_SECRET}"));
    let response = lb
        .http
        .post(
            lb.service
                .url(&format!("/scalelite/api/updateServer?checksum={update}")),
        )
        .header("content-type", "application/json")
        .body(r#"{"id":"bbb1","server":{"url":"http://evil.example/bigbluebutton/api/"}}"#)
        .send()
        .await
        .unwrap();
    let (status, body) = (response.status().as_u16(), response.text().await.unwrap());
    assert_failed(status, &body, "checksumError");
    let server = lb.store.store.get_server("bbb1").await.unwrap();
    assert_eq!(server.url, lb.fake.url(), "the server was not repointed");

    // Meetings still reach the real server.
    let (status, body) = lb
        .get(
            &lb.signed("create", "meetingID=after-attack", LB_SECRET),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("SUCCESS"), "{body}");
    assert_eq!(lb.creates().len(), 1);
}

async fn a_signed_parameter_cannot_be_dropped(backend: Backend) {
    let lb = Lb::start(backend, &[]).await;
    let (_, body) = lb
        .get(
            &lb.signed(
                "create",
                "meetingID=m&attendeePW=ap&moderatorPW=mp",
                LB_SECRET,
            ),
            None,
        )
        .await;
    assert!(body.contains("SUCCESS"), "{body}");

    let signed = "guest=true&meetingID=m&fullName=A&password=ap";
    let checksum = sha256_hex(&format!("join{signed}{LB_SECRET}"));
    // The legitimate join keeps guest=true on its way to BBB.
    let (status, _) = lb.get(&lb.signed("join", signed, LB_SECRET), None).await;
    assert_eq!(status, 302);

    let forged = format!(
        "guestchecksum={checksum}=true&meetingID=m&fullName=A&password=ap&checksum={checksum}"
    );
    let response = lb
        .http
        .get(lb.service.url(&format!("/bigbluebutton/api/join?{forged}")))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("location").is_none(), "no redirect");
    let (status, body) = (response.status().as_u16(), response.text().await.unwrap());
    assert_failed(status, &body, "checksumError");
    assert!(
        lb.fake.requests().iter().all(|r| r.call != "join"),
        "BBB is never asked to join"
    );
}

async fn mixed_case_callback_metadata_is_captured(backend: Backend) {
    let lb = Lb::start(backend, &[("URL_HOST", "lb.test")]).await;
    let evil_ready = "http://evil.example/ready";
    let evil_analytics = "http://evil.example/analytics";
    let query = format!(
        "meetingID=cb&meta_BBB-Recording-Ready-URL={}&meta_Analytics-Callback-Url={}",
        encode(evil_ready),
        encode(evil_analytics)
    );
    let (status, body) = lb
        .get(&lb.signed("create", &query, LB_SECRET), Some("lb.test"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("SUCCESS"), "{body}");

    let creates = lb.creates();
    assert_eq!(creates.len(), 1);
    let sent = &creates[0];
    assert!(
        sent.iter().all(|(_, v)| !v.contains("evil.example")),
        "the client's URLs never reach BBB: {sent:?}"
    );
    assert!(
        any_case(sent, "meta_bbb-recording-ready-url").is_empty(),
        "{sent:?}"
    );
    assert_eq!(
        any_case(sent, "meta_analytics-callback-url"),
        ["https://lb.test/bigbluebutton/api/analytics_callback"],
        "{sent:?}"
    );
}

async fn mixed_case_tenant_id_and_exclusions_are_enforced(backend: Backend) {
    let lb = Lb::start(
        backend,
        &[
            ("MULTITENANCY_ENABLED", "true"),
            ("URL_HOST", "lb.test"),
            ("CREATE_EXCLUDE_PARAMS", "meta_secret-note,meta_Other-Note"),
        ],
    )
    .await;
    lb.store
        .store
        .add_tenant(Tenant {
            id: "tenant-t1".into(),
            name: "t1".into(),
            secrets: vec![Secret::new("t1-secret")],
            ..Tenant::default()
        })
        .await
        .unwrap();
    let query = "meetingID=mt&meta_Tenant-Id=tenant-victim&meta_TENANT-ID=tenant-victim2\
                 &meta_Secret-Note=leak&meta_other-note=leak2&meta_kept=yes";
    let (status, body) = lb
        .get(&lb.signed("create", query, "t1-secret"), Some("t1.lb.test"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("SUCCESS"), "{body}");

    let creates = lb.creates();
    assert_eq!(creates.len(), 1);
    let sent = &creates[0];
    assert_eq!(any_case(sent, "meta_tenant-id"), ["tenant-t1"], "{sent:?}");
    assert!(any_case(sent, "meta_secret-note").is_empty(), "{sent:?}");
    assert!(any_case(sent, "meta_other-note").is_empty(), "{sent:?}");
    assert_eq!(any_case(sent, "meta_kept"), ["yes"], "{sent:?}");
}

#[tokio::test]
async fn embedded_admin_takeover_from_one_logged_url() {
    admin_takeover_from_one_logged_url(Backend::Embedded).await;
}

#[tokio::test]
async fn production_admin_takeover_from_one_logged_url() {
    admin_takeover_from_one_logged_url(Backend::Production).await;
}

#[tokio::test]
async fn embedded_a_signed_parameter_cannot_be_dropped() {
    a_signed_parameter_cannot_be_dropped(Backend::Embedded).await;
}

#[tokio::test]
async fn production_a_signed_parameter_cannot_be_dropped() {
    a_signed_parameter_cannot_be_dropped(Backend::Production).await;
}

#[tokio::test]
async fn embedded_mixed_case_callback_metadata_is_captured() {
    mixed_case_callback_metadata_is_captured(Backend::Embedded).await;
}

#[tokio::test]
async fn production_mixed_case_callback_metadata_is_captured() {
    mixed_case_callback_metadata_is_captured(Backend::Production).await;
}

#[tokio::test]
async fn embedded_mixed_case_tenant_id_and_exclusions_are_enforced() {
    mixed_case_tenant_id_and_exclusions_are_enforced(Backend::Embedded).await;
}

#[tokio::test]
async fn production_mixed_case_tenant_id_and_exclusions_are_enforced() {
    mixed_case_tenant_id_and_exclusions_are_enforced(Backend::Production).await;
}

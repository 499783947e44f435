//! Multitenancy (`docs/compatibility.md#api-multitenancy`) and the tenant's LRS payload
//! (`docs/compatibility.md#api-lrs`).

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, KeyIvInit};
use base64::Engine;
use scalelite_core::domain::{NewMeeting, Secret, Tenant, TenantSetting};
use scalelite_core::storage::{MeetingStore, TenantStore};
use sha2::Sha256;

use crate::harness::*;
use crate::receiver::Receiver;

const URL_HOST: &str = "api.test";
const BN: &str = "bn.api.test";
const OTHER: &str = "other.api.test";

fn tenant(id: &str, name: &str, secrets: &[&str]) -> Tenant {
    Tenant {
        id: id.into(),
        name: name.into(),
        secrets: secrets.iter().map(|s| Secret::new(*s)).collect(),
        ..Tenant::default()
    }
}

/// An app with multitenancy on, `URL_HOST=api.test`, tenants `bn` (two secrets) and `other`, and one server.
async fn mt_app(backend: Backend) -> (TestApp, fake_bbb::FakeServer) {
    let mut app = TestApp::spawn_with(backend, |s| {
        s.multitenancy = true;
        s.url_host = Some(URL_HOST.into());
    })
    .await;
    app.store
        .add_tenant(tenant("tid-bn", "bn", &["bn-s1", "bn-s2"]))
        .await
        .unwrap();
    app.store
        .add_tenant(tenant("tid-other", "other", &["other-s1"]))
        .await
        .unwrap();
    let fake = app.add_server("bbb1").await;
    (app, fake)
}

/// A signed GET as a tenant: the tenant's host in X-Forwarded-Host, signed with `secret`.
async fn get_as(
    app: &TestApp,
    host: &str,
    call: &str,
    query: &str,
    secret: &str,
) -> reqwest::Response {
    app.http
        .get(app.signed_with(call, query, secret))
        .header("X-Forwarded-Host", host)
        .send()
        .await
        .expect("request")
}

async fn call_as(app: &TestApp, host: &str, call: &str, query: &str, secret: &str) -> Xml {
    Xml::from(get_as(app, host, call, query, secret).await).await
}

fn last_params(fake: &fake_bbb::FakeServer, call: &str) -> Vec<(String, String)> {
    fake.requests()
        .into_iter()
        .rev()
        .find(|r| r.call == call)
        .map(|r| r.params)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "checksum")
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Decrypt `meta_secret-lrs-payload` independently of the API's code: skip 8 bytes, 8 bytes of salt, then
/// AES-256-CBC with PBKDF2-HMAC-SHA256(secret, salt, 10000) key and IV.
fn decrypt_lrs(value: &str, secret: &str) -> serde_json::Value {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value)
        .expect("Base64");
    let (salt, ciphertext) = raw[8..].split_at(8);
    let mut derived = [0u8; 48];
    pbkdf2::pbkdf2_hmac::<Sha256>(secret.as_bytes(), salt, 10_000, &mut derived);
    let plain = cbc::Decryptor::<aes::Aes256>::new(derived[..32].into(), derived[32..].into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .expect("decrypts with the server's secret");
    serde_json::from_slice(&plain).expect("JSON")
}

both_backends! {
    async fn tenant_comes_from_the_host_and_only_its_secrets_pass(backend: Backend) {
        let (app, fake) = mt_app(backend).await;
        call_as(&app, BN, "create", "meetingID=m1", "bn-s1").await.assert_success();
        // The tenant's second secret is accepted too.
        call_as(&app, BN, "getMeetingInfo", "meetingID=m1", "bn-s2").await.assert_success();
        // LB secrets are refused in MT mode, and so is another tenant's secret.
        call_as(&app, BN, "getMeetingInfo", "meetingID=m1", LB_SECRET).await.assert_failed("checksumError");
        call_as(&app, BN, "getMeetingInfo", "meetingID=m1", "other-s1").await.assert_failed("checksumError");
        // Unknown tenant: checksumError whatever the secret.
        for secret in [LB_SECRET, "bn-s1"] {
            call_as(&app, "nobody.api.test", "isMeetingRunning", "meetingID=m1", secret)
                .await
                .assert_failed("checksumError");
        }
        // The Host header works without X-Forwarded-Host; X-Forwarded-Host wins over Host (its last entry).
        let by_host = app.http.get(app.signed_with("isMeetingRunning", "meetingID=m1", "bn-s1"))
            .header("Host", "bn.api.test:8080").send().await.unwrap();
        Xml::from(by_host).await.assert_success();
        let forwarded = app.http.get(app.signed_with("isMeetingRunning", "meetingID=m1", "bn-s1"))
            .header("Host", OTHER)
            .header("X-Forwarded-Host", "other.api.test, bn.api.test")
            .send().await.unwrap();
        Xml::from(forwarded).await.assert_success();
        // Both were the tenant's own meeting, so both were asked of the server (a foreign one is answered locally).
        let asked = fake.requests().iter().filter(|r| r.call == "isMeetingRunning").count();
        assert_eq!(asked, 2);
        // A host outside URL_HOST is refused before anything else (403, empty body).
        let outside = app.http.get(app.signed_with("isMeetingRunning", "meetingID=m1", "bn-s1"))
            .header("Host", "bn.elsewhere.test").send().await.unwrap();
        assert_eq!(outside.status(), 403);
    }

    async fn calls_are_scoped_to_the_tenant(backend: Backend) {
        let (app, fake) = mt_app(backend).await;
        // The client's own tenant metadata is overwritten.
        call_as(&app, BN, "create", "meetingID=m-bn&moderatorPW=mp&meta_tenant-id=forged&meta_tenant-name=forged", "bn-s1")
            .await
            .assert_success();
        let params = last_params(&fake, "create");
        assert_eq!(param(&params, "meta_tenant-id"), Some("tid-bn"));
        assert_eq!(param(&params, "meta_tenant-name"), Some("bn"));
        assert_eq!(app.store.get_meeting("m-bn").await.unwrap().tenant_id.as_deref(), Some("tid-bn"));

        // Another tenant sees nothing.
        for call in ["getMeetingInfo", "end", "join"] {
            call_as(&app, OTHER, call, "meetingID=m-bn&password=x&fullName=x", "other-s1")
                .await
                .assert_failed("notFound");
        }
        let insert = app.http.post(app.signed_with("insertDocument", "meetingID=m-bn", "other-s1"))
            .header("X-Forwarded-Host", OTHER)
            .header("Content-Type", "application/xml")
            .body("<modules/>")
            .send().await.unwrap();
        Xml::from(insert).await.assert_failed("notFound");
        let running = call_as(&app, OTHER, "isMeetingRunning", "meetingID=m-bn", "other-s1").await;
        running.assert_success();
        assert_eq!(running.get("running").as_deref(), Some("false"));
        assert!(fake.meeting("m-bn").is_some(), "the foreign end did not end it");

        // The owner does.
        call_as(&app, BN, "getMeetingInfo", "meetingID=m-bn", "bn-s1").await.assert_success();
        let join = get_as(&app, BN, "join", "meetingID=m-bn&fullName=Ann&password=mp", "bn-s2").await;
        assert_eq!(join.status(), 302);
        call_as(&app, BN, "end", "meetingID=m-bn&password=mp", "bn-s1").await.assert_success();
        assert!(app.store.get_meeting("m-bn").await.is_err());
    }

    async fn get_meetings_lists_only_the_tenants_meetings(backend: Backend) {
        let (app, fake) = mt_app(backend).await;
        call_as(&app, BN, "create", "meetingID=m-bn&name=BN", "bn-s1").await.assert_success();
        call_as(&app, OTHER, "create", "meetingID=m-other&name=Other", "other-s1").await.assert_success();
        let mut untenanted = seed("m-none", 1, 1);
        untenanted.metadata = vec![("tenant-id".into(), String::new())];
        fake.seed_meeting(untenanted).unwrap();
        let ids = |xml: &Xml| -> Vec<String> {
            xml.root.find_all("meetings/meeting").iter().filter_map(|m| m.child_text("meetingID")).collect()
        };
        let bn = call_as(&app, BN, "getMeetings", "", "bn-s1").await;
        bn.assert_success();
        assert_eq!(ids(&bn), ["m-bn"]);
        let other = call_as(&app, OTHER, "getMeetings", "", "other-s1").await;
        assert_eq!(ids(&other), ["m-other"]);
    }

    // A meeting without a tenant (placed before multitenancy was turned on) is the tenant's to reuse, as the
    // store's find-or-create decides; the create goes to its server once.
    async fn a_tenant_create_reuses_a_meeting_without_tenant(backend: Backend) {
        let (app, fake) = mt_app(backend).await;
        let legacy = NewMeeting {
            id: "legacy".into(),
            server_id: "bbb1".into(),
            moderator_pw: "mp".into(),
            voice_bridge_candidates: vec!["712345678".into()],
            tenant_id: None,
        };
        app.store
            .find_or_create_meeting(legacy, std::time::Duration::from_secs(3600))
            .await
            .unwrap();
        call_as(&app, BN, "create", "meetingID=legacy", "bn-s1").await.assert_success();
        assert_eq!(fake.requests().iter().filter(|r| r.call == "create").count(), 1);
        let meeting = app.store.get_meeting("legacy").await.unwrap();
        assert_eq!((meeting.server_id.as_str(), meeting.tenant_id), ("bbb1", None));
    }

    async fn meeting_ids_are_global_across_tenants(backend: Backend) {
        let (app, fake) = mt_app(backend).await;
        call_as(&app, BN, "create", "meetingID=shared", "bn-s1").await.assert_success();
        let load = app.load("bbb1").await;
        let clash = call_as(&app, OTHER, "create", "meetingID=shared", "other-s1").await;
        assert_eq!(
            clash.assert_failed("internalError"),
            "Couldn't find Meeting with id=shared and tenant_id=tid-other"
        );
        assert_eq!(app.load("bbb1").await, load, "the failed placement gave its load back");
        assert_eq!(app.store.get_meeting("shared").await.unwrap().tenant_id.as_deref(), Some("tid-bn"));
        assert_eq!(fake.requests().iter().filter(|r| r.call == "create").count(), 1);
        // The owner can still create it again (same server, same meeting).
        call_as(&app, BN, "create", "meetingID=shared", "bn-s1").await.assert_success();
    }

    async fn tenant_settings_default_and_override_create_and_join(backend: Backend) {
        let (app, fake) = mt_app(backend).await;
        for (id, param, value, forced) in [
            ("s1", "paramx", "paramxvalue", false),
            ("s2", "forced", "forcedvalue", true),
        ] {
            app.store.put_tenant_setting(TenantSetting {
                id: id.into(),
                tenant_id: "tid-bn".into(),
                param: param.into(),
                value: value.into(),
                override_value: forced,
            }).await.unwrap();
        }
        // Absent from the request: both added.
        call_as(&app, BN, "create", "meetingID=t1&moderatorPW=p", "bn-s1").await.assert_success();
        let params = last_params(&fake, "create");
        assert_eq!(param(&params, "paramx"), Some("paramxvalue"));
        assert_eq!(param(&params, "forced"), Some("forcedvalue"));
        // Sent by the client: the default yields, the override does not.
        call_as(&app, BN, "create", "meetingID=t2&paramx=paramxnewvalue&forced=mine", "bn-s1").await.assert_success();
        let params = last_params(&fake, "create");
        assert_eq!(param(&params, "paramx"), Some("paramxnewvalue"));
        assert_eq!(param(&params, "forced"), Some("forcedvalue"));
        // The other tenant gets neither.
        call_as(&app, OTHER, "create", "meetingID=t3", "other-s1").await.assert_success();
        let params = last_params(&fake, "create");
        assert_eq!(param(&params, "paramx"), None);
        assert_eq!(param(&params, "forced"), None);

        // Join: the same rules on the redirect.
        let location = |response: reqwest::Response| -> String {
            assert_eq!(response.status(), 302);
            response.headers()["location"].to_str().unwrap().to_owned()
        };
        let plain = location(get_as(&app, BN, "join", "meetingID=t1&fullName=A&password=p", "bn-s1").await);
        assert!(plain.contains("paramx=paramxvalue") && plain.contains("forced=forcedvalue"), "{plain}");
        let sent = location(
            get_as(&app, BN, "join", "meetingID=t1&fullName=A&password=p&paramx=mine&forced=mine", "bn-s1").await,
        );
        assert!(sent.contains("paramx=mine") && sent.contains("forced=forcedvalue"), "{sent}");
        assert!(!sent.contains("forced=mine"), "{sent}");
        // The redirect is one the server accepts.
        let followed = app.http.get(&sent).send().await.unwrap();
        assert_eq!(followed.status(), 302);
    }

    async fn lrs_payload_with_a_keycloak_token(backend: Backend) {
        let (app, fake) = mt_app(backend).await;
        let keycloak = Receiver::start(200, r#"{"access_token":"kc-token","expires_in":300}"#).await;
        let mut bn = app.store.get_tenant("tid-bn").await.unwrap();
        bn.lrs_endpoint = Some("https://lrs.example.com/xapi".into());
        bn.kc_token_url = Some(keycloak.url("/realms/r/protocol/openid-connect/token"));
        bn.kc_client_id = Some("client".into());
        bn.kc_client_secret = Some(Secret::new("client-secret"));
        bn.kc_username = Some("kc-user".into());
        bn.kc_password = Some(Secret::new("kc-pass"));
        app.store.update_tenant(bn).await.unwrap();

        call_as(&app, BN, "create", "meetingID=lrs1", "bn-s1").await.assert_success();
        let params = last_params(&fake, "create");
        let payload = param(&params, "meta_secret-lrs-payload").expect("the LRS payload is sent");
        assert_eq!(
            decrypt_lrs(payload, "bbb1-secret"),
            serde_json::json!({"lrs_endpoint": "https://lrs.example.com/xapi", "lrs_token": "kc-token"})
        );
        let requests = keycloak.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].method, "POST");
        assert_eq!(requests[0].uri, "/realms/r/protocol/openid-connect/token");
        assert_eq!(requests[0].header("content-type"), Some("application/x-www-form-urlencoded"));
        let form = String::from_utf8(requests[0].body.to_vec()).unwrap();
        assert_eq!(
            form,
            "client_id=client&client_secret=client-secret&username=kc-user&password=kc-pass&grant_type=password"
        );

        // Keycloak failing: the parameter is left out, the create still succeeds.
        keycloak.answer(401, r#"{"error":"invalid_grant"}"#);
        call_as(&app, BN, "create", "meetingID=lrs2", "bn-s1").await.assert_success();
        assert_eq!(param(&last_params(&fake, "create"), "meta_secret-lrs-payload"), None);
        // A 200 without a token is a failure too.
        keycloak.answer(200, r#"{"token_type":"bearer"}"#);
        call_as(&app, BN, "create", "meetingID=lrs3", "bn-s1").await.assert_success();
        assert_eq!(param(&last_params(&fake, "create"), "meta_secret-lrs-payload"), None);
        // Another tenant without LRS: nothing.
        call_as(&app, OTHER, "create", "meetingID=lrs4", "other-s1").await.assert_success();
        assert_eq!(param(&last_params(&fake, "create"), "meta_secret-lrs-payload"), None);
    }

    async fn lrs_payload_with_basic_credentials(backend: Backend) {
        let (app, fake) = mt_app(backend).await;
        let mut bn = app.store.get_tenant("tid-bn").await.unwrap();
        bn.lrs_endpoint = Some("https://lrs.example.com".into());
        bn.lrs_username = Some("lrs-user".into());
        bn.lrs_password = Some(Secret::new("lrs-pass"));
        app.store.update_tenant(bn).await.unwrap();
        call_as(&app, BN, "create", "meetingID=lrs&name=x", "bn-s1").await.assert_success();
        let params = last_params(&fake, "create");
        let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["meetingID", "name", "moderatorPW", "voiceBridge", "meta_tenant-id", "meta_tenant-name", "meta_secret-lrs-payload"]
        );
        let payload = param(&params, "meta_secret-lrs-payload").unwrap();
        assert_eq!(
            decrypt_lrs(payload, "bbb1-secret"),
            serde_json::json!({"lrs_endpoint": "https://lrs.example.com", "lrs_username": "lrs-user", "lrs_password": "lrs-pass"})
        );
    }
}

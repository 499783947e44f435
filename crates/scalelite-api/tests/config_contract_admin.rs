//! Configuration contract of the admin API settings: each variable set in the environment of the real
//! `scalelite-api` binary, its effect observed over HTTP.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scalelite_testkit::process::Service;
use scalelite_testkit::{Backend, TestStore, test_store};
use sha2::{Digest, Sha256};

const LB_SECRET: &str = "contract-lb-secret";

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn api(extra: &[(&str, &str)]) -> (Service, TestStore) {
    let store = test_store(Backend::Embedded).await;
    let mut env = store.env().to_vec();
    env.push(("LOADBALANCER_SECRET".into(), LB_SECRET.into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let service =
        Service::spawn_listening(Path::new(env!("CARGO_BIN_EXE_scalelite-api")), &[], &env).await;
    (service, store)
}

/// `GET /scalelite/api/getServers?<query>&checksum=<sha256("getServers" + query + secret)>`: the status and body.
async fn get_servers(service: &Service, query: &str, secret: &str) -> (u16, String) {
    let checksum = sha256_hex(&format!("getServers{query}{secret}"));
    let sep = if query.is_empty() { "" } else { "&" };
    let url = service.url(&format!(
        "/scalelite/api/getServers?{query}{sep}checksum={checksum}"
    ));
    let response = reqwest::get(url).await.expect("request");
    (response.status().as_u16(), response.text().await.unwrap())
}

/// `addServer` with a JSON body and the given checksum: the status and body.
async fn add_server(service: &Service, body: &str, checksum: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(service.url(&format!("/scalelite/api/addServer?checksum={checksum}")))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    (response.status().as_u16(), response.text().await.unwrap())
}

#[track_caller]
fn assert_checksum_error((status, body): (u16, String)) {
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<messageKey>checksumError</messageKey>"),
        "{body}"
    );
}

/// Admitted: no servers yet, so the original's 404 JSON answer.
#[track_caller]
fn assert_admitted((status, body): (u16, String)) {
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("No servers are configured"), "{body}");
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn contract_admin_api_secret() {
    let (service, _store) = api(&[("ADMIN_API_SECRET", "admin-only-secret")]).await;
    // Front-ends hold LOADBALANCER_SECRET: it no longer manages the pool.
    assert_checksum_error(get_servers(&service, "", LB_SECRET).await);
    assert_admitted(get_servers(&service, "", "admin-only-secret").await);
    // The BBB API keeps LOADBALANCER_SECRET.
    let checksum = sha256_hex(&format!("getMeetings{LB_SECRET}"));
    let body = reqwest::get(service.url(&format!(
        "/bigbluebutton/api/getMeetings?checksum={checksum}"
    )))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(body.contains("SUCCESS"), "{body}");

    let (unset, _store) = api(&[]).await;
    assert_admitted(get_servers(&unset, "", LB_SECRET).await);
}

#[tokio::test]
async fn contract_admin_api_legacy_checksum() {
    let body = r#"{"server":{"url":"https://bbb.example.com/bigbluebutton/api/","secret":"s"}}"#;
    // The original's form: the body is not covered.
    let legacy = sha256_hex(&format!("addServer{LB_SECRET}"));

    let (strict, _store) = api(&[]).await;
    assert_checksum_error(add_server(&strict, body, &legacy).await);

    let (service, _store) = api(&[("ADMIN_API_LEGACY_CHECKSUM", "true")]).await;
    let (status, answer) = add_server(&service, body, &legacy).await;
    assert_eq!(status, 201, "{answer}");
    assert!(
        service
            .wait_for_log("legacy checksum", Duration::from_secs(10))
            .await,
        "a warning names the legacy checksum:\n{}",
        service.log()
    );
    assert!(
        !service.log().contains(&legacy),
        "the checksum is not logged"
    );
    // The current form is accepted alongside.
    let current = sha256_hex(&format!("addServer{body}{LB_SECRET}"));
    assert_eq!(add_server(&service, body, &current).await.0, 201);
}

#[tokio::test]
async fn contract_admin_api_max_age() {
    let (service, _store) = api(&[("ADMIN_API_MAX_AGE", "300")]).await;
    assert_checksum_error(get_servers(&service, "", LB_SECRET).await);
    assert_admitted(get_servers(&service, &format!("timestamp={}", now()), LB_SECRET).await);
    let stale = now() - 3600;
    assert_checksum_error(get_servers(&service, &format!("timestamp={stale}"), LB_SECRET).await);

    let (off, _store) = api(&[("ADMIN_API_MAX_AGE", "0")]).await;
    assert_admitted(get_servers(&off, "", LB_SECRET).await);
    assert_admitted(get_servers(&off, &format!("timestamp={stale}"), LB_SECRET).await);
}

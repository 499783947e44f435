//! Configuration contract of CloudFront playback (`CLOUDFRONT_URL`, `CF_PRIVATE_KEY_B64`, `CF_KEY_PAIR_ID`): the
//! real binary with the three set redirects an HTML resource request to CloudFront with signed cookies, which the
//! test checks with the public half of the key; with an unusable key it does not start.

use std::path::Path;

use base64::Engine;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use scalelite_core::domain::{PlaybackFormat, Recording};
use scalelite_core::storage::RecordingStore;
use scalelite_testkit::contract::{PATIENCE, http, with_env};
use scalelite_testkit::process::Service;
use scalelite_testkit::{Backend, CLOUDFRONT_TEST_KEY, TestStore, test_store};

const BIN: &str = env!("CARGO_BIN_EXE_scalelite-api");
const URL: &str = "https://d111111abcdef8.cloudfront.net";
const KEY_PAIR_ID: &str = "K2JCJMDEHXQW5F";
const RECORD_ID: &str = "cloudfront-contract-1";

fn key_b64() -> String {
    base64::engine::general_purpose::STANDARD.encode(CLOUDFRONT_TEST_KEY)
}

/// A store holding one published presentation.
async fn store_with_recording() -> TestStore {
    let store = test_store(Backend::Embedded).await;
    store
        .store
        .upsert_recording(Recording {
            record_id: RECORD_ID.to_owned(),
            meeting_id: "cloudfront-meeting".to_owned(),
            name: Some("CloudFront".into()),
            published: true,
            participants: Some(1),
            state: Some("published".into()),
            starttime: chrono::DateTime::from_timestamp_millis(1_700_000_000_000),
            endtime: chrono::DateTime::from_timestamp_millis(1_700_000_600_000),
            deleted_at: None,
            protected: false,
            publish_updated: false,
            metadata: Vec::new(),
            playback_formats: vec![PlaybackFormat {
                format: "presentation".into(),
                url: format!("/playback/presentation/2.3/{RECORD_ID}"),
                length: Some(1),
                processing_time: None,
                thumbnails: Vec::new(),
            }],
        })
        .await
        .expect("store the recording");
    store
}

/// The API with `env` over the three variables; the answer to an HTML request for the recording: (status,
/// Location, Set-Cookie values).
async fn html_resource(env: &[(&str, &str)]) -> (u16, String, Vec<String>) {
    let store = store_with_recording().await;
    let key = key_b64();
    let mut all = vec![
        ("CLOUDFRONT_URL", URL),
        ("CF_PRIVATE_KEY_B64", key.as_str()),
        ("CF_KEY_PAIR_ID", KEY_PAIR_ID),
    ];
    for (name, value) in env {
        all.retain(|(k, _)| k != name);
        all.push((name, value));
    }
    let api = Service::spawn_listening(Path::new(BIN), &[], &with_env(store.env(), &all)).await;
    let response = http()
        .get(api.url(&format!("/presentation/{RECORD_ID}/")))
        .header("accept", "text/html")
        .send()
        .await
        .expect("the API answers");
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    (response.status().as_u16(), location, cookies)
}

fn cookie<'a>(cookies: &'a [String], name: &str) -> &'a str {
    cookies
        .iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
}

fn cloudfront_decode(value: &str) -> Vec<u8> {
    let standard: String = value
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '=',
            '~' => '/',
            c => c,
        })
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(standard)
        .expect("CloudFront base64")
}

#[tokio::test]
async fn contract_cloudfront_url() {
    let (status, location, _) = html_resource(&[]).await;
    assert_eq!(status, 307);
    assert_eq!(
        location,
        format!("{URL}/published/presentation/{RECORD_ID}/index.html")
    );
    let (_, location, _) = html_resource(&[("CLOUDFRONT_URL", "https://cdn.example.org/")]).await;
    assert_eq!(
        location,
        format!("https://cdn.example.org/published/presentation/{RECORD_ID}/index.html")
    );
}

#[tokio::test]
async fn contract_cf_private_key_b64() {
    let (_, _, cookies) = html_resource(&[]).await;
    let policy = cloudfront_decode(cookie(&cookies, "CloudFront-Policy"));
    let signature = cloudfront_decode(cookie(&cookies, "CloudFront-Signature"));
    let text = String::from_utf8(policy.clone()).unwrap();
    assert!(
        text.contains(&format!(
            "\"Resource\":\"{URL}/published/presentation/{RECORD_ID}/*\""
        )),
        "{text}"
    );
    // The signature is the key's RSA-SHA1 over the policy.
    let public = rsa::RsaPrivateKey::from_pkcs1_pem(CLOUDFRONT_TEST_KEY)
        .unwrap()
        .to_public_key();
    VerifyingKey::<sha1::Sha1>::new(public)
        .verify(&policy, &Signature::try_from(signature.as_slice()).unwrap())
        .expect("signed with CF_PRIVATE_KEY_B64");

    // A value that is not a key: the API does not start, and says which variable is wrong without showing it.
    let store = test_store(Backend::Embedded).await;
    let bad = base64::engine::general_purpose::STANDARD.encode("not a key at all");
    let mut api = Service::spawn(
        Path::new(BIN),
        &[],
        &with_env(
            store.env(),
            &[
                ("BIND", "127.0.0.1:0"),
                ("CLOUDFRONT_URL", URL),
                ("CF_PRIVATE_KEY_B64", &bad),
                ("CF_KEY_PAIR_ID", KEY_PAIR_ID),
            ],
        ),
    );
    let status = api.wait_exit(PATIENCE).await.expect("the API exits");
    assert!(!status.success());
    let log = api.log();
    assert!(log.contains("CF_PRIVATE_KEY_B64"), "{log}");
    assert!(!log.contains(&bad), "the value is not logged: {log}");
}

#[tokio::test]
async fn contract_cf_key_pair_id() {
    let (_, _, cookies) = html_resource(&[("CF_KEY_PAIR_ID", "APKAOTHERKEYPAIR")]).await;
    assert_eq!(
        cookie(&cookies, "CloudFront-Key-Pair-Id"),
        "APKAOTHERKEYPAIR"
    );
}

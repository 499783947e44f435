use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use scalelite_core::domain::Secret;
use scalelite_core::jwt::{self, JwtAlgorithm};

use crate::playback::{
    AccessClaims, accel_redirect, access_cookie, cookie_value, encode_segment, is_token,
    path_segments, query_value, same_site_none_compatible, valid_access_cookie, version,
};
use crate::settings::Settings;

const NOW: i64 = 1_700_000_000;

fn settings() -> Settings {
    Settings {
        secret_key_base: Secret::new("test-key-base"),
        protected_cookie_ttl: Duration::from_secs(360 * 60),
        ..Settings::default()
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn path_segments_decode_and_refuse_traversal() {
    assert_eq!(
        path_segments("/presentation/r1/slides/1.svg"),
        Some(strings(&["presentation", "r1", "slides", "1.svg"]))
    );
    assert_eq!(
        path_segments("/capture/r1/"),
        Some(strings(&["capture", "r1"]))
    );
    assert_eq!(
        path_segments("/notes/r1/a%20b%C3%BC.pdf"),
        Some(strings(&["notes", "r1", "a bü.pdf"]))
    );
    for path in [
        "/presentation/r1/../../etc/passwd",
        "/presentation/r1/%2e%2e/%2e%2e/etc/passwd",
        "/presentation/r1/..%2f..%2fsecret",
        "/presentation/r1/a%2Fb",
        "/presentation/r1/./x",
        "/presentation/r1//x",
        "/presentation/r1/%00",
        "/presentation/r1/a%5Cb",
        "/presentation/r1/%ff",
        "/presentation/r1/%zz",
        "/presentation/r1/%",
    ] {
        assert_eq!(path_segments(path), None, "{path}");
    }
}

#[test]
fn query_values() {
    assert_eq!(
        query_value(Some("a=1&token=abc&b=2"), "token").as_deref(),
        Some("abc")
    );
    assert_eq!(
        query_value(Some("token=1&token=2"), "token").as_deref(),
        Some("2")
    );
    assert_eq!(
        query_value(Some("token=a%20b+c"), "token").as_deref(),
        Some("a b c")
    );
    assert_eq!(query_value(Some("tokens=1"), "token"), None);
    assert_eq!(query_value(None, "token"), None);
    assert_eq!(query_value(Some("token"), "token").as_deref(), Some(""));
}

#[test]
fn tokens_must_be_64_lower_hex() {
    let good = "0123456789abcdef".repeat(4);
    assert!(is_token(&good));
    assert!(!is_token(&good.to_uppercase()));
    assert!(!is_token(&good[1..]));
    assert!(!is_token(&format!("{good}0")));
    assert!(!is_token(&"g".repeat(64)));
    assert!(!is_token(""));
}

#[test]
fn cookie_lookup_by_exact_name() {
    let mut headers = HeaderMap::new();
    headers.append(
        header::COOKIE,
        HeaderValue::from_static("a=1; recording_presentation_r1x=wrong"),
    );
    headers.append(
        header::COOKIE,
        HeaderValue::from_static("recording_presentation_r1=\"jwt\"; b=2"),
    );
    assert_eq!(
        cookie_value(&headers, "recording_presentation_r1"),
        Some("jwt")
    );
    assert_eq!(cookie_value(&headers, "b"), Some("2"));
    assert_eq!(cookie_value(&headers, "recording_video_r1"), None);
}

#[test]
fn access_cookie_round_trip() {
    let settings = settings();
    let cookie = access_cookie(&settings, "r1", "presentation", NOW, true);
    let (pair, attributes) = cookie.split_once("; ").unwrap();
    assert_eq!(
        attributes,
        "path=/presentation/r1; secure; HttpOnly; SameSite=None"
    );
    let (name, value) = pair.split_once('=').unwrap();
    assert_eq!(name, "recording_presentation_r1");
    let claims: AccessClaims =
        jwt::decode(value, b"test-key-base", JwtAlgorithm::Hs256, NOW).unwrap();
    assert_eq!(
        claims,
        AccessClaims {
            sub: "/presentation/r1".into(),
            exp: NOW + 360 * 60
        }
    );
    assert!(valid_access_cookie(
        &settings,
        value,
        "presentation",
        "r1",
        NOW
    ));
    // Another recording, another format, expired, another key: refused.
    assert!(!valid_access_cookie(
        &settings,
        value,
        "presentation",
        "r2",
        NOW
    ));
    assert!(!valid_access_cookie(&settings, value, "video", "r1", NOW));
    assert!(!valid_access_cookie(
        &settings,
        value,
        "presentation",
        "r1",
        NOW + 360 * 60
    ));
    let other = Settings {
        secret_key_base: Secret::new("another"),
        ..settings.clone()
    };
    assert!(!valid_access_cookie(
        &other,
        value,
        "presentation",
        "r1",
        NOW
    ));
    assert!(!valid_access_cookie(
        &settings,
        "garbage",
        "presentation",
        "r1",
        NOW
    ));

    let old_browser = access_cookie(&settings, "r1", "presentation", NOW, false);
    assert!(!old_browser.contains("SameSite"), "{old_browser}");
}

#[test]
fn cookies_need_sub_and_exp_and_hs256() {
    let settings = settings();
    let key = b"test-key-base";
    let no_exp = jwt::encode(
        &serde_json::json!({"sub": "/presentation/r1"}),
        key,
        JwtAlgorithm::Hs256,
    );
    assert!(!valid_access_cookie(
        &settings,
        &no_exp,
        "presentation",
        "r1",
        NOW
    ));
    let no_sub = jwt::encode(
        &serde_json::json!({"exp": NOW + 60}),
        key,
        JwtAlgorithm::Hs256,
    );
    assert!(!valid_access_cookie(
        &settings,
        &no_sub,
        "presentation",
        "r1",
        NOW
    ));
    let hs512 = jwt::encode(
        &serde_json::json!({"sub": "/presentation/r1", "exp": NOW + 60}),
        key,
        JwtAlgorithm::Hs512,
    );
    assert!(!valid_access_cookie(
        &settings,
        &hs512,
        "presentation",
        "r1",
        NOW
    ));
    let good = jwt::encode(
        &serde_json::json!({"sub": "/presentation/r1", "exp": NOW + 60}),
        key,
        JwtAlgorithm::Hs256,
    );
    assert!(valid_access_cookie(
        &settings,
        &good,
        "presentation",
        "r1",
        NOW
    ));
}

#[test]
fn accel_redirect_paths_and_disposition() {
    let response = accel_redirect("capture", "r1", &strings(&["capture.js"]), false, None);
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["x-accel-redirect"],
        "/static-resource/capture/r1/capture.js"
    );
    assert_eq!(
        response.headers()[header::CONTENT_DISPOSITION],
        "attachment"
    );

    let response = accel_redirect(
        "presentation",
        "r1",
        &strings(&["slides", "a b#.svg"]),
        false,
        Some("v=1"),
    );
    assert_eq!(
        response.headers()["x-accel-redirect"],
        "/static-resource/presentation/r1/slides/a%20b%23.svg?v=1"
    );
    assert!(
        response
            .headers()
            .get(header::CONTENT_DISPOSITION)
            .is_none()
    );

    let response = accel_redirect("video", "r1", &[], true, None);
    assert_eq!(
        response.headers()["x-accel-redirect"],
        "/static-resource/video/r1/"
    );
    assert!(
        response
            .headers()
            .get(header::CONTENT_DISPOSITION)
            .is_none()
    );
    let response = accel_redirect("screenshare", "r1", &[], false, None);
    assert_eq!(
        response.headers()["x-accel-redirect"],
        "/static-resource/screenshare/r1"
    );
    assert!(
        response
            .headers()
            .get(header::CONTENT_DISPOSITION)
            .is_none()
    );
    let response = accel_redirect("notes", "r1", &[], false, None);
    assert_eq!(
        response.headers()[header::CONTENT_DISPOSITION],
        "attachment"
    );
}

#[test]
fn segments_are_percent_encoded() {
    assert_eq!(encode_segment("aZ09-._~"), "aZ09-._~");
    assert_eq!(encode_segment("a b/c+ü"), "a%20b%2Fc%2B%C3%BC");
}

#[test]
fn same_site_none_incompatible_clients() {
    let incompatible = [
        "Mozilla/5.0 (iPhone; CPU iPhone OS 12_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (iPad; CPU OS 12_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Safari/605.1.15",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/66.0.3359.181 Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chromium/51.0.2704.79 Safari/537.36",
        "Mozilla/5.0 (Linux; U; Android 8.1.0; en-US) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/57.0.2987.108 UCBrowser/12.13.0.1207 Mobile Safari/537.36",
    ];
    for ua in incompatible {
        assert!(!same_site_none_compatible(ua), "{ua}");
    }
    let compatible = [
        "",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/50.0.2661.102 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 13_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0.3 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        "Mozilla/5.0 (Linux; U; Android 10; en-US) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/78.0.3904.108 UCBrowser/12.13.2.1208 Mobile Safari/537.36",
        "curl/8.0",
    ];
    for ua in compatible {
        assert!(same_site_none_compatible(ua), "{ua}");
    }
}

#[test]
fn versions() {
    assert_eq!(version("66.0.3359.181 Safari"), vec![66, 0, 3359, 181]);
    assert_eq!(version("12.13.0.1207 Mobile"), vec![12, 13, 0, 1207]);
    assert_eq!(version("x"), Vec::<u64>::new());
}

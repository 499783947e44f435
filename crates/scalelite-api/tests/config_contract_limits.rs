//! Configuration contract of the API's limits: each variable, set in the real binary's environment, has the
//! effect its documentation names, seen from outside.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use fake_bbb::Fault;
use scalelite_testkit::Backend;
use scalelite_testkit::process::Service;
use support::*;

#[tokio::test]
async fn contract_http_header_timeout() {
    let (service, _store) = api(
        Backend::Embedded,
        &[
            ("HTTP_HEADER_TIMEOUT", "1"),
            ("HTTP_KEEPALIVE_TIMEOUT", "60"),
        ],
    )
    .await;
    let mut slow = connect(&service).await;
    send(&mut slow, b"GET /health_check HTTP/1.1\r\nHost: loc").await;
    assert_eq!(read_until_closed(&mut slow).await.as_deref(), Some(""));
}

#[tokio::test]
async fn contract_http_body_timeout() {
    let (service, _store) = api(Backend::Embedded, &[("HTTP_BODY_TIMEOUT", "1")]).await;
    let mut slow = connect(&service).await;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: 100\r\n\r\n<x>",
        signed_path("create", "meetingID=m")
    );
    send(&mut slow, head.as_bytes()).await;
    let received = read_until_closed(&mut slow).await.expect("closed");
    assert_eq!(status(&received), 408, "{received}");
}

#[tokio::test]
async fn contract_http_keepalive_timeout() {
    let (service, _store) = api(
        Backend::Embedded,
        &[
            ("HTTP_KEEPALIVE_TIMEOUT", "1"),
            ("HTTP_HEADER_TIMEOUT", "60"),
        ],
    )
    .await;
    let mut connection = connect(&service).await;
    send(&mut connection, &get_request("/health_check")).await;
    assert_eq!(status(&read_response(&mut connection).await), 200);
    assert_eq!(
        read_until_closed(&mut connection).await.as_deref(),
        Some("")
    );
}

async fn post_body(service: &Service, call: &str, size: usize) -> String {
    reqwest::Client::new()
        .post(service.url(&signed_path(call, "meetingID=m")))
        .header("content-type", "application/xml")
        .body(vec![b' '; size])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn contract_max_request_body_size() {
    let (service, _store) = api(Backend::Embedded, &[("MAX_REQUEST_BODY_SIZE", "2000")]).await;
    for call in ["create", "insertDocument"] {
        let at = post_body(&service, call, 2000).await;
        assert!(!at.contains("requestTooLarge"), "{call}: {at}");
        let over = post_body(&service, call, 2001).await;
        assert!(
            over.contains("<messageKey>requestTooLarge</messageKey>"),
            "{call}: {over}"
        );
    }
}

#[tokio::test]
async fn contract_max_small_body_size() {
    let (service, _store) = api(Backend::Embedded, &[("MAX_SMALL_BODY_SIZE", "10")]).await;
    let http = reqwest::Client::new();
    let post = |size: usize| {
        http.post(service.url(&signed_path("getMeetings", "")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![b'a'; size])
            .send()
    };
    let at = post(10).await.unwrap().text().await.unwrap();
    assert!(!at.contains("requestTooLarge"), "{at}");
    let over = post(11).await.unwrap().text().await.unwrap();
    assert!(
        over.contains("<messageKey>requestTooLarge</messageKey>"),
        "{over}"
    );
    // create keeps the large limit.
    assert!(
        !post_body(&service, "create", 11)
            .await
            .contains("requestTooLarge")
    );
}

#[tokio::test]
async fn contract_max_concurrent_requests() {
    let (service, store) = api(
        Backend::Embedded,
        &[("MAX_CONCURRENT_REQUESTS", "1"), ("RESPONSE_TIMEOUT", "60")],
    )
    .await;
    let fake = register(&store.store, "bbb1").await;
    fake.set_fault(Fault::Hang).await.unwrap();
    let url = service.url(&signed_path("getMeetings", ""));
    let hanging = tokio::spawn(reqwest::get(url.clone()));
    until_received(&fake, "getMeetings", 1).await;
    let refused = reqwest::get(&url).await.unwrap();
    assert_eq!(refused.status(), 503);
    hanging.abort();
}

/// The address the API's metrics listener logged.
async fn metrics_addr(service: &Service) -> SocketAddr {
    assert!(
        service.wait_for_log("metrics at /metrics", GUARD).await,
        "{}",
        service.log()
    );
    service
        .log()
        .lines()
        .filter(|line| line.contains("metrics at /metrics"))
        .flat_map(|line| line.split_whitespace())
        .find_map(|field| field.strip_prefix("addr=")?.parse().ok())
        .expect("the metrics listener's address")
}

fn is_metrics(text: &str) -> bool {
    text.ends_with("# EOF\n") && text.contains("scalelite_store_up")
}

#[tokio::test]
async fn contract_metrics_bind() {
    let (service, _store) = api(Backend::Embedded, &[("METRICS_BIND", "127.0.0.1:0")]).await;
    let addr = metrics_addr(&service).await;
    let scraped = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(is_metrics(&scraped.text().await.unwrap()));
    // Only metrics there.
    let other = reqwest::get(format!("http://{addr}/bigbluebutton/api"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    // Not public on the API's port.
    let public = reqwest::get(service.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!is_metrics(&public), "{public}");
    assert!(public.contains("unsupportedRequest"), "{public}");
}

#[tokio::test]
async fn contract_metrics_public() {
    let (closed, _store) = api(Backend::Embedded, &[]).await;
    let text = reqwest::get(closed.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!is_metrics(&text), "off by default: {text}");
    let (open, _store) = api(Backend::Embedded, &[("METRICS_PUBLIC", "true")]).await;
    let text = reqwest::get(open.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(is_metrics(&text), "{text}");
}

async fn fsapi_status(service: &Service) -> u16 {
    reqwest::Client::new()
        .post(service.url("/fsapi"))
        .form(&[
            ("section", "dialplan"),
            ("Caller-Destination-Number", "5551234"),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn contract_fsapi_auth_disabled() {
    // No password and no opt-in: refused.
    let (refusing, _store) = api(Backend::Embedded, &[("FSAPI_PASSWORD", "")]).await;
    assert_eq!(fsapi_status(&refusing).await, 403);
    // Opened on purpose: the dial plan is served without credentials.
    let (open, _store) = api(
        Backend::Embedded,
        &[("FSAPI_PASSWORD", ""), ("FSAPI_AUTH_DISABLED", "true")],
    )
    .await;
    assert_eq!(fsapi_status(&open).await, 200);
    // With a password the opt-in changes nothing: credentials are still required.
    let (guarded, _store) = api(
        Backend::Embedded,
        &[("FSAPI_PASSWORD", "pw"), ("FSAPI_AUTH_DISABLED", "true")],
    )
    .await;
    assert_eq!(fsapi_status(&guarded).await, 401);
}

#[tokio::test]
async fn contract_bbb_max_response_size() {
    let (service, store) = api(Backend::Embedded, &[("BBB_MAX_RESPONSE_SIZE", "64")]).await;
    let fake = register(&store.store, "bbb1").await;
    fake.set_fault(Fault::Normal).await.unwrap();
    let answer = reqwest::get(service.url(&signed_path("create", "meetingID=m1")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The server answered (it got the call) but its answer is over 64 bytes: treated as no answer.
    until_received(&fake, "create", 1).await;
    assert!(
        answer.contains("<returncode>FAILED</returncode>"),
        "{answer}"
    );
    assert!(
        service
            .wait_for_log("BBB_MAX_RESPONSE_SIZE", Duration::from_secs(5))
            .await,
        "{}",
        service.log()
    );
}

//! HTTP limits of the real `scalelite-api` binary, driven over raw sockets: slow clients are cut off, bodies are
//! bounded per route, and requests over the concurrency cap are refused at once. Timeouts are set to 1-2 s so the
//! tests run in seconds; every "in time" step takes a small fraction of the limit, for a loaded machine.

mod support;

use std::time::Duration;

use fake_bbb::Fault;
use scalelite_testkit::Backend;
use support::*;

#[tokio::test]
async fn half_a_request_line_is_closed_after_the_header_timeout() {
    let (service, _store) = api(
        Backend::Embedded,
        &[
            ("HTTP_HEADER_TIMEOUT", "1"),
            ("HTTP_KEEPALIVE_TIMEOUT", "60"),
        ],
    )
    .await;
    // Just under: the request line and headers in two parts, well within the limit, are answered.
    let mut in_time = connect(&service).await;
    send(&mut in_time, b"GET /health_check HT").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(&mut in_time, b"TP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert_eq!(status(&read_response(&mut in_time).await), 200);

    // Over: half a request line and then nothing; the server hangs up without an answer.
    let mut slow = connect(&service).await;
    send(&mut slow, b"GET /bigbluebutton/api HT").await;
    let received = read_until_closed(&mut slow)
        .await
        .expect("the server closed the connection");
    assert_eq!(received, "", "no answer to half a request");

    // A connection that never sends a byte is closed too.
    let mut silent = connect(&service).await;
    assert_eq!(read_until_closed(&mut silent).await.as_deref(), Some(""));
}

#[tokio::test]
async fn headers_trickling_in_are_cut_at_the_header_timeout() {
    let (service, _store) = api(
        Backend::Embedded,
        &[
            ("HTTP_HEADER_TIMEOUT", "1"),
            ("HTTP_KEEPALIVE_TIMEOUT", "60"),
        ],
    )
    .await;
    let mut slow = connect(&service).await;
    send(&mut slow, b"GET /health_check HTTP/1.1\r\n").await;
    // One header line every 300 ms: each byte resets nothing, the deadline counts from the first byte.
    let mut closed = false;
    for i in 0..100 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let line = format!("X-Slow-{i}: a\r\n");
        if tokio::io::AsyncWriteExt::write_all(&mut slow, line.as_bytes())
            .await
            .is_err()
        {
            closed = true;
            break;
        }
    }
    if !closed {
        // Writes into a closed socket may still succeed once; reading tells for sure.
        let received = read_until_closed(&mut slow).await;
        assert_eq!(
            received.as_deref(),
            Some(""),
            "the server closed the connection"
        );
    }
}

#[tokio::test]
async fn a_short_body_is_cut_after_the_body_timeout() {
    let (service, _store) = api(Backend::Embedded, &[("HTTP_BODY_TIMEOUT", "1")]).await;
    let path = signed_path("create", "meetingID=slow-body");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: 1000\r\n\r\n"
    );

    // Just under: the whole body, late but within the limit, is read and the call goes on.
    let mut in_time = connect(&service).await;
    send(&mut in_time, head.as_bytes()).await;
    send(&mut in_time, &[b' '; 500]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(&mut in_time, &[b' '; 500]).await;
    let answer = read_response(&mut in_time).await;
    assert!(!answer.contains("requestTimeout"), "{answer}");
    assert!(answer.contains("<returncode>"), "{answer}");

    // Over: 1 KB announced, 10 bytes sent: answered 408 with the BBB error, then the connection is closed.
    let mut slow = connect(&service).await;
    send(&mut slow, head.as_bytes()).await;
    send(&mut slow, b"<xml>     ").await;
    let received = read_until_closed(&mut slow)
        .await
        .expect("the server closed the connection");
    assert_eq!(status(&received), 408, "{received}");
    assert!(
        received.contains("<returncode>FAILED</returncode>"),
        "{received}"
    );
    assert!(
        received.contains("<messageKey>requestTimeout</messageKey>"),
        "{received}"
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_keepalive_timeout() {
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
    // Just under: a next request shortly after is served on the same connection.
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(&mut connection, &get_request("/bigbluebutton/api")).await;
    assert_eq!(status(&read_response(&mut connection).await), 200);
    // Over: idle past the keep-alive timeout (and far from the 60 s header timeout), the server hangs up.
    assert_eq!(
        read_until_closed(&mut connection).await.as_deref(),
        Some("")
    );
}

#[tokio::test]
async fn body_sizes_are_checked_per_route_before_reading() {
    let (service, _store) = api(
        Backend::Embedded,
        &[
            ("MAX_SMALL_BODY_SIZE", "100"),
            ("MAX_REQUEST_BODY_SIZE", "1000"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let post = |path: String, kind: &'static str, size: usize| {
        http.post(service.url(&path))
            .header("content-type", kind)
            .body(vec![b'a'; size])
            .send()
    };
    let form = "application/x-www-form-urlencoded";
    for (call, kind, limit) in [
        ("getMeetings", form, 100),
        ("create", "application/xml", 1000),
    ] {
        let path = signed_path(call, "meetingID=sizes");
        let at = post(path.clone(), kind, limit)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!at.contains("requestTooLarge"), "{call} at {limit}: {at}");
        let over = post(path, kind, limit + 1).await.unwrap();
        assert_eq!(over.status(), 200, "BBB errors are HTTP 200");
        let over = over.text().await.unwrap();
        assert!(
            over.contains("<messageKey>requestTooLarge</messageKey>"),
            "{call}: {over}"
        );
    }
    // Other routes: plain 413.
    let over = post("/fsapi".into(), form, 101).await.unwrap();
    assert_eq!(over.status(), 413);
    let at = post("/fsapi".into(), form, 100).await.unwrap();
    assert_eq!(
        at.status(),
        401,
        "at the limit the dial-plan API asks for its password"
    );

    // Without Content-Length (chunked), the body is cut when it passes the limit.
    for (size, refused) in [(100, false), (101, true)] {
        let mut connection = connect(&service).await;
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {form}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            signed_path("getMeetings", "")
        );
        send(&mut connection, head.as_bytes()).await;
        send(&mut connection, format!("{size:x}\r\n").as_bytes()).await;
        send(&mut connection, &vec![b'a'; size]).await;
        send(&mut connection, b"\r\n0\r\n\r\n").await;
        let answer = read_until_closed(&mut connection).await.expect("an answer");
        assert_eq!(
            answer.contains("requestTooLarge"),
            refused,
            "chunked body of {size}: {answer}"
        );
    }
}

async fn requests_over_the_cap_are_refused_at_once(backend: Backend) {
    let (service, store) = api(
        backend,
        &[("MAX_CONCURRENT_REQUESTS", "2"), ("RESPONSE_TIMEOUT", "60")],
    )
    .await;
    let fake = register(&store.store, "bbb1").await;
    fake.set_fault(Fault::Hang).await.unwrap();
    let url = service.url(&signed_path("getMeetings", ""));
    // Just under: two requests are taken in (both reach the BBB server, which never answers).
    let hanging: Vec<_> = (0..2)
        .map(|_| tokio::spawn(reqwest::get(url.clone())))
        .collect();
    until_received(&fake, "getMeetings", 2).await;
    // Over: the third is answered 503 straight away, while the two still hang.
    let http = reqwest::Client::builder().timeout(GUARD).build().unwrap();
    let refused = http
        .get(&url)
        .send()
        .await
        .expect("answered while two hang");
    assert_eq!(refused.status(), 503);
    let body = refused.text().await.unwrap();
    assert!(body.contains("<returncode>FAILED</returncode>"), "{body}");
    assert!(
        body.contains("<messageKey>serviceUnavailable</messageKey>"),
        "{body}"
    );
    let health = http.get(service.url("/health_check")).send().await.unwrap();
    assert_eq!(health.status(), 503, "outside the API: a plain 503");
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.call == "getMeetings")
            .count(),
        2
    );
    assert!(hanging.iter().all(|task| !task.is_finished()));
    for task in hanging {
        task.abort();
    }
}

#[tokio::test]
async fn embedded_requests_over_the_cap_are_refused_at_once() {
    requests_over_the_cap_are_refused_at_once(Backend::Embedded).await;
}

#[tokio::test]
async fn production_requests_over_the_cap_are_refused_at_once() {
    requests_over_the_cap_are_refused_at_once(Backend::Production).await;
}

#[tokio::test]
async fn a_freed_slot_is_reused() {
    let (service, store) = api(Backend::Embedded, &[("MAX_CONCURRENT_REQUESTS", "1")]).await;
    let _fake = register(&store.store, "bbb1").await;
    let http = reqwest::Client::new();
    // One at a time, many in a row: each finished request gives its slot back.
    for _ in 0..5 {
        let answer = http
            .get(service.url(&signed_path("getMeetings", "")))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert!(answer.text().await.unwrap().contains("SUCCESS"));
    }
}

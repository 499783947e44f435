//! Fault modes, stop/drop, and the request log.

use super::*;
use crate::{FakeError, Fault, SeedMeeting};

#[tokio::test]
async fn hang_accepts_but_never_answers() {
    let server = start().await;
    server.set_fault(Fault::Hang).await.expect("hang");
    let error = client_with_timeout(Duration::from_millis(300))
        .get(signed_url(&server, "getMeetings", ""))
        .send()
        .await
        .expect_err("no answer");
    assert!(error.is_timeout(), "{error:?}");
    // The request did arrive.
    assert_eq!(server.requests().len(), 1);

    server.set_fault(Fault::Normal).await.expect("normal");
    assert_eq!(
        returncode(&call(&server, "getMeetings", "").await),
        "SUCCESS"
    );
}

#[tokio::test]
async fn refuse_closes_the_port_and_comes_back_on_the_same_port() {
    let server = start().await;
    server
        .seed_meeting(SeedMeeting {
            meeting_id: "kept".into(),
            ..SeedMeeting::default()
        })
        .expect("seed");
    let port = server.port();
    let url = signed_url(&server, "getMeetings", "");

    within("refuse", server.set_fault(Fault::Refuse))
        .await
        .expect("refuse");
    assert!(!server.is_listening());
    let error = client().get(&url).send().await.expect_err("refused");
    assert!(error.is_connect(), "{error:?}");
    // Still refusing when asked twice.
    server.set_fault(Fault::Refuse).await.expect("refuse again");
    assert!(
        client()
            .get(&url)
            .send()
            .await
            .expect_err("refused")
            .is_connect()
    );

    server.set_fault(Fault::Normal).await.expect("back");
    assert!(server.is_listening());
    assert_eq!(server.port(), port);
    let body = call(&server, "getMeetings", "").await;
    assert_eq!(
        blocks(&body, "meeting").len(),
        1,
        "state survives going offline: {body}"
    );
}

#[tokio::test]
async fn refuse_drops_a_hanging_request() {
    let server = start().await;
    server.set_fault(Fault::Hang).await.expect("hang");
    let url = signed_url(&server, "getMeetings", "");
    let pending = tokio::spawn(async move { client().get(&url).send().await });
    // Wait until the hanging request has arrived, by watching the log (no sleeps as assertions).
    within("the hanging request arrives", async {
        while server.requests().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    within("refuse", server.set_fault(Fault::Refuse))
        .await
        .expect("refuse");
    let result = within("the hanging request ends", pending)
        .await
        .expect("join");
    assert!(
        result.is_err(),
        "the connection is dropped without an answer"
    );
}

#[tokio::test]
async fn delay_answers_late() {
    let server = start().await;
    server
        .set_fault(Fault::Delay(Duration::from_millis(1500)))
        .await
        .expect("delay");
    let error = client_with_timeout(Duration::from_millis(100))
        .get(signed_url(&server, "getMeetings", ""))
        .send()
        .await
        .expect_err("too slow for a short timeout");
    assert!(error.is_timeout(), "{error:?}");
    let body = call(&server, "getMeetings", "").await;
    assert_eq!(returncode(&body), "SUCCESS");
    assert_eq!(server.fault(), Fault::Delay(Duration::from_millis(1500)));
}

#[tokio::test]
async fn http500_html_and_garbage_are_not_bbb_replies() {
    let server = start().await;
    let url = signed_url(&server, "getMeetings", "");

    server.set_fault(Fault::Http500).await.expect("500");
    let (status, body) = get_text(&url).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(tag(&body, "returncode").is_none(), "{body}");

    server.set_fault(Fault::Html).await.expect("html");
    let response = client().get(&url).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    let body = response.text().await.expect("body");
    assert!(body.contains("<html"), "{body}");
    assert!(tag(&body, "returncode").is_none());

    server.set_fault(Fault::Garbage).await.expect("garbage");
    let response = client().get(&url).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.expect("body");
    assert!(!bytes.is_empty());
    assert!(std::str::from_utf8(&bytes).is_err(), "not even text");
    assert!(bytes.contains(&0));

    // Every request was still logged.
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn failed_answers_every_call_with_the_given_error() {
    let server = start().await;
    server
        .set_fault(Fault::Failed(
            "maintenance".into(),
            "Down for maintenance".into(),
        ))
        .await
        .expect("failed");
    for url in [
        server.url(),
        signed_url(&server, "getMeetings", ""),
        signed_url(&server, "create", "meetingID=x"),
    ] {
        let (status, body) = get_text(&url).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(returncode(&body), "FAILED", "{url}: {body}");
        assert_eq!(message_key(&body), "maintenance");
        assert_eq!(
            tag(&body, "message").as_deref(),
            Some("Down for maintenance")
        );
    }
    assert!(server.meetings().is_empty(), "no call had an effect");
}

#[tokio::test]
async fn stop_and_drop_close_the_port() {
    let server = start().await;
    let url = signed_url(&server, "getMeetings", "");
    within("stop", server.stop()).await;
    assert!(
        client()
            .get(&url)
            .send()
            .await
            .expect_err("stopped")
            .is_connect()
    );
    assert!(matches!(
        server.set_fault(Fault::Normal).await,
        Err(FakeError::Stopped)
    ));
    server.stop().await; // idempotent

    let server = start().await;
    let port = server.port();
    let url = signed_url(&server, "getMeetings", "");
    assert_eq!(get_text(&url).await.0, StatusCode::OK);
    drop(server);
    // Dropping cancels the listener asynchronously; wait until it is gone, then the same port can be reused.
    within("the dropped server closes its port", async {
        while client().get(&url).send().await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let again = FakeServer::start_with(crate::ServerOptions {
        port,
        ..crate::ServerOptions::new(SECRET)
    })
    .await
    .expect("same port again");
    assert_eq!(again.port(), port);
    assert_eq!(
        get_text(&signed_url(&again, "getMeetings", "")).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn request_log_records_and_clears() {
    let server = start().await;
    let url = signed_url(&server, "getMeetingInfo", "meetingID=a+b");
    let query = url.split_once('?').expect("query").1.to_owned();
    get_text(&url).await;
    client()
        .post(signed_url(&server, "insertDocument", "meetingID=z"))
        .header("content-type", "text/xml")
        .body("<modules/>")
        .send()
        .await
        .expect("post");
    get_text(&format!("{}getMeetings?checksum=bad", server.url())).await;

    let log = server.requests();
    assert_eq!(log.len(), 3);
    let first = &log[0];
    assert_eq!(first.method, "GET");
    assert_eq!(first.call, "getMeetingInfo");
    assert_eq!(first.path, "/bigbluebutton/api/getMeetingInfo");
    assert_eq!(first.query.as_deref(), Some(query.as_str()));
    assert_eq!(first.param("meetingID"), Some("a b"));
    assert_eq!(first.checksum_ok, Some(true));
    assert_eq!(first.body, "");
    assert!(first.timestamp_ms > 1_600_000_000_000);
    let second = &log[1];
    assert_eq!(
        (second.method.as_str(), second.call.as_str()),
        ("POST", "insertDocument")
    );
    assert_eq!(second.body, "<modules/>");
    assert_eq!(second.content_type.as_deref(), Some("text/xml"));
    assert_eq!(log[2].checksum_ok, Some(false));
    assert!(
        log.windows(2)
            .all(|w| w[0].timestamp_ms <= w[1].timestamp_ms)
    );

    assert_eq!(server.take_requests().len(), 3);
    assert!(server.requests().is_empty());
    get_text(&server.url()).await;
    assert_eq!(server.requests().len(), 1);
    server.clear_requests();
    assert!(server.requests().is_empty());

    // Off (benchmarks): nothing is logged, and the server answers as before; on again: logged again.
    server.set_request_log(false);
    get_text(&server.url()).await;
    let (_, created) = get_text(&signed_url(&server, "create", "meetingID=unlogged")).await;
    assert!(
        created.contains("<returncode>SUCCESS</returncode>"),
        "{created}"
    );
    assert!(server.requests().is_empty());
    server.set_request_log(true);
    get_text(&server.url()).await;
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn slow_create_happens_after_the_caller_gave_up() {
    let server = start().await;
    server
        .set_fault(Fault::SlowCreate(Duration::from_millis(600)))
        .await
        .expect("slow create");
    let error = client_with_timeout(Duration::from_millis(100))
        .get(signed_url(&server, "create", "meetingID=late"))
        .send()
        .await
        .expect_err("too slow for a short timeout");
    assert!(error.is_timeout(), "{error:?}");
    // Other calls are not delayed, and the create has not happened yet.
    let body = client_with_timeout(Duration::from_millis(400))
        .get(signed_url(&server, "getMeetings", ""))
        .send()
        .await
        .expect("getMeetings is not delayed")
        .text()
        .await
        .expect("body");
    assert_eq!(returncode(&body), "SUCCESS");
    assert!(server.meeting("late").is_none());
    for _ in 0..100 {
        if server.meeting("late").is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the create never took effect");
}

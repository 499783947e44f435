//! Routing, index, the catch-all, checksums, Content-Type rules and bad input (`docs/compatibility.md#api-routing`).

use crate::harness::*;

both_backends! {
    async fn index_answers_version_without_checksum(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for path in ["/bigbluebutton/api", "/bigbluebutton/api/"] {
            let xml = Xml::from(app.http.get(app.url(path)).send().await.unwrap()).await;
            xml.assert_success();
            assert_eq!(xml.get("version").as_deref(), Some("2.0"));
            assert_eq!(xml.get("build"), None);
        }
        let post = Xml::from(app.http.post(app.url("/bigbluebutton/api")).send().await.unwrap()).await;
        post.assert_success();
    }

    async fn health_check_answers_success(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for path in ["/health_check", "/"] {
            let response = app.http.get(app.url(path)).send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.text().await.unwrap(), "success");
        }
    }
}

#[tokio::test]
async fn index_reports_build_number() {
    let app = TestApp::spawn_with(Backend::Embedded, |s| {
        s.build_number = Some("alpha-1".into())
    })
    .await;
    let xml = Xml::from(
        app.http
            .get(app.url("/bigbluebutton/api"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(xml.get("build").as_deref(), Some("alpha-1"));
}

#[tokio::test]
async fn unknown_calls_and_wrong_methods_are_unsupported_requests() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let cases = [
        ("GET", "/unsupportedRequest"),
        ("GET", "/bigbluebutton/api/unsupportedRequest"),
        ("GET", "/bigbluebutton/api/getDefaultConfigXML"),
        ("GET", "/bigbluebutton/api/getMeetings.xml"),
        ("POST", "/bigbluebutton/api/join"),
        ("GET", "/bigbluebutton/api/insertDocument"),
        ("PUT", "/bigbluebutton/api/getMeetings"),
        ("DELETE", "/bigbluebutton/api/create"),
    ];
    for (method, path) in cases {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        let xml = Xml::from(response).await;
        let message = xml.assert_failed("unsupportedRequest");
        assert_eq!(message, "This request is not supported.", "{method} {path}");
    }
}

#[tokio::test]
async fn checksum_rules() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let base = app.url("/bigbluebutton/api/getMeetings");
    // No checksum, a garbage checksum, a wrong-length one, the wrong secret.
    for url in [
        base.clone(),
        format!("{base}?checksum=totallyNotAHash"),
        format!("{base}?checksum={}", "x".repeat(40)),
        format!("{base}?checksum={}", sha256_hex("getMeetingswrong-secret")),
    ] {
        let xml = Xml::from(app.http.get(&url).send().await.unwrap()).await;
        assert_eq!(
            xml.assert_failed("checksumError"),
            "You did not pass the checksum security check"
        );
    }
    // SHA-1, SHA-256 and SHA-512 of call + query + secret pass; upper-case hex too
    // (`docs/compatibility.md#api-checksum`).
    let sha512 = {
        use sha2::Digest;
        hex::encode(sha2::Sha512::digest(
            format!("getMeetings{LB_SECRET}").as_bytes(),
        ))
    };
    for checksum in [
        sha1_hex(&format!("getMeetings{LB_SECRET}")),
        sha256_hex(&format!("getMeetings{LB_SECRET}")),
        sha512,
        sha256_hex(&format!("getMeetings{LB_SECRET}")).to_uppercase(),
    ] {
        let xml = Xml::from(
            app.http
                .get(format!("{base}?checksum={checksum}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        xml.assert_success();
        assert_eq!(xml.message_key(), "noMeetings");
    }
    // A leading `&`, as some client libraries send.
    let checksum = sha256_hex(&format!("getMeetings{LB_SECRET}"));
    let xml = Xml::from(
        app.http
            .get(format!("{base}?&checksum={checksum}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    xml.assert_success();
}

#[tokio::test]
async fn checksum_any_of_several_secrets() {
    let app = TestApp::spawn_with(Backend::Embedded, |s| {
        s.lb_secrets = vec!["first".into(), "second".into(), "third".into()];
    })
    .await;
    for secret in ["first", "third"] {
        let xml = Xml::from(
            app.http
                .get(app.signed_with("getMeetings", "", secret))
                .send()
                .await
                .unwrap(),
        )
        .await;
        xml.assert_success();
    }
    let xml = Xml::from(
        app.http
            .get(app.signed_with("getMeetings", "", "fourth"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    xml.assert_failed("checksumError");
}

#[tokio::test]
async fn no_secrets_configured_rejects_everything() {
    let app = TestApp::spawn_with(Backend::Embedded, |s| s.lb_secrets.clear()).await;
    app.call("getMeetings", "")
        .await
        .assert_failed("checksumError");
}

#[tokio::test]
async fn form_post_body_only_is_checked_like_bbb_web() {
    let mut app = TestApp::spawn(Backend::Embedded).await;
    app.add_server("bbb1").await;
    app.call("create", "meetingID=room&name=Room")
        .await
        .assert_success();
    // bbb-web's rule for a body-only form POST: sorted names, re-encoded values.
    let checksum = sha256_hex(&format!("getMeetingInfomeetingID=room{LB_SECRET}"));
    let response = app
        .http
        .post(app.url("/bigbluebutton/api/getMeetingInfo"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("meetingID=room&checksum={checksum}"))
        .send()
        .await
        .unwrap();
    let xml = Xml::from(response).await;
    xml.assert_success();
    assert_eq!(xml.get("meetingID").as_deref(), Some("room"));
    // Signing only the call name (the original's rule) leaves meetingID unsigned: it is refused.
    let bare = sha256_hex(&format!("getMeetingInfo{LB_SECRET}"));
    let response = app
        .http
        .post(app.url("/bigbluebutton/api/getMeetingInfo"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("meetingID=room&checksum={bare}"))
        .send()
        .await
        .unwrap();
    Xml::from(response).await.assert_failed("checksumError");
}

#[tokio::test]
async fn body_parameters_not_covered_by_the_checksum_are_ignored() {
    let mut app = TestApp::spawn(Backend::Embedded).await;
    app.add_server("bbb1").await;
    // The query is signed and has no meetingID; the body's meetingID is not covered, so it is not acted on.
    let url = app.signed("create", "name=Room");
    let response = app
        .http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("meetingID=sneaky")
        .send()
        .await
        .unwrap();
    Xml::from(response)
        .await
        .assert_failed("missingParamMeetingID");
}

#[tokio::test]
async fn post_content_type_rules() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let url = app.signed("getMeetings", "");
    // JSON and a missing Content-Type are refused for a non-empty body.
    for content_type in [Some("application/json"), None] {
        let mut request = app.http.post(&url).body("{}");
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let xml = Xml::from(request.send().await.unwrap()).await;
        assert_eq!(
            xml.assert_failed("unsupportedContentType"),
            "POST request Content-Type is missing or unsupported"
        );
    }
    // An empty POST is never checked.
    Xml::from(app.http.post(&url).send().await.unwrap())
        .await
        .assert_success();
    // insertDocument takes XML only.
    let url = app.signed("insertDocument", "meetingID=x");
    let response = app
        .http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a=b")
        .send()
        .await
        .unwrap();
    Xml::from(response)
        .await
        .assert_failed("unsupportedContentType");
}

#[tokio::test]
async fn invalid_utf8_is_a_clear_error_and_stores_nothing() {
    let mut app = TestApp::spawn(Backend::Embedded).await;
    app.add_server("bbb1").await;
    let xml = app.call("create", "meetingID=%FF%FE&name=x").await;
    assert_eq!(xml.returncode(), "FAILED", "{}", xml.text);
    use scalelite_core::storage::MeetingStore;
    assert!(app.store.list_meetings().await.unwrap().is_empty());
    assert_eq!(app.load("bbb1").await, Some(0.0));
}

#[tokio::test]
async fn oversized_bodies_are_capped() {
    let app = TestApp::spawn_with(Backend::Embedded, |s| s.max_body_bytes = 1024).await;
    let url = app.signed("create", "meetingID=big");
    let response = app
        .http
        .post(url)
        .header("content-type", "application/xml")
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    let xml = Xml::from(response).await;
    assert_eq!(xml.returncode(), "FAILED", "{}", xml.text);
    use scalelite_core::storage::MeetingStore;
    assert!(app.store.list_meetings().await.unwrap().is_empty());
}

#[tokio::test]
async fn get_meetings_disabled_answers_no_meetings_without_checksum() {
    let mut app = TestApp::spawn_with(Backend::Embedded, |s| s.get_meetings_disabled = true).await;
    let fake = app.add_server("bbb1").await;
    fake.seed_meeting(seed("m", 1, 1)).unwrap();
    for request in [
        app.http.get(app.url("/bigbluebutton/api/getMeetings")),
        app.http.post(app.url("/bigbluebutton/api/getMeetings")),
    ] {
        let xml = Xml::from(request.send().await.unwrap()).await;
        xml.assert_success();
        assert_eq!(xml.message_key(), "noMeetings");
    }
    assert!(fake.requests().iter().all(|r| r.call != "getMeetings"));
}

#[tokio::test]
async fn host_allow_list_with_url_host() {
    let app = TestApp::spawn_with(Backend::Embedded, |s| {
        s.url_host = Some("sl.example.com".into())
    })
    .await;
    let denied = app
        .http
        .get(app.url("/bigbluebutton/api"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let allowed = app
        .http
        .get(app.url("/bigbluebutton/api"))
        .header("host", "sl.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    let health = app.http.get(app.url("/health_check")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

//! Checksum verification as bbb-web ≥2.5.7 does it, seen from a client.

use super::*;

#[tokio::test]
async fn bad_or_missing_checksum_is_a_checksum_error() {
    let server = start().await;
    let wrong_secret = sign(Algo::Sha256, "getMeetings", "", "not-the-secret");
    let urls = [
        format!("{}getMeetings?checksum={wrong_secret}", server.url()),
        format!("{}getMeetings", server.url()),
        format!("{}getMeetings?checksum=", server.url()),
        format!("{}getMeetings?checksum=abc", server.url()),
        // Signed for another call.
        format!(
            "{}getMeetings?checksum={}",
            server.url(),
            sign(Algo::Sha256, "getMeetingInfo", "", SECRET)
        ),
    ];
    for url in &urls {
        let (status, body) = get_text(url).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert_eq!(returncode(&body), "FAILED", "{url}: {body}");
        assert_eq!(message_key(&body), "checksumError", "{url}: {body}");
        assert_eq!(
            tag(&body, "message").as_deref(),
            Some("Checksums do not match")
        );
    }
    let log = server.requests();
    assert_eq!(log.len(), urls.len());
    assert!(log.iter().all(|r| r.checksum_ok == Some(false)), "{log:?}");
}

#[tokio::test]
async fn every_algorithm_is_accepted() {
    let server = start().await;
    let query = "meetingID=room+%C3%BC";
    for algo in [Algo::Sha1, Algo::Sha256, Algo::Sha384, Algo::Sha512] {
        let sum = sign(algo, "isMeetingRunning", query, SECRET);
        let url = format!("{}isMeetingRunning?{query}&checksum={sum}", server.url());
        let (_, body) = get_text(&url).await;
        assert_eq!(returncode(&body), "SUCCESS", "{algo:?}: {body}");
        assert_eq!(tag(&body, "running").as_deref(), Some("false"));
    }
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.checksum_ok == Some(true))
    );
}

#[tokio::test]
async fn upper_case_hex_is_accepted() {
    let server = start().await;
    let sum = sign(Algo::Sha1, "getMeetings", "", SECRET).to_uppercase();
    let (_, body) = get_text(&format!("{}getMeetings?checksum={sum}", server.url())).await;
    assert_eq!(returncode(&body), "SUCCESS", "{body}");
}

#[tokio::test]
async fn raw_query_quirks_seen_on_the_wire_verify() {
    let server = start().await;
    // A leading `&` (removing `&checksum=X` leaves nothing), an empty parameter, `%20` spaces, a checksum first.
    let cases = [
        ("getMeetings", "&", ""),
        (
            "getMeetingInfo",
            "meetingID=x&recordID=",
            "meetingID=x&recordID=",
        ),
        (
            "isMeetingRunning",
            "meetingID=My%20Room",
            "meetingID=My%20Room",
        ),
    ];
    for (call, prefix, signed) in cases {
        let sum = sign(Algo::Sha1, call, signed, SECRET);
        let url = if prefix == "&" {
            format!("{}{call}?&checksum={sum}", server.url())
        } else {
            format!("{}{call}?{prefix}&checksum={sum}", server.url())
        };
        let (_, body) = get_text(&url).await;
        assert_ne!(message_key(&body), "checksumError", "{url}: {body}");
    }
    let sum = sign(Algo::Sha256, "isMeetingRunning", "meetingID=a", SECRET);
    let (_, body) = get_text(&format!(
        "{}isMeetingRunning?checksum={sum}&meetingID=a",
        server.url()
    ))
    .await;
    assert_eq!(returncode(&body), "SUCCESS", "{body}");
    // Re-ordering the parameters after signing breaks the checksum.
    let sum = sign(Algo::Sha256, "create", "meetingID=a&name=b", SECRET);
    let (_, body) = get_text(&format!(
        "{}create?name=b&meetingID=a&checksum={sum}",
        server.url()
    ))
    .await;
    assert_eq!(message_key(&body), "checksumError", "{body}");
}

#[tokio::test]
async fn body_only_form_post_is_checked_against_the_sorted_rebuild() {
    let server = start().await;
    let url = format!("{}create", server.url());
    let form = "name=Room+1+%C3%BC&meetingID=m~1&attendeePW=ap&moderatorPW=mp";
    // bbb-web: names sorted, values re-encoded with Java's URLEncoder (`~` → %7E, space → +).
    let rebuilt = "attendeePW=ap&meetingID=m%7E1&moderatorPW=mp&name=Room+1+%C3%BC";
    let post = |checksum: String| {
        client()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("{form}&checksum={checksum}"))
            .send()
    };

    // Signing the empty string (what Scalelite itself accepts) fails against BBB.
    let body = post(sign(Algo::Sha256, "create", "", SECRET))
        .await
        .expect("post")
        .text()
        .await
        .expect("body");
    assert_eq!(message_key(&body), "checksumError", "{body}");
    // Signing the raw body as sent fails too.
    let body = post(sign(Algo::Sha256, "create", form, SECRET))
        .await
        .expect("post")
        .text()
        .await
        .expect("body");
    assert_eq!(message_key(&body), "checksumError", "{body}");

    let body = post(sign(Algo::Sha256, "create", rebuilt, SECRET))
        .await
        .expect("post")
        .text()
        .await
        .expect("body");
    assert_eq!(returncode(&body), "SUCCESS", "{body}");
    let meeting = server
        .meeting("m~1")
        .expect("created from the body parameters");
    assert_eq!(meeting.name, "Room 1 ü");
    assert_eq!(meeting.moderator_pw, "mp");
}

#[tokio::test]
async fn with_a_url_query_the_form_body_is_not_covered() {
    let server = start().await;
    let sum = sign(Algo::Sha256, "create", "meetingID=m1", SECRET);
    let body = client()
        .post(format!(
            "{}create?meetingID=m1&checksum={sum}",
            server.url()
        ))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .body("name=From+Body")
        .send()
        .await
        .expect("post")
        .text()
        .await
        .expect("body");
    assert_eq!(returncode(&body), "SUCCESS", "{body}");
    assert_eq!(server.meeting("m1").expect("meeting").name, "From Body");
}

#[tokio::test]
async fn index_needs_no_checksum() {
    let server = start().await;
    // Scalelite's poll:versions sends `/?checksum=H(secret)`; a wrong one does not matter either.
    for path in ["", "?checksum=whatever"] {
        let (_, body) = get_text(&format!("{}{path}", server.url())).await;
        assert_eq!(returncode(&body), "SUCCESS", "{body}");
    }
    assert!(server.requests().iter().all(|r| r.checksum_ok.is_none()));
}

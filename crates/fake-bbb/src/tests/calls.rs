//! The BBB calls: shapes and state changes.

use super::*;
use crate::{SeedMeeting, ServerOptions};

#[tokio::test]
async fn index_reports_versions_on_every_index_path() {
    let server = FakeServer::start_with(ServerOptions {
        bbb_version: "2.7.9".into(),
        ..ServerOptions::new(SECRET)
    })
    .await
    .expect("start");
    let root = format!("http://127.0.0.1:{}", server.port());
    for url in [
        format!("{root}/"),
        format!("{root}/bigbluebutton/api"),
        server.url(),
    ] {
        let response = client().get(&url).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(content_type.starts_with("text/xml"), "{content_type}");
        let body = response.text().await.expect("body");
        assert_eq!(returncode(&body), "SUCCESS");
        assert_eq!(tag(&body, "version").as_deref(), Some("2.0"));
        assert_eq!(tag(&body, "apiVersion").as_deref(), Some("2.0"));
        assert_eq!(tag(&body, "bbbVersion").as_deref(), Some("2.7.9"));
    }
    let (status, _) = get_text(&format!("{root}/nothing/here")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn create_is_idempotent_and_rejects_other_passwords() {
    let server = start().await;
    let query = "name=Room+1&meetingID=m1&moderatorPW=mp&meta_BBB-Origin=Greenlight&meta_endCallbackUrl=https%3A%2F%2Fx\
                 &duration=60&voiceBridge=71234";
    let body = call(&server, "create", query).await;
    assert_eq!(returncode(&body), "SUCCESS", "{body}");
    assert_eq!(tag(&body, "meetingID").as_deref(), Some("m1"));
    assert_eq!(tag(&body, "moderatorPW").as_deref(), Some("mp"));
    assert_eq!(tag(&body, "voiceBridge").as_deref(), Some("71234"));
    assert_eq!(tag(&body, "duration").as_deref(), Some("60"));
    assert_eq!(tag(&body, "parentMeetingID").as_deref(), Some("bbb-none"));
    assert_eq!(tag(&body, "hasUserJoined").as_deref(), Some("false"));
    assert_eq!(message_key(&body), "");
    let create_time = tag(&body, "createTime").expect("createTime");
    let internal = tag(&body, "internalMeetingID").expect("internalMeetingID");
    // sha1("m1") = 3b5e1d5c… computed independently.
    let sha1_m1 = hex::encode(Sha1::digest(b"m1"));
    assert_eq!(internal, format!("{sha1_m1}-{create_time}"));
    let attendee_pw = tag(&body, "attendeePW").expect("a generated attendeePW");
    assert!(!attendee_pw.is_empty());
    let create_date = tag(&body, "createDate").expect("createDate");
    assert!(create_date.contains(" UTC "), "{create_date}");

    let meeting = server.meeting("m1").expect("stored");
    assert_eq!(meeting.name, "Room 1");
    assert_eq!(meeting.duration, 60);
    assert_eq!(
        meeting.metadata,
        vec![
            ("bbb-origin".to_owned(), "Greenlight".to_owned()),
            ("endcallbackurl".to_owned(), "https://x".to_owned())
        ]
    );
    assert!(
        meeting
            .create_params
            .contains(&("meta_BBB-Origin".to_owned(), "Greenlight".to_owned()))
    );
    assert!(!meeting.create_params.iter().any(|(k, _)| k == "checksum"));

    // Same again, and again without passwords: duplicateWarning with the stored values.
    for query in [query, "meetingID=m1"] {
        let body = call(&server, "create", query).await;
        assert_eq!(returncode(&body), "SUCCESS", "{body}");
        assert_eq!(message_key(&body), "duplicateWarning");
        assert_eq!(
            tag(&body, "internalMeetingID").as_deref(),
            Some(internal.as_str())
        );
        assert_eq!(
            tag(&body, "attendeePW").as_deref(),
            Some(attendee_pw.as_str())
        );
    }
    for query in [
        "meetingID=m1&moderatorPW=other",
        "meetingID=m1&attendeePW=other",
    ] {
        let body = call(&server, "create", query).await;
        assert_eq!(returncode(&body), "FAILED", "{body}");
        assert_eq!(message_key(&body), "idNotUnique");
    }
    assert_eq!(server.meetings().len(), 1);

    let body = call(&server, "create", "name=x").await;
    assert_eq!(message_key(&body), "missingParamMeetingID");
}

#[tokio::test]
async fn create_generates_passwords_and_a_voice_bridge() {
    let server = start().await;
    let body = call(&server, "create", "meetingID=gen").await;
    let moderator_pw = tag(&body, "moderatorPW").expect("moderatorPW");
    let attendee_pw = tag(&body, "attendeePW").expect("attendeePW");
    assert_eq!(moderator_pw.len(), 8);
    assert_ne!(moderator_pw, attendee_pw);
    let voice_bridge = tag(&body, "voiceBridge").expect("voiceBridge");
    assert_eq!(voice_bridge.len(), 5, "{voice_bridge}");
    assert!(voice_bridge.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(server.meeting("gen").expect("stored").name, "gen");
}

#[tokio::test]
async fn create_with_xml_slides_is_recorded() {
    let server = start().await;
    let slides = "<modules><module name=\"presentation\"><document url=\"https://x/a.pdf\"/></module></modules>";
    let response = client()
        .post(signed_url(&server, "create", "meetingID=slides&name=S"))
        .header("content-type", "application/xml")
        .body(slides)
        .send()
        .await
        .expect("post");
    let body = response.text().await.expect("body");
    assert_eq!(returncode(&body), "SUCCESS", "{body}");
    assert_eq!(
        server
            .meeting("slides")
            .expect("stored")
            .create_body
            .as_deref(),
        Some(slides)
    );
    let log = server.requests();
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].body, slides);
    assert_eq!(log[0].content_type.as_deref(), Some("application/xml"));

    // A body with a type the call does not take is refused.
    let response = client()
        .post(signed_url(&server, "getMeetings", ""))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("post");
    let body = response.text().await.expect("body");
    assert_eq!(message_key(&body), "unsupportedContentType", "{body}");
}

#[tokio::test]
async fn join_redirects_and_adds_attendees() {
    let server = start().await;
    call(
        &server,
        "create",
        "meetingID=j&name=Join+Room&moderatorPW=mp&attendeePW=ap",
    )
    .await;

    let response = client()
        .get(signed_url(
            &server,
            "join",
            "meetingID=j&fullName=Alice&password=mp",
        ))
        .send()
        .await
        .expect("join");
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let prefix = format!(
        "http://127.0.0.1:{}/html5client/join?sessionToken=",
        server.port()
    );
    assert!(location.starts_with(&prefix), "{location}");
    assert!(location.len() > prefix.len());
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .starts_with("JSESSIONID=")
    );

    // The client page the redirect points to names the user.
    let (status, page) = get_text(&location).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Alice") && page.contains("moderator"),
        "{page}"
    );

    for query in [
        "meetingID=j&fullName=Bob&password=ap",
        "meetingID=j&fullName=Carol&role=moderator",
        "meetingID=j&fullName=Dave&role=VIEWER&userID=u-dave&userdata-bbb_custom=1",
    ] {
        let response = client()
            .get(signed_url(&server, "join", query))
            .send()
            .await
            .expect("join");
        assert_eq!(response.status(), StatusCode::FOUND, "{query}");
    }
    let info = call(&server, "getMeetingInfo", "meetingID=j").await;
    assert_eq!(tag(&info, "participantCount").as_deref(), Some("4"));
    assert_eq!(tag(&info, "moderatorCount").as_deref(), Some("2"));
    assert_eq!(tag(&info, "running").as_deref(), Some("true"));
    assert_eq!(tag(&info, "hasUserJoined").as_deref(), Some("true"));
    let attendees = blocks(&info, "attendee");
    assert_eq!(attendees.len(), 4);
    assert_eq!(tag(&attendees[0], "fullName").as_deref(), Some("Alice"));
    assert_eq!(tag(&attendees[0], "role").as_deref(), Some("MODERATOR"));
    assert_eq!(tag(&attendees[1], "role").as_deref(), Some("VIEWER"));
    assert_eq!(tag(&attendees[2], "role").as_deref(), Some("MODERATOR"));
    assert_eq!(tag(&attendees[3], "userID").as_deref(), Some("u-dave"));
    assert_eq!(tag(&attendees[3], "bbb_custom").as_deref(), Some("1"));
    let running = call(&server, "isMeetingRunning", "meetingID=j").await;
    assert_eq!(tag(&running, "running").as_deref(), Some("true"));
}

#[tokio::test]
async fn join_errors_and_the_xml_reply() {
    let server = start().await;
    call(
        &server,
        "create",
        "meetingID=j&moderatorPW=mp&attendeePW=ap",
    )
    .await;
    let cases = [
        (
            "meetingID=nope&fullName=A&password=mp",
            "invalidMeetingIdentifier",
        ),
        ("meetingID=j&fullName=A&password=wrong", "invalidPassword"),
        ("meetingID=j&fullName=A", "invalidPassword"),
        ("meetingID=j&password=mp", "missingParamFullName"),
        ("fullName=A&password=mp", "missingParamMeetingID"),
    ];
    for (query, key) in cases {
        let response = client()
            .get(signed_url(&server, "join", query))
            .send()
            .await
            .expect("join");
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        let body = response.text().await.expect("body");
        assert_eq!(returncode(&body), "FAILED", "{query}: {body}");
        assert_eq!(message_key(&body), key, "{query}");
    }
    assert_eq!(server.meeting("j").expect("meeting").participant_count, 0);

    let body = call(
        &server,
        "join",
        "meetingID=j&fullName=Eve&password=ap&redirect=false",
    )
    .await;
    assert_eq!(returncode(&body), "SUCCESS", "{body}");
    assert_eq!(message_key(&body), "successfullyJoined");
    let internal = server.meeting("j").expect("meeting").internal_meeting_id;
    assert_eq!(tag(&body, "meeting_id"), Some(internal));
    assert!(
        tag(&body, "url")
            .expect("url")
            .contains("/html5client/join?sessionToken=")
    );
    assert_eq!(server.meeting("j").expect("meeting").participant_count, 1);
}

#[tokio::test]
async fn get_meeting_info_shape_and_not_found() {
    let server = start().await;
    let body = call(&server, "getMeetingInfo", "meetingID=missing").await;
    assert_eq!(returncode(&body), "FAILED");
    assert_eq!(message_key(&body), "notFound");
    assert_eq!(
        tag(&body, "message").as_deref(),
        Some("We could not find a meeting with that meeting ID")
    );

    call(
        &server,
        "create",
        "meetingID=i&name=Info+%26+Co&meta_bbb-context=course+1",
    )
    .await;
    let body = call(&server, "getMeetingInfo", "meetingID=i").await;
    assert_eq!(returncode(&body), "SUCCESS");
    assert_eq!(tag(&body, "meetingName").as_deref(), Some("Info &amp; Co"));
    assert_eq!(tag(&body, "running").as_deref(), Some("false"));
    assert_eq!(tag(&body, "participantCount").as_deref(), Some("0"));
    assert_eq!(tag(&body, "isBreakout").as_deref(), Some("false"));
    assert_eq!(tag(&body, "attendees").as_deref(), Some(""));
    let metadata = tag(&body, "metadata").expect("metadata");
    assert_eq!(tag(&metadata, "bbb-context").as_deref(), Some("course 1"));
    // bbb-web's element order for the first fields.
    let order = [
        "meetingName",
        "meetingID",
        "internalMeetingID",
        "createTime",
        "createDate",
        "voiceBridge",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|t| body.find(&format!("<{t}>")).expect(t))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{body}");
    assert!(body.find("<moderatorCount>") < body.find("<attendees"));
    assert!(body.find("<metadata>") < body.find("<isBreakout>"));
}

#[tokio::test]
async fn get_meetings_reports_seeded_counts_breakouts_and_metadata() {
    let server = start().await;
    let body = call(&server, "getMeetings", "").await;
    assert_eq!(returncode(&body), "SUCCESS");
    assert_eq!(message_key(&body), "noMeetings");
    assert_eq!(tag(&body, "meetings").as_deref(), Some(""));

    server
        .seed_meeting(SeedMeeting {
            meeting_id: "big".into(),
            name: "Big".into(),
            participant_count: 12,
            moderator_count: 2,
            video_count: 5,
            create_time_ms: Some(1_700_000_000_000),
            metadata: vec![("tenant-id".into(), "t1".into())],
            ..SeedMeeting::default()
        })
        .expect("seed");
    let parent = server.meeting("big").expect("big").internal_meeting_id;
    server
        .seed_meeting(SeedMeeting {
            meeting_id: "breakout".into(),
            participant_count: 3,
            is_breakout: true,
            parent_meeting_id: Some(parent.clone()),
            ..SeedMeeting::default()
        })
        .expect("seed");
    server
        .seed_meeting(SeedMeeting {
            meeting_id: "idle".into(),
            ..SeedMeeting::default()
        })
        .expect("seed");

    let body = call(&server, "getMeetings", "").await;
    assert_eq!(message_key(&body), "");
    let meetings = blocks(&body, "meeting");
    assert_eq!(meetings.len(), 3, "{body}");
    let big = &meetings[0];
    assert_eq!(tag(big, "meetingID").as_deref(), Some("big"));
    assert_eq!(tag(big, "participantCount").as_deref(), Some("12"));
    assert_eq!(tag(big, "moderatorCount").as_deref(), Some("2"));
    assert_eq!(tag(big, "videoCount").as_deref(), Some("5"));
    assert_eq!(tag(big, "createTime").as_deref(), Some("1700000000000"));
    assert_eq!(tag(big, "isBreakout").as_deref(), Some("false"));
    assert_eq!(tag(big, "running").as_deref(), Some("true"));
    assert_eq!(
        tag(&tag(big, "metadata").expect("metadata"), "tenant-id").as_deref(),
        Some("t1")
    );
    assert_eq!(blocks(big, "attendee").len(), 12);
    assert!(
        tag(big, "breakoutRooms")
            .expect("breakoutRooms")
            .contains("<breakout>")
    );
    let breakout = &meetings[1];
    assert_eq!(tag(breakout, "isBreakout").as_deref(), Some("true"));
    assert_eq!(tag(breakout, "parentMeetingID"), Some(parent));
    assert_eq!(tag(breakout, "participantCount").as_deref(), Some("3"));
    assert_eq!(tag(&meetings[2], "running").as_deref(), Some("false"));

    // Replacing a seed changes the counts in place.
    server
        .seed_meeting(SeedMeeting {
            meeting_id: "big".into(),
            participant_count: 1,
            ..SeedMeeting::default()
        })
        .expect("seed");
    let body = call(&server, "getMeetings", "").await;
    let meetings = blocks(&body, "meeting");
    assert_eq!(meetings.len(), 3);
    assert_eq!(tag(&meetings[0], "participantCount").as_deref(), Some("1"));

    let invalid = SeedMeeting {
        meeting_id: "bad".into(),
        participant_count: 1,
        moderator_count: 2,
        ..SeedMeeting::default()
    };
    assert!(matches!(
        server.seed_meeting(invalid),
        Err(crate::FakeError::InvalidSeed(_))
    ));
}

#[tokio::test]
async fn is_meeting_running_follows_the_meeting() {
    let server = start().await;
    let running = |body: String| tag(&body, "running");
    assert_eq!(
        running(call(&server, "isMeetingRunning", "meetingID=x").await).as_deref(),
        Some("false")
    );
    call(&server, "create", "meetingID=x&moderatorPW=mp").await;
    assert_eq!(
        running(call(&server, "isMeetingRunning", "meetingID=x").await).as_deref(),
        Some("false")
    );
    server
        .seed_meeting(SeedMeeting {
            meeting_id: "s".into(),
            running: true,
            ..SeedMeeting::default()
        })
        .expect("seed");
    assert_eq!(
        running(call(&server, "isMeetingRunning", "meetingID=s").await).as_deref(),
        Some("true")
    );
    let body = call(&server, "isMeetingRunning", "").await;
    assert_eq!(message_key(&body), "missingParamMeetingID");
}

#[tokio::test]
async fn end_removes_the_meeting() {
    let server = start().await;
    call(&server, "create", "meetingID=e&moderatorPW=mp").await;
    call(&server, "create", "meetingID=f&moderatorPW=mp").await;

    let body = call(&server, "end", "meetingID=e&password=wrong").await;
    assert_eq!(message_key(&body), "invalidPassword");
    assert!(server.meeting("e").is_some());

    let body = call(&server, "end", "meetingID=e&password=mp").await;
    assert_eq!(returncode(&body), "SUCCESS", "{body}");
    assert_eq!(message_key(&body), "sentEndMeetingRequest");
    assert!(server.meeting("e").is_none());

    // Scalelite sends a bare `password` key when the client gave none; BBB 3.0 needs no password.
    let body = call(&server, "end", "meetingID=f&password").await;
    assert_eq!(message_key(&body), "sentEndMeetingRequest", "{body}");
    assert!(server.meetings().is_empty());

    let body = call(&server, "end", "meetingID=e").await;
    assert_eq!(returncode(&body), "FAILED");
    assert_eq!(message_key(&body), "notFound");
    let body = call(&server, "getMeetingInfo", "meetingID=e").await;
    assert_eq!(message_key(&body), "notFound");
}

#[tokio::test]
async fn insert_document_stores_the_body() {
    let server = start().await;
    let document = "<modules><module name=\"presentation\"><document url=\"https://x/b.pdf\"/></module></modules>";
    let post = |meeting: &str| {
        client()
            .post(signed_url(
                &server,
                "insertDocument",
                &format!("meetingID={meeting}"),
            ))
            .header("content-type", "application/xml")
            .body(document)
            .send()
    };
    let body = post("doc").await.expect("post").text().await.expect("body");
    assert_eq!(message_key(&body), "notFound", "{body}");

    call(&server, "create", "meetingID=doc").await;
    let body = post("doc").await.expect("post").text().await.expect("body");
    assert_eq!(returncode(&body), "SUCCESS", "{body}");
    assert_eq!(
        server.meeting("doc").expect("meeting").inserted_documents,
        vec![document.to_owned()]
    );
}

#[tokio::test]
async fn unknown_calls_are_unsupported() {
    let server = start().await;
    for call_name in ["getRecordings", "nope", "GETMEETINGS"] {
        let body = call(&server, call_name, "").await;
        assert_eq!(returncode(&body), "FAILED", "{call_name}");
        assert_eq!(message_key(&body), "unsupportedRequest", "{call_name}");
    }
    // Unsupported whatever the checksum.
    let (_, body) = get_text(&format!("{}foo?checksum=bad", server.url())).await;
    assert_eq!(message_key(&body), "unsupportedRequest");
}

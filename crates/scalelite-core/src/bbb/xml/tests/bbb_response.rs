use crate::bbb::xml::tests::fixture;
use crate::bbb::xml::{
    BbbResponse, BbbResponseError, Element, MeetingSummary, XmlError, bbb_version, for_summaries,
    for_version, meeting_elements, meeting_summaries, meetings, parse, running, write,
};

fn ok(body: &[u8]) -> Element {
    match BbbResponse::parse(body) {
        Ok(response) => response.root,
        Err(e) => panic!("expected SUCCESS, got {e:?}"),
    }
}

fn failed(message_key: Option<&str>, message: Option<&str>) -> BbbResponseError {
    BbbResponseError::Failed {
        message_key: message_key.map(str::to_owned),
        message: message.map(str::to_owned),
    }
}

#[test]
fn create_success() {
    let root = ok(fixture!("create_success.xml"));
    assert_eq!(root.child_text("meetingID").as_deref(), Some("room-42"));
    assert_eq!(root.child_text("voiceBridge").as_deref(), Some("71234"));
    assert_eq!(root.child_text("messageKey").as_deref(), Some(""));
}

#[test]
fn create_duplicate_warning_is_a_success() {
    let root = ok(fixture!("create_duplicate_warning.xml"));
    assert_eq!(
        root.child_text("messageKey").as_deref(),
        Some("duplicateWarning")
    );
    assert_eq!(
        root.child_text("message").as_deref(),
        Some("This conference was already in existence and may currently be in progress.")
    );
    assert!(root.child("attendeePW").is_none());
}

#[test]
fn get_meetings_with_two_meetings() {
    let root = ok(fixture!("get_meetings_two.xml"));
    let summaries = meeting_summaries(&root);
    assert_eq!(
        summaries,
        vec![
            MeetingSummary {
                meeting_id: "room-42".into(),
                meeting_name: "Physics & Chemistry 101".into(),
                internal_meeting_id: "5b9f3f0c1b4a2e7d8c6f9a0b1c2d3e4f5a6b7c8d-1761640370924"
                    .into(),
                participant_count: 3,
                moderator_count: 1,
                video_count: 1,
                create_time_ms: 1_761_640_370_924,
                is_breakout: false,
                running: true,
                tenant_id: Some("tenant-a".into()),
            },
            MeetingSummary {
                meeting_id: "0c6a2bd1e7f4c3a5b9d8e1f2a3b4c5d6e7f8a9b0-1761640400000".into(),
                meeting_name: "Physics & Chemistry 101 (Room 1)".into(),
                internal_meeting_id: "0c6a2bd1e7f4c3a5b9d8e1f2a3b4c5d6e7f8a9b0-1761640400000"
                    .into(),
                participant_count: 2,
                // No moderatorCount element.
                moderator_count: 0,
                video_count: 0,
                create_time_ms: 1_761_640_400_000,
                is_breakout: true,
                running: true,
                tenant_id: None,
            },
        ]
    );

    let elements = meeting_elements(&root);
    assert_eq!(elements.len(), 2);
    let from_elements: Vec<MeetingSummary> =
        elements.iter().map(MeetingSummary::from_element).collect();
    assert_eq!(from_elements, summaries);
    assert_eq!(
        elements[0]
            .find("attendees/attendee/fullName")
            .map(Element::text)
            .as_deref(),
        Some("Ada Lovelace")
    );
    assert_eq!(elements[0].find_all("attendees/attendee").len(), 3);
    assert_eq!(
        elements[0]
            .find("metadata/endcallbackurl")
            .map(Element::text)
            .as_deref(),
        Some("https://gl.example.org/meetings/end?id=42&token=abc")
    );

    // Aggregating keeps each meeting verbatim: it reads back the same.
    let aggregated = write(&meetings(elements.clone()));
    let reparsed = ok(aggregated.as_bytes());
    assert_eq!(meeting_elements(&reparsed), elements);
    assert_eq!(meeting_summaries(&reparsed), summaries);
}

#[test]
fn get_meetings_with_none() {
    let root = ok(fixture!("get_meetings_none.xml"));
    assert!(meeting_summaries(&root).is_empty());
    assert!(meeting_elements(&root).is_empty());
    assert_eq!(root.child_text("messageKey").as_deref(), Some("noMeetings"));
}

#[test]
fn summaries_tolerate_missing_and_odd_values() {
    let root = ok(b"<response><returncode> SUCCESS </returncode><meetings><meeting><participantCount> 7 \
        </participantCount><videoCount>lots</videoCount><isBreakout> true </isBreakout><metadata><tenant-id>  \
        </tenant-id></metadata></meeting></meetings></response>");
    assert_eq!(
        meeting_summaries(&root),
        vec![MeetingSummary {
            participant_count: 7,
            is_breakout: true,
            ..MeetingSummary::default()
        }]
    );
}

#[test]
fn get_meeting_info_is_proxied_whole() {
    let root = ok(fixture!("get_meeting_info.xml"));
    assert_eq!(
        root.child_text("meetingName").as_deref(),
        Some("Weekly sync")
    );
    assert_eq!(
        root.find("attendees/attendee/fullName")
            .map(Element::text)
            .as_deref(),
        Some("O'Brien <host>")
    );
    assert_eq!(
        root.find("metadata/note").map(Element::text).as_deref(),
        Some("<b>bold</b> & raw")
    );
    assert_eq!(running(&root), Some(true));
    // Re-serialised, it parses back to the same document.
    assert_eq!(parse(write(&root).as_bytes()), Ok(root));
}

#[test]
fn is_meeting_running() {
    assert_eq!(running(&ok(fixture!("is_meeting_running.xml"))), Some(true));
    assert_eq!(
        running(&ok(
            b"<response><returncode>SUCCESS</returncode><running>false</running></response>"
        )),
        Some(false)
    );
    assert_eq!(
        running(&ok(
            b"<response><returncode>SUCCESS</returncode></response>"
        )),
        None
    );
}

#[test]
fn end_success() {
    let root = ok(fixture!("end_success.xml"));
    assert_eq!(
        root.child_text("messageKey").as_deref(),
        Some("sentEndMeetingRequest")
    );
    assert!(
        root.child_text("message")
            .is_some_and(|m| m.contains("Please wait a few seconds"))
    );
}

#[test]
fn get_recordings_from_bbb() {
    let root = ok(fixture!("get_recordings.xml"));
    let formats: Vec<String> = root
        .find_all("recordings/recording/playback/format/type")
        .into_iter()
        .map(Element::text)
        .collect();
    assert_eq!(formats, ["presentation", "video"]);
    let images = root.find_all("recordings/recording/playback/format/preview/images/image");
    assert_eq!(images.len(), 2);
    assert_eq!(images[1].attribute("alt"), Some("Slide 2"));
}

#[test]
fn index_bbb_version() {
    let root = ok(fixture!("index_bbb3.xml"));
    assert_eq!(bbb_version(&root).as_deref(), Some("3.0.4"));
    assert_eq!(
        bbb_version(&ok(
            b"<response><returncode>SUCCESS</returncode><version>2.0</version></response>"
        )),
        None
    );
    assert_eq!(
        bbb_version(&ok(
            b"<response><returncode>SUCCESS</returncode><bbbVersion> </bbbVersion></response>"
        )),
        None
    );
}

#[test]
fn failed_with_checksum_error() {
    assert_eq!(
        BbbResponse::parse(fixture!("failed_checksum.xml")),
        Err(failed(
            Some("checksumError"),
            Some("You did not pass the checksum security check")
        ))
    );
}

#[test]
fn failed_without_message_key() {
    assert_eq!(
        BbbResponse::parse(fixture!("failed_without_message_key.xml")),
        Err(failed(None, Some("Something went wrong")))
    );
    assert_eq!(
        BbbResponse::parse(fixture!("failed_validation_errors.xml")),
        Err(failed(None, None))
    );
    assert_eq!(
        BbbResponse::parse(
            b"<response><returncode>FAILED</returncode><messageKey/><message></message></response>"
        ),
        Err(failed(Some(""), Some("")))
    );
    // Anything but SUCCESS is a failure.
    assert_eq!(
        BbbResponse::parse(b"<response><returncode>success</returncode></response>"),
        Err(failed(None, None))
    );
}

#[test]
fn missing_returncode() {
    for body in [
        &b"<response><version>2.0</version></response>"[..],
        b"<response/>",
        b"<other><returncode>SUCCESS</returncode></other>",
        b"<response><meetings><returncode>SUCCESS</returncode></meetings></response>",
    ] {
        assert_eq!(
            BbbResponse::parse(body),
            Err(BbbResponseError::MissingReturncode)
        );
    }
    assert_eq!(
        BbbResponseError::MissingReturncode.to_string(),
        "Response did not include returncode"
    );
}

#[test]
fn not_xml_is_malformed() {
    let cases: [(&[u8], XmlError); 6] = [
        (fixture!("html_500.html"), XmlError::Html),
        (fixture!("truncated_get_meetings.xml"), XmlError::Truncated),
        (b"", XmlError::Empty),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            XmlError::NotUtf8 { offset: 0 },
        ),
        (
            b"<response><returncode>SUCCESS</returncode><name>\xFF</name></response>",
            XmlError::NotUtf8 { offset: 48 },
        ),
        (b"garbage \x01\x02 bytes", XmlError::NotXml { position: 0 }),
    ];
    for (body, expected) in cases {
        assert_eq!(
            BbbResponse::parse(body),
            Err(BbbResponseError::Malformed(expected))
        );
    }
    let deep = "<response>".repeat(100);
    assert!(matches!(
        BbbResponse::parse(deep.as_bytes()),
        Err(BbbResponseError::Malformed(XmlError::TooDeep { .. }))
    ));
}

#[test]
fn failed_display_names_key_and_message() {
    assert_eq!(
        failed(Some("checksumError"), Some("bad")).to_string(),
        "BBB answered FAILED: checksumError (bad)"
    );
    assert_eq!(
        failed(None, None).to_string(),
        "BBB answered FAILED: <no messageKey> (<no message>)"
    );
}

#[test]
fn pruned_parse_reads_the_same_summaries_and_version() {
    for body in [
        fixture!("get_meetings_two.xml"),
        fixture!("get_meetings_none.xml"),
    ] {
        let whole = ok(body);
        let pruned = match BbbResponse::parse_pruned(body, for_summaries) {
            Ok(response) => response.root,
            Err(e) => panic!("expected SUCCESS, got {e:?}"),
        };
        assert_eq!(meeting_summaries(&pruned), meeting_summaries(&whole));
        // The attendees are not built.
        assert!(pruned.find("meetings/meeting/attendees").is_none());
    }
    let index = b"<response><returncode>SUCCESS</returncode><version>2.0</version>\
        <bbbVersion> 3.0.4 </bbbVersion><graphqlWebsocketUrl>wss://x</graphqlWebsocketUrl></response>";
    let pruned = BbbResponse::parse_pruned(index, for_version).map(|r| r.root);
    assert_eq!(
        pruned.as_ref().ok().and_then(bbb_version),
        Some("3.0.4".to_owned())
    );
    assert!(pruned.is_ok_and(|root| root.child("version").is_none()));
    // A failure is classified the same way, message and all.
    let failed_body =
        b"<response><returncode>FAILED</returncode><messageKey>checksumError</messageKey>\
        <message>Checksums do not match</message></response>";
    assert_eq!(
        BbbResponse::parse_pruned(failed_body, for_summaries),
        BbbResponse::parse(failed_body)
    );
    // A malformed answer fails the same way even inside a left-out element.
    let broken = b"<response><returncode>SUCCESS</returncode><meetings><meeting><attendees>\
        <attendee a='1' a='2'/></attendees></meeting></meetings></response>";
    assert_eq!(
        BbbResponse::parse_pruned(broken, for_summaries),
        BbbResponse::parse(broken)
    );
    assert!(BbbResponse::parse(broken).is_err());
}

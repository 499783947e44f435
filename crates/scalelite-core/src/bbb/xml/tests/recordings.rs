use chrono::DateTime;

use crate::bbb::xml::{Element, RecordingsXmlOptions, no_recordings, parse, recordings, write};
use crate::domain::{PlaybackFormat, Recording, Thumbnail};

const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const PREFIX: &str = "https://lb.example.com";
const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn thumbnail(alt: Option<&str>, url: &str, sequence: i32) -> Thumbnail {
    Thumbnail {
        width: Some(176),
        height: Some(136),
        alt: alt.map(str::to_owned),
        url: url.to_owned(),
        sequence,
    }
}

fn public_recording() -> Recording {
    Recording {
        record_id: "rec-1".into(),
        meeting_id: "room & 42".into(),
        name: Some("Physics & Chemistry".into()),
        published: true,
        participants: Some(3),
        state: Some("published".into()),
        starttime: DateTime::from_timestamp_millis(1_761_640_370_924),
        endtime: DateTime::from_timestamp_millis(1_761_643_970_924),
        deleted_at: None,
        protected: false,
        publish_updated: false,
        metadata: vec![
            ("bbb-origin".into(), "Greenlight".into()),
            ("gl-listed".into(), String::new()),
            ("note".into(), " \t\n".into()),
            ("bad key".into(), "dropped".into()),
            ("tenant-id".into(), "t1".into()),
            ("a&b".into(), "dropped".into()),
            ("1st".into(), "dropped".into()),
            ("ns:key".into(), "dropped".into()),
            ("name-ü".into(), "漢字 😀 <b>".into()),
        ],
        playback_formats: vec![
            PlaybackFormat {
                format: "podcast".into(),
                url: "/podcast/rec-1/audio.ogg".into(),
                length: Some(60),
                processing_time: None,
                thumbnails: vec![],
            },
            PlaybackFormat {
                format: "presentation".into(),
                url: "/playback/presentation/2.3/rec-1".into(),
                length: Some(61),
                processing_time: Some(7177),
                thumbnails: vec![
                    thumbnail(Some("Slide \"1\""), "/presentation/rec-1/thumb-1.png", 0),
                    thumbnail(None, "/presentation/rec-1/thumb-2.png", 1),
                ],
            },
        ],
    }
}

fn protected_recording() -> Recording {
    Recording {
        record_id: "rec-2".into(),
        meeting_id: "room-43".into(),
        name: None,
        published: false,
        participants: None,
        state: None,
        starttime: None,
        endtime: None,
        deleted_at: None,
        protected: true,
        publish_updated: true,
        metadata: vec![],
        playback_formats: vec![PlaybackFormat {
            format: "presentation".into(),
            url: "/playback/presentation/2.3/rec-2".into(),
            length: None,
            processing_time: Some(5),
            thumbnails: vec![thumbnail(
                Some("hidden"),
                "/presentation/rec-2/thumb-1.png",
                0,
            )],
        }],
    }
}

/// What the API does: the stored path for public recordings, a token URL for protected ones.
fn url_of(recording: &Recording, format: &PlaybackFormat) -> String {
    if recording.protected {
        format!(
            "{PREFIX}/recording/{}/{}?token={TOKEN}",
            recording.record_id, format.format
        )
    } else {
        format!("{PREFIX}{}", format.url)
    }
}

fn options(show_protected: bool) -> RecordingsXmlOptions {
    RecordingsXmlOptions {
        show_protected,
        url_prefix: PREFIX.into(),
    }
}

const PUBLIC_RECORDING_XML: &str = "<recording><recordID>rec-1</recordID><meetingID>room &amp; 42</meetingID>\
<internalMeetingID>rec-1</internalMeetingID><name>Physics &amp; Chemistry</name><published>true</published>\
<protected>false</protected><state>published</state><startTime>1761640370924</startTime>\
<endTime>1761643970924</endTime><participants>3</participants><metadata><bbb-origin>Greenlight</bbb-origin>\
<gl-listed><![CDATA[]]></gl-listed><note><![CDATA[]]></note><tenant-id>t1</tenant-id>\
<name-ü>漢字 😀 &lt;b&gt;</name-ü></metadata><playback><format><type>podcast</type>\
<url>https://lb.example.com/podcast/rec-1/audio.ogg</url><length>60</length></format><format>\
<type>presentation</type><url>https://lb.example.com/playback/presentation/2.3/rec-1</url><length>61</length>\
<processingTime>7177</processingTime><preview><images>\
<image alt=\"Slide &quot;1&quot;\" width=\"176\" height=\"136\">https://lb.example.com/presentation/rec-1/thumb-1.png</image>\
<image width=\"176\" height=\"136\">https://lb.example.com/presentation/rec-1/thumb-2.png</image>\
</images></preview></format></playback></recording>";

#[test]
fn recordings_snapshot_with_metadata_formats_thumbnails_and_protected() {
    let mut calls = Vec::new();
    let list = [public_recording(), protected_recording()];
    let element = recordings(&list, &options(true), |recording, format| {
        calls.push(format!("{}/{}", recording.record_id, format.format));
        url_of(recording, format)
    });
    let expected = format!(
        "{DECL}<response><returncode>SUCCESS</returncode><recordings>{PUBLIC_RECORDING_XML}\
<recording><recordID>rec-2</recordID><meetingID>room-43</meetingID><internalMeetingID>rec-2</internalMeetingID>\
<name/><published>false</published><protected>true</protected><startTime>0</startTime><endTime>0</endTime>\
<metadata/><playback><format><type>presentation</type>\
<url>https://lb.example.com/recording/rec-2/presentation?token={TOKEN}</url><length/>\
<processingTime>5</processingTime></format></playback></recording></recordings></response>"
    );
    let xml = write(&element);
    assert_eq!(xml, expected);
    assert_eq!(
        calls,
        ["rec-1/podcast", "rec-1/presentation", "rec-2/presentation"]
    );
    assert_eq!(parse(xml.as_bytes()), Ok(element));
}

#[test]
fn protected_element_only_when_enabled() {
    let xml = write(&recordings(&[public_recording()], &options(false), url_of));
    let expected = PUBLIC_RECORDING_XML.replace("<protected>false</protected>", "");
    assert_eq!(
        xml,
        format!(
            "{DECL}<response><returncode>SUCCESS</returncode><recordings>{expected}</recordings></response>"
        )
    );

    // A protected recording still hides its previews when the flag is off.
    let xml = write(&recordings(
        &[protected_recording()],
        &options(false),
        url_of,
    ));
    assert!(!xml.contains("<protected>"), "{xml}");
    assert!(!xml.contains("<preview>"), "{xml}");
    assert!(!xml.contains("hidden"), "{xml}");
}

#[test]
fn deleted_recording_has_empty_metadata_and_playback() {
    let recording = Recording {
        state: Some("deleted".into()),
        metadata: vec![],
        playback_formats: vec![],
        ..public_recording()
    };
    let xml = write(&recordings(&[recording], &options(false), url_of));
    assert!(
        xml.ends_with("<state>deleted</state><startTime>1761640370924</startTime><endTime>1761643970924</endTime>\
<participants>3</participants><metadata/><playback/></recording></recordings></response>"),
        "{xml}"
    );
}

#[test]
fn no_recordings_snapshot() {
    let expected = format!(
        "{DECL}<response><returncode>SUCCESS</returncode><recordings/><messageKey>noRecordings</messageKey>\
<message>There are not recordings for the meetings</message></response>"
    );
    assert_eq!(write(&no_recordings()), expected);
    let empty = recordings(&[], &options(true), |_, _| -> String {
        unreachable!("no format to link")
    });
    assert_eq!(write(&empty), expected);
    assert_eq!(parse(expected.as_bytes()), Ok(no_recordings()));
}

#[test]
fn metadata_order_is_kept_and_values_read_back() {
    let element = recordings(&[public_recording()], &options(false), url_of);
    let metadata = element
        .find("recordings/recording/metadata")
        .expect("metadata");
    let entries: Vec<(&str, String)> = metadata
        .elements()
        .map(|e| (e.name.as_str(), e.text()))
        .collect();
    assert_eq!(
        entries,
        [
            ("bbb-origin", "Greenlight".to_owned()),
            ("gl-listed", String::new()),
            ("note", String::new()),
            ("tenant-id", "t1".to_owned()),
            ("name-ü", "漢字 😀 <b>".to_owned()),
        ]
    );
    assert_eq!(
        metadata.child("gl-listed"),
        Some(&Element::new("gl-listed").with_cdata(""))
    );
}

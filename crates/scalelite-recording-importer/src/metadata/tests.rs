use chrono::{DateTime, TimeZone, Utc};
use scalelite_core::domain::{PlaybackFormat, Recording, Thumbnail};

use crate::metadata::{
    FormatMetadata, MetadataError, PublishPolicy, merge_recording, parse_metadata, path_and_query,
};

const PRESENTATION: &[u8] =
    include_bytes!("../../../scalelite-core/tests/fixtures/xml/presentation_metadata.xml");
const RID: &str = "ffbfc4cc24428694e8b53a4e144f414052431693-1761640370924";

fn ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap()
}

#[test]
fn reads_every_field_of_a_presentation() {
    let m = parse_metadata(PRESENTATION).unwrap();
    assert_eq!(m.record_id, RID);
    assert_eq!(m.meeting_id, "room-42");
    assert_eq!(m.name.as_deref(), Some("Physics & Chemistry 101"));
    assert_eq!(m.published, Some(true));
    assert_eq!(m.participants, Some(3));
    assert_eq!(m.state.as_deref(), Some("published"));
    assert_eq!(m.starttime, Some(ms(1_761_640_370_924)));
    assert_eq!(m.endtime, Some(ms(1_761_643_970_924)));
    // isBreakout, meetingId and meetingName are not metadata rows; the others are, in document order.
    assert_eq!(
        m.metadata,
        vec![
            ("tenant-id".to_owned(), "tenant-a".to_owned()),
            ("gl-listed".to_owned(), "true".to_owned()),
        ]
    );
    assert_eq!(
        m.playback,
        PlaybackFormat {
            format: "presentation".into(),
            url: format!("/playback/presentation/2.3/{RID}"),
            length: Some(60),
            processing_time: None,
            thumbnails: vec![Thumbnail {
                width: Some(176),
                height: Some(136),
                alt: Some("Welcome to BigBlueButton".into()),
                url: format!(
                    "/presentation/{RID}/presentation/d2d9a672040fbde2a47a10bf6c37b6a4b5ae187f-1761640370932/thumbnails/thumb-1.png"
                ),
                sequence: 0,
            }],
        }
    );
}

fn doc(body: &str) -> Vec<u8> {
    format!("<?xml version=\"1.0\"?><recording>{body}</recording>").into_bytes()
}

const MINIMAL_META: &str = "<meta><meetingId>m-1</meetingId><meetingName>One</meetingName></meta>";

#[test]
fn the_original_spec_minimal_document_is_enough() {
    let m = parse_metadata(&doc(&format!(
        "<id>r-1</id><state>published</state><published>true</published>{MINIMAL_META}\
         <playback><format>video</format><link>https://example.com/playback/video/2.3/r-1</link></playback>"
    )))
    .unwrap();
    assert_eq!(m.record_id, "r-1");
    assert_eq!(m.meeting_id, "m-1");
    assert_eq!(m.participants, None);
    assert_eq!(m.starttime, None);
    assert!(m.metadata.is_empty());
    assert_eq!(m.playback.url, "/playback/video/2.3/r-1");
    assert_eq!(m.playback.length, None);
    assert!(m.playback.thumbnails.is_empty());
}

#[test]
fn available_is_published_and_unknown_states_are_refused() {
    let with_state = |state: &str| {
        parse_metadata(&doc(&format!(
            "<id>r</id><state>{state}</state>{MINIMAL_META}<playback><format>video</format>\
             <link>https://h/playback/video/r/</link></playback>"
        )))
    };
    assert_eq!(
        with_state("available").unwrap().state.as_deref(),
        Some("published")
    );
    assert_eq!(
        with_state("unpublished").unwrap().state.as_deref(),
        Some("unpublished")
    );
    assert_eq!(
        with_state("processed").unwrap().state.as_deref(),
        Some("processed")
    );
    assert!(matches!(
        with_state("exploded"),
        Err(MetadataError::Invalid { field: "state", .. })
    ));
}

#[test]
fn published_is_true_only_for_true_and_absent_when_missing() {
    let with = |published: &str| {
        parse_metadata(&doc(&format!(
            "<id>r</id>{published}{MINIMAL_META}<playback><format>f</format><link>/x</link></playback>"
        )))
        .unwrap()
        .published
    };
    assert_eq!(with("<published>true</published>"), Some(true));
    assert_eq!(with("<published>false</published>"), Some(false));
    assert_eq!(with("<published>yes</published>"), Some(false));
    assert_eq!(with(""), None);
}

#[test]
fn link_is_reduced_to_path_and_query() {
    assert_eq!(
        path_and_query(
            "https://bbb.example.com/playback/presentation/2.0/playback.html?meetingId=abc#t=1"
        )
        .as_deref(),
        Some("/playback/presentation/2.0/playback.html?meetingId=abc")
    );
    assert_eq!(
        path_and_query("https://h:8443/podcast/r/audio.ogg").as_deref(),
        Some("/podcast/r/audio.ogg")
    );
    assert_eq!(
        path_and_query("/video/r/?a=b").as_deref(),
        Some("/video/r/?a=b")
    );
    assert_eq!(path_and_query("https://h").as_deref(), Some("/"));
    assert_eq!(path_and_query("relative/path"), None);
    assert_eq!(path_and_query("mailto:a@b"), None);
    assert_eq!(path_and_query("//h/x"), None);
}

#[test]
fn required_elements_are_checked() {
    let cases = [
        (
            format!("{MINIMAL_META}<playback><format>f</format><link>/x</link></playback>"),
            MetadataError::Missing("id"),
        ),
        (
            "<id>r</id><meta><meetingName>n</meetingName></meta><playback><format>f</format><link>/x</link></playback>"
                .to_owned(),
            MetadataError::Missing("meta/meetingId"),
        ),
        (
            format!("<id>r</id>{MINIMAL_META}"),
            MetadataError::Missing("playback"),
        ),
        (
            format!("<id>r</id>{MINIMAL_META}<playback><link>/x</link></playback>"),
            MetadataError::Missing("playback/format"),
        ),
        (
            format!("<id>r</id>{MINIMAL_META}<playback><format>f</format></playback>"),
            MetadataError::Missing("playback/link"),
        ),
        (
            format!("<id>r</id>{MINIMAL_META}<playback><format>f</format><link>  </link></playback>"),
            MetadataError::Missing("playback/link"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(parse_metadata(&doc(&body)).unwrap_err(), expected, "{body}");
    }
    assert!(matches!(
        parse_metadata(b"<recording><id>r</id>"),
        Err(MetadataError::Xml(_))
    ));
    assert_eq!(
        parse_metadata(b"<response/>").unwrap_err(),
        MetadataError::WrongRoot("response".into())
    );
}

#[test]
fn numbers_and_times_must_be_numbers() {
    let with = |extra: &str| {
        parse_metadata(&doc(&format!(
            "<id>r</id>{extra}{MINIMAL_META}<playback><format>f</format><link>/x</link></playback>"
        )))
    };
    assert!(matches!(
        with("<participants>many</participants>"),
        Err(MetadataError::Invalid {
            field: "participants",
            ..
        })
    ));
    assert!(matches!(
        with("<start_time>yesterday</start_time>"),
        Err(MetadataError::Invalid {
            field: "start_time",
            ..
        })
    ));
    assert!(matches!(
        with("<end_time>1.5</end_time>"),
        Err(MetadataError::Invalid {
            field: "end_time",
            ..
        })
    ));
    assert_eq!(
        with("<participants> 7 </participants>")
            .unwrap()
            .participants,
        Some(7)
    );
}

#[test]
fn duration_is_rounded_to_minutes() {
    let length = |ms: &str| {
        parse_metadata(&doc(&format!(
            "<id>r</id>{MINIMAL_META}<playback><format>f</format><link>/x</link><duration>{ms}</duration></playback>"
        )))
        .unwrap()
        .playback
        .length
    };
    assert_eq!(length("0"), Some(0));
    assert_eq!(length("29999"), Some(0));
    assert_eq!(length("30000"), Some(1));
    assert_eq!(length("89999"), Some(1));
    assert_eq!(length("90000"), Some(2));
    assert_eq!(length("3600000"), Some(60));
    assert_eq!(length("n/a"), None);
}

#[test]
fn unicode_meta_and_many_thumbnails() {
    let mut images = String::new();
    for n in 0..50 {
        images.push_str(&format!(
            "<image width=\"{w}\" height=\"x\" alt=\"Folie {n} – Größe\"> https://h/p/thumb-{n}.png?v=1 </image>",
            w = 100 + n
        ));
    }
    // One image without a usable URL is left out; the sequence still counts it.
    images.push_str("<image width=\"1\" height=\"1\">not a url</image>");
    let m = parse_metadata(&doc(&format!(
        "<id>r</id><meta><meetingId>raum-ü</meetingId><meetingName>Vorlesung „Ä“ 🎓</meetingName>\
         <bbb-context>Kurs &amp; Übung</bbb-context><名前>値</名前><gl-listed><![CDATA[tr]]>ue</gl-listed></meta>\
         <playback><format>presentation</format><link>https://h/playback/presentation/2.3/r</link>\
         <extensions><preview><images>{images}</images></preview></extensions></playback>"
    )))
    .unwrap();
    assert_eq!(m.meeting_id, "raum-ü");
    assert_eq!(m.name.as_deref(), Some("Vorlesung „Ä“ 🎓"));
    assert_eq!(
        m.metadata,
        vec![
            ("bbb-context".to_owned(), "Kurs & Übung".to_owned()),
            ("名前".to_owned(), "値".to_owned()),
            ("gl-listed".to_owned(), "true".to_owned()),
        ]
    );
    assert_eq!(m.playback.thumbnails.len(), 50);
    for (n, thumbnail) in m.playback.thumbnails.iter().enumerate() {
        assert_eq!(thumbnail.sequence, n as i32);
        assert_eq!(thumbnail.url, format!("/p/thumb-{n}.png"));
        assert_eq!(thumbnail.width, Some(100 + n as i32));
        assert_eq!(thumbnail.height, None);
        assert_eq!(
            thumbnail.alt.as_deref(),
            Some(format!("Folie {n} – Größe").as_str())
        );
    }
}

#[test]
fn element_order_does_not_matter_and_repeated_meta_keys_keep_the_last_value() {
    let m = parse_metadata(&doc(
        "<playback><duration>60000</duration><link>/l</link><format>notes</format></playback>\
         <meta><k>1</k><meetingId>m</meetingId><k>2</k></meta><id> r </id>",
    ))
    .unwrap();
    assert_eq!(m.record_id, "r");
    assert_eq!(m.playback.format, "notes");
    assert_eq!(m.playback.length, Some(1));
    assert_eq!(m.metadata, vec![("k".to_owned(), "2".to_owned())]);
}

fn format(name: &str, published: Option<bool>, state: Option<&str>) -> FormatMetadata {
    FormatMetadata {
        record_id: "r".into(),
        meeting_id: "m".into(),
        name: Some(format!("name from {name}")),
        published,
        participants: Some(4),
        state: state.map(str::to_owned),
        starttime: Some(ms(1_000)),
        endtime: Some(ms(2_000)),
        metadata: vec![
            ("shared".into(), format!("from {name}")),
            (format!("only-{name}"), "x".into()),
        ],
        playback: PlaybackFormat {
            format: name.into(),
            url: format!("/{name}/r"),
            length: Some(3),
            processing_time: None,
            thumbnails: Vec::new(),
        },
    }
}

fn stored(published: bool, publish_updated: bool, state: &str) -> Recording {
    Recording {
        record_id: "r".into(),
        meeting_id: "old-m".into(),
        name: Some("old".into()),
        published,
        participants: Some(9),
        state: Some(state.into()),
        starttime: Some(ms(5)),
        endtime: None,
        deleted_at: Some(ms(77)),
        protected: true,
        publish_updated,
        metadata: vec![("old-key".into(), "v".into())],
        playback_formats: Vec::new(),
    }
}

#[test]
fn formats_merge_in_order_onto_a_new_recording() {
    let video = format("video", Some(true), Some("published"));
    let mut presentation = format("presentation", None, Some("published"));
    presentation.participants = None;
    let merged = merge_recording(&[&presentation, &video], None, PublishPolicy::default());
    assert_eq!(merged.record_id, "r");
    assert_eq!(merged.meeting_id, "m");
    assert_eq!(merged.name.as_deref(), Some("name from video"));
    assert!(merged.published);
    assert_eq!(merged.participants, Some(4));
    assert_eq!(merged.state.as_deref(), Some("published"));
    assert!(!merged.protected && !merged.publish_updated);
    assert_eq!(merged.deleted_at, None);
    assert_eq!(
        merged.metadata,
        vec![
            ("shared".to_owned(), "from video".to_owned()),
            ("only-presentation".to_owned(), "x".to_owned()),
            ("only-video".to_owned(), "x".to_owned()),
        ]
    );
    let names: Vec<_> = merged
        .playback_formats
        .iter()
        .map(|f| f.format.as_str())
        .collect();
    assert_eq!(names, ["presentation", "video"]);
}

#[test]
fn a_new_recording_without_published_is_unpublished() {
    let merged = merge_recording(
        &[&format("podcast", None, None)],
        None,
        PublishPolicy::default(),
    );
    assert!(!merged.published);
}

#[test]
fn reimport_overwrites_from_xml_but_keeps_what_the_xml_does_not_say() {
    let mut xml = format("presentation", Some(true), Some("published"));
    xml.endtime = None;
    xml.name = None;
    let merged = merge_recording(
        &[&xml],
        Some(&stored(false, false, "deleted")),
        PublishPolicy::default(),
    );
    assert!(merged.published, "the XML decides without publish_updated");
    assert_eq!(
        merged.state.as_deref(),
        Some("published"),
        "a deleted recording comes back"
    );
    assert_eq!(merged.meeting_id, "m");
    assert_eq!(merged.name.as_deref(), Some("old"));
    assert_eq!(merged.endtime, None);
    assert_eq!(merged.starttime, Some(ms(1_000)));
    assert_eq!(merged.deleted_at, Some(ms(77)));
    assert!(!merged.protected, "protected follows the current setting");
    // Stored metadata is not passed again: the store's upsert keeps keys the XML does not have.
    assert!(!merged.metadata.iter().any(|(k, _)| k == "old-key"));
}

#[test]
fn publish_updated_keeps_the_stored_flag_and_state() {
    let xml = format("presentation", Some(true), Some("published"));
    let unpublished_by_api = stored(false, true, "unpublished");
    let merged = merge_recording(&[&xml], Some(&unpublished_by_api), PublishPolicy::default());
    assert!(!merged.published);
    assert!(merged.publish_updated);
    assert_eq!(merged.state.as_deref(), Some("unpublished"));

    let published_by_api = stored(true, true, "published");
    let merged = merge_recording(
        &[&format("presentation", Some(false), Some("unpublished"))],
        Some(&published_by_api),
        PublishPolicy {
            import_unpublished: true,
            protected: true,
        },
    );
    assert!(
        merged.published,
        "publish_updated wins over RECORDING_IMPORT_UNPUBLISHED too"
    );
    assert_eq!(merged.state.as_deref(), Some("published"));
    assert!(merged.protected);

    // A state other than published/unpublished is the XML's.
    let merged = merge_recording(
        &[&format("presentation", Some(true), Some("processed"))],
        Some(&stored(false, true, "unpublished")),
        PublishPolicy::default(),
    );
    assert_eq!(merged.state.as_deref(), Some("processed"));
    assert!(!merged.published);
}

#[test]
fn import_unpublished_and_protected_policies() {
    let xml = format("presentation", Some(true), Some("published"));
    let policy = PublishPolicy {
        import_unpublished: true,
        protected: true,
    };
    let merged = merge_recording(&[&xml], None, policy);
    assert!(!merged.published);
    assert!(merged.protected);
    assert_eq!(
        merged.state.as_deref(),
        Some("published"),
        "the original leaves the state alone"
    );
    let merged = merge_recording(&[&xml], Some(&stored(true, false, "published")), policy);
    assert!(!merged.published);
}

//! RecordingStore: upserts, every RecordingFilter field, updates and callback data
//! (`docs/compatibility.md#data-postgres`, `docs/compatibility.md#api-recordings`).

use chrono::{DateTime, Utc};
use scalelite_core::domain::{CallbackData, PlaybackFormat, Recording, RecordingFilter, Thumbnail};
use scalelite_core::storage::CallbackUrlsMark;

use crate::contract::{Store, assert_not_found};

/// 2024-05-01T10:00:00.123Z plus `offset_s` seconds: millisecond precision must survive the round trip.
fn at(offset_s: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(1_714_557_600_123 + offset_s * 1000)
}

fn recording(record_id: &str, meeting_id: &str, state: Option<&str>, start: i64) -> Recording {
    Recording {
        record_id: record_id.to_owned(),
        meeting_id: meeting_id.to_owned(),
        name: Some(format!("Recording {record_id}")),
        published: state == Some("published"),
        participants: Some(3),
        state: state.map(str::to_owned),
        starttime: at(start),
        endtime: at(start + 600),
        deleted_at: None,
        protected: false,
        publish_updated: false,
        metadata: Vec::new(),
        playback_formats: Vec::new(),
    }
}

fn thumbnail(sequence: i32) -> Thumbnail {
    Thumbnail {
        width: Some(176),
        height: Some(136),
        alt: Some(format!("slide {sequence}")),
        url: format!("/presentation/r/presentation/thumbnails/thumb-{sequence}.png"),
        sequence,
    }
}

fn format(name: &str, record_id: &str, thumbnails: Vec<Thumbnail>) -> PlaybackFormat {
    PlaybackFormat {
        format: name.to_owned(),
        url: format!("/playback/{name}/2.3/{record_id}"),
        length: Some(42),
        processing_time: Some(1234),
        thumbnails,
    }
}

fn meta(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

pub async fn recordings_upsert_get<S: Store>(s: &S) {
    let input = Recording {
        metadata: meta(&[
            ("meetingName", "Maths"),
            ("gl-listed", "true"),
            ("tenant-id", "T1"),
        ]),
        playback_formats: vec![
            // Given out of order: formats come back by name, thumbnails by sequence.
            format(
                "presentation",
                "r1",
                vec![thumbnail(2), thumbnail(1), thumbnail(3)],
            ),
            format("podcast", "r1", Vec::new()),
        ],
        deleted_at: at(5),
        protected: true,
        publish_updated: true,
        participants: None,
        ..recording("r1", "m1", Some("published"), 0)
    };
    let expected = Recording {
        playback_formats: vec![
            format("podcast", "r1", Vec::new()),
            format(
                "presentation",
                "r1",
                vec![thumbnail(1), thumbnail(2), thumbnail(3)],
            ),
        ],
        ..input.clone()
    };
    assert_eq!(s.upsert_recording(input).await.unwrap(), expected);
    assert_eq!(s.get_recording("r1").await.unwrap(), expected);
    assert_not_found(s.get_recording("R1").await);
    assert_not_found(s.get_recording("nope").await);

    // Upsert again: row replaced, metadata upserted by key (others kept), formats upserted by format (others kept,
    // thumbnails of an upserted format replaced).
    let update = Recording {
        name: Some("Renamed".to_owned()),
        published: false,
        state: Some("unpublished".to_owned()),
        participants: Some(7),
        protected: false,
        metadata: meta(&[("gl-listed", "false"), ("new-key", "v")]),
        playback_formats: vec![
            PlaybackFormat {
                url: "/playback/presentation/2.4/r1".to_owned(),
                length: Some(43),
                ..format("presentation", "r1", vec![thumbnail(9)])
            },
            format("video", "r1", Vec::new()),
        ],
        ..recording("r1", "m1", Some("unpublished"), 1)
    };
    let stored = s.upsert_recording(update.clone()).await.unwrap();
    let expected = Recording {
        metadata: meta(&[
            ("meetingName", "Maths"),
            ("gl-listed", "false"),
            ("tenant-id", "T1"),
            ("new-key", "v"),
        ]),
        playback_formats: vec![
            format("podcast", "r1", Vec::new()),
            PlaybackFormat {
                url: "/playback/presentation/2.4/r1".to_owned(),
                length: Some(43),
                ..format("presentation", "r1", vec![thumbnail(9)])
            },
            format("video", "r1", Vec::new()),
        ],
        // The first write had `publish_updated`: the stored flag wins and is never reset by an upsert.
        published: true,
        state: Some("published".to_owned()),
        publish_updated: true,
        ..update
    };
    assert_eq!(stored, expected);
    assert_eq!(s.get_recording("r1").await.unwrap(), expected);

    // A minimal recording: every optional field empty.
    let bare = Recording {
        name: None,
        participants: None,
        state: None,
        starttime: None,
        endtime: None,
        ..recording("r2", "m2", None, 0)
    };
    assert_eq!(s.upsert_recording(bare.clone()).await.unwrap(), bare);
    assert_eq!(s.get_recording("r2").await.unwrap(), bare);
}

/// The fixture of `recordings_find_filters`, newest first: r7, r6, r5, r4, r3, r2, r1, r8.
async fn fixture<S: Store>(s: &S) {
    let rows = [
        recording("abc-1", "m1", Some("published"), 1),
        recording("abc-2", "m1", Some("unpublished"), 2),
        recording("abd-3", "m2", Some("deleted"), 3),
        recording("ABC-4", "m3", Some("published"), 4),
        recording("a%c-5", "m4", Some("published"), 5),
        recording("a_c-6", "m4", Some("published"), 6),
        recording("a*c[7]?", "m5", Some("processing"), 7),
        recording("zz-8", "m6", None, 0),
    ];
    let metadata = [
        meta(&[("bbb-context-name", "test1")]),
        meta(&[("bbb-origin-tag", "GL"), ("tenant-id", "T1")]),
        meta(&[("bbb-origin-tag", "GL"), ("tenant-id", "T2")]),
        meta(&[("tenant-id", "T1"), ("Bbb-Origin-Tag", "GL")]),
        Vec::new(),
        Vec::new(),
        meta(&[("bbb-origin-tag", "gl")]),
        meta(&[("bbb-context-name", "test2")]),
    ];
    for (row, metadata) in rows.into_iter().zip(metadata) {
        s.upsert_recording(Recording { metadata, ..row })
            .await
            .unwrap();
    }
}

async fn found<S: Store>(s: &S, filter: RecordingFilter) -> Vec<String> {
    s.find_recordings(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.record_id)
        .collect()
}

pub async fn recordings_find_filters<S: Store>(s: &S) {
    fixture(s).await;
    let all = [
        "a*c[7]?", "a_c-6", "a%c-5", "ABC-4", "abd-3", "abc-2", "abc-1", "zz-8",
    ];
    assert_eq!(found(s, RecordingFilter::default()).await, all);

    let by_meeting = |ids: &[&str]| RecordingFilter {
        meeting_ids: Some(strings(ids)),
        ..RecordingFilter::default()
    };
    assert_eq!(
        found(s, by_meeting(&["m1", "m2"])).await,
        ["abd-3", "abc-2", "abc-1"]
    );
    assert_eq!(found(s, by_meeting(&["M1"])).await, Vec::<String>::new());
    assert_eq!(found(s, by_meeting(&[])).await, Vec::<String>::new());

    // Prefixes: case-sensitive, ORed, with LIKE/GLOB wildcards taken literally.
    let by_prefix = |prefixes: &[&str]| RecordingFilter {
        record_id_prefixes: Some(strings(prefixes)),
        ..RecordingFilter::default()
    };
    let cases: &[(&[&str], &[&str])] = &[
        (&["abc"], &["abc-2", "abc-1"]),
        (&["ABC"], &["ABC-4"]),
        (&["abc-1", "abd"], &["abd-3", "abc-1"]),
        (&["a%"], &["a%c-5"]),
        (&["a_"], &["a_c-6"]),
        (&["a*"], &["a*c[7]?"]),
        (&["a*c[7]?"], &["a*c[7]?"]),
        (&["a?"], &[]),
        (&["a["], &[]),
        (&["a|"], &[]),
        (&["abc-1x"], &[]),
        (&[""], &all),
        (&[], &[]),
    ];
    for (prefixes, expected) in cases {
        assert_eq!(
            found(s, by_prefix(prefixes)).await,
            *expected,
            "prefixes {prefixes:?}"
        );
    }

    let by_id = |ids: &[&str]| RecordingFilter {
        record_ids: Some(strings(ids)),
        ..RecordingFilter::default()
    };
    assert_eq!(
        found(s, by_id(&["zz-8", "abc-1", "nope"])).await,
        ["abc-1", "zz-8"]
    );
    assert_eq!(found(s, by_id(&["abc"])).await, Vec::<String>::new());
    assert_eq!(found(s, by_id(&["a%c-5"])).await, ["a%c-5"]);
    assert_eq!(found(s, by_id(&[])).await, Vec::<String>::new());

    let by_state = |states: &[&str]| RecordingFilter {
        states: Some(strings(states)),
        ..RecordingFilter::default()
    };
    assert_eq!(
        found(s, by_state(&["published", "unpublished"])).await,
        ["a_c-6", "a%c-5", "ABC-4", "abc-2", "abc-1"]
    );
    assert_eq!(found(s, by_state(&["deleted"])).await, ["abd-3"]);
    assert_eq!(found(s, by_state(&[])).await, Vec::<String>::new());

    // Metadata: any row equal to any pair (OR across keys and values); keys and values case-sensitive.
    let by_meta = |pairs: &[(&str, &str)]| RecordingFilter {
        metadata_any: Some(meta(pairs)),
        ..RecordingFilter::default()
    };
    assert_eq!(
        found(
            s,
            by_meta(&[
                ("bbb-context-name", "test1"),
                ("bbb-context-name", "test2"),
                ("bbb-origin-tag", "GL"),
            ])
        )
        .await,
        ["abd-3", "abc-2", "abc-1", "zz-8"]
    );
    assert_eq!(
        found(
            s,
            by_meta(&[("bbb-context-name", "test12"), ("bbb-origin-tag", "GL1")])
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(s, by_meta(&[("bbb-origin-tag", "gl")])).await,
        ["a*c[7]?"]
    );
    assert_eq!(found(s, by_meta(&[])).await, Vec::<String>::new());

    // The tenant condition is independent of the metadata condition.
    let tenant = |t: &str| RecordingFilter {
        tenant_id: Some(t.to_owned()),
        ..RecordingFilter::default()
    };
    assert_eq!(found(s, tenant("T1")).await, ["ABC-4", "abc-2"]);
    assert_eq!(found(s, tenant("T3")).await, Vec::<String>::new());
    assert_eq!(
        found(
            s,
            RecordingFilter {
                metadata_any: Some(meta(&[("bbb-origin-tag", "GL")])),
                ..tenant("T1")
            }
        )
        .await,
        ["abc-2"]
    );

    // Everything ANDed.
    let combined = RecordingFilter {
        meeting_ids: Some(strings(&["m1", "m2", "m3"])),
        record_id_prefixes: Some(strings(&["abc", "abd", "ABC"])),
        states: Some(strings(&["published", "unpublished"])),
        metadata_any: Some(meta(&[
            ("bbb-origin-tag", "GL"),
            ("bbb-context-name", "test1"),
        ])),
        tenant_id: Some("T1".to_owned()),
        ..RecordingFilter::default()
    };
    assert_eq!(found(s, combined).await, ["abc-2"]);

    // Results carry their metadata and formats.
    let r2 = s.find_recordings(&by_id(&["abc-2"])).await.unwrap();
    assert_eq!(r2.len(), 1);
    assert_eq!(
        r2[0].metadata,
        meta(&[("bbb-origin-tag", "GL"), ("tenant-id", "T1")])
    );
    assert_eq!(r2[0].starttime, at(2));
}

pub async fn recordings_find_pagination<S: Store>(s: &S) {
    fixture(s).await;
    let page = |offset: Option<u64>, limit: Option<u64>| RecordingFilter {
        offset,
        limit,
        ..RecordingFilter::default()
    };
    assert_eq!(
        found(s, page(Some(1), Some(3))).await,
        ["a_c-6", "a%c-5", "ABC-4"]
    );
    assert_eq!(found(s, page(None, Some(2))).await, ["a*c[7]?", "a_c-6"]);
    assert_eq!(found(s, page(Some(6), None)).await, ["abc-1", "zz-8"]);
    assert_eq!(found(s, page(Some(0), Some(0))).await, Vec::<String>::new());
    assert_eq!(
        found(s, page(Some(100), Some(10))).await,
        Vec::<String>::new()
    );
    // Pagination applies after filtering.
    let filtered = RecordingFilter {
        states: Some(strings(&["published"])),
        offset: Some(1),
        limit: Some(2),
        ..RecordingFilter::default()
    };
    assert_eq!(found(s, filtered).await, ["a%c-5", "ABC-4"]);
    // Every recording appears on exactly one page.
    let mut pages = Vec::new();
    for offset in (0..9).step_by(3) {
        pages.extend(found(s, page(Some(offset), Some(3))).await);
    }
    assert_eq!(found(s, RecordingFilter::default()).await, pages);
}

fn sorted_meta(recording: &Recording) -> Vec<(String, String)> {
    let mut metadata = recording.metadata.clone();
    metadata.sort();
    metadata
}

pub async fn recordings_updates<S: Store>(s: &S) {
    s.upsert_recording(Recording {
        metadata: meta(&[("gl-listed", "true"), ("old", "x"), ("keep", "k")]),
        ..recording("r1", "m1", Some("published"), 1)
    })
    .await
    .unwrap();
    s.upsert_recording(recording("r2", "m1", Some("published"), 2))
        .await
        .unwrap();
    s.upsert_recording(Recording {
        metadata: meta(&[("old", "y")]),
        ..recording("r3", "m1", Some("published"), 3)
    })
    .await
    .unwrap();

    s.set_published("r1", false).await.unwrap();
    let r1 = s.get_recording("r1").await.unwrap();
    assert!(!r1.published);
    assert!(r1.publish_updated);
    assert_eq!(r1.state.as_deref(), Some("unpublished"));
    s.set_published("r1", true).await.unwrap();
    let r1 = s.get_recording("r1").await.unwrap();
    assert!(r1.published);
    assert_eq!(r1.state.as_deref(), Some("published"));
    assert!(!s.get_recording("r2").await.unwrap().publish_updated);

    s.set_protected("r2", true).await.unwrap();
    assert!(s.get_recording("r2").await.unwrap().protected);
    assert!(!s.get_recording("r1").await.unwrap().protected);
    s.set_protected("r2", false).await.unwrap();
    assert!(!s.get_recording("r2").await.unwrap().protected);

    s.update_metadata(
        &strings(&["r1", "r2"]),
        &meta(&[("newkey", "v"), ("gl-listed", "false")]),
        &strings(&["old"]),
    )
    .await
    .unwrap();
    let r1 = s.get_recording("r1").await.unwrap();
    assert_eq!(
        sorted_meta(&r1),
        meta(&[("gl-listed", "false"), ("keep", "k"), ("newkey", "v")])
    );
    let r2 = s.get_recording("r2").await.unwrap();
    assert_eq!(
        sorted_meta(&r2),
        meta(&[("gl-listed", "false"), ("newkey", "v")])
    );
    // Recordings not listed are untouched.
    assert_eq!(
        s.get_recording("r3").await.unwrap().metadata,
        meta(&[("old", "y")])
    );

    // Deletes alone.
    s.update_metadata(&strings(&["r1"]), &[], &strings(&["gl-listed", "absent"]))
        .await
        .unwrap();
    let r1 = s.get_recording("r1").await.unwrap();
    assert_eq!(sorted_meta(&r1), meta(&[("keep", "k"), ("newkey", "v")]));
    assert_eq!(r1.metadata.len(), 2);
}

pub async fn recordings_mark_deleted<S: Store>(s: &S) {
    let original = Recording {
        metadata: meta(&[("tenant-id", "T1"), ("a", "b")]),
        playback_formats: vec![
            format("presentation", "r1", vec![thumbnail(1)]),
            format("podcast", "r1", Vec::new()),
        ],
        ..recording("r1", "m1", Some("published"), 1)
    };
    s.upsert_recording(original.clone()).await.unwrap();
    s.upsert_recording(Recording {
        metadata: meta(&[("tenant-id", "T1")]),
        playback_formats: vec![format("presentation", "r2", vec![thumbnail(1)])],
        ..recording("r2", "m1", Some("published"), 2)
    })
    .await
    .unwrap();

    s.mark_recording_deleted("r1").await.unwrap();
    // The row stays, without metadata and formats.
    let deleted = s.get_recording("r1").await.unwrap();
    assert_eq!(
        deleted,
        Recording {
            state: Some("deleted".to_owned()),
            metadata: Vec::new(),
            playback_formats: Vec::new(),
            ..original
        }
    );
    let deleted_only = RecordingFilter {
        states: Some(strings(&["deleted"])),
        ..RecordingFilter::default()
    };
    assert_eq!(found(s, deleted_only).await, ["r1"]);
    // No tenant can see it any more; the other recording is untouched.
    let t1 = RecordingFilter {
        tenant_id: Some("T1".to_owned()),
        ..RecordingFilter::default()
    };
    assert_eq!(found(s, t1).await, ["r2"]);
    let r2 = s.get_recording("r2").await.unwrap();
    assert_eq!(r2.playback_formats[0].thumbnails, vec![thumbnail(1)]);

    // A format added back after deletion starts without the old thumbnails.
    let readded = s
        .upsert_recording(Recording {
            playback_formats: vec![format("presentation", "r1", Vec::new())],
            ..deleted
        })
        .await
        .unwrap();
    assert_eq!(
        readded.playback_formats,
        vec![format("presentation", "r1", Vec::new())]
    );
}

pub async fn callback_data<S: Store>(s: &S) {
    assert_eq!(s.get_callback_data(None, "m1").await.unwrap(), None);
    let data = CallbackData {
        meeting_id: "m1".to_owned(),
        recording_id: None,
        recording_ready_url: Some("https://lms.example.com/ready?x=1".to_owned()),
        analytics_callback_url: None,
        ..CallbackData::default()
    };
    s.put_callback_data(data.clone()).await.unwrap();
    assert_eq!(s.get_callback_data(None, "m1").await.unwrap(), Some(data));

    let replaced = CallbackData {
        meeting_id: "m1".to_owned(),
        recording_id: Some(12),
        recording_ready_url: None,
        analytics_callback_url: Some("https://lms.example.com/analytics".to_owned()),
        ..CallbackData::default()
    };
    s.put_callback_data(replaced.clone()).await.unwrap();
    assert_eq!(
        s.get_callback_data(None, "m1").await.unwrap(),
        Some(replaced.clone())
    );
    assert_eq!(s.get_callback_data(None, "M1").await.unwrap(), None);
    assert_eq!(s.get_callback_data(None, "m2").await.unwrap(), None);

    // Keyed by tenant too: two tenants with the same meetingID never see each other's URLs.
    assert_eq!(s.get_callback_data(Some("t1"), "m1").await.unwrap(), None);
    let t1 = CallbackData {
        meeting_id: "m1".to_owned(),
        tenant_id: Some("t1".to_owned()),
        server_id: Some("bbb-1".to_owned()),
        analytics_callback_url: Some("https://t1.example.com/analytics".to_owned()),
        ..CallbackData::default()
    };
    let t2 = CallbackData {
        tenant_id: Some("t2".to_owned()),
        server_id: Some("bbb-2".to_owned()),
        analytics_callback_url: Some("https://t2.example.com/analytics".to_owned()),
        ..t1.clone()
    };
    s.put_callback_data(t1.clone()).await.unwrap();
    s.put_callback_data(t2.clone()).await.unwrap();
    assert_eq!(
        s.get_callback_data(Some("t1"), "m1").await.unwrap(),
        Some(t1.clone())
    );
    assert_eq!(
        s.get_callback_data(Some("t2"), "m1").await.unwrap(),
        Some(t2)
    );
    assert_eq!(
        s.get_callback_data(None, "m1").await.unwrap(),
        Some(replaced)
    );
    let cleared = CallbackData {
        analytics_callback_url: None,
        ..t1
    };
    s.put_callback_data(cleared.clone()).await.unwrap();
    assert_eq!(
        s.get_callback_data(Some("t1"), "m1").await.unwrap(),
        Some(cleared)
    );
}

/// `clear_callback_urls` (a create without callback URLs) drops what an earlier create left, per tenant, every
/// time URLs were written again in between: the production store skips PostgreSQL only while it knows there is
/// nothing to clear.
pub async fn callback_urls_cleared_by_a_create_without_them<S: Store>(s: &S) {
    let with_urls = |tenant: Option<&str>, url: &str| CallbackData {
        meeting_id: "m1".to_owned(),
        tenant_id: tenant.map(str::to_owned),
        server_id: Some("bbb-1".to_owned()),
        recording_id: None,
        recording_ready_url: Some(format!("{url}/ready")),
        analytics_callback_url: Some(format!("{url}/analytics")),
    };
    let cleared = |tenant: Option<&str>, server: &str| CallbackData {
        meeting_id: "m1".to_owned(),
        tenant_id: tenant.map(str::to_owned),
        server_id: Some(server.to_owned()),
        recording_id: None,
        recording_ready_url: None,
        analytics_callback_url: None,
    };
    // Nothing kept: nothing written.
    s.clear_callback_urls(None, "m1", "bbb-1", &CallbackUrlsMark::default())
        .await
        .unwrap();
    assert_eq!(s.get_callback_data(None, "m1").await.unwrap(), None);

    // URLs written after the "nothing to clear" answer above are cleared by the next create without them.
    s.put_callback_data(with_urls(None, "https://lms.example.com"))
        .await
        .unwrap();
    s.put_callback_data(with_urls(Some("t1"), "https://t1.example.com"))
        .await
        .unwrap();
    s.clear_callback_urls(None, "m1", "bbb-2", &CallbackUrlsMark::default())
        .await
        .unwrap();
    assert_eq!(
        s.get_callback_data(None, "m1").await.unwrap(),
        Some(cleared(None, "bbb-2"))
    );
    // Another tenant's data of the same meeting id is its own.
    assert_eq!(
        s.get_callback_data(Some("t1"), "m1").await.unwrap(),
        Some(with_urls(Some("t1"), "https://t1.example.com"))
    );

    // Cleared twice in a row, then written again, then cleared: every write of URLs counts.
    s.clear_callback_urls(None, "m1", "bbb-2", &CallbackUrlsMark::default())
        .await
        .unwrap();
    for round in 0..3 {
        let url = format!("https://lms{round}.example.com");
        s.put_callback_data(with_urls(None, &url)).await.unwrap();
        assert_eq!(
            s.get_callback_data(None, "m1").await.unwrap(),
            Some(with_urls(None, &url))
        );
        s.clear_callback_urls(None, "m1", "bbb-3", &CallbackUrlsMark::default())
            .await
            .unwrap();
        assert_eq!(
            s.get_callback_data(None, "m1").await.unwrap(),
            Some(cleared(None, "bbb-3")),
            "round {round}"
        );
    }
    s.clear_callback_urls(Some("t1"), "m1", "bbb-4", &CallbackUrlsMark::default())
        .await
        .unwrap();
    assert_eq!(
        s.get_callback_data(Some("t1"), "m1").await.unwrap(),
        Some(cleared(Some("t1"), "bbb-4"))
    );
}

/// The mark `meeting_for_create` reads with the meeting (whether or not it exists) serves `clear_callback_urls` as
/// its own read would: URLs written before the read are cleared, and a clear that found none, once marked, lets the
/// next create skip the callback data (only the production store keeps a mark).
pub async fn callback_urls_mark_read_with_the_meeting<S: Store>(s: &S) {
    let with_urls = |url: &str| CallbackData {
        meeting_id: "m2".to_owned(),
        tenant_id: Some("t1".to_owned()),
        server_id: Some("bbb-1".to_owned()),
        recording_id: None,
        recording_ready_url: Some(format!("{url}/ready")),
        analytics_callback_url: None,
    };
    let cleared = CallbackData {
        meeting_id: "m2".to_owned(),
        tenant_id: Some("t1".to_owned()),
        server_id: Some("bbb-2".to_owned()),
        recording_id: None,
        recording_ready_url: None,
        analytics_callback_url: None,
    };
    for round in 0..3 {
        let url = format!("https://lms{round}.example.com");
        s.put_callback_data(with_urls(&url)).await.unwrap();
        // Twice: the first clears (and marks), the second finds nothing left.
        for _ in 0..2 {
            let read = s.meeting_for_create("m2", Some("t1"), None).await.unwrap();
            assert!(
                read.placed.is_none(),
                "no meeting record: the mark comes anyway"
            );
            let mark = read.mark;
            if let Some(clean) = s
                .clear_callback_urls(Some("t1"), "m2", "bbb-2", &mark)
                .await
                .unwrap()
            {
                s.mark_callback_urls_clean(&clean).await.unwrap();
                let read = s.meeting_for_create("m2", Some("t1"), None).await.unwrap();
                assert!(read.mark.known_clean(), "round {round}: marked clean");
            }
            assert_eq!(
                s.get_callback_data(Some("t1"), "m2").await.unwrap(),
                Some(cleared.clone()),
                "round {round}"
            );
        }
    }
}

/// A re-import never reverts a publish/unpublish: the upsert decides on the row as it is when it runs, so an
/// importer that read the recording before the API changed it (and so sends `publish_updated = false` and the
/// metadata's `published`) still leaves the API's choice in place.
pub async fn recordings_reimport_keeps_publish_change<S: Store>(s: &S) {
    let imported = Recording {
        metadata: meta(&[("gl-listed", "true")]),
        playback_formats: vec![format("presentation", "r1", Vec::new())],
        ..recording("r1", "m1", Some("published"), 1)
    };
    s.upsert_recording(imported.clone()).await.unwrap();
    // Never published through the API: a re-import overwrites published and state.
    let reimported = s
        .upsert_recording(Recording {
            published: false,
            state: Some("unpublished".to_owned()),
            ..imported.clone()
        })
        .await
        .unwrap();
    assert!(!reimported.published);
    assert_eq!(reimported.state.as_deref(), Some("unpublished"));
    s.upsert_recording(imported.clone()).await.unwrap();

    // The API unpublishes; an importer that read the row before sends the stale flags.
    s.set_published("r1", false).await.unwrap();
    let written = s
        .upsert_recording(Recording {
            name: Some("Renamed".to_owned()),
            ..imported.clone()
        })
        .await
        .unwrap();
    assert!(!written.published, "the unpublish was reverted");
    assert_eq!(written.state.as_deref(), Some("unpublished"));
    assert!(
        written.publish_updated,
        "an import never resets publish_updated"
    );
    assert_eq!(
        written.name.as_deref(),
        Some("Renamed"),
        "the rest is imported"
    );
    assert_eq!(s.get_recording("r1").await.unwrap(), written);

    // A state outside published/unpublished is taken; the flag still stays.
    let processing = s
        .upsert_recording(Recording {
            state: Some("processing".to_owned()),
            ..imported.clone()
        })
        .await
        .unwrap();
    assert!(!processing.published);
    assert_eq!(processing.state.as_deref(), Some("processing"));

    // Published again through the API: a re-import of an unpublished copy keeps it published.
    s.set_published("r1", true).await.unwrap();
    let written = s
        .upsert_recording(Recording {
            published: false,
            state: Some("unpublished".to_owned()),
            ..imported
        })
        .await
        .unwrap();
    assert!(written.published);
    assert_eq!(written.state.as_deref(), Some("published"));
}

/// updateRecordings' metadata and `protect` land together on every listed recording, and a reader holding the
/// row never sees one without the other.
pub async fn recordings_update_is_one_transaction<S: Store>(s: &S) {
    for (id, start) in [("r1", 1), ("r2", 2), ("r3", 3)] {
        s.upsert_recording(Recording {
            metadata: meta(&[("old", "y")]),
            ..recording(id, "m1", Some("published"), start)
        })
        .await
        .unwrap();
    }
    s.update_recordings(
        &strings(&["r1", "r2"]),
        &meta(&[("gl-listed", "false")]),
        &strings(&["old"]),
        Some(true),
    )
    .await
    .unwrap();
    for id in ["r1", "r2"] {
        let r = s.get_recording(id).await.unwrap();
        assert!(r.protected, "{id}");
        assert_eq!(r.metadata, meta(&[("gl-listed", "false")]), "{id}");
    }
    let r3 = s.get_recording("r3").await.unwrap();
    assert!(!r3.protected);
    assert_eq!(r3.metadata, meta(&[("old", "y")]));
    // Protect alone, and metadata alone.
    s.update_recordings(&strings(&["r1"]), &[], &[], Some(false))
        .await
        .unwrap();
    assert!(!s.get_recording("r1").await.unwrap().protected);
    s.update_recordings(&strings(&["r2"]), &meta(&[("k", "v")]), &[], None)
        .await
        .unwrap();
    let r2 = s.get_recording("r2").await.unwrap();
    assert!(r2.protected);
    assert_eq!(
        sorted_meta(&r2),
        meta(&[("gl-listed", "false"), ("k", "v")])
    );

    // Interleaved: every write pairs an odd `round` with protect = true. Readers lock the row, so each sees one
    // committed state; two separate writes would show a round without its protect flag.
    const ROUNDS: u32 = 60;
    let writer = {
        let s = s.clone();
        tokio::spawn(async move {
            for round in 0..ROUNDS {
                let value = round.to_string();
                s.update_recordings(
                    &strings(&["r3"]),
                    &[("round".to_owned(), value)],
                    &[],
                    Some(round % 2 == 1),
                )
                .await
                .unwrap();
            }
        })
    };
    let mut seen = 0;
    while !writer.is_finished() || seen == 0 {
        let lock = s.lock_recording("r3").await.unwrap();
        let r = lock.recording().clone();
        lock.release().await;
        if let Some((_, round)) = r.metadata.iter().find(|(k, _)| k == "round") {
            let round: u32 = round.parse().unwrap();
            assert_eq!(
                r.protected,
                round % 2 == 1,
                "metadata and protect apart: {r:?}"
            );
            seen += 1;
        }
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
}

/// Importing a recording links the meeting's callback data to it, as the original's importer does; the URLs stay.
pub async fn recordings_import_links_callback_data<S: Store>(s: &S) {
    let data = CallbackData {
        meeting_id: "m1".to_owned(),
        recording_id: None,
        recording_ready_url: Some("https://lms.example.com/ready".to_owned()),
        analytics_callback_url: Some("https://lms.example.com/analytics".to_owned()),
        ..CallbackData::default()
    };
    s.put_callback_data(data.clone()).await.unwrap();
    // Another tenant's row of the same meetingID is left alone by a tenant-less recording.
    let other = CallbackData {
        tenant_id: Some("t9".to_owned()),
        ..data.clone()
    };
    s.put_callback_data(other.clone()).await.unwrap();
    // Another meeting's recording, and a meeting without callback data: nothing linked, nothing created.
    s.upsert_recording(recording("r0", "m0", Some("published"), 0))
        .await
        .unwrap();
    assert_eq!(s.get_callback_data(None, "m0").await.unwrap(), None);
    assert_eq!(
        s.get_callback_data(None, "m1").await.unwrap(),
        Some(data.clone())
    );

    s.upsert_recording(recording("r1", "m1", Some("published"), 1))
        .await
        .unwrap();
    let linked = s.get_callback_data(None, "m1").await.unwrap().unwrap();
    let first = linked.recording_id.expect("the import links the recording");
    assert_eq!(
        linked,
        CallbackData {
            recording_id: Some(first),
            ..data.clone()
        }
    );
    // A second recording of the meeting takes the link over (the last imported one, as in the original).
    s.upsert_recording(recording("r2", "m1", Some("published"), 2))
        .await
        .unwrap();
    let second = s
        .get_callback_data(None, "m1")
        .await
        .unwrap()
        .unwrap()
        .recording_id;
    assert!(
        second.is_some_and(|id| id != first),
        "{second:?} after {first}"
    );
    // Re-importing the first links it again.
    s.upsert_recording(recording("r1", "m1", Some("published"), 1))
        .await
        .unwrap();
    assert_eq!(
        s.get_callback_data(None, "m1")
            .await
            .unwrap()
            .unwrap()
            .recording_id,
        Some(first)
    );
    assert_eq!(
        s.get_callback_data(Some("t9"), "m1").await.unwrap(),
        Some(other),
        "another tenant's row is not linked"
    );
}

/// `lock_recording`: the row is read under the lock, a second locker waits until the first commits and then sees
/// its change; an absent recording is `NotFound`.
pub async fn recordings_lock_serialises_changes<S: Store>(s: &S) {
    assert_not_found(s.lock_recording("absent").await);
    s.upsert_recording(Recording {
        playback_formats: vec![format("presentation", "r1", Vec::new())],
        ..recording("r1", "m1", Some("published"), 1)
    })
    .await
    .unwrap();
    let first = s.lock_recording("r1").await.unwrap();
    assert!(first.recording().published);
    assert_eq!(first.recording().playback_formats.len(), 1);
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    let second = {
        let s = s.clone();
        tokio::spawn(async move {
            let lock = s.lock_recording("r1").await.unwrap();
            let seen = lock.recording().clone();
            let _ = tx.send(());
            lock.set_published(true).await.unwrap();
            seen
        })
    };
    // While the first lock is held, the second cannot have read the row.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        rx.try_recv().is_err(),
        "a second lock was granted while the first was held"
    );
    first.set_published(false).await.unwrap();
    let seen = second.await.unwrap();
    assert!(
        !seen.published,
        "the second locker read the row before the first committed"
    );
    assert_eq!(seen.state.as_deref(), Some("unpublished"));
    let now = s.get_recording("r1").await.unwrap();
    assert!(now.published && now.publish_updated);

    // Released without a change, and a deletion through the lock.
    let lock = s.lock_recording("r1").await.unwrap();
    lock.release().await;
    let lock = s.lock_recording("r1").await.unwrap();
    lock.mark_deleted().await.unwrap();
    let deleted = s.get_recording("r1").await.unwrap();
    assert_eq!(deleted.state.as_deref(), Some("deleted"));
    assert!(deleted.playback_formats.is_empty());
}

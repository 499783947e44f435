//! Archives in, rows and files out: every format, several formats per recording, unicode, many thumbnails,
//! re-imports, and every kind of bad archive.

use scalelite_core::domain::Thumbnail;
use scalelite_core::storage::{RecordingStore, StoreError};
use scalelite_recording_importer::fixture::{FixtureFormat, FixtureRecording, build_tar};
use scalelite_recording_importer::{
    ImportOutcome, ImportedRecording, PublishPolicy, RejectReason, import_backlog, import_one,
};
use tar::{EntryType, Header};

use super::*;

const FORMATS: [&str; 7] = [
    "capture",
    "custom-format",
    "notes",
    "podcast",
    "presentation",
    "screenshare",
    "video",
];

fn all_formats(meeting: &str) -> FixtureRecording {
    let mut recording = FixtureRecording::new(meeting, 1_761_640_370_924);
    for format in FORMATS {
        recording = recording.with_format(format);
    }
    let rid = recording.record_id.clone();
    let presentation = recording
        .formats
        .iter_mut()
        .find(|f| f.format == "presentation")
        .unwrap();
    *presentation = presentation.clone().with_images("bbb.example.com", &rid, 3);
    recording
}

both_backends! {
    // A meeting that failed over (README "Meeting failover") is recorded on both servers: each sends its own
    // archive, with the same meetingID and its own record id, and getRecordings lists both under the meetingID.
    async fn recordings_of_a_failed_over_meeting_from_both_servers(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let env = Env::over(app.store.clone(), None, |_| {});
        let mut ids = Vec::new();
        for (host, start_ms) in [("bbb1.example.com", 1_761_640_370_924_i64), ("bbb2.example.com", 1_761_641_000_000)] {
            let mut recording = FixtureRecording::new("failed-over", start_ms);
            recording.formats.push(FixtureFormat::new("presentation", host, &recording.record_id));
            let tar = env.send(&recording);
            let report = env.import(&tar).await;
            assert_eq!(report.recordings[0].meeting_id, "failed-over");
            ids.push(recording.record_id);
        }
        assert_ne!(ids[0], ids[1]);

        let answer = app.call("getRecordings", "meetingID=failed-over").await;
        answer.assert_success();
        let mut listed: Vec<String> = answer.root.find_all("recordings/recording").iter()
            .map(|r| r.child_text("recordID").unwrap_or_default()).collect();
        listed.sort();
        ids.sort();
        assert_eq!(listed, ids, "{}", answer.text);
        for recording in answer.root.find_all("recordings/recording") {
            assert_eq!(recording.child_text("meetingID").as_deref(), Some("failed-over"));
        }
    }

    async fn imports_every_format_field_by_field(backend: Backend) {
        let env = Env::new(backend).await;
        let recording = all_formats("room-1");
        let rid = recording.record_id.clone();
        let tar = env.send(&recording);

        let report = env.import(&tar).await;
        assert_eq!(
            report.recordings,
            vec![ImportedRecording {
                record_id: rid.clone(),
                meeting_id: "room-1".into(),
                published: true,
                formats: FORMATS.map(str::to_owned).to_vec(),
            }]
        );
        assert!(report.skipped.is_empty());
        assert!(!tar.exists(), "the archive is removed after the import");
        env.assert_no_scratch_left();

        let stored = env.store.get_recording(&rid).await.unwrap();
        assert_eq!(stored.record_id, rid);
        assert_eq!(stored.meeting_id, "room-1");
        assert_eq!(stored.name.as_deref(), Some("Meeting room-1"));
        assert!(stored.published);
        assert_eq!(stored.participants, Some(3));
        assert_eq!(stored.state.as_deref(), Some("published"), "video/screenshare `available` is published");
        assert_eq!(stored.starttime.map(|t| t.timestamp_millis()), Some(1_761_640_370_924));
        assert_eq!(stored.endtime.map(|t| t.timestamp_millis()), Some(1_761_642_170_924));
        assert_eq!(stored.deleted_at, None);
        assert!(!stored.protected);
        assert!(!stored.publish_updated);
        let mut metadata = stored.metadata.clone();
        metadata.sort();
        assert_eq!(
            metadata,
            vec![
                ("bbb-origin".to_owned(), "Greenlight".to_owned()),
                ("gl-listed".to_owned(), "false".to_owned()),
            ]
        );
        let expected_urls = [
            ("capture", format!("/playback/capture/{rid}/")),
            ("custom-format", format!("/playback/custom-format/{rid}/")),
            ("notes", format!("/playback/notes/{rid}/")),
            ("podcast", format!("/podcast/{rid}/audio.ogg")),
            ("presentation", format!("/playback/presentation/2.3/{rid}")),
            ("screenshare", format!("/recording/screenshare/{rid}/")),
            ("video", format!("/playback/video/{rid}/")),
        ];
        assert_eq!(stored.playback_formats.len(), expected_urls.len());
        for (format, (name, url)) in stored.playback_formats.iter().zip(expected_urls) {
            assert_eq!(format.format, name);
            assert_eq!(format.url, url);
            assert_eq!(format.length, Some(31), "1 830 000 ms rounds to 31 minutes");
            assert_eq!(format.processing_time, None);
            if name == "presentation" {
                assert_eq!(
                    format.thumbnails,
                    (1..=3)
                        .map(|n| Thumbnail {
                            width: Some(176),
                            height: Some(136),
                            alt: Some(format!("Slide {n}")),
                            url: format!("/presentation/{rid}/presentation/deck/thumbnails/thumb-{n}.png"),
                            sequence: n - 1,
                        })
                        .collect::<Vec<_>>()
                );
            } else {
                assert!(format.thumbnails.is_empty(), "{name}");
            }
        }

        // Files: every format under published/<format>/<record id>, with the archive's contents.
        let files = env.files("published");
        for format in &recording.formats {
            let base = format!("{}/{rid}", format.format);
            assert!(files.contains(&format!("{base}/metadata.xml")), "{files:?}");
            for (name, data) in &format.files {
                assert_eq!(std::fs::read(env.path(&format!("published/{base}/{name}"))).unwrap(), *data);
            }
            assert_eq!(
                std::fs::read_to_string(env.path(&format!("published/{base}/metadata.xml"))).unwrap(),
                recording.metadata_xml(format)
            );
        }
        let expected_files: usize = recording.formats.iter().map(|f| f.files.len() + 1).sum();
        assert_eq!(files.len(), expected_files);
        assert!(env.files("unpublished").is_empty());

        let metrics = env.ctx.metrics();
        assert_eq!(metrics.imports_done, 1);
        assert_eq!(metrics.recordings_imported, 1);
        assert_eq!(metrics.imports_failed, 0);
        assert!(metrics.last_import.is_some());
    }

    async fn single_format_archives_add_up(backend: Backend) {
        let env = Env::new(backend).await;
        // The post-publish hook runs once per format: first only presentation was published, then both.
        let first = FixtureRecording::new("room-2", 1_700_000_000_000).with_format("presentation");
        let rid = first.record_id.clone();
        env.import(&env.send(&first)).await;
        let stored = env.store.get_recording(&rid).await.unwrap();
        assert_eq!(stored.playback_formats.len(), 1);

        let second = first.clone().with_format("video");
        env.import(&env.send(&second)).await;
        let stored = env.store.get_recording(&rid).await.unwrap();
        let names: Vec<_> = stored.playback_formats.iter().map(|f| f.format.as_str()).collect();
        assert_eq!(names, ["presentation", "video"]);

        // Single-format recordings of other kinds.
        for (meeting, format) in [("room-3", "podcast"), ("room-4", "screenshare"), ("room-5", "notes")] {
            let recording = FixtureRecording::new(meeting, 1_700_000_000_000).with_format(format);
            let report = env.import(&env.send(&recording)).await;
            assert_eq!(report.recordings[0].formats, [format]);
            let stored = env.store.get_recording(&recording.record_id).await.unwrap();
            assert_eq!(stored.meeting_id, meeting);
            assert_eq!(stored.playback_formats[0].format, format);
            assert!(env.path(&format!("published/{format}/{}/metadata.xml", recording.record_id)).is_file());
        }
        env.assert_no_scratch_left();
    }

    async fn unicode_metadata_and_many_thumbnails(backend: Backend) {
        let env = Env::new(backend).await;
        let mut recording = FixtureRecording::new("raum-ä-🎓", 1_700_000_000_000);
        recording.name = "Vorlesung „Physik & Chemie“ – 物理 <1>".into();
        recording.meta = vec![
            ("bbb-context".into(), "Kurs: Übung \"A\" & 'B'".into()),
            ("tenant-name".into(), "École".into()),
            ("名前".into(), "値 🙂".into()),
        ];
        let rid = recording.record_id.clone();
        recording.formats.push(
            FixtureFormat::new("presentation", "bbb.example.com", &rid).with_images("bbb.example.com", &rid, 150),
        );
        recording.formats[0].images[7].alt = "Folie 8 – Größe ≥ 3 & <b>".into();
        env.import(&env.send(&recording)).await;

        let stored = env.store.get_recording(&rid).await.unwrap();
        assert_eq!(stored.meeting_id, "raum-ä-🎓");
        assert_eq!(stored.name.as_deref(), Some("Vorlesung „Physik & Chemie“ – 物理 <1>"));
        for (key, value) in &recording.meta {
            assert!(stored.metadata.contains(&(key.clone(), value.clone())), "{key}: {:?}", stored.metadata);
        }
        let thumbnails = &stored.playback_formats[0].thumbnails;
        assert_eq!(thumbnails.len(), 150);
        for (n, thumbnail) in thumbnails.iter().enumerate() {
            assert_eq!(thumbnail.sequence, n as i32);
            assert_eq!(
                thumbnail.url,
                format!("/presentation/{rid}/presentation/deck/thumbnails/thumb-{}.png", n + 1)
            );
        }
        assert_eq!(thumbnails[7].alt.as_deref(), Some("Folie 8 – Größe ≥ 3 & <b>"));
    }

    async fn reimport_keeps_an_api_publish_decision(backend: Backend) {
        let env = Env::new(backend).await;
        let recording = FixtureRecording::new("room-6", 1_700_000_000_000)
            .with_format("presentation")
            .with_format("video");
        let rid = recording.record_id.clone();
        env.import(&env.send(&recording)).await;
        assert!(env.path(&format!("published/presentation/{rid}")).is_dir());

        // An operator's metadata and an API unpublish, as the API does them (store, then files).
        env.store.update_metadata(std::slice::from_ref(&rid), &[("gl-listed".into(), "true".into()), ("extra".into(), "kept".into())], &[]).await.unwrap();
        env.store.set_published(&rid, false).await.unwrap();
        for format in ["presentation", "video"] {
            std::fs::create_dir_all(env.path(&format!("unpublished/{format}"))).unwrap();
            std::fs::rename(
                env.path(&format!("published/{format}/{rid}")),
                env.path(&format!("unpublished/{format}/{rid}")),
            )
            .unwrap();
        }

        // BBB sends the recording again (its metadata still says published).
        let report = env.import(&env.send(&recording)).await;
        assert!(!report.recordings[0].published);
        let stored = env.store.get_recording(&rid).await.unwrap();
        assert!(!stored.published, "publish_updated keeps the API's decision");
        assert!(stored.publish_updated);
        assert_eq!(stored.state.as_deref(), Some("unpublished"));
        assert!(stored.metadata.contains(&("extra".to_owned(), "kept".to_owned())), "keys absent from the XML stay");
        assert!(stored.metadata.contains(&("gl-listed".to_owned(), "false".to_owned())), "keys in the XML are its");
        for format in ["presentation", "video"] {
            assert!(env.path(&format!("unpublished/{format}/{rid}/metadata.xml")).is_file());
            assert!(!env.path(&format!("published/{format}/{rid}")).exists());
        }
        assert_eq!(env.files("published"), Vec::<String>::new());

        // Published again through the API, then re-imported: stays published.
        env.store.set_published(&rid, true).await.unwrap();
        env.import(&env.send(&recording)).await;
        let stored = env.store.get_recording(&rid).await.unwrap();
        assert!(stored.published);
        assert!(env.path(&format!("published/video/{rid}/metadata.xml")).is_file());
        assert!(env.files("unpublished").is_empty(), "the old copy is gone from the other tree");
    }

    async fn reimport_without_api_decision_follows_the_xml(backend: Backend) {
        let env = Env::new(backend).await;
        let mut recording = FixtureRecording::new("room-7", 1_700_000_000_000).with_format("presentation");
        let rid = recording.record_id.clone();
        env.import(&env.send(&recording)).await;
        assert!(env.store.get_recording(&rid).await.unwrap().published);

        recording.formats[0].published = false;
        recording.formats[0].state = "unpublished".into();
        recording.name = "Renamed".into();
        env.import(&env.send(&recording)).await;
        let stored = env.store.get_recording(&rid).await.unwrap();
        assert!(!stored.published);
        assert_eq!(stored.state.as_deref(), Some("unpublished"));
        assert_eq!(stored.name.as_deref(), Some("Renamed"));
        assert!(env.path(&format!("unpublished/presentation/{rid}/metadata.xml")).is_file());
        assert!(!env.path(&format!("published/presentation/{rid}")).exists());

        // A deleted recording comes back with a re-import.
        env.store.mark_recording_deleted(&rid).await.unwrap();
        recording.formats[0].published = true;
        recording.formats[0].state = "published".into();
        env.import(&env.send(&recording)).await;
        let stored = env.store.get_recording(&rid).await.unwrap();
        assert_eq!(stored.state.as_deref(), Some("published"));
        assert_eq!(stored.playback_formats.len(), 1);
        assert!(!stored.metadata.is_empty());
    }

    async fn import_unpublished_and_protected_settings(backend: Backend) {
        let env = Env::with(backend, |s| {
            s.policy = PublishPolicy { import_unpublished: true, protected: true };
        })
        .await;
        let recording = FixtureRecording::new("room-8", 1_700_000_000_000).with_format("presentation");
        let rid = recording.record_id.clone();
        let report = env.import(&env.send(&recording)).await;
        assert!(!report.recordings[0].published);
        let stored = env.store.get_recording(&rid).await.unwrap();
        assert!(!stored.published);
        assert!(stored.protected);
        assert_eq!(stored.state.as_deref(), Some("published"), "as the original: the state is the XML's");
        assert!(env.path(&format!("unpublished/presentation/{rid}/metadata.xml")).is_file());
        assert!(env.files("published").is_empty());

        // `protected` follows the current setting on every re-import (the original's rule).
        let plain = Env::over(env.store.clone(), None, |s| s.policy = PublishPolicy::default());
        plain.import(&plain.send(&recording)).await;
        let stored = env.store.get_recording(&rid).await.unwrap();
        assert!(!stored.protected);
        assert!(stored.published);
    }

    async fn a_bad_format_is_skipped_and_the_others_imported(backend: Backend) {
        let env = Env::new(backend).await;
        let recording = FixtureRecording::new("room-9", 1_700_000_000_000)
            .with_format("presentation")
            .with_format("video");
        let rid = recording.record_id.clone();
        let good = recording.metadata_xml(&recording.formats[0]);
        let tar = env.send_bytes(
            &format!("{rid}.tar"),
            &build_tar(&[
                (format!("presentation/{rid}/metadata.xml"), Some(good.into_bytes())),
                (format!("presentation/{rid}/shapes.svg"), Some(b"<svg/>".to_vec())),
                (format!("video/{rid}/metadata.xml"), Some(b"<recording><id>".to_vec())),
                (format!("video/{rid}/video-0.m4v"), Some(b"m4v".to_vec())),
            ]),
        );
        let report = env.import(&tar).await;
        assert_eq!(report.recordings[0].formats, ["presentation"]);
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(report.skipped[0].path, format!("video/{rid}"));
        let stored = env.store.get_recording(&rid).await.unwrap();
        let names: Vec<_> = stored.playback_formats.iter().map(|f| f.format.as_str()).collect();
        assert_eq!(names, ["presentation"]);
        assert_eq!(
            env.files("published"),
            [format!("presentation/{rid}/metadata.xml"), format!("presentation/{rid}/shapes.svg")]
        );
        env.assert_no_scratch_left();
    }

    async fn bad_archives_end_in_failed_with_nothing_written(backend: Backend) {
        let env = Env::new(backend).await;
        let recording = FixtureRecording::new("room-10", 1_700_000_000_000).with_format("presentation");
        let rid = recording.record_id.clone();
        let xml = recording.metadata_xml(&recording.formats[0]).into_bytes();
        let good_entries = vec![
            (format!("presentation/{rid}/"), None),
            (format!("presentation/{rid}/metadata.xml"), Some(xml.clone())),
            (format!("presentation/{rid}/shapes.svg"), Some(vec![1u8; 5000])),
        ];
        let good = build_tar(&good_entries);
        let with_bad_entry = |name: &[u8], kind: EntryType, data: &[u8], link: Option<&str>| {
            let mut builder = tar::Builder::new(Vec::new());
            builder.append(&header_raw(format!("presentation/{rid}/metadata.xml").as_bytes(), EntryType::Regular, xml.len() as u64), xml.as_slice()).unwrap();
            match link {
                Some(target) => {
                    let mut header = Header::new_gnu();
                    header.set_entry_type(kind);
                    header.set_size(0);
                    builder.append_link(&mut header, std::str::from_utf8(name).unwrap(), target).unwrap();
                }
                None => builder.append(&header_raw(name, kind, data.len() as u64), data).unwrap(),
            }
            builder.into_inner().unwrap()
        };
        let mut other_rid = recording.clone();
        other_rid.record_id = "another-record".into();
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("garbage", b"definitely not a tar archive, just text".repeat(30), "corrupt archive"),
            ("truncated", good[..good.len() - 1024 - 4000].to_vec(), "corrupt archive"),
            ("empty", Vec::new(), "no <format>/<recordID>/metadata.xml"),
            ("no-metadata", build_tar(&[(format!("presentation/{rid}/shapes.svg"), Some(b"x".to_vec()))]), "no <format>/<recordID>/metadata.xml"),
            ("wrong-depth", build_tar(&[(format!("{rid}/metadata.xml"), Some(xml.clone()))]), "no <format>/<recordID>/metadata.xml"),
            ("bad-xml", build_tar(&[
                (format!("presentation/{rid}/metadata.xml"), Some(b"<recording><id>x</id>".to_vec())),
                (format!("video/{rid}/metadata.xml"), Some(b"\xff\xfe not xml".to_vec())),
            ]), "no format could be imported"),
            ("mismatch", build_tar(&[(format!("presentation/{}/metadata.xml", other_rid.record_id), Some(xml.clone()))]), "describes presentation/"),
            ("traversal", with_bad_entry(b"../../published/presentation/evil/metadata.xml", EntryType::Regular, b"evil", None), "leaves"),
            ("absolute", with_bad_entry(format!("{}/evil", env.path("published").display()).as_bytes(), EntryType::Regular, b"evil", None), "absolute"),
            ("symlink", with_bad_entry(format!("presentation/{rid}/escape").as_bytes(), EntryType::Symlink, b"", Some("../../../published")), "symbolic link"),
            ("hardlink", with_bad_entry(format!("presentation/{rid}/hard").as_bytes(), EntryType::Link, b"", Some("/etc/passwd")), "hard link"),
            ("device", with_bad_entry(format!("presentation/{rid}/tty").as_bytes(), EntryType::Char, b"", None), "device"),
        ];
        for (name, bytes, why) in &cases {
            let file = format!("{name}.tar");
            let tar = env.send_bytes(&file, bytes);
            let outcome = import_one(&env.ctx, &tar).await.unwrap();
            let ImportOutcome::Rejected { reason, moved_to } = outcome else {
                panic!("{name}: expected a rejection, got {outcome:?}");
            };
            assert!(reason.to_string().contains(why), "{name}: {reason}");
            assert_eq!(moved_to, Some(env.path(&format!("failed/{file}"))), "{name}");
            assert!(!tar.exists(), "{name}: left the spool");
            assert_eq!(std::fs::read(env.path(&format!("failed/{file}"))).unwrap(), *bytes, "{name}: moved intact");
            let reason_file = std::fs::read_to_string(env.path(&format!("failed/{file}.reason"))).unwrap();
            assert!(reason_file.contains(why), "{name}: {reason_file}");
            assert!(matches!(env.store.get_recording(&rid).await, Err(StoreError::NotFound(_))), "{name}: nothing in the store");
            assert!(matches!(env.store.get_recording("another-record").await, Err(StoreError::NotFound(_))));
            assert!(env.files("published").is_empty(), "{name}: {:?}", env.files("published"));
            assert!(env.files("unpublished").is_empty(), "{name}");
            env.assert_no_scratch_left();
            let archive_fault = matches!(reason, RejectReason::Archive(_));
            assert_eq!(archive_fault, why.contains("corrupt") || ["leaves", "absolute", "link", "device"].iter().any(|w| why.contains(w)), "{name}");
        }
        // Nothing anywhere but the five directories, and nothing outside the environment's directory.
        let mut top: Vec<_> = std::fs::read_dir(env.dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        top.sort();
        assert_eq!(top, ["failed", "spool", "work"]);
        assert!(env.files("spool").is_empty());
        assert_eq!(env.files("failed").len(), cases.len() * 2);
        let metrics = env.ctx.metrics();
        assert_eq!(metrics.imports_failed, cases.len() as u64);
        assert_eq!(metrics.imports_done, 0);

        // The good archive still imports afterwards.
        env.import(&env.send_bytes("good.tar", &good)).await;
        assert!(env.path(&format!("published/presentation/{rid}/shapes.svg")).is_file());
    }

    async fn backlog_imports_everything_with_progress(backend: Backend) {
        let env = Env::new(backend).await;
        let mut ids = Vec::new();
        for n in 0..3 {
            let recording = FixtureRecording::new(&format!("backlog-{n}"), 1_700_000_000_000 + n).with_format("podcast");
            ids.push(recording.record_id.clone());
            env.send(&recording);
        }
        env.send_bytes("zz-broken.tar", b"broken");
        // A scratch directory left by a crash is cleaned up.
        std::fs::create_dir_all(env.path("work/.scalelite-import-crashed/archive/podcast")).unwrap();

        let mut calls = Vec::new();
        let report = import_backlog(&env.ctx, |done, total| calls.push((done, total))).await.unwrap();
        assert_eq!(calls, [(1, 4), (2, 4), (3, 4), (4, 4)]);
        assert_eq!((report.total, report.imported, report.rejected, report.errors), (4, 3, 1, 0));
        for id in &ids {
            assert!(env.store.get_recording(id).await.is_ok());
        }
        assert!(env.files("spool").is_empty());
        env.assert_no_scratch_left();
        assert_eq!(env.ctx.metrics().queue_depth, 0);
    }
}

fn header_raw(name: &[u8], kind: EntryType, size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    header
}

#[tokio::test]
async fn disabled_recordings_leave_the_spool_alone() {
    let env = Env::with(Backend::Embedded, |s| s.disabled = true).await;
    let recording =
        FixtureRecording::new("room-off", 1_700_000_000_000).with_format("presentation");
    let tar = env.send(&recording);
    assert!(matches!(
        import_one(&env.ctx, &tar).await.unwrap(),
        ImportOutcome::Disabled
    ));
    assert!(tar.exists());
    assert!(env.store.get_recording(&recording.record_id).await.is_err());
}

/// The archive as `deploy/bigbluebutton/scalelite_post_publish.rb` builds it: GNU tar over the published tree,
/// links dereferenced, long and non-ASCII file names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gnu_tar_archives_as_the_hook_builds_them() {
    let env = Env::new(Backend::Embedded).await;
    let recording = FixtureRecording::new("room-gnu", 1_700_000_000_000)
        .with_format("presentation")
        .with_format("video");
    let rid = recording.record_id.clone();
    let published = env.path("bbb/published");
    let long_name = format!(
        "presentation/{}/slide-ü-{}.png",
        "d".repeat(90),
        "n".repeat(60)
    );
    for format in &recording.formats {
        let dir = published.join(&format.format).join(&rid);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("metadata.xml"), recording.metadata_xml(format)).unwrap();
        for (name, data) in &format.files {
            std::fs::create_dir_all(dir.join(name).parent().unwrap()).unwrap();
            std::fs::write(dir.join(name), data).unwrap();
        }
    }
    let presentation = published.join("presentation").join(&rid);
    std::fs::create_dir_all(presentation.join(&long_name).parent().unwrap()).unwrap();
    std::fs::write(presentation.join(&long_name), b"long").unwrap();
    std::os::unix::fs::symlink("shapes.svg", presentation.join("shapes-link.svg")).unwrap();
    std::fs::hard_link(
        presentation.join("shapes.svg"),
        presentation.join("shapes-hard.svg"),
    )
    .unwrap();

    let build = |extra: &[&str], name: &str| {
        std::fs::create_dir_all(env.spool()).unwrap();
        let tar = env.spool().join(name);
        let status = std::process::Command::new("tar")
            .arg("--create")
            .args(extra)
            .arg("--file")
            .arg(&tar)
            .arg("--directory")
            .arg(&published)
            .arg(format!("presentation/{rid}"))
            .arg(format!("video/{rid}"))
            .status()
            .expect("GNU tar");
        assert!(status.success());
        tar
    };

    // Without dereferencing, the links are in the archive and it is refused as a whole.
    let with_links = build(&[], "with-links.tar");
    match import_one(&env.ctx, &with_links).await.unwrap() {
        ImportOutcome::Rejected { reason, moved_to } => {
            assert!(reason.to_string().contains("link"), "{reason}");
            assert!(moved_to.is_some());
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(env.files("published").is_empty());

    // The hook's command line.
    let tar = build(
        &["--dereference", "--hard-dereference"],
        &format!("{rid}.tar"),
    );
    let report = env.import(&tar).await;
    assert_eq!(report.recordings[0].formats, ["presentation", "video"]);
    let placed = env.path(&format!("published/presentation/{rid}"));
    assert_eq!(std::fs::read(placed.join(&long_name)).unwrap(), b"long");
    assert_eq!(
        std::fs::read(placed.join("shapes-link.svg")).unwrap(),
        b"<svg/>"
    );
    assert_eq!(
        std::fs::read(placed.join("shapes-hard.svg")).unwrap(),
        b"<svg/>"
    );
    assert!(
        !std::fs::symlink_metadata(placed.join("shapes-link.svg"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        env.path(&format!("published/video/{rid}/video-0.m4v"))
            .is_file()
    );
}

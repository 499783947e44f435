//! Recording archives as BBB servers send them, built in memory: for tests, benchmarks and trying an importer
//! without a BBB server. Not used by the importer itself.
//!
//! A [`FixtureRecording`] has one [`FixtureFormat`] per playback format; [`FixtureRecording::tar_bytes`] gives the
//! archive `scalelite_post_publish.rb` would produce (uncompressed, no leading `./`, directory entries, top level =
//! format names), and [`FixtureRecording::write_tar`] drops it into a spool the way rsync does (a hidden temporary
//! name, renamed at the end).

use std::io;
use std::path::{Path, PathBuf};

use scalelite_core::bbb::xml::{self, Element};

/// One preview image of a format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixtureImage {
    /// Absolute URL of the thumbnail.
    pub url: String,
    /// `width` attribute.
    pub width: u32,
    /// `height` attribute.
    pub height: u32,
    /// `alt` attribute.
    pub alt: String,
}

/// One playback format of a recording, with the files published for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixtureFormat {
    /// `playback/format` and the top-level directory.
    pub format: String,
    /// `state` (`published`, or `available` for video and screenshare).
    pub state: String,
    /// `published`.
    pub published: bool,
    /// `playback/link`.
    pub link: String,
    /// `playback/duration` in milliseconds.
    pub duration_ms: u64,
    /// `playback/extensions/preview/images/image`.
    pub images: Vec<FixtureImage>,
    /// Files next to `metadata.xml`: relative path → contents.
    pub files: Vec<(String, Vec<u8>)>,
}

impl FixtureFormat {
    /// A format as BBB 2.6+ writes it for `format` (`presentation`, `video`, `podcast`, `screenshare`, `notes`,
    /// `capture`, or anything else), with a link on `host` and a few typical files.
    pub fn new(format: &str, host: &str, record_id: &str) -> Self {
        let (state, link, files): (&str, String, Vec<(&str, &[u8])>) = match format {
            "presentation" => (
                "published",
                format!("https://{host}/playback/presentation/2.3/{record_id}"),
                vec![
                    ("shapes.svg", b"<svg/>" as &[u8]),
                    ("video/webcams.webm", b"webm"),
                    ("presentation/deck/slide-1.png", b"png"),
                ],
            ),
            "video" => (
                "available",
                format!("https://{host}/playback/video/{record_id}/"),
                vec![("video-0.m4v", b"m4v" as &[u8])],
            ),
            "podcast" => (
                "published",
                format!("https://{host}/podcast/{record_id}/audio.ogg"),
                vec![("audio.ogg", b"ogg" as &[u8])],
            ),
            "screenshare" => (
                "available",
                format!("https://{host}/recording/screenshare/{record_id}/"),
                vec![
                    ("index.html", b"<html/>" as &[u8]),
                    ("screenshare-0.webm", b"webm"),
                ],
            ),
            other => (
                "published",
                format!("https://{host}/playback/{other}/{record_id}/"),
                vec![("index.html", b"<html/>" as &[u8])],
            ),
        };
        Self {
            format: format.to_owned(),
            state: state.to_owned(),
            published: true,
            link,
            duration_ms: 1_830_000,
            images: Vec::new(),
            files: files
                .into_iter()
                .map(|(name, data)| (name.to_owned(), data.to_vec()))
                .collect(),
        }
    }

    /// Add `count` preview images (`thumb-1.png` …) on `host`.
    pub fn with_images(mut self, host: &str, record_id: &str, count: usize) -> Self {
        for n in 1..=count {
            self.images.push(FixtureImage {
                url: format!(
                    "https://{host}/presentation/{record_id}/presentation/deck/thumbnails/thumb-{n}.png"
                ),
                width: 176,
                height: 136,
                alt: format!("Slide {n}"),
            });
        }
        self
    }
}

/// A recording: what every format's `metadata.xml` shares, and the formats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixtureRecording {
    /// `id` and the second-level directory.
    pub record_id: String,
    /// `meta/meetingId`.
    pub meeting_id: String,
    /// `meta/meetingName`.
    pub name: String,
    /// `start_time` (epoch ms).
    pub start_ms: i64,
    /// `end_time` (epoch ms).
    pub end_ms: i64,
    /// `participants`.
    pub participants: u32,
    /// Further `meta` children, in order.
    pub meta: Vec<(String, String)>,
    /// The formats.
    pub formats: Vec<FixtureFormat>,
}

impl FixtureRecording {
    /// A recording of `meeting_id` started at `start_ms`, with a record id in BBB's shape
    /// (`<40 hex>-<start ms>`), no formats yet.
    pub fn new(meeting_id: &str, start_ms: i64) -> Self {
        Self {
            record_id: format!("{}-{start_ms}", pseudo_sha1(meeting_id)),
            meeting_id: meeting_id.to_owned(),
            name: format!("Meeting {meeting_id}"),
            start_ms,
            end_ms: start_ms + 1_800_000,
            participants: 3,
            meta: vec![
                ("bbb-origin".to_owned(), "Greenlight".to_owned()),
                ("gl-listed".to_owned(), "false".to_owned()),
            ],
            formats: Vec::new(),
        }
    }

    /// Add a format built by [`FixtureFormat::new`] on `bbb.example.com`.
    pub fn with_format(mut self, format: &str) -> Self {
        let format = FixtureFormat::new(format, "bbb.example.com", &self.record_id);
        self.formats.push(format);
        self
    }

    /// The `metadata.xml` of one of this recording's formats.
    pub fn metadata_xml(&self, format: &FixtureFormat) -> String {
        let mut meta = Element::new("meta")
            .with_child(Element::text_element("isBreakout", "false"))
            .with_child(Element::text_element("meetingName", &self.name))
            .with_child(Element::text_element("meetingId", &self.meeting_id));
        for (key, value) in &self.meta {
            meta.push_child(Element::text_element(key, value));
        }
        let mut playback = Element::new("playback")
            .with_child(Element::text_element("format", &format.format))
            .with_child(Element::text_element("link", &format.link))
            .with_child(Element::text_element("processing_time", "7177"))
            .with_child(Element::text_element(
                "duration",
                format.duration_ms.to_string(),
            ));
        if !format.images.is_empty() {
            let mut images = Element::new("images");
            for image in &format.images {
                images.push_child(
                    Element::text_element("image", &image.url)
                        .with_attribute("width", image.width.to_string())
                        .with_attribute("height", image.height.to_string())
                        .with_attribute("alt", &image.alt),
                );
            }
            playback.push_child(
                Element::new("extensions").with_child(Element::new("preview").with_child(images)),
            );
        }
        playback.push_child(Element::text_element("size", "1048576"));
        let root = Element::new("recording")
            .with_child(Element::text_element("id", &self.record_id))
            .with_child(Element::text_element("state", &format.state))
            .with_child(Element::text_element(
                "published",
                format.published.to_string(),
            ))
            .with_child(Element::text_element(
                "start_time",
                self.start_ms.to_string(),
            ))
            .with_child(Element::text_element("end_time", self.end_ms.to_string()))
            .with_child(Element::text_element(
                "participants",
                self.participants.to_string(),
            ))
            .with_child(
                Element::new("meeting")
                    .with_attribute("id", &self.record_id)
                    .with_attribute("externalId", &self.meeting_id)
                    .with_attribute("name", &self.name)
                    .with_attribute("breakout", "false"),
            )
            .with_child(meta)
            .with_child(playback)
            .with_child(Element::text_element("raw_size", "2097152"));
        xml::write(&root)
    }

    /// The archive: `<format>/<recordID>/` directory entries, `metadata.xml` and each format's files.
    pub fn tar_bytes(&self) -> Vec<u8> {
        let mut entries: Vec<(String, Option<Vec<u8>>)> = Vec::new();
        for format in &self.formats {
            let base = format!("{}/{}", format.format, self.record_id);
            entries.push((format!("{}/", format.format), None));
            entries.push((format!("{base}/"), None));
            entries.push((
                format!("{base}/metadata.xml"),
                Some(self.metadata_xml(format).into_bytes()),
            ));
            for (name, data) in &format.files {
                let mut dir = String::new();
                for part in name
                    .split('/')
                    .collect::<Vec<_>>()
                    .split_last()
                    .map_or(&[][..], |(_, d)| d)
                {
                    dir.push_str(part);
                    dir.push('/');
                    entries.push((format!("{base}/{dir}"), None));
                }
                entries.push((format!("{base}/{name}"), Some(data.clone())));
            }
        }
        build_tar(&entries)
    }

    /// Write the archive into `spool` as `<recordID>.tar` the way rsync does (a hidden temporary file renamed at
    /// the end). Returns its path.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_tar(&self, spool: &Path) -> io::Result<PathBuf> {
        write_atomically(spool, &format!("{}.tar", self.record_id), &self.tar_bytes())
    }
}

/// Write `bytes` to `<dir>/<name>` through a hidden temporary file and a rename.
///
/// # Errors
/// When the file cannot be written.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".{name}.{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&temporary, bytes)?;
    let path = dir.join(name);
    std::fs::rename(&temporary, &path)?;
    Ok(path)
}

/// A tar of directories (`None`, path ending in `/`) and files, in order, deduplicating repeated directories.
pub fn build_tar(entries: &[(String, Option<Vec<u8>>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut seen = std::collections::HashSet::new();
    for (path, data) in entries {
        if !seen.insert(path.clone()) {
            continue;
        }
        let mut header = tar::Header::new_gnu();
        header.set_mtime(1_700_000_000);
        match data {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                // Writing to a Vec cannot fail, and the paths are built here (relative, no `..`).
                let _ = builder.append_data(&mut header, path, io::empty());
            }
            Some(data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(data.len() as u64);
                let _ = builder.append_data(&mut header, path, data.as_slice());
            }
        }
    }
    builder.into_inner().unwrap_or_default()
}

/// 40 hex digits derived from `input` (FNV-1a, repeated): shaped like BBB's SHA-1 meeting hash, without a SHA-1
/// dependency. Not a cryptographic hash.
fn pseudo_sha1(input: &str) -> String {
    let mut out = String::with_capacity(40);
    let mut seed: u64 = 0xcbf2_9ce4_8422_2325;
    while out.len() < 40 {
        for byte in input.bytes() {
            seed ^= u64::from(byte);
            seed = seed.wrapping_mul(0x0100_0000_01b3);
        }
        seed = seed.wrapping_add(out.len() as u64 + 1);
        out.push_str(&format!("{seed:016x}"));
    }
    out.truncate(40);
    out
}

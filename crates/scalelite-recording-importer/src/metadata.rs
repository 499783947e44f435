//! `metadata.xml`: what the importer reads from one format's metadata (`docs/compatibility.md#importer-metadata`), and
//! how the formats of one recording are merged into the row the store keeps.
//!
//! Read: `id`, `meta/meetingId` (→ meeting_id), `meta/meetingName` (→ name), `published` (true only for the text
//! `true`), `participants`, `state` (`available` → `published`), `start_time`/`end_time` (epoch ms), every other
//! `meta` child except `isBreakout` (→ metadata rows), and `playback/{format, link, duration}` plus the preview
//! images. Ignored: `processing_time`, `size`, `raw_size`, `meeting`, `breakout*`. Elements are found by name, so
//! their order does not matter.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use scalelite_core::bbb::xml::{self, Element, XmlError};
use scalelite_core::domain::{PlaybackFormat, RECORDING_STATES, Recording, Thumbnail};

/// `meta` children that are recording columns or not kept at all, rather than metadata rows.
const NOT_METADATA: [&str; 3] = ["isBreakout", "meetingId", "meetingName"];

/// What one `<format>/<recordID>/metadata.xml` says.
#[derive(Clone, Debug, PartialEq)]
pub struct FormatMetadata {
    /// `recording/id`, trimmed.
    pub record_id: String,
    /// `meta/meetingId`: the external meeting id.
    pub meeting_id: String,
    /// `meta/meetingName`, verbatim, when present.
    pub name: Option<String>,
    /// `published == "true"`, when the element is present.
    pub published: Option<bool>,
    /// `participants`, when present.
    pub participants: Option<i32>,
    /// `state` with `available` mapped to `published`, when present.
    pub state: Option<String>,
    /// `start_time` (epoch milliseconds), when present.
    pub starttime: Option<DateTime<Utc>>,
    /// `end_time` (epoch milliseconds), when present.
    pub endtime: Option<DateTime<Utc>>,
    /// Every `meta` child except `isBreakout`, `meetingId` and `meetingName`, in document order, one per key (a
    /// repeated key keeps its first position and its last value).
    pub metadata: Vec<(String, String)>,
    /// The playback format (`processing_time` is not imported).
    pub playback: PlaybackFormat,
}

/// Why a `metadata.xml` cannot be imported (that format is skipped).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MetadataError {
    /// Not a well-formed XML document.
    #[error("metadata.xml is not valid XML: {0}")]
    Xml(#[from] XmlError),
    /// The root element is not `<recording>`.
    #[error("metadata.xml has root element <{0}>, expected <recording>")]
    WrongRoot(String),
    /// A required element is missing or empty.
    #[error("metadata.xml has no {0}")]
    Missing(&'static str),
    /// An element holds a value of the wrong kind.
    #[error("metadata.xml has an invalid {field}: {value:?}")]
    Invalid {
        /// The element, as a path below `<recording>`.
        field: &'static str,
        /// The offending value (truncated).
        value: String,
    },
}

/// Parse one `metadata.xml`.
///
/// # Errors
/// [`MetadataError`] when the document is not XML, is not a `<recording>`, lacks `id`, `meta/meetingId`,
/// `playback/format` or `playback/link`, or holds a value of the wrong kind (a number that is not one, a state
/// the store does not accept, a link that is not a URL or an absolute path).
pub fn parse_metadata(bytes: &[u8]) -> Result<FormatMetadata, MetadataError> {
    let root = xml::parse(bytes)?;
    if root.name != "recording" {
        return Err(MetadataError::WrongRoot(root.name));
    }
    let record_id = required(&root, "id", "id")?;
    let meta = root.child("meta");
    let meeting_id = meta
        .and_then(|m| m.child_text("meetingId"))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or(MetadataError::Missing("meta/meetingId"))?;
    let name = meta.and_then(|m| m.child_text("meetingName"));
    let published = root.child_text("published").map(|t| t.trim() == "true");
    let participants = optional_number(&root, "participants", "participants")?;
    let state = match root.child_text("state") {
        None => None,
        Some(state) => Some(parse_state(state.trim())?),
    };
    let starttime = optional_time(&root, "start_time")?;
    let endtime = optional_time(&root, "end_time")?;
    let metadata = meta.map(metadata_rows).unwrap_or_default();

    let playback = root
        .child("playback")
        .ok_or(MetadataError::Missing("playback"))?;
    let format = required(playback, "format", "playback/format")?;
    let link = playback
        .child_text("link")
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or(MetadataError::Missing("playback/link"))?;
    let url = path_and_query(&link).ok_or_else(|| invalid("playback/link", &link))?;
    let length = playback
        .child_text("duration")
        .and_then(|d| duration_minutes(d.trim()));
    let thumbnails = playback
        .find_all("extensions/preview/images/image")
        .into_iter()
        .enumerate()
        .filter_map(|(sequence, image)| thumbnail(image, sequence))
        .collect();

    Ok(FormatMetadata {
        record_id,
        meeting_id,
        name,
        published,
        participants,
        state,
        starttime,
        endtime,
        metadata,
        playback: PlaybackFormat {
            format,
            url,
            length,
            processing_time: None,
            thumbnails,
        },
    })
}

/// How a (re-)import sets the flags the XML does not decide alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublishPolicy {
    /// `RECORDING_IMPORT_UNPUBLISHED`: new imports are unpublished (unless an API call decided before).
    pub import_unpublished: bool,
    /// `PROTECTED_RECORDINGS_ENABLED`: the `protected` flag every (re-)import writes.
    pub protected: bool,
}

/// Merge the formats of one recording (in format-name order, a later one overriding what it states) onto the
/// stored row, and decide its published flag.
///
/// Published: when an API call has set it before (`publish_updated`), the stored flag wins, and a `published` or
/// `unpublished` state follows it (this is the intent of the original, which its re-import loses, see
/// `docs/compatibility.md#importer-reimport`). Otherwise `RECORDING_IMPORT_UNPUBLISHED` makes it false, else the XML's
/// `<published>` (the stored value, or false for a new recording, when no format has the element). Kept from the
/// stored row: `publish_updated`, `deleted_at`, and columns the XML leaves out. `protected` is the current
/// `PROTECTED_RECORDINGS_ENABLED`, as in the original. Metadata keys absent from the XML are kept by the store's
/// upsert; only the XML's keys are passed.
///
/// `formats` must not be empty and must all carry the same record id.
pub fn merge_recording(
    formats: &[&FormatMetadata],
    stored: Option<&Recording>,
    policy: PublishPolicy,
) -> Recording {
    let mut recording = match stored {
        Some(stored) => Recording {
            metadata: Vec::new(),
            playback_formats: Vec::new(),
            ..stored.clone()
        },
        None => Recording {
            record_id: String::new(),
            meeting_id: String::new(),
            name: None,
            published: false,
            participants: None,
            state: None,
            starttime: None,
            endtime: None,
            deleted_at: None,
            protected: false,
            publish_updated: false,
            metadata: Vec::new(),
            playback_formats: Vec::new(),
        },
    };
    for format in formats {
        recording.record_id.clone_from(&format.record_id);
        recording.meeting_id.clone_from(&format.meeting_id);
        if let Some(name) = &format.name {
            recording.name = Some(name.clone());
        }
        if let Some(published) = format.published {
            recording.published = published;
        }
        if let Some(participants) = format.participants {
            recording.participants = Some(participants);
        }
        if let Some(state) = &format.state {
            recording.state = Some(state.clone());
        }
        if format.starttime.is_some() {
            recording.starttime = format.starttime;
        }
        if format.endtime.is_some() {
            recording.endtime = format.endtime;
        }
        upsert_pairs(&mut recording.metadata, format.metadata.iter().cloned());
        recording.playback_formats.push(format.playback.clone());
    }
    recording
        .playback_formats
        .sort_by(|a, b| a.format.cmp(&b.format));

    match stored {
        Some(stored) if stored.publish_updated => {
            recording.published = stored.published;
            if matches!(
                recording.state.as_deref(),
                Some("published" | "unpublished")
            ) {
                let state = if stored.published {
                    "published"
                } else {
                    "unpublished"
                };
                recording.state = Some(state.to_owned());
            }
        }
        _ if policy.import_unpublished => recording.published = false,
        _ => {}
    }
    recording.protected = policy.protected;
    recording
}

fn required(element: &Element, name: &str, field: &'static str) -> Result<String, MetadataError> {
    element
        .child_text(name)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or(MetadataError::Missing(field))
}

fn optional_number(
    element: &Element,
    name: &str,
    field: &'static str,
) -> Result<Option<i32>, MetadataError> {
    match element.child_text(name) {
        None => Ok(None),
        Some(text) => {
            let text = text.trim();
            text.parse().map(Some).map_err(|_| invalid(field, text))
        }
    }
}

fn optional_time(
    element: &Element,
    field: &'static str,
) -> Result<Option<DateTime<Utc>>, MetadataError> {
    match element.child_text(field) {
        None => Ok(None),
        Some(text) => {
            let text = text.trim();
            text.parse::<i64>()
                .ok()
                .and_then(DateTime::from_timestamp_millis)
                .map(Some)
                .ok_or_else(|| invalid(field, text))
        }
    }
}

/// The state column: BBB's `available` (video, screenshare) is `published`; anything the original's model would
/// refuse is an error.
fn parse_state(state: &str) -> Result<String, MetadataError> {
    let state = if state == "available" {
        "published"
    } else {
        state
    };
    if RECORDING_STATES.contains(&state) {
        Ok(state.to_owned())
    } else {
        Err(invalid("state", state))
    }
}

fn metadata_rows(meta: &Element) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    upsert_pairs(
        &mut rows,
        meta.elements()
            .filter(|child| !NOT_METADATA.contains(&child.name.as_str()))
            .map(|child| (child.name.clone(), child.text())),
    );
    rows
}

/// Adds `pairs` to `rows`: a key already there keeps its first position and takes the last value. Indexed, so it
/// stays linear in the number of pairs (a hostile `metadata.xml` may hold hundreds of thousands of `meta` children).
fn upsert_pairs(
    rows: &mut Vec<(String, String)>,
    pairs: impl IntoIterator<Item = (String, String)>,
) {
    let mut index: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    for (i, (key, _)) in rows.iter().enumerate() {
        index.entry(key.clone()).or_insert(i);
    }
    for (key, value) in pairs {
        match index.get(&key) {
            Some(&i) => rows[i].1 = value,
            None => {
                index.insert(key.clone(), rows.len());
                rows.push((key, value));
            }
        }
    }
}

/// `duration` in milliseconds → whole minutes, rounded half away from zero (Ruby's `round`). Not a number → none.
fn duration_minutes(text: &str) -> Option<i32> {
    let ms: f64 = text.parse().ok().filter(|ms: &f64| ms.is_finite())?;
    let minutes = (ms / 60_000.0).round();
    (minutes >= f64::from(i32::MIN) && minutes <= f64::from(i32::MAX)).then_some(minutes as i32)
}

/// One preview image: the URL's path (an image without a usable URL is left out), width, height and alt.
fn thumbnail(image: &Element, sequence: usize) -> Option<Thumbnail> {
    let text = image.text();
    let url = url_path(text.trim())?;
    let dimension = |name: &str| image.attribute(name).and_then(|v| v.trim().parse().ok());
    Some(Thumbnail {
        width: dimension("width"),
        height: dimension("height"),
        alt: image.attribute("alt").map(str::to_owned),
        url,
        sequence: i32::try_from(sequence).ok()?,
    })
}

/// The path and query of an absolute URL (`https://bbb/playback/x?y#z` → `/playback/x?y`), or of an absolute path
/// (`/playback/x?y#z` → `/playback/x?y`). Anything else is `None`.
pub fn path_and_query(link: &str) -> Option<String> {
    let (path, query) = split_url(link)?;
    Some(match query {
        Some(query) => format!("{path}?{query}"),
        None => path,
    })
}

fn url_path(link: &str) -> Option<String> {
    split_url(link).map(|(path, _)| path)
}

fn split_url(link: &str) -> Option<(String, Option<String>)> {
    if link.starts_with('/') && !link.starts_with("//") {
        let without_fragment = link.split('#').next().unwrap_or(link);
        let (path, query) = match without_fragment.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (without_fragment, None),
        };
        return Some((path.to_owned(), query));
    }
    let url = url::Url::parse(link).ok()?;
    if url.cannot_be_a_base() {
        return None;
    }
    Some((url.path().to_owned(), url.query().map(str::to_owned)))
}

fn invalid(field: &'static str, value: &str) -> MetadataError {
    let mut value = value.to_owned();
    if value.len() > 80 {
        let mut end = 80;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
        value.push('…');
    }
    MetadataError::Invalid { field, value }
}

#[cfg(test)]
mod tests;

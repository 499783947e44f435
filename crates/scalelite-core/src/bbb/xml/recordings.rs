//! The `getRecordings` answer (`docs/compatibility.md#api-getrecordings`), built from stored recordings.

use crate::bbb::xml::dom::{Element, is_valid_name};
use crate::bbb::xml::response::{bool_text, success};
use crate::domain::{PlaybackFormat, Recording, Thumbnail};

/// The message that goes with `noRecordings` (the original's wording, grammar included).
pub const NO_RECORDINGS_MESSAGE: &str = "There are not recordings for the meetings";

/// What [`recordings`] needs besides the recordings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordingsXmlOptions {
    /// Write `<protected>` for every recording (`PROTECTED_RECORDINGS_ENABLED=true`).
    pub show_protected: bool,
    /// Scheme and host of the request, e.g. `https://lb.example.com` (port only if non-standard, no trailing
    /// slash). Prefixed to every thumbnail path.
    pub url_prefix: String,
}

/// The `getRecordings` answer for `recordings`, in the given order.
///
/// Per recording: `recordID`, `meetingID`, `internalMeetingID` (= record id), `name` (empty if none), `published`,
/// `protected` (only with `options.show_protected`), `state` (omitted if none), `startTime`/`endTime` (ms since
/// the epoch, 0 if none), `participants` (omitted if none), `metadata`, `playback`. Metadata entries are written
/// in the given order, one element per key; an empty or whitespace-only value becomes an empty CDATA section
/// (some integrations need a node inside). A key that is not a valid XML name ([`is_valid_name`]; it can only
/// come from an `updateRecordings` `meta_` parameter) is **left out**, since writing it would break the whole
/// document. Each format has `type`, `url` (whatever `playback_url` returns, so the caller decides between the
/// plain and the protected token URL), `length` (empty if none), `processingTime` (omitted if none) and, only when
/// the recording is not protected and the format has thumbnails, `preview/images/image` with the attributes `alt`,
/// `width`, `height` (each omitted if none) and the text `options.url_prefix` + thumbnail path.
///
/// With no recording the answer is the same as [`no_recordings`].
pub fn recordings(
    recordings: &[Recording],
    options: &RecordingsXmlOptions,
    mut playback_url: impl FnMut(&Recording, &PlaybackFormat) -> String,
) -> Element {
    if recordings.is_empty() {
        return no_recordings();
    }
    let mut list = Element::new("recordings");
    for recording in recordings {
        list.push_child(recording_element(recording, options, &mut playback_url));
    }
    success().with_child(list)
}

/// SUCCESS, an empty `<recordings/>`, `messageKey` noRecordings and [`NO_RECORDINGS_MESSAGE`]: the answer for no
/// match and for `RECORDING_DISABLED=true`.
pub fn no_recordings() -> Element {
    success()
        .with_child(Element::new("recordings"))
        .with_child(Element::text_element("messageKey", "noRecordings"))
        .with_child(Element::text_element("message", NO_RECORDINGS_MESSAGE))
}

fn recording_element(
    recording: &Recording,
    options: &RecordingsXmlOptions,
    playback_url: &mut impl FnMut(&Recording, &PlaybackFormat) -> String,
) -> Element {
    let mut element = Element::new("recording")
        .with_child(Element::text_element("recordID", &recording.record_id))
        .with_child(Element::text_element("meetingID", &recording.meeting_id))
        .with_child(Element::text_element(
            "internalMeetingID",
            &recording.record_id,
        ))
        .with_child(Element::text_element(
            "name",
            recording.name.as_deref().unwrap_or_default(),
        ))
        .with_child(Element::text_element(
            "published",
            bool_text(recording.published),
        ));
    if options.show_protected {
        element.push_child(Element::text_element(
            "protected",
            bool_text(recording.protected),
        ));
    }
    if let Some(state) = &recording.state {
        element.push_child(Element::text_element("state", state));
    }
    let millis =
        |time: Option<chrono::DateTime<chrono::Utc>>| time.map_or(0, |t| t.timestamp_millis());
    element.push_child(Element::text_element(
        "startTime",
        millis(recording.starttime).to_string(),
    ));
    element.push_child(Element::text_element(
        "endTime",
        millis(recording.endtime).to_string(),
    ));
    if let Some(participants) = recording.participants {
        element.push_child(Element::text_element(
            "participants",
            participants.to_string(),
        ));
    }

    let mut metadata = Element::new("metadata");
    for (key, value) in &recording.metadata {
        if !is_valid_name(key) {
            continue;
        }
        let entry = if value.trim().is_empty() {
            Element::new(key.as_str()).with_cdata("")
        } else {
            Element::text_element(key.as_str(), value)
        };
        metadata.push_child(entry);
    }
    element.push_child(metadata);

    let mut playback = Element::new("playback");
    for format in &recording.playback_formats {
        playback.push_child(format_element(recording, format, options, playback_url));
    }
    element.push_child(playback);
    element
}

fn format_element(
    recording: &Recording,
    format: &PlaybackFormat,
    options: &RecordingsXmlOptions,
    playback_url: &mut impl FnMut(&Recording, &PlaybackFormat) -> String,
) -> Element {
    let mut element = Element::new("format")
        .with_child(Element::text_element("type", &format.format))
        .with_child(Element::text_element(
            "url",
            playback_url(recording, format),
        ))
        .with_child(Element::text_element(
            "length",
            format.length.map(|l| l.to_string()).unwrap_or_default(),
        ));
    if let Some(processing_time) = format.processing_time {
        element.push_child(Element::text_element(
            "processingTime",
            processing_time.to_string(),
        ));
    }
    if !recording.protected && !format.thumbnails.is_empty() {
        let mut images = Element::new("images");
        for thumbnail in &format.thumbnails {
            images.push_child(image_element(thumbnail, options));
        }
        element.push_child(Element::new("preview").with_child(images));
    }
    element
}

fn image_element(thumbnail: &Thumbnail, options: &RecordingsXmlOptions) -> Element {
    let mut image = Element::new("image");
    if let Some(alt) = &thumbnail.alt {
        image.push_attribute("alt", alt);
    }
    if let Some(width) = thumbnail.width {
        image.push_attribute("width", width.to_string());
    }
    if let Some(height) = thumbnail.height {
        image.push_attribute("height", height.to_string());
    }
    image.with_text(format!("{}{}", options.url_prefix, thumbnail.url))
}

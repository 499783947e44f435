//! What BBB servers answer: classification (`docs/compatibility.md#api-outbound-requests`) and typed views for the
//! poller and the API.

use crate::bbb::xml::dom::Element;
use crate::bbb::xml::parse::{XmlError, parse, parse_pruned};

/// A BBB answer whose `returncode` is `SUCCESS`. `root` is the `<response>` element, kept whole so that proxied
/// calls can re-emit it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BbbResponse {
    /// The `<response>` element.
    pub root: Element,
}

/// Why a BBB answer is not a success.
///
/// Upstream answers the client `internalError` "Response did not include returncode" for both `Malformed` and
/// `MissingReturncode` (its lenient parser turns junk into an empty document), and re-raises BBB's messageKey and
/// message for `Failed` (the endpoint's generic `internalError` when either is `None`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BbbResponseError {
    /// Not an XML document: empty, junk, HTML, truncated, not UTF-8, too deep.
    #[error("BBB response is not XML: {0}")]
    Malformed(#[from] XmlError),
    /// XML, but without `/response/returncode`.
    #[error("Response did not include returncode")]
    MissingReturncode,
    /// `returncode` is not `SUCCESS`.
    #[error(
        "BBB answered FAILED: {key} ({message})",
        key = message_key.as_deref().unwrap_or("<no messageKey>"),
        message = message.as_deref().unwrap_or("<no message>")
    )]
    Failed {
        /// The text of `<messageKey>`: `None` when the element is absent, `Some("")` when it is empty.
        message_key: Option<String>,
        /// The text of `<message>`: `None` when the element is absent, `Some("")` when it is empty.
        message: Option<String>,
    },
}

impl BbbResponse {
    /// Parse and classify a BBB server's answer body (its HTTP status does not matter).
    ///
    /// The `returncode` text is compared with surrounding whitespace trimmed (upstream compares it exactly; BBB
    /// never pads it). `messageKey` and `message` of a FAILED answer are returned exactly as sent.
    pub fn parse(body: &[u8]) -> Result<BbbResponse, BbbResponseError> {
        Self::classify(parse(body)?)
    }

    /// [`BbbResponse::parse`], keeping only the elements `keep` accepts (see [`parse_pruned`]); it must accept
    /// `returncode`, `messageKey` and `message` under the root for the classification to be the same. Checked and
    /// classified exactly as [`BbbResponse::parse`]: the same bytes fail the same way. See [`for_summaries`] and
    /// [`for_version`].
    pub fn parse_pruned(
        body: &[u8],
        keep: impl Fn(&[Element], &str) -> bool,
    ) -> Result<BbbResponse, BbbResponseError> {
        Self::classify(parse_pruned(body, keep)?)
    }

    fn classify(root: Element) -> Result<BbbResponse, BbbResponseError> {
        if root.name != "response" {
            return Err(BbbResponseError::MissingReturncode);
        }
        let Some(returncode) = root.child_text("returncode") else {
            return Err(BbbResponseError::MissingReturncode);
        };
        if returncode.trim() != "SUCCESS" {
            return Err(BbbResponseError::Failed {
                message_key: root.child_text("messageKey"),
                message: root.child_text("message"),
            });
        }
        Ok(BbbResponse { root })
    }
}

/// The facts the poller and the load balancer read from one `getMeetings` `<meeting>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MeetingSummary {
    /// `meetingID`, the client's id (empty if absent).
    pub meeting_id: String,
    /// `meetingName`.
    pub meeting_name: String,
    /// `internalMeetingID`.
    pub internal_meeting_id: String,
    /// `participantCount` (0 if absent or not a number).
    pub participant_count: i64,
    /// `moderatorCount` (0 if absent or not a number).
    pub moderator_count: i64,
    /// `videoCount` (0 if absent or not a number).
    pub video_count: i64,
    /// `createTime`, ms since the epoch (0 if absent or not a number).
    pub create_time_ms: i64,
    /// `isBreakout` is `true`.
    pub is_breakout: bool,
    /// `running` is `true`.
    pub running: bool,
    /// `metadata/tenant-id`, when present and not blank.
    pub tenant_id: Option<String>,
}

/// One [`MeetingSummary`] per `meetings/meeting` of a `<response>` (`root`), in document order. Ids and the name
/// are taken verbatim; numbers, flags and the tenant id are read with surrounding whitespace trimmed.
pub fn meeting_summaries(root: &Element) -> Vec<MeetingSummary> {
    root.find_all("meetings/meeting")
        .into_iter()
        .map(meeting_summary)
        .collect()
}

/// The `running` flag of an `isMeetingRunning` `<response>`: `None` without the element, otherwise whether it
/// says `true`.
pub fn running(root: &Element) -> Option<bool> {
    root.child_text("running").map(|text| text.trim() == "true")
}

/// A `keep` of [`BbbResponse::parse_pruned`] for [`meeting_summaries`]: the classification (`returncode`,
/// `messageKey`, `message`) and, of each `meetings/meeting`, the elements a [`MeetingSummary`] is read from. The
/// rest of a `getMeetings` answer (attendees above all) is checked but not built.
pub fn for_summaries(ancestors: &[Element], name: &str) -> bool {
    match ancestors {
        [_] => matches!(name, "returncode" | "messageKey" | "message" | "meetings"),
        [_, meetings] => meetings.name == "meetings" && name == "meeting",
        [_, meetings, meeting] => {
            meetings.name == "meetings"
                && meeting.name == "meeting"
                && matches!(
                    name,
                    "meetingID"
                        | "meetingName"
                        | "internalMeetingID"
                        | "participantCount"
                        | "moderatorCount"
                        | "videoCount"
                        | "createTime"
                        | "isBreakout"
                        | "running"
                        | "metadata"
                )
        }
        [_, meetings, meeting, metadata] => {
            meetings.name == "meetings"
                && meeting.name == "meeting"
                && metadata.name == "metadata"
                && name == "tenant-id"
        }
        _ => false,
    }
}

/// A `keep` of [`BbbResponse::parse_pruned`] for [`bbb_version`]: the classification and `bbbVersion`.
pub fn for_version(ancestors: &[Element], name: &str) -> bool {
    matches!(ancestors, [_])
        && matches!(name, "returncode" | "messageKey" | "message" | "bbbVersion")
}

/// `bbbVersion` of an `index` `<response>` (BBB 3.0+), when present and not blank.
pub fn bbb_version(root: &Element) -> Option<String> {
    trimmed_text(root, "bbbVersion")
}

/// Copies of every `meetings/meeting` element of a `<response>`, to aggregate into Scalelite's own answer.
pub fn meeting_elements(root: &Element) -> Vec<Element> {
    root.find_all("meetings/meeting")
        .into_iter()
        .cloned()
        .collect()
}

impl MeetingSummary {
    /// The summary of one `<meeting>` element (see [`meeting_summaries`] for the rules).
    pub fn from_element(meeting: &Element) -> MeetingSummary {
        meeting_summary(meeting)
    }
}

fn meeting_summary(meeting: &Element) -> MeetingSummary {
    let text = |name: &str| meeting.child_text(name).unwrap_or_default();
    let number = |name: &str| text(name).trim().parse::<i64>().unwrap_or(0);
    let flag = |name: &str| text(name).trim() == "true";
    MeetingSummary {
        meeting_id: text("meetingID"),
        meeting_name: text("meetingName"),
        internal_meeting_id: text("internalMeetingID"),
        participant_count: number("participantCount"),
        moderator_count: number("moderatorCount"),
        video_count: number("videoCount"),
        create_time_ms: number("createTime"),
        is_breakout: flag("isBreakout"),
        running: flag("running"),
        tenant_id: meeting
            .child("metadata")
            .and_then(|m| trimmed_text(m, "tenant-id")),
    }
}

fn trimmed_text(element: &Element, name: &str) -> Option<String> {
    element
        .child_text(name)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

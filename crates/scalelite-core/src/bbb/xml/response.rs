//! The small response documents the API answers itself (`docs/compatibility.md#api-responses`).

use crate::bbb::xml::dom::Element;

/// The message of the `noMeetings` answer.
pub const NO_MEETINGS_MESSAGE: &str = "no meetings were found on this server";

/// `<response>` + `<returncode>SUCCESS</returncode>`, the start of every successful answer.
pub(crate) fn success() -> Element {
    Element::new("response").with_child(Element::text_element("returncode", "SUCCESS"))
}

/// An error: `returncode` FAILED, `messageKey`, `message` (empty strings give empty elements).
pub fn failed(message_key: &str, message: &str) -> Element {
    Element::new("response")
        .with_child(Element::text_element("returncode", "FAILED"))
        .with_child(Element::text_element("messageKey", message_key))
        .with_child(Element::text_element("message", message))
}

/// The `index` answer: SUCCESS, `version` 2.0, then `build` when `build` is given and not empty.
pub fn index(build: Option<&str>) -> Element {
    let mut response = success().with_child(Element::text_element("version", "2.0"));
    if let Some(build) = build.filter(|b| !b.is_empty()) {
        response.push_child(Element::text_element("build", build));
    }
    response
}

/// The `noMeetings` answer, in the original's element order: returncode, messageKey, message, then an empty
/// `<meetings/>`.
pub fn no_meetings() -> Element {
    success()
        .with_child(Element::text_element("messageKey", "noMeetings"))
        .with_child(Element::text_element("message", NO_MEETINGS_MESSAGE))
        .with_child(Element::new("meetings"))
}

/// The aggregated `getMeetings` answer: SUCCESS and one `<meetings>` holding the given `<meeting>` elements
/// verbatim, in order. With no meeting it is [`no_meetings`], as the original answers, so callers need not check.
pub fn meetings(meetings: Vec<Element>) -> Element {
    if meetings.is_empty() {
        return no_meetings();
    }
    let mut list = Element::new("meetings");
    for meeting in meetings {
        list.push_child(meeting);
    }
    success().with_child(list)
}

/// The local `isMeetingRunning` answer for an unknown meeting: SUCCESS, `running` false.
pub fn not_running() -> Element {
    success().with_child(Element::text_element("running", "false"))
}

/// The `publishRecordings` answer: SUCCESS, `published` echoing the requested value.
pub fn published(published: bool) -> Element {
    success().with_child(Element::text_element("published", bool_text(published)))
}

/// The `updateRecordings` answer: SUCCESS, `updated` true or false.
pub fn updated(updated: bool) -> Element {
    success().with_child(Element::text_element("updated", bool_text(updated)))
}

/// The `deleteRecordings` answer: SUCCESS, `deleted` true.
pub fn deleted() -> Element {
    success().with_child(Element::text_element("deleted", "true"))
}

pub(crate) fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

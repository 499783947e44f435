//! The BBB API calls a fake server answers: routing, checksum and content-type checks, and each call's logic over
//! the in-memory [`State`]. No IO here; `server` feeds requests in and writes the [`Reply`] out.

use axum::body::Bytes;
use chrono::{TimeZone, Utc};

use crate::checksum;
use crate::model::{
    Attendee, LoggedRequest, Meeting, Session, State, now_ms, random_alphanumeric, set_pair,
};
use crate::xml::{XmlWriter, escape, is_xml_name};

/// The calls this fake implements; anything else under `/bigbluebutton/api/` is `unsupportedRequest`.
const KNOWN_CALLS: &[&str] = &[
    "create",
    "join",
    "end",
    "isMeetingRunning",
    "getMeetingInfo",
    "getMeetings",
    "insertDocument",
];

const NOT_FOUND_MESSAGE: &str = "We could not find a meeting with that meeting ID";

/// A request as it came off the wire, reduced to what the API logic needs.
#[derive(Debug)]
pub(crate) struct RawRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) content_type: Option<String>,
    /// The Host header, used to build the join redirect.
    pub(crate) host: String,
    pub(crate) body: Bytes,
}

/// Where a path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/`, `/bigbluebutton/api` or `/bigbluebutton/api/`.
    Index,
    /// `/bigbluebutton/api/<call>`.
    Call(String),
    /// `/html5client/…`, where the join redirect points.
    Client,
    /// Anything else (404).
    Other,
}

/// What the API logic answers; `server` turns it into an HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// 200 `text/xml`.
    Xml(String),
    /// 302 to this location.
    Redirect(String),
    /// 200 `text/html`.
    Html(String),
    /// 404 `text/plain`.
    NotFound,
}

/// A request after parsing: route, merged parameters, checksum verdict.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) route: Route,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) checksum_ok: Option<bool>,
    /// The body was form-encoded (its parameters are in `params`).
    pub(crate) form_body: bool,
}

/// Map a URL path to a route.
pub(crate) fn route(path: &str) -> Route {
    match path {
        "/" | "/bigbluebutton/api" | "/bigbluebutton/api/" => Route::Index,
        _ => match path.strip_prefix("/bigbluebutton/api/") {
            Some(call) if !call.contains('/') => Route::Call(call.to_owned()),
            _ if path.starts_with("/html5client/") => Route::Client,
            _ => Route::Other,
        },
    }
}

/// Parse parameters and verify the checksum (for API calls other than the index).
pub(crate) fn prepare(raw: &RawRequest, secret: &str) -> Prepared {
    let route = route(&raw.path);
    let mut params: Vec<(String, String)> = raw
        .query
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let form_body = !raw.body.is_empty() && media_type(raw.content_type.as_deref()) == FORM;
    if form_body {
        params.extend(url::form_urlencoded::parse(&raw.body).into_owned());
    }
    let checksum_ok =
        match &route {
            Route::Call(call) => Some(first(&params, "checksum").is_some_and(|sum| {
                checksum::verify(call, raw.query.as_deref(), &params, sum, secret)
            })),
            Route::Index | Route::Client | Route::Other => None,
        };
    Prepared {
        route,
        params,
        checksum_ok,
        form_body,
    }
}

/// The log entry for a prepared request.
pub(crate) fn log_entry(raw: &RawRequest, prepared: &Prepared) -> LoggedRequest {
    LoggedRequest {
        method: raw.method.clone(),
        path: raw.path.clone(),
        call: match &prepared.route {
            Route::Call(call) => call.clone(),
            Route::Index | Route::Client | Route::Other => String::new(),
        },
        query: raw.query.clone(),
        params: prepared.params.clone(),
        body: String::from_utf8_lossy(&raw.body).into_owned(),
        content_type: raw.content_type.clone(),
        checksum_ok: prepared.checksum_ok,
        timestamp_ms: now_ms(),
    }
}

/// Answer a request that got past the fault modes.
pub(crate) fn dispatch(
    state: &mut State,
    bbb_version: &str,
    raw: &RawRequest,
    prepared: &Prepared,
) -> Reply {
    let call = match &prepared.route {
        Route::Index => return Reply::Xml(index(bbb_version, &raw.host)),
        Route::Client => return client_page(state, raw),
        Route::Other => return Reply::NotFound,
        Route::Call(call) => call.as_str(),
    };
    if !KNOWN_CALLS.contains(&call) {
        return failed("unsupportedRequest", "This request is not supported.");
    }
    if prepared.checksum_ok != Some(true) {
        return failed("checksumError", "Checksums do not match");
    }
    if !raw.body.is_empty() && !content_type_allowed(call, raw.content_type.as_deref()) {
        return failed(
            "unsupportedContentType",
            "POST request Content-Type is missing or unsupported",
        );
    }
    let params = &prepared.params;
    // A non-form body (XML slides or a document) is kept as text.
    let document = (!raw.body.is_empty() && !prepared.form_body)
        .then(|| String::from_utf8_lossy(&raw.body).into_owned());
    match call {
        "create" => create(state, params, document),
        "join" => join(state, params, &raw.host),
        "end" => end(state, params),
        "isMeetingRunning" => is_meeting_running(state, params),
        "getMeetingInfo" => get_meeting_info(state, params),
        "getMeetings" => get_meetings(state),
        "insertDocument" => insert_document(state, params, document),
        _ => failed("unsupportedRequest", "This request is not supported."),
    }
}

const FORM: &str = "application/x-www-form-urlencoded";
const MULTIPART: &str = "multipart/form-data";
const XML_TYPES: &[&str] = &["application/xml", "text/xml", "application/x-xml"];

/// The media type of a Content-Type header, lower case, without parameters.
fn media_type(content_type: Option<&str>) -> String {
    content_type
        .and_then(|ct| ct.split(';').next())
        .map(|ct| ct.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Recent bbb-web accepts a body only with a Content-Type the call supports: form types everywhere, XML (slides)
/// for create and insertDocument.
fn content_type_allowed(call: &str, content_type: Option<&str>) -> bool {
    let media = media_type(content_type);
    match call {
        "create" | "insertDocument" => {
            media == FORM || media == MULTIPART || XML_TYPES.contains(&media.as_str())
        }
        _ => media == FORM,
    }
}

/// The first value of `name`, if non-blank (bbb-web treats a blank parameter as missing).
fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

fn failed(key: &str, message: &str) -> Reply {
    Reply::Xml(failed_xml(key, message))
}

/// `<response><returncode>FAILED</returncode><messageKey>…</messageKey><message>…</message></response>`.
pub(crate) fn failed_xml(key: &str, message: &str) -> String {
    let mut w = XmlWriter::new();
    w.open("response")
        .elem("returncode", "FAILED")
        .elem("messageKey", key)
        .elem("message", message)
        .close("response");
    w.finish()
}

fn missing_meeting_id() -> Reply {
    failed(
        "missingParamMeetingID",
        "You must specify a meeting ID for the meeting.",
    )
}

/// The index reply (BBB 3.0 shape).
fn index(bbb_version: &str, host: &str) -> String {
    let mut w = XmlWriter::new();
    w.open("response")
        .elem("returncode", "SUCCESS")
        .elem("version", "2.0")
        .elem("apiVersion", "2.0")
        .elem("bbbVersion", bbb_version)
        .elem("graphqlWebsocketUrl", format!("wss://{host}/graphql"))
        .elem("graphqlApiUrl", format!("https://{host}/api/rest"))
        .close("response");
    w.finish()
}

fn create(state: &mut State, params: &[(String, String)], document: Option<String>) -> Reply {
    let Some(meeting_id) = first(params, "meetingID") else {
        return missing_meeting_id();
    };
    let moderator_pw = first(params, "moderatorPW");
    let attendee_pw = first(params, "attendeePW");
    if let Some(existing) = state.meeting(meeting_id) {
        let clash = moderator_pw.is_some_and(|pw| pw != existing.moderator_pw)
            || attendee_pw.is_some_and(|pw| pw != existing.attendee_pw);
        if clash {
            return failed(
                "idNotUnique",
                "A meeting already exists with that meeting ID.  Please use a different meeting ID.",
            );
        }
        return Reply::Xml(create_xml(
            existing,
            "duplicateWarning",
            "This conference was already in existence and may currently be in progress.",
        ));
    }

    let mut meeting = Meeting::new(
        meeting_id,
        first(params, "name").unwrap_or_default(),
        now_ms(),
    );
    if let Some(pw) = moderator_pw {
        meeting.moderator_pw = pw.to_owned();
    }
    if let Some(pw) = attendee_pw {
        meeting.attendee_pw = pw.to_owned();
    }
    if let Some(vb) = first(params, "voiceBridge") {
        meeting.voice_bridge = vb.to_owned();
    }
    if let Some(dial) = first(params, "dialNumber") {
        meeting.dial_number = dial.to_owned();
    }
    meeting.duration = first(params, "duration")
        .and_then(|d| d.trim().parse().ok())
        .unwrap_or(0);
    meeting.max_users = first(params, "maxParticipants")
        .and_then(|d| d.trim().parse().ok())
        .unwrap_or(0);
    meeting.is_breakout =
        first(params, "isBreakout").is_some_and(|b| b.eq_ignore_ascii_case("true"));
    if meeting.is_breakout {
        meeting.parent_meeting_id = first(params, "parentMeetingID").map(str::to_owned);
        meeting.sequence = first(params, "sequence")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        meeting.free_join =
            first(params, "freeJoin").is_some_and(|b| b.eq_ignore_ascii_case("true"));
    }
    for (key, value) in params {
        // BBB lower-cases metadata keys.
        if let Some(meta) = key.strip_prefix("meta_").filter(|m| !m.is_empty()) {
            set_pair(&mut meeting.metadata, meta.to_lowercase(), value.clone());
        }
    }
    meeting.create_params = params
        .iter()
        .filter(|(k, _)| k != "checksum")
        .cloned()
        .collect();
    meeting.create_body = document;
    let reply = create_xml(&meeting, "", "");
    state.upsert(meeting);
    Reply::Xml(reply)
}

fn create_xml(m: &Meeting, message_key: &str, message: &str) -> String {
    let mut w = XmlWriter::new();
    w.open("response")
        .elem("returncode", "SUCCESS")
        .elem("meetingID", &m.meeting_id)
        .elem("internalMeetingID", &m.internal_id)
        .elem(
            "parentMeetingID",
            m.parent_meeting_id.as_deref().unwrap_or("bbb-none"),
        )
        .elem("attendeePW", &m.attendee_pw)
        .elem("moderatorPW", &m.moderator_pw)
        .elem("createTime", m.create_time_ms)
        .elem("voiceBridge", &m.voice_bridge)
        .elem("dialNumber", &m.dial_number)
        .elem("createDate", create_date(m.create_time_ms))
        .elem("hasUserJoined", !m.attendees.is_empty())
        .elem("duration", m.duration)
        .elem("hasBeenForciblyEnded", false)
        .elem("messageKey", message_key)
        .elem("message", message)
        .close("response");
    w.finish()
}

/// BBB's createDate, e.g. "Mon Jul 09 17:03:29 UTC 2018".
fn create_date(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .map(|t| t.format("%a %b %d %H:%M:%S UTC %Y").to_string())
        .unwrap_or_default()
}

fn join(state: &mut State, params: &[(String, String)], host: &str) -> Reply {
    let Some(meeting_id) = first(params, "meetingID") else {
        return missing_meeting_id();
    };
    let Some(full_name) = first(params, "fullName") else {
        return failed(
            "missingParamFullName",
            "You must specify a name for the attendee who will be joining the meeting.",
        );
    };
    let Some(meeting) = state.meeting_mut(meeting_id) else {
        return failed(
            "invalidMeetingIdentifier",
            "The meeting ID that you supplied did not match any existing meetings",
        );
    };
    let bad_password = || {
        failed(
            "invalidPassword",
            "You either did not supply a password or the password supplied is neither the attendee or moderator \
             password for this conference.",
        )
    };
    let role_from_password = match first(params, "password") {
        Some(pw) if pw == meeting.moderator_pw => Some(true),
        Some(pw) if pw == meeting.attendee_pw => Some(false),
        Some(_) => return bad_password(),
        None => None,
    };
    // BBB 3.0: an explicit role wins over the one a password implies.
    let role = match first(params, "role")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("MODERATOR") => Some(true),
        Some("VIEWER") => Some(false),
        _ => role_from_password,
    };
    let Some(moderator) = role else {
        return bad_password();
    };

    let user_id = first(params, "userID")
        .map_or_else(|| format!("w_{}", random_alphanumeric(12)), str::to_owned);
    let custom_data = params
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("userdata-")
                .map(|key| (key.to_owned(), v.clone()))
        })
        .collect();
    meeting.attendees.push(Attendee {
        user_id: user_id.clone(),
        full_name: full_name.to_owned(),
        moderator,
        has_video: false,
        has_joined_voice: false,
        custom_data,
    });
    if !meeting.running_flag {
        meeting.running_flag = true;
        meeting.start_time_ms = now_ms();
    }
    let internal_id = meeting.internal_id.clone();
    let session = Session {
        meeting_id: meeting.meeting_id.clone(),
        meeting_name: meeting.name.clone(),
        full_name: full_name.to_owned(),
        moderator,
    };
    let token = random_alphanumeric(16);
    state.sessions.insert(token.clone(), session);
    let url = format!("http://{host}/html5client/join?sessionToken={token}");

    if first(params, "redirect").is_some_and(|r| r.eq_ignore_ascii_case("false")) {
        let mut w = XmlWriter::new();
        w.open("response")
            .elem("returncode", "SUCCESS")
            .elem("messageKey", "successfullyJoined")
            .elem("message", "You have joined successfully.")
            .elem("meeting_id", &internal_id)
            .elem("user_id", &user_id)
            .elem("auth_token", random_alphanumeric(12).to_lowercase())
            .elem("session_token", &token)
            .elem("guestStatus", "ALLOW")
            .elem("url", &url)
            .close("response");
        Reply::Xml(w.finish())
    } else {
        Reply::Redirect(url)
    }
}

fn end(state: &mut State, params: &[(String, String)]) -> Reply {
    let Some(meeting_id) = first(params, "meetingID") else {
        return missing_meeting_id();
    };
    let Some(meeting) = state.meeting(meeting_id) else {
        return failed(
            "notFound",
            &format!("{NOT_FOUND_MESSAGE} - perhaps the meeting is not yet running?"),
        );
    };
    // The password is optional (BBB 3.0); one that is given must be the moderator's (BBB 2.x).
    if first(params, "password").is_some_and(|pw| pw != meeting.moderator_pw) {
        return failed(
            "invalidPassword",
            "You must supply the moderator password for this call.",
        );
    }
    state.remove(meeting_id);
    let mut w = XmlWriter::new();
    w.open("response")
        .elem("returncode", "SUCCESS")
        .elem("messageKey", "sentEndMeetingRequest")
        .elem(
            "message",
            "A request to end the meeting was sent.  Please wait a few seconds, and then use the getMeetingInfo or \
             isMeetingRunning API calls to verify that it was ended.",
        )
        .close("response");
    Reply::Xml(w.finish())
}

fn is_meeting_running(state: &State, params: &[(String, String)]) -> Reply {
    let Some(meeting_id) = first(params, "meetingID") else {
        return missing_meeting_id();
    };
    let running = state.meeting(meeting_id).is_some_and(Meeting::running);
    let mut w = XmlWriter::new();
    w.open("response")
        .elem("returncode", "SUCCESS")
        .elem("running", running)
        .close("response");
    Reply::Xml(w.finish())
}

fn get_meeting_info(state: &State, params: &[(String, String)]) -> Reply {
    let Some(meeting_id) = first(params, "meetingID") else {
        return missing_meeting_id();
    };
    let Some(meeting) = state.meeting(meeting_id) else {
        return failed("notFound", NOT_FOUND_MESSAGE);
    };
    let mut w = XmlWriter::new();
    w.open("response").elem("returncode", "SUCCESS");
    meeting_fields(&mut w, meeting, &state.meetings);
    w.close("response");
    Reply::Xml(w.finish())
}

fn get_meetings(state: &State) -> Reply {
    let mut w = XmlWriter::new();
    w.open("response").elem("returncode", "SUCCESS");
    if state.meetings.is_empty() {
        w.empty("meetings")
            .elem("messageKey", "noMeetings")
            .elem("message", "no meetings were found on this server");
    } else {
        w.open("meetings");
        for meeting in &state.meetings {
            w.open("meeting");
            meeting_fields(&mut w, meeting, &state.meetings);
            w.close("meeting");
        }
        w.close("meetings");
    }
    w.close("response");
    Reply::Xml(w.finish())
}

/// The fields getMeetingInfo and getMeetings share, in bbb-web's order.
fn meeting_fields(w: &mut XmlWriter, m: &Meeting, all: &[Box<Meeting>]) {
    let running = m.running();
    w.elem("meetingName", &m.name)
        .elem("meetingID", &m.meeting_id)
        .elem("internalMeetingID", &m.internal_id)
        .elem("createTime", m.create_time_ms)
        .elem("createDate", create_date(m.create_time_ms))
        .elem("voiceBridge", &m.voice_bridge)
        .elem("dialNumber", &m.dial_number)
        .elem("attendeePW", &m.attendee_pw)
        .elem("moderatorPW", &m.moderator_pw)
        .elem("running", running)
        .elem("duration", m.duration)
        .elem("hasUserJoined", running)
        .elem("recording", false)
        .elem("hasBeenForciblyEnded", false)
        .elem("startTime", m.start_time_ms)
        .elem("endTime", 0)
        .elem("participantCount", m.participant_count())
        .elem("listenerCount", m.listener_count)
        .elem("voiceParticipantCount", m.voice_participant_count)
        .elem("videoCount", m.video_count)
        .elem("maxUsers", m.max_users)
        .elem("moderatorCount", m.moderator_count());
    w.open("attendees");
    for a in &m.attendees {
        w.open("attendee")
            .elem("userID", &a.user_id)
            .elem("fullName", &a.full_name)
            .elem("role", if a.moderator { "MODERATOR" } else { "VIEWER" })
            .elem("isPresenter", false)
            .elem("isListeningOnly", false)
            .elem("hasJoinedVoice", a.has_joined_voice)
            .elem("hasVideo", a.has_video)
            .elem("clientType", "HTML5");
        let custom: Vec<_> = a
            .custom_data
            .iter()
            .filter(|(k, _)| is_xml_name(k))
            .collect();
        if !custom.is_empty() {
            w.open("customdata");
            for (key, value) in custom {
                w.elem(key, value);
            }
            w.close("customdata");
        }
        w.close("attendee");
    }
    w.close("attendees");
    w.open("metadata");
    for (key, value) in m.metadata.iter().filter(|(k, _)| is_xml_name(k)) {
        w.elem(key, value);
    }
    w.close("metadata");
    w.elem("isBreakout", m.is_breakout);
    if m.is_breakout {
        w.elem(
            "parentMeetingID",
            m.parent_meeting_id.as_deref().unwrap_or_default(),
        )
        .elem("sequence", m.sequence)
        .elem("freeJoin", m.free_join);
    }
    let children: Vec<&Meeting> = all
        .iter()
        .filter(|c| {
            c.is_breakout
                && c.parent_meeting_id
                    .as_deref()
                    .is_some_and(|p| p == m.internal_id || p == m.meeting_id)
        })
        .map(|c| &**c)
        .collect();
    if !children.is_empty() {
        w.open("breakoutRooms");
        for child in children {
            w.elem("breakout", &child.internal_id);
        }
        w.close("breakoutRooms");
    }
}

fn insert_document(
    state: &mut State,
    params: &[(String, String)],
    document: Option<String>,
) -> Reply {
    let Some(meeting_id) = first(params, "meetingID") else {
        return missing_meeting_id();
    };
    let Some(meeting) = state.meeting_mut(meeting_id) else {
        return failed("notFound", NOT_FOUND_MESSAGE);
    };
    if let Some(document) = document {
        meeting.inserted_documents.push(document);
    }
    let mut w = XmlWriter::new();
    w.open("response")
        .elem("returncode", "SUCCESS")
        .close("response");
    Reply::Xml(w.finish())
}

/// The page the join redirect points to, so a front-end tried against the fake ends somewhere sensible.
fn client_page(state: &State, raw: &RawRequest) -> Reply {
    let token = raw
        .query
        .as_deref()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "sessionToken")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default();
    let Some(session) = state.sessions.get(&token) else {
        return Reply::NotFound;
    };
    let role = if session.moderator {
        "moderator"
    } else {
        "viewer"
    };
    Reply::Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Fake BigBlueButton</title></head><body>\
         <h1>{}</h1><p>{} joined as {role} (meeting ID {}). This is a fake BigBlueButton server.</p></body></html>",
        escape(&session.meeting_name),
        escape(&session.full_name),
        escape(&session.meeting_id),
    ))
}

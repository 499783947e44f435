//! `POST /fsapi`: the dial plan for FreeSWITCH dial-in (`docs/compatibility.md#fsapi`).
//!
//! A FreeSWITCH gateway's `mod_xml_curl` asks for the dial plan of each call. Without a PIN the caller is prompted
//! for one; a PIN is a meeting's voice bridge (or a breakout room's: one more digit), and the call is bridged over
//! SIP to the server holding that meeting; an unknown PIN prompts again. HTTP Basic auth with user `fsapi` and
//! `FSAPI_PASSWORD` (default: the first LB secret). Without a password (set but empty, or no LB secret) every
//! request is refused unless `FSAPI_AUTH_DISABLED` opens the API on purpose.
//!
//! Every value put into the dial plan is escaped so it cannot expand FreeSWITCH variables (`${...}`), and the
//! dialled number is regex-escaped in the condition.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use scalelite_core::bbb::params::Params;
use scalelite_core::bbb::xml::Element;
use scalelite_core::domain::{Meeting, Secret};
use scalelite_core::storage::{MeetingStore, ServerStore, StoreError};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, xml_response};
use crate::state::AppState;

/// The only user name the dial-plan API accepts.
pub const USER: &str = "fsapi";
/// A PIN longer than this may be a breakout room's: its voice bridge plus one digit.
const BREAKOUT_MIN_LEN: usize = 5;

/// The handler (any method is routed here; only POST is served).
pub async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        return ApiError::UnsupportedRequest.into_response();
    }
    match &state.settings.fsapi_password {
        Some(password) => {
            if !authorized(&parts.headers, password) {
                return unauthorized(state.settings.url_host.as_deref());
            }
        }
        // No password: open only when the operator said so, never by accident of an empty variable.
        None if state.settings.fsapi_auth_disabled => {}
        None => {
            tracing::warn!(
                "fsapi: refused, no password is configured (set FSAPI_PASSWORD, or FSAPI_AUTH_DISABLED=true)"
            );
            return (
                StatusCode::FORBIDDEN,
                "The dial-plan API has no password configured.\n",
            )
                .into_response();
        }
    }
    let body = match axum::body::to_bytes(body, state.settings.max_body_bytes).await {
        Ok(body) => body,
        Err(e) => return crate::limits::body_read_error(&e).into_response(),
    };
    let params = match parameters(parts.uri.query(), &parts.headers, &body) {
        Some(params) => params,
        None => {
            return ApiError::InvalidParameters("undecodable parameters".into()).into_response();
        }
    };
    match dial_plan(&state, &params).await {
        Ok(root) => xml_response(StatusCode::OK, &root),
        Err(e) => e.into_response(),
    }
}

/// The dial plan for one request.
async fn dial_plan(state: &AppState, params: &Params) -> Result<Element, ApiError> {
    if params.get("section") != Some("dialplan") {
        tracing::warn!("fsapi: request for a section other than dialplan");
        return Ok(reject());
    }
    let Some(destination) = params
        .get("Caller-Destination-Number")
        .filter(|d| !d.trim().is_empty())
    else {
        tracing::warn!("fsapi: missing Caller-Destination-Number");
        return Ok(reject());
    };
    let settings = &state.settings;
    let Some(pin) = params.get("variable_pin").filter(|p| !p.trim().is_empty()) else {
        tracing::info!("fsapi: prompting for a PIN");
        let hangup_after = settings.fsapi_max_duration.as_secs();
        return Ok(pin_prompt(
            destination,
            hangup_after,
            settings.voice_bridge_min,
            settings.voice_bridge_max,
        ));
    };
    let Some(meeting) = meeting_for_pin(state, pin).await? else {
        tracing::info!("fsapi: PIN does not match a running meeting, prompting again");
        return Ok(pin_reprompt(
            destination,
            settings.voice_bridge_min,
            settings.voice_bridge_max,
        ));
    };
    let server = match state.store.get_server(&meeting.server_id).await {
        Ok(server) => server,
        Err(StoreError::NotFound(_)) => {
            tracing::info!(meeting.id = %meeting.id, "fsapi: the meeting's server is gone, prompting again");
            return Ok(pin_reprompt(
                destination,
                settings.voice_bridge_min,
                settings.voice_bridge_max,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let host = reqwest::Url::parse(&server.url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .ok_or_else(|| ApiError::Internal("The meeting's server has no host.".into()))?;
    let caller_id = caller_id(
        params.get("Caller-Caller-ID-Name"),
        params.get("Caller-Privacy-Hide-Name"),
        params.get("Caller-Privacy-Hide-Number"),
    );
    tracing::info!(meeting.id = %meeting.id, server.id = %server.id, "fsapi: bridging call");
    Ok(bridge(destination, &meeting.id, &caller_id, pin, &host))
}

/// The meeting holding the voice bridge `pin`, else (for a PIN longer than 5) the one holding `pin` without its
/// last digit (breakout rooms append a digit).
async fn meeting_for_pin(state: &AppState, pin: &str) -> Result<Option<Meeting>, ApiError> {
    match state.store.meeting_by_voice_bridge(pin).await {
        Ok(meeting) => return Ok(Some(meeting)),
        Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    if pin.chars().count() <= BREAKOUT_MIN_LEN {
        return Ok(None);
    }
    let parent = &pin[..pin.char_indices().last().map_or(0, |(i, _)| i)];
    match state.store.meeting_by_voice_bridge(parent).await {
        Ok(meeting) => Ok(Some(meeting)),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Query and form-body parameters, the query winning (as Rails merges them).
fn parameters(query: Option<&str>, headers: &HeaderMap, body: &Bytes) -> Option<Params> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let mut params = if is_form && !body.is_empty() {
        Params::parse(std::str::from_utf8(body).ok()?).ok()?
    } else {
        Params::default()
    };
    if let Some(query) = query {
        for (name, value) in Params::parse(query).ok()?.iter() {
            params.set(name, value);
        }
    }
    Some(params)
}

/// HTTP Basic credentials of user `fsapi` with the password (compared through SHA-256 digests, so the time taken
/// says nothing about the password).
fn authorized(headers: &HeaderMap, password: &Secret) -> bool {
    let Some(encoded) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, given)) = decoded.split_once(':') else {
        return false;
    };
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(password.expose().as_bytes());
    user == USER && given == expected
}

/// 401 with the Basic challenge (realm `URL_HOST`, else `Application`, where the original fails with a 500).
fn unauthorized(url_host: Option<&str>) -> Response {
    let realm = url_host.unwrap_or("Application").replace('"', "");
    let mut response = (StatusCode::UNAUTHORIZED, "HTTP Basic: Access denied.\n").into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// The caller id shown in the meeting: a number with its last four digits masked (unless hidden), a name as is
/// (unless hidden), else `Unavailable`.
pub fn caller_id(name: Option<&str>, hide_name: Option<&str>, hide_number: Option<&str>) -> String {
    let name = name.unwrap_or_default();
    let shown = if !name.trim().is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        (hide_number != Some("true")).then(|| {
            let kept = name.len().saturating_sub(4);
            format!("{}{}", &name[..kept], "X".repeat(name.len() - kept))
        })
    } else {
        (hide_name != Some("true")).then(|| name.to_owned())
    };
    shown
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "Unavailable".to_owned())
}

/// Escape for the FreeSWITCH dial plan: a `\` before every `\` and every `${`, so nothing expands.
pub fn fs_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '$' if chars.peek() == Some(&'{') => {
                out.push_str("\\${");
                chars.next();
            }
            c => out.push(c),
        }
    }
    out
}

/// Escape regex metacharacters the way Ruby's `Regexp.escape` does.
pub fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '[' | ']' | '{' | '}' | '(' | ')' | '|' | '-' | '*' | '.' | '\\' | '?' | '+' | '^'
            | '$' | '#' => {
                out.push('\\');
                out.push(c);
            }
            ' ' => out.push_str("\\ "),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{0C}' => out.push_str("\\f"),
            '\u{0B}' => out.push_str("\\v"),
            c => out.push(c),
        }
    }
    out
}

fn action(application: &str, data: Option<String>) -> Element {
    let element = Element::new("action").with_attribute("application", application);
    match data {
        Some(data) => element.with_attribute("data", data),
        None => element,
    }
}

/// `<document type="freeswitch/xml"><section name="dialplan" ...><context name="public"><extension ...>
/// <condition field="destination_number" expression="^DID$">actions</condition>...`
fn dialplan_document(
    description: &str,
    extension: &str,
    destination: &str,
    actions: Vec<Element>,
) -> Element {
    let mut condition = Element::new("condition")
        .with_attribute("field", "destination_number")
        .with_attribute(
            "expression",
            format!("^{}$", fs_escape(&regex_escape(destination))),
        );
    for action in actions {
        condition.push_child(action);
    }
    Element::new("document")
        .with_attribute("type", "freeswitch/xml")
        .with_child(
            Element::new("section")
                .with_attribute("name", "dialplan")
                .with_attribute("description", description)
                .with_child(
                    Element::new("context")
                        .with_attribute("name", "public")
                        .with_child(
                            Element::new("extension")
                                .with_attribute("name", extension)
                                .with_child(condition),
                        ),
                ),
        )
}

fn play_and_get_digits(min: u32, max: u32, digits_pattern: &str) -> Element {
    action(
        "play_and_get_digits",
        Some(format!(
            "{min} {max} 3 7000 # conference/conf-enter_conf_pin.wav conference/conf-bad-pin.wav pin {digits_pattern}"
        )),
    )
}

/// "Not found": any section but the dial plan, or no dialled number.
pub fn reject() -> Element {
    Element::new("document")
        .with_attribute("type", "freeswitch/xml")
        .with_child(
            Element::new("section")
                .with_attribute("name", "result")
                .with_child(Element::new("result").with_attribute("status", "not found")),
        )
}

/// Answer the call and ask for the PIN; hang up after `hangup_after_seconds` when it is positive.
pub fn pin_prompt(destination: &str, hangup_after_seconds: u64, min: u32, max: u32) -> Element {
    let mut actions = vec![action("answer", None)];
    if hangup_after_seconds > 0 {
        actions.push(action(
            "sched_hangup",
            Some(format!("+{hangup_after_seconds} normal_clearing")),
        ));
    }
    actions.extend([
        action("sleep", Some("500".into())),
        action("playback", Some("ivr/ivr-welcome.wav".into())),
        action("sleep", Some("200".into())),
        play_and_get_digits(min, max, "\\d+"),
        action("transfer", Some("${pin} XML public".into())),
    ]);
    dialplan_document(
        "Match DID and Pin for Conference",
        "match_did_and_prompt_for_pin",
        destination,
        actions,
    )
}

/// The PIN matched nothing: say so and ask again. (The original's digit pattern here is `d+`, a lost backslash;
/// we send the `\d+` it meant.)
pub fn pin_reprompt(destination: &str, min: u32, max: u32) -> Element {
    dialplan_document(
        "Reprompt Pin for Conference",
        "reprompt_for_pin",
        destination,
        vec![
            action("playback", Some("conference/conf-bad-pin.wav".into())),
            action("sleep", Some("500".into())),
            play_and_get_digits(min, max, "\\d+"),
            action("transfer", Some("${pin} XML public".into())),
        ],
    )
}

/// Bridge the call over SIP to the meeting's server, dialling the PIN as entered.
pub fn bridge(
    destination: &str,
    meeting_id: &str,
    caller_id: &str,
    pin: &str,
    host: &str,
) -> Element {
    dialplan_document(
        "Bridge Call to BBB Server",
        "bridge_to_bbb_server",
        destination,
        vec![
            action("set", Some(format!("meeting_id={}", fs_escape(meeting_id)))),
            action(
                "set",
                Some(format!("effective_caller_id_name={}", fs_escape(caller_id))),
            ),
            action(
                "bridge",
                Some(format!("sofia/external/{}@{host}", fs_escape(pin))),
            ),
        ],
    )
}

#[cfg(test)]
mod tests;

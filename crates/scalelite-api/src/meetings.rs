//! The meeting calls: create, join, end, isMeetingRunning, getMeetingInfo, getMeetings, insertDocument
//! (bbb-api.md section 8), with DECISIONS.md's fixes: a failed create rolls back and tries the next server, a meeting
//! whose server is gone, offline or disabled is placed again, getMeetings asks the servers in parallel.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use scalelite_core::bbb::params::{MeetingId, Params};
use scalelite_core::bbb::xml::{self, Element};
use scalelite_core::bbb_client::XmlBody;
use scalelite_core::domain::{
    CallbackData, Meeting, MeetingPlacement, NewMeeting, Server, ServerState, TagRequest, Tenant,
    TenantSetting,
};
use scalelite_core::storage::{
    MeetingStore, RecordingStore, SelectError, ServerStore, StoreError, TenantStore,
};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use crate::error::{ApiError, Result, xml_response};
use crate::request::BbbRequest;
use crate::state::AppState;

const SERVER_TAG: &str = "meta_server-tag";
/// Parameters the original never forwards (Rails routing keys and the checksum).
const NEVER_FORWARDED: [&str; 4] = ["format", "controller", "action", "checksum"];

fn ok_xml(root: &Element) -> Response {
    xml_response(StatusCode::OK, root)
}

fn meeting_id(req: &BbbRequest) -> Result<MeetingId> {
    MeetingId::from_params(&req.params).map_err(|_| ApiError::MissingMeetingId)
}

/// The meeting as seen by this request's tenant: another tenant's meeting does not exist.
async fn scoped_meeting(
    state: &AppState,
    id: &str,
    tenant: Option<&Tenant>,
) -> Result<Option<Meeting>> {
    match state.store.get_meeting(id).await {
        Ok(meeting) => {
            let visible = match tenant {
                Some(t) => meeting.tenant_id.as_deref() == Some(t.id.as_str()),
                None => true,
            };
            Ok(visible.then_some(meeting))
        }
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The meeting and its server, or `notFound` (a meeting whose server record is gone is not found either).
async fn meeting_and_server(state: &AppState, req: &BbbRequest) -> Result<(Meeting, Server)> {
    let id = meeting_id(req)?;
    let meeting = scoped_meeting(state, id.as_str(), req.tenant.as_ref())
        .await?
        .ok_or(ApiError::MeetingNotFound)?;
    match state.store.get_server(&meeting.server_id).await {
        Ok(server) => Ok((meeting, server)),
        Err(StoreError::NotFound(_)) => Err(ApiError::MeetingNotFound),
        Err(e) => Err(e.into()),
    }
}

fn only_meeting_id(id: &str) -> Params {
    let mut params = Params::default();
    params.set("meetingID", id);
    params
}

/// Send `call` to the meeting's server (reduced timeouts when it is offline) and pass its answer on.
async fn proxy(
    state: &AppState,
    server: &Server,
    call: &str,
    params: &Params,
    body: Option<XmlBody>,
    unreachable: &str,
) -> Result<Response> {
    let response = state
        .bbb
        .call(server, call, params, body, !server.online)
        .await
        .map_err(|e| ApiError::from_call(e, unreachable))?;
    Ok(ok_xml(&response.root))
}

const UNABLE_TO_ACCESS_MEETING: &str = "Unable to access meeting on server.";

/// `getMeetingInfo`: proxied to the meeting's server with only `meetingID`.
pub async fn get_meeting_info(state: &AppState, req: BbbRequest) -> Result<Response> {
    let (meeting, server) = meeting_and_server(state, &req).await?;
    let params = only_meeting_id(&meeting.id);
    proxy(
        state,
        &server,
        "getMeetingInfo",
        &params,
        None,
        UNABLE_TO_ACCESS_MEETING,
    )
    .await
}

/// `isMeetingRunning`: an unknown meeting is not running (answered locally).
pub async fn is_meeting_running(state: &AppState, req: BbbRequest) -> Result<Response> {
    let (meeting, server) = match meeting_and_server(state, &req).await {
        Ok(found) => found,
        Err(ApiError::MeetingNotFound) => return Ok(ok_xml(&xml::not_running())),
        Err(e) => return Err(e),
    };
    let params = only_meeting_id(&meeting.id);
    proxy(
        state,
        &server,
        "isMeetingRunning",
        &params,
        None,
        UNABLE_TO_ACCESS_MEETING,
    )
    .await
}

/// `end`: the meeting is forgotten first, then the server is asked to end it (only meetingID and password go).
pub async fn end(state: &AppState, req: BbbRequest) -> Result<Response> {
    let (meeting, server) = meeting_and_server(state, &req).await?;
    state.store.delete_meeting(&meeting.id).await?;
    let mut params = only_meeting_id(&meeting.id);
    params.set("password", req.params.get("password").unwrap_or_default());
    proxy(
        state,
        &server,
        "end",
        &params,
        None,
        UNABLE_TO_ACCESS_MEETING,
    )
    .await
}

/// `insertDocument`: the XML body is forwarded to the meeting's server.
pub async fn insert_document(state: &AppState, req: BbbRequest) -> Result<Response> {
    let (meeting, server) = meeting_and_server(state, &req).await?;
    let body = req.xml_body.as_ref().map(|b| XmlBody(b.to_vec()));
    let params = only_meeting_id(&meeting.id);
    proxy(
        state,
        &server,
        "insertDocument",
        &params,
        body,
        "Unable to insert document on server.",
    )
    .await
}

/// `getMeetings`: every online, not disabled server asked in parallel; a server that fails is logged and left
/// out (the original fails the whole call).
pub async fn get_meetings(state: &AppState, req: BbbRequest) -> Result<Response> {
    let servers = state.store.list_servers().await?;
    let mut calls = JoinSet::new();
    for (index, server) in servers.into_iter().enumerate() {
        if !server.online || server.state == ServerState::Disabled {
            continue;
        }
        let bbb = state.bbb.clone();
        calls.spawn(async move {
            let result = bbb
                .call(&server, "getMeetings", &Params::default(), None, false)
                .await;
            (index, server.id, result)
        });
    }
    let mut answers = Vec::new();
    while let Some(joined) = calls.join_next().await {
        let Ok((index, server_id, result)) = joined else {
            continue;
        };
        match result {
            Ok(response) => answers.push((index, response)),
            Err(e) => {
                tracing::warn!(server.id = %server_id, error = %e, "getMeetings: server left out")
            }
        }
    }
    answers.sort_by_key(|(index, _)| *index);
    let tenant_id = req.tenant.as_ref().map(|t| t.id.as_str());
    let meetings: Vec<Element> = answers
        .iter()
        .flat_map(|(_, response)| xml::meeting_elements(&response.root))
        .filter(|meeting| {
            let owner = meeting
                .child("metadata")
                .and_then(|m| m.child_text("tenant-id"))
                .filter(|t| !t.is_empty());
            match tenant_id {
                Some(tenant) => owner.as_deref() == Some(tenant),
                None => owner.is_none(),
            }
        })
        .collect();
    if meetings.is_empty() {
        return Ok(ok_xml(&xml::no_meetings()));
    }
    Ok(ok_xml(&xml::meetings(meetings)))
}

/// Everything the client sent except what is never forwarded and the configured exclusions.
fn pass_through(params: &Params, exclude: &[String]) -> Params {
    params
        .iter()
        .filter(|(name, _)| !NEVER_FORWARDED.contains(name) && !exclude.iter().any(|e| e == name))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// Ruby's `Hash#merge`: `base`'s order, values replaced by `other`'s, `other`'s new keys appended.
fn merge(base: &Params, other: &Params) -> Params {
    let mut merged = base.clone();
    for (name, value) in other.iter() {
        merged.set(name, value);
    }
    merged
}

fn params_of(pairs: &[(String, String)]) -> Params {
    pairs.iter().cloned().collect()
}

/// Tenant settings split into (defaults, overrides).
async fn tenant_settings(state: &AppState, tenant: Option<&Tenant>) -> Result<(Params, Params)> {
    let Some(tenant) = tenant else {
        return Ok((Params::default(), Params::default()));
    };
    let settings: Vec<TenantSetting> = state.store.list_tenant_settings(&tenant.id).await?;
    let (overrides, defaults): (Vec<_>, Vec<_>) =
        settings.into_iter().partition(|s| s.override_value);
    let to_params = |list: Vec<TenantSetting>| {
        list.into_iter()
            .map(|s| (s.param, s.value))
            .collect::<Params>()
    };
    Ok((to_params(defaults), to_params(overrides)))
}

/// The default/override merge of bbb-api.md 6.3: tenant override > config override > request > tenant default >
/// config default.
fn augment(
    request: &Params,
    config_default: &Params,
    config_override: &Params,
    td: &Params,
    to: &Params,
) -> Params {
    let merged = merge(td, request);
    let merged = merge(config_default, &merged);
    let merged = merge(&merged, config_override);
    merge(&merged, to)
}

fn without(params: &Params, name: &str) -> Params {
    let mut params = params.clone();
    params.remove(name);
    params
}

/// `join`: a 302 to the meeting's server, re-signed with its secret. BBB is not contacted.
pub async fn join(state: &AppState, req: BbbRequest) -> Result<Response> {
    let (meeting, server) = meeting_and_server(state, &req).await?;
    if !server.online || server.state == ServerState::Disabled {
        return Err(ApiError::ServerUnavailable);
    }
    state
        .store
        .increment_load(&server.id, server.load_multiplier)
        .await?;
    let settings = &state.settings;
    let (td, to) = tenant_settings(state, req.tenant.as_ref()).await?;
    let params = augment(
        &pass_through(&req.params, &settings.join_exclude_params),
        &params_of(&settings.default_join_params),
        &params_of(&settings.override_join_params),
        &without(&td, SERVER_TAG),
        &without(&to, SERVER_TAG),
    );
    let location = state.bbb.url(&server, "join", &params);
    let mut response = StatusCode::FOUND.into_response();
    let location = HeaderValue::from_str(&location)
        .map_err(|_| ApiError::Internal("Invalid join URL.".into()))?;
    response.headers_mut().insert(header::LOCATION, location);
    tracing::info!(meeting.id = %meeting.id, server.id = %server.id, "join redirected");
    Ok(response)
}

/// Most voice bridge numbers tried for one new meeting (the original gives up after 10 tries).
const VOICE_BRIDGE_TRIES: usize = 10;

/// Voice bridge numbers to try for a meeting, [`VOICE_BRIDGE_TRIES`] at most: the client's first when external
/// voice bridges are on, then distinct numbers of `len` digits (first digit 1-9) from a generator seeded by the meeting
/// id (so the same id gets the same sequence), `99999` skipped.
///
/// Always terminates: when `len` digits give few numbers (one digit gives nine), every number of that length is
/// listed in a shuffled order, so the list is shorter instead of waiting for numbers that do not exist.
fn voice_bridge_candidates(meeting_id: &str, len: usize, external: Option<&str>) -> Vec<String> {
    /// Up to this many numbers are enumerated and shuffled; above it random draws find new numbers quickly.
    const ENUMERATE_UP_TO: u64 = 1_000;
    let seed: [u8; 32] = Sha256::digest(meeting_id.as_bytes()).into();
    let mut rng = StdRng::from_seed(seed);
    let mut candidates: Vec<String> = external
        .filter(|v| !v.trim().is_empty())
        .map(str::to_owned)
        .into_iter()
        .collect();
    // Numbers of `len` digits without a leading zero: [10^(len-1), 10^len). The parser caps len at 18, which fits.
    let len = u32::try_from(len.clamp(1, 18)).unwrap_or(18);
    let (low, high) = (10u64.pow(len - 1), 10u64.pow(len));
    let usable =
        |number: &String, candidates: &[String]| number != "99999" && !candidates.contains(number);
    if high - low <= ENUMERATE_UP_TO {
        let mut all: Vec<u64> = (low..high).collect();
        all.shuffle(&mut rng);
        for number in all.into_iter().map(|n| n.to_string()) {
            if candidates.len() == VOICE_BRIDGE_TRIES {
                break;
            }
            if usable(&number, &candidates) {
                candidates.push(number);
            }
        }
    } else {
        // At least 9,000 numbers for at most 10 candidates: each draw is new with probability above 99.8%.
        while candidates.len() < VOICE_BRIDGE_TRIES {
            let number = rng.random_range(low..high).to_string();
            if usable(&number, &candidates) {
                candidates.push(number);
            }
        }
    }
    candidates
}

/// The moderator password of a meeting created without one: 8 alphanumerics derived from the server's secret and
/// the meeting id (HMAC-SHA256). The original draws them at random; deriving them means a meeting that Scalelite
/// forgot and places again on the same server gets the same password, so BBB answers `duplicateWarning` instead
/// of `idNotUnique`. Without the server secret the password cannot be guessed.
fn derived_password(server: &Server, meeting_id: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut mac = Hmac::<Sha256>::new_from_slice(server.secret.expose().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"moderatorPW:");
    mac.update(meeting_id.as_bytes());
    let digest = mac.finalize().into_bytes();
    digest
        .iter()
        .take(8)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// First non-blank value of `name` among the sources, in order.
fn first_non_blank(name: &str, sources: &[&Params]) -> Option<String> {
    sources.iter().find_map(|p| {
        p.get(name)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_owned)
    })
}

/// Where a create goes: a server, and whether this request created the meeting record (so it owns the rollback).
struct Placement {
    meeting: Meeting,
    server: Server,
    created: bool,
}

/// An existing meeting is reused only when its server can still host it; otherwise it is forgotten (DECISIONS.md)
/// and placed again. A meeting on a cordoned server is kept only if that server says it is running.
async fn reusable_placement(state: &AppState, meeting: Meeting) -> Result<Option<Placement>> {
    let server = match state.store.get_server(&meeting.server_id).await {
        Ok(server) => server,
        Err(StoreError::NotFound(_)) => {
            state.store.delete_meeting(&meeting.id).await?;
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let usable = match server.state {
        _ if !server.online => false,
        ServerState::Disabled => false,
        ServerState::Enabled => true,
        ServerState::Cordoned => {
            let answer = state
                .bbb
                .call(
                    &server,
                    "isMeetingRunning",
                    &only_meeting_id(&meeting.id),
                    None,
                    false,
                )
                .await;
            matches!(answer.map(|r| xml::running(&r.root)), Ok(Some(true)))
        }
    };
    if usable {
        Ok(Some(Placement {
            meeting,
            server,
            created: false,
        }))
    } else {
        tracing::info!(meeting.id = %meeting.id, server.id = %server.id, "forgetting meeting on an unusable server");
        state.store.delete_meeting(&meeting.id).await?;
        Ok(None)
    }
}

/// Pick a server (atomically bumping its load) and claim the meeting id on it.
async fn place_new(
    state: &AppState,
    id: &str,
    tags: &TagRequest,
    exclude: &[String],
    moderator_pw: Option<&str>,
    external_voice_bridge: Option<&str>,
    tenant: Option<&Tenant>,
) -> Result<Placement> {
    let server = if exclude.is_empty() {
        state
            .store
            .select_server(tags)
            .await
            .map_err(select_error)?
    } else {
        // A retry after a failed create: the least-loaded other server (rare, so not atomic with the bump).
        let candidates: Vec<Server> = state
            .store
            .available_servers()
            .await?
            .into_iter()
            .filter(|s| !exclude.contains(&s.id))
            .collect();
        let server = pick(&candidates, tags).map_err(select_error)?;
        state
            .store
            .increment_load(&server.id, server.load_multiplier)
            .await?;
        server
    };
    let new = NewMeeting {
        id: id.to_owned(),
        server_id: server.id.clone(),
        moderator_pw: moderator_pw.map_or_else(|| derived_password(&server, id), str::to_owned),
        voice_bridge_candidates: voice_bridge_candidates(
            id,
            state.settings.voice_bridge_len,
            external_voice_bridge.filter(|_| state.settings.use_external_voice_bridge),
        ),
        tenant_id: tenant.map(|t| t.id.clone()),
    };
    let placement = state
        .store
        .find_or_create_meeting(new, state.settings.meeting_ttl)
        .await;
    let placement = match placement {
        Ok(p) => p,
        Err(e) => {
            state
                .store
                .increment_load(&server.id, -server.load_multiplier)
                .await?;
            return Err(match e {
                StoreError::Conflict(_) => conflict_error(state, id, tenant).await,
                other => other.into(),
            });
        }
    };
    match placement {
        MeetingPlacement::Created(meeting) => Ok(Placement {
            meeting,
            server,
            created: true,
        }),
        MeetingPlacement::Existing(meeting) => {
            // Someone else placed it first: give the bump back and follow their choice.
            state
                .store
                .increment_load(&server.id, -server.load_multiplier)
                .await?;
            let actual = match state.store.get_server(&meeting.server_id).await {
                Ok(actual) => actual,
                Err(StoreError::NotFound(_)) => {
                    return Err(ApiError::Internal(format!(
                        "Couldn't find Server with id={}",
                        meeting.server_id
                    )));
                }
                Err(e) => return Err(e.into()),
            };
            Ok(Placement {
                meeting,
                server: actual,
                created: false,
            })
        }
    }
}

async fn conflict_error(state: &AppState, id: &str, tenant: Option<&Tenant>) -> ApiError {
    let held_by_other_tenant = match (state.store.get_meeting(id).await, tenant) {
        (Ok(m), Some(t)) => m.tenant_id.is_some() && m.tenant_id.as_deref() != Some(t.id.as_str()),
        _ => false,
    };
    match tenant {
        Some(t) if held_by_other_tenant => ApiError::Internal(format!(
            "Couldn't find Meeting with id={id} and tenant_id={}",
            t.id
        )),
        _ => ApiError::Internal(format!(
            "Failed to allocate conference number for meeting {id} after 10 tries"
        )),
    }
}

fn select_error(e: SelectError) -> ApiError {
    match e {
        SelectError::NoServers => {
            ApiError::Internal("Could not find any available servers.".into())
        }
        SelectError::TagUnavailable(tag) => ApiError::ServerTagUnavailable(tag),
        SelectError::Store(e) => e.into(),
    }
}

/// The original's `find_available` over an already sorted candidate list (used for retries only; the first pick is
/// the store's atomic `select_server`).
fn pick(available: &[Server], tags: &TagRequest) -> Result<Server, SelectError> {
    if available.is_empty() {
        return Err(SelectError::NoServers);
    }
    let matches_tag = |s: &Server, tag: &str| match (&s.tag, tag) {
        (None, "none") => true,
        (Some(t), tag) => t == tag,
        (None, _) => false,
    };
    let tagged: Vec<&Server> = if tags.tags.is_empty() {
        Vec::new()
    } else {
        available
            .iter()
            .filter(|s| tags.tags.iter().any(|t| matches_tag(s, t)))
            .collect()
    };
    if let Some(first) = tagged.first() {
        return Ok((*first).clone());
    }
    if tags.required {
        return Err(SelectError::TagUnavailable(tags.display()));
    }
    available
        .iter()
        .find(|s| s.tag.is_none())
        .cloned()
        .ok_or(SelectError::NoServers)
}

/// `create` (bbb-api.md 8.5).
pub async fn create(state: &AppState, req: BbbRequest) -> Result<Response> {
    let id = meeting_id(&req)?;
    let id = id.as_str();
    let settings = &state.settings;
    let tenant = req.tenant.as_ref();
    let (td, to) = tenant_settings(state, tenant).await?;
    let cd = params_of(&settings.default_create_params);
    let co = params_of(&settings.override_create_params);

    let tag_value = first_non_blank(SERVER_TAG, &[&to, &co, &req.params, &td, &cd]);
    let tags = TagRequest::parse(tag_value.as_deref());
    let mut base = pass_through(&req.params, &settings.create_exclude_params);
    if let Some(tag) = &tag_value {
        base.set(SERVER_TAG, tag);
    }

    let mut placement = match scoped_meeting(state, id, tenant).await? {
        Some(meeting) => reusable_placement(state, meeting).await?,
        None => None,
    };
    let moderator_pw = req.params.get("moderatorPW").filter(|pw| !pw.is_empty());
    let mut tried: Vec<String> = Vec::new();
    let mut last_error = None;
    loop {
        let current = match placement.take() {
            Some(p) => p,
            None => {
                let external_vb = req.params.get("voiceBridge");
                let placed =
                    place_new(state, id, &tags, &tried, moderator_pw, external_vb, tenant).await;
                match (placed, last_error.take()) {
                    (Ok(p), _) => p,
                    // Nowhere else to go after a failure: the caller gets that failure.
                    (
                        Err(ApiError::Internal(_) | ApiError::ServerTagUnavailable(_)),
                        Some(error),
                    ) => {
                        return Err(ApiError::from_call(
                            error,
                            "Unable to create meeting on server.",
                        ));
                    }
                    (Err(e), _) => return Err(e),
                }
            }
        };
        let params = create_params(state, &req, &base, &current, &td, &to, &cd, &co).await?;
        let body = req.xml_body.as_ref().map(|b| XmlBody(b.to_vec()));
        match state
            .bbb
            .call(
                &current.server,
                "create",
                &params,
                body,
                !current.server.online,
            )
            .await
        {
            Ok(response) => {
                tracing::info!(meeting.id = %id, server.id = %current.server.id, "meeting created");
                return Ok(ok_xml(&response.root));
            }
            Err(error) => {
                tracing::warn!(meeting.id = %id, server.id = %current.server.id, error = %error, "create failed");
                let retry = current.created
                    && error.is_server_fault()
                    && tried.len() + 1 < settings.create_attempts;
                if current.created {
                    rollback(state, &current).await;
                }
                if !retry {
                    return Err(ApiError::from_call(
                        error,
                        "Unable to create meeting on server.",
                    ));
                }
                tried.push(current.server.id.clone());
                last_error = Some(error);
            }
        }
    }
}

/// Undo what a failed create wrote: the meeting record and the load bump.
async fn rollback(state: &AppState, placement: &Placement) {
    if let Err(e) = state.store.delete_meeting(&placement.meeting.id).await {
        tracing::error!(meeting.id = %placement.meeting.id, error = %e, "rollback: could not forget the meeting");
    }
    let server = &placement.server;
    if let Err(e) = state
        .store
        .increment_load(&server.id, -server.load_multiplier)
        .await
    {
        tracing::error!(server.id = %server.id, error = %e, "rollback: could not restore the load");
    }
}

/// The parameters sent to BBB's create for this placement (bbb-api.md 8.5 steps 4-10).
#[allow(clippy::too_many_arguments)]
async fn create_params(
    state: &AppState,
    req: &BbbRequest,
    base: &Params,
    placement: &Placement,
    td: &Params,
    to: &Params,
    cd: &Params,
    co: &Params,
) -> Result<Params> {
    let settings = &state.settings;
    let mut params = base.clone();
    params.set("moderatorPW", &placement.meeting.moderator_pw);
    params.set("voiceBridge", &placement.meeting.voice_bridge);
    if let Some(tenant) = &req.tenant {
        params.set("meta_tenant-id", &tenant.id);
        params.set("meta_tenant-name", &tenant.name);
    }
    match placement.server.tag.as_deref().filter(|t| !t.is_empty()) {
        Some(tag) => params.set(SERVER_TAG, tag),
        None => {
            params.remove(SERVER_TAG);
        }
    }
    if settings.max_meeting_duration > 0 {
        let duration = params
            .get("duration")
            .and_then(|d| d.trim().parse::<i64>().ok())
            .unwrap_or(0);
        if duration <= 0 || duration as u64 > settings.max_meeting_duration {
            params.set("duration", settings.max_meeting_duration.to_string());
        }
    }
    if let Some(tenant) = &req.tenant {
        if let Some(payload) =
            crate::lrs::payload(&state.http, tenant, &placement.server.secret).await
        {
            params.set("meta_secret-lrs-payload", payload);
        }
    }
    capture_callbacks(state, req, &mut params).await?;
    Ok(augment(
        &params,
        &without(cd, SERVER_TAG),
        &without(co, SERVER_TAG),
        &without(td, SERVER_TAG),
        &without(to, SERVER_TAG),
    ))
}

/// Recording-ready and analytics callback URLs are kept by Scalelite (bbb-api.md 8.5 step 9).
async fn capture_callbacks(state: &AppState, req: &BbbRequest, params: &mut Params) -> Result<()> {
    let Some(id) = req.params.get("meetingID").map(str::to_owned) else {
        return Ok(());
    };
    let analytics = params.get("meta_analytics-callback-url").map(str::to_owned);
    let ready = params
        .get("meta_bn-recording-ready-url")
        .or_else(|| params.get("meta_bbb-recording-ready-url"))
        .map(str::to_owned);
    if analytics.is_none() && ready.is_none() {
        return Ok(());
    }
    let mut data = CallbackData {
        meeting_id: id,
        ..CallbackData::default()
    };
    if let Some(url) = analytics {
        data.analytics_callback_url = Some(url);
        let host = state.settings.url_host.as_deref().unwrap_or("localhost");
        let host = match &req.tenant {
            Some(t) => format!("{}.{host}", t.name),
            None => host.to_owned(),
        };
        params.set(
            "meta_analytics-callback-url",
            format!("https://{host}/bigbluebutton/api/analytics_callback"),
        );
    } else if let Some(existing) = state.store.get_callback_data(&data.meeting_id).await? {
        data.analytics_callback_url = existing.analytics_callback_url;
    }
    if let Some(url) = ready {
        for key in [
            "meta_bbb-recording-ready-url",
            "meta_canvas-recording-ready-url",
            "meta_bn-recording-ready-url",
        ] {
            params.remove(key);
        }
        data.recording_ready_url = Some(url);
    }
    state.store.put_callback_data(data).await?;
    Ok(())
}

#[cfg(test)]
mod tests;

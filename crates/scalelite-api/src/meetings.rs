//! The meeting calls: create, join, end, isMeetingRunning, getMeetingInfo, getMeetings, insertDocument
//! (`docs/compatibility.md#api-meetings`), with the fixes of `docs/compatibility.md#decisions-fixes`: a failed create
//! rolls back and tries the next server, a meeting whose server is gone, offline or disabled is placed again,
//! getMeetings asks the servers in parallel.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use scalelite_core::bbb::params::{MeetingId, Params};
use scalelite_core::bbb::xml::BbbResponseError;
use scalelite_core::bbb::xml::{self, Element};
use scalelite_core::bbb_client::{CallError, XmlBody};
use scalelite_core::domain::{
    AbandonedPlacement, CallbackData, CreateParams, Meeting, MeetingPlacement, NewMeeting,
    PlacedMeeting, Server, ServerState, TagRequest, Tenant, TenantSetting,
};
use scalelite_core::storage::{
    CallbackUrlsClean, CallbackUrlsMark, CreateRead, MeetingStore, NewPlacement, RecordingStore,
    SelectError, ServerStore, StoreError, StoreResult, TenantStore,
};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;
use tokio::time::{Duration, Instant};

use crate::behind::WritesBehind;
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

/// With a tenant, only its own meetings are visible.
fn visible_to(meeting: &Meeting, tenant: Option<&Tenant>) -> bool {
    match tenant {
        Some(t) => meeting.tenant_id.as_deref() == Some(t.id.as_str()),
        None => true,
    }
}

/// The meeting and its server, read in one store round trip, or `notFound` (another tenant's meeting does not
/// exist, and a meeting whose server record is gone is not found either).
async fn meeting_and_server(state: &AppState, req: &BbbRequest) -> Result<(Meeting, Server)> {
    let id = meeting_id(req)?;
    let placed = state
        .store
        .meeting_with_server(id.as_str())
        .await?
        .filter(|placed| visible_to(&placed.state.meeting, req.tenant.as_ref()))
        .ok_or(ApiError::MeetingNotFound)?;
    let server = placed.server.ok_or(ApiError::MeetingNotFound)?;
    Ok((placed.state.meeting, server))
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

/// `end`: only meetingID and password go to the meeting's server. The meeting is forgotten once the server
/// confirms the end or says it does not know the meeting (`notFound`); any other answer (a wrong password) leaves
/// it, and so does no answer: the poller forgets a meeting its server stops reporting.
pub async fn end(state: &AppState, req: BbbRequest) -> Result<Response> {
    let (meeting, server) = meeting_and_server(state, &req).await?;
    let mut params = only_meeting_id(&meeting.id);
    params.set("password", req.params.get("password").unwrap_or_default());
    let answer = state
        .bbb
        .call(&server, "end", &params, None, !server.online)
        .await;
    let ended = match &answer {
        Ok(_) => true,
        Err(CallError::Response(BbbResponseError::Failed { message_key, .. })) => {
            message_key.as_deref() == Some("notFound")
        }
        Err(_) => false,
    };
    if ended {
        forget_ended(state, &meeting).await?;
    }
    let response = answer.map_err(|e| ApiError::from_call(e, UNABLE_TO_ACCESS_MEETING))?;
    Ok(ok_xml(&response.root))
}

/// Forget a meeting its server ended, unless the record was placed again meanwhile (another server, or a create
/// in flight).
async fn forget_ended(state: &AppState, ended: &Meeting) -> Result<()> {
    let Some(current) = state.store.meeting_state(&ended.id).await? else {
        return Ok(());
    };
    if current.meeting.server_id == ended.server_id && current.claim.is_none() {
        state.store.delete_meeting(&ended.id).await?;
    }
    Ok(())
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

/// Everything the client sent except what is never forwarded and the configured exclusions, `meta_` names
/// lower-cased ([`canonical_name`]) so an exclusion applies whatever case the client chose.
fn pass_through(params: &Params, exclude: &[String]) -> Params {
    params
        .iter()
        .map(|(name, value)| (canonical_name(name), value))
        .filter(|(name, _)| {
            !NEVER_FORWARDED.contains(&name.as_str())
                && !exclude.iter().any(|e| canonical_name(e) == *name)
        })
        .map(|(name, value)| (name, value.to_owned()))
        .collect()
}

/// A parameter name as BBB understands it: BBB stores `meta_<key>` as metadata `<key>` lower-cased, so
/// `meta_Analytics-Callback-Url` and `meta_analytics-callback-url` are the same metadata to it. Every `meta_` name
/// the balancer compares (callback URLs, exclusions, the forced tenant id, defaults and overrides) is lower-cased
/// first; forwarding the lower-cased name changes nothing for BBB. Other names are case-sensitive, as in BBB.
fn canonical_name(name: &str) -> String {
    match name.strip_prefix("meta_") {
        Some(key) => format!("meta_{}", key.to_ascii_lowercase()),
        None => name.to_owned(),
    }
}

/// Ruby's `Hash#merge!`: `base`'s order, values replaced by `other`'s, `other`'s new keys appended.
fn merge_into(base: &mut Params, other: &Params) {
    for (name, value) in other.iter() {
        base.set(name, value);
    }
}

/// Ruby's `Hash#merge`: [`merge_into`] on a copy of `base`; `other` itself when `base` is empty.
fn merge(base: &Params, other: &Params) -> Params {
    if base.is_empty() {
        return other.clone();
    }
    let mut merged = base.clone();
    merge_into(&mut merged, other);
    merged
}

fn params_of(pairs: &[(String, String)]) -> Params {
    pairs
        .iter()
        .map(|(name, value)| (canonical_name(name), value.clone()))
        .collect()
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
            .map(|s| (canonical_name(&s.param), s.value))
            .collect::<Params>()
    };
    Ok((to_params(defaults), to_params(overrides)))
}

/// The default/override merge (`docs/compatibility.md#api-params-merge`): tenant override > config override > request >
/// tenant default > config default.
fn augment(
    request: &Params,
    config_default: &Params,
    config_override: &Params,
    td: &Params,
    to: &Params,
) -> Params {
    let mut merged = merge(td, request);
    if !config_default.is_empty() {
        merged = merge(config_default, &merged);
    }
    merge_into(&mut merged, config_override);
    merge_into(&mut merged, to);
    merged
}

fn without(params: &Params, name: &str) -> Params {
    let mut params = params.clone();
    params.remove(name);
    params
}

/// `join`: a 302 to the meeting's server, re-signed with its secret. BBB is not contacted.
pub async fn join(state: &AppState, req: BbbRequest) -> Result<Response> {
    let (meeting, server) = joinable(state, &req).await?;
    // Written behind: the redirect does not wait for a figure the poller replaces at its next cycle.
    state
        .store
        .increment_load_behind(&server.id, server.load_multiplier);
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

/// Most times a join looks again at a meeting another request is failing over.
const FAILOVER_ROUNDS: usize = 3;

/// The meeting a join goes to and its server. A meeting whose server is lost (offline, disabled, removed) is
/// failed over first ([`fail_over`]); without failover such a join answers the original's error.
async fn joinable(state: &AppState, req: &BbbRequest) -> Result<(Meeting, Server)> {
    for _ in 0..FAILOVER_ROUNDS {
        let placed = settle_placement(state, req)
            .await?
            .filter(|placed| visible_to(&placed.state.meeting, req.tenant.as_ref()))
            .ok_or(ApiError::MeetingNotFound)?;
        let (meeting, server) = (placed.state.meeting, placed.server);
        if let Some(server) = server.as_ref().filter(|s| hosts_meetings(s)) {
            return Ok((meeting, server.clone()));
        }
        match fail_over(state, &meeting, req.tenant.as_ref()).await? {
            Failover::Moved(moved) => return Ok(*moved),
            // Someone else is moving it: the next round waits for their claim and reads where it went.
            Failover::Busy => continue,
            Failover::Unavailable if server.is_some() => return Err(ApiError::ServerUnavailable),
            Failover::Unavailable => return Err(ApiError::MeetingNotFound),
        }
    }
    Err(ApiError::ServerUnavailable)
}

/// Whether a server still hosts the meetings placed on it: online and not disabled (a cordoned server keeps its
/// meetings).
fn hosts_meetings(server: &Server) -> bool {
    server.online && server.state != ServerState::Disabled
}

/// What [`fail_over`] did.
enum Failover {
    /// The meeting was created again on this server and the record points there now.
    Moved(Box<(Meeting, Server)>),
    /// Another request holds the meeting's placement (a create in flight, or another failover): look again.
    Busy,
    /// Not possible (failover off, no kept create parameters, no eligible server, or its create failed).
    Unavailable,
}

/// Largest pre-uploaded presentation body kept for failover; a larger one is dropped (the meeting is created
/// again without it).
const KEPT_BODY_LIMIT: usize = 1024 * 1024;

/// What this placement's create was forwarded with, kept for [`fail_over`].
fn kept_create_params(
    params: &Params,
    body: Option<&[u8]>,
    server_tag: Option<&str>,
) -> CreateParams {
    CreateParams {
        params: params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        body: body
            .filter(|b| b.len() <= KEPT_BODY_LIMIT)
            .and_then(|b| String::from_utf8(b.to_vec()).ok()),
        server_tag: server_tag.map(str::to_owned),
    }
}

/// Meeting failover: create `meeting` again, with the parameters its create was forwarded with (same meetingID,
/// passwords and voice bridge), on the least-loaded eligible server, and move the record there. The record is
/// taken with a claim first, so of many concurrent joiners (in any number of API processes) one re-creates the
/// meeting and the others wait for it. The copy left on the lost server is recorded as abandoned: should that
/// server come back with it, the poller ends it once nobody is in it.
async fn fail_over(
    state: &AppState,
    meeting: &Meeting,
    tenant: Option<&Tenant>,
) -> Result<Failover> {
    if !state.settings.meeting_failover {
        return Ok(Failover::Unavailable);
    }
    let Some(kept) = state.store.get_create_params(&meeting.id).await? else {
        return Ok(Failover::Unavailable);
    };
    let (id, from) = (meeting.id.as_str(), meeting.server_id.as_str());
    let token = claim_token();
    if !state
        .store
        .take_over_meeting(id, from, &token, claim_for(state))
        .await?
    {
        return Ok(Failover::Busy);
    }
    let tags = TagRequest::parse(kept.server_tag.as_deref());
    let target = match state.store.select_server(&tags).await {
        Ok(target) => target,
        Err(e) => {
            tracing::warn!(meeting.id = %id, server.id = %from, error = %e, "failover: no server to move the meeting to");
            state.store.confirm_meeting(id, &token).await?;
            return Ok(Failover::Unavailable);
        }
    };
    if target.id == from {
        // Usable again after all (it came back meanwhile): nothing to move.
        give_back_load(state, &target).await;
        state.store.confirm_meeting(id, &token).await?;
        return Ok(Failover::Busy);
    }
    if !state
        .store
        .move_meeting(
            id,
            &token,
            &target.id,
            &meeting.moderator_pw,
            claim_for(state),
        )
        .await?
    {
        give_back_load(state, &target).await;
        return Ok(Failover::Busy);
    }
    let mut params = Params::default();
    for (name, value) in &kept.params {
        params.set(name, value);
    }
    match target.tag.as_deref().filter(|t| !t.is_empty()) {
        Some(tag) => params.set(SERVER_TAG, tag),
        None => {
            params.remove(SERVER_TAG);
        }
    }
    if let Some(tenant) = tenant {
        if let Some(payload) = crate::lrs::payload(&state.http, tenant, &target.secret).await {
            params.set("meta_secret-lrs-payload", payload);
        }
    }
    let body = kept.body.map(|b| XmlBody(b.into_bytes()));
    let moved = Meeting {
        server_id: target.id.clone(),
        ..meeting.clone()
    };
    match state
        .bbb
        .call(&target, "create", &params, body, !target.online)
        .await
    {
        Ok(_) => {
            confirm(
                state,
                &Placement {
                    meeting: moved.clone(),
                    server: target.clone(),
                    claim: None,
                },
                &token,
                None,
            )
            .await;
            abandon(
                state,
                &Placement {
                    meeting: meeting.clone(),
                    server: Server {
                        id: from.to_owned(),
                        ..target.clone()
                    },
                    claim: None,
                },
            )
            .await;
            move_callback_data(state, meeting, &target.id).await;
            state.metrics.failover(from);
            tracing::info!(meeting.id = %id, from = %from, to = %target.id, "meeting failed over");
            Ok(Failover::Moved(Box::new((moved, target))))
        }
        Err(error) => {
            tracing::warn!(meeting.id = %id, server.id = %target.id, error = %error, "failover: create failed");
            give_back_load(state, &target).await;
            if error.is_server_fault() {
                abandon(
                    state,
                    &Placement {
                        meeting: moved,
                        server: target,
                        claim: None,
                    },
                )
                .await;
            }
            // Back to where it was, so the next join tries again.
            if state
                .store
                .move_meeting(id, &token, from, &meeting.moderator_pw, claim_for(state))
                .await?
            {
                state.store.confirm_meeting(id, &token).await?;
            }
            Ok(Failover::Unavailable)
        }
    }
}

/// The analytics relay signs with the server the meeting runs on: point the captured callback data at the new one.
async fn move_callback_data(state: &AppState, meeting: &Meeting, server_id: &str) {
    let tenant_id = meeting.tenant_id.as_deref();
    match state.store.get_callback_data(tenant_id, &meeting.id).await {
        Ok(Some(data)) if data.server_id.is_some() => {
            let data = CallbackData {
                server_id: Some(server_id.to_owned()),
                ..data
            };
            if let Err(e) = state.store.put_callback_data(data).await {
                tracing::error!(meeting.id = %meeting.id, error = %e, "failover: could not move the callback data");
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(meeting.id = %meeting.id, error = %e, "failover: could not read the callback data")
        }
    }
}

/// A fresh placement claim token.
fn claim_token() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// Wait while the meeting's `create` is in flight (it may still fail over to another server), so a join is never
/// sent to a server that is about to be given up on. Bounded like a creator's wait. Returns the meeting as that
/// last read saw it, with its server read in the same round trip: the caller must use this very record, since a
/// second read could find a placement claimed after this one (the meeting absent here, claimed on a server that is
/// about to be given up on there).
async fn settle_placement(state: &AppState, req: &BbbRequest) -> Result<Option<PlacedMeeting>> {
    let id = meeting_id(req)?;
    let attempts = u32::try_from(state.settings.create_attempts.max(1)).unwrap_or(u32::MAX);
    let wait_until = Instant::now() + claim_for(state) * attempts;
    loop {
        let Some(current) = state.store.meeting_with_server(id.as_str()).await? else {
            return Ok(None);
        };
        if !in_flight(&state.behind, &current) || Instant::now() >= wait_until {
            return Ok(Some(current));
        }
        tokio::time::sleep(CLAIM_POLL).await;
    }
}

/// Whether `placed` is a placement still in flight (claimed). One whose create this process has answered and is
/// confirming behind the answer (`behind`) is not, unless its server can no longer host it: failing it over needs
/// the confirmed record, which is a few milliseconds away.
fn in_flight(behind: &WritesBehind, placed: &PlacedMeeting) -> bool {
    placed.state.claim.as_deref().is_some_and(|token| {
        !(behind.confirming(token) && placed.server.as_ref().is_some_and(hosts_meetings))
    })
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

/// The first non-blank of `values`, in order.
fn first_non_blank(values: &[Option<&str>]) -> Option<String> {
    values
        .iter()
        .flatten()
        .find(|v| !v.trim().is_empty())
        .map(|v| (*v).to_owned())
}

/// The request's value of `name` (a [`canonical_name`]) as `pass_through(params, &[])` would hold it: the last
/// value sent under a spelling of it, without building that list.
fn sent_value<'p>(params: &'p Params, name: &str) -> Option<&'p str> {
    let same = |sent: &str| match (sent.strip_prefix("meta_"), name.strip_prefix("meta_")) {
        (Some(key), Some(canonical)) => key.eq_ignore_ascii_case(canonical),
        _ => sent == name,
    };
    params
        .iter()
        .rev()
        .find(|(sent, _)| same(sent))
        .map(|(_, value)| value)
}

/// Where a create goes: a server, and the claim token when this request placed the meeting (so it owns the
/// failover, the confirmation and the rollback).
struct Placement {
    meeting: Meeting,
    server: Server,
    claim: Option<String>,
}

/// How often a creator looks again at a placement someone else has in flight.
const CLAIM_POLL: Duration = Duration::from_millis(50);
/// Time a claim lives beyond the longest `create` call, for the store writes around it.
const CLAIM_MARGIN: Duration = Duration::from_secs(5);

/// How long one placement attempt holds its claim: the longest `create` call plus a margin. A creator that dies
/// holds the meeting up for at most this long.
fn claim_for(state: &AppState) -> Duration {
    let timeouts = state.bbb.timeouts();
    timeouts.connect + timeouts.response + CLAIM_MARGIN
}

/// An existing meeting is reused only when its server can still host it; otherwise it is forgotten and placed
/// again. A meeting on a cordoned server is kept only if that server says it is running.
async fn reusable_placement(
    state: &AppState,
    meeting: Meeting,
    server: Option<Server>,
    tenant: Option<&Tenant>,
) -> Result<Option<Placement>> {
    let Some(server) = server else {
        return lost_placement(state, meeting, tenant).await;
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
            claim: None,
        }))
    } else if !hosts_meetings(&server) {
        lost_placement(state, meeting, tenant).await
    } else {
        tracing::info!(meeting.id = %meeting.id, server.id = %server.id, "forgetting meeting on an unusable server");
        state.store.delete_meeting(&meeting.id).await?;
        Ok(None)
    }
}

/// A create for a meeting whose server is lost: fail it over (the create then goes to the new server and BBB
/// answers `duplicateWarning`); without failover, forget the meeting so it is placed anew. `None` also while
/// another request moves it (the caller looks again).
async fn lost_placement(
    state: &AppState,
    meeting: Meeting,
    tenant: Option<&Tenant>,
) -> Result<Option<Placement>> {
    match fail_over(state, &meeting, tenant).await? {
        Failover::Moved(moved) => {
            let (meeting, server) = *moved;
            Ok(Some(Placement {
                meeting,
                server,
                claim: None,
            }))
        }
        Failover::Busy => {
            tokio::time::sleep(CLAIM_POLL).await;
            Ok(None)
        }
        Failover::Unavailable => {
            tracing::info!(meeting.id = %meeting.id, server.id = %meeting.server_id, "forgetting meeting on an unusable server");
            state.store.delete_meeting(&meeting.id).await?;
            Ok(None)
        }
    }
}

/// What the create request asks for, as far as placing it goes.
struct CreateRequest<'a> {
    id: &'a str,
    tags: &'a TagRequest,
    moderator_pw: Option<&'a str>,
    external_voice_bridge: Option<&'a str>,
    tenant: Option<&'a Tenant>,
}

/// What placing the meeting of `request` as new needs (`MeetingStore::place_meeting`'s arguments), under the
/// claim `token`.
fn new_placement<'a>(
    state: &AppState,
    request: &'a CreateRequest<'_>,
    token: &'a str,
) -> NewPlacement<'a> {
    let id = request.id;
    let candidates = voice_bridge_candidates(
        id,
        state.settings.voice_bridge_len,
        request
            .external_voice_bridge
            .filter(|_| state.settings.use_external_voice_bridge),
    );
    NewPlacement {
        tags: request.tags,
        meeting: NewMeeting {
            id: id.to_owned(),
            // Set by the store: the chosen server and the password on it.
            server_id: String::new(),
            moderator_pw: String::new(),
            voice_bridge_candidates: candidates,
            tenant_id: request.tenant.map(|t| t.id.clone()),
        },
        moderator_pw: request.moderator_pw.map(str::to_owned),
        token,
        claim_for: claim_for(state),
        ttl: state.settings.meeting_ttl,
    }
}

/// Pick a server (atomically bumping its load) and claim the meeting id on it, in one store step: the placement
/// `MeetingStore::meeting_for_create` made as it read the meeting (`placed_new`), or else
/// `MeetingStore::place_meeting`. `None` when someone else's record won (no bump stays): the caller looks at that
/// record.
async fn place_new(
    state: &AppState,
    request: &CreateRequest<'_>,
    place: NewPlacement<'_>,
    placed_new: Option<std::result::Result<(Server, StoreResult<MeetingPlacement>), SelectError>>,
) -> Result<Option<Placement>> {
    let token = place.token.to_owned();
    let (server, placement) = match placed_new {
        Some(placed) => placed.map_err(select_error)?,
        None => {
            let (given, meeting_id) = (place.moderator_pw, request.id.to_owned());
            let password = move |server: &Server| {
                given.unwrap_or_else(|| server.derived_moderator_password(&meeting_id))
            };
            state
                .store
                .place_meeting(
                    place.tags,
                    place.meeting,
                    password,
                    place.token,
                    place.claim_for,
                    place.ttl,
                )
                .await
                .map_err(select_error)?
        }
    };
    match placement {
        Ok(MeetingPlacement::Created(meeting)) => Ok(Some(Placement {
            meeting,
            server,
            claim: Some(token),
        })),
        Ok(MeetingPlacement::Existing(_)) => Ok(None),
        Err(StoreError::Conflict(_)) => {
            Err(conflict_error(state, request.id, request.tenant).await)
        }
        Err(other) => Err(other.into()),
    }
}

fn moderator_password(server: &Server, request: &CreateRequest<'_>) -> String {
    request.moderator_pw.map_or_else(
        || server.derived_moderator_password(request.id),
        str::to_owned,
    )
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

/// The original's `find_available` over an already sorted candidate list (used for fail-over only; the first pick
/// is the store's atomic `select_server`).
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

/// The placement this create uses: a confirmed record whose server can host it, or a new one claimed here. A
/// record another creator has in flight is waited for (until `wait_until`), never created twice.
async fn find_placement(
    state: &AppState,
    request: &CreateRequest<'_>,
    wait_until: Instant,
) -> Result<(Placement, CallbackUrlsMark)> {
    loop {
        let tenant_id = request.tenant.map(|t| t.id.as_str());
        let token = claim_token();
        let place = new_placement(state, request, &token);
        // Places the meeting when it does not exist, where the store can (`placed_new`).
        let CreateRead {
            placed: current,
            mark,
            placed_new,
        } = state
            .store
            .meeting_for_create(request.id, tenant_id, Some(&place))
            .await?;
        // As the store's find-or-create decides: only a record of another tenant is someone else's.
        let visible = current.as_ref().is_some_and(|c| {
            match (request.tenant, c.state.meeting.tenant_id.as_deref()) {
                (Some(t), Some(theirs)) => t.id == theirs,
                _ => true,
            }
        });
        match current {
            Some(current) if visible && in_flight(&state.behind, &current) => {
                if Instant::now() >= wait_until {
                    tracing::warn!(meeting.id = %request.id, "create: gave up waiting for a placement in flight");
                    return Err(ApiError::Internal(
                        "Unable to create meeting on server.".into(),
                    ));
                }
                tokio::time::sleep(CLAIM_POLL).await;
            }
            Some(current) if visible => {
                if let Some(placement) =
                    reusable_placement(state, current.state.meeting, current.server, request.tenant)
                        .await?
                {
                    return Ok((placement, mark));
                }
            }
            // Absent, or another tenant's (the claim then answers the original's error).
            _ => {
                if let Some(placement) = place_new(state, request, place, placed_new).await? {
                    return Ok((placement, mark));
                }
            }
        }
        if Instant::now() >= wait_until {
            return Err(ApiError::Internal(
                "Unable to create meeting on server.".into(),
            ));
        }
    }
}

/// `create`. Concurrent creates of one meeting ID, in any number of API processes, end on one
/// server: the first writes the record with a claim, the others wait for that claim to be confirmed and then send
/// their create to the same server (BBB answers `duplicateWarning`). A placement whose server fails (no answer,
/// not BBB's XML) fails over to the next least-loaded server under the same claim; the server given up on is
/// remembered so the poller can end a meeting it creates late.
pub async fn create(state: &AppState, req: BbbRequest) -> Result<Response> {
    let id = meeting_id(&req)?;
    let id = id.as_str();
    let settings = &state.settings;
    let tenant = req.tenant.as_ref();
    let (td, to) = tenant_settings(state, tenant).await?;
    let cd = params_of(&settings.default_create_params);
    let co = params_of(&settings.override_create_params);

    let tag_value = first_non_blank(&[
        to.get(SERVER_TAG),
        co.get(SERVER_TAG),
        sent_value(&req.params, SERVER_TAG),
        td.get(SERVER_TAG),
        cd.get(SERVER_TAG),
    ]);
    let tags = TagRequest::parse(tag_value.as_deref());
    let mut base = pass_through(&req.params, &settings.create_exclude_params);
    if let Some(tag) = &tag_value {
        base.set(SERVER_TAG, tag);
    }
    let request = CreateRequest {
        id,
        tags: &tags,
        moderator_pw: req.params.get("moderatorPW").filter(|pw| !pw.is_empty()),
        external_voice_bridge: req.params.get("voiceBridge"),
        tenant,
    };
    // Long enough for a placement in flight to try every server it may fail over to.
    let attempts = u32::try_from(settings.create_attempts.max(1)).unwrap_or(u32::MAX);
    let wait_until = Instant::now() + claim_for(state) * attempts;

    let (mut current, mut mark) = find_placement(state, &request, wait_until).await?;
    let mut tried: Vec<String> = Vec::new();
    loop {
        let (params, clean) =
            create_params(state, &req, &base, &current, &mark, &td, &to, &cd, &co).await?;
        let body = req.xml_body.as_ref().map(|b| XmlBody(b.to_vec()));
        let answer = state
            .bbb
            .call(
                &current.server,
                "create",
                &params,
                body,
                !current.server.online,
            )
            .await;
        let error = match answer {
            Ok(response) => {
                tracing::info!(meeting.id = %id, server.id = %current.server.id, "meeting created");
                // Behind the answer (`behind`), which does not depend on them.
                if let Some(token) = current.claim.clone() {
                    let kept =
                        kept_create_params(&params, req.xml_body.as_deref(), tag_value.as_deref());
                    let (state, placement) = (state.clone(), current);
                    state.behind.clone().confirm(token.clone(), async move {
                        confirm(&state, &placement, &token, Some((&kept, clean.as_ref()))).await;
                    });
                } else if let Some(clean) = clean {
                    let store = state.store.clone();
                    state.behind.spawn(async move {
                        if let Err(e) = store.mark_callback_urls_clean(&clean).await {
                            tracing::warn!(error = %e, "create: could not mark the callback data clean");
                        }
                    });
                }
                return Ok(ok_xml(&response.root));
            }
            Err(error) => error,
        };
        tracing::warn!(meeting.id = %id, server.id = %current.server.id, error = %error, "create failed");
        let Some(token) = current.claim.clone() else {
            // Someone else's placement: their server's answer is the answer.
            return Err(ApiError::from_call(
                error,
                "Unable to create meeting on server.",
            ));
        };
        give_back_load(state, &current.server).await;
        if error.is_server_fault() {
            abandon(state, &current).await;
        }
        tried.push(current.server.id.clone());
        let next = if error.is_server_fault() && tried.len() < settings.create_attempts {
            next_server(state, &tags, &tried).await
        } else {
            None
        };
        let Some(next) = next else {
            release(state, id, &token).await;
            return Err(ApiError::from_call(
                error,
                "Unable to create meeting on server.",
            ));
        };
        let moderator_pw = moderator_password(&next, &request);
        let moved = state
            .store
            .move_meeting(id, &token, &next.id, &moderator_pw, claim_for(state))
            .await;
        match moved {
            Ok(true) => {
                tracing::info!(meeting.id = %id, server.id = %next.id, "create: failing over");
                current = Placement {
                    meeting: Meeting {
                        server_id: next.id.clone(),
                        moderator_pw,
                        ..current.meeting
                    },
                    server: next,
                    claim: Some(token),
                };
            }
            Ok(false) => {
                // Our claim lapsed and someone else holds the meeting now: follow their placement.
                give_back_load(state, &next).await;
                (current, mark) = find_placement(state, &request, wait_until).await?;
            }
            Err(e) => {
                give_back_load(state, &next).await;
                release(state, id, &token).await;
                return Err(e.into());
            }
        }
    }
}

/// The least-loaded available server not tried yet, with its load bumped (rare, so not atomic with the pick).
async fn next_server(state: &AppState, tags: &TagRequest, tried: &[String]) -> Option<Server> {
    let available = match state.store.available_servers().await {
        Ok(available) => available,
        Err(e) => {
            tracing::error!(error = %e, "create: could not list the servers to fail over to");
            return None;
        }
    };
    let candidates: Vec<Server> = available
        .into_iter()
        .filter(|s| !tried.contains(&s.id))
        .collect();
    let server = pick(&candidates, tags).ok()?;
    match state
        .store
        .increment_load(&server.id, server.load_multiplier)
        .await
    {
        Ok(_) => Some(server),
        Err(e) => {
            tracing::error!(server.id = %server.id, error = %e, "create: could not bump the load");
            None
        }
    }
}

/// The create succeeded: the claim is dropped so waiting creators follow, and `kept` (what a new meeting's create
/// was forwarded with, and the callback data to mark clean) is stored in the same round trip. Should the claim have
/// lapsed and the meeting be placed elsewhere meanwhile, this server's meeting is a stray: remembered for the
/// poller.
async fn confirm(
    state: &AppState,
    placement: &Placement,
    token: &str,
    kept: Option<(&CreateParams, Option<&CallbackUrlsClean>)>,
) {
    let id = &placement.meeting.id;
    let confirmed = match kept {
        Some((kept, clean)) => {
            state
                .store
                .confirm_meeting_with_params(id, token, kept, state.settings.meeting_ttl, clean)
                .await
        }
        None => state.store.confirm_meeting(id, token).await,
    };
    match confirmed {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(meeting.id = %placement.meeting.id, server.id = %placement.server.id, "create: the placement was taken over meanwhile");
            abandon(state, placement).await;
        }
        Err(e) => {
            // The claim lapses by itself; the record already points at this server.
            tracing::error!(meeting.id = %placement.meeting.id, error = %e, "create: could not confirm the placement");
        }
    }
}

/// Remember that `placement`'s server may still create the meeting although the balancer gave up on it.
async fn abandon(state: &AppState, placement: &Placement) {
    let abandoned = AbandonedPlacement {
        meeting_id: placement.meeting.id.clone(),
        server_id: placement.server.id.clone(),
        moderator_pw: placement.meeting.moderator_pw.clone(),
        at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
    };
    if let Err(e) = state.store.record_abandoned(abandoned).await {
        tracing::error!(meeting.id = %placement.meeting.id, error = %e, "create: could not remember the abandoned placement");
    }
}

/// Undo the record this request wrote, only while its claim holds it.
async fn release(state: &AppState, id: &str, token: &str) {
    match state.store.release_meeting(id, token).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(meeting.id = %id, "rollback: the meeting belongs to another placement now; left alone")
        }
        Err(e) => {
            tracing::error!(meeting.id = %id, error = %e, "rollback: could not forget the meeting")
        }
    }
}

/// Give back the load bump of a placement that did not happen.
async fn give_back_load(state: &AppState, server: &Server) {
    if let Err(e) = state
        .store
        .increment_load(&server.id, -server.load_multiplier)
        .await
    {
        tracing::error!(server.id = %server.id, error = %e, "rollback: could not restore the load");
    }
}

/// The parameters sent to BBB's create for this placement (`docs/compatibility.md#api-create`), and the callback
/// data left to mark clean ([`capture_callbacks`]).
#[allow(clippy::too_many_arguments)]
async fn create_params(
    state: &AppState,
    req: &BbbRequest,
    base: &Params,
    placement: &Placement,
    mark: &CallbackUrlsMark,
    td: &Params,
    to: &Params,
    cd: &Params,
    co: &Params,
) -> Result<(Params, Option<CallbackUrlsClean>)> {
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
    let clean = capture_callbacks(state, req, &placement.server.id, mark, &mut params).await?;
    let params = augment(
        &params,
        &without(cd, SERVER_TAG),
        &without(co, SERVER_TAG),
        &without(td, SERVER_TAG),
        &without(to, SERVER_TAG),
    );
    Ok((params, clean))
}

/// Recording-ready and analytics callback URLs are kept by Scalelite, keyed by meetingID and tenant, with the
/// server the meeting is created on (analytics relayed for the meeting must be signed with its secret). Names are
/// already lower-cased ([`canonical_name`]), so `meta_Analytics-Callback-Url` is captured like the lower-case
/// name. A create without them clears what an earlier create of the same meetingID left, and returns the callback
/// data left to mark clean once the create succeeded (`RecordingStore::clear_callback_urls`).
async fn capture_callbacks(
    state: &AppState,
    req: &BbbRequest,
    server_id: &str,
    mark: &CallbackUrlsMark,
    params: &mut Params,
) -> Result<Option<CallbackUrlsClean>> {
    let Some(id) = req.params.get("meetingID").map(str::to_owned) else {
        return Ok(None);
    };
    let tenant_id = req.tenant.as_ref().map(|t| t.id.clone());
    let analytics = params.get("meta_analytics-callback-url").map(str::to_owned);
    let ready = params
        .get("meta_bn-recording-ready-url")
        .or_else(|| params.get("meta_bbb-recording-ready-url"))
        .map(str::to_owned);
    if analytics.is_none() && ready.is_none() {
        let clean = state
            .store
            .clear_callback_urls(tenant_id.as_deref(), &id, server_id, mark)
            .await?;
        return Ok(clean);
    }
    if analytics.is_some() {
        let host = state.settings.url_host.as_deref().unwrap_or("localhost");
        let host = match &req.tenant {
            Some(t) => format!("{}.{host}", t.name),
            None => host.to_owned(),
        };
        params.set(
            "meta_analytics-callback-url",
            format!("https://{host}/bigbluebutton/api/analytics_callback"),
        );
    }
    if ready.is_some() {
        for key in [
            "meta_bbb-recording-ready-url",
            "meta_canvas-recording-ready-url",
            "meta_bn-recording-ready-url",
        ] {
            params.remove(key);
        }
    }
    state
        .store
        .put_callback_data(CallbackData {
            meeting_id: id,
            tenant_id,
            server_id: Some(server_id.to_owned()),
            recording_id: None,
            recording_ready_url: ready,
            analytics_callback_url: analytics,
        })
        .await?;
    Ok(None)
}

#[cfg(test)]
mod tests;

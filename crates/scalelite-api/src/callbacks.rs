//! `POST /bigbluebutton/api/analytics_callback`: BBB servers post their learning-analytics JSON here; Scalelite
//! relays it to the URL the front-end gave at create.
//!
//! The JSON names its meeting (`meeting_id`). The callback data of that meeting is looked up for the tenant of the
//! Host header (none without multitenancy), and the caller must prove it is the server the meeting was created on:
//! `Authorization: Bearer <JWT HS512>` signed with that server's secret, carrying an `exp` that has not passed. The
//! JSON is forwarded with `customer` (the meeting's tenant name, else `scalelite`) added, signed with a fresh JWT
//! (HS512, expiring in 24 h) made with each secret of the meeting's tenant (else each LB secret) in turn until the
//! receiver answers 2xx. The answer to BBB is always 204; what went wrong is logged.
//!
//! Differences from the original, which accepts a token from any registered server (with or without `exp`) for any
//! meeting, keys callback URLs by meetingID alone, and signs with the tenant of the Host header.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scalelite_core::bbb::params::Params;
use scalelite_core::domain::{CallbackData, Secret, Tenant};
use scalelite_core::jwt::{self, JwtAlgorithm};
use scalelite_core::storage::{MeetingStore, RecordingStore, ServerStore, StoreError, TenantStore};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::request::{self, Incoming};
use crate::state::AppState;

/// The User-Agent of relayed callbacks.
pub const USER_AGENT: &str = "BigBlueButton Analytics Callback";
/// Lifetime of the token on a relayed callback.
const RELAY_TOKEN_SECONDS: i64 = 24 * 3600;

/// Why a callback was not relayed (logged, never shown to the caller).
#[derive(Debug, thiserror::Error)]
enum DropReason {
    #[error("no bearer token")]
    NoToken,
    #[error("token invalid")]
    InvalidToken,
    #[error("body is not a JSON object or form")]
    BadBody,
    #[error("no meeting_id")]
    NoMeetingId,
    #[error("no analytics callback URL for the meeting")]
    NoCallback,
    #[error("no secret to sign the relayed callback with")]
    NoSecret,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The handler: tenant (multitenancy only; an unknown one is `checksumError`), then the relay, then 204.
pub async fn analytics_callback(state: &AppState, incoming: Incoming<'_>) -> Result<Response> {
    let tenant = request::resolve_tenant(state, incoming.headers).await?;
    match relay(state, tenant.as_ref(), &incoming).await {
        Ok(()) => {}
        Err(DropReason::Store(e)) => {
            tracing::error!(error.message = %e, error.cause_chain = ?e, "analytics callback: storage failure")
        }
        Err(why) => tracing::info!(reason = %why, "analytics callback dropped"),
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn relay(
    state: &AppState,
    host_tenant: Option<&Tenant>,
    incoming: &Incoming<'_>,
) -> Result<(), DropReason> {
    let token = bearer_token(incoming.headers).ok_or(DropReason::NoToken)?;
    let mut body = parameters(incoming)?;
    let meeting_id = match body.get("meeting_id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(DropReason::NoMeetingId),
    };
    let data = state
        .store
        .get_callback_data(host_tenant.map(|t| t.id.as_str()), &meeting_id)
        .await?
        .ok_or(DropReason::NoCallback)?;
    let url = data
        .analytics_callback_url
        .clone()
        .ok_or(DropReason::NoCallback)?;
    if !token_from_the_meetings_server(state, &data, token).await? {
        return Err(DropReason::InvalidToken);
    }
    // Signed for the tenant that created the meeting, whatever the Host header said.
    let tenant = match data.tenant_id.as_deref() {
        Some(id) => Some(state.store.get_tenant(id).await?),
        None => None,
    };
    let customer = tenant.as_ref().map_or("scalelite", |t| t.name.as_str());
    body.insert("customer".into(), Value::String(customer.to_owned()));
    let payload = serde_json::to_vec(&Value::Object(body)).map_err(|_| DropReason::BadBody)?;
    let secrets: &[Secret] = match &tenant {
        Some(t) => &t.secrets,
        None => &state.settings.lb_secrets,
    };
    if secrets.is_empty() {
        return Err(DropReason::NoSecret);
    }
    tracing::info!(meeting.id = %meeting_id, "making analytics callback");
    let exp = now_epoch_seconds() + RELAY_TOKEN_SECONDS;
    for secret in secrets {
        let token = jwt::encode(
            &serde_json::json!({ "exp": exp }),
            secret.expose().as_bytes(),
            JwtAlgorithm::Hs512,
        );
        let sent = state
            .http
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::USER_AGENT, USER_AGENT)
            .body(payload.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                tracing::info!(meeting.id = %meeting_id, status = response.status().as_u16(), "analytics callback successful");
                return Ok(());
            }
            Ok(response) => {
                tracing::info!(meeting.id = %meeting_id, status = response.status().as_u16(), "analytics callback failed; trying the next secret");
            }
            Err(e) => {
                // Unlike a non-2xx answer, a transport failure ends the relay, as in the original.
                tracing::warn!(meeting.id = %meeting_id, error = %e.without_url(), "analytics callback could not be sent");
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The token of `Authorization: Bearer <token>`.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?.trim();
    (!token.is_empty()).then_some(token)
}

/// Whether `token` is an unexpired HS512 token (an `exp` claim is required) signed with the secret of the server
/// the meeting was created on. Callback data written by the original does not name the server: the server the
/// meeting is on now stands in, when the meeting record belongs to the same tenant.
async fn token_from_the_meetings_server(
    state: &AppState,
    data: &CallbackData,
    token: &str,
) -> Result<bool, StoreError> {
    let server_id = match &data.server_id {
        Some(id) => id.clone(),
        None => match state.store.get_meeting(&data.meeting_id).await {
            Ok(meeting) if meeting.tenant_id == data.tenant_id => meeting.server_id,
            Ok(_) | Err(StoreError::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        },
    };
    let server = match state.store.get_server(&server_id).await {
        Ok(server) => server,
        Err(StoreError::NotFound(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    let claims = jwt::decode::<Value>(
        token,
        server.secret.expose().as_bytes(),
        JwtAlgorithm::Hs512,
        now_epoch_seconds(),
    );
    Ok(claims.is_ok_and(|claims| claims.get("exp").is_some_and(Value::is_number)))
}

/// The request parameters as a JSON object: the JSON body (or a form body), with URL query parameters winning.
fn parameters(incoming: &Incoming<'_>) -> Result<Map<String, Value>, DropReason> {
    let mut object = if incoming.body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else if let Ok(Value::Object(object)) = serde_json::from_slice(&incoming.body) {
        object
    } else {
        let text = std::str::from_utf8(&incoming.body).map_err(|_| DropReason::BadBody)?;
        let form = Params::parse(text).map_err(|_| DropReason::BadBody)?;
        form.iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
            .collect()
    };
    if let Some(query) = incoming.raw_query {
        let query = Params::parse(query).map_err(|_| DropReason::BadBody)?;
        for (name, value) in query.iter() {
            object.insert(name.to_owned(), Value::String(value.to_owned()));
        }
    }
    Ok(object)
}

fn now_epoch_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests;

//! The admin REST API, `/scalelite/api/*`: servers and tenants as JSON, over the same
//! management layer as `scalelite-cli`.
//!
//! Every call goes through these filters, in order: a POST with a body must be `application/json` (else
//! `unsupportedContentType` XML), then the checksum `H(action + query without checksum + raw body + secret)` with
//! `ADMIN_API_SECRET` or else the LB secrets (tenant secrets never count), then, with `ADMIN_API_MAX_AGE`, a fresh
//! signed `timestamp`, then, for the tenant calls, `MULTITENANCY_ENABLED` (else 412). Filter failures answer BBB
//! XML with HTTP 200, as the original does.
//!
//! Differences from the original: the checksum covers the body (the original's covers the action and query only,
//! so one logged URL per action let anyone send any body; `ADMIN_API_LEGACY_CHECKSUM` accepts that form again,
//! with a warning per call). `load_multiplier` is always a JSON number, tenants
//! carry no `new_record`/`destroyed` flags, `panicServer` reads `keep_state` at the top level or under `server`
//! with strict booleans (`"false"` is false), and a failing BBB `end` no longer fails the panic (the meetings are
//! forgotten either way). `updateServer` also accepts `url`. Ours: `getMeetings`, each meeting with its server.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use scalelite_core::bbb::checksum;
use scalelite_core::bbb::params::{self, Params};
use scalelite_core::domain::{Secret, ServerState};
use scalelite_core::management::json::{MeetingJson, ServerJson, TenantJson, TenantSummaryJson};
use scalelite_core::management::{
    Management, ManagementError, ManagementOptions, NewServerRequest, ServerUpdate, parse_bool,
    parse_load_multiplier,
};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::settings::Settings;
use crate::state::AppState;

/// The `/scalelite/api/*` routes. Any other method on these paths falls through to `unsupportedRequest`, like the
/// original's catch-all.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/scalelite/api/getServers", any(get_servers))
        .route("/scalelite/api/getServerInfo", any(get_server_info))
        .route("/scalelite/api/getMeetings", any(get_meetings))
        .route("/scalelite/api/addServer", any(add_server))
        .route("/scalelite/api/updateServer", any(update_server))
        .route("/scalelite/api/deleteServer", any(delete_server))
        .route("/scalelite/api/panicServer", any(panic_server))
        .route("/scalelite/api/getTenants", any(get_tenants))
        .route("/scalelite/api/getTenantInfo", any(get_tenant_info))
        .route("/scalelite/api/addTenant", any(add_tenant))
        .route("/scalelite/api/updateTenant", any(update_tenant))
        .route("/scalelite/api/deleteTenant", any(delete_tenant))
}

/// A request that passed the filters: the decoded query and the JSON body (empty when there is none).
pub struct AdminRequest {
    query: Params,
    body: Map<String, Value>,
}

/// The outcome of a handler: a response either way (filters and errors included).
type Answer = Result<Response, Response>;

fn json_response(status: StatusCode, value: impl serde::Serialize) -> Response {
    (status, axum::Json(value)).into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    json_response(status, json!({ "error": message.into() }))
}

/// Text of a JSON scalar (strings, numbers, booleans); `None` for null, arrays and objects.
pub fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl AdminRequest {
    /// The filters that read the request itself, after the method, size and content-type checks: the checksum,
    /// the query, `ADMIN_API_MAX_AGE`'s timestamp and the JSON body. No I/O, so it can be fuzzed.
    ///
    /// # Errors
    /// The response to send: `checksumError` for a wrong checksum or a stale timestamp, `invalidParameters` for a
    /// query that is not UTF-8, 400 for a body that is not a JSON object.
    #[allow(clippy::result_large_err)] // the response the filters answer with, as every handler here returns
    pub fn verified(
        settings: &Settings,
        action: &str,
        raw_query: &str,
        body: &[u8],
    ) -> Result<AdminRequest, Response> {
        check_signature(settings, action, raw_query, body).map_err(IntoResponse::into_response)?;
        let query = Params::parse(raw_query)
            .map_err(|e| ApiError::InvalidParameters(e.to_string()).into_response())?;
        check_timestamp(settings, action, &query).map_err(IntoResponse::into_response)?;
        let body = json_object(body).map_err(|message| error(StatusCode::BAD_REQUEST, message))?;
        Ok(AdminRequest { query, body })
    }

    /// A top-level parameter: the query first, then the JSON body.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query
            .get(name)
            .map(str::to_owned)
            .or_else(|| self.body.get(name).and_then(scalar))
    }

    /// The object the action reads its fields from: `body[key]` when it is an object, else the whole body (the
    /// original's parameter wrapping). Missing or empty → the original's `ParameterMissing`.
    ///
    /// # Errors
    /// The message of the original's `ParameterMissing`.
    pub fn root(&self, key: &str) -> Result<&Map<String, Value>, String> {
        let root = match self.body.get(key) {
            Some(Value::Object(inner)) => inner,
            _ => &self.body,
        };
        if root.is_empty() {
            Err(format!("param is missing or the value is empty: {key}"))
        } else {
            Ok(root)
        }
    }
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The filters every call goes through (see the module docs). `tenants`: also require multitenancy.
async fn admit(
    state: &AppState,
    action: &str,
    method: Method,
    tenants: bool,
    request: Request,
) -> Result<AdminRequest, Response> {
    let (parts, body) = request.into_parts();
    let allowed = parts.method == method || (method == Method::GET && parts.method == Method::HEAD);
    if !allowed {
        return Err(ApiError::UnsupportedRequest.into_response());
    }
    let body: Bytes = axum::body::to_bytes(body, state.settings.max_body_bytes)
        .await
        .map_err(|_| ApiError::BodyTooLarge.into_response())?;
    if parts.method == Method::POST
        && !body.is_empty()
        && media_type(&parts.headers) != "application/json"
    {
        return Err(ApiError::UnsupportedContentType.into_response());
    }
    let request = AdminRequest::verified(
        &state.settings,
        action,
        parts.uri.query().unwrap_or_default(),
        &body,
    )?;
    if tenants && !state.settings.multitenancy {
        return Err(json_response(
            StatusCode::PRECONDITION_FAILED,
            json!({ "message": "Multitenancy is disabled" }),
        ));
    }
    Ok(request)
}

/// The admin checksum: `H(action + query without checksum + raw body + secret)`, with `ADMIN_API_SECRET` or else
/// the LB secrets (tenant secrets never count). Nothing of the body is read before it verifies, unless the
/// operator opted into the original's form, which leaves the body out (`ADMIN_API_LEGACY_CHECKSUM`).
fn check_signature(
    settings: &Settings,
    action: &str,
    raw_query: &str,
    body: &[u8],
) -> Result<(), ApiError> {
    let secrets: &[Secret] = match &settings.admin_secret {
        Some(secret) => std::slice::from_ref(secret),
        None => &settings.lb_secrets,
    };
    let (query, in_query) = params::split_checksum(raw_query);
    // A body that is not UTF-8 cannot be JSON; it is refused like a bad checksum, unread.
    let covered = std::str::from_utf8(body).map(|body| format!("{query}{body}"));
    let supplied = in_query.clone().unwrap_or_default();
    let full = match &covered {
        Ok(covered) => checksum::verify(
            action,
            covered,
            &supplied,
            secrets,
            &settings.checksum_algorithms,
        ),
        Err(_) => Err(checksum::ChecksumError::Missing),
    };
    let why = match full {
        Ok(_) => return Ok(()),
        Err(why) => why,
    };
    if settings.admin_legacy_checksum {
        // The original's form: the checksum may also come in the JSON body, which it does not cover.
        let supplied = in_query.or_else(|| body_checksum(body)).unwrap_or_default();
        if checksum::verify(
            action,
            &query,
            &supplied,
            secrets,
            &settings.checksum_algorithms,
        )
        .is_ok()
        {
            tracing::warn!(
                action,
                "admin API call accepted with the legacy checksum, which does not cover the request body \
                 (ADMIN_API_LEGACY_CHECKSUM); sign the body too"
            );
            return Ok(());
        }
    }
    tracing::debug!(action, reason = %why, "admin API checksum rejected");
    Err(ApiError::Checksum)
}

/// `checksum` at the top level of a JSON body (the legacy form only).
fn body_checksum(body: &[u8]) -> Option<String> {
    match serde_json::from_slice::<Value>(body).ok()? {
        Value::Object(map) => map.get("checksum").and_then(scalar),
        _ => None,
    }
}

/// `ADMIN_API_MAX_AGE`: the signed `timestamp` (Unix seconds) must be within the window around now. Answered like
/// a bad checksum: a replayed or undated call is an unsigned one.
fn check_timestamp(settings: &Settings, action: &str, query: &Params) -> Result<(), ApiError> {
    let window = settings.admin_max_age.as_secs();
    if window == 0 {
        return Ok(());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let fresh = query
        .get("timestamp")
        .and_then(|t| t.trim().parse::<u64>().ok())
        .is_some_and(|t| t.abs_diff(now) <= window);
    if fresh {
        Ok(())
    } else {
        tracing::debug!(
            action,
            "admin API call without a timestamp inside ADMIN_API_MAX_AGE"
        );
        Err(ApiError::Checksum)
    }
}

/// The JSON body as an object (empty when there is no body), or the message of the 400 answer.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, String> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("the JSON body must be an object".to_owned()),
        Err(e) => Err(format!("invalid JSON body: {e}")),
    }
}

fn management(state: &AppState) -> Management {
    Management::new(
        state.store.clone(),
        state.bbb.clone(),
        ManagementOptions {
            server_id_is_hostname: state.settings.server_id_is_hostname,
            multitenancy: state.settings.multitenancy,
            meeting_failover: state.settings.meeting_failover,
            ..ManagementOptions::default()
        },
    )
}

/// A store failure: logged with its cause, answered without it.
fn internal(e: &ManagementError) -> Response {
    tracing::error!(error.message = %e, error.cause_chain = ?e, "admin API storage failure");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Unable to reach the Scalelite data store.",
    )
}

/// The server named by the `id` parameter, or the original's 404.
async fn find_server(
    management: &Management,
    req: &AdminRequest,
) -> Result<scalelite_core::domain::Server, Response> {
    let id = req.param("id").unwrap_or_default();
    match management.get_server(&id).await {
        Ok(server) => Ok(server),
        Err(ManagementError::ServerNotFound(_)) => Err(error(
            StatusCode::NOT_FOUND,
            format!("Couldn't find server with id={id}"),
        )),
        Err(e) => Err(internal(&e)),
    }
}

async fn get_servers(State(state): State<AppState>, request: Request) -> Response {
    answer(async {
        admit(&state, "getServers", Method::GET, false, request).await?;
        let servers = management(&state)
            .list_servers()
            .await
            .map_err(|e| internal(&e))?;
        if servers.is_empty() {
            return Err(error(StatusCode::NOT_FOUND, "No servers are configured"));
        }
        let list: Vec<ServerJson> = servers.iter().map(ServerJson::from).collect();
        Ok(json_response(StatusCode::OK, list))
    })
    .await
}

async fn get_server_info(State(state): State<AppState>, request: Request) -> Response {
    answer(async {
        let req = admit(&state, "getServerInfo", Method::GET, false, request).await?;
        let server = find_server(&management(&state), &req).await?;
        Ok(json_response(StatusCode::OK, ServerJson::from(&server)))
    })
    .await
}

/// Ours: every live meeting (or the one named by `meetingID`) with the server it runs on.
async fn get_meetings(State(state): State<AppState>, request: Request) -> Response {
    answer(async {
        let req = admit(&state, "getMeetings", Method::GET, false, request).await?;
        let ids: Vec<String> = req.param("meetingID").into_iter().collect();
        let list: Vec<MeetingJson> = match management(&state).meeting_placements(&ids).await {
            Ok(list) => list,
            Err(ManagementError::MeetingNotFound(id)) => {
                return Err(error(
                    StatusCode::NOT_FOUND,
                    format!("Couldn't find meeting with id={id}"),
                ));
            }
            Err(e) => return Err(internal(&e)),
        };
        Ok(json_response(StatusCode::OK, list))
    })
    .await
}

async fn add_server(State(state): State<AppState>, request: Request) -> Response {
    answer(async {
        let req = admit(&state, "addServer", Method::POST, false, request).await?;
        let root = req.root("server").map_err(missing_root)?;
        let text = |name: &str| root.get(name).and_then(scalar);
        let load_multiplier = match text("load_multiplier").filter(|m| !m.trim().is_empty()) {
            Some(m) => Some(
                parse_load_multiplier(&m)
                    .map_err(|e| error(StatusCode::BAD_REQUEST, e.to_string()))?,
            ),
            None => None,
        };
        let request = NewServerRequest {
            id: None,
            url: text("url").unwrap_or_default(),
            secret: Secret::new(text("secret").unwrap_or_default()),
            load_multiplier,
            tag: text("tag"),
        };
        match management(&state).add_server(request, false).await {
            Ok(added) => Ok(json_response(
                StatusCode::CREATED,
                ServerJson::from(&added.value),
            )),
            Err(e) => Err(client_error(&e, StatusCode::BAD_REQUEST)),
        }
    })
    .await
}

async fn update_server(State(state): State<AppState>, request: Request) -> Response {
    answer(async {
        let req = admit(&state, "updateServer", Method::POST, false, request).await?;
        let management = management(&state);
        let server = find_server(&management, &req).await?;
        let root = req
            .root("server")
            .map_err(|m| error(StatusCode::BAD_REQUEST, m))?;
        let text = |name: &str| {
            root.get(name)
                .and_then(scalar)
                .filter(|v| !v.trim().is_empty())
        };
        let state_change = match text("state").as_deref() {
            None => None,
            Some("enable") => Some(ServerState::Enabled),
            Some("cordon") => Some(ServerState::Cordoned),
            Some("disable") => Some(ServerState::Disabled),
            Some(other) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    format!("Invalid state parameter: {other}"),
                ));
            }
        };
        let load_multiplier = match text("load_multiplier") {
            Some(m) => Some(
                parse_load_multiplier(&m)
                    .map_err(|e| error(StatusCode::BAD_REQUEST, e.to_string()))?,
            ),
            None => None,
        };
        let tag = match root.get("tag") {
            None | Some(Value::Null) => None,
            Some(value) => Some(scalar(value)),
        };
        let update = ServerUpdate {
            url: text("url"),
            secret: text("secret").map(Secret::new),
            load_multiplier,
            tag,
            state: state_change,
        };
        match management.update_server(&server.id, update, false).await {
            Ok(updated) => Ok(json_response(
                StatusCode::OK,
                ServerJson::from(&updated.value),
            )),
            Err(e) => Err(client_error(&e, StatusCode::BAD_REQUEST)),
        }
    })
    .await
}

async fn delete_server(State(state): State<AppState>, request: Request) -> Response {
    answer(async {
        let req = admit(&state, "deleteServer", Method::POST, false, request).await?;
        let management = management(&state);
        let server = find_server(&management, &req).await?;
        let id = &server.id;
        match management.remove_server(id).await {
            Ok(()) => Ok(json_response(
                StatusCode::OK,
                json!({ "success": format!("Server id={id} was destroyed") }),
            )),
            Err(e) => Err(error(
                StatusCode::BAD_REQUEST,
                format!("Couldn't destroy server id={id}: {e}"),
            )),
        }
    })
    .await
}

async fn panic_server(State(state): State<AppState>, request: Request) -> Response {
    answer(async {
        let req = admit(&state, "panicServer", Method::POST, false, request).await?;
        let management = management(&state);
        let server = find_server(&management, &req).await?;
        let id = &server.id;
        let nested = match req.body.get("server") {
            Some(Value::Object(inner)) => inner.get("keep_state").and_then(scalar),
            _ => None,
        };
        let keep_state = match req.param("keep_state").or(nested) {
            Some(text) if !text.trim().is_empty() => parse_bool("keep_state", &text)
                .map_err(|e| error(StatusCode::BAD_REQUEST, e.to_string()))?,
            _ => false,
        };
        match management.panic_server(id, keep_state, false).await {
            Ok(report) => {
                for meeting in report.meetings.iter().filter(|m| m.end_error.is_some()) {
                    tracing::warn!(meeting.id = %meeting.id, server.id = %id,
                        error = meeting.end_error.as_deref().unwrap_or_default(), "Could not end meeting");
                }
                let mut body = json!({
                    "success": format!("Server id={id} has been disabled and the meetings have been destroyed")
                });
                if report.kept_for_failover {
                    // Additive: the original's answer has only `success`.
                    body["meetings_kept_for_failover"] = json!(report.meetings.len());
                }
                Ok(json_response(StatusCode::OK, body))
            }
            Err(e) => {
                tracing::warn!(server.id = %id, error = %e, "panicServer failed");
                Err(error(
                    StatusCode::BAD_REQUEST,
                    format!("Couldn't disable server id={id}"),
                ))
            }
        }
    })
    .await
}

/// The tenant named by the `id` parameter, or the original's 404.
async fn find_tenant(
    management: &Management,
    req: &AdminRequest,
) -> Result<scalelite_core::domain::Tenant, Response> {
    let id = req.param("id").unwrap_or_default();
    match management.get_tenant(&id).await {
        Ok(tenant) => Ok(tenant),
        Err(e @ ManagementError::TenantNotFound(_)) => {
            Err(error(StatusCode::NOT_FOUND, e.to_string()))
        }
        Err(e) => Err(internal(&e)),
    }
}

async fn get_tenants(State(state): State<AppState>, request: Request) -> Response {
    answer(async {
        admit(&state, "getTenants", Method::GET, true, request).await?;
        let tenants = management(&state)
            .list_tenants()
            .await
            .map_err(|e| internal(&e))?;
        if tenants.is_empty() {
            return Ok(json_response(
                StatusCode::OK,
                json!({ "message": "No tenants exist" }),
            ));
        }
        let list: Vec<TenantSummaryJson> = tenants.iter().map(TenantSummaryJson::from).collect();
        Ok(json_response(StatusCode::OK, list))
    })
    .await
}

async fn get_tenant_info(State(state): State<AppState>, request: Request) -> Response {
    answer(async {
        let req = admit(&state, "getTenantInfo", Method::GET, true, request).await?;
        let tenant = find_tenant(&management(&state), &req).await?;
        Ok(json_response(StatusCode::OK, TenantJson::from(&tenant)))
    })
    .await
}

async fn add_tenant(State(state): State<AppState>, request: Request) -> Response {
    answer(async {
        let req = admit(&state, "addTenant", Method::POST, true, request).await?;
        let root = req.root("tenant").map_err(missing_root)?;
        let text = |name: &str| root.get(name).and_then(scalar).unwrap_or_default();
        match management(&state)
            .add_tenant(&text("name"), &text("secrets"))
            .await
        {
            Ok(tenant) => Ok(json_response(
                StatusCode::CREATED,
                json!({ "tenant": TenantJson::from(&tenant) }),
            )),
            Err(ManagementError::Invalid(message)) => Err(json_response(
                StatusCode::BAD_REQUEST,
                json!({ "message": format!("Error: {message}") }),
            )),
            Err(e) => Err(client_error(&e, StatusCode::UNPROCESSABLE_ENTITY)),
        }
    })
    .await
}

async fn update_tenant(State(state): State<AppState>, request: Request) -> Response {
    answer(async {
        let req = admit(&state, "updateTenant", Method::POST, true, request).await?;
        let management = management(&state);
        let tenant = find_tenant(&management, &req).await?;
        let root = req.root("tenant").map_err(missing_root)?;
        let text = |name: &str| {
            root.get(name)
                .and_then(scalar)
                .filter(|v| !v.trim().is_empty())
        };
        let (name, secrets) = (text("name"), text("secrets"));
        let tenant = if name.is_none() && secrets.is_none() {
            tenant
        } else {
            management
                .update_tenant(&tenant.id, name.as_deref(), secrets.as_deref())
                .await
                .map_err(|e| client_error(&e, StatusCode::UNPROCESSABLE_ENTITY))?
        };
        Ok(json_response(
            StatusCode::OK,
            json!({ "tenant": TenantJson::from(&tenant) }),
        ))
    })
    .await
}

async fn delete_tenant(State(state): State<AppState>, request: Request) -> Response {
    answer(async {
        let req = admit(&state, "deleteTenant", Method::POST, true, request).await?;
        let management = management(&state);
        let tenant = find_tenant(&management, &req).await?;
        let id = &tenant.id;
        match management.remove_tenant(id).await {
            Ok(()) => Ok(json_response(
                StatusCode::OK,
                json!({ "success": format!("Tenant id={id} was destroyed") }),
            )),
            Err(e) => Err(client_error(&e, StatusCode::UNPROCESSABLE_ENTITY)),
        }
    })
    .await
}

/// Run a handler body: success and failure are both responses.
async fn answer(body: impl Future<Output = Answer>) -> Response {
    match body.await {
        Ok(response) | Err(response) => response,
    }
}

/// The original's answer to a missing root object: BBB XML `internalError` with Rails' message.
fn missing_root(message: String) -> Response {
    ApiError::Internal(message).into_response()
}

/// A management error the client caused as `{"error": message}` with `status` (409 for conflicts); storage
/// failures as 500.
fn client_error(e: &ManagementError, status: StatusCode) -> Response {
    match e {
        ManagementError::Store(_) => internal(e),
        ManagementError::Conflict(message) => error(StatusCode::CONFLICT, message.clone()),
        other => error(status, other.to_string()),
    }
}

//! The router: `/bigbluebutton/api/<call>` dispatched by call name with the original's method rules
//! (`docs/compatibility.md#api-routing`), the catch-all `unsupportedRequest`, `/health_check`, the playback routes and
//! the host allow-list.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use scalelite_core::bbb::xml;
use scalelite_core::storage::MiscStore;

use crate::error::{ApiError, Result, xml_response};
use crate::request::{self, BodyKind, Incoming};
use crate::state::AppState;
use crate::{callbacks, fsapi, limits, meetings, metrics, playback, recordings};

/// The whole HTTP surface of `scalelite-api`.
pub fn router(state: AppState) -> Router {
    let router = Router::new();
    // `/metrics` is for the monitoring network: on its own listener (`METRICS_BIND`), here only when asked for.
    let router = if state.settings.metrics_public {
        router.route("/metrics", get(metrics::scrape))
    } else {
        router
    };
    router
        .route("/bigbluebutton/api", any(index))
        .route("/bigbluebutton/api/", any(index))
        .route("/bigbluebutton/api/{call}", any(api_call))
        .route("/health_check", any(health_check))
        .route("/", any(health_check))
        .route("/fsapi", any(fsapi::handle))
        .merge(crate::admin::router())
        .route(
            "/recording/{record_id}/{format}",
            get(playback::play).fallback(unsupported),
        )
        .route(
            "/{format}/{record_id}",
            get(playback::resource).fallback(unsupported),
        )
        .route(
            "/{format}/{record_id}/",
            get(playback::resource).fallback(unsupported),
        )
        .route(
            "/{format}/{record_id}/{*resource}",
            get(playback::resource).fallback(unsupported),
        )
        .fallback(unsupported)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            host_allow_list,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), limits::guard))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}

/// The metrics listener's router: `GET /metrics` and nothing else.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::scrape))
        .with_state(state)
}

async fn unsupported() -> Response {
    ApiError::UnsupportedRequest.into_response()
}

/// The health check: a round trip to every store. Unlike the original (always 200), a failure answers 503 so load
/// balancers and orchestrators notice.
async fn health_check(State(state): State<AppState>) -> Response {
    match state.store.health_check().await {
        Ok(()) => (StatusCode::OK, "success").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("Health Check Failure: {e}"),
            )
                .into_response()
        }
    }
}

/// With `URL_HOST` set, only that host (and its subdomains with multitenancy) may be addressed; health checks are
/// exempt (`docs/compatibility.md#host-allow-list`), and so is `/metrics` (Prometheus scrapes by address).
async fn host_allow_list(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(url_host) = state.settings.url_host.as_deref() {
        let path = request.uri().path();
        if !path.contains("health_check") && path != "/metrics" {
            let host = request::request_host(request.headers()).unwrap_or_default();
            let url_host = url_host.to_ascii_lowercase();
            let allowed = host == url_host
                || (state.settings.multitenancy && host.ends_with(&format!(".{url_host}")));
            if !allowed {
                return StatusCode::FORBIDDEN.into_response();
            }
        }
    }
    next.run(request).await
}

/// Read the body; `limits::guard` has bounded its size and the time it may take.
async fn read_body(state: &AppState, body: Body) -> Result<Bytes> {
    axum::body::to_bytes(body, state.settings.max_body_bytes)
        .await
        .map_err(|e| limits::body_read_error(&e))
}

/// `GET|POST /bigbluebutton/api`: the version reply, no checksum.
async fn index(State(state): State<AppState>, request: Request) -> Result<Response> {
    let (parts, body) = request.into_parts();
    if parts.method != Method::GET && parts.method != Method::POST {
        return Err(ApiError::UnsupportedRequest);
    }
    let body = read_body(&state, body).await?;
    let incoming = Incoming {
        method: &parts.method,
        headers: &parts.headers,
        raw_query: parts.uri.query(),
        body,
    };
    request::check_content_type(&incoming, BodyKind::Form)?;
    Ok(xml_response(
        StatusCode::OK,
        &xml::index(state.settings.build_number.as_deref()),
    ))
}

/// Methods a call answers to.
enum Methods {
    GetPost,
    GetOnly,
    PostOnly,
}

async fn api_call(
    State(state): State<AppState>,
    Path(call): Path<String>,
    request: Request,
) -> Result<Response> {
    let (parts, body) = request.into_parts();
    let settings = &state.settings;
    let (methods, kind) = match call.as_str() {
        "create" => (Methods::GetPost, BodyKind::FormOrXml),
        "join" => (Methods::GetOnly, BodyKind::Unchecked),
        "insertDocument" => (Methods::PostOnly, BodyKind::Xml),
        "analytics_callback" => (Methods::PostOnly, BodyKind::Unchecked),
        "end" | "isMeetingRunning" | "getMeetingInfo" | "getMeetings" => {
            (Methods::GetPost, BodyKind::Form)
        }
        "getRecordings" | "updateRecordings" => (Methods::GetPost, BodyKind::Form),
        "publishRecordings" | "deleteRecordings" => (Methods::GetOnly, BodyKind::Unchecked),
        _ => return Err(ApiError::UnsupportedRequest),
    };
    let allowed = match methods {
        Methods::GetPost => parts.method == Method::GET || parts.method == Method::POST,
        Methods::GetOnly => parts.method == Method::GET,
        Methods::PostOnly => parts.method == Method::POST,
    };
    if !allowed {
        return Err(ApiError::UnsupportedRequest);
    }
    let body = read_body(&state, body).await?;
    let incoming = Incoming {
        method: &parts.method,
        headers: &parts.headers,
        raw_query: parts.uri.query(),
        body,
    };
    if call == "getMeetings" && settings.get_meetings_disabled {
        request::check_content_type(&incoming, kind)?;
        return Ok(xml_response(StatusCode::OK, &xml::no_meetings()));
    }
    if call == "analytics_callback" {
        return callbacks::analytics_callback(&state, incoming).await;
    }
    if settings.recording_disabled && call.ends_with("Recordings") {
        request::check_content_type(&incoming, kind)?;
        if call == "getRecordings" {
            return Ok(recordings::get_recordings_disabled());
        }
        return Err(recordings::recordings_disabled());
    }
    let req = request::verify(&state, &call, incoming, kind).await?;
    match call.as_str() {
        "create" => meetings::create(&state, req).await,
        "join" => meetings::join(&state, req).await,
        "end" => meetings::end(&state, req).await,
        "isMeetingRunning" => meetings::is_meeting_running(&state, req).await,
        "getMeetingInfo" => meetings::get_meeting_info(&state, req).await,
        "getMeetings" => meetings::get_meetings(&state, req).await,
        "insertDocument" => meetings::insert_document(&state, req).await,
        "getRecordings" => recordings::get_recordings(&state, req).await,
        "publishRecordings" => recordings::publish_recordings(&state, req).await,
        "updateRecordings" => recordings::update_recordings(&state, req).await,
        "deleteRecordings" => recordings::delete_recordings(&state, req).await,
        _ => Err(ApiError::UnsupportedRequest),
    }
}

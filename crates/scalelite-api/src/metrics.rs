//! Prometheus metrics at `GET /metrics` (OpenMetrics text format).
//!
//! - Request metrics, kept in [`Metrics`] (one per [`AppState`], no global recorder, so tests run in parallel):
//!   `scalelite_api_requests_total{call, outcome}` and `scalelite_api_request_duration_seconds{call}`. `call` is
//!   the BBB call name (a fixed set: unknown names count as `unsupported`), `outcome` the answer's messageKey for
//!   a FAILED answer, `SUCCESS` otherwise, or the HTTP status for answers that are not BBB XML; and
//!   `scalelite_meeting_failovers_total{server}`, meetings this instance re-created elsewhere, by the server lost.
//! - Pool metrics, read from the store at scrape time: per server `scalelite_server_online`,
//!   `scalelite_server_load`, `scalelite_server_meetings`, `scalelite_server_users`,
//!   `scalelite_server_largest_meeting`, `scalelite_server_state{state}`, and `scalelite_store_up`.
//! - In all-in-one mode, the metrics of the poller (`scalelite_poller_*`) and of the recording importer
//!   (`scalelite_importer_*`) running in this process, rendered from their snapshots at scrape time.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use scalelite_core::domain::ServerState;
use scalelite_core::storage::ServerStore;

use crate::error::FailedKey;
use crate::state::AppState;

/// The OpenMetrics content type Prometheus asks for.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// BBB calls counted under their own name; any other name under `/bigbluebutton/api/` is `unsupported`.
const KNOWN_CALLS: [&str; 12] = [
    "create",
    "join",
    "end",
    "isMeetingRunning",
    "getMeetingInfo",
    "getMeetings",
    "insertDocument",
    "analytics_callback",
    "getRecordings",
    "publishRecordings",
    "updateRecordings",
    "deleteRecordings",
];

/// The request metrics of one API instance.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<CallLabels, Histogram, fn() -> Histogram>,
    failovers: Family<ServerLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    call: &'static str,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    call: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabels {
    server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerStateLabels {
    server: String,
    state: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "scalelite_api_requests",
            "API requests by call and outcome (messageKey of a FAILED answer, else SUCCESS or the HTTP status)",
            requests.clone(),
        );
        let latency: Family<CallLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "scalelite_api_request_duration",
            "Time to answer an API request, by call",
            Unit::Seconds,
            latency.clone(),
        );
        let failovers = Family::<ServerLabels, Counter>::default();
        registry.register(
            "scalelite_meeting_failovers",
            "Meetings re-created on another server because their server was lost, by the server failed away from",
            failovers.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            failovers,
        }
    }
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Metrics {
    /// Count one answered request.
    pub fn observe(&self, call: &'static str, outcome: &str, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                call,
                outcome: outcome.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&CallLabels { call })
            .observe(elapsed.as_secs_f64());
    }

    /// Count one meeting failover away from `server`.
    pub fn failover(&self, server: &str) {
        self.failovers
            .get_or_create(&ServerLabels {
                server: server.to_owned(),
            })
            .inc();
    }

    /// How many requests of `call` ended with `outcome` so far.
    pub fn count(&self, call: &'static str, outcome: &str) -> u64 {
        self.requests
            .get(&RequestLabels {
                call,
                outcome: outcome.to_owned(),
            })
            .map_or(0, |counter| counter.get())
    }
}

/// The label a request is counted under, `None` for requests that are not counted (`/metrics` itself).
pub fn call_label(path: &str) -> Option<&'static str> {
    let label = match path {
        "/metrics" => return None,
        "/bigbluebutton/api" | "/bigbluebutton/api/" => "index",
        "/health_check" | "/" => "health_check",
        "/fsapi" => "fsapi",
        _ => match path.strip_prefix("/bigbluebutton/api/") {
            Some(call) => KNOWN_CALLS
                .iter()
                .find(|known| **known == call)
                .copied()
                .unwrap_or("unsupported"),
            None => "other",
        },
    };
    Some(label)
}

/// The outcome label of an answer: the messageKey of a FAILED answer (`otherError` for one that does not look like
/// a messageKey), `SUCCESS` for any other 2xx/3xx, else the HTTP status code.
pub fn outcome(response: &Response) -> String {
    if let Some(FailedKey(key)) = response.extensions().get::<FailedKey>() {
        // BBB's own messageKeys are passed on; keep a misbehaving server from minting label values.
        let plausible = !key.is_empty()
            && key.len() <= 64
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return if plausible {
            key.clone()
        } else {
            "otherError".to_owned()
        };
    }
    let status = response.status();
    if status.is_success() || status.is_redirection() {
        "SUCCESS".to_owned()
    } else {
        status.as_u16().to_string()
    }
}

/// Middleware: count every request and time it until its answer is ready.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(call) = call_label(request.uri().path()) else {
        return next.run(request).await;
    };
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .observe(call, &outcome(&response), started.elapsed());
    response
}

/// `GET /metrics`: the request metrics, the pool as the store sees it now, and the poller's and importer's metrics
/// when they run in this process.
pub async fn scrape(State(state): State<AppState>) -> Response {
    let mut registries = vec![pool_registry(&state).await];
    if let Some(poller) = &state.poller {
        registries.push(scalelite_poller::metrics::registry(&poller.metrics()));
    }
    if let Some(importer) = &state.importer {
        registries.push(scalelite_recording_importer::metrics::registry(
            &importer.metrics(),
        ));
    }
    let mut body = String::new();
    let encoded = encode_registry(&mut body, &state.metrics.registry)
        .and_then(|()| {
            registries
                .iter()
                .try_for_each(|registry| encode_registry(&mut body, registry))
        })
        .and_then(|()| encode_eof(&mut body));
    if encoded.is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// A throw-away registry with the pool gauges, filled from one store read.
async fn pool_registry(state: &AppState) -> Registry {
    let mut registry = Registry::default();
    let store_up = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    registry.register(
        "scalelite_store_up",
        "Whether the store answered this scrape (1) or not (0)",
        store_up.clone(),
    );
    let servers = match state.store.list_servers().await {
        Ok(servers) => {
            store_up.set(1);
            servers
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: could not read the servers");
            return registry;
        }
    };
    let online = Family::<ServerLabels, Gauge>::default();
    let load = Family::<ServerLabels, Gauge<f64, AtomicU64>>::default();
    let meetings = Family::<ServerLabels, Gauge>::default();
    let users = Family::<ServerLabels, Gauge>::default();
    let largest = Family::<ServerLabels, Gauge>::default();
    let server_state = Family::<ServerStateLabels, Gauge>::default();
    for server in &servers {
        let labels = ServerLabels {
            server: server.id.clone(),
        };
        online.get_or_create(&labels).set(i64::from(server.online));
        if let Some(value) = server.load {
            load.get_or_create(&labels).set(value);
        }
        meetings.get_or_create(&labels).set(server.stats.meetings);
        users.get_or_create(&labels).set(server.stats.users);
        largest
            .get_or_create(&labels)
            .set(server.stats.largest_meeting);
        for candidate in [
            ServerState::Enabled,
            ServerState::Cordoned,
            ServerState::Disabled,
        ] {
            server_state
                .get_or_create(&ServerStateLabels {
                    server: server.id.clone(),
                    state: candidate.as_str(),
                })
                .set(i64::from(server.state == candidate));
        }
    }
    registry.register(
        "scalelite_server_online",
        "Whether the poller considers the server online (1) or not (0)",
        online,
    );
    registry.register(
        "scalelite_server_load",
        "Load of the server (absent while it takes no new meetings)",
        load,
    );
    registry.register(
        "scalelite_server_meetings",
        "Meetings on the server at the last poll",
        meetings,
    );
    registry.register(
        "scalelite_server_users",
        "Users on the server at the last poll",
        users,
    );
    registry.register(
        "scalelite_server_largest_meeting",
        "Users in the server's largest meeting at the last poll",
        largest,
    );
    registry.register(
        "scalelite_server_state",
        "Administrative state of the server (1 for the current one)",
        server_state,
    );
    registry
}

#[cfg(test)]
mod tests;

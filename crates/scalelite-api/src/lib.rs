//! `scalelite-api`: the BBB API front-ends talk to.
//!
//! - `routes`: the router, the dispatch of `/bigbluebutton/api/<call>` with the original's method rules, the
//!   catch-all, `/health_check`, the host allow-list.
//! - `request`: the pipeline every call goes through (Content-Type, tenant, checksum).
//! - `meetings`: the meeting calls. `recordings`: the recording calls. `playback`: protected-recording links and
//!   the resource route nginx asks before serving a recording's files. `error`: every failure as BBB XML.
//! - `admin`: the admin REST API `/scalelite/api/*` (servers and tenants as JSON).
//! - `settings`, `state`: configuration resolved at start-up and the shared handler state.
//! - `callbacks`: the analytics callback relay. `lrs`: the tenant's LRS payload on create. `fsapi`: the
//!   FreeSWITCH dial plan. `metrics`: Prometheus metrics and the layer that counts requests.
//! - `server`: the HTTP server under the router (header and keep-alive timeouts, graceful shutdown). `limits`:
//!   the concurrency cap, body sizes and the body timeout every request passes first.
//! - `service`: the binary's command line and wiring (store, all-in-one poller and importer, listeners, shutdown).

pub mod admin;
pub mod behind;
mod callbacks;
pub mod cloudfront;
pub mod error;
pub mod fsapi;
pub mod limits;
pub mod lrs;
mod meetings;
pub mod metrics;
pub mod playback;
mod recordings;
pub mod request;
pub mod routes;
pub mod server;
pub mod service;
pub mod settings;
pub mod state;

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

pub use settings::Settings;
pub use state::AppState;

/// Serve the API on `listener` until `shutdown` resolves, then let in-flight requests finish for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let limits = connection_limits(&state);
    let indexing = tokio::spawn(index_callback_urls(state.store.clone()));
    let app = routes::router(state);
    let served = server::run(listener, app, limits, shutdown, grace).await;
    indexing.abort();
    served
}

/// How often the API makes sure the callback data is indexed (`Store::index_callback_urls`): at start, and again
/// once Redis restarted (it may have lost the index, or loaded a snapshot older than some of its counts), creates
/// reading PostgreSQL until it is done.
const CALLBACK_INDEX_CHECK: Duration = Duration::from_secs(5);

/// Keep the callback data indexed while the API serves (one cheap read per check once it is).
async fn index_callback_urls(store: scalelite_core::storage::store::Store) {
    let holder = scalelite_core::storage::lease_holder_id();
    // Warned once per outage, not every check.
    let mut failing = false;
    loop {
        match store.index_callback_urls(&holder).await {
            Ok(_) if failing => {
                tracing::info!("the callback data index is checked again");
                failing = false;
            }
            Ok(_) => {}
            Err(e) if !failing => {
                tracing::warn!(error = %e, "could not index the callback data; creates read it meanwhile");
                failing = true;
            }
            Err(e) => tracing::debug!(error = %e, "could not index the callback data"),
        }
        tokio::time::sleep(CALLBACK_INDEX_CHECK).await;
    }
}

/// Serve `GET /metrics` alone on `listener` (`METRICS_BIND`) until `shutdown` resolves.
pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = connection_limits(&state);
    let app = routes::metrics_router(state);
    server::run(listener, app, limits, shutdown, Duration::from_secs(1)).await
}

fn connection_limits(state: &AppState) -> server::ConnectionLimits {
    server::ConnectionLimits {
        header: state.settings.header_timeout,
        keep_alive: state.settings.keepalive_timeout,
    }
}

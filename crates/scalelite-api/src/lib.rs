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

mod admin;
mod callbacks;
pub mod error;
pub mod fsapi;
pub mod lrs;
mod meetings;
pub mod metrics;
pub mod playback;
mod recordings;
pub mod request;
pub mod routes;
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
    let app = routes::router(state);
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = stopped_tx.send(());
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    let server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = server => result,
        () = async {
            let _ = stopped_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(?grace, "requests still running after the grace period; stopping anyway");
            Ok(())
        }
    }
}

//! [`FakeBbb`]: a set of fake servers in one process, and the JSON control API that drives them over HTTP.
//!
//! Routes (all JSON):
//! - `POST /servers` `{"secret"?, "port"?, "bbb_version"?}` → 201 [`ServerInfo`]; `GET /servers` → `[ServerInfo]`;
//!   `GET /servers/{id}`; `DELETE /servers/{id}` → 204.
//! - `GET /servers/{id}/fault`, `PUT /servers/{id}/fault` [`FaultSpec`] → the fault now in force.
//! - `POST /servers/{id}/meetings` [`SeedMeeting`](crate::SeedMeeting) → 201 [`MeetingSnapshot`]; `GET /servers/{id}/meetings`;
//!   `DELETE /servers/{id}/meetings` (all); `GET|DELETE /servers/{id}/meetings/{meeting_id}`.
//! - `GET /servers/{id}/requests` → `[LoggedRequest]`; `DELETE /servers/{id}/requests`.
//!
//! Errors answer `{"error": "…"}` with 400, 404 or 409.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::model::{Fault, FaultSpec, LoggedRequest, MeetingSnapshot};
use crate::server::{DEFAULT_BBB_VERSION, FakeServer, ServerOptions};
use crate::{DEV_SECRET, FakeError};

/// Any number of fake servers in one process, each with an id. Cheap to clone.
#[derive(Clone, Default)]
pub struct FakeBbb {
    registry: Arc<Registry>,
}

#[derive(Default)]
struct Registry {
    next_id: AtomicU64,
    servers: Mutex<BTreeMap<u64, FakeServer>>,
}

/// A fake server as the control API describes it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The id in this [`FakeBbb`].
    pub id: u64,
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The API base URL.
    pub url: String,
    /// The shared secret (the control API is a test tool; it hands out what it was given).
    pub secret: String,
    /// What the index reports as `bbbVersion`.
    pub bbb_version: String,
    /// Whether the port is open.
    pub listening: bool,
    /// The fault in force.
    pub fault: FaultSpec,
}

impl std::fmt::Debug for ServerInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerInfo")
            .field("id", &self.id)
            .field("port", &self.port)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("bbb_version", &self.bbb_version)
            .field("listening", &self.listening)
            .field("fault", &self.fault)
            .finish()
    }
}

impl FakeBbb {
    /// No servers yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn servers_lock(&self) -> MutexGuard<'_, BTreeMap<u64, FakeServer>> {
        self.registry
            .servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Start a server and give it the next id (1, 2, …).
    ///
    /// # Errors
    /// [`FakeError::Bind`] if the port could not be bound.
    pub async fn add_server(&self, options: ServerOptions) -> Result<(u64, FakeServer), FakeError> {
        let server = FakeServer::start_with(options).await?;
        let id = self.registry.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        self.servers_lock().insert(id, server.clone());
        Ok((id, server))
    }

    /// The server with this id.
    pub fn server(&self, id: u64) -> Option<FakeServer> {
        self.servers_lock().get(&id).cloned()
    }

    /// Every server, by id.
    pub fn servers(&self) -> Vec<(u64, FakeServer)> {
        self.servers_lock()
            .iter()
            .map(|(id, server)| (*id, server.clone()))
            .collect()
    }

    /// Stop a server and forget it; false if there was none.
    pub async fn remove_server(&self, id: u64) -> bool {
        let removed = self.servers_lock().remove(&id);
        match removed {
            Some(server) => {
                server.stop().await;
                true
            }
            None => false,
        }
    }

    /// Stop every server.
    pub async fn stop_all(&self) {
        let servers: Vec<FakeServer> = std::mem::take(&mut *self.servers_lock())
            .into_values()
            .collect();
        for server in servers {
            server.stop().await;
        }
    }

    /// Describe one server.
    pub fn info(&self, id: u64) -> Option<ServerInfo> {
        self.server(id).map(|server| server_info(id, &server))
    }

    /// The control API as a router, for embedding.
    pub fn control_router(&self) -> Router {
        Router::new()
            .route("/servers", get(list_servers).post(add_server))
            .route("/servers/{id}", get(get_server).delete(delete_server))
            .route("/servers/{id}/fault", get(get_fault).put(put_fault))
            .route(
                "/servers/{id}/meetings",
                get(list_meetings).post(seed_meeting).delete(clear_meetings),
            )
            .route(
                "/servers/{id}/meetings/{meeting_id}",
                get(get_meeting).delete(delete_meeting),
            )
            .route(
                "/servers/{id}/requests",
                get(list_requests).delete(clear_requests),
            )
            .with_state(self.clone())
    }

    /// Serve the control API on 127.0.0.1:`port` (0 picks a free port).
    ///
    /// # Errors
    /// [`FakeError::Bind`] if the port could not be bound.
    pub async fn serve_control(&self, port: u16) -> Result<ControlServer, FakeError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|source| FakeError::Bind { port, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| FakeError::Bind { port, source })?;
        let cancel = CancellationToken::new();
        let shutdown = cancel.clone().cancelled_owned();
        let router = self.control_router();
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!(%error, "fake BBB control server failed");
            }
        });
        Ok(ControlServer {
            addr,
            cancel,
            task: Some(task),
        })
    }
}

impl std::fmt::Debug for FakeBbb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeBbb")
            .field("servers", &self.servers())
            .finish()
    }
}

/// The running control API. Stops on [`ControlServer::stop`] or drop.
#[derive(Debug)]
pub struct ControlServer {
    addr: SocketAddr,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stop serving and wait until the port is closed.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            // A panicked or cancelled task has stopped serving too.
            let _ = task.await;
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn server_info(id: u64, server: &FakeServer) -> ServerInfo {
    ServerInfo {
        id,
        port: server.port(),
        url: server.url(),
        secret: server.secret().to_owned(),
        bbb_version: server.bbb_version().to_owned(),
        listening: server.is_listening(),
        fault: FaultSpec::from(&server.fault()),
    }
}

/// A control API failure, answered as `{"error": "…"}`.
#[derive(Debug)]
enum ControlError {
    BadRequest(String),
    UnknownServer(u64),
    UnknownMeeting(String),
    Fake(FakeError),
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            Self::BadRequest(message) => (StatusCode::BAD_REQUEST, message.clone()),
            Self::UnknownServer(id) => (StatusCode::NOT_FOUND, format!("no server with id {id}")),
            Self::UnknownMeeting(id) => {
                (StatusCode::NOT_FOUND, format!("no meeting with id {id:?}"))
            }
            Self::Fake(error @ FakeError::Bind { source, .. }) => {
                (StatusCode::CONFLICT, format!("{error}: {source}"))
            }
            Self::Fake(error @ FakeError::Stopped) => (StatusCode::CONFLICT, error.to_string()),
            Self::Fake(error) => (StatusCode::BAD_REQUEST, error.to_string()),
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

impl From<FakeError> for ControlError {
    fn from(error: FakeError) -> Self {
        Self::Fake(error)
    }
}

type ControlResult<T> = Result<T, ControlError>;

/// Parse a JSON body whatever its Content-Type (curl users forget it), answering `{"error"}` when it is bad.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ControlResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ControlError::BadRequest(format!("bad JSON body: {e}")))
}

fn lookup(fake: &FakeBbb, id: u64) -> ControlResult<FakeServer> {
    fake.server(id).ok_or(ControlError::UnknownServer(id))
}

/// Body of `POST /servers`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewServer {
    secret: Option<String>,
    port: Option<u16>,
    bbb_version: Option<String>,
}

async fn add_server(
    State(fake): State<FakeBbb>,
    body: Bytes,
) -> ControlResult<(StatusCode, Json<ServerInfo>)> {
    // An empty body means all defaults.
    let request: NewServer = if body.iter().all(u8::is_ascii_whitespace) {
        NewServer::default()
    } else {
        parse_json(&body)?
    };
    let options = ServerOptions {
        secret: request.secret.unwrap_or_else(|| DEV_SECRET.to_owned()),
        port: request.port.unwrap_or(0),
        bbb_version: request
            .bbb_version
            .unwrap_or_else(|| DEFAULT_BBB_VERSION.to_owned()),
    };
    let (id, server) = fake.add_server(options).await?;
    Ok((StatusCode::CREATED, Json(server_info(id, &server))))
}

async fn list_servers(State(fake): State<FakeBbb>) -> Json<Vec<ServerInfo>> {
    Json(
        fake.servers()
            .iter()
            .map(|(id, server)| server_info(*id, server))
            .collect(),
    )
}

async fn get_server(
    State(fake): State<FakeBbb>,
    Path(id): Path<u64>,
) -> ControlResult<Json<ServerInfo>> {
    fake.info(id)
        .map(Json)
        .ok_or(ControlError::UnknownServer(id))
}

async fn delete_server(
    State(fake): State<FakeBbb>,
    Path(id): Path<u64>,
) -> ControlResult<StatusCode> {
    if fake.remove_server(id).await {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ControlError::UnknownServer(id))
    }
}

async fn get_fault(
    State(fake): State<FakeBbb>,
    Path(id): Path<u64>,
) -> ControlResult<Json<FaultSpec>> {
    Ok(Json(FaultSpec::from(&lookup(&fake, id)?.fault())))
}

async fn put_fault(
    State(fake): State<FakeBbb>,
    Path(id): Path<u64>,
    body: Bytes,
) -> ControlResult<Json<FaultSpec>> {
    let server = lookup(&fake, id)?;
    let fault = Fault::try_from(parse_json::<FaultSpec>(&body)?)?;
    server.set_fault(fault).await?;
    Ok(Json(FaultSpec::from(&server.fault())))
}

async fn seed_meeting(
    State(fake): State<FakeBbb>,
    Path(id): Path<u64>,
    body: Bytes,
) -> ControlResult<(StatusCode, Json<MeetingSnapshot>)> {
    let server = lookup(&fake, id)?;
    let snapshot = server.seed_meeting(parse_json(&body)?)?;
    Ok((StatusCode::CREATED, Json(snapshot)))
}

async fn list_meetings(
    State(fake): State<FakeBbb>,
    Path(id): Path<u64>,
) -> ControlResult<Json<Vec<MeetingSnapshot>>> {
    Ok(Json(lookup(&fake, id)?.meetings()))
}

async fn clear_meetings(
    State(fake): State<FakeBbb>,
    Path(id): Path<u64>,
) -> ControlResult<StatusCode> {
    lookup(&fake, id)?.clear_meetings();
    Ok(StatusCode::NO_CONTENT)
}

async fn get_meeting(
    State(fake): State<FakeBbb>,
    Path((id, meeting_id)): Path<(u64, String)>,
) -> ControlResult<Json<MeetingSnapshot>> {
    lookup(&fake, id)?
        .meeting(&meeting_id)
        .map(Json)
        .ok_or(ControlError::UnknownMeeting(meeting_id))
}

async fn delete_meeting(
    State(fake): State<FakeBbb>,
    Path((id, meeting_id)): Path<(u64, String)>,
) -> ControlResult<StatusCode> {
    if lookup(&fake, id)?.remove_meeting(&meeting_id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ControlError::UnknownMeeting(meeting_id))
    }
}

async fn list_requests(
    State(fake): State<FakeBbb>,
    Path(id): Path<u64>,
) -> ControlResult<Json<Vec<LoggedRequest>>> {
    Ok(Json(lookup(&fake, id)?.requests()))
}

async fn clear_requests(
    State(fake): State<FakeBbb>,
    Path(id): Path<u64>,
) -> ControlResult<StatusCode> {
    lookup(&fake, id)?.clear_requests();
    Ok(StatusCode::NO_CONTENT)
}

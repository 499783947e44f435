//! One fake BBB server: its listener, its connections and its fault modes.
//!
//! Connections are served one by one with hyper (not `axum::serve`) so that going offline (`Fault::Refuse`) or
//! stopping can close the listener *and* drop every open connection, including requests that hang.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::FakeError;
use crate::api::{self, RawRequest, Reply, Route};
use crate::model::{
    Fault, InFlight, LoggedRequest, Meeting, MeetingSnapshot, SeedMeeting, State, now_ms,
    random_alphanumeric,
};

/// The BBB version a fake server reports by default.
pub const DEFAULT_BBB_VERSION: &str = "3.0.4";

/// Largest request body a fake server reads (pre-uploaded slides can be big).
const BODY_LIMIT: usize = 32 * 1024 * 1024;

/// How to start a fake server.
#[derive(Clone)]
pub struct ServerOptions {
    /// The shared secret checksums are verified with.
    pub secret: String,
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// What the index reports as `bbbVersion`.
    pub bbb_version: String,
}

impl ServerOptions {
    /// Options for a server with this secret on a random port.
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secret: secret.into(),
            port: 0,
            bbb_version: DEFAULT_BBB_VERSION.to_owned(),
        }
    }
}

impl fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerOptions")
            .field("secret", &"<redacted>")
            .field("port", &self.port)
            .field("bbb_version", &self.bbb_version)
            .finish()
    }
}

/// A fake BBB server on its own 127.0.0.1 port, with its own secret and in-memory state.
///
/// Cheap to clone; all clones control the same server. It shuts down when [`FakeServer::stop`] is called or when
/// the last clone is dropped.
#[derive(Clone)]
pub struct FakeServer {
    inner: Arc<Inner>,
}

/// What the request handlers share. Holds no reference to [`Inner`], so dropping the last handle ends the server.
struct Shared {
    secret: String,
    bbb_version: String,
    port: u16,
    state: Mutex<State>,
}

impl Shared {
    /// The state lock. Nothing awaits while holding it; a poisoned lock still holds usable data.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Inner {
    shared: Arc<Shared>,
    /// Cancelled on stop or drop; every listener generation's token is a child of it.
    root: CancellationToken,
    /// Serialises listener changes; held across awaits, hence tokio's mutex.
    lifecycle: tokio::sync::Mutex<Lifecycle>,
    listening: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.root.cancel();
    }
}

#[derive(Default)]
struct Lifecycle {
    /// The current listener, if the port is open.
    listener: Option<Listening>,
    stopped: bool,
}

/// One period during which the port is open: the accept loop and its connections.
struct Listening {
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Listening {
    /// Close the port and drop every connection, then wait until all of it is gone.
    async fn shut_down(self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

impl FakeServer {
    /// Start a server with `secret` on a random port.
    ///
    /// # Errors
    /// [`FakeError::Bind`] if no port could be bound.
    pub async fn start(secret: impl Into<String>) -> Result<Self, FakeError> {
        Self::start_with(ServerOptions::new(secret)).await
    }

    /// Start a server with these options.
    ///
    /// # Errors
    /// [`FakeError::Bind`] if the port could not be bound.
    pub async fn start_with(options: ServerOptions) -> Result<Self, FakeError> {
        let listener = bind(options.port).await?;
        let port = listener
            .local_addr()
            .map_err(|source| FakeError::Bind {
                port: options.port,
                source,
            })?
            .port();
        let shared = Arc::new(Shared {
            secret: options.secret,
            bbb_version: options.bbb_version,
            port,
            state: Mutex::new(State::default()),
        });
        let root = CancellationToken::new();
        let listening = serve(listener, &shared, &root);
        let inner = Arc::new(Inner {
            shared,
            root,
            lifecycle: tokio::sync::Mutex::new(Lifecycle {
                listener: Some(listening),
                stopped: false,
            }),
            listening: AtomicBool::new(true),
        });
        tracing::debug!(port, "fake BBB server started");
        Ok(Self { inner })
    }

    /// The API base URL, `http://127.0.0.1:<port>/bigbluebutton/api/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/bigbluebutton/api/", self.port())
    }

    /// The socket address the server listens on (while it is not refusing).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port()))
    }

    /// The port; it stays the same across faults.
    pub fn port(&self) -> u16 {
        self.inner.shared.port
    }

    /// The shared secret.
    pub fn secret(&self) -> &str {
        &self.inner.shared.secret
    }

    /// The `bbbVersion` the index reports.
    pub fn bbb_version(&self) -> &str {
        &self.inner.shared.bbb_version
    }

    /// Whether the port is open (false while refusing and after stop).
    pub fn is_listening(&self) -> bool {
        self.inner.listening.load(Ordering::SeqCst)
    }

    /// The current fault mode.
    pub fn fault(&self) -> Fault {
        self.inner.shared.state().fault.clone()
    }

    /// Change the fault mode. Switching to [`Fault::Refuse`] closes the port and drops open connections before it
    /// returns; switching away from it opens the same port again.
    ///
    /// # Errors
    /// [`FakeError::Bind`] if the port could not be opened again (the server then stays refusing);
    /// [`FakeError::Stopped`] after [`FakeServer::stop`].
    pub async fn set_fault(&self, fault: Fault) -> Result<(), FakeError> {
        let mut lifecycle = self.inner.lifecycle.lock().await;
        if lifecycle.stopped {
            return Err(FakeError::Stopped);
        }
        if fault == Fault::Refuse {
            self.inner.shared.state().fault = fault;
            if let Some(listening) = lifecycle.listener.take() {
                self.inner.listening.store(false, Ordering::SeqCst);
                listening.shut_down().await;
            }
        } else {
            if lifecycle.listener.is_none() {
                let listener = bind(self.port()).await?;
                lifecycle.listener = Some(serve(listener, &self.inner.shared, &self.inner.root));
                self.inner.listening.store(true, Ordering::SeqCst);
            }
            self.inner.shared.state().fault = fault;
        }
        tracing::debug!(port = self.port(), fault = ?self.fault(), "fault set");
        Ok(())
    }

    /// Count this server's requests in `gauge` from now on (share one gauge between servers to see how many
    /// requests a client has in flight across all of them).
    pub fn count_in_flight(&self, gauge: &InFlight) {
        self.inner.shared.state().in_flight = Some(gauge.clone());
    }

    /// Insert or replace a meeting with synthetic attendees.
    ///
    /// # Errors
    /// [`FakeError::InvalidSeed`] for an empty meeting ID or more moderators than participants.
    pub fn seed_meeting(&self, seed: SeedMeeting) -> Result<MeetingSnapshot, FakeError> {
        let meeting = Meeting::from_seed(seed, now_ms())?;
        let snapshot = meeting.snapshot();
        self.inner.shared.state().upsert(meeting);
        Ok(snapshot)
    }

    /// Every meeting, in creation order.
    pub fn meetings(&self) -> Vec<MeetingSnapshot> {
        self.inner
            .shared
            .state()
            .meetings
            .iter()
            .map(|m| m.snapshot())
            .collect()
    }

    /// One meeting by its external ID.
    pub fn meeting(&self, meeting_id: &str) -> Option<MeetingSnapshot> {
        self.inner
            .shared
            .state()
            .meeting(meeting_id)
            .map(Meeting::snapshot)
    }

    /// Remove a meeting (as if it ended); false if there was none.
    pub fn remove_meeting(&self, meeting_id: &str) -> bool {
        self.inner.shared.state().remove(meeting_id)
    }

    /// Remove every meeting (as a BBB restart would).
    pub fn clear_meetings(&self) {
        self.inner.shared.state().clear_meetings();
    }

    /// The requests received so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.inner.shared.state().log.clone()
    }

    /// Whether to log the requests received from now on (`requests`; on by default). A benchmark turns it off: a log
    /// of hundreds of thousands of requests is reallocated under the lock every request waits for.
    pub fn set_request_log(&self, keep: bool) {
        self.inner.shared.state().no_request_log = !keep;
    }

    /// Make room for `additional` more meetings now, so that creating them does not grow the meeting list and its
    /// index under the lock every request waits for. A benchmark creating tens of thousands of meetings asks for
    /// it: growing a table of 60,000 meetings rehashes every id, a stall of milliseconds for every request in
    /// flight (the p99 of the fake's own create of a new meeting).
    pub fn reserve_meetings(&self, additional: usize) {
        self.inner.shared.state().reserve(additional);
    }

    /// Forget the requests received so far.
    pub fn clear_requests(&self) {
        self.inner.shared.state().log.clear();
    }

    /// Return the requests received so far and forget them.
    pub fn take_requests(&self) -> Vec<LoggedRequest> {
        std::mem::take(&mut self.inner.shared.state().log)
    }

    /// Close the port and drop every connection; the server cannot be restarted afterwards (start a new one on
    /// the same port instead). Idempotent.
    pub async fn stop(&self) {
        let mut lifecycle = self.inner.lifecycle.lock().await;
        lifecycle.stopped = true;
        self.inner.listening.store(false, Ordering::SeqCst);
        if let Some(listening) = lifecycle.listener.take() {
            listening.shut_down().await;
        }
        self.inner.root.cancel();
        tracing::debug!(port = self.port(), "fake BBB server stopped");
    }
}

impl fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeServer")
            .field("port", &self.port())
            .field("secret", &"<redacted>")
            .field("bbb_version", &self.bbb_version())
            .finish_non_exhaustive()
    }
}

async fn bind(port: u16) -> Result<TcpListener, FakeError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|source| FakeError::Bind { port, source })
}

/// Spawn the accept loop for `listener`; connections live until the returned generation is shut down.
fn serve(listener: TcpListener, shared: &Arc<Shared>, root: &CancellationToken) -> Listening {
    let cancel = root.child_token();
    let tracker = TaskTracker::new();
    let app = Router::new()
        .fallback(handle)
        .with_state(Arc::clone(shared))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let accept_cancel = cancel.clone();
    let accept_tracker = tracker.clone();
    tracker.spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = accept_cancel.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, _)) => {
                    let service = TowerToHyperService::new(app.clone());
                    let conn_cancel = accept_cancel.clone();
                    accept_tracker.spawn(async move {
                        let conn = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service);
                        // Dropping the connection future closes the socket, also mid-request.
                        tokio::select! {
                            result = conn => {
                                if let Err(error) = result {
                                    tracing::debug!(%error, "fake BBB connection ended with an error");
                                }
                            }
                            () = conn_cancel.cancelled() => {}
                        }
                    });
                }
                Err(error) => {
                    // E.g. too many open files: back off a little instead of spinning.
                    tracing::warn!(%error, "fake BBB accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    });
    Listening { cancel, tracker }
}

/// Every request to a fake server: log it, apply the fault, answer.
async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text_header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let raw = RawRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        content_type: text_header(header::CONTENT_TYPE),
        host: text_header(header::HOST).unwrap_or_else(|| format!("127.0.0.1:{}", shared.port)),
        body,
    };
    let prepared = api::prepare(&raw, &shared.secret);
    let (fault, _counted) = {
        let mut state = shared.state();
        if !state.no_request_log {
            state.log.push(api::log_entry(&raw, &prepared));
        }
        (
            state.fault.clone(),
            state.in_flight.as_ref().map(InFlight::enter),
        )
    };
    match fault {
        Fault::SlowCreate(delay) if matches!(&prepared.route, Route::Call(c) if c == "create") => {
            // Carried out by a task of its own, so the create happens even if the caller hangs up meanwhile.
            let task_shared = shared.clone();
            let task = tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let mut state = task_shared.state();
                api::dispatch(&mut state, &task_shared.bbb_version, &raw, &prepared)
            });
            return match task.await {
                Ok(reply) => respond(reply),
                Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            };
        }
        Fault::Normal | Fault::Refuse | Fault::SlowCreate(_) => {}
        // Never answer; the connection is dropped when the server stops or starts refusing.
        Fault::Hang => return std::future::pending().await,
        Fault::Delay(delay) => tokio::time::sleep(delay).await,
        Fault::Http500 => {
            return (StatusCode::INTERNAL_SERVER_ERROR, html(ERROR_500_PAGE)).into_response();
        }
        Fault::Html => return html(WELCOME_PAGE).into_response(),
        Fault::Garbage => {
            return ([(header::CONTENT_TYPE, XML_CONTENT_TYPE)], GARBAGE).into_response();
        }
        Fault::Failed(key, message) => return xml(api::failed_xml(&key, &message)),
    }
    let reply = api::dispatch(&mut shared.state(), &shared.bbb_version, &raw, &prepared);
    respond(reply)
}

fn respond(reply: Reply) -> Response {
    match reply {
        Reply::Xml(body) => xml(body),
        Reply::Html(body) => html(body).into_response(),
        Reply::Redirect(location) => {
            let cookie = format!("JSESSIONID={}; Path=/; HttpOnly", random_alphanumeric(32));
            let mut response = StatusCode::FOUND.into_response();
            let headers = response.headers_mut();
            match HeaderValue::from_str(&location) {
                Ok(value) => {
                    headers.insert(header::LOCATION, value);
                }
                Err(_) => return (StatusCode::BAD_REQUEST, "bad Host header").into_response(),
            }
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                headers.insert(header::SET_COOKIE, value);
            }
            response
        }
        Reply::NotFound => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

const XML_CONTENT_TYPE: &str = "text/xml;charset=utf-8";

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, XML_CONTENT_TYPE)], body).into_response()
}

fn html(body: impl Into<Body>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body.into(),
    )
}

const ERROR_500_PAGE: &str = "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n\
    <center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

const WELCOME_PAGE: &str = "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n\
    <title>Welcome to nginx!</title>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n\
    <p>If you see this page, the web server is successfully installed.<br>\n</p>\n</body>\n</html>\n";

/// Not XML by any reading: a NUL, invalid UTF-8 and unbalanced markup.
const GARBAGE: &[u8] = b"\x00\x9f\xff<<response>\x01 }{ not xml &&& \xfe\xfe";

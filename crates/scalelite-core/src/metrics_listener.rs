//! The `/metrics` listener of a standalone poller or recording importer (`METRICS_BIND`): one path, `GET /metrics`
//! (and `HEAD`), answered with the OpenMetrics text `render` returns at that moment. The API serves its metrics
//! through its own server (`scalelite_api::serve_metrics`, with the API's connection limits); this is the small
//! listener the two background services share.
//!
//! Answers: `/metrics` → 200 with [`CONTENT_TYPE`] (500 when rendering fails), any other method on it → 405 with
//! `Allow: GET, HEAD`, any other path → 404. A client has [`HEADER_TIMEOUT`] to send its request line and headers;
//! past it (or when a kept-alive connection stays idle that long) the connection is closed, so a client sending half
//! a request cannot hold a connection for ever. On shutdown the listener stops accepting, lets each open connection
//! finish its request, and returns within a second.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{ALLOW, CONTENT_TYPE as CONTENT_TYPE_HEADER, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The OpenMetrics content type Prometheus asks for.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Time a client has to send a request line and headers (the default of the API's `HTTP_HEADER_TIMEOUT`); also the
/// longest a kept-alive connection may stay idle.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long open connections may take to finish once shutdown has begun.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Bind `addr` and serve `/metrics` there in a background task until `shutdown` is cancelled. The task is not tracked
/// by the service's drain: a scrape never delays the exit.
///
/// # Errors
/// The address cannot be bound.
pub async fn spawn<R, E>(
    addr: SocketAddr,
    render: R,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr>
where
    R: Fn() -> Result<String, E> + Send + Sync + 'static,
    E: 'static,
{
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("could not listen on {addr} (METRICS_BIND)"))?;
    let addr = listener.local_addr().unwrap_or(addr);
    tracing::info!(%addr, "metrics at /metrics");
    tokio::spawn(async move {
        if let Err(e) = serve(listener, render, shutdown).await {
            tracing::error!(error = %e, "the metrics listener failed");
        }
    });
    Ok(addr)
}

/// Serve `/metrics` on `listener` until `shutdown` is cancelled.
///
/// # Errors
/// None today (a failed accept is logged and retried); the `Result` leaves room for listener errors.
pub async fn serve<R, E>(
    listener: TcpListener,
    render: R,
    shutdown: CancellationToken,
) -> io::Result<()>
where
    R: Fn() -> Result<String, E> + Send + Sync + 'static,
    E: 'static,
{
    serve_with_header_timeout(listener, render, shutdown, HEADER_TIMEOUT).await
}

async fn serve_with_header_timeout<R, E>(
    listener: TcpListener,
    render: R,
    shutdown: CancellationToken,
    header_timeout: Duration,
) -> io::Result<()>
where
    R: Fn() -> Result<String, E> + Send + Sync + 'static,
    E: 'static,
{
    let render = Arc::new(render);
    let connections = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted: wait a little rather
                    // than spin.
                    tracing::debug!(error = %e, "metrics: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        connections.spawn(serve_connection(
            stream,
            render.clone(),
            header_timeout,
            shutdown.clone(),
        ));
    }
    drop(listener);
    connections.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, connections.wait()).await;
    Ok(())
}

async fn serve_connection<R, E>(
    stream: TcpStream,
    render: Arc<R>,
    header_timeout: Duration,
    stop: CancellationToken,
) where
    R: Fn() -> Result<String, E> + Send + Sync + 'static,
    E: 'static,
{
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let response = answer(request.method(), request.uri().path(), render.as_ref());
        async move { Ok::<_, Infallible>(response) }
    });
    let mut connection = pin!(
        hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service)
    );
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "metrics: connection ended with an error");
    }
}

/// The answer to `method path`.
fn answer<R, E>(method: &Method, path: &str, render: &R) -> Response<Text>
where
    R: Fn() -> Result<String, E>,
{
    let status = |status: StatusCode| {
        let mut response = Response::new(Text::empty());
        *response.status_mut() = status;
        response
    };
    if path != "/metrics" {
        return status(StatusCode::NOT_FOUND);
    }
    if method != Method::GET && method != Method::HEAD {
        let mut response = status(StatusCode::METHOD_NOT_ALLOWED);
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match render() {
        Ok(body) => {
            let mut response = Response::new(Text::new(body));
            response
                .headers_mut()
                .insert(CONTENT_TYPE_HEADER, HeaderValue::from_static(CONTENT_TYPE));
            response
        }
        Err(_) => status(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// A response body sent in one piece.
#[derive(Debug)]
pub struct Text(Option<Bytes>);

impl Text {
    fn new(text: String) -> Self {
        Self(Some(Bytes::from(text)))
    }

    fn empty() -> Self {
        Self(None)
    }
}

impl Body for Text {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().0.take().map(|bytes| Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |bytes| bytes.len() as u64))
    }
}

#[cfg(test)]
mod tests;

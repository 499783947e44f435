//! Limits every request passes before its handler: how many requests run at once, how large a body may be and
//! how long the client may take to send it.
//!
//! - At most `max_concurrent_requests` requests are handled at once; one more is answered 503 straight away (BBB
//!   `FAILED` on the API), so a flood queues nowhere.
//! - create, insertDocument and analytics_callback may carry large bodies (pre-uploaded presentations, learning
//!   analytics): `max_body_bytes`. Every other route: `max_small_body_bytes`. A `Content-Length` over the limit
//!   is refused before a byte of the body is read; a body without one is cut when it passes the limit.
//! - The whole body must arrive within `body_timeout` of the request reaching the router.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};

use crate::error::ApiError;
use crate::state::AppState;

/// Why reading a request body stopped early.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body over the limit")]
    TooLarge,
    #[error("request body not received in time")]
    TimedOut,
}

impl BodyError {
    /// The `BodyError` behind a failed body read, if that is why it failed.
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyError> {
        let mut current = Some(error);
        while let Some(error) = current {
            if let Some(found) = error.downcast_ref::<BodyError>() {
                return Some(found);
            }
            current = error.source();
        }
        None
    }
}

/// The API error for a body that could not be read.
pub fn body_read_error(error: &axum::Error) -> ApiError {
    match BodyError::find(error) {
        Some(BodyError::TimedOut) => ApiError::BodyTimeout,
        _ => ApiError::BodyTooLarge,
    }
}

/// The body limit of a path.
fn body_limit(state: &AppState, path: &str) -> u64 {
    let large = matches!(
        path.strip_prefix("/bigbluebutton/api/"),
        Some("create" | "insertDocument" | "analytics_callback")
    );
    if large {
        state.settings.max_body_bytes as u64
    } else {
        state.settings.max_small_body_bytes
    }
}

/// A refusal in the form the route's clients understand: BBB XML on the API, plain text elsewhere.
fn refuse(path: &str, error: ApiError, status: StatusCode, text: &'static str) -> Response {
    if path.starts_with("/bigbluebutton/api") {
        return error.into_response();
    }
    (status, text).into_response()
}

/// The middleware: concurrency cap, Content-Length check, then the handler with a bounded, timed body.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
        tracing::warn!(
            limit = state.settings.max_concurrent_requests,
            "too many requests at once; answering 503"
        );
        return refuse(
            &path,
            ApiError::Busy,
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many requests; try again later.\n",
        );
    };
    let limit = body_limit(&state, &path);
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit) {
        tracing::info!(path, limit, "request body over the limit refused");
        return refuse(
            &path,
            ApiError::BodyTooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body too large.\n",
        );
    }
    let (parts, body) = request.into_parts();
    let body = Body::new(GuardedBody {
        inner: body,
        remaining: limit,
        deadline: Box::pin(tokio::time::sleep(state.settings.body_timeout)),
    });
    next.run(Request::from_parts(parts, body)).await
}

/// A request body that fails once it passes its limit or its deadline.
struct GuardedBody {
    inner: Body,
    remaining: u64,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let length = data.len() as u64;
                    if length > this.remaining {
                        this.remaining = 0;
                        return Poll::Ready(Some(Err(BodyError::TooLarge.into())));
                    }
                    this.remaining -= length;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Some(Err(BodyError::TimedOut.into())))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

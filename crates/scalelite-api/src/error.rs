//! Every way an API call can fail, and the BBB `FAILED` document the caller sees for it.
//!
//! Variants are named after the original's errors and carry its messageKey and message. Store and internal errors
//! are logged with their cause and answered with a generic message, so storage details never reach the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scalelite_core::bbb::xml;
use scalelite_core::bbb::xml::BbbResponseError;
use scalelite_core::bbb_client::CallError;
use scalelite_core::storage::StoreError;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// The messageKey of a FAILED answer, attached to the response so the metrics layer can count outcomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedKey(pub String);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("checksum error")]
    Checksum,
    #[error("meeting not found")]
    MeetingNotFound,
    #[error("missing meetingID")]
    MissingMeetingId,
    #[error("unsupported request")]
    UnsupportedRequest,
    #[error("unsupported content type")]
    UnsupportedContentType,
    #[error("server unavailable")]
    ServerUnavailable,
    #[error("server tag unavailable: {0}")]
    ServerTagUnavailable(String),
    #[error("missing meetingID or recordID")]
    MissingParameters,
    #[error("missing recordID")]
    MissingRecordId,
    #[error("missing publish")]
    MissingPublish,
    #[error("recordings not found")]
    RecordingsNotFound,
    #[error("invalid parameters: {0}")]
    InvalidParameters(String),
    #[error("request body too large")]
    BodyTooLarge,
    /// The body did not arrive within `HTTP_BODY_TIMEOUT` (HTTP 408, connection closed).
    #[error("request body timed out")]
    BodyTimeout,
    /// `MAX_CONCURRENT_REQUESTS` requests are already being handled (HTTP 503).
    #[error("too many requests at once")]
    Busy,
    /// `internalError` with a message the client may see.
    #[error("internal error: {0}")]
    Internal(String),
    /// A FAILED answer of a BBB server, passed on.
    #[error("BBB error {key}: {message}")]
    Bbb { key: String, message: String },
    /// Storage failed: logged, answered with a generic internalError.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    /// The client-visible error for a failed call to a BBB server, `generic` being the call's "Unable to ..."
    /// message (`docs/compatibility.md#api-errors`).
    pub fn from_call(error: CallError, generic: &str) -> ApiError {
        match error {
            CallError::Transport(_) => ApiError::Internal(generic.to_owned()),
            CallError::Response(BbbResponseError::Failed {
                message_key: Some(key),
                message: Some(message),
            }) => ApiError::Bbb { key, message },
            CallError::Response(BbbResponseError::Failed { .. }) => {
                ApiError::Internal(generic.to_owned())
            }
            CallError::Response(_) => {
                ApiError::Internal("Response did not include returncode".to_owned())
            }
        }
    }

    fn key_and_message(&self) -> (&str, String) {
        match self {
            ApiError::Checksum => ("checksumError", "You did not pass the checksum security check".into()),
            ApiError::MeetingNotFound => (
                "notFound",
                "We could not find a meeting with that meeting ID - perhaps the meeting is not yet running?".into(),
            ),
            ApiError::MissingMeetingId => ("missingParamMeetingID", "You must specify a meeting ID for the meeting.".into()),
            ApiError::UnsupportedRequest => ("unsupportedRequest", "This request is not supported.".into()),
            ApiError::UnsupportedContentType => {
                ("unsupportedContentType", "POST request Content-Type is missing or unsupported".into())
            }
            ApiError::ServerUnavailable => ("serverUnavailable", "The server for this meeting is disabled/offline.".into()),
            ApiError::ServerTagUnavailable(tag) => {
                ("serverTagUnavailable", format!("There is no available server with the required tag={tag}."))
            }
            ApiError::MissingParameters => ("missingParameters", "param meetingID or recordID must be included.".into()),
            ApiError::MissingRecordId => ("missingParamRecordID", "You must specify a recordID.".into()),
            ApiError::MissingPublish => ("missingParamPublish", "You must specify a publish value true or false.".into()),
            ApiError::RecordingsNotFound => ("notFound", "We could not find recordings".into()),
            ApiError::InvalidParameters(why) => ("invalidParameters", format!("Invalid request parameters: {why}")),
            ApiError::BodyTooLarge => ("requestTooLarge", "The request body is too large.".into()),
            ApiError::BodyTimeout => ("requestTimeout", "The request body was not received in time.".into()),
            ApiError::Busy => ("serviceUnavailable", "Too many requests at once; try again later.".into()),
            ApiError::Internal(message) => ("internalError", message.clone()),
            ApiError::Bbb { key, message } => (key.as_str(), message.clone()),
            ApiError::Store(_) => ("internalError", "Unable to reach the Scalelite data store.".into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Store(e) = &self {
            tracing::error!(error.message = %e, error.cause_chain = ?e, "storage failure");
        }
        let (key, message) = self.key_and_message();
        // Refusals that are not the call's answer carry their HTTP status, so proxies and clients see them too.
        let status = match self {
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::OK,
        };
        let mut response = xml_response(status, &xml::failed(key, &message));
        if status == StatusCode::REQUEST_TIMEOUT {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response.extensions_mut().insert(FailedKey(key.to_owned()));
        response
    }
}

/// An XML answer as the original sends it.
pub fn xml_response(status: StatusCode, root: &xml::Element) -> Response {
    let mut response = (status, xml::write(root)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    response
}

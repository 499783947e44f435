//! Calls from Scalelite to BBB servers (the API's proxied calls and the poller), with the original's timeouts.
//!
//! This is the only place that sends HTTP to BBB servers. Every call is bounded by `connect + response` timeout;
//! unlike the original (whose HTTP client silently retries a timed-out GET once), a call is never retried here, so
//! a dead server costs one timeout, not two. How the bytes travel (straight to the server, or through the
//! environment's proxy) is `transport`'s.

use std::time::Duration;

use crate::bbb::checksum::Algorithm;
use crate::bbb::params::Params;
use crate::bbb::uri::bbb_url;
use crate::bbb::xml::{BbbResponse, BbbResponseError, Element};
use crate::domain::Server;

mod transport;
use transport::Transport;

/// Why a call to a BBB server failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Connection refused, DNS, TLS, timeout: the server did not answer usefully.
    #[error("could not reach the server: {0}")]
    Transport(String),
    /// The server answered, but not with a SUCCESS BBB document.
    #[error(transparent)]
    Response(#[from] BbbResponseError),
}

impl CallError {
    /// True when the failure says nothing about the request itself (the server is down, slow or broken), so trying
    /// another server makes sense.
    pub fn is_server_fault(&self) -> bool {
        match self {
            CallError::Transport(_) => true,
            CallError::Response(BbbResponseError::Failed { .. }) => false,
            CallError::Response(_) => true,
        }
    }
}

/// A body sent with a call (pre-uploaded slides on create, insertDocument).
#[derive(Clone, Debug)]
pub struct XmlBody(pub Vec<u8>);

/// Timeouts of one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub response: Duration,
}

impl Timeouts {
    /// The original's reduced timeouts for a server already marked offline: connect = clamp(0.2 s, R/10, R) and
    /// read = clamp(0.5 s, R/10, R), R being the response timeout.
    pub fn reduced(self) -> Timeouts {
        let r = self.response;
        let clamp = |min: Duration| (r / 10).max(min).min(r);
        Timeouts {
            connect: clamp(Duration::from_millis(200)),
            response: clamp(Duration::from_millis(500)),
        }
    }
}

/// The default of [`BbbClient::with_max_response_size`]: 16 MiB, room for getMeetings of a busy server.
pub const DEFAULT_MAX_RESPONSE_SIZE: u64 = 16 * 1024 * 1024;

/// HTTP client for BBB servers. Cheap to clone.
#[derive(Clone, Debug)]
pub struct BbbClient {
    transport: Transport,
    timeouts: Timeouts,
    algorithm: Algorithm,
    max_response_size: u64,
}

impl BbbClient {
    /// `algorithm` signs every outbound call (`AllowedAlgorithms::outbound()`).
    pub fn new(timeouts: Timeouts, algorithm: Algorithm) -> Self {
        Self {
            transport: Transport::from_env(),
            timeouts,
            algorithm,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
        }
    }

    /// Read at most `bytes` of an answer (`BBB_MAX_RESPONSE_SIZE`); a longer one fails as
    /// [`CallError::Transport`], like a server that does not answer.
    #[must_use]
    pub fn with_max_response_size(mut self, bytes: u64) -> Self {
        self.max_response_size = bytes;
        self
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The signed URL of `call` on `server`.
    pub fn url(&self, server: &Server, call: &str, params: &Params) -> String {
        bbb_url(&server.url, call, params, &server.secret, self.algorithm)
    }

    /// Call `server` with the normal timeouts, or the reduced ones when `reduced` (offline servers).
    pub async fn call(
        &self,
        server: &Server,
        call: &str,
        params: &Params,
        body: Option<XmlBody>,
        reduced: bool,
    ) -> Result<BbbResponse, CallError> {
        let url = self.url(server, call, params);
        self.send(&url, body, self.timeouts_for(reduced)).await
    }

    /// The normal timeouts, or the reduced ones when `reduced`.
    fn timeouts_for(&self, reduced: bool) -> Timeouts {
        if reduced {
            self.timeouts.reduced()
        } else {
            self.timeouts
        }
    }

    /// [`BbbClient::call`] without a body, building only the elements of the answer that `keep` accepts
    /// ([`BbbResponse::parse_pruned`]; e.g. [`crate::bbb::xml::for_summaries`] for the poller's `getMeetings`). The
    /// answer is checked and classified as by [`BbbClient::call`].
    pub async fn call_pruned(
        &self,
        server: &Server,
        call: &str,
        params: &Params,
        reduced: bool,
        keep: fn(&[Element], &str) -> bool,
    ) -> Result<BbbResponse, CallError> {
        let url = self.url(server, call, params);
        let body = self
            .exchange(&url, None, self.timeouts_for(reduced))
            .await?;
        Ok(BbbResponse::parse_pruned(&body, keep)?)
    }

    /// Send a request to an already signed URL and parse the BBB answer (whatever the HTTP status, as the original).
    pub async fn send(
        &self,
        url: &str,
        body: Option<XmlBody>,
        timeouts: Timeouts,
    ) -> Result<BbbResponse, CallError> {
        let body = self.exchange(url, body, timeouts).await?;
        Ok(BbbResponse::parse(&body)?)
    }

    /// Send a request to an already signed URL and read the answer's body, within the timeouts and the size limit.
    async fn exchange(
        &self,
        url: &str,
        body: Option<XmlBody>,
        timeouts: Timeouts,
    ) -> Result<Vec<u8>, CallError> {
        let total = timeouts.connect + timeouts.response;
        let exchange = self
            .transport
            .exchange(url, body.map(|b| b.0), self.max_response_size);
        tokio::time::timeout(total, exchange)
            .await
            .map_err(|_| CallError::Transport(format!("no answer within {total:?}")))?
    }
}

#[cfg(test)]
mod tests;

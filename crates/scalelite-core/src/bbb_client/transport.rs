//! How a call reaches a BBB server: hyper's pooled HTTP/1.1 client straight to the server, or reqwest when the
//! environment names a proxy.
//!
//! The direct way is the client reqwest is built on (`hyper_util`'s pool, `hyper_rustls`' connector, rustls with
//! ring and the webpki roots, TCP_NODELAY, idle connections kept 30 s), without reqwest's layers: parsing the URL
//! into a `url::Url` and back, the redirect policy (none is followed here), the request and response wrappers: about
//! 5% of the profile of a create, and a proxied isMeetingRunning went from 120 to 106 µs of CPU without them (README,
//! "Benchmarks"). reqwest stays for proxies, which it reads from the environment (`HTTP_PROXY`, `HTTPS_PROXY`,
//! `ALL_PROXY`, `NO_PROXY`, upper or lower case), so a deployment behind an outbound proxy sends its calls as before,
//! and for a server URL with a user name or password in it, which reqwest sends as Basic authentication.

use std::ffi::OsString;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::CallError;

const AGENT: &str = concat!("scalelite-rs/", env!("CARGO_PKG_VERSION"));
/// How long an idle connection to a server is kept for the next call.
const IDLE: Duration = Duration::from_secs(30);
/// The environment variables that name an outbound proxy (reqwest's, which reads the same).
const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

type Direct = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The client calls go through. Cheap to clone.
#[derive(Clone, Debug)]
pub(super) enum Transport {
    /// hyper's pool; reqwest (`with_credentials`, built when first needed) for the URLs that carry a user name or
    /// password, which reqwest sends as Basic authentication.
    Direct {
        client: Direct,
        with_credentials: Arc<OnceLock<reqwest::Client>>,
    },
    Proxied(reqwest::Client),
}

/// Whether `url`'s authority carries a user name or password (`user:secret@host`).
fn carries_credentials(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#'])
        .next()
        .is_some_and(|authority| authority.contains('@'))
}

/// Whether `var` (the environment) names an outbound proxy.
pub(super) fn proxy_configured(var: impl Fn(&str) -> Option<OsString>) -> bool {
    PROXY_VARIABLES
        .iter()
        .any(|name| var(name).is_some_and(|value| !value.is_empty()))
}

impl Transport {
    /// Direct, unless the environment names a proxy.
    pub(super) fn from_env() -> Self {
        if proxy_configured(|name| std::env::var_os(name)) {
            Self::proxied()
        } else {
            Self::direct()
        }
    }

    pub(super) fn direct() -> Self {
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            // ring offers every safe default version: only a broken build gets here.
            .expect("the TLS protocol versions must be supported")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Self::Direct {
            client,
            with_credentials: Arc::default(),
        }
    }

    pub(super) fn proxied() -> Self {
        Self::Proxied(reqwest_client())
    }

    /// Send a request (a POST of `body` as XML when there is one, else a GET) and read the answer's body, at most
    /// `limit` bytes: a longer one fails as [`CallError::Transport`].
    pub(super) async fn exchange(
        &self,
        url: &str,
        body: Option<Vec<u8>>,
        limit: u64,
    ) -> Result<Vec<u8>, CallError> {
        match self {
            Self::Direct { client, .. } if !carries_credentials(url) => {
                direct_exchange(client, url, body, limit).await
            }
            Self::Direct {
                with_credentials, ..
            } => {
                let client = with_credentials.get_or_init(reqwest_client);
                proxied_exchange(client, url, body, limit).await
            }
            Self::Proxied(client) => proxied_exchange(client, url, body, limit).await,
        }
    }
}

/// reqwest as the calls went before: the environment's proxies, no redirects followed.
fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(AGENT)
        .pool_idle_timeout(IDLE)
        .build()
        // Building a client only fails when the TLS back-end cannot initialise, which is a broken build.
        .expect("the HTTP client must build")
}

fn too_large(limit: u64) -> CallError {
    CallError::Transport(format!(
        "answer larger than {limit} bytes (BBB_MAX_RESPONSE_SIZE)"
    ))
}

/// Appends `chunk` to `body` unless that takes it past `limit`.
fn take(body: &mut Vec<u8>, chunk: &[u8], limit: u64) -> Result<(), CallError> {
    if (body.len() as u64).saturating_add(chunk.len() as u64) > limit {
        return Err(too_large(limit));
    }
    body.extend_from_slice(chunk);
    Ok(())
}

/// The URI of `url`. A URL that `http::Uri` refuses as it is (a host or path outside ASCII, say) is first
/// normalised as reqwest would send it: punycode host, percent-encoded path and query.
fn uri_of(url: &str) -> Result<hyper::Uri, CallError> {
    if let Ok(uri) = url.parse::<hyper::Uri>() {
        return Ok(uri);
    }
    url::Url::parse(url)
        .ok()
        .and_then(|normalised| normalised.as_str().parse::<hyper::Uri>().ok())
        .ok_or_else(|| CallError::Transport("request failed: invalid server URL".into()))
}

async fn direct_exchange(
    client: &Direct,
    url: &str,
    body: Option<Vec<u8>>,
    limit: u64,
) -> Result<Vec<u8>, CallError> {
    let mut request = hyper::Request::builder()
        .uri(uri_of(url)?)
        .header(USER_AGENT, HeaderValue::from_static(AGENT))
        .header(ACCEPT, HeaderValue::from_static("*/*"));
    let body = match body {
        Some(bytes) if !bytes.is_empty() => {
            request = request
                .method(hyper::Method::POST)
                .header(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
            Full::new(Bytes::from(bytes))
        }
        _ => Full::new(Bytes::new()),
    };
    let request = request
        .body(body)
        .map_err(|e| CallError::Transport(describe("request failed", &e)))?;
    let response = client.request(request).await.map_err(|e| {
        let kind = if e.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        CallError::Transport(describe(kind, &e))
    })?;
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    // Read frame by frame so a server sending an endless answer costs at most `limit` bytes of memory.
    let mut incoming = response.into_body();
    let mut body = Vec::new();
    while let Some(frame) = incoming.frame().await {
        let frame =
            frame.map_err(|e| CallError::Transport(describe("broken response body", &e)))?;
        if let Some(chunk) = frame.data_ref() {
            take(&mut body, chunk, limit)?;
        }
    }
    Ok(body)
}

async fn proxied_exchange(
    client: &reqwest::Client,
    url: &str,
    body: Option<Vec<u8>>,
    limit: u64,
) -> Result<Vec<u8>, CallError> {
    let request = match body {
        Some(bytes) if !bytes.is_empty() => client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/xml")
            .body(bytes),
        _ => client.get(url),
    };
    let mut response = request
        .send()
        .await
        .map_err(|e| CallError::Transport(describe_reqwest(&e)))?;
    if response
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return Err(too_large(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| CallError::Transport(describe_reqwest(&e)))?
    {
        take(&mut body, &chunk, limit)?;
    }
    Ok(body)
}

/// `kind`, and the innermost of `error` and its causes. No error of hyper's names the URL (which carries the
/// checksum).
fn describe(kind: &str, error: &(dyn std::error::Error + 'static)) -> String {
    with_cause(kind, Some(error))
}

/// `kind`, and the innermost error of the chain that starts at `first`, if any.
fn with_cause(kind: &str, first: Option<&(dyn std::error::Error + 'static)>) -> String {
    let mut innermost = None;
    let mut next = first;
    while let Some(error) = next {
        innermost = Some(error);
        next = error.source();
    }
    match innermost.map(ToString::to_string) {
        Some(cause) if !cause.is_empty() => format!("{kind}: {cause}"),
        _ => kind.to_owned(),
    }
}

/// A reqwest error's kind and innermost cause: its own message names the URL, so it is never used.
fn describe_reqwest(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "broken response body"
    } else {
        "request failed"
    };
    with_cause(kind, std::error::Error::source(error))
}

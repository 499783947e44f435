//! Tests over real HTTP (reqwest) against fake servers on port 0.
//!
//! Expected checksums are computed here with the sha1/sha2 crates directly, never with the code under test.

mod calls;
mod checksums;
mod control_api;
mod faults;

use std::time::Duration;

use reqwest::StatusCode;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::FakeServer;

const SECRET: &str = "test-secret-1";

/// Hash algorithms a client may sign with.
#[derive(Debug, Clone, Copy)]
enum Algo {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// Lower-case hex `H(call + query + secret)`.
fn sign(algo: Algo, call: &str, query: &str, secret: &str) -> String {
    let data = format!("{call}{query}{secret}");
    match algo {
        Algo::Sha1 => hex::encode(Sha1::digest(data.as_bytes())),
        Algo::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
        Algo::Sha384 => hex::encode(Sha384::digest(data.as_bytes())),
        Algo::Sha512 => hex::encode(Sha512::digest(data.as_bytes())),
    }
}

/// `<url><call>?<query>&checksum=<sha256>` the way Scalelite builds it.
fn signed_url(server: &FakeServer, call: &str, query: &str) -> String {
    let sum = sign(Algo::Sha256, call, query, server.secret());
    if query.is_empty() {
        format!("{}{call}?checksum={sum}", server.url())
    } else {
        format!("{}{call}?{query}&checksum={sum}", server.url())
    }
}

/// A client that neither follows redirects nor keeps idle connections (so a closed port is seen at once).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        // A deadline, so a fake that wrongly never answers fails the test instead of hanging the suite.
        .timeout(DEADLINE)
        .build()
        .expect("reqwest client")
}

/// Like [`client`], with a total request timeout.
fn client_with_timeout(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(timeout)
        .build()
        .expect("reqwest client")
}

/// GET a URL; status and body text.
async fn get_text(url: &str) -> (StatusCode, String) {
    let response = client().get(url).send().await.expect("request");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

/// GET a signed call (SHA-256); body text, asserting HTTP 200.
async fn call(server: &FakeServer, call: &str, query: &str) -> String {
    let (status, body) = get_text(&signed_url(server, call, query)).await;
    assert_eq!(status, StatusCode::OK, "{call}?{query}: {body}");
    body
}

/// The text of the first `<name>…</name>` (or `""` for `<name/>`) in `xml`.
fn tag(xml: &str, name: &str) -> Option<String> {
    if xml.contains(&format!("<{name}/>")) && !xml.contains(&format!("<{name}>")) {
        return Some(String::new());
    }
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].to_owned())
}

/// Every `<name>…</name>` block in `xml`, in order.
fn blocks(xml: &str, name: &str) -> Vec<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(after[..end].to_owned());
        rest = &after[end + close.len()..];
    }
    out
}

fn returncode(xml: &str) -> String {
    tag(xml, "returncode").unwrap_or_default()
}

fn message_key(xml: &str) -> String {
    tag(xml, "messageKey").unwrap_or_default()
}

/// The longest anything in these tests may take; far above what it takes on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);

/// `future`, which must finish within [`DEADLINE`].
async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: not within {DEADLINE:?}"))
}

async fn start() -> FakeServer {
    FakeServer::start(SECRET).await.expect("start fake server")
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<FakeServer>();
    check::<crate::FakeBbb>();
    check::<crate::ControlServer>();
}

#[test]
fn debug_output_hides_secrets() {
    let options = crate::ServerOptions::new("very-secret");
    assert!(!format!("{options:?}").contains("very-secret"));
    let seed = crate::SeedMeeting {
        moderator_pw: Some("pw-secret".into()),
        ..crate::SeedMeeting::default()
    };
    assert!(!format!("{seed:?}").contains("pw-secret"));
}

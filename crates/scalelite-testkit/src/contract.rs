//! Helpers for the configuration contract tests (`crates/*/tests/config_contract_*.rs`): each sets one variable in
//! the environment of a real binary and observes its effect from outside (an HTTP answer, a parameter a fake BBB
//! server received, a file moved, a timeout hit).

use std::time::Duration;

use scalelite_core::domain::{NewServer, Secret, ServerPatch, ServerState};
use scalelite_core::storage::ServerStore;
use scalelite_core::storage::store::Store;
use sha2::{Digest, Sha256};

/// The API secret the contract tests start the API with unless a test sets its own.
pub const SECRET: &str = "contract-test-secret";

/// How long a contract test waits for anything that should happen "at once" or "soon": long enough for a loaded
/// 2-core machine, short enough that a hang fails the test instead of the suite.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// `(name, value)` pairs as the owned environment `Service::spawn` takes.
pub fn env_of(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `base` (the store's environment) plus `LOADBALANCER_SECRET` = [`SECRET`], then `extra`, which wins.
pub fn with_env(base: &[(String, String)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = base.to_vec();
    env.push(("LOADBALANCER_SECRET".into(), SECRET.into()));
    for (name, value) in extra {
        env.retain(|(k, _)| k != name);
        env.push(((*name).to_owned(), (*value).to_owned()));
    }
    env
}

/// `query&checksum=<SHA-256 of call + query + secret>` (the BBB rule, computed here independently of the code
/// under test).
pub fn signed_query(call: &str, query: &str, secret: &str) -> String {
    let checksum = hex::encode(Sha256::digest(format!("{call}{query}{secret}").as_bytes()));
    if query.is_empty() {
        format!("checksum={checksum}")
    } else {
        format!("{query}&checksum={checksum}")
    }
}

/// An HTTP client that does not follow redirects (a join answers with one) and gives up after [`PATIENCE`].
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(PATIENCE)
        .build()
        .expect("an HTTP client")
}

/// GET `url`: status, headers and body.
pub async fn get(url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let response = http()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap_or_default())
}

/// The text of the first `<name>` element of an XML answer.
pub fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

/// Register a BBB server (e.g. a fake one) in the store: enabled, online, load 0.
pub async fn register(store: &Store, id: &str, url: &str, secret: &str) {
    store
        .add_server(NewServer {
            id: id.to_owned(),
            url: url.to_owned(),
            secret: Secret::new(secret),
            tag: None,
            state: ServerState::Enabled,
            load_multiplier: 1.0,
        })
        .await
        .expect("add server");
    store
        .patch_server(
            id,
            ServerPatch {
                online: Some(true),
                load: Some(Some(0.0)),
                ..ServerPatch::default()
            },
        )
        .await
        .expect("bring the server online");
}

/// Wait until `check` holds, polling every 50 ms; panics naming `what` after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

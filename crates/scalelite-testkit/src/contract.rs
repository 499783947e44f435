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
    register_with_load(store, id, url, secret, 0.0).await;
}

/// [`register`] with the given load (the least-loaded server gets new meetings).
pub async fn register_with_load(store: &Store, id: &str, url: &str, secret: &str, load: f64) {
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
                load: Some(Some(load)),
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

/// A TCP relay in front of a dependency (PostgreSQL, Redis) that shows what a service does with it: how many
/// connections it holds at once, and the bytes it sends. It can be cut (open connections dropped, new ones closed
/// at once) to play an outage.
pub struct TapProxy {
    addr: std::net::SocketAddr,
    seen: std::sync::Arc<std::sync::Mutex<TapSeen>>,
    stop: tokio_util::sync::CancellationToken,
}

#[derive(Default)]
struct TapSeen {
    open: usize,
    max_open: usize,
    connections: usize,
    /// Client-to-server bytes, the first 4 MiB.
    sent: Vec<u8>,
    /// Whether connections are refused.
    down: bool,
    /// Cancelled to drop the connections open when the relay is cut.
    generation: tokio_util::sync::CancellationToken,
}

impl TapProxy {
    /// Listen on a random 127.0.0.1 port and relay every connection to `target` (`HOST:PORT`).
    pub async fn start(target: &str) -> TapProxy {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port");
        let addr = listener.local_addr().expect("local address");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(TapSeen::default()));
        let stop = tokio_util::sync::CancellationToken::new();
        let (target, shared, token) = (target.to_owned(), seen.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = token.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((client, _)) = accepted else { continue };
                let generation = {
                    let seen = shared.lock().unwrap_or_else(|e| e.into_inner());
                    if seen.down {
                        continue;
                    }
                    seen.generation.clone()
                };
                let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                {
                    let mut seen = shared.lock().unwrap_or_else(|e| e.into_inner());
                    seen.open += 1;
                    seen.connections += 1;
                    seen.max_open = seen.max_open.max(seen.open);
                }
                let (shared, token) = (shared.clone(), token.clone());
                tokio::spawn(async move {
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let tap = shared.clone();
                    let upstream = async move {
                        let mut buffer = vec![0u8; 16 * 1024];
                        loop {
                            let n = match client_read.read(&mut buffer).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            {
                                let mut seen = tap.lock().unwrap_or_else(|e| e.into_inner());
                                if seen.sent.len() < 4 << 20 {
                                    seen.sent.extend_from_slice(&buffer[..n]);
                                }
                            }
                            if server_write.write_all(&buffer[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    let downstream = tokio::io::copy(&mut server_read, &mut client_write);
                    tokio::select! {
                        () = token.cancelled() => {}
                        () = generation.cancelled() => {}
                        () = upstream => {}
                        _ = downstream => {}
                    }
                    let mut seen = shared.lock().unwrap_or_else(|e| e.into_inner());
                    seen.open -= 1;
                });
            }
        });
        TapProxy { addr, seen, stop }
    }

    /// Play an outage: drop every open connection and close new ones at once, until [`TapProxy::restore`].
    pub fn cut(&self) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.down = true;
        seen.generation.cancel();
        seen.generation = tokio_util::sync::CancellationToken::new();
    }

    /// Relay again after [`TapProxy::cut`].
    pub fn restore(&self) {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).down = false;
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The most connections that were open at once.
    pub fn max_open(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).max_open
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .connections
    }

    /// Whether the clients sent `needle` (in the first 4 MiB).
    pub fn sent_contains(&self, needle: &[u8]) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.sent.windows(needle.len()).any(|w| w == needle)
    }
}

impl Drop for TapProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The Redis keys matching `pattern` (e.g. `ns:meeting:*`) on the test Redis.
pub async fn redis_keys(pattern: &str) -> Vec<String> {
    let client = redis::Client::open(crate::redis_url()).expect("a Redis URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut conn)
        .await
        .expect("KEYS")
}

/// Delete the Redis keys matching `pattern` on the test Redis (for namespaces a test made up).
pub async fn redis_delete(pattern: &str) {
    let keys = redis_keys(pattern).await;
    if keys.is_empty() {
        return;
    }
    let client = redis::Client::open(crate::redis_url()).expect("a Redis URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let _: () = redis::cmd("DEL")
        .arg(keys)
        .query_async(&mut conn)
        .await
        .expect("DEL");
}

/// `env` (a production store's environment) with `DATABASE_URL` reaching PostgreSQL through `proxy`.
pub fn postgres_through(env: &[(String, String)], proxy: &TapProxy) -> Vec<(String, String)> {
    let direct = crate::postgres_url();
    let host = direct
        .rsplit_once('@')
        .map_or(direct.as_str(), |(_, host)| host)
        .to_owned();
    env.iter()
        .map(|(k, v)| {
            let v = if k == "DATABASE_URL" {
                v.replace(&host, &proxy.addr().to_string())
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

/// `HOST:PORT` of the test PostgreSQL.
pub fn postgres_host() -> String {
    let direct = crate::postgres_url();
    let host = direct
        .rsplit_once('@')
        .map_or(direct.as_str(), |(_, host)| host);
    host.trim_end_matches('/').to_owned()
}

//! Shared by the real-binary tests of `scalelite-api`: start the binary, sign calls, register fake BBB servers,
//! talk raw HTTP/1.1 over a socket.

#![allow(dead_code)] // each test crate uses a different part

use std::net::SocketAddr;
use std::time::Duration;

use fake_bbb::FakeServer;
use scalelite_core::storage::store::Store;
use scalelite_testkit::process::Service;
use scalelite_testkit::{Backend, TestStore, test_store};
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The API secret of every test.
pub const SECRET: &str = "limits-test-secret";

/// A bound on awaits that must finish; far above what any step needs, so never a timing assertion.
pub const GUARD: Duration = Duration::from_secs(30);

/// Start `scalelite-api` on a fresh store with `env` added to the store's environment and the API secret.
pub async fn api(backend: Backend, env: &[(&str, &str)]) -> (Service, TestStore) {
    let store = test_store(backend).await;
    let mut all = store.env().to_vec();
    all.push(("LOADBALANCER_SECRET".into(), SECRET.into()));
    all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let service = Service::spawn_listening(
        std::path::Path::new(env!("CARGO_BIN_EXE_scalelite-api")),
        &[],
        &all,
    )
    .await;
    (service, store)
}

/// `/bigbluebutton/api/<call>?<query>&checksum=...` (SHA-256, computed here, not by the core).
pub fn signed_path(call: &str, query: &str) -> String {
    let checksum = hex(&sha2::Sha256::digest(format!("{call}{query}{SECRET}")));
    let sep = if query.is_empty() { "" } else { "&" };
    format!("/bigbluebutton/api/{call}?{query}{sep}checksum={checksum}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Start a fake BBB server and register it online and enabled.
pub async fn register(store: &Store, id: &str) -> FakeServer {
    let secret = format!("{id}-secret");
    let fake = FakeServer::start(secret.clone()).await.unwrap();
    scalelite_testkit::contract::register_with_load(store, id, &fake.url(), &secret, 0.0).await;
    fake
}

/// Wait (bounded) until the fake server has received `count` requests for `call`.
pub async fn until_received(fake: &FakeServer, call: &str, count: usize) {
    let deadline = tokio::time::Instant::now() + GUARD;
    while tokio::time::Instant::now() < deadline {
        if fake.requests().iter().filter(|r| r.call == call).count() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the fake server never received {count} {call}");
}

/// The service's address.
pub fn addr(service: &Service) -> SocketAddr {
    service.addr.expect("a listening service")
}

/// A raw connection to the service.
pub async fn connect(service: &Service) -> TcpStream {
    TcpStream::connect(addr(service)).await.expect("connect")
}

/// Write `bytes` as they are.
pub async fn send(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).await.expect("write");
    stream.flush().await.expect("flush");
}

/// What the server sent until it closed the connection; `None` when it was still open after [`GUARD`].
pub async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&received).into_owned()),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Read one whole response (headers and a `Content-Length` body) and return it; the connection stays open.
pub async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                return text;
            }
        }
        let n = tokio::time::timeout(GUARD, stream.read(&mut buffer))
            .await
            .expect("a response within the guard")
            .expect("read");
        assert!(n > 0, "closed before a whole response: {text}");
        received.extend_from_slice(&buffer[..n]);
    }
}

/// A GET request for `path`, kept alive.
pub fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}

/// The status code of a raw response.
pub fn status(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
}

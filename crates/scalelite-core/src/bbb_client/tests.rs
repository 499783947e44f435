//! The answer size cap, against a one-shot HTTP server on a loopback port.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::bbb::checksum::Algorithm;
use crate::bbb_client::{BbbClient, CallError, Timeouts};

const BODY: &str = "<response><returncode>SUCCESS</returncode><version>2.0</version></response>";

/// Serve one request with `BODY`, announced by Content-Length or sent chunked; returns the URL.
async fn serve_once(chunked: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        let answer = if chunked {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{BODY}\r\n0\r\n\r\n",
                BODY.len()
            )
        } else {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
                BODY.len()
            )
        };
        let _ = socket.write_all(answer.as_bytes()).await;
        let _ = socket.shutdown().await;
    });
    format!("http://{addr}/bigbluebutton/api")
}

async fn fetch(limit: u64, chunked: bool) -> Result<(), CallError> {
    let timeouts = Timeouts {
        connect: Duration::from_secs(5),
        response: Duration::from_secs(10),
    };
    let client = BbbClient::new(timeouts, Algorithm::Sha256).with_max_response_size(limit);
    let url = serve_once(chunked).await;
    client.send(&url, None, timeouts).await.map(|_| ())
}

#[tokio::test]
async fn answers_up_to_the_cap_are_read_and_longer_ones_are_no_answer() {
    let size = BODY.len() as u64;
    for chunked in [false, true] {
        fetch(size, chunked)
            .await
            .unwrap_or_else(|e| panic!("at the cap (chunked: {chunked}): {e}"));
        match fetch(size - 1, chunked).await {
            Err(CallError::Transport(why)) => {
                assert!(why.contains("BBB_MAX_RESPONSE_SIZE"), "{why}");
            }
            other => panic!("over the cap (chunked: {chunked}): {other:?}"),
        }
    }
}

/// What a one-shot server received: the request head's lines and the body.
struct Received {
    head: Vec<String>,
    body: Vec<u8>,
}

impl Received {
    /// The value of header `name` (case-insensitive), if sent.
    fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Serve one request with `BODY` and hand over what it received; returns the server's address.
async fn capture_once() -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Receiver<Received>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let (head, mut body) = loop {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request ended before its head");
            raw.extend_from_slice(&buf[..n]);
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(raw[..end].to_vec()).unwrap();
                break (head, raw[end + 4..].to_vec());
            }
        };
        let head: Vec<String> = head.lines().map(str::to_owned).collect();
        let received = Received {
            head,
            body: Vec::new(),
        };
        let length = received
            .header("content-length")
            .map_or(0, |l| l.parse::<usize>().unwrap());
        while body.len() < length {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request ended before its body");
            body.extend_from_slice(&buf[..n]);
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
            BODY.len()
        );
        let _ = socket.write_all(answer.as_bytes()).await;
        let _ = socket.shutdown().await;
        let _ = tx.send(Received { body, ..received });
    });
    (addr, rx)
}

#[test]
fn a_proxy_is_used_when_the_environment_names_one() {
    use super::transport::proxy_configured;
    assert!(!proxy_configured(|_| None));
    // Set but empty names no proxy (as for reqwest and curl).
    assert!(!proxy_configured(|_| Some("".into())));
    // Each of the three, upper or lower case.
    let names = ["HTTP", "HTTPS", "ALL"].into_iter().flat_map(|scheme| {
        [
            format!("{scheme}_PROXY"),
            format!("{}_proxy", scheme.to_lowercase()),
        ]
    });
    for name in names {
        assert!(
            proxy_configured(|n| (n == name).then(|| "http://proxy:3128".into())),
            "{name}"
        );
    }
    assert!(!proxy_configured(
        |n| (n == "NO_PROXY").then(|| "example.org".into())
    ));
}

/// A GET and a POST with an XML body, the direct way and through reqwest: the server receives the same request
/// line, agent, content type and body either way.
#[tokio::test]
async fn both_transports_send_the_same_requests() {
    use super::transport::Transport;
    let limit = 1 << 20;
    let query = "/bigbluebutton/api/create?meetingID=a%20b&name=%C3%A9t%C3%A9&checksum=0123";
    let slides = b"<modules><module name=\"presentation\"></module></modules>".to_vec();
    let mut seen = Vec::new();
    for transport in [Transport::direct(), Transport::proxied()] {
        for body in [None, Some(slides.clone())] {
            let (addr, received) = capture_once().await;
            let answer = transport
                .exchange(&format!("http://{addr}{query}"), body.clone(), limit)
                .await
                .unwrap();
            assert_eq!(answer, BODY.as_bytes());
            let received = received.await.unwrap();
            let method = if body.is_some() { "POST" } else { "GET" };
            assert_eq!(received.head[0], format!("{method} {query} HTTP/1.1"));
            assert_eq!(received.header("host"), Some(addr.to_string().as_str()));
            assert_eq!(
                received.header("content-type"),
                body.as_ref().map(|_| "application/xml")
            );
            assert_eq!(received.body, body.unwrap_or_default());
            seen.push(received.header("user-agent").map(str::to_owned));
        }
    }
    assert!(
        seen[0]
            .as_deref()
            .is_some_and(|a| a.starts_with("scalelite-rs/")),
        "{seen:?}"
    );
    assert!(seen.iter().all(|agent| *agent == seen[0]), "{seen:?}");
}

/// An https server whose certificate no public authority signed (the nginx tests' self-signed one) is refused:
/// the direct way verifies certificates as reqwest did.
#[tokio::test]
async fn certificates_are_verified() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/nginx");
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(format!("{fixtures}/fullchain.pem"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{fixtures}/privkey.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (handshake_tx, handshake) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let _ = handshake_tx.send(acceptor.accept(socket).await.map(|_| ()));
    });
    let timeouts = Timeouts {
        connect: Duration::from_secs(5),
        response: Duration::from_secs(10),
    };
    let client = BbbClient::new(timeouts, Algorithm::Sha256);
    let url = format!("https://localhost:{port}/bigbluebutton/api");
    match client.send(&url, None, timeouts).await {
        Err(CallError::Transport(why)) => {
            assert!(why.contains("certificate"), "{why}");
            assert!(
                !why.contains("bigbluebutton"),
                "the URL is never in the message: {why}"
            );
        }
        other => panic!("a self-signed certificate was accepted: {other:?}"),
    }
    assert!(
        handshake.await.unwrap().is_err(),
        "the client went on with the handshake"
    );
}

/// A server URL with a user name and password (a BBB server behind Basic authentication) sends them as Basic
/// authentication, as before the direct way: not in the request line, not in Host.
#[tokio::test]
async fn credentials_in_a_server_url_are_sent_as_basic_authentication() {
    use super::transport::Transport;
    use base64::Engine;
    let (addr, received) = capture_once().await;
    let query = "/bigbluebutton/api/isMeetingRunning?meetingID=m&checksum=0123";
    let url = format!("http://bbb:s%40cret@{addr}{query}");
    let answer = Transport::direct()
        .exchange(&url, None, 1 << 20)
        .await
        .unwrap();
    assert_eq!(answer, BODY.as_bytes());
    let received = received.await.unwrap();
    assert_eq!(received.head[0], format!("GET {query} HTTP/1.1"));
    assert_eq!(received.header("host"), Some(addr.to_string().as_str()));
    let expected = base64::engine::general_purpose::STANDARD.encode("bbb:s@cret");
    assert_eq!(
        received.header("authorization"),
        Some(format!("Basic {expected}").as_str())
    );
}

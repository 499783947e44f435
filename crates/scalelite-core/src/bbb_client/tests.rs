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

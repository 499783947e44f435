use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::*;

async fn start(
    render: impl Fn() -> Result<String, ()> + Send + Sync + 'static,
) -> (SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(serve(listener, render, stop.clone()));
    (addr, stop)
}

async fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
        .await
        .expect("the connection closes")
        .unwrap();
    answer
}

#[tokio::test]
async fn serves_metrics_and_nothing_else() {
    let (addr, stop) = start(|| Ok("# EOF\n".to_owned())).await;
    let ok = exchange(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(
        ok.to_lowercase()
            .contains(&format!("content-type: {CONTENT_TYPE}")),
        "{ok}"
    );
    assert!(ok.ends_with("\r\n\r\n# EOF\n"), "{ok}");
    let other = exchange(
        addr,
        "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    let post = exchange(
        addr,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");
    assert!(post.to_lowercase().contains("allow: get, head"), "{post}");
    stop.cancel();
}

#[tokio::test]
async fn a_failed_render_is_a_500() {
    let (addr, stop) = start(|| Err(())).await;
    let answer = exchange(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    stop.cancel();
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_dropped() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let timeout = Duration::from_millis(300);
    tokio::spawn(serve_with_header_timeout(
        listener,
        || Ok::<_, ()>(String::new()),
        stop.clone(),
        timeout,
    ));
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost:")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buffer)).await;
    assert!(
        read.is_ok(),
        "the connection was closed after the header timeout"
    );
    stop.cancel();
}

#[tokio::test]
async fn shutdown_stops_the_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(serve(listener, || Ok::<_, ()>(String::new()), stop.clone()));
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("serve returns")
        .unwrap()
        .unwrap();
}

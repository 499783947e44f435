//! A TCP proxy a test can cut and restore, to see how the services behave when a dependency (Redis, S3) goes away;
//! it can also cut itself once a number of bytes went upstream (S3 lost in the middle of an upload).
//!
//! While down, open connections are dropped and new ones are accepted and closed at once, so clients see a broken
//! connection immediately instead of waiting for a timeout. The listening port stays the same throughout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The proxy; it stops when dropped.
pub struct TcpProxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    /// Bytes that may still go upstream before the proxy cuts itself.
    budget: Arc<AtomicI64>,
    /// Bumped on every cut so the relays of the previous generation stop.
    generation: watch::Sender<u64>,
    stop: CancellationToken,
}

impl TcpProxy {
    /// Listen on a random 127.0.0.1 port and relay to `target`.
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let addr = listener.local_addr().expect("local address");
        let up = Arc::new(AtomicBool::new(true));
        let budget = Arc::new(AtomicI64::new(i64::MAX));
        let (generation, _) = watch::channel(0u64);
        let stop = CancellationToken::new();
        let proxy = TcpProxy {
            addr,
            up: up.clone(),
            budget: budget.clone(),
            generation: generation.clone(),
            stop: stop.clone(),
        };
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = stop.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((client, _)) = accepted else { continue };
                if !up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut = generation.subscribe();
                let stop = stop.clone();
                let (up, budget, generation) = (up.clone(), budget.clone(), generation.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let upstream = async {
                        let mut buffer = vec![0u8; 16 * 1024];
                        loop {
                            let read = match client_read.read(&mut buffer).await {
                                Ok(0) | Err(_) => return,
                                Ok(read) => read,
                            };
                            let len = i64::try_from(read).unwrap_or(i64::MAX);
                            if budget.fetch_sub(len, Ordering::SeqCst) < len {
                                up.store(false, Ordering::SeqCst);
                                generation.send_modify(|g| *g += 1);
                                return;
                            }
                            if server_write.write_all(&buffer[..read]).await.is_err() {
                                return;
                            }
                        }
                    };
                    let downstream = tokio::io::copy(&mut server_read, &mut client_write);
                    tokio::select! {
                        _ = async { tokio::join!(upstream, downstream) } => {}
                        _ = cut.changed() => {}
                        () = stop.cancelled() => {}
                    }
                });
            }
        });
        proxy
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drop every open connection and refuse service until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Relay again (with no byte limit).
    pub fn restore(&self) {
        self.budget.store(i64::MAX, Ordering::SeqCst);
        self.up.store(true, Ordering::SeqCst);
    }

    /// Relay `bytes` more bytes upstream (client to server), then cut as [`TcpProxy::cut`] does.
    pub fn cut_after(&self, bytes: u64) {
        self.budget
            .store(i64::try_from(bytes).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

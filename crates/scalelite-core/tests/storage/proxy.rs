//! A toggleable TCP proxy on 127.0.0.1 for fault tests: forwards to a back-end, refuses (closes every connection
//! at once), or black-holes (keeps connections open and moves no byte), switchable at any time.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Forward,
    Refuse,
    BlackHole,
}

pub struct FaultProxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listen on an ephemeral loopback port, forwarding to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (mode, rx) = watch::channel(Mode::Forward);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let rx = rx.clone();
                let upstream = upstream.clone();
                if *rx.borrow() == Mode::Refuse {
                    drop(client);
                    continue;
                }
                tokio::spawn(pump(client, upstream, rx));
            }
        });
        Self { addr, mode, task }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.set(Mode::Refuse);
        self.task.abort();
    }
}

async fn pump(mut client: TcpStream, upstream: String, mut rx: watch::Receiver<Mode>) {
    // Dial the back-end only while forwarding; a black-holed client waits with nothing sent.
    loop {
        let mode = *rx.borrow_and_update();
        match mode {
            Mode::Forward => break,
            Mode::Refuse => return,
            Mode::BlackHole => {
                if rx.changed().await.is_err() {
                    return;
                }
            }
        }
    }
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_server = vec![0u8; 16 * 1024];
    loop {
        let mode = *rx.borrow_and_update();
        match mode {
            Mode::Refuse => return,
            Mode::BlackHole => {
                if rx.changed().await.is_err() {
                    return;
                }
            }
            Mode::Forward => {
                tokio::select! {
                    read = client.read(&mut from_client) => {
                        let Ok(n) = read else { return };
                        if n == 0 || server.write_all(&from_client[..n]).await.is_err() {
                            return;
                        }
                    }
                    read = server.read(&mut from_server) => {
                        let Ok(n) = read else { return };
                        if n == 0 || client.write_all(&from_server[..n]).await.is_err() {
                            return;
                        }
                    }
                    changed = rx.changed() => {
                        if changed.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}

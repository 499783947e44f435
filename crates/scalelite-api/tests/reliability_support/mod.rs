//! Shared by the real-binary reliability tests (reliability_meetings, config_contract_redis): API processes, signed calls, fake BBB servers in the store, and a
//! Redis server of the test's own.

#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fake_bbb::FakeServer;
use scalelite_core::storage::store::Store;
use scalelite_testkit::process::Service;
use sha2::{Digest, Sha256};

pub const SECRET: &str = "reliability-test-secret";

/// Start the API binary on `env` (plus the load balancer secret).
pub async fn api(env: &[(String, String)]) -> Service {
    let mut env = env.to_vec();
    env.push(("LOADBALANCER_SECRET".into(), SECRET.into()));
    Service::spawn_listening(Path::new(env!("CARGO_BIN_EXE_scalelite-api")), &[], &env).await
}

/// A signed API URL: the checksum computed here, independently of the code under test.
pub fn signed(service: &Service, call: &str, query: &str) -> String {
    let digest = Sha256::digest(format!("{call}{query}{SECRET}").as_bytes());
    let checksum: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let sep = if query.is_empty() { "" } else { "&" };
    service.url(&format!(
        "/bigbluebutton/api/{call}?{query}{sep}checksum={checksum}"
    ))
}

/// An HTTP client that does not follow redirects (join answers 302).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// GET and return (status, body).
pub async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.expect("the API answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Text of the first `<name>` element.
pub fn tag<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{name}>"))? + start;
    Some(&body[start..end])
}

/// Start a fake BBB server and register it in `store`: enabled, online, with `load`.
pub async fn add_fake(store: &Store, id: &str, load: f64) -> FakeServer {
    let secret = format!("{id}-secret");
    let fake = FakeServer::start(secret.clone()).await.expect("fake BBB");
    scalelite_testkit::contract::register_with_load(store, id, &fake.url(), &secret, load).await;
    fake
}

/// A redis-server of the test's own (never the shared one), with an append-only file in `dir` flushed on every
/// write, so a restart loses nothing that was acknowledged.
pub struct OwnRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    pub async fn start(dir: &Path) -> OwnRedis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = OwnRedis {
            port,
            dir: dir.to_owned(),
            child: None,
        };
        redis.spawn().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        for _ in 0..200 {
            if self.cli(&["ping"]).is_some_and(|out| out.contains("PONG")) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("own redis-server on port {} did not start", self.port);
    }

    fn cli(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `redis-cli shutdown` (the AOF is already on disk), then wait for the process to exit.
    pub async fn shutdown(&mut self) {
        let _ = self.cli(&["shutdown"]);
        if let Some(mut child) = self.child.take() {
            for _ in 0..200 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start again on the same port and directory (the AOF is loaded).
    pub async fn restart(&mut self) {
        self.spawn().await;
    }

    /// Freeze (SIGSTOP) or thaw (SIGCONT) the process: it keeps its connections but answers nothing.
    pub fn signal(&self, name: &str) {
        if let Some(child) = &self.child {
            send_signal(child.id(), name);
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            send_signal(child.id(), "CONT");
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn send_signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
}

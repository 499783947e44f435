//! The `fake-bbb` binary: what it prints, that its servers and control API answer, and that SIGTERM stops it.

use std::process::Stdio;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

struct Running {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

fn spawn(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-bbb"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn fake-bbb");
    let stdout = child.stdout.take().expect("stdout");
    Running {
        child,
        lines: BufReader::new(stdout).lines(),
    }
}

impl Running {
    async fn line(&mut self) -> String {
        self.lines
            .next_line()
            .await
            .expect("read stdout")
            .expect("a line before exit")
    }

    /// SIGTERM, then the exit status must be success.
    async fn terminate(mut self) {
        let pid = self.child.id().expect("still running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = self.child.wait().await.expect("wait");
        assert!(exit.success(), "{exit:?}");
    }
}

/// `server <id>: <url> secret <secret>` → (url, secret).
fn parse_server_line(line: &str) -> (String, String) {
    let rest = line.split_once(": ").expect("server line").1;
    let (url, secret) = rest.split_once(" secret ").expect("secret");
    (url.to_owned(), secret.to_owned())
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("request");
    (
        response.status().as_u16(),
        response.text().await.expect("body"),
    )
}

#[tokio::test]
async fn prints_servers_and_control_url_serves_them_and_stops_on_sigterm() {
    let mut running = spawn(&[
        "--servers",
        "2",
        "--secret",
        "bin-secret",
        "--bbb-version",
        "2.7.1",
    ]);
    let first = parse_server_line(&running.line().await);
    let second = parse_server_line(&running.line().await);
    let control_line = running.line().await;
    let control = control_line
        .strip_prefix("control API: ")
        .expect("control line")
        .to_owned();

    assert_eq!(first.1, "bin-secret");
    assert_ne!(first.0, second.0);
    for (url, secret) in [&first, &second] {
        let sum = hex::encode(Sha256::digest(format!("getMeetings{secret}").as_bytes()));
        let (status, body) = get(&format!("{url}getMeetings?checksum={sum}")).await;
        assert_eq!(status, 200);
        assert!(
            body.contains("<messageKey>noMeetings</messageKey>"),
            "{body}"
        );
        let (_, index) = get(url).await;
        assert!(index.contains("<bbbVersion>2.7.1</bbbVersion>"), "{index}");
    }
    let (status, servers) = get(&control).await;
    assert_eq!(status, 200);
    let servers: serde_json::Value = serde_json::from_str(&servers).expect("JSON");
    assert_eq!(servers.as_array().expect("array").len(), 2);
    assert_eq!(servers[0]["url"], first.0.as_str());

    running.terminate().await;
}

#[tokio::test]
async fn base_port_and_default_secret() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("probe")
        .local_addr()
        .expect("addr")
        .port();
    let mut running = spawn(&["--base-port", &port.to_string()]);
    let (url, secret) = parse_server_line(&running.line().await);
    assert!(
        running
            .line()
            .await
            .starts_with("control API: http://127.0.0.1:")
    );
    assert_eq!(url, format!("http://127.0.0.1:{port}/bigbluebutton/api/"));
    assert_eq!(secret, fake_bbb::DEV_SECRET);
    running.terminate().await;
}

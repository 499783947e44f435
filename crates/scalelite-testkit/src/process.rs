//! The real service binaries as child processes.
//!
//! A package's integration tests get the path of its own binary from Cargo (`env!("CARGO_BIN_EXE_scalelite-api")`),
//! so the binary under test is always the one just built. [`Service::spawn`] starts it with a clean environment
//! (only `PATH` is inherited, so a developer's `DATABASE_URL` never leaks in) and captures its standard error;
//! [`Service::spawn_listening`] also binds it to a random loopback port and waits for the "listening" log line
//! that names the port.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a service may take to start listening (a loaded 2-core machine, a cold SQLite file, migrations).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running service process; killed when dropped.
pub struct Service {
    child: Child,
    log: Arc<Mutex<String>>,
    /// The address it listens on, for services started with [`Service::spawn_listening`].
    pub addr: Option<SocketAddr>,
}

impl Service {
    /// Start `binary` with `args` and exactly `env` (plus `PATH`, and `LOG_FORMAT=plain` unless `env` sets it).
    pub fn spawn(binary: &Path, args: &[&str], env: &[(String, String)]) -> Service {
        let mut command = Command::new(binary);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LOG_FORMAT", "plain")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                #[allow(clippy::print_stderr)] // echoing the service log is what TEST_LOG asks for
                if std::env::var_os("TEST_LOG").is_some() {
                    eprintln!("[service] {line}");
                }
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        Service {
            child,
            log,
            addr: None,
        }
    }

    /// Start a service that serves HTTP (`scalelite-api`) on a random loopback port (`BIND=127.0.0.1:0` unless
    /// `env` sets `BIND`) and wait until it logs the address it listens on.
    pub async fn spawn_listening(
        binary: &Path,
        args: &[&str],
        env: &[(String, String)],
    ) -> Service {
        let mut env = env.to_vec();
        if !env.iter().any(|(k, _)| k == "BIND") {
            env.push(("BIND".into(), "127.0.0.1:0".into()));
        }
        let mut service = Service::spawn(binary, args, &env);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(addr) = listening_addr(&service.log()) {
                service.addr = Some(addr);
                return service;
            }
            if let Ok(Some(status)) = service.child.try_wait() {
                panic!(
                    "{} exited ({status}) before listening:\n{}",
                    binary.display(),
                    service.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not log a listening address within {START_TIMEOUT:?}:\n{}",
                binary.display(),
                service.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `http://<addr><path>` of a listening service.
    pub fn url(&self, path: &str) -> String {
        let addr = self
            .addr
            .expect("the service was started with spawn_listening");
        format!("http://{addr}{path}")
    }

    /// Everything the service wrote to standard error so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Wait until the log contains `needle`; false when `timeout` passes first.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.log().contains(needle)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send SIGTERM (graceful shutdown) to this process only.
    pub fn terminate(&self) {
        signal(self.pid(), "TERM");
    }

    /// Send SIGKILL: the process dies at once, mid-work.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Wait for the process to exit; `None` when `timeout` passes first.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `kill -<name> <pid>` (the workspace forbids `unsafe`, so no libc call).
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// The `addr=` field of the first log line that says "listening".
fn listening_addr(log: &str) -> Option<SocketAddr> {
    log.lines()
        .filter(|line| line.contains("listening"))
        .flat_map(|line| line.split_whitespace())
        .find_map(|field| field.strip_prefix("addr=")?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::listening_addr;

    #[test]
    fn finds_the_address_of_the_listening_line() {
        let log = "2026-12-06T21:00:00Z  INFO scalelite_api: store ready store=embedded\n\
                   2026-12-06T21:00:00Z  INFO scalelite_api: scalelite-api listening addr=127.0.0.1:40123 all_in_one=false\n";
        assert_eq!(
            listening_addr(log),
            Some("127.0.0.1:40123".parse().unwrap())
        );
        assert_eq!(listening_addr("INFO store ready addr=127.0.0.1:1\n"), None);
    }
}

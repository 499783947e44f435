//! Running the binary against an isolated store, and seeding that store.

use std::process::Stdio;
use std::time::Duration;

use fake_bbb::{FakeServer, SeedMeeting};
pub use scalelite_core::domain::{NewMeeting, NewServer, Secret, Server, ServerPatch, ServerState};
pub use scalelite_core::storage::store::Store;
pub use scalelite_core::storage::{MeetingStore, ServerStore, TenantStore};
pub use scalelite_e2e::harness::Backend;
use scalelite_e2e::harness::{TestStore, test_store};
use tokio::io::AsyncWriteExt;

/// The binary under test, with the environment of one isolated store.
pub struct Cli {
    guard: TestStore,
    env: Vec<(String, String)>,
}

/// What one run printed and how it exited.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Assert exit status 0 and return self.
    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success:\n{self:#?}");
        self
    }

    /// Assert exit status 1 with exactly one line `error: ...` on standard error; returns the message.
    #[track_caller]
    pub fn failure(&self) -> String {
        assert_eq!(self.code, 1, "expected failure:\n{self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one error line expected:\n{self:#?}");
        lines[0]
            .strip_prefix("error: ")
            .unwrap_or_else(|| panic!("no `error: ` prefix:\n{self:#?}"))
            .to_owned()
    }
}

impl Cli {
    pub async fn new(backend: Backend) -> Cli {
        let guard = test_store(backend).await;
        let mut env = guard.env().to_vec();
        // Only the task's own output on standard error.
        env.push(("RUST_LOG".into(), "off".into()));
        // Short timeouts: some tests talk to servers that refuse.
        env.push(("CONNECT_TIMEOUT".into(), "1".into()));
        env.push(("RESPONSE_TIMEOUT".into(), "2".into()));
        Cli { guard, env }
    }

    /// The same store, for seeding and checking.
    pub fn store(&self) -> &Store {
        &self.guard.store
    }

    /// Set (or replace) an environment variable for the following runs.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.into(), value.into()));
    }

    /// Run with no standard input.
    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_with_input(args, None).await
    }

    /// Run with `input` on standard input (`None`: standard input is closed).
    pub async fn run_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_scalelite-cli"));
        command
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("start scalelite-cli");
        if let Some(input) = input {
            let mut stdin = child.stdin.take().expect("stdin");
            stdin
                .write_all(input.as_bytes())
                .await
                .expect("write stdin");
            drop(stdin);
        }
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("scalelite-cli finished within 60 s")
            .expect("scalelite-cli ran");
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Start a run in the background (standard input closed, output discarded).
    pub fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_scalelite-cli"))
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start scalelite-cli")
    }

    /// Every server, sorted by id (to compare before and after).
    pub async fn servers(&self) -> Vec<Server> {
        let mut servers = self.store().list_servers().await.expect("list servers");
        servers.sort_by(|a, b| a.id.cmp(&b.id));
        servers
    }

    pub async fn server(&self, id: &str) -> Server {
        self.store().get_server(id).await.expect("server")
    }

    /// Ids of the live meetings, sorted.
    pub async fn meeting_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .store()
            .list_meetings()
            .await
            .expect("list meetings")
            .into_iter()
            .map(|m| m.id)
            .collect();
        ids.sort();
        ids
    }

    /// A server in the store with this state; online with `load` when given.
    pub async fn add_server(
        &self,
        id: &str,
        url: &str,
        secret: &str,
        state: ServerState,
        load: Option<f64>,
    ) {
        self.store()
            .add_server(NewServer {
                id: id.into(),
                url: url.into(),
                secret: Secret::new(secret),
                tag: None,
                state,
                load_multiplier: 1.0,
            })
            .await
            .expect("add server");
        if load.is_some() {
            let patch = ServerPatch {
                online: Some(true),
                load: Some(load),
                ..ServerPatch::default()
            };
            self.store()
                .patch_server(id, patch)
                .await
                .expect("patch server");
        }
    }

    /// A fake BBB server registered as `id` (enabled, online, load 0).
    pub async fn add_fake(&self, id: &str) -> FakeServer {
        let secret = format!("{id}-secret");
        let fake = FakeServer::start(secret.clone())
            .await
            .expect("start a fake BBB server");
        self.add_server(id, &fake.url(), &secret, ServerState::Enabled, Some(0.0))
            .await;
        fake
    }

    /// A meeting placed on `server_id`, also running on `fake` (so `end` and `getMeetingInfo` find it).
    pub async fn add_meeting(&self, id: &str, server_id: &str, fake: Option<&FakeServer>) {
        let n: u32 = id.bytes().map(u32::from).sum();
        self.store()
            .find_or_create_meeting(
                NewMeeting {
                    id: id.into(),
                    server_id: server_id.into(),
                    moderator_pw: "mpw".into(),
                    voice_bridge_candidates: vec![
                        format!("{}", 100_000_000 + n),
                        format!("{}", 200_000_000 + n),
                    ],
                    tenant_id: None,
                },
                Duration::from_secs(3600),
            )
            .await
            .expect("place meeting");
        if let Some(fake) = fake {
            fake.seed_meeting(SeedMeeting {
                meeting_id: id.into(),
                name: format!("Name of {id}"),
                moderator_pw: Some("mpw".into()),
                running: true,
                participant_count: 2,
                moderator_count: 1,
                ..SeedMeeting::default()
            })
            .expect("seed meeting");
        }
    }
}

/// `(meetingID, password)` of every `end` a fake server received.
pub fn end_calls(fake: &FakeServer) -> Vec<(String, String)> {
    fake.requests()
        .iter()
        .filter(|r| r.call == "end")
        .map(|r| {
            assert_eq!(
                r.checksum_ok,
                Some(true),
                "end is signed with the server's secret"
            );
            (
                r.param("meetingID").unwrap_or_default().to_owned(),
                r.param("password").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Write `text` to a new file in `dir`; returns its path.
pub fn write_file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write file");
    path.display().to_string()
}

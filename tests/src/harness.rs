//! `spawn_app()` and friends: the real API on a random port, a real isolated store, fake BBB servers.
//!
//! Isolation: the embedded back-end gets a fresh SQLite file in a temporary directory; the production back-end a
//! fresh PostgreSQL database (dropped when the test ends) and a unique Redis namespace (its keys deleted at the end).
//! PostgreSQL and Redis must be running; when they are not, the test fails and says how to start them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fake_bbb::{FakeServer, SeedMeeting};
use scalelite_api::{AppState, Settings};
use scalelite_core::domain::{NewServer, Secret, ServerPatch, ServerState};
use scalelite_core::storage::ServerStore;
use scalelite_core::storage::store::Store;
use sha2::Digest;
use tokio_util::sync::CancellationToken;

/// The load balancer secret every test app uses.
pub const LB_SECRET: &str = "test-lb-secret";

pub use scalelite_testkit::{
    Backend, TestStore, postgres_url, production_store, redis_url, test_store,
};

/// Settings every test starts from: one LB secret, short timeouts, `/metrics` on the API's port (the tests scrape
/// it there) and `/fsapi` open without a password (the dial-plan tests post without credentials). The defaults of
/// the last two are tested against the real binary (`crates/scalelite-api/tests/config_contract_limits.rs`).
pub fn test_settings() -> Settings {
    Settings {
        lb_secrets: vec![Secret::new(LB_SECRET)],
        connect_timeout: Duration::from_secs(1),
        response_timeout: Duration::from_secs(2),
        metrics_public: true,
        fsapi_auth_disabled: true,
        ..Settings::default()
    }
}

/// The API under test.
pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Store,
    pub http: reqwest::Client,
    pub settings: Arc<Settings>,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _store_guard: TestStore,
    /// Fake BBB servers started through `add_server`, kept alive with the app.
    pub fakes: Vec<FakeServer>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
        crate::init_logs();
        let guard = test_store(backend).await;
        Self::spawn_on(guard, configure).await
    }

    /// The API on a store the test made itself.
    pub async fn spawn_on(guard: TestStore, configure: impl FnOnce(&mut Settings)) -> TestApp {
        crate::init_logs();
        let mut settings = test_settings();
        configure(&mut settings);
        let state = AppState::new(settings, guard.store.clone());
        let settings = state.settings.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port");
        let addr = listener.local_addr().expect("local address");
        let shutdown = CancellationToken::new();
        let signal = shutdown.clone();
        let server = tokio::spawn(scalelite_api::serve(
            listener,
            state,
            async move { signal.cancelled().await },
            Duration::from_secs(5),
        ));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        TestApp {
            addr,
            store: guard.store.clone(),
            http,
            settings,
            shutdown,
            server: Some(server),
            _store_guard: guard,
            fakes: Vec::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `/bigbluebutton/api/<call>?<query>&checksum=<sha256>` signed with the LB secret (independently of the core).
    pub fn signed(&self, call: &str, query: &str) -> String {
        self.signed_with(call, query, LB_SECRET)
    }

    pub fn signed_with(&self, call: &str, query: &str, secret: &str) -> String {
        let checksum = sha256_hex(&format!("{call}{query}{secret}"));
        let sep = if query.is_empty() { "" } else { "&" };
        self.url(&format!(
            "/bigbluebutton/api/{call}?{query}{sep}checksum={checksum}"
        ))
    }

    pub async fn get(&self, call: &str, query: &str) -> reqwest::Response {
        self.http
            .get(self.signed(call, query))
            .send()
            .await
            .expect("request")
    }

    /// GET a signed call and parse the XML answer.
    pub async fn call(&self, call: &str, query: &str) -> Xml {
        Xml::from(self.get(call, query).await).await
    }

    /// Start a fake BBB server and register it online and enabled with load 0.
    pub async fn add_server(&mut self, id: &str) -> FakeServer {
        self.add_server_with(id, None, 1.0, 0.0).await
    }

    pub async fn add_server_with(
        &mut self,
        id: &str,
        tag: Option<&str>,
        multiplier: f64,
        load: f64,
    ) -> FakeServer {
        let secret = format!("{id}-secret");
        let fake = FakeServer::start(secret.clone())
            .await
            .expect("start a fake BBB server");
        self.store
            .add_server(NewServer {
                id: id.into(),
                url: fake.url(),
                secret: Secret::new(secret),
                tag: tag.map(str::to_owned),
                state: ServerState::Enabled,
                load_multiplier: multiplier,
            })
            .await
            .expect("add server");
        self.store
            .patch_server(
                id,
                ServerPatch {
                    online: Some(true),
                    load: Some(Some(load)),
                    ..ServerPatch::default()
                },
            )
            .await
            .expect("bring server online");
        self.fakes.push(fake.clone());
        fake
    }

    /// Load of a server as the store knows it.
    pub async fn load(&self, id: &str) -> Option<f64> {
        self.store.get_server(id).await.expect("server").load
    }

    /// Wait (at most 10 s) until server `id`'s load is `expected`: a join's bump is written behind its answer.
    pub async fn wait_for_load(&self, id: &str, expected: f64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let load = self.load(id).await;
            if load == Some(expected) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "load of {id}: {load:?}, expected {expected}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn sha256_hex(input: &str) -> String {
    hex::encode(sha2::Sha256::digest(input.as_bytes()))
}

pub fn sha1_hex(input: &str) -> String {
    hex::encode(sha1::Sha1::digest(input.as_bytes()))
}

/// A seeded meeting with `participants` attendees, `moderators` of them moderators.
pub fn seed(id: &str, participants: u32, moderators: u32) -> SeedMeeting {
    SeedMeeting {
        meeting_id: id.into(),
        participant_count: participants,
        moderator_count: moderators,
        running: true,
        ..SeedMeeting::default()
    }
}

/// A parsed XML answer with its HTTP status.
pub struct Xml {
    pub status: u16,
    pub root: scalelite_core::bbb::xml::Element,
    pub text: String,
}

impl Xml {
    pub async fn from(response: reqwest::Response) -> Xml {
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let root = scalelite_core::bbb::xml::parse(text.as_bytes())
            .unwrap_or_else(|e| panic!("answer is not XML ({e}): {text}"));
        Xml { status, root, text }
    }

    /// Text of a direct child of `<response>`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.root.child_text(name)
    }

    pub fn returncode(&self) -> String {
        self.get("returncode").unwrap_or_default()
    }

    pub fn message_key(&self) -> String {
        self.get("messageKey").unwrap_or_default()
    }

    /// Assert a FAILED answer with this messageKey (and HTTP 200), returning the message.
    #[track_caller]
    pub fn assert_failed(&self, key: &str) -> String {
        assert_eq!(self.status, 200, "{}", self.text);
        assert_eq!(self.returncode(), "FAILED", "{}", self.text);
        assert_eq!(self.message_key(), key, "{}", self.text);
        self.get("message").unwrap_or_default()
    }

    #[track_caller]
    pub fn assert_success(&self) {
        assert_eq!(self.status, 200, "{}", self.text);
        assert_eq!(self.returncode(), "SUCCESS", "{}", self.text);
    }
}

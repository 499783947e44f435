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
use scalelite_core::storage::production::{ProductionConfig, ProductionStore};
use scalelite_core::storage::sqlite::SqliteStore;
use scalelite_core::storage::store::Store;
use sha2::Digest;
use tokio_util::sync::CancellationToken;

/// The load balancer secret every test app uses.
pub const LB_SECRET: &str = "test-lb-secret";

/// Which storage back-end a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Production,
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub fn postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

const START_SERVICES: &str = "start them with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main \
start` and `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no` (or run .ci/run)";

/// An isolated store; dropping it removes what the test created.
pub struct TestStore {
    pub store: Store,
    cleanup: Option<Cleanup>,
    _dir: Option<tempfile::TempDir>,
    env: Vec<(String, String)>,
}

impl TestStore {
    /// The environment that makes a service process (e.g. `scalelite-cli`) open this same store: `DATABASE_URL`,
    /// plus `REDIS_URL` and `REDIS_NAMESPACE` for the production back-end.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }
}

struct Cleanup {
    database: String,
    namespace: String,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let Some(cleanup) = self.cleanup.take() else {
            return;
        };
        // Best effort, on a separate thread so it also works from inside a runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(client) = redis::Client::open(redis_url()) {
                    if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                        let keys: Vec<String> = redis::cmd("KEYS")
                            .arg(format!("{}:*", cleanup.namespace))
                            .query_async(&mut conn)
                            .await
                            .unwrap_or_default();
                        if !keys.is_empty() {
                            let _: Result<(), _> =
                                redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
                        }
                    }
                }
                use sqlx::Connection;
                if let Ok(mut conn) =
                    sqlx::PgConnection::connect(&format!("{}/postgres", postgres_url())).await
                {
                    let _ = sqlx::query(&format!(
                        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                        cleanup.database
                    ))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A fresh, isolated store of the given back-end.
pub async fn test_store(backend: Backend) -> TestStore {
    match backend {
        Backend::Embedded => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let path = dir.path().join("scalelite.sqlite3");
            let store = SqliteStore::open(&path).await.expect("open SQLite store");
            TestStore {
                store: Store::Embedded(store),
                cleanup: None,
                _dir: Some(dir),
                env: vec![("DATABASE_URL".into(), format!("sqlite:{}", path.display()))],
            }
        }
        Backend::Production => production_store(&redis_url()).await,
    }
}

/// A fresh production store (its own PostgreSQL database and Redis namespace) reaching Redis at `redis_url`
/// (e.g. through a proxy a test can cut).
pub async fn production_store(redis_url: &str) -> TestStore {
    use sqlx::Connection;
    let database = unique("scalelite_e2e");
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", postgres_url()))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} does not answer ({e}): {START_SERVICES}",
                postgres_url()
            )
        });
    sqlx::query(&format!("CREATE DATABASE \"{database}\""))
        .execute(&mut admin)
        .await
        .expect("create the test database");
    let namespace = unique("e2e");
    let database_url = format!("{}/{database}", postgres_url());
    let env = vec![
        ("DATABASE_URL".into(), database_url.clone()),
        ("REDIS_URL".into(), redis_url.to_owned()),
        ("REDIS_NAMESPACE".into(), namespace.clone()),
    ];
    let config = ProductionConfig {
        database_url,
        redis_url: redis_url.to_owned(),
        namespace: namespace.clone(),
        pool_size: 4,
        op_timeout: Duration::from_secs(5),
    };
    let store = ProductionStore::connect(config)
        .await
        .unwrap_or_else(|e| panic!("production store ({e}): is Redis running? {START_SERVICES}"));
    TestStore {
        store: Store::Production(store),
        cleanup: Some(Cleanup {
            database,
            namespace,
        }),
        _dir: None,
        env,
    }
}

/// Settings every test starts from: one LB secret, short timeouts.
pub fn test_settings() -> Settings {
    Settings {
        lb_secrets: vec![Secret::new(LB_SECRET)],
        connect_timeout: Duration::from_secs(1),
        response_timeout: Duration::from_secs(2),
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

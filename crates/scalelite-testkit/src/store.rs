//! Isolated stores for tests.
//!
//! The embedded back-end gets a fresh SQLite file in a temporary directory; the production back-end a fresh
//! PostgreSQL database (dropped when the test ends) and a unique Redis namespace (its keys deleted at the end).
//! PostgreSQL and Redis must be running; when they are not, the test fails and says how to start them.

use std::time::Duration;

use scalelite_core::storage::production::{ProductionConfig, ProductionStore};
use scalelite_core::storage::sqlite::SqliteStore;
use scalelite_core::storage::store::Store;

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
        redis_timeout: Duration::from_secs(5),
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

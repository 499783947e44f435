//! Isolated real back-ends for the production-store tests: each test gets its own Redis namespace and its own
//! PostgreSQL database, both removed at the end (also when the test fails, from `Drop`).
//!
//! URLs: `TEST_REDIS_URL` (default `redis://127.0.0.1:6379`) and `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432`, the server; the database name is ours). When either does not answer the
//! test fails with a message saying how to start it.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use scalelite_core::storage::production::{Keys, ProductionConfig, ProductionStore};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

const CONNECT_GUARD: Duration = Duration::from_secs(15);

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub fn postgres_server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// The server URL pointing at database `name`.
pub fn database_url(name: &str) -> String {
    let mut url = url::Url::parse(&postgres_server_url()).expect("TEST_DATABASE_URL is not a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn admin_options() -> PgConnectOptions {
    let opts: PgConnectOptions = postgres_server_url()
        .parse()
        .expect("TEST_DATABASE_URL is not a PostgreSQL URL");
    opts.database("postgres").disable_statement_logging()
}

async fn admin_connection() -> PgConnection {
    match tokio::time::timeout(CONNECT_GUARD, PgConnection::connect_with(&admin_options())).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => panic!(
            "PostgreSQL is not reachable at {} ({e}). Start it (e.g. `pg_ctlcluster 15 main start`) or set \
             TEST_DATABASE_URL",
            postgres_server_url()
        ),
        Err(_) => panic!(
            "PostgreSQL at {} did not answer within {CONNECT_GUARD:?}. Start it (e.g. `pg_ctlcluster 15 main \
             start`) or set TEST_DATABASE_URL",
            postgres_server_url()
        ),
    }
}

/// A raw connection to the test Redis (for fixtures and key checks).
pub async fn raw_redis(url: &str) -> MultiplexedConnection {
    let client = redis::Client::open(url).expect("TEST_REDIS_URL is not a Redis URL");
    match tokio::time::timeout(CONNECT_GUARD, client.get_multiplexed_async_connection()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => panic!(
            "Redis is not reachable at {url} ({e}). Start it with `redis-server --daemonize yes` or set \
             TEST_REDIS_URL"
        ),
        Err(_) => panic!(
            "Redis at {url} did not answer within {CONNECT_GUARD:?}. Start it with `redis-server --daemonize \
             yes` or set TEST_REDIS_URL"
        ),
    }
}

/// A fresh empty database, dropped by `cleanup` or on drop.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
    dropped: bool,
}

impl TestDb {
    pub async fn create() -> Self {
        let name = format!("sl_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin_connection().await;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .expect("CREATE DATABASE");
        let _ = admin.close().await;
        let url = database_url(&name);
        let opts: PgConnectOptions = url.parse().expect("test database URL");
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(opts.disable_statement_logging())
            .await
            .expect("connect to the test database");
        Self {
            name,
            url,
            pool,
            dropped: false,
        }
    }

    pub async fn drop_db(mut self) {
        self.pool.close().await;
        drop_database(&self.name).await;
        self.dropped = true;
    }
}

async fn drop_database(name: &str) {
    let mut admin = admin_connection().await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    let _ = admin.close().await;
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // A failed test still removes its database, from a thread with its own runtime.
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(drop_database(&name));
            }
        })
        .join();
    }
}

/// Delete every key of `namespace`.
pub async fn delete_namespace(url: &str, namespace: &str) {
    let mut conn = raw_redis(url).await;
    let pattern = Keys::new(namespace).pattern();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(500)
            .query_async(&mut conn)
            .await
            .expect("SCAN");
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .expect("DEL");
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}

/// One test's Redis namespace and PostgreSQL database, plus raw connections to both.
pub struct TestEnv {
    pub namespace: String,
    pub keys: Keys,
    pub redis: MultiplexedConnection,
    pub db: Option<TestDb>,
    cleaned: bool,
}

impl TestEnv {
    pub async fn new() -> Self {
        let namespace = format!("test-{}", uuid::Uuid::new_v4());
        let redis = raw_redis(&redis_url()).await;
        let db = TestDb::create().await;
        Self {
            keys: Keys::new(&namespace),
            namespace,
            redis,
            db: Some(db),
            cleaned: false,
        }
    }

    pub fn db(&self) -> &TestDb {
        self.db.as_ref().expect("database already dropped")
    }

    pub fn pg(&self) -> &PgPool {
        &self.db().pool
    }

    pub fn config(&self) -> ProductionConfig {
        ProductionConfig {
            database_url: self.db().url.clone(),
            redis_url: redis_url(),
            namespace: self.namespace.clone(),
            pool_size: 4,
            op_timeout: Duration::from_secs(5),
            redis_timeout: Duration::from_secs(5),
        }
    }

    pub async fn store(&self) -> ProductionStore {
        ProductionStore::connect(self.config())
            .await
            .expect("connect the production store")
    }

    /// Physical name of a logical key.
    pub fn key(&self, logical: &str) -> String {
        self.keys.logical(logical)
    }

    pub async fn cleanup(mut self) {
        delete_namespace(&redis_url(), &self.namespace).await;
        if let Some(db) = self.db.take() {
            db.drop_db().await;
        }
        self.cleaned = true;
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        let namespace = self.namespace.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(delete_namespace(&redis_url(), &namespace));
            }
        })
        .join();
        // `db` drops itself.
    }
}

//! The database goes away during imports: the archive stays in the spool, nothing is half-placed, and it is
//! imported once the database is back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scalelite_core::storage::RecordingStore;
use scalelite_core::storage::production::{ProductionConfig, ProductionStore};
use scalelite_core::storage::sqlite::SqliteStore;
use scalelite_core::storage::store::Store;
use scalelite_recording_importer::fixture::FixtureRecording;
use scalelite_recording_importer::{ImportContext, ImportError, ImportSettings, import_one};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::*;

fn settings(root: &std::path::Path) -> ImportSettings {
    let mut settings = ImportSettings::under(root);
    settings.store_attempts = 2;
    settings.store_backoff = Duration::from_millis(20);
    settings.poll_interval = Duration::from_millis(200);
    settings
}

#[track_caller]
fn assert_untouched(root: &std::path::Path, tar: &std::path::Path) {
    assert!(tar.exists(), "the archive stays in the spool");
    assert!(files_under(&root.join("published")).is_empty());
    assert!(files_under(&root.join("unpublished")).is_empty());
    assert!(
        files_under(&root.join("failed")).is_empty(),
        "an outage is not the archive's fault"
    );
    let scratch: Vec<_> = std::fs::read_dir(root.join("work"))
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(scratch.is_empty(), "scratch left: {scratch:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_closed_then_reopened() {
    crate::init_logs();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scalelite.sqlite3");
    let root = dir.path().join("recordings");
    let down = SqliteStore::open(&db).await.unwrap();
    down.close().await;
    let ctx = ImportContext::new(Store::Embedded(down), settings(&root));

    let recording = FixtureRecording::new("outage-embedded", 1_700_000_000_000)
        .with_format("presentation")
        .with_format("video");
    let tar = recording.write_tar(&root.join("spool")).unwrap();
    match import_one(&ctx, &tar).await {
        Err(ImportError::Store { attempts, .. }) => assert_eq!(attempts, 2),
        other => panic!("expected a store error, got {other:?}"),
    }
    assert_untouched(&root, &tar);
    assert_eq!(ctx.metrics().import_errors, 1);
    assert_eq!(ctx.metrics().imports_failed, 0);

    // The database is back (a new connection pool on the same file).
    let up = Store::Embedded(SqliteStore::open(&db).await.unwrap());
    let ctx = ImportContext::new(up.clone(), settings(&root));
    import_one(&ctx, &tar).await.unwrap();
    assert!(!tar.exists());
    let stored = up.get_recording(&recording.record_id).await.unwrap();
    assert_eq!(stored.playback_formats.len(), 2);
    assert!(
        root.join(format!(
            "published/video/{}/metadata.xml",
            recording.record_id
        ))
        .is_file()
    );
}

/// A TCP proxy in front of PostgreSQL that can be switched off (cutting every connection) and on again.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    cut: Arc<Mutex<CancellationToken>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(Mutex::new(CancellationToken::new()));
        let task = {
            let up = up.clone();
            let cut = cut.clone();
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let token = cut.lock().unwrap().clone();
                    tokio::spawn(async move {
                        let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            () = token.cancelled() => {}
                        }
                    });
                }
            })
        };
        Proxy {
            addr,
            up,
            cut,
            _task: task,
        }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        let mut cut = self.cut.lock().unwrap();
        cut.cancel();
        *cut = CancellationToken::new();
    }

    fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// A production store whose PostgreSQL connections go through `proxy`, in a database of its own (dropped at the
/// end, with the Redis keys).
async fn proxied_store(proxy: &Proxy) -> (Store, ProxiedCleanup) {
    use sqlx::Connection;
    let database = format!("scalelite_e2e_{}", uuid::Uuid::new_v4().simple());
    let namespace = format!("e2e_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", postgres_url()))
        .await
        .expect("PostgreSQL must be running");
    sqlx::query(&format!("CREATE DATABASE \"{database}\""))
        .execute(&mut admin)
        .await
        .unwrap();
    let store = ProductionStore::connect(ProductionConfig {
        database_url: format!("postgres://postgres@{}/{database}", proxy.addr),
        redis_url: redis_url(),
        namespace: namespace.clone(),
        pool_size: 2,
        op_timeout: Duration::from_secs(2),
        redis_timeout: Duration::from_secs(2),
    })
    .await
    .expect("Redis and PostgreSQL must be running");
    (
        Store::Production(store),
        ProxiedCleanup {
            database,
            namespace,
        },
    )
}

struct ProxiedCleanup {
    database: String,
    namespace: String,
}

impl Drop for ProxiedCleanup {
    fn drop(&mut self) {
        let database = self.database.clone();
        let namespace = self.namespace.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use sqlx::Connection;
                if let Ok(client) = redis::Client::open(redis_url()) {
                    if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                        let keys: Vec<String> = redis::cmd("KEYS")
                            .arg(format!("{namespace}:*"))
                            .query_async(&mut conn)
                            .await
                            .unwrap_or_default();
                        if !keys.is_empty() {
                            let _: Result<(), _> =
                                redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
                        }
                    }
                }
                if let Ok(mut conn) =
                    sqlx::PgConnection::connect(&format!("{}/postgres", postgres_url())).await
                {
                    let _ = sqlx::query(&format!(
                        "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
                    ))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}

fn postgres_addr() -> SocketAddr {
    let url = reqwest::Url::parse(&postgres_url()).unwrap();
    let host = url.host_str().unwrap_or("127.0.0.1");
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{}", url.port().unwrap_or(5432))
        .parse()
        .expect("TEST_DATABASE_URL with an IP address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_database_down_then_back() {
    crate::init_logs();
    let proxy = Proxy::start(postgres_addr()).await;
    let (store, _cleanup) = proxied_store(&proxy).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let ctx = ImportContext::new(store.clone(), settings(&root));

    let first = FixtureRecording::new("outage-1", 1_700_000_000_000).with_format("presentation");
    let tar = first.write_tar(&root.join("spool")).unwrap();
    proxy.down();
    match import_one(&ctx, &tar).await {
        Err(ImportError::Store { attempts, .. }) => assert_eq!(attempts, 2),
        other => panic!("expected a store error, got {other:?}"),
    }
    assert_untouched(&root, &tar);
    proxy.up();
    import_one(&ctx, &tar).await.unwrap();
    assert!(!tar.exists());
    assert!(store.get_recording(&first.record_id).await.is_ok());

    // The daemon (its lease lives in Redis, which stays up) keeps the archive while PostgreSQL is down and
    // imports it on a later pass once PostgreSQL is back.
    proxy.down();
    let second = FixtureRecording::new("outage-2", 1_700_000_000_000)
        .with_format("presentation")
        .with_format("podcast");
    let tar = second.write_tar(&root.join("spool")).unwrap();
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(scalelite_recording_importer::run(
        ctx.clone(),
        shutdown.clone(),
    ));
    eventually("an import attempt failed", || async {
        ctx.metrics().import_errors >= 2
    })
    .await;
    assert!(tar.exists());
    assert!(files_under(&root.join("failed")).is_empty());
    assert!(
        !root
            .join(format!("published/presentation/{}", second.record_id))
            .exists()
    );
    proxy.up();
    eventually("imported after the outage", || async {
        !tar.exists() && store.get_recording(&second.record_id).await.is_ok()
    })
    .await;
    assert!(
        root.join(format!("published/podcast/{}/audio.ogg", second.record_id))
            .is_file()
    );
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .expect("the daemon stops")
        .unwrap();
}

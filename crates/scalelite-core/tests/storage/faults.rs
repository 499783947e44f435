//! Outages between the store and its back-ends (a toggleable TCP proxy in the way): operations fail with
//! `StoreError::Backend` instead of hanging, and work again once the network does, without reconnecting by hand.

use std::future::Future;
use std::time::Duration;

use scalelite_core::domain::RecordingFilter;
use scalelite_core::storage::production::{ProductionConfig, ProductionStore};
use scalelite_core::storage::{MiscStore, RecordingStore, ServerStore, StoreError, StoreResult};

use crate::pg_support::{TestEnv, postgres_server_url, redis_url};
use crate::production::{new_server, recording};
use crate::proxy::{FaultProxy, Mode};

/// Not a timing assertion: only a guard so a hanging operation fails the test instead of blocking it.
const HANG_GUARD: Duration = Duration::from_secs(20);

async fn guarded<T>(fut: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    tokio::time::timeout(HANG_GUARD, fut)
        .await
        .expect("the operation hung instead of failing")
}

fn assert_backend<T: std::fmt::Debug>(result: StoreResult<T>) {
    match result {
        Err(StoreError::Backend(_)) => {}
        other => panic!("expected StoreError::Backend, got {other:?}"),
    }
}

/// Retry (bounded in count) until the store answers again.
async fn recovers<T, F, Fut>(mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    let mut last = None;
    for _ in 0..80 {
        match guarded(op()).await {
            Ok(v) => return v,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the store did not recover: {last:?}");
}

fn host_port(url: &str) -> String {
    let u = url::Url::parse(url).expect("URL");
    format!(
        "{}:{}",
        u.host_str().expect("host"),
        u.port_or_known_default().unwrap_or(6379)
    )
}

fn via_proxy(url: &str, port: u16) -> String {
    let mut u = url::Url::parse(url).expect("URL");
    u.set_host(Some("127.0.0.1")).expect("host");
    u.set_port(Some(port)).expect("port");
    u.to_string()
}

fn fast(mut config: ProductionConfig) -> ProductionConfig {
    config.op_timeout = Duration::from_millis(800);
    config.redis_timeout = Duration::from_millis(800);
    config
}

async fn redis_outage(mode: Mode) {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start(host_port(&redis_url())).await;
    let mut config = fast(env.config());
    config.redis_url = via_proxy(&redis_url(), proxy.port());
    let store = ProductionStore::connect(config).await.unwrap();
    store.add_server(new_server("a", None, 1.0)).await.unwrap();

    proxy.set(mode);
    assert_backend(guarded(store.list_servers()).await);
    assert_backend(guarded(store.add_server(new_server("b", None, 1.0))).await);
    assert_backend(guarded(store.get_server("a")).await);
    assert_backend(guarded(store.health_check()).await);

    proxy.set(Mode::Forward);
    let back = recovers(|| store.get_server("a")).await;
    assert_eq!(back.id, "a");
    recovers(|| store.health_check()).await;
    env.cleanup().await;
}

#[tokio::test]
async fn redis_refusing_gives_backend_errors_then_recovers() {
    redis_outage(Mode::Refuse).await;
}

#[tokio::test]
async fn redis_black_hole_gives_backend_errors_then_recovers() {
    redis_outage(Mode::BlackHole).await;
}

async fn postgres_outage(mode: Mode) {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start(host_port(&postgres_server_url())).await;
    let mut config = fast(env.config());
    config.database_url = via_proxy(&env.db().url, proxy.port());
    let store = ProductionStore::connect(config).await.unwrap();
    store
        .upsert_recording(recording("r1", "m1", 1_000, &[]))
        .await
        .unwrap();

    proxy.set(mode);
    assert_backend(guarded(store.get_recording("r1")).await);
    assert_backend(guarded(store.find_recordings(&Default::default())).await);
    assert_backend(guarded(store.upsert_recording(recording("r2", "m1", 2_000, &[]))).await);
    assert_backend(guarded(store.health_check()).await);
    // Redis is unaffected.
    assert!(guarded(store.list_servers()).await.is_ok());

    proxy.set(Mode::Forward);
    let back = recovers(|| store.get_recording("r1")).await;
    assert_eq!(back.record_id, "r1");
    recovers(|| store.upsert_recording(recording("r2", "m1", 2_000, &[]))).await;
    let all = RecordingFilter::default();
    assert_eq!(recovers(|| store.find_recordings(&all)).await.len(), 2);
    env.cleanup().await;
}

#[tokio::test]
async fn postgres_refusing_gives_backend_errors_then_recovers() {
    postgres_outage(Mode::Refuse).await;
}

#[tokio::test]
async fn postgres_black_hole_gives_backend_errors_then_recovers() {
    postgres_outage(Mode::BlackHole).await;
}

#[tokio::test]
async fn connect_fails_promptly_when_a_backend_is_down() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start(host_port(&redis_url())).await;
    proxy.set(Mode::BlackHole);
    let mut config = fast(env.config());
    config.redis_url = via_proxy(&redis_url(), proxy.port());
    assert_backend(guarded(ProductionStore::connect(config.clone())).await);
    proxy.set(Mode::Refuse);
    assert_backend(guarded(ProductionStore::connect(config)).await);

    let pg_proxy = FaultProxy::start(host_port(&postgres_server_url())).await;
    pg_proxy.set(Mode::BlackHole);
    let mut config = fast(env.config());
    config.database_url = via_proxy(&env.db().url, pg_proxy.port());
    assert_backend(guarded(ProductionStore::connect(config)).await);
    env.cleanup().await;
}

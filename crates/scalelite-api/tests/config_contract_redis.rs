//! Configuration contract: Redis settings observed from outside the real binary.

#[path = "reliability_support/mod.rs"]
mod support;

use std::time::Duration;

use scalelite_testkit::production_store;

/// REDIS_TIMEOUT bounds every Redis operation: with Redis frozen (it keeps the connection open but answers
/// nothing), the health check answers 503 naming Redis and the configured bound, instead of hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_redis_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let redis = support::OwnRedis::start(dir.path()).await;
    let store = production_store(&redis.url()).await;
    let mut env = store.env().to_vec();
    env.push(("REDIS_TIMEOUT".into(), "0.7".into()));
    let service = support::api(&env).await;
    let http = support::client();
    let healthy = http.get(service.url("/health_check")).send().await.unwrap();
    assert_eq!(healthy.status().as_u16(), 200);

    redis.signal("STOP");
    let frozen = http
        .get(service.url("/health_check"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("the health check answers while Redis is frozen");
    let status = frozen.status().as_u16();
    let text = frozen.text().await.unwrap();
    redis.signal("CONT");
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("redis down"), "{text}");
    assert!(text.contains("no answer within 700ms"), "{text}");
}

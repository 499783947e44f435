//! The `scalelite-api` binary as operators run it: configured only through its environment, on both back-ends.

use scalelite_testkit::process::Service;
use scalelite_testkit::{Backend, test_store};

async fn api(backend: Backend) -> (Service, scalelite_testkit::TestStore) {
    let store = test_store(backend).await;
    let mut env = store.env().to_vec();
    env.push(("LOADBALANCER_SECRET".into(), "binary-test-secret".into()));
    let service = Service::spawn_listening(
        std::path::Path::new(env!("CARGO_BIN_EXE_scalelite-api")),
        &[],
        &env,
    )
    .await;
    (service, store)
}

async fn answers_index_and_health_check(backend: Backend) {
    let (service, _store) = api(backend).await;
    let index = reqwest::get(service.url("/bigbluebutton/api"))
        .await
        .expect("index answers");
    assert_eq!(index.status(), 200);
    let body = index.text().await.unwrap();
    assert!(body.contains("<returncode>SUCCESS</returncode>"), "{body}");
    let health = reqwest::get(service.url("/health_check")).await.unwrap();
    assert_eq!(health.status(), 200, "{}", service.log());
}

#[tokio::test]
async fn embedded_answers_index_and_health_check() {
    answers_index_and_health_check(Backend::Embedded).await;
}

#[tokio::test]
async fn production_answers_index_and_health_check() {
    answers_index_and_health_check(Backend::Production).await;
}

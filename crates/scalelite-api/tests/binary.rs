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

/// SIGTERM and SIGINT, sent to the API process only, each stop it cleanly (exit status 0).
async fn stops_cleanly_on(signal: &str) {
    let (mut service, _store) = api(Backend::Embedded).await;
    scalelite_testkit::process::signal(service.pid(), signal);
    let status = service.wait_exit(std::time::Duration::from_secs(30)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "SIG{signal} ({status:?}):\n{}",
        service.log()
    );
}

#[tokio::test]
async fn stops_cleanly_on_sigterm() {
    stops_cleanly_on("TERM").await;
}

#[tokio::test]
async fn stops_cleanly_on_sigint() {
    stops_cleanly_on("INT").await;
}

//! Graceful shutdown (in-flight requests finish, bounded by the grace period) and behaviour while Redis is down.

use std::net::SocketAddr;
use std::time::Duration;

use fake_bbb::{FakeServer, Fault};
use scalelite_api::AppState;
use scalelite_core::storage::store::Store;
use tokio_util::sync::CancellationToken;

use crate::harness::*;
use crate::proxy::TcpProxy;

/// A hang guard for awaits that must finish; not a timing assertion.
const GUARD: Duration = Duration::from_secs(30);

/// Register a fake server online and enabled.
async fn register(store: &Store, id: &str) -> FakeServer {
    let secret = format!("{id}-secret");
    let fake = FakeServer::start(secret.clone()).await.unwrap();
    scalelite_testkit::contract::register_with_load(store, id, &fake.url(), &secret, 0.0).await;
    fake
}

fn signed(addr: SocketAddr, call: &str, query: &str) -> String {
    let checksum = sha256_hex(&format!("{call}{query}{LB_SECRET}"));
    format!("http://{addr}/bigbluebutton/api/{call}?{query}&checksum={checksum}")
}

/// Wait (bounded) until the fake server has logged a request for `call`.
async fn until_received(fake: &FakeServer, call: &str) {
    for _ in 0..600 {
        if fake.requests().iter().any(|r| r.call == call) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the fake server never received {call}");
}

/// `serve()` on a fresh embedded store, stopped through the returned token.
async fn start(
    grace: Duration,
) -> (
    SocketAddr,
    TestStore,
    CancellationToken,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    crate::init_logs();
    let guard = test_store(Backend::Embedded).await;
    let mut settings = test_settings();
    settings.response_timeout = Duration::from_secs(20);
    let state = AppState::new(settings, guard.store.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = CancellationToken::new();
    let signal = token.clone();
    let server = tokio::spawn(scalelite_api::serve(
        listener,
        state,
        async move { signal.cancelled().await },
        grace,
    ));
    (addr, guard, token, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_finish_then_the_server_stops() {
    let (addr, guard, shutdown, server) = start(Duration::from_secs(20)).await;
    let fake = register(&guard.store, "bbb1").await;
    let http = reqwest::Client::new();
    let created = http
        .get(signed(addr, "create", "meetingID=slow"))
        .send()
        .await
        .unwrap();
    Xml::from(created).await.assert_success();

    fake.set_fault(Fault::Delay(Duration::from_millis(1500)))
        .await
        .unwrap();
    let url = signed(addr, "getMeetingInfo", "meetingID=slow");
    let in_flight = tokio::spawn(async move {
        let response = reqwest::Client::new().get(url).send().await.unwrap();
        Xml::from(response).await
    });
    until_received(&fake, "getMeetingInfo").await;
    shutdown.cancel();

    let answer = tokio::time::timeout(GUARD, in_flight)
        .await
        .expect("the in-flight request finished")
        .unwrap();
    answer.assert_success();
    assert_eq!(answer.get("meetingID").as_deref(), Some("slow"));
    let stopped = tokio::time::timeout(GUARD, server)
        .await
        .expect("the server stopped");
    stopped.unwrap().unwrap();
    // Nothing listens any more.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_period_bounds_a_stuck_request() {
    let (addr, guard, shutdown, server) = start(Duration::from_millis(200)).await;
    let fake = register(&guard.store, "bbb1").await;
    let http = reqwest::Client::new();
    Xml::from(
        http.get(signed(addr, "create", "meetingID=stuck"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .assert_success();
    fake.set_fault(Fault::Hang).await.unwrap();
    let url = signed(addr, "getMeetingInfo", "meetingID=stuck");
    let _stuck = tokio::spawn(async move { reqwest::Client::new().get(url).send().await });
    until_received(&fake, "getMeetingInfo").await;
    shutdown.cancel();
    // The request hangs for the 20 s response timeout; serve() gives up on it after the grace period.
    let stopped = tokio::time::timeout(GUARD, server)
        .await
        .expect("serve() returned without waiting for the stuck request");
    stopped.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_gives_clear_failures_and_recovers() {
    let redis: SocketAddr = redis_url()
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .parse()
        .expect("TEST_REDIS_URL as redis://<ip>:<port>");
    let proxy = TcpProxy::start(redis).await;
    let guard = production_store(&format!("redis://{}", proxy.addr())).await;
    let mut app = TestApp::spawn_on(guard, |_| {}).await;
    app.add_server("bbb1").await;
    app.call("create", "meetingID=m1").await.assert_success();

    proxy.cut();
    for (call, query) in [
        ("getMeetingInfo", "meetingID=m1"),
        ("create", "meetingID=m2"),
        ("isMeetingRunning", "meetingID=m1"),
    ] {
        let xml = app.call(call, query).await;
        assert_eq!(
            xml.assert_failed("internalError"),
            "Unable to reach the Scalelite data store.",
            "{call}"
        );
    }
    let health = app.http.get(app.url("/health_check")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    assert!(
        health
            .text()
            .await
            .unwrap()
            .starts_with("Health Check Failure")
    );
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.lines().any(|l| l == "scalelite_store_up 0"),
        "{metrics}"
    );

    proxy.restore();
    let mut healthy = false;
    for _ in 0..100 {
        let status = app
            .http
            .get(app.url("/health_check"))
            .send()
            .await
            .unwrap()
            .status();
        if status == 200 {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "the store came back");
    app.call("getMeetingInfo", "meetingID=m1")
        .await
        .assert_success();
    app.call("create", "meetingID=m2").await.assert_success();
}

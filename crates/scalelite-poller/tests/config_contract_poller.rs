//! Configuration contract of `scalelite-poller`: each `contract_<variable>` sets that one variable in the
//! environment of the real binary and observes its effect from outside (what fake BBB servers received, the
//! servers' records in the store, the metrics listener). Most run `scalelite-poller --once`, one cycle per run, so
//! nothing depends on timing.

use std::path::Path;
use std::time::Duration;

use fake_bbb::{FakeServer, Fault, InFlight, SeedMeeting};
use scalelite_core::domain::{Server, ServerPatch};
use scalelite_core::storage::ServerStore;
use scalelite_testkit::contract::{PATIENCE, eventually, free_port, get, register, with_env};
use scalelite_testkit::process::Service;
use scalelite_testkit::{Backend, TestStore, test_store};

const BIN: &str = env!("CARGO_BIN_EXE_scalelite-poller");
const FAKE_SECRET: &str = "fake-bbb-secret";

/// A store with `count` fake BBB servers registered online (`bbb-0`, `bbb-1`, ...).
async fn pool(count: usize) -> (TestStore, Vec<FakeServer>) {
    let store = test_store(Backend::Embedded).await;
    let mut fakes = Vec::new();
    for i in 0..count {
        let fake = FakeServer::start(FAKE_SECRET).await.expect("a fake BBB");
        register(&store.store, &format!("bbb-{i}"), &fake.url(), FAKE_SECRET).await;
        fakes.push(fake);
    }
    (store, fakes)
}

/// One poll cycle (`--once`) with `extra` in the environment; it must exit successfully within [`PATIENCE`].
async fn poll_once(store: &TestStore, extra: &[(&str, &str)]) {
    let mut poller = Service::spawn(Path::new(BIN), &["--once"], &with_env(store.env(), extra));
    let status = poller.wait_exit(PATIENCE).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "poller --once ({status:?}):\n{}",
        poller.log()
    );
}

async fn server(store: &TestStore, id: &str) -> Server {
    store.store.get_server(id).await.expect("the server")
}

fn young_meeting(participants: u32) -> SeedMeeting {
    SeedMeeting {
        meeting_id: "young".into(),
        participant_count: participants,
        running: true,
        ..SeedMeeting::default()
    }
}

#[tokio::test]
async fn contract_poll_interval() {
    let (store, fakes) = pool(1).await;
    let env = with_env(store.env(), &[("POLL_INTERVAL", "0.2")]);
    let poller = Service::spawn(Path::new(BIN), &[], &env);
    // The default interval (60 s) would allow one cycle in the test's patience.
    let cycles = || {
        fakes[0]
            .requests()
            .iter()
            .filter(|r| r.call == "getMeetings")
            .count()
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while cycles() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} cycles within {PATIENCE:?}:\n{}",
            cycles(),
            poller.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn contract_server_healthy_threshold() {
    let (store, _fakes) = pool(1).await;
    store
        .store
        .patch_server(
            "bbb-0",
            ServerPatch {
                online: Some(false),
                ..ServerPatch::default()
            },
        )
        .await
        .unwrap();
    for cycle in 1..=2 {
        poll_once(&store, &[("SERVER_HEALTHY_THRESHOLD", "3")]).await;
        assert!(
            !server(&store, "bbb-0").await.online,
            "offline after {cycle} good polls"
        );
    }
    poll_once(&store, &[("SERVER_HEALTHY_THRESHOLD", "3")]).await;
    assert!(
        server(&store, "bbb-0").await.online,
        "online after the third"
    );
}

#[tokio::test]
async fn contract_server_unhealthy_threshold() {
    let (store, fakes) = pool(1).await;
    fakes[0].set_fault(Fault::Http500).await.unwrap();
    // The default (2) keeps a server online after one failed poll.
    poll_once(&store, &[("SERVER_UNHEALTHY_THRESHOLD", "1")]).await;
    assert!(!server(&store, "bbb-0").await.online);
}

/// POLLER_THREADS=3: the original's pool of 2 threads, so 2 servers are polled at once, never more, as the fake
/// servers see it (each answers after a second, so the polls overlap whenever the poller lets them).
#[tokio::test]
async fn contract_poller_threads() {
    let (store, fakes) = pool(6).await;
    let gauge = InFlight::default();
    for fake in &fakes {
        fake.count_in_flight(&gauge);
        fake.set_fault(Fault::Delay(Duration::from_secs(1)))
            .await
            .unwrap();
    }
    // A long POLLER_WAIT_TIMEOUT: a call moves to a suspect turn only after an eighth of it (see below).
    poll_once(
        &store,
        &[("POLLER_THREADS", "3"), ("POLLER_WAIT_TIMEOUT", "60")],
    )
    .await;
    for fake in &fakes {
        assert!(fake.requests().iter().any(|r| r.call == "getMeetings"));
    }
    assert_eq!(gauge.max(), 2, "servers polled at once");
}

/// A server that hangs, not yet known as dead (online, no failure counted: a first cycle), holds its turn for an
/// eighth of POLLER_WAIT_TIMEOUT only, then waits out its timeout on a suspect turn: with one turn
/// (POLLER_THREADS=2), the other servers are polled while it still hangs. Without that, the cycle would poll them
/// one after another behind it, a whole timeout (8 s) after it.
///
/// Judged by when each request reached its fake server, not by how many were in flight at once: on a loaded
/// machine the fakes (one thread of this test) may take all six requests only after the poller sent them, and in
/// any order.
#[tokio::test]
async fn contract_poller_threads_a_hanging_server_gives_up_its_turn() {
    // bbb-0 is listed (and so queued) first of six.
    let (store, fakes) = pool(6).await;
    let gauge = InFlight::default();
    for fake in &fakes {
        fake.count_in_flight(&gauge);
    }
    fakes[0].set_fault(Fault::Hang).await.unwrap();
    poll_once(
        &store,
        &[("POLLER_THREADS", "2"), ("POLLER_WAIT_TIMEOUT", "8")],
    )
    .await;
    let asked = |fake: &FakeServer| {
        fake.requests()
            .iter()
            .find(|r| r.call == "getMeetings")
            .map(|r| r.timestamp_ms)
            .expect("every server is asked")
    };
    let hanging_asked = asked(&fakes[0]);
    for (i, fake) in fakes.iter().enumerate().skip(1) {
        let after = asked(fake).saturating_sub(hanging_asked);
        assert!(
            after < 6_000,
            "bbb-{i} was asked {after} ms after the hanging server: polled behind it, not while it hung"
        );
    }
    assert_eq!(server(&store, "bbb-0").await.unhealthy_counter, 1);
    for id in ["bbb-1", "bbb-2", "bbb-3", "bbb-4", "bbb-5"] {
        assert_eq!(server(&store, id).await.unhealthy_counter, 0, "{id}");
    }
    assert!(
        gauge.max() <= 2,
        "the hanging server and one other at once, never more: {}",
        gauge.max()
    );
}

#[tokio::test]
async fn contract_poller_wait_timeout() {
    // A server that never answers: the BBB client alone would wait 10 minutes; POLLER_WAIT_TIMEOUT gives up after
    // one second, so the cycle ends and counts a failure.
    let (store, fakes) = pool(1).await;
    fakes[0].set_fault(Fault::Hang).await.unwrap();
    poll_once(
        &store,
        &[("POLLER_WAIT_TIMEOUT", "1"), ("RESPONSE_TIMEOUT", "600")],
    )
    .await;
    assert_eq!(server(&store, "bbb-0").await.unhealthy_counter, 1);
}

#[tokio::test]
async fn contract_load_min_user_count() {
    let (store, fakes) = pool(1).await;
    fakes[0].seed_meeting(young_meeting(2)).unwrap();
    poll_once(&store, &[("LOAD_MIN_USER_COUNT", "40")]).await;
    assert_eq!(server(&store, "bbb-0").await.load, Some(40.0));
}

#[tokio::test]
async fn contract_load_join_buffer_time() {
    // No join buffer: a meeting created just now counts its 2 participants, not LOAD_MIN_USER_COUNT (15).
    let (store, fakes) = pool(1).await;
    fakes[0].seed_meeting(young_meeting(2)).unwrap();
    poll_once(&store, &[("LOAD_JOIN_BUFFER_TIME", "0")]).await;
    assert_eq!(server(&store, "bbb-0").await.load, Some(2.0));
}

#[tokio::test]
async fn contract_metrics_bind() {
    let (store, _fakes) = pool(1).await;
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let env = with_env(
        store.env(),
        &[("METRICS_BIND", &bind), ("POLL_INTERVAL", "0.2")],
    );
    let _poller = Service::spawn(Path::new(BIN), &[], &env);
    let url = format!("http://{bind}/metrics");
    eventually("the metrics listener answers", || async {
        reqwest::get(&url).await.is_ok()
    })
    .await;
    let (status, _, body) = get(&url).await;
    assert_eq!(status, 200);
    assert!(body.contains("# TYPE"), "{body}");
}

//! Two `scalelite-poller` processes on one PostgreSQL + Redis: one polls, the other stands by, and when the active
//! one is killed (SIGKILL, so it never gives its lease up) the standby takes over once the lease has expired.
//! `POLL_INTERVAL=0.5` makes the lease last 1.5 s (two intervals, at least one interval plus a second).

use std::path::Path;
use std::time::Duration;

use fake_bbb::{FakeServer, SeedMeeting};
use scalelite_core::domain::{NewServer, Secret, ServerState};
use scalelite_core::storage::ServerStore;
use scalelite_testkit::process::Service;
use scalelite_testkit::{Backend, test_store};

const ACTIVE: &str = "this poller holds the lease and is active";
/// Generous for a loaded two-core machine; the lease itself is 1.5 s.
const WITHIN: Duration = Duration::from_secs(30);

fn spawn_poller(env: &[(String, String)]) -> Service {
    Service::spawn(Path::new(env!("CARGO_BIN_EXE_scalelite-poller")), &[], env)
}

async fn add_fake(store: &scalelite_core::storage::store::Store, id: &str) -> FakeServer {
    let fake = FakeServer::start(format!("{id}-secret")).await.unwrap();
    store
        .add_server(NewServer {
            id: id.to_owned(),
            url: fake.url(),
            secret: Secret::new(format!("{id}-secret")),
            tag: None,
            state: ServerState::Enabled,
            load_multiplier: 1.0,
        })
        .await
        .unwrap();
    fake
}

/// Wait until `check` holds; false after `WITHIN`.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WITHIN;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_when_the_active_poller_is_killed() {
    let store = test_store(Backend::Production).await;
    let mut env = store.env().to_vec();
    env.push(("POLL_INTERVAL".into(), "0.5".into()));
    env.push(("CONNECT_TIMEOUT".into(), "1".into()));
    env.push(("RESPONSE_TIMEOUT".into(), "2".into()));
    env.push(("RUST_LOG".into(), "info".into()));
    let first = add_fake(&store.store, "bbb-1").await;
    first
        .seed_meeting(SeedMeeting {
            meeting_id: "m1".into(),
            participant_count: 3,
            running: true,
            ..SeedMeeting::default()
        })
        .unwrap();

    let a = spawn_poller(&env);
    let b = spawn_poller(&env);
    let (mut active, standby) = loop {
        if a.log().contains(ACTIVE) {
            break (a, b);
        }
        if b.log().contains(ACTIVE) {
            break (b, a);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The active one polls: the server comes online with its statistics.
    assert!(
        eventually(|| async { store.store.get_server("bbb-1").await.unwrap().stats.users == 3 })
            .await,
        "the active poller polls:\n{}",
        active.log()
    );
    // Several cycles later, the standby still has not polled.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !standby.log().contains(ACTIVE),
        "both pollers active:\n{}",
        standby.log()
    );

    active.kill();
    assert!(
        standby.wait_for_log(ACTIVE, WITHIN).await,
        "the standby takes over once the dead poller's lease expired:\n{}",
        standby.log()
    );
    // And it really polls: a server added now gets polled.
    let second = add_fake(&store.store, "bbb-2").await;
    second
        .seed_meeting(SeedMeeting {
            meeting_id: "m2".into(),
            participant_count: 5,
            running: true,
            ..SeedMeeting::default()
        })
        .unwrap();
    assert!(
        eventually(|| async { store.store.get_server("bbb-2").await.unwrap().stats.users == 5 })
            .await,
        "the new active poller polls:\n{}",
        standby.log()
    );
}

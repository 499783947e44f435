//! One meeting on one server under every race, on the production store with real API processes: a create storm
//! across two processes while the preferred server is too slow, `end` semantics, and a Redis restart under load.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fake_bbb::Fault;
use scalelite_core::bbb::checksum::Algorithm;
use scalelite_core::bbb_client::{BbbClient, Timeouts};
use scalelite_core::storage::MeetingStore;
use scalelite_poller::{PollSettings, Poller};
use scalelite_testkit::{Backend, test_store};
use tokio::time::Instant;

use support::{add_fake, api, client, get, signed, tag};

/// Two API processes, eight clients sending create-then-join for one meetingID for a few seconds. The preferred
/// (least-loaded) server carries out creates only after longer than CONNECT_TIMEOUT + RESPONSE_TIMEOUT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_storm_places_one_meeting_on_one_server() {
    let store = test_store(Backend::Production).await;
    let slow = add_fake(&store.store, "slow", 0.0).await;
    let fast = add_fake(&store.store, "fast", 5.0).await;
    slow.set_fault(Fault::SlowCreate(Duration::from_millis(2500)))
        .await
        .unwrap();
    let mut env = store.env().to_vec();
    env.push(("CONNECT_TIMEOUT".into(), "1".into()));
    env.push(("RESPONSE_TIMEOUT".into(), "1".into()));
    let apis = Arc::new([api(&env).await, api(&env).await]);

    let fast_port = format!(":{}/", fast.port());
    let creates = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + Duration::from_secs(5);
    let mut clients = tokio::task::JoinSet::new();
    for n in 0..8 {
        let (apis, creates, fast_port) = (apis.clone(), creates.clone(), fast_port.clone());
        clients.spawn(async move {
            let http = client();
            while Instant::now() < until {
                let service = &apis[n % 2];
                let (status, body) = get(
                    &http,
                    &signed(service, "create", "meetingID=storm&name=Storm"),
                )
                .await;
                assert_eq!(status, 200);
                assert_eq!(tag(&body, "returncode"), Some("SUCCESS"), "create: {body}");
                creates.fetch_add(1, Ordering::Relaxed);
                let response = http
                    .get(signed(
                        service,
                        "join",
                        &format!("meetingID=storm&fullName=client{n}&role=VIEWER"),
                    ))
                    .send()
                    .await
                    .expect("join answers");
                assert_eq!(response.status().as_u16(), 302);
                let location = response.headers()["location"].to_str().unwrap().to_owned();
                assert!(
                    location.contains(&fast_port),
                    "join went elsewhere than the fast server: {location}"
                );
            }
        });
    }
    while let Some(joined) = clients.join_next().await {
        if let Err(e) = joined {
            panic!(
                "{e}\nAPI 1:\n{}\nAPI 2:\n{}",
                apis[0].log(),
                apis[1].log()
            );
        }
    }
    assert!(creates.load(Ordering::Relaxed) >= 8, "every client created");
    assert_eq!(store.store.get_meeting("storm").await.unwrap().server_id, "fast");
    assert!(fast.meeting("storm").is_some());

    // The slow server carries out the create it was sent first, after the balancer gave up on it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while slow.meeting("storm").is_none() {
        assert!(Instant::now() < deadline, "the late create never landed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Only the first placement went there: one create, not one per client.
    let creates_on_slow = slow
        .requests()
        .iter()
        .filter(|r| r.call == "create")
        .count();
    assert_eq!(creates_on_slow, 1);

    let timeouts = Timeouts {
        connect: Duration::from_secs(1),
        response: Duration::from_secs(1),
    };
    let poller = Poller::new(
        store.store.clone(),
        BbbClient::new(timeouts, Algorithm::Sha256),
        PollSettings::default(),
    );
    let report = poller.poll_once().await.expect("poll");
    assert_eq!(report.stray_meetings_ended, vec!["storm".to_owned()]);
    assert!(slow.meeting("storm").is_none(), "the stray meeting was ended");
    assert!(fast.meeting("storm").is_some(), "the real meeting runs on");
    assert_eq!(poller.metrics().stray_meetings_ended_total, 1);
    let metrics = scalelite_poller::metrics::render(&poller.metrics()).unwrap();
    assert!(
        metrics.contains("scalelite_poller_stray_meetings_ended_total 1"),
        "{metrics}"
    );
    // Nothing is left to reconcile: a second cycle ends nothing.
    assert!(poller.poll_once().await.unwrap().stray_meetings_ended.is_empty());
    assert!(store.store.list_abandoned().await.unwrap().is_empty());
}

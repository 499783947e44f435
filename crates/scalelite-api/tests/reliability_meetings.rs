//! One meeting on one server under every race, on the production store with real API processes: a create storm
//! across two processes while the preferred server is too slow, `end` semantics, and a Redis restart under load.

#[path = "reliability_support/mod.rs"]
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
    // A loaded machine may take a while to connect: 2 s for that, and the create still outlasts both timeouts.
    slow.set_fault(Fault::SlowCreate(Duration::from_millis(3500)))
        .await
        .unwrap();
    let mut env = store.env().to_vec();
    env.push(("CONNECT_TIMEOUT".into(), "2".into()));
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
    // And one participant who only joins (as others in the room do): never sent to the slow server either.
    {
        let (apis, fast_port) = (apis.clone(), fast_port.clone());
        clients.spawn(async move {
            let http = client();
            let mut n = 0;
            while Instant::now() < until {
                n += 1;
                let response = http
                    .get(signed(
                        &apis[n % 2],
                        "join",
                        &format!("meetingID=storm&fullName=guest{n}&role=VIEWER"),
                    ))
                    .send()
                    .await
                    .expect("join answers");
                if response.status().as_u16() == 302 {
                    let location = response.headers()["location"].to_str().unwrap().to_owned();
                    assert!(
                        location.contains(&fast_port),
                        "guest join went elsewhere: {location}"
                    );
                } else {
                    // Before the first create wrote the meeting: notFound.
                    let body = response.text().await.unwrap();
                    assert_eq!(tag(&body, "messageKey"), Some("notFound"), "{body}");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }
    while let Some(joined) = clients.join_next().await {
        if let Err(e) = joined {
            panic!("{e}\nAPI 1:\n{}\nAPI 2:\n{}", apis[0].log(), apis[1].log());
        }
    }
    assert!(creates.load(Ordering::Relaxed) >= 8, "every client created");
    assert_eq!(
        store.store.get_meeting("storm").await.unwrap().server_id,
        "fast"
    );
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
    assert!(
        slow.meeting("storm").is_none(),
        "the stray meeting was ended"
    );
    assert!(fast.meeting("storm").is_some(), "the real meeting runs on");
    assert_eq!(poller.metrics().stray_meetings_ended_total, 1);
    let metrics = scalelite_poller::metrics::render(&poller.metrics()).unwrap();
    assert!(
        metrics.contains("scalelite_poller_stray_meetings_ended_total 1"),
        "{metrics}"
    );
    // Nothing is left to reconcile: a second cycle ends nothing.
    assert!(
        poller
            .poll_once()
            .await
            .unwrap()
            .stray_meetings_ended
            .is_empty()
    );
    assert!(store.store.list_abandoned().await.unwrap().is_empty());
}

/// `end` forgets the meeting only when BBB confirms it or does not know the meeting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_forgets_the_meeting_only_when_bbb_confirms() {
    let store = test_store(Backend::Production).await;
    let fake = add_fake(&store.store, "bbb", 0.0).await;
    let mut env = store.env().to_vec();
    env.push(("CONNECT_TIMEOUT".into(), "1".into()));
    env.push(("RESPONSE_TIMEOUT".into(), "1".into()));
    let service = api(&env).await;
    let http = client();
    let create = |id: &str| {
        signed(
            &service,
            "create",
            &format!("meetingID={id}&moderatorPW=mp"),
        )
    };
    let end =
        |id: &str, pw: &str| signed(&service, "end", &format!("meetingID={id}&password={pw}"));

    let (_, body) = get(&http, &create("e")).await;
    assert_eq!(tag(&body, "returncode"), Some("SUCCESS"), "{body}");

    // A wrong password: BBB refuses, the meeting runs on and stays mapped.
    let (_, body) = get(&http, &end("e", "wrong")).await;
    assert_eq!(tag(&body, "returncode"), Some("FAILED"), "{body}");
    assert_eq!(tag(&body, "messageKey"), Some("invalidPassword"), "{body}");
    assert_eq!(store.store.get_meeting("e").await.unwrap().server_id, "bbb");
    assert!(fake.meeting("e").is_some());

    // An unreachable server: no answer, the mapping stays (the poller decides).
    fake.set_fault(Fault::Refuse).await.unwrap();
    let (_, body) = get(&http, &end("e", "mp")).await;
    assert_eq!(tag(&body, "returncode"), Some("FAILED"), "{body}");
    assert!(store.store.get_meeting("e").await.is_ok());
    fake.set_fault(Fault::Normal).await.unwrap();

    // Confirmed: forgotten.
    let (_, body) = get(&http, &end("e", "mp")).await;
    assert_eq!(tag(&body, "returncode"), Some("SUCCESS"), "{body}");
    assert!(store.store.get_meeting("e").await.is_err());
    assert!(fake.meeting("e").is_none());

    // BBB does not know the meeting any more: notFound is passed on, and the mapping is forgotten.
    let (_, body) = get(&http, &create("gone")).await;
    assert_eq!(tag(&body, "returncode"), Some("SUCCESS"), "{body}");
    assert!(fake.remove_meeting("gone"));
    let (_, body) = get(&http, &end("gone", "mp")).await;
    assert_eq!(tag(&body, "messageKey"), Some("notFound"), "{body}");
    assert!(store.store.get_meeting("gone").await.is_err());
}

/// Redis shut down and started again (append-only file) under create load: every create that was answered
/// SUCCESS keeps its mapping, the health check names Redis while it is down, and the same API process answers
/// again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_under_load_keeps_every_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = support::OwnRedis::start(dir.path()).await;
    let store = scalelite_testkit::production_store(&redis.url()).await;
    let _fake = add_fake(&store.store, "bbb", 0.0).await;
    let mut env = store.env().to_vec();
    env.push(("REDIS_TIMEOUT".into(), "1".into()));
    let service = Arc::new(api(&env).await);

    let stop = tokio_util::sync::CancellationToken::new();
    let mut load = tokio::task::JoinSet::new();
    for worker in 0..4 {
        let (service, stop) = (service.clone(), stop.clone());
        load.spawn(async move {
            let http = client();
            let mut placed = Vec::new();
            let mut n = 0;
            while !stop.is_cancelled() {
                let id = format!("w{worker}-{n}");
                n += 1;
                let (_, body) = get(
                    &http,
                    &signed(&service, "create", &format!("meetingID={id}")),
                )
                .await;
                if tag(&body, "returncode") == Some("SUCCESS") {
                    placed.push(id);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            placed
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.shutdown().await;

    let http = client();
    let health = http.get(service.url("/health_check")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 503);
    let text = health.text().await.unwrap();
    assert!(text.contains("redis down"), "{text}");
    assert!(!text.contains("postgresql down"), "{text}");
    let (_, body) = get(&http, &signed(&service, "create", "meetingID=while-down")).await;
    assert_eq!(tag(&body, "returncode"), Some("FAILED"), "{body}");

    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart().await;
    // The same process answers again once its connection is re-established (backoff, no restart).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = http
            .get(service.url("/health_check"))
            .send()
            .await
            .unwrap()
            .status();
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the API did not recover:\n{}",
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    let mut placed = Vec::new();
    while let Some(joined) = load.join_next().await {
        placed.extend(joined.expect("load worker"));
    }
    assert!(
        placed.len() > 10,
        "the load placed meetings before and after: {placed:?}"
    );
    // This test's own connection to Redis died with the old process too: its first use fails, then it redials.
    use scalelite_core::storage::MiscStore;
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.store.health_check().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the test's store did not reconnect"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &placed {
        let meeting = store.store.get_meeting(id).await.unwrap_or_else(|e| {
            panic!("meeting {id} answered SUCCESS but its mapping is lost: {e}")
        });
        assert_eq!(meeting.server_id, "bbb");
    }
    let (_, body) = get(&http, &signed(&service, "create", "meetingID=after")).await;
    assert_eq!(tag(&body, "returncode"), Some("SUCCESS"), "{body}");
}

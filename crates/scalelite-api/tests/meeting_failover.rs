//! Meeting failover against the real binary on both back-ends: a meeting whose server is lost is created again,
//! with the same create parameters, on another server at the next join, exactly once however many API processes
//! the joiners go through; the old server coming back with its stale copy gets no new joiner.

#[path = "reliability_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use fake_bbb::FakeServer;
use scalelite_core::bbb::checksum::Algorithm;
use scalelite_core::bbb_client::{BbbClient, Timeouts};
use scalelite_core::domain::ServerPatch;
use scalelite_core::storage::store::Store;
use scalelite_core::storage::{MeetingStore, ServerStore};
use scalelite_poller::{PollSettings, Poller};
use scalelite_testkit::{Backend, test_store};

use support::{add_fake, api, client, get, signed, tag};

const CREATE: &str = "meetingID=fo-1&name=Failover&attendeePW=ap-secret&moderatorPW=mp-secret&record=true\
&meta_course=Physics+101&meta_bbb-origin=greenlight";

/// As the poller records a server going offline (no load: not available) or coming back.
async fn set_online(store: &Store, id: &str, online: bool) {
    store
        .patch_server(
            id,
            ServerPatch {
                online: Some(online),
                load: Some(online.then_some(0.0)),
                ..ServerPatch::default()
            },
        )
        .await
        .expect("patch server");
}

fn creates(fake: &FakeServer) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.call == "create")
        .count()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn join_location(http: &reqwest::Client, url: &str) -> String {
    let response = http.get(url).send().await.expect("join answers");
    let status = response.status().as_u16();
    if status != 302 {
        panic!("join answered {status}: {}", response.text().await.unwrap());
    }
    response.headers()["location"].to_str().unwrap().to_owned()
}

async fn failover_keeps_the_create_parameters(backend: Backend) {
    let store = test_store(backend).await;
    let a = add_fake(&store.store, "a", 0.0).await;
    let b = add_fake(&store.store, "b", 5.0).await;
    let mut env = store.env().to_vec();
    env.push(("METRICS_PUBLIC".into(), "true".into()));
    let service = api(&env).await;
    let http = client();

    let (status, body) = get(&http, &signed(&service, "create", CREATE)).await;
    assert_eq!(
        (status, tag(&body, "returncode")),
        (200, Some("SUCCESS")),
        "{body}"
    );
    let on_a = a
        .meeting("fo-1")
        .expect("created on the least-loaded server");
    assert!(b.meeting("fo-1").is_none());

    // A is lost, as the poller records it.
    set_online(&store.store, "a", false).await;
    let location = join_location(
        &http,
        &signed(
            &service,
            "join",
            "meetingID=fo-1&fullName=Ann&password=ap-secret",
        ),
    )
    .await;
    assert!(
        location.starts_with(&b.url()),
        "join went to {location}, not B"
    );
    let on_b = b.meeting("fo-1").expect("created again on B");
    let sent = &on_b.create_params;
    assert_eq!(param(sent, "meetingID"), Some("fo-1"));
    assert_eq!(param(sent, "name"), Some("Failover"));
    assert_eq!(param(sent, "attendeePW"), Some("ap-secret"));
    assert_eq!(param(sent, "moderatorPW"), Some("mp-secret"));
    assert_eq!(param(sent, "record"), Some("true"));
    assert_eq!(param(sent, "meta_course"), Some("Physics 101"));
    assert_eq!(param(sent, "meta_bbb-origin"), Some("greenlight"));
    assert_eq!(
        on_b.voice_bridge, on_a.voice_bridge,
        "the same voice bridge"
    );
    assert_eq!(on_b.attendee_pw, on_a.attendee_pw);
    assert_eq!(on_b.moderator_pw, on_a.moderator_pw);
    assert_eq!(
        store.store.get_meeting("fo-1").await.unwrap().server_id,
        "b"
    );

    // The mapping moved: getMeetingInfo answers from B.
    b.clear_requests();
    let (status, body) = get(&http, &signed(&service, "getMeetingInfo", "meetingID=fo-1")).await;
    assert_eq!(
        (status, tag(&body, "returncode")),
        (200, Some("SUCCESS")),
        "{body}"
    );
    assert_eq!(tag(&body, "voiceBridge"), Some(on_a.voice_bridge.as_str()));
    assert!(b.requests().iter().any(|r| r.call == "getMeetingInfo"));
    assert!(
        service.log().contains("meeting failed over"),
        "{}",
        service.log()
    );
    let (_, metrics) = get(&http, &service.url("/metrics")).await;
    assert!(
        metrics.contains("scalelite_meeting_failovers_total{server=\"a\"} 1"),
        "{metrics}"
    );

    // A comes back with its stale copy: no new joiner is sent there, nothing is created again.
    set_online(&store.store, "a", true).await;
    assert!(a.meeting("fo-1").is_some());
    for n in 0..3 {
        let location = join_location(
            &http,
            &signed(
                &service,
                "join",
                &format!("meetingID=fo-1&fullName=P{n}&password=ap-secret"),
            ),
        )
        .await;
        assert!(location.starts_with(&b.url()), "join went to {location}");
    }
    assert_eq!(creates(&a), 1);
    assert_eq!(
        creates(&b),
        0,
        "B's requests were cleared after its one create"
    );
    // A create of the same meeting goes to B as well (BBB answers duplicateWarning there).
    let (status, body) = get(&http, &signed(&service, "create", CREATE)).await;
    assert_eq!(
        (status, tag(&body, "returncode")),
        (200, Some("SUCCESS")),
        "{body}"
    );
    assert_eq!((creates(&a), creates(&b)), (1, 1));
    // The copy on A is remembered as abandoned, for the poller to end once nobody is in it.
    let abandoned = store.store.list_abandoned().await.unwrap();
    assert!(
        abandoned
            .iter()
            .any(|p| p.meeting_id == "fo-1" && p.server_id == "a"),
        "{abandoned:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_keeps_the_create_parameters_embedded() {
    failover_keeps_the_create_parameters(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_keeps_the_create_parameters_production() {
    failover_keeps_the_create_parameters(Backend::Production).await;
}

/// Twenty joiners at once through two API processes: one of them re-creates the meeting, all go to B.
async fn concurrent_joins_recreate_once(backend: Backend) {
    let store = test_store(backend).await;
    let a = add_fake(&store.store, "a", 0.0).await;
    let b = add_fake(&store.store, "b", 5.0).await;
    let apis = Arc::new([api(store.env()).await, api(store.env()).await]);
    let http = client();
    let (status, body) = get(&http, &signed(&apis[0], "create", CREATE)).await;
    assert_eq!(
        (status, tag(&body, "returncode")),
        (200, Some("SUCCESS")),
        "{body}"
    );
    assert!(a.meeting("fo-1").is_some());
    set_online(&store.store, "a", false).await;

    let mut joiners = tokio::task::JoinSet::new();
    for n in 0..20 {
        let apis = apis.clone();
        joiners.spawn(async move {
            let url = signed(
                &apis[n % 2],
                "join",
                &format!("meetingID=fo-1&fullName=J{n}&password=ap-secret"),
            );
            join_location(&client(), &url).await
        });
    }
    while let Some(joined) = joiners.join_next().await {
        let location = joined.unwrap_or_else(|e| {
            panic!("{e}\nAPI 1:\n{}\nAPI 2:\n{}", apis[0].log(), apis[1].log())
        });
        assert!(location.starts_with(&b.url()), "join went to {location}");
    }
    assert_eq!(creates(&b), 1, "the meeting is created again exactly once");
    assert_eq!(
        store.store.get_meeting("fo-1").await.unwrap().server_id,
        "b"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_joins_recreate_once_production() {
    concurrent_joins_recreate_once(Backend::Production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_joins_recreate_once_embedded() {
    concurrent_joins_recreate_once(Backend::Embedded).await;
}

/// A create (not a join) for a meeting whose server was removed fails it over too, keeping its passwords.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_fails_over_a_meeting_whose_server_was_removed() {
    let store = test_store(Backend::Embedded).await;
    let a = add_fake(&store.store, "a", 0.0).await;
    let b = add_fake(&store.store, "b", 5.0).await;
    let service = api(store.env()).await;
    let http = client();
    let (_, body) = get(&http, &signed(&service, "create", CREATE)).await;
    assert_eq!(tag(&body, "returncode"), Some("SUCCESS"), "{body}");
    let on_a = a.meeting("fo-1").expect("on A");
    store.store.delete_server("a").await.unwrap();
    let (_, body) = get(
        &http,
        &signed(&service, "create", "meetingID=fo-1&name=Failover"),
    )
    .await;
    assert_eq!(tag(&body, "returncode"), Some("SUCCESS"), "{body}");
    let on_b = b.meeting("fo-1").expect("created again on B");
    assert_eq!(on_b.attendee_pw, "ap-secret");
    assert_eq!(on_b.moderator_pw, "mp-secret");
    assert_eq!(on_b.voice_bridge, on_a.voice_bridge);
    assert_eq!(
        param(&on_b.create_params, "meta_course"),
        Some("Physics 101")
    );
}

/// The old server comes back with its copies: the poller ends the one nobody is in and leaves the one with a
/// participant running (it ends when it empties); the meetings stay mapped to B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poller_ends_an_empty_stale_copy_and_spares_an_attended_one() {
    let store = test_store(Backend::Production).await;
    let a = add_fake(&store.store, "a", 0.0).await;
    let b = add_fake(&store.store, "b", 5.0).await;
    let service = api(store.env()).await;
    let http = client();
    for id in ["attended", "empty"] {
        let query = format!("meetingID={id}&name=N&attendeePW=ap&moderatorPW=mp");
        let (_, body) = get(&http, &signed(&service, "create", &query)).await;
        assert_eq!(tag(&body, "returncode"), Some("SUCCESS"), "{body}");
    }
    // Someone is in `attended` on A (the redirect followed to the fake).
    let to_a = join_location(
        &http,
        &signed(
            &service,
            "join",
            "meetingID=attended&fullName=Stay&password=ap",
        ),
    )
    .await;
    assert!(to_a.starts_with(&a.url()));
    http.get(&to_a).send().await.expect("A answers the join");
    assert_eq!(a.meeting("attended").unwrap().participant_count, 1);

    set_online(&store.store, "a", false).await;
    for id in ["attended", "empty"] {
        let url = signed(
            &service,
            "join",
            &format!("meetingID={id}&fullName=New&password=ap"),
        );
        assert!(join_location(&http, &url).await.starts_with(&b.url()));
    }
    set_online(&store.store, "a", true).await;

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
    assert_eq!(report.stray_meetings_ended, vec!["empty".to_owned()]);
    assert!(
        a.meeting("empty").is_none(),
        "the empty stale copy was ended"
    );
    assert!(a.meeting("attended").is_some(), "the attended copy runs on");
    for id in ["attended", "empty"] {
        assert!(b.meeting(id).is_some());
        assert_eq!(store.store.get_meeting(id).await.unwrap().server_id, "b");
    }
    let url = signed(
        &service,
        "join",
        "meetingID=attended&fullName=Late&password=ap",
    );
    assert!(join_location(&http, &url).await.starts_with(&b.url()));
}

/// The server dies and the poller takes it offline (it panics it): with MEETING_FAILOVER the poller keeps its
/// meetings, so the next join creates the meeting again on B instead of answering notFound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_the_poller_takes_offline_keeps_its_meetings_for_failover() {
    let store = test_store(Backend::Embedded).await;
    let a = add_fake(&store.store, "a", 0.0).await;
    let b = add_fake(&store.store, "b", 5.0).await;
    let service = api(store.env()).await;
    let http = client();
    let (_, body) = get(&http, &signed(&service, "create", CREATE)).await;
    assert_eq!(tag(&body, "returncode"), Some("SUCCESS"), "{body}");
    assert!(a.meeting("fo-1").is_some());

    a.set_fault(fake_bbb::Fault::Refuse).await.unwrap();
    let timeouts = Timeouts {
        connect: Duration::from_secs(1),
        response: Duration::from_secs(1),
    };
    let poller = Poller::new(
        store.store.clone(),
        BbbClient::new(timeouts, Algorithm::Sha256),
        PollSettings {
            unhealthy_threshold: 1,
            meeting_failover: true,
            ..PollSettings::default()
        },
    );
    let report = poller.poll_once().await.expect("poll");
    assert_eq!(report.servers_panicked, vec!["a".to_owned()]);
    assert!(report.meetings_removed.is_empty(), "{report:?}");
    assert!(!store.store.get_server("a").await.unwrap().online);
    assert_eq!(
        store.store.get_meeting("fo-1").await.unwrap().server_id,
        "a"
    );

    let url = signed(
        &service,
        "join",
        "meetingID=fo-1&fullName=After&password=ap-secret",
    );
    assert!(join_location(&http, &url).await.starts_with(&b.url()));
    let on_b = b.meeting("fo-1").expect("created again on B");
    assert_eq!(on_b.attendee_pw, "ap-secret");
    assert_eq!(on_b.moderator_pw, "mp-secret");
    assert_eq!(
        store.store.get_meeting("fo-1").await.unwrap().server_id,
        "b"
    );
}

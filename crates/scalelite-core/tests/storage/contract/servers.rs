//! ServerStore: records, state/load rules, counters and server selection
//! (`docs/compatibility.md#data-redis-servers`, `docs/compatibility.md#server-selection`).

use std::collections::BTreeMap;

use scalelite_core::domain::{
    NewMeeting, NewServer, Secret, Server, ServerPatch, ServerState, ServerStats, TagRequest,
};
use scalelite_core::storage::SelectError;

use crate::contract::{
    LONG_TTL, Store, add_available, assert_conflict, assert_not_found, ids, new_server, set_load,
};

pub async fn servers_add_get_list<S: Store>(s: &S) {
    assert!(s.list_servers().await.unwrap().is_empty());
    let added = s
        .add_server(NewServer {
            tag: Some("big".to_owned()),
            load_multiplier: 2.5,
            ..new_server("bbb1")
        })
        .await
        .unwrap();
    let expected = Server {
        id: "bbb1".to_owned(),
        url: "https://bbb1.example.com/bigbluebutton/api/".to_owned(),
        secret: Secret::new("secret-bbb1"),
        tag: Some("big".to_owned()),
        state: ServerState::Enabled,
        load: None,
        online: false,
        load_multiplier: 2.5,
        healthy_counter: 0,
        unhealthy_counter: 0,
        stats: ServerStats::default(),
        bbb_version: None,
    };
    assert_eq!(added, expected);
    assert_eq!(s.get_server("bbb1").await.unwrap(), expected);

    let cordoned = s
        .add_server(NewServer {
            state: ServerState::Cordoned,
            ..new_server("bbb2")
        })
        .await
        .unwrap();
    assert_eq!(cordoned.state, ServerState::Cordoned);
    assert_eq!(cordoned.tag, None);

    let mut all = s.list_servers().await.unwrap();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(all, vec![expected.clone(), cordoned]);

    assert_not_found(s.get_server("nope").await);
    assert_not_found(s.get_server("BBB1").await);
    // A duplicate id is refused and does not overwrite the record.
    assert_conflict(
        s.add_server(NewServer {
            url: "https://other.example.com/bigbluebutton/api/".to_owned(),
            ..new_server("bbb1")
        })
        .await,
    );
    assert_eq!(s.get_server("bbb1").await.unwrap(), expected);
}

pub async fn servers_patch_fields<S: Store>(s: &S) {
    s.add_server(new_server("a")).await.unwrap();
    let stats = ServerStats {
        meetings: 3,
        users: 17,
        largest_meeting: 9,
        videos: 4,
    };
    let patched = s
        .patch_server(
            "a",
            ServerPatch {
                url: Some("https://new.example.com/bigbluebutton/api/".to_owned()),
                secret: Some(Secret::new("new-secret")),
                tag: Some(Some("t1".to_owned())),
                load_multiplier: Some(3.5),
                online: Some(true),
                stats: Some(stats),
                bbb_version: Some("2.7.3".to_owned()),
                ..ServerPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.url, "https://new.example.com/bigbluebutton/api/");
    assert_eq!(patched.secret, Secret::new("new-secret"));
    assert_eq!(patched.tag.as_deref(), Some("t1"));
    assert_eq!(patched.load_multiplier, 3.5);
    assert!(patched.online);
    assert_eq!(patched.stats, stats);
    assert_eq!(patched.bbb_version.as_deref(), Some("2.7.3"));
    assert_eq!(patched.state, ServerState::Enabled);
    assert_eq!(patched.load, None);
    assert_eq!(s.get_server("a").await.unwrap(), patched);

    // An empty patch changes nothing.
    let same = s.patch_server("a", ServerPatch::default()).await.unwrap();
    assert_eq!(same, patched);

    let offline = s
        .patch_server(
            "a",
            ServerPatch {
                online: Some(false),
                ..ServerPatch::default()
            },
        )
        .await
        .unwrap();
    assert!(!offline.online);

    // Both `Some(None)` and `Some(Some(""))` remove the tag.
    let untagged = s
        .patch_server(
            "a",
            ServerPatch {
                tag: Some(None),
                ..ServerPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(untagged.tag, None);
    s.patch_server(
        "a",
        ServerPatch {
            tag: Some(Some("t2".to_owned())),
            ..ServerPatch::default()
        },
    )
    .await
    .unwrap();
    let blank = s
        .patch_server(
            "a",
            ServerPatch {
                tag: Some(Some(String::new())),
                ..ServerPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(blank.tag, None);
    assert_eq!(s.get_server("a").await.unwrap().tag, None);

    assert_not_found(s.patch_server("nope", ServerPatch::default()).await);
}

fn state(state: ServerState) -> ServerPatch {
    ServerPatch {
        state: Some(state),
        ..ServerPatch::default()
    }
}

pub async fn servers_state_changes_carry_load<S: Store>(s: &S) {
    s.add_server(new_server("a")).await.unwrap();
    assert_eq!(set_load(s, "a", Some(5.0)).await.load, Some(5.0));
    assert_eq!(ids(&s.available_servers().await.unwrap()), ["a"]);

    // Cordoning keeps the load but takes the server out of the pool.
    let cordoned = s
        .patch_server("a", state(ServerState::Cordoned))
        .await
        .unwrap();
    assert_eq!(
        (cordoned.state, cordoned.load),
        (ServerState::Cordoned, Some(5.0))
    );
    assert_eq!(s.get_server("a").await.unwrap().load, Some(5.0));
    assert!(s.available_servers().await.unwrap().is_empty());
    // The poller keeps tracking a cordoned server's load.
    assert_eq!(set_load(s, "a", Some(6.0)).await.load, Some(6.0));
    assert!(s.available_servers().await.unwrap().is_empty());

    // Re-enabling brings the load back into the pool.
    let enabled = s
        .patch_server("a", state(ServerState::Enabled))
        .await
        .unwrap();
    assert_eq!(
        (enabled.state, enabled.load),
        (ServerState::Enabled, Some(6.0))
    );
    let available = s.available_servers().await.unwrap();
    assert_eq!(ids(&available), ["a"]);
    assert_eq!(available[0].load, Some(6.0));

    // Disabling drops it, and a disabled server never gets one.
    let disabled = s
        .patch_server("a", state(ServerState::Disabled))
        .await
        .unwrap();
    assert_eq!(
        (disabled.state, disabled.load),
        (ServerState::Disabled, None)
    );
    assert!(s.available_servers().await.unwrap().is_empty());
    assert_eq!(set_load(s, "a", Some(3.0)).await.load, None);
    assert_eq!(s.get_server("a").await.unwrap().load, None);
    let both = s
        .patch_server(
            "a",
            ServerPatch {
                state: Some(ServerState::Disabled),
                load: Some(Some(4.0)),
                ..ServerPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(both.load, None);

    // Enabling a disabled server gives it no load until one is written.
    let enabled = s
        .patch_server("a", state(ServerState::Enabled))
        .await
        .unwrap();
    assert_eq!((enabled.state, enabled.load), (ServerState::Enabled, None));
    assert!(s.available_servers().await.unwrap().is_empty());
    set_load(s, "a", Some(2.0)).await;
    assert_eq!(ids(&s.available_servers().await.unwrap()), ["a"]);
    // `Some(None)` removes the load (the server went offline).
    assert_eq!(set_load(s, "a", None).await.load, None);
    assert!(s.available_servers().await.unwrap().is_empty());

    // State and load in one patch: the load lands with the new state.
    let cordoned = s
        .patch_server(
            "a",
            ServerPatch {
                state: Some(ServerState::Cordoned),
                load: Some(Some(4.0)),
                ..ServerPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (cordoned.state, cordoned.load),
        (ServerState::Cordoned, Some(4.0))
    );
    assert!(s.available_servers().await.unwrap().is_empty());
    let enabled = s
        .patch_server(
            "a",
            ServerPatch {
                state: Some(ServerState::Enabled),
                load: Some(Some(7.0)),
                ..ServerPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(enabled.load, Some(7.0));
    assert_eq!(s.available_servers().await.unwrap()[0].load, Some(7.0));

    // A server created disabled cannot be given a load either.
    s.add_server(NewServer {
        state: ServerState::Disabled,
        ..new_server("b")
    })
    .await
    .unwrap();
    assert_eq!(set_load(s, "b", Some(1.0)).await.load, None);
    assert_eq!(ids(&s.available_servers().await.unwrap()), ["a"]);
}

pub async fn servers_available_order<S: Store>(s: &S) {
    add_available(s, "c", None, 1.0).await;
    add_available(s, "a", Some("tagged"), 2.0).await;
    add_available(s, "b", None, 1.0).await;
    add_available(s, "d", None, 0.0).await;
    s.patch_server("d", state(ServerState::Cordoned))
        .await
        .unwrap();
    add_available(s, "e", None, 0.0).await;
    s.patch_server("e", state(ServerState::Disabled))
        .await
        .unwrap();
    s.add_server(new_server("f")).await.unwrap();

    let available = s.available_servers().await.unwrap();
    // Ascending load, ties by id; tagged servers are listed too.
    assert_eq!(ids(&available), ["b", "c", "a"]);
    let loads: Vec<_> = available.iter().map(|s| s.load).collect();
    assert_eq!(loads, [Some(1.0), Some(1.0), Some(2.0)]);
    assert!(available.iter().all(|s| s.state == ServerState::Enabled));
    assert_eq!(s.list_servers().await.unwrap().len(), 6);
}

pub async fn servers_increment_load<S: Store>(s: &S) {
    s.add_server(NewServer {
        load_multiplier: 3.0,
        ..new_server("a")
    })
    .await
    .unwrap();
    set_load(s, "a", Some(2.0)).await;
    // The amount is added as given (the caller applies the multiplier).
    assert_eq!(s.increment_load("a", 2.0).await.unwrap(), Some(4.0));
    assert_eq!(s.increment_load("a", 0.5).await.unwrap(), Some(4.5));
    assert_eq!(s.get_server("a").await.unwrap().load, Some(4.5));

    add_available(s, "cordoned", None, 1.0).await;
    s.patch_server("cordoned", state(ServerState::Cordoned))
        .await
        .unwrap();
    assert_eq!(s.increment_load("cordoned", 1.0).await.unwrap(), None);
    assert_eq!(s.get_server("cordoned").await.unwrap().load, Some(1.0));

    s.add_server(new_server("no-load")).await.unwrap();
    assert_eq!(s.increment_load("no-load", 1.0).await.unwrap(), None);
    assert_eq!(s.get_server("no-load").await.unwrap().load, None);
    assert!(!ids(&s.available_servers().await.unwrap()).contains(&"no-load"));

    s.add_server(NewServer {
        state: ServerState::Disabled,
        ..new_server("disabled")
    })
    .await
    .unwrap();
    assert_eq!(s.increment_load("disabled", 1.0).await.unwrap(), None);
    assert_eq!(s.get_server("disabled").await.unwrap().load, None);

    assert_eq!(s.increment_load("unknown", 1.0).await.unwrap(), None);
    assert_not_found(s.get_server("unknown").await);
}

/// Many bumps at once (the embedded store commits them in groups): none is lost, each answers a load that some
/// order of the bumps passed through, and bumps of servers that cannot take them change nothing.
pub async fn servers_concurrent_increment_load<S: Store>(s: &S) {
    add_available(s, "a", None, 0.0).await;
    add_available(s, "b", None, 100.0).await;
    add_available(s, "cordoned", None, 5.0).await;
    s.patch_server("cordoned", state(ServerState::Cordoned))
        .await
        .unwrap();
    let mut bumps = tokio::task::JoinSet::new();
    for i in 0..64 {
        let s = s.clone();
        bumps.spawn(async move {
            let id = ["a", "b", "cordoned"][i % 3];
            (id, s.increment_load(id, 1.0).await.unwrap())
        });
    }
    let mut answers: BTreeMap<&str, Vec<Option<f64>>> = BTreeMap::new();
    while let Some(joined) = bumps.join_next().await {
        let (id, load) = joined.unwrap();
        answers.entry(id).or_default().push(load);
    }
    let mut a: Vec<f64> = answers["a"].iter().map(|l| l.unwrap()).collect();
    a.sort_by(f64::total_cmp);
    assert_eq!(a, (1..=22).map(f64::from).collect::<Vec<_>>());
    let mut b: Vec<f64> = answers["b"].iter().map(|l| l.unwrap()).collect();
    b.sort_by(f64::total_cmp);
    assert_eq!(b, (101..=121).map(f64::from).collect::<Vec<_>>());
    assert!(answers["cordoned"].iter().all(Option::is_none));
    assert_eq!(s.get_server("a").await.unwrap().load, Some(22.0));
    assert_eq!(s.get_server("b").await.unwrap().load, Some(121.0));
    assert_eq!(s.get_server("cordoned").await.unwrap().load, Some(5.0));
}

pub async fn servers_health_counters<S: Store>(s: &S) {
    s.add_server(new_server("a")).await.unwrap();
    assert_eq!(s.increment_healthy("a").await.unwrap(), 1);
    assert_eq!(s.increment_healthy("a").await.unwrap(), 2);
    assert_eq!(s.increment_unhealthy("a").await.unwrap(), 1);
    let server = s.get_server("a").await.unwrap();
    assert_eq!((server.healthy_counter, server.unhealthy_counter), (2, 1));

    s.reset_counters("a", true, false).await.unwrap();
    let server = s.get_server("a").await.unwrap();
    assert_eq!((server.healthy_counter, server.unhealthy_counter), (0, 1));
    assert_eq!(s.increment_unhealthy("a").await.unwrap(), 2);

    s.reset_counters("a", false, true).await.unwrap();
    let server = s.get_server("a").await.unwrap();
    assert_eq!((server.healthy_counter, server.unhealthy_counter), (0, 0));

    s.increment_healthy("a").await.unwrap();
    s.increment_unhealthy("a").await.unwrap();
    s.reset_counters("a", true, true).await.unwrap();
    assert_eq!(s.increment_healthy("a").await.unwrap(), 1);
    assert_eq!(s.increment_unhealthy("a").await.unwrap(), 1);

    // Counters are per server.
    s.add_server(new_server("b")).await.unwrap();
    assert_eq!(s.increment_healthy("b").await.unwrap(), 1);
    assert_eq!(s.get_server("a").await.unwrap().healthy_counter, 1);
}

pub async fn servers_delete<S: Store>(s: &S) {
    add_available(s, "a", None, 3.0).await;
    add_available(s, "b", None, 1.0).await;
    s.increment_healthy("a").await.unwrap();
    s.increment_unhealthy("a").await.unwrap();
    let placed = s
        .find_or_create_meeting(
            NewMeeting {
                id: "m1".to_owned(),
                server_id: "a".to_owned(),
                moderator_pw: "mp".to_owned(),
                voice_bridge_candidates: vec!["123456789".to_owned()],
                tenant_id: None,
            },
            LONG_TTL,
        )
        .await
        .unwrap();

    s.delete_server("a").await.unwrap();
    assert_not_found(s.get_server("a").await);
    assert_eq!(ids(&s.list_servers().await.unwrap()), ["b"]);
    assert_eq!(ids(&s.available_servers().await.unwrap()), ["b"]);
    assert_not_found(s.delete_server("a").await);
    // Meetings stay.
    assert_eq!(&s.get_meeting("m1").await.unwrap(), placed.meeting());

    // A server re-added with the same id starts afresh: no load, no counters.
    let readded = s.add_server(new_server("a")).await.unwrap();
    assert_eq!(readded.load, None);
    assert_eq!((readded.healthy_counter, readded.unhealthy_counter), (0, 0));
    assert_eq!(s.increment_healthy("a").await.unwrap(), 1);

    // Deleting a cordoned or disabled server works the same way.
    add_available(s, "c", None, 2.0).await;
    s.patch_server("c", state(ServerState::Cordoned))
        .await
        .unwrap();
    s.delete_server("c").await.unwrap();
    assert_not_found(s.get_server("c").await);
    s.add_server(NewServer {
        state: ServerState::Disabled,
        ..new_server("d")
    })
    .await
    .unwrap();
    s.delete_server("d").await.unwrap();
    let mut left: Vec<_> = s.list_servers().await.unwrap();
    left.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(ids(&left), ["a", "b"]);
}

async fn select<S: Store>(s: &S, tag: Option<&str>) -> Result<Server, SelectError> {
    s.select_server(&TagRequest::parse(tag)).await
}

async fn selected_id<S: Store>(s: &S, tag: Option<&str>) -> String {
    match select(s, tag).await {
        Ok(server) => server.id,
        Err(e) => panic!("select_server({tag:?}) failed: {e}"),
    }
}

pub async fn select_lowest_load_and_bump<S: Store>(s: &S) {
    add_available(s, "a", None, 2.0).await;
    s.add_server(NewServer {
        load_multiplier: 2.5,
        ..new_server("b")
    })
    .await
    .unwrap();
    set_load(s, "b", Some(1.0)).await;
    add_available(s, "c", None, 1.0).await;

    // b and c tie at 1: the lower id wins, and its load grows by 1 × its multiplier.
    let chosen = select(s, None).await.unwrap();
    assert_eq!(chosen.id, "b");
    assert_eq!(chosen.state, ServerState::Enabled);
    assert_eq!(chosen.load, Some(3.5));
    assert_eq!(s.get_server("b").await.unwrap().load, Some(3.5));
    // c (1) < a (2) < b (3.5).
    assert_eq!(selected_id(s, None).await, "c");
    assert_eq!(s.get_server("c").await.unwrap().load, Some(2.0));
    // a and c tie at 2.
    assert_eq!(selected_id(s, None).await, "a");
    assert_eq!(selected_id(s, None).await, "c");
    let loads: BTreeMap<String, Option<f64>> = s
        .list_servers()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.id, s.load))
        .collect();
    assert_eq!(
        loads,
        BTreeMap::from([
            ("a".to_owned(), Some(3.0)),
            ("b".to_owned(), Some(3.5)),
            ("c".to_owned(), Some(3.0)),
        ])
    );
}

pub async fn select_no_servers<S: Store>(s: &S) {
    for tag in [None, Some("x"), Some("x!")] {
        assert!(
            matches!(select(s, tag).await, Err(SelectError::NoServers)),
            "{tag:?} on an empty pool"
        );
    }
    // Servers exist, but none can take meetings: cordoned, disabled, enabled without a load.
    add_available(s, "cordoned", None, 0.0).await;
    s.patch_server("cordoned", state(ServerState::Cordoned))
        .await
        .unwrap();
    add_available(s, "disabled", None, 0.0).await;
    s.patch_server("disabled", state(ServerState::Disabled))
        .await
        .unwrap();
    s.add_server(new_server("unpolled")).await.unwrap();
    for tag in [None, Some("none"), Some("x"), Some("x!")] {
        assert!(
            matches!(select(s, tag).await, Err(SelectError::NoServers)),
            "{tag:?} with no available server"
        );
    }
    assert_eq!(s.get_server("cordoned").await.unwrap().load, Some(0.0));
    // Tagged servers only: an untagged request finds nothing.
    add_available(s, "tagged", Some("x"), 0.0).await;
    assert!(matches!(select(s, None).await, Err(SelectError::NoServers)));
    assert!(matches!(
        select(s, Some("none")).await,
        Err(SelectError::NoServers)
    ));
    assert!(
        matches!(select(s, Some("none!")).await, Err(SelectError::TagUnavailable(t)) if t == "none")
    );
    assert_eq!(s.get_server("tagged").await.unwrap().load, Some(0.0));
    assert_eq!(selected_id(s, Some("x")).await, "tagged");
}

/// Put every listed server back to its load (each selection bumps one).
async fn reset_loads<S: Store>(s: &S, loads: &[(&str, f64)]) {
    for (id, load) in loads {
        set_load(s, id, Some(*load)).await;
    }
}

pub async fn select_untagged_requests<S: Store>(s: &S) {
    let loads = [("test-1", 1.0), ("test-2", 3.0), ("test-3", 2.0)];
    add_available(s, "test-1", Some("test-tag"), 1.0).await;
    add_available(s, "test-2", None, 3.0).await;
    add_available(s, "test-3", None, 2.0).await;
    for tag in [None, Some(""), Some("!"), Some("none"), Some("none!")] {
        reset_loads(s, &loads).await;
        assert_eq!(selected_id(s, tag).await, "test-3", "tag {tag:?}");
        assert_eq!(s.get_server("test-1").await.unwrap().load, Some(1.0));
    }
    // The tagged server stays out of untagged requests even once it is far less loaded.
    reset_loads(s, &[("test-1", 0.0), ("test-2", 50.0), ("test-3", 40.0)]).await;
    assert_eq!(selected_id(s, None).await, "test-3");
    assert_eq!(selected_id(s, Some("test-tag")).await, "test-1");
}

pub async fn select_tagged_requests<S: Store>(s: &S) {
    let loads = [
        ("test-1", 1.0),
        ("test-2", 3.0),
        ("test-3", 2.0),
        ("test-4", 1.0),
        ("test-5", 1.0),
    ];
    add_available(s, "test-1", None, 1.0).await;
    add_available(s, "test-2", Some("test-tag"), 3.0).await;
    add_available(s, "test-3", Some("test-tag"), 2.0).await;
    add_available(s, "test-4", Some("wrong-tag"), 1.0).await;
    add_available(s, "test-5", Some("test-tag2"), 1.0).await;

    let cases = [
        ("test-tag", "test-3"),
        ("test-tag!", "test-3"),
        ("test-tag;test-tag2", "test-5"),
        ("test-tag;test-tag2!", "test-5"),
        ("wrong-tag", "test-4"),
        ("none", "test-1"),
        ("none;test-tag", "test-1"),
        // No server with the tag: an optional tag falls back to the least-loaded untagged server.
        ("missing", "test-1"),
        ("missing;other", "test-1"),
        // Tags are case-sensitive.
        ("TEST-TAG", "test-1"),
    ];
    for (tag, expected) in cases {
        reset_loads(s, &loads).await;
        assert_eq!(selected_id(s, Some(tag)).await, expected, "tag {tag:?}");
    }

    reset_loads(s, &loads).await;
    for (tag, shown) in [
        ("missing!", "missing"),
        ("missing;other!", "missing;other"),
        ("TEST-TAG!", "TEST-TAG"),
    ] {
        match select(s, Some(tag)).await {
            Err(SelectError::TagUnavailable(t)) => assert_eq!(t, shown),
            other => panic!("{tag:?}: expected TagUnavailable, got {other:?}"),
        }
    }
    // A refused request bumps nothing.
    for (id, load) in loads {
        assert_eq!(s.get_server(id).await.unwrap().load, Some(load), "{id}");
    }
    // A required tag whose only server is cordoned is unavailable.
    s.patch_server("test-4", state(ServerState::Cordoned))
        .await
        .unwrap();
    assert!(matches!(
        select(s, Some("wrong-tag!")).await,
        Err(SelectError::TagUnavailable(_))
    ));
    assert_eq!(selected_id(s, Some("wrong-tag")).await, "test-1");
}

pub async fn select_concurrent_is_exact<S: Store>(s: &S) {
    for id in ["a", "b", "c"] {
        s.add_server(NewServer {
            load_multiplier: 2.0,
            ..new_server(id)
        })
        .await
        .unwrap();
        set_load(s, id, Some(0.0)).await;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..60 {
        let s = s.clone();
        tasks.spawn(async move { s.select_server(&TagRequest::default()).await });
    }
    let mut picks: BTreeMap<String, u32> = BTreeMap::new();
    while let Some(result) = tasks.join_next().await {
        let server = result.expect("task").expect("select_server");
        *picks.entry(server.id).or_default() += 1;
    }
    assert_eq!(
        picks,
        BTreeMap::from([
            ("a".to_owned(), 20),
            ("b".to_owned(), 20),
            ("c".to_owned(), 20)
        ])
    );
    for id in ["a", "b", "c"] {
        assert_eq!(s.get_server(id).await.unwrap().load, Some(40.0), "{id}");
    }
}

/// `increment_load_behind` returns at once; every bump is written, those of one server queued together as one,
/// interleaved with bumps that are waited for, and a server that is not available keeps its load.
pub async fn servers_increment_load_behind<S: Store>(s: &S) {
    add_available(s, "a", None, 0.0).await;
    add_available(s, "b", None, 10.0).await;
    add_available(s, "cordoned", None, 5.0).await;
    s.patch_server("cordoned", state(ServerState::Cordoned))
        .await
        .unwrap();
    for i in 0..30 {
        s.increment_load_behind(["a", "b", "cordoned"][i % 3], 1.5);
        if i % 10 == 0 {
            s.increment_load("b", 1.0).await.unwrap();
        }
    }
    let expected = [("a", 15.0), ("b", 10.0 + 15.0 + 3.0), ("cordoned", 5.0)];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut loads = Vec::new();
        for (id, _) in expected {
            loads.push((id, s.get_server(id).await.unwrap().load.unwrap()));
        }
        if loads == expected {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the bumps written behind never all landed: {loads:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

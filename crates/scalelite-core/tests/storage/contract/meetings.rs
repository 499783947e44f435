//! MeetingStore: atomic find-or-create, voice bridges, TTL (`docs/compatibility.md#data-redis-meetings`,
//! `docs/compatibility.md#poller-meetings`).

use std::collections::BTreeSet;

use scalelite_core::domain::{Meeting, MeetingPlacement, NewMeeting};

use crate::contract::{
    LONG_TTL, PAST_SHORT_TTL, SHORT_TTL, Store, assert_conflict, assert_not_found,
};

fn new_meeting(id: &str, server_id: &str, candidates: &[&str], tenant: Option<&str>) -> NewMeeting {
    NewMeeting {
        id: id.to_owned(),
        server_id: server_id.to_owned(),
        moderator_pw: format!("mp-{id}"),
        voice_bridge_candidates: candidates.iter().map(|c| (*c).to_owned()).collect(),
        tenant_id: tenant.map(str::to_owned),
    }
}

async fn create<S: Store>(s: &S, meeting: NewMeeting) -> Meeting {
    match s.find_or_create_meeting(meeting, LONG_TTL).await.unwrap() {
        MeetingPlacement::Created(m) => m,
        other => panic!("expected Created, got {other:?}"),
    }
}

fn sorted_ids(meetings: &[Meeting]) -> Vec<&str> {
    let mut ids: Vec<_> = meetings.iter().map(|m| m.id.as_str()).collect();
    ids.sort_unstable();
    ids
}

pub async fn meetings_find_or_create<S: Store>(s: &S) {
    assert!(s.list_meetings().await.unwrap().is_empty());
    let created = create(
        s,
        new_meeting("m1", "s1", &["111111111", "222222222"], None),
    )
    .await;
    assert_eq!(
        created,
        Meeting {
            id: "m1".to_owned(),
            server_id: "s1".to_owned(),
            moderator_pw: "mp-m1".to_owned(),
            voice_bridge: "111111111".to_owned(),
            tenant_id: None,
        }
    );
    assert_eq!(s.get_meeting("m1").await.unwrap(), created);

    // An existing record wins, even when another server is asked for; nothing about it changes.
    let again = s
        .find_or_create_meeting(
            NewMeeting {
                moderator_pw: "other".to_owned(),
                ..new_meeting("m1", "s2", &["333333333"], None)
            },
            LONG_TTL,
        )
        .await
        .unwrap();
    assert_eq!(again, MeetingPlacement::Existing(created.clone()));
    assert_eq!(s.get_meeting("m1").await.unwrap(), created);

    let tenant = create(s, new_meeting("m2", "s2", &["222222222"], Some("t1"))).await;
    assert_eq!(tenant.tenant_id.as_deref(), Some("t1"));
    assert_eq!(s.get_meeting("m2").await.unwrap(), tenant);

    let mut all = s.list_meetings().await.unwrap();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(all, vec![created, tenant]);

    // Meeting ids are exact and case-sensitive.
    assert_not_found(s.get_meeting("M1").await);
    assert_not_found(s.get_meeting("nope").await);
}

pub async fn meetings_tenant_conflict<S: Store>(s: &S) {
    let t1 = create(s, new_meeting("m", "s1", &["100000001"], Some("t1"))).await;
    // Both tenants set and different: refused.
    assert_conflict(
        s.find_or_create_meeting(new_meeting("m", "s1", &["100000002"], Some("t2")), LONG_TTL)
            .await,
    );
    // Same tenant, or no tenant asked: the existing record.
    for tenant in [Some("t1"), None] {
        let found = s
            .find_or_create_meeting(new_meeting("m", "s2", &["100000003"], tenant), LONG_TTL)
            .await
            .unwrap();
        assert_eq!(found, MeetingPlacement::Existing(t1.clone()), "{tenant:?}");
    }
    // A meeting created without a tenant is found by any tenant.
    let none = create(s, new_meeting("n", "s1", &["100000004"], None)).await;
    let found = s
        .find_or_create_meeting(new_meeting("n", "s2", &["100000005"], Some("t2")), LONG_TTL)
        .await
        .unwrap();
    assert_eq!(found, MeetingPlacement::Existing(none));
    assert_eq!(s.list_meetings().await.unwrap().len(), 2);
}

pub async fn meetings_voice_bridges<S: Store>(s: &S) {
    let a = create(s, new_meeting("a", "s1", &["111"], None)).await;
    assert_eq!(a.voice_bridge, "111");
    // The first candidate not held by another meeting is taken.
    let b = create(s, new_meeting("b", "s1", &["111", "222"], None)).await;
    assert_eq!(b.voice_bridge, "222");
    // Every candidate taken: refused, and nothing is written.
    assert_conflict(
        s.find_or_create_meeting(new_meeting("c", "s1", &["111", "222"], None), LONG_TTL)
            .await,
    );
    assert_conflict(
        s.find_or_create_meeting(new_meeting("c", "s1", &[], None), LONG_TTL)
            .await,
    );
    assert_not_found(s.get_meeting("c").await);

    assert_eq!(s.meeting_by_voice_bridge("111").await.unwrap(), a);
    assert_eq!(s.meeting_by_voice_bridge("222").await.unwrap(), b);
    assert_not_found(s.meeting_by_voice_bridge("333").await);

    // Deleting a meeting frees its number.
    assert!(s.delete_meeting("a").await.unwrap());
    assert_not_found(s.meeting_by_voice_bridge("111").await);
    let c = create(s, new_meeting("c", "s1", &["222", "111"], None)).await;
    assert_eq!(c.voice_bridge, "111");
    assert_eq!(s.meeting_by_voice_bridge("111").await.unwrap(), c);
}

pub async fn meetings_delete<S: Store>(s: &S) {
    create(s, new_meeting("a", "s1", &["111"], None)).await;
    let b = create(s, new_meeting("b", "s1", &["222"], None)).await;
    assert!(s.delete_meeting("a").await.unwrap());
    assert_not_found(s.get_meeting("a").await);
    assert_eq!(s.list_meetings().await.unwrap(), vec![b]);
    // Absent is not an error.
    assert!(!s.delete_meeting("a").await.unwrap());
    assert!(!s.delete_meeting("never").await.unwrap());
    // The id can be placed again, on another server.
    let again = create(s, new_meeting("a", "s2", &["111"], None)).await;
    assert_eq!(again.server_id, "s2");
}

pub async fn meetings_concurrent_same_id<S: Store>(s: &S) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let s = s.clone();
        let meeting = new_meeting("same", &format!("s{i}"), &["500000001", "500000002"], None);
        tasks.spawn(async move { s.find_or_create_meeting(meeting, LONG_TTL).await });
    }
    let mut created = Vec::new();
    let mut existing = Vec::new();
    while let Some(result) = tasks.join_next().await {
        match result.expect("task").expect("find_or_create_meeting") {
            MeetingPlacement::Created(m) => created.push(m),
            MeetingPlacement::Existing(m) => existing.push(m),
        }
    }
    assert_eq!(created.len(), 1, "exactly one caller creates the meeting");
    assert_eq!(existing.len(), 39);
    let winner = &created[0];
    assert_eq!(winner.voice_bridge, "500000001");
    assert!(
        existing.iter().all(|m| m == winner),
        "all see the winner's record"
    );
    assert_eq!(&s.get_meeting("same").await.unwrap(), winner);
    assert_eq!(s.list_meetings().await.unwrap().len(), 1);
}

pub async fn meetings_concurrent_distinct_voice_bridges<S: Store>(s: &S) {
    // 20 meetings compete for the same 20 numbers, all in the same order: each gets a different one.
    let candidates: Vec<String> = (0..20).map(|i| format!("7000000{i:02}")).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let s = s.clone();
        let meeting = NewMeeting {
            voice_bridge_candidates: candidates.clone(),
            ..new_meeting(&format!("m{i}"), "s1", &[], None)
        };
        tasks.spawn(async move { s.find_or_create_meeting(meeting, LONG_TTL).await });
    }
    let mut numbers = BTreeSet::new();
    while let Some(result) = tasks.join_next().await {
        match result.expect("task").expect("find_or_create_meeting") {
            MeetingPlacement::Created(m) => {
                assert!(
                    numbers.insert(m.voice_bridge.clone()),
                    "{} given twice",
                    m.voice_bridge
                );
                assert_eq!(s.meeting_by_voice_bridge(&m.voice_bridge).await.unwrap(), m);
            }
            other => panic!("expected Created, got {other:?}"),
        }
    }
    assert_eq!(numbers, candidates.into_iter().collect::<BTreeSet<_>>());
    // The 21st finds none free.
    assert_conflict(
        s.find_or_create_meeting(new_meeting("late", "s1", &["700000000"], None), LONG_TTL)
            .await,
    );
}

pub async fn meetings_ttl_refresh_and_orphans<S: Store>(s: &S) {
    let short = |id: &str, vb: &str| new_meeting(id, "s1", &[vb], None);
    s.find_or_create_meeting(short("expiring", "111"), SHORT_TTL)
        .await
        .unwrap();
    let refreshed = s
        .find_or_create_meeting(short("refreshed", "222"), SHORT_TTL)
        .await
        .unwrap()
        .into_meeting();
    let long = create(s, short("long", "333")).await;
    s.find_or_create_meeting(short("recreated", "555"), SHORT_TTL)
        .await
        .unwrap();
    // Ids the store does not know are ignored.
    s.refresh_meetings(&["refreshed".to_owned(), "unknown".to_owned()], LONG_TTL)
        .await
        .unwrap();
    s.refresh_meetings(&[], LONG_TTL).await.unwrap();

    tokio::time::sleep(PAST_SHORT_TTL).await;

    // Expired = absent everywhere.
    assert_not_found(s.get_meeting("expiring").await);
    assert_not_found(s.meeting_by_voice_bridge("111").await);
    assert_eq!(
        sorted_ids(&s.list_meetings().await.unwrap()),
        ["long", "refreshed"]
    );
    assert_eq!(s.get_meeting("refreshed").await.unwrap(), refreshed);
    assert_eq!(s.meeting_by_voice_bridge("222").await.unwrap(), refreshed);
    // Refreshing an expired meeting does not bring it back.
    s.refresh_meetings(&["expiring".to_owned()], LONG_TTL)
        .await
        .unwrap();
    assert_not_found(s.get_meeting("expiring").await);

    // An expired meeting is created afresh, and the same id reuses its old number.
    let recreated = s
        .find_or_create_meeting(
            NewMeeting {
                server_id: "s2".to_owned(),
                ..short("recreated", "555")
            },
            LONG_TTL,
        )
        .await
        .unwrap();
    match &recreated {
        MeetingPlacement::Created(m) => {
            assert_eq!(
                (m.server_id.as_str(), m.voice_bridge.as_str()),
                ("s2", "555")
            );
        }
        other => panic!("expected Created, got {other:?}"),
    }

    // The leftovers of "expiring" are cleaned once.
    assert!(s.clean_orphans().await.unwrap() > 0);
    assert_eq!(s.clean_orphans().await.unwrap(), 0);
    assert_eq!(
        sorted_ids(&s.list_meetings().await.unwrap()),
        ["long", "recreated", "refreshed"]
    );
    assert_eq!(s.get_meeting("long").await.unwrap(), long);
    assert_eq!(
        &s.meeting_by_voice_bridge("555").await.unwrap(),
        recreated.meeting()
    );
    assert_eq!(s.meeting_by_voice_bridge("222").await.unwrap(), refreshed);
    // Its number is free for another meeting.
    let other = create(s, short("other", "111")).await;
    assert_eq!(other.voice_bridge, "111");
}

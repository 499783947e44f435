//! MeetingStore: placements in flight (claim, confirm, move, release by token) and abandoned placements.

use std::time::Duration;

use scalelite_core::domain::{AbandonedPlacement, CreateParams, MeetingPlacement, NewMeeting};

use scalelite_core::storage::StoreError;

use crate::contract::{LONG_TTL, PAST_SHORT_TTL, Store, add_available, assert_not_found};

const CLAIM: Duration = Duration::from_secs(60);

fn new_meeting(id: &str, server_id: &str) -> NewMeeting {
    NewMeeting {
        id: id.to_owned(),
        server_id: server_id.to_owned(),
        moderator_pw: format!("mp-{server_id}"),
        voice_bridge_candidates: vec!["123456789".to_owned(), "223456789".to_owned()],
        tenant_id: None,
    }
}

async fn claim<S: Store>(s: &S, id: &str, server_id: &str, token: &str) -> MeetingPlacement {
    s.claim_meeting(new_meeting(id, server_id), token, CLAIM, LONG_TTL)
        .await
        .expect("claim")
}

async fn claim_of<S: Store>(s: &S, id: &str) -> Option<String> {
    s.meeting_state(id)
        .await
        .expect("state")
        .expect("meeting exists")
        .claim
}

pub async fn placement_claim_and_confirm<S: Store>(s: &S) {
    assert!(s.meeting_state("m").await.unwrap().is_none());
    let MeetingPlacement::Created(created) = claim(s, "m", "s1", "tok-a").await else {
        panic!("the first claim creates the record");
    };
    let state = s.meeting_state("m").await.unwrap().unwrap();
    assert_eq!(state.meeting, created);
    assert_eq!(state.claim.as_deref(), Some("tok-a"));
    // The record is the ordinary one: readers that know nothing of claims see it as before.
    assert_eq!(s.get_meeting("m").await.unwrap(), created);

    // A second creator finds the record and does not take the claim.
    assert_eq!(
        claim(s, "m", "s2", "tok-b").await,
        MeetingPlacement::Existing(created.clone())
    );
    assert_eq!(claim_of(s, "m").await.as_deref(), Some("tok-a"));

    assert!(!s.confirm_meeting("m", "tok-b").await.unwrap());
    assert_eq!(claim_of(s, "m").await.as_deref(), Some("tok-a"));
    assert!(s.confirm_meeting("m", "tok-a").await.unwrap());
    assert_eq!(claim_of(s, "m").await, None);
    assert!(!s.confirm_meeting("m", "tok-a").await.unwrap());
    assert!(!s.confirm_meeting("absent", "tok-a").await.unwrap());

    // Without a token, find_or_create leaves no claim behind.
    s.find_or_create_meeting(new_meeting("plain", "s1"), LONG_TTL)
        .await
        .unwrap();
    assert_eq!(claim_of(s, "plain").await, None);
}

pub async fn placement_move_and_release_by_token<S: Store>(s: &S) {
    claim(s, "m", "s1", "tok-a").await;
    assert!(
        !s.move_meeting("m", "tok-b", "s2", "pw-2", CLAIM)
            .await
            .unwrap()
    );
    assert_eq!(s.get_meeting("m").await.unwrap().server_id, "s1");
    assert!(
        s.move_meeting("m", "tok-a", "s2", "pw-2", CLAIM)
            .await
            .unwrap()
    );
    let moved = s.get_meeting("m").await.unwrap();
    assert_eq!(
        (moved.server_id.as_str(), moved.moderator_pw.as_str()),
        ("s2", "pw-2")
    );
    assert_eq!(moved.voice_bridge, "123456789", "the voice bridge stays");
    assert_eq!(claim_of(s, "m").await.as_deref(), Some("tok-a"));

    assert!(!s.release_meeting("m", "tok-b").await.unwrap());
    assert_eq!(s.get_meeting("m").await.unwrap(), moved);
    assert!(s.release_meeting("m", "tok-a").await.unwrap());
    assert_not_found(s.get_meeting("m").await);
    assert_not_found(s.meeting_by_voice_bridge("123456789").await);
    assert!(s.meeting_state("m").await.unwrap().is_none());
    assert!(!s.release_meeting("m", "tok-a").await.unwrap());
}

/// A timed-out placement rolling back never removes a record that belongs to someone else by then.
pub async fn placement_rollback_spares_the_new_owner<S: Store>(s: &S) {
    claim(s, "m", "s1", "tok-a").await;
    // The meeting is forgotten (ended, or forgotten by the poller) and placed again by another creator.
    assert!(s.delete_meeting("m").await.unwrap());
    let MeetingPlacement::Created(theirs) = claim(s, "m", "s2", "tok-b").await else {
        panic!("a deleted record can be claimed again");
    };
    assert!(!s.release_meeting("m", "tok-a").await.unwrap());
    assert!(
        !s.move_meeting("m", "tok-a", "s3", "pw", CLAIM)
            .await
            .unwrap()
    );
    assert!(!s.confirm_meeting("m", "tok-a").await.unwrap());
    assert_eq!(s.get_meeting("m").await.unwrap(), theirs);
    assert_eq!(claim_of(s, "m").await.as_deref(), Some("tok-b"));
}

pub async fn placement_claim_lapses<S: Store>(s: &S) {
    s.claim_meeting(
        new_meeting("m", "s1"),
        "tok-a",
        Duration::from_secs(1),
        LONG_TTL,
    )
    .await
    .unwrap();
    assert_eq!(claim_of(s, "m").await.as_deref(), Some("tok-a"));
    tokio::time::sleep(PAST_SHORT_TTL).await;
    // The record stays (its server may well run the meeting); only the claim is gone, with its rights.
    assert_eq!(claim_of(s, "m").await, None);
    assert!(!s.confirm_meeting("m", "tok-a").await.unwrap());
    assert!(!s.release_meeting("m", "tok-a").await.unwrap());
    assert_eq!(s.get_meeting("m").await.unwrap().server_id, "s1");
}

pub async fn placement_concurrent_claims_one_winner<S: Store>(s: &S) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.spawn(async move {
            let token = format!("tok-{i}");
            let placed = s
                .claim_meeting(new_meeting("m", &format!("s{i}")), &token, CLAIM, LONG_TTL)
                .await
                .expect("claim");
            (token, placed)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (token, placed) = joined.expect("task");
        if let MeetingPlacement::Created(meeting) = placed {
            winners.push((token, meeting));
        }
    }
    assert_eq!(winners.len(), 1, "exactly one creator claims the meeting");
    let (token, meeting) = winners.remove(0);
    let state = s.meeting_state("m").await.unwrap().unwrap();
    assert_eq!(state.meeting, meeting);
    assert_eq!(state.claim, Some(token));
}

pub async fn abandoned_placements<S: Store>(s: &S) {
    assert!(s.list_abandoned().await.unwrap().is_empty());
    let placement = |meeting: &str, server: &str, at_ms: i64| AbandonedPlacement {
        meeting_id: meeting.to_owned(),
        server_id: server.to_owned(),
        moderator_pw: format!("pw-{server}"),
        at_ms,
    };
    s.record_abandoned(placement("m:1", "s:1", 200))
        .await
        .unwrap();
    s.record_abandoned(placement("m:1", "s2", 100))
        .await
        .unwrap();
    s.record_abandoned(placement("m2", "s:1", 300))
        .await
        .unwrap();
    assert_eq!(
        s.list_abandoned().await.unwrap(),
        vec![
            placement("m:1", "s2", 100),
            placement("m:1", "s:1", 200),
            placement("m2", "s:1", 300),
        ]
    );
    // One entry per meeting and server: a newer one replaces it.
    s.record_abandoned(placement("m:1", "s2", 400))
        .await
        .unwrap();
    s.forget_abandoned("m2", "s:1").await.unwrap();
    s.forget_abandoned("absent", "s:1").await.unwrap();
    assert_eq!(
        s.list_abandoned().await.unwrap(),
        vec![placement("m:1", "s:1", 200), placement("m:1", "s2", 400)]
    );
}

pub async fn placement_take_over_for_failover<S: Store>(s: &S) {
    assert!(
        !s.take_over_meeting("m", "s1", "tok-f", CLAIM)
            .await
            .unwrap()
    );
    claim(s, "m", "s1", "tok-a").await;
    // A placement in flight is never taken over.
    assert!(
        !s.take_over_meeting("m", "s1", "tok-f", CLAIM)
            .await
            .unwrap()
    );
    assert!(s.confirm_meeting("m", "tok-a").await.unwrap());
    // Only from the server the record still points at.
    assert!(
        !s.take_over_meeting("m", "s2", "tok-f", CLAIM)
            .await
            .unwrap()
    );
    assert!(
        s.take_over_meeting("m", "s1", "tok-f", CLAIM)
            .await
            .unwrap()
    );
    assert_eq!(claim_of(s, "m").await.as_deref(), Some("tok-f"));
    // A second taker (another API process) loses while the first holds it.
    assert!(
        !s.take_over_meeting("m", "s1", "tok-g", CLAIM)
            .await
            .unwrap()
    );
    let before = s.get_meeting("m").await.unwrap();
    assert!(
        s.move_meeting("m", "tok-f", "s2", "mp-s1", CLAIM)
            .await
            .unwrap()
    );
    assert!(s.confirm_meeting("m", "tok-f").await.unwrap());
    let after = s.get_meeting("m").await.unwrap();
    assert_eq!(after.server_id, "s2");
    // Same voice bridge, same tenant: only the server changed.
    assert_eq!(after.voice_bridge, before.voice_bridge);
    assert_eq!(
        s.meeting_by_voice_bridge(&before.voice_bridge)
            .await
            .unwrap(),
        after
    );
    // The old server is no longer the record's: taking over from it fails.
    assert!(
        !s.take_over_meeting("m", "s1", "tok-h", CLAIM)
            .await
            .unwrap()
    );
}

pub async fn placement_concurrent_take_over_one_winner<S: Store>(s: &S) {
    claim(s, "m", "s1", "tok-a").await;
    assert!(s.confirm_meeting("m", "tok-a").await.unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.spawn(async move {
            s.take_over_meeting("m", "s1", &format!("tok-{i}"), CLAIM)
                .await
                .expect("take over")
        });
    }
    let mut won = 0;
    while let Some(joined) = tasks.join_next().await {
        won += usize::from(joined.expect("task"));
    }
    assert_eq!(won, 1, "exactly one joiner takes the meeting over");
}

pub async fn create_params_live_with_the_meeting<S: Store>(s: &S) {
    let params = CreateParams {
        params: vec![
            ("meetingID".to_owned(), "m".to_owned()),
            ("attendeePW".to_owned(), "ap".to_owned()),
            ("meta_x".to_owned(), "é & <y>".to_owned()),
        ],
        body: Some("<modules/>".to_owned()),
        server_tag: Some("gpu!".to_owned()),
    };
    assert_eq!(s.get_create_params("m").await.unwrap(), None);
    claim(s, "m", "s1", "tok-a").await;
    assert_eq!(s.get_create_params("m").await.unwrap(), None);
    s.put_create_params("m", &params, LONG_TTL).await.unwrap();
    assert_eq!(
        s.get_create_params("m").await.unwrap(),
        Some(params.clone())
    );
    let replaced = CreateParams {
        params: vec![("meetingID".to_owned(), "m".to_owned())],
        body: None,
        server_tag: None,
    };
    s.put_create_params("m", &replaced, LONG_TTL).await.unwrap();
    assert_eq!(s.get_create_params("m").await.unwrap(), Some(replaced));
    // Deleted with the meeting: a meeting placed again under the same id starts without them.
    assert!(s.delete_meeting("m").await.unwrap());
    assert_eq!(s.get_create_params("m").await.unwrap(), None);
    claim(s, "m", "s2", "tok-b").await;
    assert_eq!(s.get_create_params("m").await.unwrap(), None);
    // Refreshed with the meeting.
    s.put_create_params("m", &params, PAST_SHORT_TTL / 3)
        .await
        .unwrap();
    s.refresh_meetings(&["m".to_owned()], LONG_TTL)
        .await
        .unwrap();
    tokio::time::sleep(PAST_SHORT_TTL / 2).await;
    assert_eq!(s.get_create_params("m").await.unwrap(), Some(params));
}

/// The meeting, its claim and its server in one read, as `meeting_state` and `get_server` see them.
pub async fn placement_meeting_with_server<S: Store>(s: &S) {
    assert!(s.meeting_with_server("m").await.unwrap().is_none());
    let server = add_available(s, "s1", None, 3.0).await;
    claim(s, "m", "s1", "tok-a").await;
    let placed = s.meeting_with_server("m").await.unwrap().unwrap();
    assert_eq!(
        Some(placed.state.clone()),
        s.meeting_state("m").await.unwrap()
    );
    assert_eq!(placed.state.claim.as_deref(), Some("tok-a"));
    let read = placed.server.expect("the server is read with the meeting");
    assert_eq!(read.id, server.id);
    assert_eq!(read.url, server.url);
    assert_eq!(read.secret.expose(), server.secret.expose());
    assert_eq!(read.load, Some(3.0));
    assert_eq!(read.online, server.online);
    assert_eq!(read.state, server.state);

    assert!(s.confirm_meeting("m", "tok-a").await.unwrap());
    let placed = s.meeting_with_server("m").await.unwrap().unwrap();
    assert_eq!(placed.state.claim, None);
    assert_eq!(placed.state.meeting, s.get_meeting("m").await.unwrap());

    // A meeting whose server record is gone: the meeting without a server.
    claim(s, "orphan", "gone", "tok-b").await;
    let placed = s.meeting_with_server("orphan").await.unwrap().unwrap();
    assert_eq!(placed.state.meeting.server_id, "gone");
    assert!(placed.server.is_none());

    assert!(s.delete_meeting("m").await.unwrap());
    assert!(s.meeting_with_server("m").await.unwrap().is_none());
}

/// Confirming with the create parameters keeps them whatever the claim, and drops only a claim the token holds.
pub async fn placement_confirm_with_params<S: Store>(s: &S) {
    let params = CreateParams {
        params: vec![("meetingID".to_owned(), "m".to_owned())],
        body: Some("<modules/>".to_owned()),
        server_tag: None,
    };
    claim(s, "m", "s1", "tok-a").await;
    assert!(
        !s.confirm_meeting_with_params("m", "tok-b", &params, LONG_TTL, None)
            .await
            .unwrap()
    );
    assert_eq!(claim_of(s, "m").await.as_deref(), Some("tok-a"));
    assert_eq!(
        s.get_create_params("m").await.unwrap(),
        Some(params.clone())
    );
    let replaced = CreateParams {
        server_tag: Some("gpu".to_owned()),
        ..params
    };
    assert!(
        s.confirm_meeting_with_params("m", "tok-a", &replaced, LONG_TTL, None)
            .await
            .unwrap()
    );
    assert_eq!(claim_of(s, "m").await, None);
    assert_eq!(s.get_create_params("m").await.unwrap(), Some(replaced));
}

/// Selecting a server and claiming the meeting on it is one step: the bump stays only with a record created here.
pub async fn placement_place_meeting_bumps_only_when_created<S: Store>(s: &S) {
    use scalelite_core::domain::TagRequest;
    use scalelite_core::storage::SelectError;

    let untagged = TagRequest::parse(None);
    assert!(matches!(
        s.place_meeting(
            &untagged,
            new_meeting("m", ""),
            |sv| format!("mp-{}", sv.id),
            "tok-a",
            CLAIM,
            LONG_TTL
        )
        .await,
        Err(SelectError::NoServers)
    ));
    add_available(s, "s1", None, 1.0).await;
    add_available(s, "s2", None, 2.0).await;
    let (server, placement) = s
        .place_meeting(
            &untagged,
            new_meeting("m", ""),
            |sv| format!("mp-{}", sv.id),
            "tok-a",
            CLAIM,
            LONG_TTL,
        )
        .await
        .unwrap();
    assert_eq!(server.id, "s1");
    assert_eq!(server.load, Some(2.0));
    let MeetingPlacement::Created(created) = placement.unwrap() else {
        panic!("the first placement creates the record");
    };
    assert_eq!(created.server_id, "s1");
    assert_eq!(created.moderator_pw, "mp-s1");
    assert_eq!(claim_of(s, "m").await.as_deref(), Some("tok-a"));
    assert_eq!(s.get_server("s1").await.unwrap().load, Some(2.0));

    // The record exists: it wins, and the server picked for nothing keeps its load.
    let (server, placement) = s
        .place_meeting(
            &untagged,
            new_meeting("m", ""),
            |sv| format!("mp-{}", sv.id),
            "tok-b",
            CLAIM,
            LONG_TTL,
        )
        .await
        .unwrap();
    assert_eq!(placement.unwrap(), MeetingPlacement::Existing(created));
    assert_eq!(s.get_server(&server.id).await.unwrap().load, Some(2.0));
    assert_eq!(s.get_server("s1").await.unwrap().load, Some(2.0));
    assert_eq!(s.get_server("s2").await.unwrap().load, Some(2.0));
    assert_eq!(claim_of(s, "m").await.as_deref(), Some("tok-a"));

    // No voice bridge free: the claim fails, nothing stays.
    let taken = NewMeeting {
        voice_bridge_candidates: vec!["123456789".to_owned()],
        ..new_meeting("other", "s2")
    };
    let (_, placement) = s
        .place_meeting(
            &untagged,
            NewMeeting {
                id: "third".to_owned(),
                ..taken
            },
            |sv| format!("mp-{}", sv.id),
            "tok-c",
            CLAIM,
            LONG_TTL,
        )
        .await
        .unwrap();
    assert!(matches!(placement, Err(StoreError::Conflict(_))));
    assert!(s.meeting_state("third").await.unwrap().is_none());
    assert_eq!(s.get_server("s1").await.unwrap().load, Some(2.0));
    assert_eq!(s.get_server("s2").await.unwrap().load, Some(2.0));
}

/// Many placements at once (on the embedded store, they are committed in batches): every distinct meeting is
/// created once, on the least-loaded server at its turn, with its own voice bridge number, and each answer's load
/// is the server's load right after its own bump; then placements of one meeting id create it once.
pub async fn placement_concurrent_placements_balance<S: Store>(s: &S) {
    use scalelite_core::domain::TagRequest;
    use std::collections::{BTreeMap, BTreeSet};

    add_available(s, "s1", None, 0.0).await;
    add_available(s, "s2", None, 0.0).await;
    let numbers: Vec<String> = (0..40).map(|n| format!("7{n:04}")).collect();
    let place_all = |ids: Vec<String>| {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, id) in ids.into_iter().enumerate() {
            let (s, numbers) = (s.clone(), numbers.clone());
            tasks.spawn(async move {
                let meeting = NewMeeting {
                    voice_bridge_candidates: numbers,
                    ..new_meeting(&id, "")
                };
                s.place_meeting(
                    &TagRequest::parse(None),
                    meeting,
                    |sv| format!("mp-{}", sv.id),
                    &format!("tok-{id}-{i}"),
                    CLAIM,
                    LONG_TTL,
                )
                .await
            });
        }
        tasks
    };
    let mut created = Vec::new();
    let mut tasks = place_all((0..24).map(|i| format!("m{i}")).collect());
    while let Some(joined) = tasks.join_next().await {
        let (server, placement) = joined.expect("task").expect("a server is available");
        let MeetingPlacement::Created(meeting) = placement.expect("placed") else {
            panic!("a distinct meeting is created");
        };
        assert_eq!(meeting.server_id, server.id);
        assert_eq!(meeting.moderator_pw, format!("mp-{}", server.id));
        created.push((meeting, server.load.expect("an available server's load")));
    }
    assert_eq!(created.len(), 24);

    // Least-loaded first at every turn: both servers end with 12, and on each server the answers' loads are
    // 1, 2, ..., 12 (each the load right after its own bump).
    let mut loads: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (meeting, load) in &created {
        loads
            .entry(meeting.server_id.clone())
            .or_default()
            .push(*load);
    }
    assert_eq!(loads.len(), 2);
    for (server, mut answered) in loads {
        answered.sort_by(f64::total_cmp);
        let expected: Vec<f64> = (1..=12).map(f64::from).collect();
        assert_eq!(answered, expected, "the loads answered for {server}");
        assert_eq!(s.get_server(&server).await.unwrap().load, Some(12.0));
    }
    for (meeting, _) in &created {
        let state = s
            .meeting_state(&meeting.id)
            .await
            .unwrap()
            .expect("live record");
        assert_eq!(&state.meeting, meeting);
        assert!(state.claim.is_some());
    }

    // Six placements of one new meeting: one creates it, with a number nobody holds; the others find it.
    let mut tasks = place_all(vec!["same".to_owned(); 6]);
    let mut existing = 0;
    while let Some(joined) = tasks.join_next().await {
        let (_, placement) = joined.expect("task").expect("a server is available");
        match placement.expect("placed") {
            MeetingPlacement::Created(meeting) => created.push((meeting, 0.0)),
            MeetingPlacement::Existing(meeting) => {
                assert_eq!(meeting.id, "same");
                existing += 1;
            }
        }
    }
    assert_eq!((created.len(), existing), (25, 5));
    let numbers: BTreeSet<&str> = created
        .iter()
        .map(|(m, _)| m.voice_bridge.as_str())
        .collect();
    assert_eq!(numbers.len(), 25, "every meeting has a number of its own");
    let total = s.get_server("s1").await.unwrap().load.unwrap()
        + s.get_server("s2").await.unwrap().load.unwrap();
    assert_eq!(
        total, 25.0,
        "only the placement that created the meeting keeps its bump"
    );
}

//! ProductionStore against real Redis and PostgreSQL: behaviour that depends on the back-end (atomicity under
//! concurrency, expiry, several store instances sharing one namespace, query semantics in SQL).

use std::collections::HashSet;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use scalelite_core::domain::{
    CallbackData, MeetingPlacement, NewMeeting, NewServer, PlaybackFormat, Recording,
    RecordingFilter, Secret, ServerPatch, ServerState, TagRequest, Tenant, TenantSetting,
    Thumbnail,
};
use scalelite_core::storage::{
    MeetingStore, MiscStore, NewPlacement, RecordingStore, SelectError, ServerStore, StoreError,
    TenantStore,
};

use crate::contract::contract_suite;
use crate::pg_support::TestEnv;

/// A store on a fresh Redis namespace and PostgreSQL database; the `TestEnv` removes both when dropped.
pub async fn make_store() -> (
    scalelite_core::storage::production::ProductionStore,
    TestEnv,
) {
    let env = TestEnv::new().await;
    let store = env.store().await;
    (store, env)
}

mod contract {
    use super::make_store;

    super::contract_suite!(make_store);
}

pub fn new_server(id: &str, tag: Option<&str>, multiplier: f64) -> NewServer {
    NewServer {
        id: id.to_owned(),
        url: format!("https://{id}.example/bigbluebutton/api/"),
        secret: Secret::new(format!("secret-{id}")),
        tag: tag.map(str::to_owned),
        state: ServerState::Enabled,
        load_multiplier: multiplier,
    }
}

/// A patch that puts a server online at `value` (also used by the embedded store's tests).
pub fn load(value: f64) -> ServerPatch {
    ServerPatch {
        load: Some(Some(value)),
        online: Some(true),
        ..ServerPatch::default()
    }
}

pub fn new_meeting(id: &str, server: &str, tenant: Option<&str>, bridges: &[&str]) -> NewMeeting {
    NewMeeting {
        id: id.to_owned(),
        server_id: server.to_owned(),
        moderator_pw: "mp".to_owned(),
        voice_bridge_candidates: bridges.iter().map(|b| (*b).to_owned()).collect(),
        tenant_id: tenant.map(str::to_owned),
    }
}

pub fn recording(
    record_id: &str,
    meeting_id: &str,
    start_ms: i64,
    meta: &[(&str, &str)],
) -> Recording {
    Recording {
        record_id: record_id.to_owned(),
        meeting_id: meeting_id.to_owned(),
        name: Some(format!("Recording {record_id}")),
        published: true,
        participants: Some(3),
        state: Some("published".to_owned()),
        starttime: Utc.timestamp_millis_opt(start_ms).single(),
        endtime: Utc.timestamp_millis_opt(start_ms + 60_000).single(),
        deleted_at: None,
        protected: false,
        publish_updated: false,
        metadata: meta
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        playback_formats: vec![PlaybackFormat {
            format: "presentation".to_owned(),
            url: format!("/playback/presentation/2.3/{record_id}"),
            length: Some(12),
            processing_time: None,
            thumbnails: vec![
                Thumbnail {
                    width: Some(176),
                    height: Some(136),
                    alt: Some("slide 1".to_owned()),
                    url: format!("/presentation/{record_id}/thumb-1.png"),
                    sequence: 0,
                },
                Thumbnail {
                    width: None,
                    height: None,
                    alt: None,
                    url: format!("/presentation/{record_id}/thumb-2.png"),
                    sequence: 1,
                },
            ],
        }],
    }
}

fn ids(recs: &[Recording]) -> Vec<&str> {
    recs.iter().map(|r| r.record_id.as_str()).collect()
}

#[tokio::test]
async fn select_server_is_atomic_across_store_instances() {
    let env = TestEnv::new().await;
    let a = env.store().await;
    let b = env.store().await;
    a.add_server(new_server("s1", None, 1.0)).await.unwrap();
    a.add_server(new_server("s2", None, 2.0)).await.unwrap();
    a.patch_server("s1", load(0.0)).await.unwrap();
    a.patch_server("s2", load(0.0)).await.unwrap();

    let mut tasks = Vec::new();
    for i in 0..30 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            store.select_server(&TagRequest::default()).await.unwrap()
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        let s = t.await.unwrap();
        // Every caller saw its own increment: no two callers got the same (server, load after the bump).
        assert!(
            seen.insert((s.id.clone(), s.load.unwrap().to_bits())),
            "duplicate {s:?}"
        );
    }
    let s1 = a.get_server("s1").await.unwrap().load.unwrap();
    let s2 = a.get_server("s2").await.unwrap().load.unwrap();
    // Each selection adds its server's multiplier: s1 got n1 × 1, s2 got n2 × 2 with n1 + n2 = 30.
    assert_eq!(s1 + s2 / 2.0, 30.0, "s1={s1} s2={s2}");
    env.cleanup().await;
}

#[tokio::test]
async fn select_server_follows_tags_and_load() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    for (id, tag, l) in [
        ("u1", None, 5.0),
        ("u2", None, 3.0),
        ("t1", Some("red"), 9.0),
        ("t2", Some("red"), 1.0),
        ("g1", Some("green"), 0.0),
    ] {
        s.add_server(new_server(id, tag, 1.0)).await.unwrap();
        s.patch_server(id, load(l)).await.unwrap();
    }
    let pick = |tags: &str| {
        let s = s.clone();
        let req = TagRequest::parse(Some(tags));
        async move { s.select_server(&req).await }
    };
    // Untagged requests only use untagged servers.
    assert_eq!(pick("").await.unwrap().id, "u2");
    // Tagged: lowest load among matching servers.
    assert_eq!(pick("red").await.unwrap().id, "t2");
    // Several tags: union, by load.
    assert_eq!(pick("red;green!").await.unwrap().id, "g1");
    // `none` matches untagged servers.
    let none = pick("none").await.unwrap();
    assert!(none.tag.is_none());
    // Unknown optional tag falls back to untagged; required fails with the tag list.
    assert!(pick("blue").await.unwrap().tag.is_none());
    match pick("blue;pink!").await {
        Err(SelectError::TagUnavailable(t)) => assert_eq!(t, "blue;pink"),
        other => panic!("expected TagUnavailable, got {other:?}"),
    }
    // The returned server is enabled with its bumped load.
    let chosen = pick("red").await.unwrap();
    assert_eq!(chosen.state, ServerState::Enabled);
    assert_eq!(chosen.load, s.get_server(&chosen.id).await.unwrap().load);
    env.cleanup().await;
}

#[tokio::test]
async fn select_server_without_available_servers() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    assert!(matches!(
        s.select_server(&TagRequest::default()).await,
        Err(SelectError::NoServers)
    ));
    // Only a tagged server available: an untagged request finds nothing.
    s.add_server(new_server("t", Some("x"), 1.0)).await.unwrap();
    s.patch_server("t", load(0.0)).await.unwrap();
    assert!(matches!(
        s.select_server(&TagRequest::default()).await,
        Err(SelectError::NoServers)
    ));
    env.cleanup().await;
}

#[tokio::test]
async fn patch_server_moves_load_with_state() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    s.add_server(new_server("a", None, 1.0)).await.unwrap();
    assert_eq!(s.get_server("a").await.unwrap().load, None);
    s.patch_server("a", load(4.0)).await.unwrap();
    let cordon = ServerPatch {
        state: Some(ServerState::Cordoned),
        ..ServerPatch::default()
    };
    let c = s.patch_server("a", cordon).await.unwrap();
    assert_eq!((c.state, c.load), (ServerState::Cordoned, Some(4.0)));
    assert!(s.available_servers().await.unwrap().is_empty());
    assert_eq!(
        s.increment_load("a", 1.0).await.unwrap(),
        None,
        "cordoned: no bump"
    );
    let enable = ServerPatch {
        state: Some(ServerState::Enabled),
        ..ServerPatch::default()
    };
    let e = s.patch_server("a", enable).await.unwrap();
    assert_eq!((e.state, e.load), (ServerState::Enabled, Some(4.0)));
    assert_eq!(s.increment_load("a", 2.5).await.unwrap(), Some(6.5));
    let disable = ServerPatch {
        state: Some(ServerState::Disabled),
        load: Some(Some(3.0)),
        ..ServerPatch::default()
    };
    let d = s.patch_server("a", disable).await.unwrap();
    assert_eq!(
        (d.state, d.load),
        (ServerState::Disabled, None),
        "a disabled server never gets a load"
    );
    assert!(matches!(
        s.patch_server("missing", ServerPatch::default()).await,
        Err(StoreError::NotFound(_))
    ));
    env.cleanup().await;
}

/// The counters hash lives under the bare server id (the original's layout), where another key of another type
/// may sit: the server still reads, every read path, with no counters, and they read again once the key is a hash.
#[tokio::test]
async fn servers_read_past_a_counters_key_of_another_type() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    s.add_server(new_server("a", None, 1.0)).await.unwrap();
    s.patch_server("a", load(0.0)).await.unwrap();
    assert_eq!(s.increment_healthy("a").await.unwrap(), 1);
    let mut raw = env.redis.clone();
    let counters = env.keys.counters("a");
    let _: () = redis::cmd("SET")
        .arg(&counters)
        .arg("not a hash")
        .query_async(&mut raw)
        .await
        .unwrap();
    let got = s.get_server("a").await.unwrap();
    assert_eq!((got.healthy_counter, got.unhealthy_counter), (0, 0));
    assert_eq!(s.list_servers().await.unwrap().len(), 1);
    let picked = s.select_server(&TagRequest::default()).await.unwrap();
    assert_eq!(picked.id, "a");
    let _: () = redis::cmd("DEL")
        .arg(&counters)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(s.increment_unhealthy("a").await.unwrap(), 1);
    let got = s.get_server("a").await.unwrap();
    assert_eq!((got.healthy_counter, got.unhealthy_counter), (0, 1));
    env.cleanup().await;
}

#[tokio::test]
async fn servers_crud_and_counters() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    let added = s.add_server(new_server("a", Some("t"), 2.5)).await.unwrap();
    assert_eq!(added.tag.as_deref(), Some("t"));
    assert_eq!(added.load_multiplier, 2.5);
    assert!(!added.online);
    assert!(matches!(
        s.add_server(new_server("a", None, 1.0)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.increment_healthy("a").await.unwrap(), 1);
    assert_eq!(s.increment_healthy("a").await.unwrap(), 2);
    assert_eq!(s.increment_unhealthy("a").await.unwrap(), 1);
    let got = s.get_server("a").await.unwrap();
    assert_eq!((got.healthy_counter, got.unhealthy_counter), (2, 1));
    s.reset_counters("a", true, false).await.unwrap();
    let got = s.get_server("a").await.unwrap();
    assert_eq!((got.healthy_counter, got.unhealthy_counter), (0, 1));
    let untag = ServerPatch {
        tag: Some(None),
        ..ServerPatch::default()
    };
    assert_eq!(s.patch_server("a", untag).await.unwrap().tag, None);
    assert_eq!(s.list_servers().await.unwrap().len(), 1);
    s.delete_server("a").await.unwrap();
    assert!(matches!(
        s.get_server("a").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.delete_server("a").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(s.list_servers().await.unwrap().is_empty());
    env.cleanup().await;
}

#[tokio::test]
async fn find_or_create_meeting_creates_once_under_concurrency() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.find_or_create_meeting(
                new_meeting(
                    "m1",
                    &format!("server{i}"),
                    None,
                    &["111111111", "222222222"],
                ),
                Duration::from_secs(600),
            )
            .await
            .unwrap()
        }));
    }
    let mut created = 0;
    let mut servers = HashSet::new();
    for t in tasks {
        let p = t.await.unwrap();
        if matches!(p, MeetingPlacement::Created(_)) {
            created += 1;
        }
        servers.insert(p.meeting().server_id.clone());
        assert_eq!(p.meeting().voice_bridge, "111111111");
    }
    assert_eq!(created, 1);
    assert_eq!(servers.len(), 1, "every caller sees the winner's server");
    env.cleanup().await;
}

#[tokio::test]
async fn meetings_voice_bridges_tenants_and_ttl() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    let ttl = Duration::from_secs(300);
    let m1 = s
        .find_or_create_meeting(
            new_meeting("m1", "a", Some("t1"), &["100000001", "100000002"]),
            ttl,
        )
        .await
        .unwrap();
    assert!(matches!(m1, MeetingPlacement::Created(_)));
    // The next meeting skips the taken number.
    let m2 = s
        .find_or_create_meeting(
            new_meeting("m2", "a", None, &["100000001", "100000002"]),
            ttl,
        )
        .await
        .unwrap();
    assert_eq!(m2.meeting().voice_bridge, "100000002");
    // All candidates taken: Conflict.
    assert!(matches!(
        s.find_or_create_meeting(
            new_meeting("m3", "a", None, &["100000001", "100000002"]),
            ttl
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    // Tenant mismatch: Conflict; same tenant or none: the existing record.
    assert!(matches!(
        s.find_or_create_meeting(new_meeting("m1", "b", Some("t2"), &["1"]), ttl)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let again = s
        .find_or_create_meeting(new_meeting("m1", "b", None, &["1"]), ttl)
        .await
        .unwrap();
    assert!(
        matches!(again, MeetingPlacement::Existing(ref m) if m.server_id == "a" && m.tenant_id.as_deref() == Some("t1"))
    );
    assert_eq!(
        s.meeting_by_voice_bridge("100000002").await.unwrap().id,
        "m2"
    );
    assert!(matches!(
        s.meeting_by_voice_bridge("999").await,
        Err(StoreError::NotFound(_))
    ));

    // TTL set at creation and extended by refresh.
    let mut raw = env.redis.clone();
    let key = env.keys.meeting("m1");
    let t: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(t > 0 && t <= 300, "ttl {t}");
    s.refresh_meetings(
        &["m1".to_owned(), "gone".to_owned()],
        Duration::from_secs(5000),
    )
    .await
    .unwrap();
    let t: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(t > 300, "refreshed ttl {t}");

    // Delete frees the number; deleting again is not an error.
    assert!(s.delete_meeting("m2").await.unwrap());
    assert!(!s.delete_meeting("m2").await.unwrap());
    let m3 = s
        .find_or_create_meeting(
            new_meeting("m3", "a", None, &["100000001", "100000002"]),
            ttl,
        )
        .await
        .unwrap();
    assert_eq!(m3.meeting().voice_bridge, "100000002");
    let mut listed: Vec<String> = s
        .list_meetings()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    listed.sort();
    assert_eq!(listed, ["m1", "m3"]);
    env.cleanup().await;
}

#[tokio::test]
async fn expired_meetings_leave_orphans_that_clean_orphans_removes() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    s.find_or_create_meeting(
        new_meeting("keep", "a", None, &["200000001"]),
        Duration::from_secs(600),
    )
    .await
    .unwrap();
    s.find_or_create_meeting(
        new_meeting("gone", "a", None, &["200000002"]),
        Duration::from_secs(600),
    )
    .await
    .unwrap();
    // Simulate TTL expiry of one record.
    let mut raw = env.redis.clone();
    let _: () = redis::cmd("DEL")
        .arg(env.keys.meeting("gone"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(matches!(
        s.get_meeting("gone").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.list_meetings().await.unwrap().len(), 1);
    assert_eq!(
        s.clean_orphans().await.unwrap(),
        2,
        "one meetings entry and one voice bridge"
    );
    assert_eq!(s.clean_orphans().await.unwrap(), 0);
    let members: Vec<String> = redis::cmd("SMEMBERS")
        .arg(env.keys.meetings())
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(members, ["keep"]);
    let bridges: Vec<String> = redis::cmd("HKEYS")
        .arg(env.keys.voice_bridges())
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(bridges, ["200000001"]);
    env.cleanup().await;
}

#[tokio::test]
async fn tenants_and_settings() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    let t = Tenant {
        id: "t1".into(),
        name: "acme".into(),
        secrets: vec![Secret::new("s1"), Secret::new("s2")],
        lrs_endpoint: Some("https://lrs.example".into()),
        ..Tenant::default()
    };
    s.add_tenant(t.clone()).await.unwrap();
    assert!(matches!(
        s.add_tenant(t.clone()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_tenant_by_name("acme").await.unwrap(), t);
    assert!(matches!(
        s.get_tenant_by_name("ACME").await,
        Err(StoreError::NotFound(_))
    ));
    let renamed = Tenant {
        name: "acme2".into(),
        lrs_endpoint: None,
        ..t.clone()
    };
    assert_eq!(s.update_tenant(renamed.clone()).await.unwrap(), renamed);
    assert!(matches!(
        s.get_tenant_by_name("acme").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.get_tenant_by_name("acme2").await.unwrap().id, "t1");
    assert!(matches!(
        s.update_tenant(Tenant {
            id: "nope".into(),
            ..renamed.clone()
        })
        .await,
        Err(StoreError::NotFound(_))
    ));
    let setting = TenantSetting {
        id: "set1".into(),
        tenant_id: "t1".into(),
        param: "record".into(),
        value: "false".into(),
        override_value: true,
    };
    s.put_tenant_setting(setting.clone()).await.unwrap();
    let changed = TenantSetting {
        value: "true".into(),
        ..setting.clone()
    };
    s.put_tenant_setting(changed.clone()).await.unwrap();
    assert_eq!(s.list_tenant_settings("t1").await.unwrap(), [changed]);
    s.delete_tenant_setting("t1", "set1").await.unwrap();
    assert!(s.list_tenant_settings("t1").await.unwrap().is_empty());
    assert!(matches!(
        s.delete_tenant_setting("t1", "set1").await,
        Err(StoreError::NotFound(_))
    ));
    s.delete_tenant("t1").await.unwrap();
    assert!(s.list_tenants().await.unwrap().is_empty());
    assert!(matches!(
        s.get_tenant_by_name("acme2").await,
        Err(StoreError::NotFound(_))
    ));
    env.cleanup().await;
}

#[tokio::test]
async fn tokens_are_one_time_and_leases_exclusive() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    let token = "ab".repeat(32);
    s.put_playback_token(&token, "rec1", "presentation", Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(
        s.take_playback_token(&token).await.unwrap(),
        Some(("rec1".to_owned(), "presentation".to_owned()))
    );
    assert_eq!(s.take_playback_token(&token).await.unwrap(), None);

    let ttl = Duration::from_secs(30);
    assert!(s.try_lease("poller", "p1", ttl).await.unwrap());
    assert!(!s.try_lease("poller", "p2", ttl).await.unwrap());
    assert!(s.try_lease("poller", "p1", ttl).await.unwrap(), "renewal");
    s.release_lease("poller", "p2").await.unwrap();
    assert!(
        !s.try_lease("poller", "p2", ttl).await.unwrap(),
        "only the holder releases"
    );
    s.release_lease("poller", "p1").await.unwrap();
    assert!(s.try_lease("poller", "p2", ttl).await.unwrap());
    s.health_check().await.unwrap();
    env.cleanup().await;
}

#[tokio::test]
async fn recordings_upsert_and_read_back() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    let r = recording(
        "rec-1",
        "meet-1",
        1_700_000_000_123,
        &[("bbb-origin", "gl"), ("tenant-id", "t1")],
    );
    let stored = s.upsert_recording(r.clone()).await.unwrap();
    assert_eq!(stored, r);
    assert_eq!(s.get_recording("rec-1").await.unwrap(), r);
    // Re-import: metadata upserted by key (missing keys kept), formats by format, thumbnails replaced.
    let mut again = r.clone();
    again.name = Some("Renamed".into());
    again.metadata = vec![
        ("bbb-origin".into(), "moodle".into()),
        ("new".into(), "x".into()),
    ];
    again.playback_formats[0].thumbnails.truncate(1);
    again.playback_formats.push(PlaybackFormat {
        format: "video".into(),
        url: "/playback/video/rec-1/".into(),
        length: Some(13),
        processing_time: Some(7),
        thumbnails: vec![],
    });
    let stored = s.upsert_recording(again.clone()).await.unwrap();
    assert_eq!(stored.name.as_deref(), Some("Renamed"));
    assert_eq!(
        stored.metadata,
        [
            ("bbb-origin".to_owned(), "moodle".to_owned()),
            ("tenant-id".to_owned(), "t1".to_owned()),
            ("new".to_owned(), "x".to_owned())
        ]
    );
    assert_eq!(stored.playback_formats.len(), 2);
    assert_eq!(stored.playback_formats[0].thumbnails.len(), 1);
    assert_eq!(stored.playback_formats[1].format, "video");
    assert!(matches!(
        s.get_recording("nope").await,
        Err(StoreError::NotFound(_))
    ));
    env.cleanup().await;
}

#[tokio::test]
async fn find_recordings_filters() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    let fixtures = [
        recording(
            "abc_1-100",
            "m1",
            1_000,
            &[("tenant-id", "t1"), ("gl-listed", "true")],
        ),
        recording(
            "abc%1-200",
            "m1",
            3_000,
            &[("tenant-id", "t1"), ("bbb-context", "c1")],
        ),
        recording(
            "abcx1-300",
            "m2",
            2_000,
            &[("tenant-id", "t2"), ("bbb-context", "c1")],
        ),
        recording("ABC|1-400", "m3", 4_000, &[]),
    ];
    for r in fixtures {
        s.upsert_recording(r).await.unwrap();
    }
    let find = |f: RecordingFilter| {
        let s = s.clone();
        async move { s.find_recordings(&f).await.unwrap() }
    };
    // Everything, newest first.
    assert_eq!(
        ids(&find(RecordingFilter::default()).await),
        ["ABC|1-400", "abc%1-200", "abcx1-300", "abc_1-100"]
    );
    // Prefixes are literal and case-sensitive: `_` and `%` are not wildcards.
    let prefix = |p: &[&str]| RecordingFilter {
        record_id_prefixes: Some(p.iter().map(|x| (*x).to_owned()).collect()),
        ..RecordingFilter::default()
    };
    assert_eq!(ids(&find(prefix(&["abc_"])).await), ["abc_1-100"]);
    assert_eq!(ids(&find(prefix(&["abc%"])).await), ["abc%1-200"]);
    assert_eq!(ids(&find(prefix(&["ABC|"])).await), ["ABC|1-400"]);
    assert_eq!(
        ids(&find(prefix(&["abc_", "abcx"])).await),
        ["abcx1-300", "abc_1-100"]
    );
    assert_eq!(find(prefix(&[""])).await.len(), 4);
    assert!(find(prefix(&[])).await.is_empty());
    // Meeting ids, states, exact ids.
    let f = RecordingFilter {
        meeting_ids: Some(vec!["m1".into()]),
        ..RecordingFilter::default()
    };
    assert_eq!(ids(&find(f).await), ["abc%1-200", "abc_1-100"]);
    s.set_published("abc_1-100", false).await.unwrap();
    let f = RecordingFilter {
        states: Some(vec!["unpublished".into()]),
        ..RecordingFilter::default()
    };
    let unpublished = find(f).await;
    assert_eq!(ids(&unpublished), ["abc_1-100"]);
    assert!(!unpublished[0].published && unpublished[0].publish_updated);
    let f = RecordingFilter {
        record_ids: Some(vec!["abcx1-300".into(), "nope".into()]),
        ..RecordingFilter::default()
    };
    assert_eq!(ids(&find(f).await), ["abcx1-300"]);
    // Metadata OR across pairs; tenant filter independent of it.
    let f = RecordingFilter {
        metadata_any: Some(vec![
            ("bbb-context".into(), "c1".into()),
            ("gl-listed".into(), "true".into()),
        ]),
        ..RecordingFilter::default()
    };
    assert_eq!(
        ids(&find(f.clone()).await),
        ["abc%1-200", "abcx1-300", "abc_1-100"]
    );
    let with_tenant = RecordingFilter {
        tenant_id: Some("t1".into()),
        ..f
    };
    assert_eq!(ids(&find(with_tenant).await), ["abc%1-200", "abc_1-100"]);
    let none = RecordingFilter {
        metadata_any: Some(vec![]),
        ..RecordingFilter::default()
    };
    assert!(find(none).await.is_empty());
    // Pagination.
    let page = RecordingFilter {
        offset: Some(1),
        limit: Some(2),
        ..RecordingFilter::default()
    };
    assert_eq!(ids(&find(page).await), ["abc%1-200", "abcx1-300"]);
    env.cleanup().await;
}

#[tokio::test]
async fn metadata_updates_deletion_and_callback_data() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    s.upsert_recording(recording("r1", "m1", 1, &[("a", "1"), ("b", "2")]))
        .await
        .unwrap();
    s.upsert_recording(recording("r2", "m1", 2, &[("a", "1")]))
        .await
        .unwrap();
    s.update_metadata(
        &["r1".into(), "r2".into(), "unknown".into()],
        &[("a".into(), "9".into()), ("c".into(), "3".into())],
        &["b".into()],
    )
    .await
    .unwrap();
    let r1 = s.get_recording("r1").await.unwrap();
    assert_eq!(
        r1.metadata,
        [
            ("a".to_owned(), "9".to_owned()),
            ("c".to_owned(), "3".to_owned())
        ]
    );
    assert_eq!(s.get_recording("r2").await.unwrap().metadata, r1.metadata);
    s.set_protected("r1", true).await.unwrap();
    assert!(s.get_recording("r1").await.unwrap().protected);
    assert!(matches!(
        s.set_protected("nope", true).await,
        Err(StoreError::NotFound(_))
    ));
    s.mark_recording_deleted("r1").await.unwrap();
    let deleted = s.get_recording("r1").await.unwrap();
    assert_eq!(deleted.state.as_deref(), Some("deleted"));
    assert!(deleted.metadata.is_empty() && deleted.playback_formats.is_empty());
    let orphans: i64 = sqlx::query_scalar("SELECT count(*) FROM thumbnails")
        .fetch_one(env.pg())
        .await
        .unwrap();
    assert_eq!(orphans, 2, "only r2's thumbnails remain");

    assert_eq!(s.get_callback_data(None, "m1").await.unwrap(), None);
    let mut cb = CallbackData {
        meeting_id: "m1".into(),
        recording_id: None,
        recording_ready_url: Some("https://lms.example/ready?x=1".into()),
        analytics_callback_url: None,
        ..CallbackData::default()
    };
    s.put_callback_data(cb.clone()).await.unwrap();
    assert_eq!(
        s.get_callback_data(None, "m1").await.unwrap(),
        Some(cb.clone())
    );
    cb.recording_id = Some(42);
    cb.analytics_callback_url = Some("https://a.example/cb".into());
    s.put_callback_data(cb.clone()).await.unwrap();
    assert_eq!(s.get_callback_data(None, "m1").await.unwrap(), Some(cb));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM callback_data")
        .fetch_one(env.pg())
        .await
        .unwrap();
    assert_eq!(rows, 1, "replaced, not duplicated");
    env.cleanup().await;
}

#[tokio::test]
async fn namespaces_are_isolated() {
    let one = TestEnv::new().await;
    let two = TestEnv::new().await;
    let a = one.store().await;
    let b = two.store().await;
    a.add_server(new_server("x", None, 1.0)).await.unwrap();
    assert!(b.list_servers().await.unwrap().is_empty());
    assert_eq!(a.keys().servers(), format!("{}:servers", one.namespace));
    one.cleanup().await;
    two.cleanup().await;
}

/// A pooled connection is pinged before use only after it sat idle a while (no second round trip per operation
/// under load), but one PostgreSQL dropped meanwhile is still found then and replaced, not handed out.
#[tokio::test]
async fn a_connection_postgres_dropped_while_idle_is_replaced_before_use() {
    let (store, env) = make_store().await;
    assert_eq!(store.get_callback_data(None, "m").await.unwrap(), None);
    let dropped: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND application_name = 'scalelite'",
    )
    .bind(&env.db().name)
    .fetch_all(env.pg())
    .await
    .unwrap();
    assert!(!dropped.is_empty(), "the store held a connection");
    // Past the idle time after which a connection is pinged (1 s); not a timing assertion.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        store.get_callback_data(None, "m").await.unwrap(),
        None,
        "the dropped connection was replaced"
    );
}

/// A new meeting's confirmation writes the callback URL mark its create's `clear_callback_urls` left (one round trip
/// for both): the next create of the meeting skips the callback data; URLs written after that read leave it unmarked,
/// and a confirmation whose claim was lost still marks (the data was read either way).
#[tokio::test]
async fn a_confirmation_marks_the_callback_data_clean_unless_urls_came_since() {
    let (s, _env) = make_store().await;
    let params = scalelite_core::domain::CreateParams {
        params: vec![("meetingID".to_owned(), "m".to_owned())],
        body: None,
        server_tag: None,
    };
    let urls = |id: &str| CallbackData {
        meeting_id: id.to_owned(),
        tenant_id: Some("t1".to_owned()),
        server_id: Some("bbb-1".to_owned()),
        recording_id: None,
        recording_ready_url: Some("https://lms.example.com/ready".to_owned()),
        analytics_callback_url: None,
    };
    let long = Duration::from_secs(3600);
    for (id, urls_meanwhile, token) in [
        ("m0", false, "tok"),
        ("m1", true, "tok"),
        ("m2", false, "not-the-claim"),
    ] {
        let read = s.meeting_for_create(id, Some("t1"), None).await.unwrap();
        assert!(read.placed.is_none() && read.placed_new.is_none());
        let mark = read.mark;
        assert!(!mark.known_clean(), "{id}: nothing known yet");
        let clean = s
            .clear_callback_urls(Some("t1"), id, "bbb-1", &mark)
            .await
            .unwrap()
            .expect("PostgreSQL was read: the mark is left to write");
        let read = s.meeting_for_create(id, Some("t1"), None).await.unwrap();
        assert!(read.placed.is_none());
        let meeting = new_meeting(id, "bbb-1", Some("t1"), &["71000"]);
        s.claim_meeting(meeting, "tok", long, long).await.unwrap();
        if urls_meanwhile {
            s.put_callback_data(urls(id)).await.unwrap();
        }
        let confirmed = s
            .confirm_meeting_with_params(id, token, &params, long, Some(&clean))
            .await
            .unwrap();
        assert_eq!(confirmed, token == "tok", "{id}");
        let read = s.meeting_for_create(id, Some("t1"), None).await.unwrap();
        assert_eq!(read.mark.known_clean(), !urls_meanwhile, "{id}");
        s.delete_meeting(id).await.unwrap();
    }
}

/// Once the callback data is indexed, a create of a meeting whose mark counts no write of URLs knows there is none to
/// clear (and skips PostgreSQL): rows written without a mark (as the original writes them) get their generation
/// from the indexing, rows written after it from `put_callback_data`. A generation outlives the URLs it counts: the
/// mark expires only once every tenant's data in it is clean. An index made before Redis restarted is made again;
/// without the index (Redis lost it), nothing is taken for clean.
#[tokio::test]
async fn indexed_callback_data_lets_creates_of_new_meetings_skip_postgres() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    let mut raw = env.redis.clone();
    let data = |id: &str, tenant: Option<&str>, url: bool| CallbackData {
        meeting_id: id.to_owned(),
        tenant_id: tenant.map(str::to_owned),
        server_id: Some("bbb-1".to_owned()),
        recording_id: None,
        recording_ready_url: url.then(|| "https://lms.example.com/ready".to_owned()),
        analytics_callback_url: None,
    };
    for (id, tenant, url) in [
        ("legacy", None, true),
        ("legacy-t", Some("t1"), true),
        ("plain", None, false),
    ] {
        s.put_callback_data(data(id, tenant, url)).await.unwrap();
        let _: () = redis::cmd("DEL")
            .arg(env.keys.callback_urls(id))
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    let known_clean = async |id: &str, tenant: Option<&str>| {
        s.meeting_for_create(id, tenant, None)
            .await
            .unwrap()
            .mark
            .known_clean()
    };
    for (id, tenant) in [("legacy", None), ("legacy-t", Some("t1")), ("new", None)] {
        assert!(!known_clean(id, tenant).await, "{id}: not indexed yet");
    }

    assert!(s.index_callback_urls("test").await.unwrap(), "indexed");
    assert!(
        !s.index_callback_urls("test").await.unwrap(),
        "already indexed"
    );
    assert!(known_clean("new", None).await, "no URL ever written");
    assert!(known_clean("plain", None).await, "a row without URLs");
    assert!(
        known_clean("legacy-t", None).await,
        "only tenant t1's data of legacy-t holds URLs"
    );
    assert!(!known_clean("legacy", None).await);
    assert!(!known_clean("legacy-t", Some("t1")).await);
    let mark = s
        .meeting_for_create("legacy", None, None)
        .await
        .unwrap()
        .mark;
    s.clear_callback_urls(None, "legacy", "bbb-1", &mark)
        .await
        .unwrap()
        .expect("PostgreSQL was read: the mark is left to write");
    let left = s.get_callback_data(None, "legacy").await.unwrap().unwrap();
    assert_eq!(
        left.recording_ready_url, None,
        "the indexed URLs are cleared"
    );

    // URLs written after the indexing count themselves, for two tenants of one meeting: the mark keeps no TTL
    // until both are clean.
    s.put_callback_data(data("both", None, true)).await.unwrap();
    s.put_callback_data(data("both", Some("t2"), true))
        .await
        .unwrap();
    let ttl = async || -> i64 {
        redis::cmd("TTL")
            .arg(env.keys.callback_urls("both"))
            .query_async(&mut env.redis.clone())
            .await
            .unwrap()
    };
    assert_eq!(ttl().await, -1, "URLs written: no expiry");
    for (tenant, expires) in [(None, false), (Some("t2"), true)] {
        assert!(
            !known_clean("both", tenant).await,
            "{tenant:?}: URLs written"
        );
        let mark = s
            .meeting_for_create("both", tenant, None)
            .await
            .unwrap()
            .mark;
        let clean = s
            .clear_callback_urls(tenant, "both", "bbb-1", &mark)
            .await
            .unwrap()
            .expect("PostgreSQL was read");
        s.mark_callback_urls_clean(&clean).await.unwrap();
        assert!(known_clean("both", tenant).await, "{tenant:?}: cleared");
        assert_eq!(
            ttl().await > 0,
            expires,
            "{tenant:?}: expires once all are clean"
        );
    }

    // A Redis that restarted (another run id) may have loaded a snapshot older than some counts: here legacy-t's.
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut raw)
        .await
        .unwrap();
    let run_id = info
        .lines()
        .find_map(|l| l.strip_prefix("run_id:"))
        .unwrap()
        .trim()
        .to_owned();
    let indexed = || {
        let mut get = redis::cmd("GET");
        get.arg(env.keys.callback_urls_indexed());
        get
    };
    let recorded: String = indexed().query_async(&mut raw).await.unwrap();
    assert_eq!(recorded, run_id, "the index names the Redis it was made in");
    let _: () = redis::pipe()
        .cmd("SET")
        .arg(env.keys.callback_urls_indexed())
        .arg("an-earlier-run")
        .cmd("DEL")
        .arg(env.keys.callback_urls("legacy-t"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        s.index_callback_urls("test").await.unwrap(),
        "indexed again after a restart"
    );
    let recorded: String = indexed().query_async(&mut raw).await.unwrap();
    assert_eq!(recorded, run_id);
    assert!(
        !known_clean("legacy-t", Some("t1")).await,
        "the count the snapshot lacked is back"
    );

    // Redis lost the index: back to reading PostgreSQL.
    let _: () = redis::cmd("DEL")
        .arg(env.keys.callback_urls_indexed())
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(!known_clean("new", None).await, "not indexed any more");
}

/// A callback data row the indexing cannot read keeps its meeting read on every create without a tenant (which
/// answers the row's error, as before the index), while a new meeting beside it is known clean.
#[tokio::test]
async fn an_unreadable_callback_row_is_not_taken_for_clean_by_the_index() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    sqlx::query(
        "INSERT INTO callback_data (meeting_id, callback_attributes, created_at, updated_at) \
         VALUES ('broken', '- [recording_ready_url', now(), now())",
    )
    .execute(env.pg())
    .await
    .unwrap();
    assert!(
        s.get_callback_data(None, "broken").await.is_err(),
        "the row does not decode"
    );
    assert!(s.index_callback_urls("test").await.unwrap());
    let known_clean = async |id: &str| {
        s.meeting_for_create(id, None, None)
            .await
            .unwrap()
            .mark
            .known_clean()
    };
    assert!(!known_clean("broken").await, "still read");
    assert!(known_clean("new").await);
}

/// Confirmations arriving together are written in shared script calls (`confirms.rs`): each caller still gets its
/// own meeting's answer, only a claim held by the confirming token is dropped, every meeting keeps its own create
/// parameters, and only the meetings whose confirmation carries a mark are marked clean.
#[tokio::test]
async fn concurrent_confirmations_each_settle_their_own_meeting() {
    let (s, _env) = make_store().await;
    let long = Duration::from_secs(3600);
    let params = |i: usize| scalelite_core::domain::CreateParams {
        params: vec![("meetingID".to_owned(), format!("m{i}"))],
        body: None,
        server_tag: None,
    };
    let mut marks = Vec::new();
    for i in 0..150 {
        let id = format!("m{i}");
        let mark = s.meeting_for_create(&id, None, None).await.unwrap().mark;
        marks.push(
            s.clear_callback_urls(None, &id, "bbb-1", &mark)
                .await
                .unwrap()
                .expect("PostgreSQL was read: the mark is left to write"),
        );
        let bridge = format!("{}", 70_000 + i);
        let meeting = new_meeting(&id, "bbb-1", None, &[bridge.as_str()]);
        s.claim_meeting(meeting, "tok", long, long).await.unwrap();
    }
    // Every third confirmation holds the wrong token; every other one carries a mark.
    let holds = |i: usize| i % 3 != 0;
    let marked = |i: usize| i % 2 == 0;
    let mut confirms = tokio::task::JoinSet::new();
    for (i, mark) in marks.into_iter().enumerate() {
        let s = s.clone();
        confirms.spawn(async move {
            let token = if holds(i) { "tok" } else { "someone-else" };
            let clean = marked(i).then_some(mark);
            let done = s
                .confirm_meeting_with_params(
                    &format!("m{i}"),
                    token,
                    &params(i),
                    long,
                    clean.as_ref(),
                )
                .await
                .unwrap();
            (i, done)
        });
    }
    let mut answered = 0;
    while let Some(joined) = confirms.join_next().await {
        let (i, done) = joined.unwrap();
        assert_eq!(done, holds(i), "m{i}'s own answer");
        answered += 1;
    }
    assert_eq!(answered, 150);
    for i in 0..150 {
        let id = format!("m{i}");
        let state = s.meeting_state(&id).await.unwrap().unwrap();
        let expected_claim = (!holds(i)).then(|| "tok".to_owned());
        assert_eq!(state.claim, expected_claim, "{id}'s claim");
        assert_eq!(
            s.get_create_params(&id).await.unwrap(),
            Some(params(i)),
            "{id}'s parameters"
        );
        let read = s.meeting_for_create(&id, None, None).await.unwrap();
        assert_eq!(read.mark.known_clean(), marked(i), "{id}'s mark");
    }
}

/// A confirmation that fails (here its claim key holds a hash) fails alone: the confirmations written in the same
/// script call still settle their own meetings.
#[tokio::test]
async fn a_failing_confirmation_does_not_fail_the_others_of_its_batch() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    let long = Duration::from_secs(3600);
    let params = scalelite_core::domain::CreateParams {
        params: vec![("meetingID".to_owned(), "m".to_owned())],
        body: None,
        server_tag: None,
    };
    for i in 0..40 {
        let bridge = format!("{}", 70_000 + i);
        let meeting = new_meeting(&format!("m{i}"), "bbb-1", None, &[bridge.as_str()]);
        s.claim_meeting(meeting, "tok", long, long).await.unwrap();
    }
    let mut raw = env.redis.clone();
    let broken = env.keys.meeting_claim("m7");
    let _: () = redis::cmd("DEL")
        .arg(&broken)
        .query_async(&mut raw)
        .await
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg(&broken)
        .arg("token")
        .arg("tok")
        .query_async(&mut raw)
        .await
        .unwrap();
    let mut confirms = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (s, params) = (s.clone(), params.clone());
        confirms.spawn(async move {
            let id = format!("m{i}");
            (
                i,
                s.confirm_meeting_with_params(&id, "tok", &params, long, None)
                    .await,
            )
        });
    }
    while let Some(joined) = confirms.join_next().await {
        let (i, confirmed) = joined.unwrap();
        if i == 7 {
            let error = confirmed.expect_err("the claim key holds a hash");
            assert!(error.to_string().contains("WRONGTYPE"), "{error}");
        } else {
            assert!(confirmed.unwrap(), "m{i} is confirmed");
            let state = s.meeting_state(&format!("m{i}")).await.unwrap().unwrap();
            assert_eq!(state.claim, None, "m{i}'s claim is dropped");
        }
    }
    env.cleanup().await;
}

/// What a create's read places when asked to: `place_meeting`'s placement, for `id` by `tenant` with these tags.
fn placement<'a>(
    id: &str,
    tags: &'a TagRequest,
    password: Option<&str>,
    bridges: &[&str],
) -> NewPlacement<'a> {
    NewPlacement {
        tags,
        meeting: NewMeeting {
            moderator_pw: String::new(),
            ..new_meeting(id, "", Some("t1"), bridges)
        },
        moderator_pw: password.map(str::to_owned),
        token: "tok",
        claim_for: Duration::from_secs(3600),
        ttl: Duration::from_secs(3600),
    }
}

/// A create's read places a meeting that does not exist in the same round trip, as `place_meeting` would: the
/// server picked for the tags (its load bumped), the record claimed on it with the given password or the server's
/// derived one; nothing for a meeting that exists; and when no voice bridge is free, no record and the bump given
/// back.
#[tokio::test]
async fn a_create_read_places_a_meeting_that_does_not_exist() {
    let (s, _env) = make_store().await;
    for (id, tag, l) in [
        ("u1", None, 5.0),
        ("u2", None, 3.0),
        ("r1", Some("red"), 9.0),
    ] {
        s.add_server(new_server(id, tag, 2.0)).await.unwrap();
        s.patch_server(id, load(l)).await.unwrap();
    }
    let load_of = |id: &'static str| {
        let s = s.clone();
        async move { s.get_server(id).await.unwrap().load }
    };
    let place = |id: &'static str, tags: &'static str, password: Option<&'static str>| {
        let s = s.clone();
        async move {
            let tags = TagRequest::parse(Some(tags));
            let placement = placement(id, &tags, password, &[&format!("7100{}", &id[1..])]);
            s.meeting_for_create(id, Some("t1"), Some(&placement))
                .await
                .unwrap()
        }
    };

    let read = place("m1", "", None).await;
    assert!(read.placed.is_none());
    let (server, placed) = read.placed_new.expect("placed").expect("a server");
    assert_eq!(server.id, "u2");
    assert_eq!(server.load, Some(5.0), "bumped by its multiplier");
    assert_eq!(load_of("u2").await, Some(5.0));
    let MeetingPlacement::Created(m1) = placed.unwrap() else {
        panic!("created");
    };
    let expected_pw = server.derived_moderator_password("m1");
    assert_eq!(
        (m1.server_id.as_str(), m1.moderator_pw.as_str()),
        ("u2", expected_pw.as_str())
    );
    assert_eq!(
        (m1.voice_bridge.as_str(), m1.tenant_id.as_deref()),
        ("71001", Some("t1"))
    );
    assert_eq!(s.get_meeting("m1").await.unwrap(), m1);
    let state = s.meeting_state("m1").await.unwrap().unwrap();
    assert_eq!(state.claim.as_deref(), Some("tok"));

    // It exists now: read, not placed again, no bump.
    let read = place("m1", "", None).await;
    assert_eq!(read.placed.expect("read").state.meeting, m1);
    assert!(
        read.placed_new.is_none(),
        "a meeting that exists is not placed"
    );
    assert_eq!(load_of("u2").await, Some(5.0));

    match place("m2", "blue!", None).await.placed_new {
        Some(Err(SelectError::TagUnavailable(t))) => assert_eq!(t, "blue"),
        other => panic!("expected TagUnavailable, got {other:?}"),
    }
    assert!(s.meeting_state("m2").await.unwrap().is_none());
    let (red, placed) = place("m2", "red", Some("given"))
        .await
        .placed_new
        .unwrap()
        .unwrap();
    assert_eq!(red.id, "r1");
    let MeetingPlacement::Created(m2) = placed.unwrap() else {
        panic!("created");
    };
    assert_eq!(
        (m2.server_id.as_str(), m2.moderator_pw.as_str()),
        ("r1", "given")
    );
    assert_eq!(load_of("r1").await, Some(11.0));

    // m3's one voice bridge candidate is m1's: no record, and the bump goes back.
    let tags = TagRequest::parse(None);
    let taken = placement("m3", &tags, None, &["71001"]);
    let read = s
        .meeting_for_create("m3", Some("t1"), Some(&taken))
        .await
        .unwrap();
    let (picked, placed) = read.placed_new.unwrap().unwrap();
    assert_eq!(picked.id, "u1");
    match placed {
        Err(StoreError::Conflict(message)) => assert_eq!(
            message,
            "Failed to allocate conference number for meeting m3 after 1 tries"
        ),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(picked.load, Some(5.0), "the pick's load as given back");
    assert_eq!(load_of("u1").await, Some(5.0));
    assert!(s.meeting_state("m3").await.unwrap().is_none());
}

/// The moderator password the production store derives inside Redis, as it places a new meeting, is the one
/// `Server::derived_moderator_password` derives: for secrets empty, short, around SHA-1's 64-byte block and
/// longer, and meeting ids with bytes outside ASCII.
#[tokio::test]
async fn the_password_derived_in_redis_is_the_servers_derived_password() {
    let (s, _env) = make_store().await;
    let secrets = [
        String::new(),
        "s".to_owned(),
        "x".repeat(63),
        "y".repeat(64),
        "z".repeat(65),
        "0123456789abcdef".repeat(12),
        "sécret-ü".to_owned(),
    ];
    let ids = [
        "m",
        "room 1/2?a=b&c",
        "Besprechungsraum-Ä-日本",
        &"i".repeat(300),
    ];
    for (i, secret) in secrets.iter().enumerate() {
        let tag = format!("k{i}");
        let id = format!("s{i}");
        s.add_server(NewServer {
            secret: Secret::new(secret.clone()),
            ..new_server(&id, Some(&tag), 1.0)
        })
        .await
        .unwrap();
        s.patch_server(&id, load(0.0)).await.unwrap();
        let tags = TagRequest::parse(Some(&format!("{tag}!")));
        for (j, meeting_id) in ids.iter().enumerate() {
            let meeting_id = format!("{meeting_id}-{i}");
            let bridge = format!("{}", 20000 + i * 10 + j);
            let read = s
                .meeting_for_create(
                    &meeting_id,
                    None,
                    Some(&placement(&meeting_id, &tags, None, &[&bridge])),
                )
                .await
                .unwrap();
            let (server, placed) = read.placed_new.unwrap().unwrap();
            assert_eq!(server.id, id);
            let Ok(MeetingPlacement::Created(meeting)) = placed else {
                panic!("created: {placed:?}");
            };
            assert_eq!(
                meeting.moderator_pw,
                server.derived_moderator_password(&meeting_id),
                "secret #{i}, meeting {meeting_id:?}"
            );
        }
    }
}

/// Reads of callback data made together are answered from shared statements, each with its own meeting's data:
/// tenants told apart, absent meetings answered `None`, the same meeting asked twice in one batch answered twice,
/// and a row that does not decode fails only the reads of its meeting.
#[tokio::test]
async fn concurrent_callback_data_reads_each_get_their_own_meeting() {
    let (s, env) = make_store().await;
    let data = |i: usize| CallbackData {
        meeting_id: format!("m{i}"),
        tenant_id: (i % 2 == 0).then(|| "t1".to_owned()),
        recording_ready_url: Some(format!("https://lms.example/ready/{i}")),
        ..CallbackData::default()
    };
    for i in 0..20 {
        s.put_callback_data(data(i)).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO callback_data (meeting_id, callback_attributes, created_at, updated_at) \
         VALUES ('bad', '{{ not yaml', now(), now())",
    )
    .execute(env.pg())
    .await
    .unwrap();
    let mut reads = tokio::task::JoinSet::new();
    for round in 0..3 {
        for i in 0..30 {
            let s = s.clone();
            // Every meeting under its own tenant, and the even ones also under no tenant (absent).
            let tenant = (i % 2 == 0 && round != 1).then_some("t1");
            reads.spawn(async move {
                let read = s.get_callback_data(tenant, &format!("m{i}")).await;
                (i, tenant, read.unwrap())
            });
        }
        let s = s.clone();
        reads.spawn(async move {
            let read = s.get_callback_data(None, "bad").await;
            assert!(read.is_err(), "the row that does not decode: {read:?}");
            (usize::MAX, None, None)
        });
    }
    let mut answered = 0;
    while let Some(joined) = reads.join_next().await {
        let (i, tenant, read) = joined.unwrap();
        answered += 1;
        if i == usize::MAX {
            continue;
        }
        let expected = (i < 20 && tenant == data(i).tenant_id.as_deref()).then(|| data(i));
        assert_eq!(read, expected, "m{i} for tenant {tenant:?}");
    }
    assert_eq!(answered, 93);
}

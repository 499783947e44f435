//! Data written by the original is read correctly, and what we write is what the original would have written:
//! fixtures are raw Redis commands and raw SQL following `docs/compatibility.md#data`, checks are key by key.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use redis::aio::MultiplexedConnection;
use scalelite_core::domain::{
    CallbackData, MeetingPlacement, NewServer, Secret, ServerPatch, ServerState, ServerStats,
    TagRequest, Tenant, TenantSetting,
};
use scalelite_core::storage::{
    MeetingStore, MiscStore, RecordingStore, ServerStore, StoreError, TenantStore,
};

use crate::pg_support::TestEnv;
use crate::production::{new_meeting, recording};

async fn run(conn: &mut MultiplexedConnection, args: &[&str]) {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    let _: redis::Value = cmd.query_async(conn).await.unwrap();
}

async fn hgetall(conn: &mut MultiplexedConnection, key: &str) -> HashMap<String, String> {
    redis::cmd("HGETALL")
        .arg(key)
        .query_async(conn)
        .await
        .unwrap()
}

async fn zscore(conn: &mut MultiplexedConnection, key: &str, member: &str) -> Option<f64> {
    redis::cmd("ZSCORE")
        .arg(key)
        .arg(member)
        .query_async(conn)
        .await
        .unwrap()
}

async fn is_member(conn: &mut MultiplexedConnection, key: &str, member: &str) -> bool {
    redis::cmd("SISMEMBER")
        .arg(key)
        .arg(member)
        .query_async(conn)
        .await
        .unwrap()
}

async fn key_type(conn: &mut MultiplexedConnection, key: &str) -> String {
    redis::cmd("TYPE").arg(key).query_async(conn).await.unwrap()
}

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The original's Redis state: a legacy server, a stateful cordoned one, a disabled one, meetings, tenants,
/// settings and a token, written with raw commands under the test namespace.
async fn original_redis_fixture(env: &TestEnv) {
    let k = |logical: &str| env.key(logical);
    let mut c = env.redis.clone();
    let c = &mut c;
    // Legacy server: no `state`, enabled through server_enabled, load in server_load.
    run(
        c,
        &[
            "HSET",
            &k("server:legacy1"),
            "url",
            "https://legacy1.example/bigbluebutton/api/",
            "secret",
            "sec1",
            "online",
            "true",
            "load_multiplier",
            "1.0",
            "meetings",
            "2",
            "users",
            "11",
            "largest_meeting",
            "7",
            "videos",
            "1",
            "bbb_version",
            "2.7.3",
        ],
    )
    .await;
    run(c, &["SADD", &k("servers"), "legacy1"]).await;
    run(c, &["SADD", &k("server_enabled"), "legacy1"]).await;
    run(c, &["ZADD", &k("server_load"), "7", "legacy1"]).await;
    run(
        c,
        &[
            "HSET",
            &k("legacy1"),
            "healthy_counter",
            "2",
            "unhealthy_counter",
            "0",
        ],
    )
    .await;
    // Legacy server with a stale `enabled` hash field but not in server_enabled: disabled.
    run(
        c,
        &[
            "HSET",
            &k("server:legacy2"),
            "url",
            "https://legacy2.example/bigbluebutton/api/",
            "secret",
            "sec2",
            "online",
            "false",
            "enabled",
            "true",
        ],
    )
    .await;
    run(c, &["SADD", &k("servers"), "legacy2"]).await;
    // Stateful cordoned server, tagged, load kept in cordoned_server_load.
    run(
        c,
        &[
            "HSET",
            &k("server:cord1"),
            "url",
            "https://cord1.example/bigbluebutton/api/",
            "secret",
            "sec3",
            "online",
            "true",
            "load_multiplier",
            "2.5",
            "state",
            "cordoned",
            "tag",
            "red",
        ],
    )
    .await;
    run(c, &["SADD", &k("servers"), "cord1"]).await;
    run(c, &["ZADD", &k("cordoned_server_load"), "3.5", "cord1"]).await;
    // Disabled server.
    run(
        c,
        &[
            "HSET",
            &k("server:dis1"),
            "url",
            "https://dis1.example/bigbluebutton/api/",
            "secret",
            "sec4",
            "online",
            "false",
            "state",
            "disabled",
        ],
    )
    .await;
    run(c, &["SADD", &k("servers"), "dis1"]).await;
    // Meetings with and without tenant, voice bridges.
    run(
        c,
        &[
            "HSET",
            &k("meeting:m1"),
            "server_id",
            "legacy1",
            "moderator_pw",
            "mp1",
            "voice_bridge",
            "123456789",
            "tenant_id",
            "",
        ],
    )
    .await;
    run(c, &["EXPIRE", &k("meeting:m1"), "86400"]).await;
    run(
        c,
        &[
            "HSET",
            &k("meeting:m2"),
            "server_id",
            "legacy1",
            "moderator_pw",
            "mp2",
            "voice_bridge",
            "223456789",
            "tenant_id",
            "t1",
        ],
    )
    .await;
    run(c, &["EXPIRE", &k("meeting:m2"), "86400"]).await;
    run(c, &["SADD", &k("meetings"), "m1", "m2"]).await;
    run(
        c,
        &[
            "HSET",
            &k("voice_bridges"),
            "123456789",
            "m1",
            "223456789",
            "m2",
        ],
    )
    .await;
    // Tenant, name index, setting.
    run(c, &["SADD", &k("tenants"), "t1"]).await;
    run(
        c,
        &[
            "HSET",
            &k("tenant:t1"),
            "name",
            "acme",
            "secrets",
            "s1:s2",
            "lrs_endpoint",
            "https://lrs.example/",
            "lrs_username",
            "",
        ],
    )
    .await;
    run(c, &["HSET", &k("tenant_name:acme"), "id", "t1"]).await;
    run(c, &["SADD", &k("tenant_settings:t1"), "set1"]).await;
    run(
        c,
        &[
            "HSET",
            &k("tenant_setting:set1"),
            "param",
            "record",
            "value",
            "false",
            "override",
            "true",
            "tenant_id",
            "t1",
        ],
    )
    .await;
    // One-time playback token.
    let token = format!("protector_token_{}", "0f".repeat(32));
    run(
        c,
        &[
            "SET",
            &k(&token),
            r#"{"record_id":"r1","format":"presentation"}"#,
            "EX",
            "3600",
        ],
    )
    .await;
}

#[tokio::test]
async fn reads_what_the_original_wrote_to_redis() {
    let env = TestEnv::new().await;
    original_redis_fixture(&env).await;
    let s = env.store().await;

    let legacy1 = s.get_server("legacy1").await.unwrap();
    assert_eq!(legacy1.state, ServerState::Enabled);
    assert_eq!(legacy1.load, Some(7.0));
    assert!(legacy1.online);
    assert_eq!(legacy1.secret.expose(), "sec1");
    assert_eq!(legacy1.load_multiplier, 1.0);
    assert_eq!(
        legacy1.stats,
        ServerStats {
            meetings: 2,
            users: 11,
            largest_meeting: 7,
            videos: 1
        }
    );
    assert_eq!(legacy1.bbb_version.as_deref(), Some("2.7.3"));
    assert_eq!((legacy1.healthy_counter, legacy1.unhealthy_counter), (2, 0));
    let legacy2 = s.get_server("legacy2").await.unwrap();
    assert_eq!(
        (legacy2.state, legacy2.load, legacy2.online),
        (ServerState::Disabled, None, false)
    );
    let cord1 = s.get_server("cord1").await.unwrap();
    assert_eq!(
        (cord1.state, cord1.load),
        (ServerState::Cordoned, Some(3.5))
    );
    assert_eq!(cord1.tag.as_deref(), Some("red"));
    assert_eq!(cord1.load_multiplier, 2.5);
    let dis1 = s.get_server("dis1").await.unwrap();
    assert_eq!((dis1.state, dis1.load), (ServerState::Disabled, None));
    assert_eq!(s.list_servers().await.unwrap().len(), 4);
    let available: Vec<String> = s
        .available_servers()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(available, ["legacy1"]);

    let m1 = s.get_meeting("m1").await.unwrap();
    assert_eq!(
        (
            m1.server_id.as_str(),
            m1.moderator_pw.as_str(),
            m1.voice_bridge.as_str()
        ),
        ("legacy1", "mp1", "123456789")
    );
    assert_eq!(m1.tenant_id, None);
    assert_eq!(
        s.get_meeting("m2").await.unwrap().tenant_id.as_deref(),
        Some("t1")
    );
    assert_eq!(
        s.meeting_by_voice_bridge("223456789").await.unwrap().id,
        "m2"
    );
    assert_eq!(s.list_meetings().await.unwrap().len(), 2);

    let t1 = s.get_tenant_by_name("acme").await.unwrap();
    assert_eq!(t1.id, "t1");
    assert_eq!(t1.secrets, [Secret::new("s1"), Secret::new("s2")]);
    assert_eq!(t1.lrs_endpoint.as_deref(), Some("https://lrs.example/"));
    assert_eq!(t1.lrs_username, None, "an empty field reads as unset");
    assert_eq!(
        s.list_tenant_settings("t1").await.unwrap(),
        [TenantSetting {
            id: "set1".into(),
            tenant_id: "t1".into(),
            param: "record".into(),
            value: "false".into(),
            override_value: true
        }]
    );
    assert_eq!(
        s.take_playback_token(&"0f".repeat(32)).await.unwrap(),
        Some(("r1".to_owned(), "presentation".to_owned()))
    );
    env.cleanup().await;
}

#[tokio::test]
async fn writes_servers_in_the_originals_layout() {
    let env = TestEnv::new().await;
    original_redis_fixture(&env).await;
    let s = env.store().await;
    let mut c = env.redis.clone();
    let c = &mut c;
    let k = |logical: &str| env.key(logical);

    s.add_server(NewServer {
        id: "new1".into(),
        url: "https://new1.example/bigbluebutton/api/".into(),
        secret: Secret::new("nsec"),
        tag: Some("blue".into()),
        state: ServerState::Enabled,
        load_multiplier: 2.5,
    })
    .await
    .unwrap();
    assert_eq!(
        hgetall(c, &k("server:new1")).await,
        map(&[
            ("url", "https://new1.example/bigbluebutton/api/"),
            ("secret", "nsec"),
            ("tag", "blue"),
            ("online", "false"),
            ("load_multiplier", "2.5"),
            ("state", "enabled")
        ])
    );
    assert!(is_member(c, &k("servers"), "new1").await);
    assert!(is_member(c, &k("server_enabled"), "new1").await);
    assert_eq!(
        zscore(c, &k("server_load"), "new1").await,
        None,
        "no load until polled"
    );

    let poll = ServerPatch {
        online: Some(true),
        load: Some(Some(4.0)),
        stats: Some(ServerStats {
            meetings: 3,
            users: 20,
            largest_meeting: 12,
            videos: 4,
        }),
        bbb_version: Some("3.0.1".into()),
        tag: Some(None),
        ..ServerPatch::default()
    };
    s.patch_server("new1", poll).await.unwrap();
    let h = hgetall(c, &k("server:new1")).await;
    assert_eq!(h.get("online").map(String::as_str), Some("true"));
    assert_eq!(h.get("meetings").map(String::as_str), Some("3"));
    assert_eq!(h.get("users").map(String::as_str), Some("20"));
    assert_eq!(h.get("largest_meeting").map(String::as_str), Some("12"));
    assert_eq!(h.get("videos").map(String::as_str), Some("4"));
    assert_eq!(h.get("bbb_version").map(String::as_str), Some("3.0.1"));
    assert!(!h.contains_key("tag"), "a removed tag is HDEL'd");
    assert_eq!(zscore(c, &k("server_load"), "new1").await, Some(4.0));

    // Cordon: load moves to cordoned_server_load, out of server_enabled.
    s.patch_server(
        "new1",
        ServerPatch {
            state: Some(ServerState::Cordoned),
            ..ServerPatch::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        hgetall(c, &k("server:new1"))
            .await
            .get("state")
            .map(String::as_str),
        Some("cordoned")
    );
    assert_eq!(zscore(c, &k("server_load"), "new1").await, None);
    assert_eq!(
        zscore(c, &k("cordoned_server_load"), "new1").await,
        Some(4.0)
    );
    assert!(!is_member(c, &k("server_enabled"), "new1").await);

    // Uncordon the original's cordoned server: its load comes back into server_load.
    s.patch_server(
        "cord1",
        ServerPatch {
            state: Some(ServerState::Enabled),
            ..ServerPatch::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(zscore(c, &k("server_load"), "cord1").await, Some(3.5));
    assert_eq!(zscore(c, &k("cordoned_server_load"), "cord1").await, None);
    assert!(is_member(c, &k("server_enabled"), "cord1").await);

    // A legacy server keeps the legacy model when only its load changes.
    s.patch_server(
        "legacy1",
        ServerPatch {
            load: Some(Some(9.0)),
            ..ServerPatch::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(zscore(c, &k("server_load"), "legacy1").await, Some(9.0));
    assert!(!hgetall(c, &k("server:legacy1")).await.contains_key("state"));
    // Load removed (offline): out of server_load, still enabled.
    s.patch_server(
        "legacy1",
        ServerPatch {
            load: Some(None),
            online: Some(false),
            ..ServerPatch::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(zscore(c, &k("server_load"), "legacy1").await, None);
    assert!(is_member(c, &k("server_enabled"), "legacy1").await);
    // Disabling writes the state and clears every index.
    s.patch_server(
        "legacy1",
        ServerPatch {
            state: Some(ServerState::Disabled),
            ..ServerPatch::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        hgetall(c, &k("server:legacy1"))
            .await
            .get("state")
            .map(String::as_str),
        Some("disabled")
    );
    assert!(!is_member(c, &k("server_enabled"), "legacy1").await);

    // Selection bumps the score by the multiplier (cord1: 3.5 + 2.5).
    let chosen = s
        .select_server(&TagRequest::parse(Some("red")))
        .await
        .unwrap();
    assert_eq!(chosen.id, "cord1");
    assert_eq!(zscore(c, &k("server_load"), "cord1").await, Some(6.0));
    assert_eq!(s.increment_load("cord1", 2.0).await.unwrap(), Some(8.0));
    assert_eq!(s.increment_load("dis1", 1.0).await.unwrap(), None);
    assert_eq!(
        zscore(c, &k("server_load"), "dis1").await,
        None,
        "ZADD XX never adds"
    );

    // Counters live in the bare-id hash; deleting a server removes it too.
    s.increment_unhealthy("new1").await.unwrap();
    assert_eq!(
        hgetall(c, &k("new1")).await,
        map(&[("unhealthy_counter", "1")])
    );
    s.reset_counters("new1", true, true).await.unwrap();
    assert_eq!(
        hgetall(c, &k("new1")).await,
        map(&[("healthy_counter", "0"), ("unhealthy_counter", "0")])
    );
    s.delete_server("new1").await.unwrap();
    for key in ["server:new1", "new1"] {
        let exists: i64 = redis::cmd("EXISTS")
            .arg(k(key))
            .query_async(c)
            .await
            .unwrap();
        assert_eq!(exists, 0, "{key} remains");
    }
    assert!(!is_member(c, &k("servers"), "new1").await);
    assert_eq!(zscore(c, &k("cordoned_server_load"), "new1").await, None);

    for (key, ty) in [
        ("servers", "set"),
        ("server_enabled", "set"),
        ("server_load", "zset"),
        ("server:cord1", "hash"),
        ("meetings", "set"),
        ("voice_bridges", "hash"),
    ] {
        assert_eq!(key_type(c, &k(key)).await, ty, "{key}");
    }
    env.cleanup().await;
}

#[tokio::test]
async fn writes_meetings_tenants_and_tokens_in_the_originals_layout() {
    let env = TestEnv::new().await;
    original_redis_fixture(&env).await;
    let s = env.store().await;
    let mut c = env.redis.clone();
    let c = &mut c;
    let k = |logical: &str| env.key(logical);

    // Re-creating the original's meeting returns it unchanged.
    let existing = s
        .find_or_create_meeting(
            new_meeting("m1", "cord1", None, &["999999999"]),
            Duration::from_secs(100),
        )
        .await
        .unwrap();
    assert!(matches!(existing, MeetingPlacement::Existing(ref m) if m.server_id == "legacy1"));
    // A candidate held by the original's meeting is skipped.
    let placed = s
        .find_or_create_meeting(
            new_meeting("m3", "cord1", None, &["123456789", "323456789"]),
            Duration::from_secs(86_400),
        )
        .await
        .unwrap();
    assert!(matches!(placed, MeetingPlacement::Created(_)));
    assert_eq!(
        hgetall(c, &k("meeting:m3")).await,
        map(&[
            ("server_id", "cord1"),
            ("moderator_pw", "mp"),
            ("voice_bridge", "323456789"),
            ("tenant_id", "")
        ])
    );
    let ttl: i64 = redis::cmd("TTL")
        .arg(k("meeting:m3"))
        .query_async(c)
        .await
        .unwrap();
    assert!(ttl > 86_000 && ttl <= 86_400, "ttl {ttl}");
    assert!(is_member(c, &k("meetings"), "m3").await);
    let vb: Option<String> = redis::cmd("HGET")
        .arg(k("voice_bridges"))
        .arg("323456789")
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(vb.as_deref(), Some("m3"));
    s.find_or_create_meeting(
        new_meeting("m4", "cord1", Some("t1"), &["423456789"]),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(
        hgetall(c, &k("meeting:m4"))
            .await
            .get("tenant_id")
            .map(String::as_str),
        Some("t1")
    );

    // Deleting the original's meeting removes hash, set entry and voice bridge.
    assert!(s.delete_meeting("m1").await.unwrap());
    let exists: i64 = redis::cmd("EXISTS")
        .arg(k("meeting:m1"))
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(exists, 0);
    assert!(!is_member(c, &k("meetings"), "m1").await);
    let gone: bool = redis::cmd("HEXISTS")
        .arg(k("voice_bridges"))
        .arg("123456789")
        .query_async(c)
        .await
        .unwrap();
    assert!(!gone);

    // Tenants: only set fields are written, secrets joined with ':', the name index points at the id.
    s.add_tenant(Tenant {
        id: "t2".into(),
        name: "globex".into(),
        secrets: vec![Secret::new("a"), Secret::new("b")],
        kc_client_id: Some("kc".into()),
        ..Tenant::default()
    })
    .await
    .unwrap();
    assert_eq!(
        hgetall(c, &k("tenant:t2")).await,
        map(&[
            ("name", "globex"),
            ("secrets", "a:b"),
            ("kc_client_id", "kc")
        ])
    );
    assert_eq!(
        hgetall(c, &k("tenant_name:globex")).await,
        map(&[("id", "t2")])
    );
    assert!(is_member(c, &k("tenants"), "t2").await);
    // Renaming the original's tenant moves the index; an unset field that existed is written as "".
    let mut t1 = s.get_tenant("t1").await.unwrap();
    t1.name = "acme-renamed".into();
    t1.lrs_endpoint = None;
    s.update_tenant(t1).await.unwrap();
    let exists: i64 = redis::cmd("EXISTS")
        .arg(k("tenant_name:acme"))
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(exists, 0);
    assert_eq!(
        hgetall(c, &k("tenant_name:acme-renamed")).await,
        map(&[("id", "t1")])
    );
    let h = hgetall(c, &k("tenant:t1")).await;
    assert_eq!(h.get("lrs_endpoint").map(String::as_str), Some(""));
    assert!(!h.contains_key("kc_token_url"));
    s.put_tenant_setting(TenantSetting {
        id: "set2".into(),
        tenant_id: "t2".into(),
        param: "meta_x".into(),
        value: "y".into(),
        override_value: false,
    })
    .await
    .unwrap();
    assert_eq!(
        hgetall(c, &k("tenant_setting:set2")).await,
        map(&[
            ("param", "meta_x"),
            ("value", "y"),
            ("override", "false"),
            ("tenant_id", "t2")
        ])
    );
    assert!(is_member(c, &k("tenant_settings:t2"), "set2").await);
    s.delete_tenant("t2").await.unwrap();
    for key in ["tenant:t2", "tenant_name:globex"] {
        let exists: i64 = redis::cmd("EXISTS")
            .arg(k(key))
            .query_async(c)
            .await
            .unwrap();
        assert_eq!(exists, 0, "{key}");
    }

    // Tokens: the original's JSON, with a TTL.
    let token = "ab".repeat(32);
    s.put_playback_token(&token, "r2", "video", Duration::from_secs(3600))
        .await
        .unwrap();
    let key = k(&format!("protector_token_{token}"));
    let raw: String = redis::cmd("GET").arg(&key).query_async(c).await.unwrap();
    assert_eq!(raw, r#"{"record_id":"r2","format":"video"}"#);
    let ttl: i64 = redis::cmd("TTL").arg(&key).query_async(c).await.unwrap();
    assert!(ttl > 3500 && ttl <= 3600);
    s.health_check().await.unwrap();
    let hc: String = redis::cmd("GET")
        .arg(k("__health_check_set__"))
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(hc, "true");
    env.cleanup().await;
}

/// The original's recording rows (as its importer writes them) and callback data.
async fn original_sql_fixture(env: &TestEnv) {
    let pg = env.pg();
    for sql in [
        "INSERT INTO recordings (id, record_id, meeting_id, name, published, participants, state, starttime, endtime, protected, publish_updated) \
         VALUES (10, 'a1b2-1700000000000', 'meet-1', 'Lecture', true, 4, 'published', '2023-11-14 22:13:20.123', '2023-11-14 23:13:20', false, false)",
        "INSERT INTO metadata (recording_id, key, value) VALUES (10, 'bbb-origin', 'Greenlight'), (10, 'tenant-id', 't1'), (10, 'gl-listed', '')",
        "INSERT INTO playback_formats (id, recording_id, format, url, length, processing_time) VALUES \
         (20, 10, 'presentation', '/playback/presentation/2.3/a1b2-1700000000000', 61, NULL), \
         (21, 10, 'podcast', '/podcast/a1b2-1700000000000/audio.ogg', 61, 5)",
        "INSERT INTO thumbnails (playback_format_id, width, height, alt, url, sequence) VALUES \
         (20, 176, 136, 'Welcome', '/presentation/a1b2-1700000000000/thumb-2.png', 1), \
         (20, 176, 136, 'Cover', '/presentation/a1b2-1700000000000/thumb-1.png', 0)",
        "INSERT INTO callback_data (meeting_id, recording_id, callback_attributes, created_at, updated_at) VALUES \
         ('meet-1', 10, E'---\\n:analytics_callback_url: https://lms.example/analytics\\n:recording_ready_url: https://lms.example/ready?id=7&x=y\\n', now(), now())",
    ] {
        sqlx::query(sql).execute(pg).await.unwrap();
    }
}

#[tokio::test]
async fn reads_and_writes_recordings_in_the_originals_tables() {
    let env = TestEnv::new().await;
    let s = env.store().await;
    original_sql_fixture(&env).await;
    let r = s.get_recording("a1b2-1700000000000").await.unwrap();
    assert_eq!(r.meeting_id, "meet-1");
    assert_eq!(
        r.starttime,
        Utc.timestamp_millis_opt(1_700_000_000_123).single()
    );
    assert_eq!(r.participants, Some(4));
    assert_eq!(
        r.metadata,
        [
            ("bbb-origin".to_owned(), "Greenlight".to_owned()),
            ("tenant-id".to_owned(), "t1".to_owned()),
            ("gl-listed".to_owned(), String::new())
        ]
    );
    let formats: Vec<&str> = r
        .playback_formats
        .iter()
        .map(|f| f.format.as_str())
        .collect();
    assert_eq!(formats, ["podcast", "presentation"], "ordered by format");
    let thumbs: Vec<i32> = r.playback_formats[1]
        .thumbnails
        .iter()
        .map(|t| t.sequence)
        .collect();
    assert_eq!(thumbs, [0, 1], "ordered by sequence");
    assert_eq!(r.playback_formats[0].processing_time, Some(5));
    assert_eq!(
        s.get_callback_data(None, "meet-1").await.unwrap(),
        Some(CallbackData {
            meeting_id: "meet-1".into(),
            recording_id: Some(10),
            recording_ready_url: Some("https://lms.example/ready?id=7&x=y".into()),
            analytics_callback_url: Some("https://lms.example/analytics".into()),
            ..CallbackData::default()
        })
    );

    // Our writes: UTC wall time in `timestamp without time zone`, whatever the session time zone.
    sqlx::query(&format!(
        "ALTER DATABASE \"{}\" SET timezone TO 'America/New_York'",
        env.db().name
    ))
    .execute(env.pg())
    .await
    .unwrap();
    let s = env.store().await;
    s.upsert_recording(recording(
        "ours-1",
        "meet-2",
        1_700_000_000_123,
        &[("tenant-id", "t1")],
    ))
    .await
    .unwrap();
    let (start, published, protected, publish_updated): (chrono::NaiveDateTime, bool, bool, bool) = sqlx::query_as(
        "SELECT starttime, published, protected, publish_updated FROM recordings WHERE record_id = 'ours-1'",
    )
    .fetch_one(env.pg())
    .await
    .unwrap();
    let expected = NaiveDate::from_ymd_opt(2023, 11, 14)
        .unwrap()
        .and_hms_milli_opt(22, 13, 20, 123)
        .unwrap();
    assert_eq!(start, expected);
    assert_eq!(
        (published, protected, publish_updated),
        (true, false, false)
    );
    let thumbs: Vec<(i32, String)> = sqlx::query_as(
        "SELECT t.sequence, t.url FROM thumbnails t JOIN playback_formats f ON f.id = t.playback_format_id \
         JOIN recordings r ON r.id = f.recording_id WHERE r.record_id = 'ours-1' ORDER BY t.sequence",
    )
    .fetch_all(env.pg())
    .await
    .unwrap();
    assert_eq!(thumbs.len(), 2);
    assert_eq!(thumbs[0].1, "/presentation/ours-1/thumb-1.png");

    s.put_callback_data(CallbackData {
        meeting_id: "meet-2".into(),
        recording_id: None,
        recording_ready_url: Some("https://gl.example/recording_ready".into()),
        analytics_callback_url: None,
        ..CallbackData::default()
    })
    .await
    .unwrap();
    let (attrs, created, updated): (String, Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>) =
        sqlx::query_as("SELECT callback_attributes, created_at, updated_at FROM callback_data WHERE meeting_id = 'meet-2'")
            .fetch_one(env.pg())
            .await
            .unwrap();
    assert_eq!(
        attrs,
        "---\n:recording_ready_url: https://gl.example/recording_ready\n"
    );
    assert!(created.is_some() && updated.is_some());

    // Publishing, deleting: the columns the original reads.
    s.set_published("a1b2-1700000000000", false).await.unwrap();
    let (published, state, pu): (bool, String, bool) =
        sqlx::query_as("SELECT published, state, publish_updated FROM recordings WHERE id = 10")
            .fetch_one(env.pg())
            .await
            .unwrap();
    assert_eq!(
        (published, state.as_str(), pu),
        (false, "unpublished", true)
    );
    s.mark_recording_deleted("a1b2-1700000000000")
        .await
        .unwrap();
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM metadata WHERE recording_id = 10), \
         (SELECT count(*) FROM playback_formats WHERE recording_id = 10), \
         (SELECT count(*) FROM thumbnails WHERE playback_format_id IN (20, 21))",
    )
    .fetch_one(env.pg())
    .await
    .unwrap();
    assert_eq!(counts, (0, 0, 0));
    assert!(matches!(
        s.set_published("nope", true).await,
        Err(StoreError::NotFound(_))
    ));
    env.cleanup().await;
}

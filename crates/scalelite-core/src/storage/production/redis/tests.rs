use std::collections::HashMap;
use std::time::Duration;

use super::{
    RawServer, format_multiplier, format_score, meeting_from_hash, patch_args, server_from_raw,
    setting_from_hash, tenant_fields, tenant_from_hash, ttl_secs,
};
use crate::domain::{Secret, ServerPatch, ServerState, ServerStats, Tenant};

fn hash(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn raw(h: &[(&str, &str)], en: i64, sl: Option<&str>, cl: Option<&str>) -> RawServer {
    RawServer {
        id: "bbb1".into(),
        h: hash(h),
        en,
        sl: sl.map(str::to_owned),
        cl: cl.map(str::to_owned),
        hc: None,
        uc: None,
        forced: None,
    }
}

#[test]
fn legacy_server_state_comes_from_server_enabled() {
    let base = [
        ("url", "https://b/bigbluebutton/api/"),
        ("secret", "s"),
        ("online", "true"),
    ];
    let enabled = server_from_raw(raw(&base, 1, Some("12"), None));
    assert_eq!(enabled.state, ServerState::Enabled);
    assert_eq!(enabled.load, Some(12.0));
    assert!(enabled.online);
    let disabled = server_from_raw(raw(&base, 0, Some("12"), None));
    assert_eq!(disabled.state, ServerState::Disabled);
    assert_eq!(disabled.load, None, "a disabled legacy server has no load");
}

#[test]
fn stateful_server_load_comes_from_the_matching_set() {
    let cordoned = server_from_raw(raw(&[("state", "cordoned")], 0, Some("1"), Some("7.5")));
    assert_eq!(cordoned.state, ServerState::Cordoned);
    assert_eq!(cordoned.load, Some(7.5));
    let enabled = server_from_raw(raw(&[("state", "enabled")], 0, Some("3"), Some("9")));
    assert_eq!(
        (enabled.state, enabled.load),
        (ServerState::Enabled, Some(3.0))
    );
    let disabled = server_from_raw(raw(&[("state", "disabled")], 1, Some("3"), Some("9")));
    assert_eq!(
        (disabled.state, disabled.load),
        (ServerState::Disabled, None)
    );
}

#[test]
fn fields_are_parsed_with_the_originals_defaults() {
    let mut r = raw(
        &[
            ("tag", ""),
            ("online", "false"),
            ("load_multiplier", "2.5"),
            ("meetings", "4"),
            ("users", "17"),
            ("largest_meeting", "9"),
            ("videos", "2"),
            ("bbb_version", "2.7.3"),
        ],
        1,
        None,
        None,
    );
    r.hc = Some("3".into());
    r.uc = Some("1".into());
    let s = server_from_raw(r);
    assert_eq!(s.tag, None, "a blank tag is no tag");
    assert!(!s.online);
    assert_eq!(s.load_multiplier, 2.5);
    assert_eq!(
        s.stats,
        ServerStats {
            meetings: 4,
            users: 17,
            largest_meeting: 9,
            videos: 2
        }
    );
    assert_eq!((s.healthy_counter, s.unhealthy_counter), (3, 1));
    assert_eq!(s.bbb_version.as_deref(), Some("2.7.3"));
    let bare = server_from_raw(raw(&[("url", "u")], 0, None, None));
    assert_eq!(bare.load_multiplier, 1.0);
    assert_eq!(bare.stats, ServerStats::default());
}

#[test]
fn servers_read_from_server_load_are_forced_enabled() {
    let mut r = raw(&[("state", "cordoned")], 0, None, Some("4"));
    r.forced = Some("6".into());
    let s = server_from_raw(r);
    assert_eq!((s.state, s.load), (ServerState::Enabled, Some(6.0)));
}

#[test]
fn multiplier_and_score_formats() {
    assert_eq!(format_multiplier(1.0), "1.0");
    assert_eq!(format_multiplier(2.5), "2.5");
    assert_eq!(format_multiplier(10.0), "10.0");
    assert_eq!(format_multiplier(0.125), "0.125");
    assert_eq!(format_score(3.0), "3");
    assert_eq!(format_score(2.5), "2.5");
    assert_eq!(format_score(f64::INFINITY), "+inf");
}

#[test]
fn ttl_rounds_up_to_whole_seconds() {
    assert_eq!(ttl_secs(Duration::from_secs(86_400)), 86_400);
    assert_eq!(ttl_secs(Duration::from_millis(1_500)), 2);
    assert_eq!(ttl_secs(Duration::ZERO), 1);
}

#[test]
fn patch_arguments_name_fields_and_index_ops() {
    let patch = ServerPatch {
        tag: Some(Some("  ".into())),
        online: Some(true),
        load_multiplier: Some(3.0),
        state: Some(ServerState::Cordoned),
        load: Some(None),
        ..ServerPatch::default()
    };
    assert_eq!(
        patch_args(&patch),
        [
            "tag",
            "",
            "load_multiplier",
            "3.0",
            "online",
            "true",
            "@state",
            "cordoned",
            "@load",
            ""
        ]
    );
    let load = ServerPatch {
        load: Some(Some(4.5)),
        secret: Some(Secret::new("sec")),
        ..ServerPatch::default()
    };
    assert_eq!(patch_args(&load), ["secret", "sec", "@load", "4.5"]);
}

#[test]
fn meetings_store_no_tenant_as_empty_string() {
    let m = meeting_from_hash(
        "m1",
        &hash(&[
            ("server_id", "bbb1"),
            ("moderator_pw", "mp"),
            ("voice_bridge", "123456789"),
            ("tenant_id", ""),
        ]),
    );
    assert_eq!(m.tenant_id, None);
    assert_eq!(m.voice_bridge, "123456789");
}

#[test]
fn tenants_round_trip_through_fields() {
    let t = Tenant {
        id: "t1".into(),
        name: "acme".into(),
        secrets: vec![Secret::new("a"), Secret::new("b")],
        lrs_endpoint: Some("https://lrs".into()),
        kc_password: Some(Secret::new("pw")),
        ..Tenant::default()
    };
    let (pairs, blanks) = tenant_fields(&t);
    assert_eq!(
        pairs,
        [
            "name",
            "acme",
            "secrets",
            "a:b",
            "lrs_endpoint",
            "https://lrs",
            "kc_password",
            "pw"
        ]
    );
    assert_eq!(blanks.len(), 6);
    let mut h = HashMap::new();
    for pair in pairs.chunks(2) {
        h.insert(pair[0].clone(), pair[1].clone());
    }
    h.insert("lrs_username".into(), String::new());
    assert_eq!(tenant_from_hash("t1", &h), t);
}

#[test]
fn only_exact_true_means_override() {
    let s = |v: &str| {
        setting_from_hash(
            "s1",
            "t1",
            &hash(&[("param", "p"), ("value", "v"), ("override", v)]),
        )
    };
    assert!(s("true").override_value);
    assert!(!s("TRUE").override_value);
    assert!(!s("1").override_value);
    assert_eq!(s("true").tenant_id, "t1");
}

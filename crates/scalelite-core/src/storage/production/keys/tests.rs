use super::Keys;

#[test]
fn keys_follow_redis_namespace_layout() {
    let k = Keys::new("scalelite");
    let cases = [
        (k.servers(), "scalelite:servers"),
        (k.server("bbb1"), "scalelite:server:bbb1"),
        (k.server_enabled(), "scalelite:server_enabled"),
        (k.server_load(), "scalelite:server_load"),
        (k.cordoned_server_load(), "scalelite:cordoned_server_load"),
        (k.counters("bbb1"), "scalelite:bbb1"),
        (k.meetings(), "scalelite:meetings"),
        (k.meeting("m 1"), "scalelite:meeting:m 1"),
        (k.voice_bridges(), "scalelite:voice_bridges"),
        (k.tenants(), "scalelite:tenants"),
        (k.tenant("t1"), "scalelite:tenant:t1"),
        (k.tenant_name("acme"), "scalelite:tenant_name:acme"),
        (k.tenant_settings("t1"), "scalelite:tenant_settings:t1"),
        (k.tenant_setting("s1"), "scalelite:tenant_setting:s1"),
        (k.protector_token("ab01"), "scalelite:protector_token_ab01"),
        (k.health_check(), "scalelite:__health_check_set__"),
        (k.lease("poller"), "scalelite:lease:poller"),
        (k.pattern(), "scalelite:*"),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
    }
}

#[test]
fn script_prefixes_rebuild_the_same_keys() {
    let k = Keys::new("ns");
    assert_eq!(format!("{}x", k.server_prefix()), k.server("x"));
    assert_eq!(format!("{}x", k.meeting_prefix()), k.meeting("x"));
    assert_eq!(format!("{}x", k.counters_prefix()), k.counters("x"));
}

#[test]
fn empty_namespace_means_no_prefix() {
    let k = Keys::new("");
    assert_eq!(k.servers(), "servers");
    assert_eq!(k.counters("bbb1"), "bbb1");
    assert_eq!(k.server("a"), "server:a");
}

use crate::domain::{Secret, Server, ServerPatch, ServerState, ServerStats, TagRequest};
use crate::storage::SelectError;
use crate::storage::sqlite::glob_prefix;
use crate::storage::sqlite::servers::{apply_patch, choose_server};

#[test]
fn glob_prefix_escapes_wildcards() {
    let check =
        |prefix: &str, expected: &str| assert_eq!(glob_prefix(prefix), expected, "{prefix}");
    check("", "*");
    check("abc", "abc*");
    check("a*b", "a[*]b*");
    check("a?b", "a[?]b*");
    check("a[b]", "a[[]b]*");
    check("a%_|b", "a%_|b*");
}

fn available(entries: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    entries
        .iter()
        .map(|(id, tag)| ((*id).to_owned(), tag.map(str::to_owned)))
        .collect()
}

#[test]
fn choose_server_follows_find_available() {
    // Ascending (load, id), as the query returns them.
    let servers = available(&[
        ("t1", Some("x")),
        ("u1", None),
        ("t2", Some("y")),
        ("u2", None),
    ]);
    fn tag_of((_, tag): &(String, Option<String>)) -> Option<&str> {
        tag.as_deref()
    }
    let pick = |tag: Option<&str>| {
        choose_server(&servers, tag_of, &TagRequest::parse(tag)).map(|(id, _)| id.clone())
    };
    assert_eq!(pick(None).ok().as_deref(), Some("u1"));
    assert_eq!(pick(Some("none")).ok().as_deref(), Some("u1"));
    assert_eq!(pick(Some("y")).ok().as_deref(), Some("t2"));
    assert_eq!(pick(Some("y;x")).ok().as_deref(), Some("t1"));
    assert_eq!(pick(Some("z")).ok().as_deref(), Some("u1"));
    assert!(matches!(pick(Some("z;w!")), Err(SelectError::TagUnavailable(t)) if t == "z;w"));

    let tagged_only = available(&[("t1", Some("x"))]);
    assert!(matches!(
        choose_server(&tagged_only, tag_of, &TagRequest::default()),
        Err(SelectError::NoServers)
    ));
    assert!(matches!(
        choose_server(&[], tag_of, &TagRequest::parse(Some("x!"))),
        Err(SelectError::NoServers)
    ));
}

fn server(state: ServerState, load: Option<f64>) -> Server {
    Server {
        id: "s".to_owned(),
        url: "https://bbb/bigbluebutton/api/".to_owned(),
        secret: Secret::new("secret"),
        tag: Some("t".to_owned()),
        state,
        load,
        online: true,
        load_multiplier: 1.0,
        healthy_counter: 0,
        unhealthy_counter: 0,
        stats: ServerStats::default(),
        bbb_version: None,
    }
}

#[test]
fn apply_patch_carries_load_and_drops_it_on_disable() {
    let patch_state = |state| ServerPatch {
        state: Some(state),
        ..ServerPatch::default()
    };
    let mut s = server(ServerState::Enabled, Some(5.0));
    apply_patch(&mut s, patch_state(ServerState::Cordoned));
    assert_eq!((s.state, s.load), (ServerState::Cordoned, Some(5.0)));
    apply_patch(&mut s, patch_state(ServerState::Enabled));
    assert_eq!((s.state, s.load), (ServerState::Enabled, Some(5.0)));
    apply_patch(&mut s, patch_state(ServerState::Disabled));
    assert_eq!((s.state, s.load), (ServerState::Disabled, None));
    apply_patch(
        &mut s,
        ServerPatch {
            load: Some(Some(3.0)),
            ..ServerPatch::default()
        },
    );
    assert_eq!(s.load, None, "a disabled server never gets a load");
    apply_patch(
        &mut s,
        ServerPatch {
            state: Some(ServerState::Enabled),
            load: Some(Some(2.0)),
            tag: Some(Some(String::new())),
            ..ServerPatch::default()
        },
    );
    assert_eq!(
        (s.state, s.load, s.tag),
        (ServerState::Enabled, Some(2.0), None)
    );
}

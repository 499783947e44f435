use super::*;
use crate::domain::ServerStats;

fn server(id: &str, state: ServerState, load: Option<f64>) -> Server {
    Server {
        id: id.into(),
        url: format!("https://{id}/bigbluebutton/api/"),
        secret: Secret::new(format!("{id}-secret")),
        tag: None,
        state,
        load,
        online: load.is_some(),
        load_multiplier: 1.0,
        healthy_counter: 0,
        unhealthy_counter: 0,
        stats: ServerStats::default(),
        bbb_version: None,
    }
}

#[test]
fn entries_get_the_original_defaults() {
    let desired = parse_sync_document(
        "servers:\n  bbb1.example.com:\n    secret: s1\n  bbb2:\n    url: http://10.0.0.2/bigbluebutton/api/\n    \
         secret: 12345\n    enabled: false\n    load_multiplier: 2.5\n    tag: gpu\n    load: 3.0\n    online: true\n",
    )
    .unwrap();
    assert_eq!(
        desired,
        vec![
            DesiredServer {
                id: "bbb1.example.com".into(),
                url: "https://bbb1.example.com/bigbluebutton/api".into(),
                secret: Secret::new("s1"),
                enabled: true,
                load_multiplier: 1.0,
                tag: None,
            },
            DesiredServer {
                id: "bbb2".into(),
                url: "http://10.0.0.2/bigbluebutton/api/".into(),
                secret: Secret::new("12345"),
                enabled: false,
                load_multiplier: 2.5,
                tag: Some("gpu".into()),
            },
        ]
    );
}

#[track_caller]
fn rejects(doc: &str, message: &str) {
    match parse_sync_document(doc) {
        Err(ManagementError::Sync(m)) => assert_eq!(m, message, "{doc}"),
        other => panic!("{doc}: expected Sync({message}), got {other:?}"),
    }
}

#[test]
fn bad_documents_are_refused_with_the_original_messages() {
    rejects("- a\n- b\n", "Invalid YAML document");
    rejects("", "Invalid YAML document");
    rejects("servers:\n  - a\n", "Servers parameter not a hash");
    rejects("other: 1\n", "Servers parameter not a hash");
    rejects(
        "servers:\n  'bad id':\n    secret: s\n",
        "Server id=bad id contains invalid characters",
    );
    rejects(
        "servers:\n  a:\n    url: https://a/\n",
        "Server id=a has no secret",
    );
    rejects(
        "servers:\n  a:\n    secret: ' '\n",
        "Server id=a has no secret",
    );
    rejects("servers:\n  a:\n", "Server id=a has no secret");
    rejects(
        "servers:\n  a:\n    secret: s\n    colour: red\n    size: 2\n",
        "Server id=a has bad parameters: [\"colour\", \"size\"]",
    );
    rejects(
        "servers:\n  a:\n    secret: s\n    load_multiplier: 0\n",
        "Server id=a has invalid load_multiplier=0",
    );
    rejects(
        "servers:\n  a:\n    secret: s\n    load_multiplier: -2\n",
        "Server id=a has invalid load_multiplier=-2",
    );
    rejects(
        "servers:\n  a:\n    secret: s\n    load_multiplier: lots\n",
        "Server id=a has invalid load_multiplier=lots",
    );
    rejects(
        "servers:\n  a:\n    secret: s\n    url: ftp://a/\n",
        "Server id=a has invalid url=ftp://a/",
    );
    rejects(
        "servers:\n  a:\n    secret: s\n    url: 'https://'\n",
        "Server id=a has invalid url=https://",
    );
    rejects(
        "servers:\n  a:\n    secret: s\n    enabled: maybe\n",
        "Server id=a has invalid enabled=maybe",
    );
    // The whole file is checked: a bad last entry fails it even when the first ones are fine.
    rejects(
        "servers:\n  a:\n    secret: s\n  b:\n    secret: ''\n",
        "Server id=b has no secret",
    );
    assert!(
        matches!(parse_sync_document("servers: [unclosed"), Err(ManagementError::Sync(m)) if m.starts_with("Invalid YAML document"))
    );
}

#[test]
fn enabled_accepts_operator_booleans() {
    for (text, expected) in [
        ("true", true),
        ("'no'", false),
        ("0", false),
        ("'yes'", true),
        ("'false'", false),
    ] {
        let desired = parse_sync_document(&format!(
            "servers:\n  a:\n    secret: s\n    enabled: {text}\n"
        ))
        .unwrap();
        assert_eq!(desired[0].enabled, expected, "{text}");
    }
    let desired =
        parse_sync_document("servers:\n  a:\n    secret: s\n    enabled: ~\n    tag: ''\n")
            .unwrap();
    assert!(desired[0].enabled);
    assert_eq!(desired[0].tag, None);
}

#[test]
fn modes() {
    assert_eq!(SyncMode::parse(None).unwrap(), SyncMode::Cordon);
    assert_eq!(SyncMode::parse(Some("")).unwrap(), SyncMode::Cordon);
    assert_eq!(SyncMode::parse(Some("keep")).unwrap(), SyncMode::Keep);
    assert_eq!(SyncMode::parse(Some("force")).unwrap(), SyncMode::Force);
    assert_eq!(
        SyncMode::parse(Some("nuke")).unwrap_err().to_string(),
        "Unknown sync mode 'nuke' (choose: keep cordon force)"
    );
}

#[test]
fn dump_has_the_original_shape_and_parses_back() {
    let mut a = server("a", ServerState::Enabled, Some(12.0));
    a.tag = Some("gpu".into());
    a.load_multiplier = 2.5;
    a.bbb_version = Some("3.0.4".into());
    let b = server("b.example.com", ServerState::Cordoned, None);
    let text = dump_servers(&[a.clone(), b.clone()], false).unwrap();
    assert_eq!(
        text,
        "---\nservers:\n  a:\n    url: https://a/bigbluebutton/api/\n    secret: a-secret\n    load_multiplier: 2.5\n    \
         tag: gpu\n    enabled: true\n  b.example.com:\n    url: https://b.example.com/bigbluebutton/api/\n    \
         secret: b.example.com-secret\n    load_multiplier: 1.0\n    tag: ''\n    enabled: false\n"
    );
    let back = parse_sync_document(&text).unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(
        (
            back[0].id.as_str(),
            back[0].enabled,
            back[0].load_multiplier
        ),
        ("a", true, 2.5)
    );
    assert_eq!(back[0].tag.as_deref(), Some("gpu"));
    assert_eq!(
        (back[1].id.as_str(), back[1].enabled, back[1].tag.clone()),
        ("b.example.com", false, None)
    );

    let verbose = dump_servers(&[a, b], true).unwrap();
    assert!(
        verbose.contains(
            "    state: enabled\n    load: 12.0\n    bbb_version: 3.0.4\n    online: true\n"
        ),
        "{verbose}"
    );
    assert!(
        verbose.contains(
            "    state: cordoned\n    load: -1.0\n    bbb_version: ''\n    online: false\n"
        ),
        "{verbose}"
    );
    // The verbose-only keys are ignored by the sync.
    assert_eq!(parse_sync_document(&verbose).unwrap().len(), 2);

    assert_eq!(dump_servers(&[], false).unwrap(), "---\nservers: {}\n");
}

#[test]
fn secrets_that_look_like_other_types_survive_the_round_trip() {
    let mut a = server("a", ServerState::Disabled, None);
    a.secret = Secret::new("0123");
    let mut b = server("b", ServerState::Disabled, None);
    b.secret = Secret::new("yes");
    let text = dump_servers(&[a, b], false).unwrap();
    let back = parse_sync_document(&text).unwrap();
    assert_eq!(back[0].secret.expose(), "0123");
    assert_eq!(back[1].secret.expose(), "yes");
}

#[test]
fn server_lists_for_add_all() {
    let list = parse_server_list("servers:\n  - url: https://a/bigbluebutton/api\n    secret: s1\n  - url: https://b/\n    secret: s2\n").unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[1],
        ListedServer {
            url: "https://b/".into(),
            secret: "s2".into()
        }
    );
    assert!(parse_server_list("servers:\n  - url: https://a/\n").is_err());
    assert!(parse_server_list("servers:\n  a:\n    secret: s\n").is_err());
}

use super::*;

fn p(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pairs(params: &Params) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn server(id: &str, load: f64, tag: Option<&str>) -> Server {
    Server {
        id: id.into(),
        url: format!("http://{id}/bigbluebutton/api/"),
        secret: "s".into(),
        tag: tag.map(str::to_owned),
        state: ServerState::Enabled,
        load: Some(load),
        online: true,
        load_multiplier: 1.0,
        healthy_counter: 0,
        unhealthy_counter: 0,
        stats: Default::default(),
        bbb_version: None,
    }
}

#[test]
fn merge_is_ruby_hash_merge() {
    let merged = merge(&p(&[("a", "1"), ("b", "2")]), &p(&[("b", "3"), ("c", "4")]));
    assert_eq!(
        pairs(&merged),
        pairs(&p(&[("a", "1"), ("b", "3"), ("c", "4")]))
    );
}

#[test]
fn augment_precedence_and_order() {
    // tenant override > config override > request > tenant default > config default
    let request = p(&[("meetingID", "m"), ("x", "request"), ("y", "request")]);
    let cd = p(&[("cd", "1"), ("x", "cd"), ("z", "cd")]);
    let co = p(&[("y", "co"), ("co", "1")]);
    let td = p(&[("z", "td"), ("td", "1")]);
    let to = p(&[("co", "to"), ("to", "1")]);
    let out = augment(&request, &cd, &co, &td, &to);
    assert_eq!(
        pairs(&out),
        pairs(&p(&[
            ("cd", "1"),
            ("x", "request"),
            ("z", "td"),
            ("td", "1"),
            ("meetingID", "m"),
            ("y", "co"),
            ("co", "to"),
            ("to", "1"),
        ]))
    );
}

#[test]
fn pass_through_drops_routing_keys_checksum_and_exclusions() {
    let params = p(&[
        ("meetingID", "m"),
        ("checksum", "x"),
        ("test1", ""),
        ("format", "xml"),
        ("keep", ""),
    ]);
    let out = pass_through(&params, &["test1".to_owned()]);
    assert_eq!(pairs(&out), pairs(&p(&[("meetingID", "m"), ("keep", "")])));
}

#[test]
fn voice_bridges_are_deterministic_nine_digits_and_external_first() {
    let a = voice_bridge_candidates("meeting-1", 9, None);
    assert_eq!(a, voice_bridge_candidates("meeting-1", 9, None));
    assert_ne!(a, voice_bridge_candidates("meeting-2", 9, None));
    assert_eq!(a.len(), 10);
    for vb in &a {
        assert_eq!(vb.len(), 9);
        assert!(vb.starts_with(|c: char| ('1'..='9').contains(&c)), "{vb}");
        assert!(vb.chars().all(|c| c.is_ascii_digit()));
    }
    let b = voice_bridge_candidates("meeting-1", 5, Some("12345"));
    assert_eq!(b[0], "12345");
    assert!(!b.contains(&"99999".to_owned()));
}

#[test]
fn pick_follows_find_available() {
    let servers = vec![
        server("a", 1.0, Some("test-tag")),
        server("b", 2.0, None),
        server("c", 3.0, None),
    ];
    assert_eq!(pick(&servers, &TagRequest::parse(None)).unwrap().id, "b");
    assert_eq!(
        pick(&servers, &TagRequest::parse(Some("none"))).unwrap().id,
        "b"
    );
    assert_eq!(
        pick(&servers, &TagRequest::parse(Some("test-tag!")))
            .unwrap()
            .id,
        "a"
    );
    assert_eq!(
        pick(&servers, &TagRequest::parse(Some("other")))
            .unwrap()
            .id,
        "b"
    );
    assert!(
        matches!(pick(&servers, &TagRequest::parse(Some("other!"))), Err(SelectError::TagUnavailable(t)) if t == "other")
    );
    assert!(matches!(
        pick(&[], &TagRequest::parse(None)),
        Err(SelectError::NoServers)
    ));
    let only_tagged = vec![server("a", 1.0, Some("x"))];
    assert!(matches!(
        pick(&only_tagged, &TagRequest::parse(None)),
        Err(SelectError::NoServers)
    ));
}

#[test]
fn derived_passwords_are_eight_alphanumerics_per_server_and_meeting() {
    let a = server("a", 0.0, None);
    let mut b = server("b", 0.0, None);
    b.secret = "other".into();
    let pw = derived_password(&a, "m1");
    assert_eq!(pw.len(), 8);
    assert!(pw.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(pw, derived_password(&a, "m1"));
    assert_ne!(pw, derived_password(&a, "m2"));
    assert_ne!(pw, derived_password(&b, "m1"));
}

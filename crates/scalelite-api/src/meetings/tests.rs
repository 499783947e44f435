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
fn merge_with_an_empty_side_is_the_other_side() {
    let some = p(&[("a", "1"), ("b", "2")]);
    assert_eq!(pairs(&merge(&Params::default(), &some)), pairs(&some));
    assert_eq!(pairs(&merge(&some, &Params::default())), pairs(&some));
}

/// Every list with empty defaults and overrides but one: the request wins over defaults and loses to overrides
/// whichever list is the non-empty one (the merges skip the empty ones).
#[test]
fn augment_with_empty_lists_keeps_the_precedence() {
    let request = p(&[("meetingID", "m"), ("x", "request")]);
    let empty = Params::default();
    let other = p(&[("x", "list"), ("extra", "1")]);
    let x_of = |out: Params| out.get("x").map(str::to_owned);
    assert_eq!(
        pairs(&augment(&request, &empty, &empty, &empty, &empty)),
        pairs(&request)
    );
    assert_eq!(
        x_of(augment(&request, &other, &empty, &empty, &empty)).as_deref(),
        Some("request")
    );
    assert_eq!(
        x_of(augment(&request, &empty, &other, &empty, &empty)).as_deref(),
        Some("list")
    );
    assert_eq!(
        x_of(augment(&request, &empty, &empty, &other, &empty)).as_deref(),
        Some("request")
    );
    assert_eq!(
        x_of(augment(&request, &empty, &empty, &empty, &other)).as_deref(),
        Some("list")
    );
}

/// `sent_value` reads what `pass_through` would hold, for every spelling of a `meta_` name, repeated or not.
#[test]
fn sent_value_is_what_pass_through_holds() {
    let lists: [&[(&str, &str)]; 7] = [
        &[],
        &[("meetingID", "m")],
        &[("meta_server-tag", "a")],
        &[("meta_Server-Tag", "a")],
        &[
            ("meta_SERVER-TAG", "a"),
            ("x", "1"),
            ("meta_server-tag", "b"),
        ],
        &[("META_server-tag", "a")],
        &[
            ("meta_server-tag", "a"),
            ("meta_Server-tag", " "),
            ("checksum", "c"),
        ],
    ];
    for list in lists {
        let params = p(list);
        assert_eq!(
            sent_value(&params, SERVER_TAG),
            pass_through(&params, &[]).get(SERVER_TAG),
            "{list:?}"
        );
    }
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

/// Every length the configuration accepts gives a finite list (one digit has only nine numbers, fewer than the
/// ten tries) of distinct, well-formed numbers, the client's number first.
#[test]
fn voice_bridges_terminate_for_every_accepted_length() {
    for len in 1..=18usize {
        let space = 9 * 10u128.pow(u32::try_from(len).unwrap() - 1);
        let expected = usize::try_from(space.min(10)).unwrap();
        let a = voice_bridge_candidates("meeting-1", len, None);
        assert_eq!(a.len(), expected, "len {len}: {a:?}");
        check_voice_bridges(&a, len);
        let b = voice_bridge_candidates("meeting-1", len, Some("4711"));
        assert_eq!(b[0], "4711");
        assert_eq!(b.len(), (expected + 1).min(10), "len {len}: {b:?}");
        check_voice_bridges(&b[1..], len);
    }
    let mut one_digit = voice_bridge_candidates("m", 1, None);
    one_digit.sort();
    assert_eq!(one_digit, ["1", "2", "3", "4", "5", "6", "7", "8", "9"]);
}

fn check_voice_bridges(numbers: &[String], len: usize) {
    let mut unique = numbers.to_vec();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), numbers.len(), "distinct: {numbers:?}");
    for vb in numbers {
        assert_eq!(vb.len(), len, "{vb}");
        assert!(vb.starts_with(|c: char| ('1'..='9').contains(&c)), "{vb}");
        assert!(vb.chars().all(|c| c.is_ascii_digit()), "{vb}");
        assert_ne!(vb, "99999");
    }
}

proptest::proptest! {
    #[test]
    fn voice_bridges_are_bounded_distinct_and_well_formed(
        meeting_id in ".{0,40}",
        len in 1usize..=18,
        external in proptest::option::of("[0-9]{1,9}"),
    ) {
        let numbers = voice_bridge_candidates(&meeting_id, len, external.as_deref());
        proptest::prop_assert!(numbers.len() <= 10);
        proptest::prop_assert!(!numbers.is_empty());
        let generated = match &external {
            Some(first) => {
                proptest::prop_assert_eq!(&numbers[0], first);
                &numbers[1..]
            }
            None => &numbers[..],
        };
        check_voice_bridges(generated, len);
        proptest::prop_assert!(!generated.contains(&numbers[0]) || external.is_none());
        proptest::prop_assert_eq!(&numbers, &voice_bridge_candidates(&meeting_id, len, external.as_deref()));
    }
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
    let pw = a.derived_moderator_password("m1");
    assert_eq!(pw.len(), 8);
    assert!(pw.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(pw, a.derived_moderator_password("m1"));
    assert_ne!(pw, a.derived_moderator_password("m2"));
    assert_ne!(pw, b.derived_moderator_password("m1"));
}

#[tokio::test]
async fn a_claim_this_process_is_confirming_counts_as_settled_while_its_server_hosts_meetings() {
    let behind = std::sync::Arc::new(WritesBehind::default());
    let placed = |claim: Option<&str>, server: Option<Server>| PlacedMeeting {
        state: scalelite_core::domain::MeetingState {
            meeting: Meeting {
                id: "m".into(),
                server_id: "a".into(),
                moderator_pw: "pw".into(),
                voice_bridge: "12345".into(),
                tenant_id: None,
            },
            claim: claim.map(str::to_owned),
        },
        server,
    };
    let up = server("a", 1.0, None);
    let down = Server {
        online: false,
        ..up.clone()
    };
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    behind.confirm("ours".into(), async move {
        let _ = released.await;
    });

    assert!(!in_flight(&behind, &placed(None, Some(up.clone()))));
    assert!(!in_flight(&behind, &placed(Some("ours"), Some(up.clone()))));
    // Another placement's claim (another request, another process) is in flight.
    assert!(in_flight(
        &behind,
        &placed(Some("theirs"), Some(up.clone()))
    ));
    // Failing over needs the confirmed record: wait for it.
    assert!(in_flight(&behind, &placed(Some("ours"), Some(down))));
    assert!(in_flight(&behind, &placed(Some("ours"), None)));

    release.send(()).unwrap();
    assert!(behind.drain(Duration::from_secs(5)).await);
    assert!(in_flight(&behind, &placed(Some("ours"), Some(up))));
}

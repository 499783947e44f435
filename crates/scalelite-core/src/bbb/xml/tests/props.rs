use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::bbb::xml::{
    BbbResponse, Element, bbb_version, for_summaries, for_version, meeting_summaries, parse,
    parse_pruned, write,
};

/// A child as generated, before it is pushed through the normalising builders.
#[derive(Clone, Debug)]
enum Child {
    Element(Element),
    Text(String),
    CData(String),
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_.-]{0,8}",
        Just("ü".to_owned()),
        Just("名前".to_owned()),
        Just("tenant-id".to_owned()),
    ]
}

/// Any string of characters XML can carry, biased toward the ones that need escaping.
fn text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '&', '<', '>', '"', '\'', ']', '\r', '\n', '\t', ' ', 'ü', '漢', '😀',
    ]);
    let char = prop_oneof![3 => special, 2 => any::<char>()];
    prop::collection::vec(char, 0..24).prop_map(|chars| {
        chars
            .into_iter()
            .filter(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
            .collect()
    })
}

fn build(name: String, attributes: BTreeMap<String, String>, children: Vec<Child>) -> Element {
    let mut element = Element::new(name);
    for (key, value) in attributes {
        element.push_attribute(key, value);
    }
    for child in children {
        match child {
            Child::Element(e) => element.push_child(e),
            Child::Text(t) => element.push_text(t),
            Child::CData(c) => element.push_cdata(c),
        }
    }
    element
}

fn attributes() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(name(), text(), 0..3)
}

fn tree() -> impl Strategy<Value = Element> {
    let leaf = (name(), attributes()).prop_map(|(n, a)| build(n, a, Vec::new()));
    leaf.prop_recursive(5, 64, 6, |inner| {
        let child = prop_oneof![
            inner.prop_map(Child::Element),
            text().prop_map(Child::Text),
            text().prop_map(Child::CData),
        ];
        (name(), attributes(), prop::collection::vec(child, 0..6))
            .prop_map(|(n, a, c)| build(n, a, c))
    })
}

/// Text made of XML-ish fragments, to reach deeper into the parser than random bytes do.
fn xmlish() -> impl Strategy<Value = String> {
    let fragment = prop::sample::select(vec![
        "<a>",
        "</a>",
        "<b x=\"1\">",
        "</b>",
        "<c/>",
        "<response>",
        "</response>",
        "<returncode>",
        "</returncode>",
        "SUCCESS",
        "<![CDATA[",
        "]]>",
        "&amp;",
        "&lt;",
        "&#x1F600;",
        "&#0;",
        "&bogus;",
        "&",
        "<!--",
        "-->",
        "<?pi x?>",
        "<?xml version=\"1.0\"?>",
        "<!DOCTYPE r>",
        "<!DOCTYPE r [<!ENTITY e \"x\">]>",
        " ",
        "\n",
        "text",
        "é",
        "\u{0}",
        "\u{1}",
        "&#1;",
        "\r\n",
        "<a\tx=\"\n\">",
        "\"",
        "'",
        "=",
        "<",
        ">",
        "/",
        "<html>",
        "x=\"",
        "<a x='1' x='2'>",
        "<meetings>",
        "</meetings>",
        "<meeting>",
        "</meeting>",
        "<meetingID>",
        "</meetingID>",
        "<attendees>",
        "</attendees>",
        "<metadata>",
        "</metadata>",
        "<tenant-id>",
        "</tenant-id>",
        "<bbbVersion>",
        "</bbbVersion>",
        "<running/>",
    ]);
    prop::collection::vec(fragment, 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
        let _ = BbbResponse::parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_xmlish_text_and_what_it_accepts_round_trips(input in xmlish()) {
        if let Ok(root) = parse(input.as_bytes()) {
            // Forbidden characters (`&#1;`, raw controls) are replaced on writing, so compare after one pass.
            let written = write(&root);
            let reparsed = parse(written.as_bytes());
            prop_assert!(reparsed.is_ok(), "{:?} wrote {:?}", input, written);
            if let Ok(reparsed) = reparsed {
                prop_assert_eq!(write(&reparsed), written);
            }
        }
        let _ = BbbResponse::parse(input.as_bytes());
    }

    #[test]
    fn pruned_parse_fails_as_parse_and_reads_the_same(input in xmlish()) {
        let bytes = input.as_bytes();
        let whole = parse(bytes);
        prop_assert_eq!(parse_pruned(bytes, |_, _| false).map(|_| ()), whole.clone().map(|_| ()));
        prop_assert_eq!(parse_pruned(bytes, |_, _| true), whole);
        let response = BbbResponse::parse(bytes);
        let summaries = BbbResponse::parse_pruned(bytes, for_summaries);
        let version = BbbResponse::parse_pruned(bytes, for_version);
        match &response {
            Ok(response) => {
                prop_assert_eq!(
                    summaries.map(|r| meeting_summaries(&r.root)),
                    Ok(meeting_summaries(&response.root))
                );
                prop_assert_eq!(version.map(|r| bbb_version(&r.root)), Ok(bbb_version(&response.root)));
            }
            Err(e) => {
                prop_assert_eq!(summaries.err(), Some(e.clone()));
                prop_assert_eq!(version.err(), Some(e.clone()));
            }
        }
    }

    #[test]
    fn pruned_parse_of_a_written_response_reads_the_same(meetings in prop::collection::vec(tree(), 0..4)) {
        let mut list = Element::new("meetings");
        for meeting in meetings {
            let mut renamed = meeting;
            renamed.name = "meeting".into();
            list.push_child(renamed);
        }
        let root = Element::new("response")
            .with_child(Element::text_element("returncode", "SUCCESS"))
            .with_child(list);
        let xml = write(&root);
        let pruned = BbbResponse::parse_pruned(xml.as_bytes(), for_summaries).map(|r| r.root);
        prop_assert_eq!(pruned.map(|r| meeting_summaries(&r)), Ok(meeting_summaries(&root)));
    }

    #[test]
    fn write_then_parse_round_trips(root in tree()) {
        let xml = write(&root);
        prop_assert_eq!(parse(xml.as_bytes()), Ok(root));
    }
}

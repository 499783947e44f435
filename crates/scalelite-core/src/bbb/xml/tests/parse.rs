use crate::bbb::xml::tests::fixture;
use crate::bbb::xml::{Element, MAX_DEPTH, Node, XmlError, parse};

#[test]
fn parses_attributes_entities_cdata_and_skips_prolog() {
    let input = br#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE response>
<!-- a comment -->
<?some-pi data?>
<response a="1 &amp; 2" b='&quot;q&quot;'><t>x &lt;&gt; &amp; &apos; &quot; &#233;&#x1F600;</t><!-- inner --><c><![CDATA[<raw> & ]]></c><?pi?><e/></response>
<!-- trailing comment -->
"#;
    let root = parse(input).expect("parses");
    assert_eq!(root.name, "response");
    assert_eq!(
        root.attributes,
        vec![
            ("a".to_owned(), "1 & 2".to_owned()),
            ("b".to_owned(), "\"q\"".to_owned())
        ]
    );
    assert_eq!(root.child_text("t").as_deref(), Some("x <> & ' \" é😀"));
    assert_eq!(
        root.child("c").map(|c| c.children.clone()),
        Some(vec![Node::CData("<raw> & ".into())])
    );
    assert_eq!(root.child("e"), Some(&Element::new("e")));
    assert_eq!(root.elements().count(), 3);
}

#[test]
fn keeps_whitespace_text_and_merges_text_around_comments() {
    let root = parse(b"<r> a <!-- c --> b <x/>\n</r>").expect("parses");
    assert_eq!(
        root.children,
        vec![
            Node::Text(" a  b ".into()),
            Node::Element(Element::new("x")),
            Node::Text("\n".into())
        ]
    );
}

#[test]
fn empty_cdata_is_kept_and_split_cdata_is_merged() {
    let root =
        parse(b"<r><k><![CDATA[]]></k><s><![CDATA[a]]]]><![CDATA[>b]]></s></r>").expect("parses");
    assert_eq!(
        root.child("k").map(|k| k.children.clone()),
        Some(vec![Node::CData(String::new())])
    );
    assert_eq!(
        root.child("s").map(|k| k.children.clone()),
        Some(vec![Node::CData("a]]>b".into())])
    );
}

#[test]
fn accepts_utf8_bom_and_non_ascii() {
    let root = parse("\u{FEFF}<r n=\"漢字\">Grüße 😀</r>".as_bytes()).expect("parses");
    assert_eq!(root.attribute("n"), Some("漢字"));
    assert_eq!(root.text(), "Grüße 😀");
}

#[test]
fn parses_metadata_xml_of_a_recording() {
    let root = parse(fixture!("presentation_metadata.xml")).expect("parses");
    assert_eq!(root.name, "recording");
    assert_eq!(
        root.find("meeting").and_then(|m| m.attribute("name")),
        Some("Physics & Chemistry 101")
    );
    let meta: Vec<&str> = root
        .child("meta")
        .map(|m| m.elements().map(|e| e.name.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        meta,
        [
            "isBreakout",
            "meetingName",
            "meetingId",
            "tenant-id",
            "gl-listed"
        ]
    );
    let image = root
        .find("playback/extensions/preview/images/image")
        .expect("image");
    assert_eq!(image.attribute("alt"), Some("Welcome to BigBlueButton"));
    assert!(image.text().ends_with("/thumbnails/thumb-1.png"));
}

fn check_err(input: &[u8], expected: XmlError) {
    assert_eq!(
        parse(input),
        Err(expected),
        "input {:?}",
        String::from_utf8_lossy(input)
    );
}

#[test]
fn empty_and_blank_inputs_have_no_root() {
    check_err(b"", XmlError::Empty);
    check_err(b"   \n\t ", XmlError::Empty);
    check_err(b"\xEF\xBB\xBF", XmlError::Empty);
    check_err(
        b"<?xml version=\"1.0\"?>\n<!-- nothing -->\n",
        XmlError::Empty,
    );
}

#[test]
fn plain_text_is_not_xml() {
    assert!(matches!(
        parse(b"Internal Server Error"),
        Err(XmlError::NotXml { .. })
    ));
    assert!(matches!(
        parse(b"{\"response\":{\"returncode\":\"SUCCESS\"}}"),
        Err(XmlError::NotXml { .. })
    ));
    assert!(matches!(
        parse(b"<r/>trailing text"),
        Err(XmlError::NotXml { .. })
    ));
    assert!(matches!(
        parse(b"<![CDATA[x]]>"),
        Err(XmlError::NotXml { .. })
    ));
}

#[test]
fn html_pages_are_recognised() {
    // nginx's error page is not even well-formed (`<hr>`), but it says HTML before that matters.
    check_err(fixture!("html_500.html"), XmlError::Html);
    check_err(fixture!("xhtml_502.html"), XmlError::Html);
    check_err(fixture!("xhtml_no_doctype.html"), XmlError::Html);
    check_err(b"<!doctype html><title>x</title>", XmlError::Html);
    check_err(b"<HTML><BODY>x</BODY></HTML>", XmlError::Html);
    // Only the doctype name `html` counts.
    assert_eq!(
        parse(b"<!DOCTYPE htmlish><htmlish/>"),
        Ok(crate::bbb::xml::Element::new("htmlish"))
    );
}

#[test]
fn truncated_documents() {
    check_err(fixture!("truncated_get_meetings.xml"), XmlError::Truncated);
    check_err(
        b"<response><returncode>SUCCESS</returncode>",
        XmlError::Truncated,
    );
    check_err(b"<response><returnco", XmlError::Truncated);
    check_err(b"<response><![CDATA[abc", XmlError::Truncated);
    check_err(b"<response><!-- abc", XmlError::Truncated);
    check_err(b"<?xml version=\"1.0\"", XmlError::Truncated);
    // Cut inside a multi-byte character.
    check_err(
        "<r>漢"
            .as_bytes()
            .split_last()
            .map(|(_, rest)| rest)
            .unwrap_or_default(),
        XmlError::Truncated,
    );
}

#[test]
fn every_prefix_of_a_document_is_an_error() {
    for full in [
        fixture!("get_meeting_info.xml"),
        fixture!("get_meetings_two.xml"),
        fixture!("presentation_metadata.xml"),
        "<?xml version=\"1.0\"?><!DOCTYPE r><!--c--><r a=\"&amp;\">&#x1F600;<![CDATA[x]]><?p?></r>"
            .as_bytes(),
    ] {
        let end = full.iter().rposition(|&b| b == b'>').expect("has an end") + 1;
        for cut in 0..end {
            let result = parse(&full[..cut]);
            assert!(
                matches!(result, Err(XmlError::Truncated | XmlError::Empty)),
                "prefix of {cut} bytes gave {result:?}"
            );
        }
        assert!(parse(&full[..end]).is_ok());
    }
}

#[test]
fn malformed_documents() {
    for input in [
        &b"<a><b></a></b>"[..],
        b"<a></b>",
        b"</a>",
        b"<a/><b/>",
        b"<a>&unknown;</a>",
        b"<a>& x</a>",
        b"<a x=\"1\" x=\"2\"/>",
        b"<a x=\"1\" y=\"2\" z=\"3\" y=\"4\"></a>",
        b"<a><b p:x='1' p:x='1'/></a>",
        b"<a x=1/>",
        b"<a x/>",
        b"<a>&#0;</a>",
    ] {
        let result = parse(input);
        assert!(
            matches!(result, Err(XmlError::Malformed { .. })),
            "{:?} gave {result:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn non_utf8_bytes_are_rejected_with_their_offset() {
    check_err(b"<r>caf\xE9</r>", XmlError::NotUtf8 { offset: 6 });
    // UTF-16 with a byte-order mark.
    check_err(b"\xFF\xFE<\0r\0/\0>\0", XmlError::NotUtf8 { offset: 0 });
    check_err(b"\x00\xFF\xFE\x80garbage", XmlError::NotUtf8 { offset: 1 });
}

#[test]
fn nesting_is_bounded() {
    let nested = |depth: usize| {
        let mut s = String::new();
        for _ in 0..depth {
            s.push_str("<a>");
        }
        for _ in 0..depth {
            s.push_str("</a>");
        }
        s
    };
    let ok = parse(nested(MAX_DEPTH).as_bytes()).expect("MAX_DEPTH levels are accepted");
    assert_eq!(
        ok.find(&vec!["a"; MAX_DEPTH - 1].join("/"))
            .map(|e| e.children.len()),
        Some(0)
    );
    check_err(
        nested(MAX_DEPTH + 1).as_bytes(),
        XmlError::TooDeep { limit: MAX_DEPTH },
    );
    check_err(
        "<a>".repeat(1_000_000).as_bytes(),
        XmlError::TooDeep { limit: MAX_DEPTH },
    );
    let self_closed = format!(
        "{}<b/>{}",
        "<a>".repeat(MAX_DEPTH),
        "</a>".repeat(MAX_DEPTH)
    );
    check_err(
        self_closed.as_bytes(),
        XmlError::TooDeep { limit: MAX_DEPTH },
    );
}

#[test]
fn custom_entities_are_never_expanded() {
    let bomb = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"#;
    assert!(matches!(parse(bomb), Err(XmlError::Malformed { .. })));
}

#[test]
fn errors_say_what_went_wrong() {
    assert_eq!(
        XmlError::Html.to_string(),
        "document is an HTML page, not XML"
    );
    assert_eq!(
        XmlError::Empty.to_string(),
        "empty document: no root element"
    );
    let message = parse(b"<a></b>").expect_err("malformed").to_string();
    assert!(message.starts_with("malformed XML at byte "), "{message}");
}

#[test]
fn characters_xml_forbids_are_tolerated_on_input_and_replaced_on_output() {
    // BBB does not filter control characters out of user-supplied names; proxying must not fail on them.
    let root = parse(b"<r a=\"x\x01\">a&#1;b\x02c&#xFFFE;</r>").expect("tolerated");
    assert_eq!(root.attribute("a"), Some("x\u{1}"));
    assert_eq!(root.text(), "a\u{1}b\u{2}c\u{FFFE}");
    let written = crate::bbb::xml::write(&root);
    assert!(
        written.ends_with("<r a=\"x\u{FFFD}\">a\u{FFFD}b\u{FFFD}c\u{FFFD}</r>"),
        "{written}"
    );
}

use crate::bbb::xml::{Element, Node, parse, write, write_fragment};

const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

#[test]
fn writes_declaration_then_compact_xml() {
    let root = Element::new("response")
        .with_child(Element::text_element("returncode", "SUCCESS"))
        .with_child(Element::new("meetings"));
    assert_eq!(
        write(&root),
        format!("{DECL}<response><returncode>SUCCESS</returncode><meetings/></response>")
    );
    assert_eq!(write_fragment(&Element::new("x")), "<x/>");
}

#[test]
fn escapes_special_characters_in_text_and_attributes() {
    let root = Element::new("r")
        .with_attribute("a", "& < > \" ' \t\n\r")
        .with_text("& < > \" ' \t\n\r");
    let xml = write(&root);
    assert_eq!(
        xml,
        format!(
            "{DECL}<r a=\"&amp; &lt; &gt; &quot; &apos; &#9;&#10;&#13;\">&amp; &lt; &gt; &quot; &apos; \t\n&#13;</r>"
        )
    );
    assert_eq!(parse(xml.as_bytes()), Ok(root));
}

#[test]
fn writes_non_ascii_as_utf8() {
    let root = Element::new("name")
        .with_attribute("alt", "漢字")
        .with_text("Grüße 😀 漢字");
    let xml = write(&root);
    assert_eq!(
        xml,
        format!("{DECL}<name alt=\"漢字\">Grüße 😀 漢字</name>")
    );
    assert_eq!(parse(xml.as_bytes()), Ok(root));
}

#[test]
fn cdata_is_written_raw_and_split_around_the_terminator() {
    let root = Element::new("r").with_cdata("a]]>b <&> ]]>");
    let xml = write(&root);
    assert_eq!(
        xml,
        format!("{DECL}<r><![CDATA[a]]]]><![CDATA[>b <&> ]]]]><![CDATA[>]]></r>")
    );
    assert_eq!(parse(xml.as_bytes()), Ok(root));

    let empty = Element::new("k").with_cdata("");
    assert_eq!(write_fragment(&empty), "<k><![CDATA[]]></k>");
    assert_eq!(parse(write(&empty).as_bytes()), Ok(empty));

    for content in ["]]>", "]]]>", "]]>]]>", ">]]", "]", "]]", "x]]>>"] {
        let root = Element::new("r").with_cdata(content);
        assert_eq!(parse(write(&root).as_bytes()), Ok(root), "{content:?}");
    }
}

#[test]
fn characters_xml_cannot_carry_are_replaced() {
    let root = Element::new("r")
        .with_attribute("a", "x\u{1}y")
        .with_text("a\u{0}b\u{8}c\u{FFFE}d")
        .with_child(Element::new("c").with_cdata("\u{1B}"));
    let xml = write(&root);
    assert_eq!(
        xml,
        format!(
            "{DECL}<r a=\"x\u{FFFD}y\">a\u{FFFD}b\u{FFFD}c\u{FFFD}d<c><![CDATA[\u{FFFD}]]></c></r>"
        )
    );
    assert!(parse(xml.as_bytes()).is_ok());
}

#[test]
fn mixed_content_round_trips() {
    let root = Element::new("r")
        .with_text("\n  ")
        .with_child(Element::text_element("a", "1"))
        .with_text("between")
        .with_cdata("c")
        .with_text("after")
        .with_child(Element::new("b").with_attribute("k", "v"));
    assert_eq!(parse(write(&root).as_bytes()), Ok(root));
}

#[test]
fn non_normalised_trees_come_back_normalised() {
    let root = Element {
        name: "r".into(),
        attributes: vec![],
        children: vec![
            Node::Text(String::new()),
            Node::Text("a".into()),
            Node::Text("b".into()),
            Node::CData("c".into()),
            Node::CData("d".into()),
        ],
    };
    let expected = Element::new("r").with_text("ab").with_cdata("cd");
    assert_eq!(parse(write(&root).as_bytes()), Ok(expected));
}

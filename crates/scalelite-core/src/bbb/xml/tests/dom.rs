use crate::bbb::xml::{Element, Node, is_valid_name, parse};

fn sample() -> Element {
    parse(
        br#"<response><returncode>SUCCESS</returncode><meetings><meeting><meetingID>a</meetingID></meeting>
        <meeting><meetingID>b</meetingID></meeting></meetings><meetings><meeting><meetingID>c</meetingID></meeting>
        </meetings><note>one<x/>two<![CDATA[three]]></note></response>"#,
    )
    .expect("sample parses")
}

#[test]
fn child_returns_first_direct_child_only() {
    let root = sample();
    assert_eq!(
        root.child("meetings").map(|m| m.elements().count()),
        Some(2)
    );
    // `meeting` is a grandchild, not a child.
    assert!(root.child("meeting").is_none());
    assert!(root.child("missing").is_none());
}

#[test]
fn children_named_iterates_in_order() {
    let root = sample();
    let names: Vec<usize> = root
        .children_named("meetings")
        .map(|m| m.elements().count())
        .collect();
    assert_eq!(names, vec![2, 1]);
}

#[test]
fn child_text_and_text_concatenate_text_and_cdata_of_direct_children() {
    let root = sample();
    assert_eq!(root.child_text("returncode").as_deref(), Some("SUCCESS"));
    assert_eq!(root.child_text("note").as_deref(), Some("onetwothree"));
    assert_eq!(root.child_text("missing"), None);
    // Nested element text is not included.
    assert_eq!(
        root.child("meetings")
            .map(Element::text)
            .map(|t| t.trim().to_owned()),
        Some(String::new())
    );
}

#[test]
fn find_follows_paths_across_all_branches() {
    let root = sample();
    assert_eq!(
        root.find("meetings/meeting/meetingID")
            .map(Element::text)
            .as_deref(),
        Some("a")
    );
    assert_eq!(root.find("").map(|e| e.name.as_str()), Some("response"));
    assert!(root.find("meetings/nothing").is_none());
    let ids: Vec<String> = root
        .find_all("meetings/meeting/meetingID")
        .into_iter()
        .map(Element::text)
        .collect();
    assert_eq!(ids, vec!["a", "b", "c"]);
    assert!(root.find_all("nothing/meeting").is_empty());

    // The first `meetings` lacking the path does not hide a later one.
    let root = parse(b"<r><a><x/></a><a><b>found</b></a></r>").expect("parses");
    assert_eq!(
        root.find("a/b").map(Element::text).as_deref(),
        Some("found")
    );
}

#[test]
fn builders_keep_trees_normalised() {
    let mut element = Element::text_element("a", "");
    assert!(element.children.is_empty(), "empty text adds no node");
    element.push_text("x");
    element.push_text("y");
    element.push_cdata("");
    element.push_cdata("z");
    element.push_child(Element::new("b"));
    element.push_cdata("");
    assert_eq!(
        element.children,
        vec![
            Node::Text("xy".into()),
            Node::CData("z".into()),
            Node::Element(Element::new("b")),
            Node::CData(String::new()),
        ]
    );
    let element = Element::new("img")
        .with_attribute("alt", "x")
        .with_attribute("width", "1");
    assert_eq!(element.attribute("width"), Some("1"));
    assert_eq!(element.attribute("height"), None);
}

#[test]
fn valid_names() {
    for name in [
        "a",
        "bbb-origin",
        "gl-listed",
        "_x",
        "tenant-id",
        "a.b",
        "ü",
        "漢字",
        "😀",
        "x1",
        "meetingName",
    ] {
        assert!(is_valid_name(name), "{name:?} is valid");
    }
    for name in [
        "", "1abc", "-a", ".a", "a b", "a:b", "a<b", "a&b", "a\"", "a'", "a/b", "a=b", " a",
    ] {
        assert!(!is_valid_name(name), "{name:?} is not valid");
    }
}

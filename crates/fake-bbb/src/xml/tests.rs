use super::*;

#[test]
fn writes_nested_elements_with_escaped_text() {
    let mut w = XmlWriter::new();
    w.open("response")
        .elem("returncode", "SUCCESS")
        .elem("name", "a<b & 'c' \"d\">\u{1}e")
        .elem("empty", "")
        .close("response");
    assert_eq!(
        w.finish(),
        "<response><returncode>SUCCESS</returncode>\
         <name>a&lt;b &amp; &apos;c&apos; &quot;d&quot;&gt;e</name><empty/></response>"
    );
}

#[test]
fn xml_names() {
    assert!(is_xml_name("bbb-origin"));
    assert!(is_xml_name("endcallbackurl"));
    assert!(is_xml_name("_a.b-1"));
    assert!(!is_xml_name(""));
    assert!(!is_xml_name("1abc"));
    assert!(!is_xml_name("a b"));
    assert!(!is_xml_name("a<b"));
    assert!(!is_xml_name("ü"));
}

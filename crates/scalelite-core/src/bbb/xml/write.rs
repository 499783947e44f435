//! Writing the DOM as compact UTF-8 XML.

use crate::bbb::xml::dom::{Element, Node};

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// The whole document: `<?xml version="1.0" encoding="UTF-8"?>`, a newline, then `root` as compact XML (no
/// indentation, no trailing newline).
///
/// - Text and attribute values escape `&`, `<`, `>`, `"` and `'`; attribute values also escape tab, newline and
///   carriage return, and text escapes carriage return, so that parsers' normalisation cannot alter them.
/// - CDATA is written as `<![CDATA[...]]>`; a `]]>` inside is split across two sections.
/// - Non-ASCII characters are written as they are (UTF-8). Characters XML 1.0 forbids (most C0 controls,
///   U+FFFE, U+FFFF) are replaced by U+FFFD, since no escape can carry them.
/// - An element without children is written self-closed (`<meetings/>`).
/// - Element and attribute names are written verbatim: callers building trees must use valid names
///   ([`crate::bbb::xml::is_valid_name`]); trees from [`crate::bbb::xml::parse`] come back as they were read.
pub fn write(root: &Element) -> String {
    let mut out = String::with_capacity(DECLARATION.len() + 256);
    out.push_str(DECLARATION);
    write_element(&mut out, root);
    out
}

/// `element` as compact XML without the declaration (same rules as [`write()`]).
pub fn write_fragment(element: &Element) -> String {
    let mut out = String::with_capacity(256);
    write_element(&mut out, element);
    out
}

fn write_element(out: &mut String, element: &Element) {
    out.push('<');
    out.push_str(&element.name);
    for (name, value) in &element.attributes {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        escape_into(out, value, true);
        out.push('"');
    }
    if element.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for node in &element.children {
        match node {
            Node::Element(child) => write_element(out, child),
            Node::Text(text) => escape_into(out, text, false),
            Node::CData(content) => write_cdata(out, content),
        }
    }
    out.push_str("</");
    out.push_str(&element.name);
    out.push('>');
}

fn escape_into(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push(char::REPLACEMENT_CHARACTER),
        }
    }
}

fn write_cdata(out: &mut String, content: &str) {
    out.push_str("<![CDATA[");
    for c in content.chars() {
        if is_xml_char(c) {
            out.push(c);
        } else {
            out.push(char::REPLACEMENT_CHARACTER);
        }
        // Close the section between `]]` and `>` and reopen it, so `]]>` never appears inside one section.
        if c == '>' && out.ends_with("]]>") {
            out.truncate(out.len() - 1);
            out.push_str("]]><![CDATA[>");
        }
    }
    out.push_str("]]>");
}

/// XML 1.0 `Char`: tab, newline, carriage return, and everything from U+0020 except U+FFFE and U+FFFF (Rust
/// `char` already excludes surrogates).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

//! A minimal XML writer for BBB replies: elements with escaped text, nothing else.

#[cfg(test)]
mod tests;

/// Builds an XML document as a string. Every element name passed in is trusted to be a valid XML name; callers
/// that take names from requests (metadata keys) check them with [`is_xml_name`] first.
#[derive(Debug, Default)]
pub(crate) struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// An empty document.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// `<name>`.
    pub(crate) fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `</name>`.
    pub(crate) fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `<name>text</name>`, or `<name/>` when the text is empty.
    pub(crate) fn elem(&mut self, name: &str, text: impl std::fmt::Display) -> &mut Self {
        let text = text.to_string();
        if text.is_empty() {
            self.empty(name)
        } else {
            self.open(name);
            escape_into(&mut self.out, &text);
            self.close(name)
        }
    }

    /// `<name/>`.
    pub(crate) fn empty(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str("/>");
        self
    }

    /// The finished document.
    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// `text` escaped for XML or HTML element content.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// Append `text` escaped for element content. Characters XML 1.0 forbids (most C0 controls) are dropped so the
/// document stays well-formed whatever a request carried.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if u32::from(c) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

/// Is `name` safe to use as an element name (a conservative subset of XML names)?
pub(crate) fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

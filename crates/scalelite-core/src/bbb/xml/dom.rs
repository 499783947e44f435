//! The DOM: elements with ordered attributes and ordered children (elements, text, CDATA).

/// One XML element: its name, its attributes in document order, and its children in document order.
///
/// Trees built with the `push_*`/`with_*` methods stay *normalised*: no empty text node, no two adjacent text
/// nodes, no two adjacent CDATA nodes. [`crate::bbb::xml::parse`] also returns normalised trees, so
/// `parse(write(x)) == x` holds for every normalised tree whose names are valid XML names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// The element name, verbatim (a namespace prefix, if any, stays part of it).
    pub name: String,
    /// Attributes in document order, values unescaped.
    pub attributes: Vec<(String, String)>,
    /// Children in document order.
    pub children: Vec<Node>,
}

/// A child of an [`Element`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A nested element.
    Element(Element),
    /// Character data, entity references already unescaped.
    Text(String),
    /// The content of a `<![CDATA[...]]>` section.
    CData(String),
}

impl Element {
    /// An element with no attributes and no children.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            attributes: Vec::new(),
            children: Vec::new(),
        }
    }

    /// An element holding one text node (none if `text` is empty), e.g. `<returncode>SUCCESS</returncode>`.
    pub fn text_element(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(name).with_text(text)
    }

    /// Builder form of [`Element::push_child`].
    pub fn with_child(mut self, child: Element) -> Self {
        self.push_child(child);
        self
    }

    /// Builder form of [`Element::push_text`].
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.push_text(text);
        self
    }

    /// Builder form of [`Element::push_cdata`].
    pub fn with_cdata(mut self, content: impl Into<String>) -> Self {
        self.push_cdata(content);
        self
    }

    /// Builder form of [`Element::push_attribute`].
    pub fn with_attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.push_attribute(name, value);
        self
    }

    /// Append a child element.
    pub fn push_child(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    /// Append text. Empty text adds nothing; text right after a text node is merged into it.
    pub fn push_text(&mut self, text: impl Into<String>) {
        let text = text.into();
        if text.is_empty() {
            return;
        }
        match self.children.last_mut() {
            Some(Node::Text(last)) => last.push_str(&text),
            _ => self.children.push(Node::Text(text)),
        }
    }

    /// Append a CDATA section. An empty one is kept (it is written as `<![CDATA[]]>`); content right after a CDATA
    /// node is merged into it.
    pub fn push_cdata(&mut self, content: impl Into<String>) {
        let content = content.into();
        match self.children.last_mut() {
            Some(Node::CData(last)) => last.push_str(&content),
            _ => self.children.push(Node::CData(content)),
        }
    }

    /// Append an attribute (no check for duplicates).
    pub fn push_attribute(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.attributes.push((name.into(), value.into()));
    }

    /// The value of the first attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The child elements, in order (text and CDATA skipped).
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) | Node::CData(_) => None,
        })
    }

    /// The first direct child element called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|element| element.name == name)
    }

    /// Every direct child element called `name`, in order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |element| element.name == name)
    }

    /// The [`Element::text`] of the first direct child called `name`.
    pub fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).map(Element::text)
    }

    /// The text and CDATA of the direct children, concatenated (nested elements are not descended into).
    pub fn text(&self) -> String {
        let mut text = String::new();
        for node in &self.children {
            match node {
                Node::Text(t) | Node::CData(t) => text.push_str(t),
                Node::Element(_) => {}
            }
        }
        text
    }

    /// The first element reached by a `/`-separated path of child names, relative to `self`: on a `<response>`,
    /// `find("meetings/meeting")` is the first `<meeting>` of any `<meetings>`. An empty path is `self`.
    pub fn find(&self, path: &str) -> Option<&Element> {
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        match segments.next() {
            None => Some(self),
            Some(first) => {
                let rest: Vec<&str> = segments.collect();
                first_match(self, first, &rest)
            }
        }
    }

    /// Every element reached by a `/`-separated path of child names, relative to `self`, in document order:
    /// `find_all("meetings/meeting")` is every `<meeting>` of every `<meetings>`.
    pub fn find_all(&self, path: &str) -> Vec<&Element> {
        let mut current = vec![self];
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            current = current
                .into_iter()
                .flat_map(|element| element.elements().filter(|child| child.name == segment))
                .collect();
        }
        current
    }
}

/// Whether `name` is safe to write as an element or attribute name: a non-empty XML `NCName` (an XML 1.0 name
/// without `:`, which namespace-aware parsers would reject as an unbound prefix).
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) if is_name_start_char(first) => chars.all(is_name_char),
        _ => false,
    }
}

fn first_match<'a>(element: &'a Element, segment: &str, rest: &[&str]) -> Option<&'a Element> {
    element
        .elements()
        .filter(|child| child.name == segment)
        .find_map(|child| match rest.split_first() {
            None => Some(child),
            Some((next, rest)) => first_match(child, next, rest),
        })
}

fn is_name_start_char(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}'
        | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

//! Parsing bytes into the DOM, defensively: the input comes from BBB servers and from recording archives.

use std::collections::HashSet;

use quick_xml::errors::{Error as QuickError, SyntaxError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::bbb::xml::dom::Element;

/// How deeply elements may nest (the root is depth 1). BBB documents need about 6; the bound keeps hostile input
/// from exhausting the stack of the recursive code that walks, writes, clones or drops a tree.
pub const MAX_DEPTH: usize = 64;

/// Why bytes could not be parsed as an XML document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// No root element: the input is empty, blank, or only a prolog (declaration, comments).
    #[error("empty document: no root element")]
    Empty,
    /// The bytes are not UTF-8 (UTF-16 and legacy encodings are not supported).
    #[error("document is not valid UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Offset of the first byte that is not part of a valid UTF-8 sequence.
        offset: usize,
    },
    /// Text outside the root element: plain text or junk rather than XML.
    #[error("not an XML document: text outside the root element at byte {position}")]
    NotXml {
        /// Byte offset where the stray text was found.
        position: u64,
    },
    /// An HTML page (an `html` doctype or root element), e.g. a proxy's error page.
    #[error("document is an HTML page, not XML")]
    Html,
    /// The input ends before the document does (inside markup, or with elements still open).
    #[error("truncated XML document: input ends before the document is complete")]
    Truncated,
    /// Elements nest deeper than [`MAX_DEPTH`].
    #[error("XML elements nest deeper than {limit} levels")]
    TooDeep {
        /// The nesting limit that was exceeded.
        limit: usize,
    },
    /// Anything else that is not well-formed: mismatched tags, bad attributes, unknown entities, a second root.
    #[error("malformed XML at byte {position}: {message}")]
    Malformed {
        /// Byte offset of the problem.
        position: u64,
        /// What is wrong.
        message: String,
    },
}

/// Parse a whole document and return its root element.
///
/// Accepted and skipped: a UTF-8 byte-order mark, the XML declaration, comments, processing instructions, a
/// DOCTYPE, whitespace around the root. Unknown elements are kept like any other. Entity and character references
/// are unescaped; CDATA sections become [`crate::bbb::xml::Node::CData`]. Whitespace inside the root is kept as text. The tree is
/// normalised (no empty text, adjacent text or adjacent CDATA nodes are merged). Undeclared custom entities are an
/// error, and DTD entities are never expanded. Characters XML 1.0 forbids (C0 controls, raw or as character
/// references other than `&#0;`) are tolerated and kept, since BBB does not filter them out of user-supplied
/// names; [`crate::bbb::xml::write`] replaces them.
pub fn parse(input: &[u8]) -> Result<Element, XmlError> {
    parse_pruned(input, |_, _| true)
}

/// [`parse`], keeping only the elements `keep` accepts: `keep(ancestors, name)` is asked for every element below
/// the root (which is always kept), `ancestors` being the open elements from the root down to its parent, all
/// kept. A rejected element is left out with everything inside it, but checked exactly as [`parse`] checks it, so
/// the same input fails the same way. The result is the tree [`parse`] returns without the rejected subtrees
/// (texts the removal makes adjacent are merged, as in any normalised tree); readers that only look at kept
/// elements and their direct text see the same thing, without the cost of building and dropping the rest (the
/// attendees of a big `getMeetings`, for the poller).
pub fn parse_pruned(
    input: &[u8],
    keep: impl Fn(&[Element], &str) -> bool,
) -> Result<Element, XmlError> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    if let Err(e) = std::str::from_utf8(input) {
        // `error_len() == None`: the input ends in the middle of a character.
        return Err(match e.error_len() {
            None => XmlError::Truncated,
            Some(_) => XmlError::NotUtf8 {
                offset: e.valid_up_to(),
            },
        });
    }

    let mut reader = Reader::from_reader(input);
    {
        let config = reader.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = false;
        config.check_end_names = true;
        config.allow_unmatched_ends = false;
    }

    // Open elements; the last one is the innermost. The kept ones are in `kept`, in order; `open` has one entry per
    // open element, true when it is kept (a rejected element's descendants are all rejected).
    let mut kept: Vec<Element> = Vec::new();
    let mut open: Vec<bool> = Vec::new();
    let mut root: Option<Element> = None;

    loop {
        // Where the event starts, for error messages.
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| convert_error(input, &reader, e))?;
        match event {
            Event::Start(start) => {
                check_second_root(&root, position)?;
                if open.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep { limit: MAX_DEPTH });
                }
                match start_element(&start, position, &kept, &open, &keep)? {
                    Some(element) => {
                        kept.push(element);
                        open.push(true);
                    }
                    None => open.push(false),
                }
            }
            Event::Empty(start) => {
                check_second_root(&root, position)?;
                if open.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep { limit: MAX_DEPTH });
                }
                if let Some(element) = start_element(&start, position, &kept, &open, &keep)? {
                    match kept.last_mut() {
                        Some(parent) => parent.push_child(element),
                        None => root = Some(element),
                    }
                }
            }
            Event::End(_) => {
                // quick-xml has already checked that the end tag matches the open one.
                let Some(is_kept) = open.pop() else {
                    return Err(malformed(position, "end tag without a start tag"));
                };
                if is_kept {
                    let Some(element) = kept.pop() else {
                        return Err(malformed(position, "end tag without a start tag"));
                    };
                    match kept.last_mut() {
                        Some(parent) => parent.push_child(element),
                        None => root = Some(element),
                    }
                }
            }
            Event::Text(text) => {
                let at_end =
                    usize::try_from(reader.buffer_position()).is_ok_and(|end| end >= input.len());
                if at_end && !open.is_empty() {
                    // Text running into the end of input inside the root (maybe cut inside an entity reference).
                    return Err(XmlError::Truncated);
                }
                let text = text
                    .unescape()
                    .map_err(|e| malformed(position, &e.to_string()))?;
                match open.last() {
                    Some(true) => {
                        if let Some(parent) = kept.last_mut() {
                            parent.push_text(text.into_owned());
                        }
                    }
                    Some(false) => {}
                    None if text.trim().is_empty() => {}
                    None => return Err(XmlError::NotXml { position }),
                }
            }
            Event::CData(cdata) => {
                let content =
                    std::str::from_utf8(&cdata).map_err(|e| malformed(position, &e.to_string()))?;
                match open.last() {
                    Some(true) => {
                        if let Some(parent) = kept.last_mut() {
                            parent.push_cdata(content.to_owned());
                        }
                    }
                    Some(false) => {}
                    None => return Err(XmlError::NotXml { position }),
                }
            }
            Event::DocType(doctype) => {
                let is_html = doctype
                    .trim_ascii_start()
                    .split(|b| b.is_ascii_whitespace() || *b == b'[' || *b == b'>')
                    .next()
                    .is_some_and(|name| name.eq_ignore_ascii_case(b"html"));
                if is_html {
                    return Err(XmlError::Html);
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => {
                if !open.is_empty() {
                    return Err(XmlError::Truncated);
                }
                return root.ok_or(XmlError::Empty);
            }
        }
    }
}

/// Check a start tag as [`parse`] does, and return its element when it is kept: the root always, an element below
/// it when its parent is kept and `keep` accepts it. `kept` and `open` are the parser's stacks before this element.
fn start_element(
    start: &BytesStart<'_>,
    position: u64,
    kept: &[Element],
    open: &[bool],
    keep: &impl Fn(&[Element], &str) -> bool,
) -> Result<Option<Element>, XmlError> {
    let qname = start.name();
    let name =
        std::str::from_utf8(qname.as_ref()).map_err(|e| malformed(position, &e.to_string()))?;
    if name.is_empty() {
        return Err(malformed(position, "element without a name"));
    }
    let is_kept = match open.last() {
        None => true,
        Some(false) => false,
        Some(true) => keep(kept, name),
    };
    let mut element = is_kept.then(|| Element::new(name));
    // quick-xml's own duplicate check compares each attribute with every earlier one, quadratic in their number;
    // a set does the same check in linear time.
    let mut attributes = start.attributes();
    attributes.with_checks(false);
    let mut seen = HashSet::new();
    for attribute in attributes {
        let attribute = attribute.map_err(|e| malformed(position, &e.to_string()))?;
        if !seen.insert(attribute.key) {
            return Err(malformed(position, "duplicate attribute"));
        }
        let key = std::str::from_utf8(attribute.key.as_ref())
            .map_err(|e| malformed(position, &e.to_string()))?;
        let value = attribute
            .unescape_value()
            .map_err(|e| malformed(position, &e.to_string()))?;
        if let Some(element) = element.as_mut() {
            element
                .attributes
                .push((key.to_owned(), value.into_owned()));
        }
    }
    if open.is_empty() && name.eq_ignore_ascii_case("html") {
        return Err(XmlError::Html);
    }
    Ok(element)
}

fn check_second_root(root: &Option<Element>, position: u64) -> Result<(), XmlError> {
    if root.is_some() {
        return Err(malformed(position, "more than one root element"));
    }
    Ok(())
}

fn convert_error(input: &[u8], reader: &Reader<&[u8]>, error: QuickError) -> XmlError {
    let position = reader.error_position();
    match error {
        // quick-xml reports input that ends inside markup as an unclosed construct.
        QuickError::Syntax(
            SyntaxError::UnclosedTag
            | SyntaxError::UnclosedCData
            | SyntaxError::UnclosedComment
            | SyntaxError::UnclosedDoctype
            | SyntaxError::UnclosedPIOrXmlDecl,
        ) => XmlError::Truncated,
        // `<!` followed by the end of input or by the start of `<!--`, `<![CDATA[` or `<!DOCTYPE`.
        QuickError::Syntax(SyntaxError::InvalidBangMarkup) if is_cut_bang(input, position) => {
            XmlError::Truncated
        }
        other => malformed(position, &other.to_string()),
    }
}

fn is_cut_bang(input: &[u8], position: u64) -> bool {
    let Some(rest) = usize::try_from(position).ok().and_then(|p| input.get(p..)) else {
        return false;
    };
    ["<!--", "<![CDATA[", "<!DOCTYPE"].iter().any(|markup| {
        rest.len() < markup.len() && markup.as_bytes()[..rest.len()].eq_ignore_ascii_case(rest)
    })
}

fn malformed(position: u64, message: &str) -> XmlError {
    XmlError::Malformed {
        position,
        message: message.to_owned(),
    }
}

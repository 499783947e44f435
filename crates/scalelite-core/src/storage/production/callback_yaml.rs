//! `callback_data.callback_attributes`: a Ruby hash with symbol keys, serialised by Psych (YAML).
//!
//! The original stores `{recording_ready_url: "https://…", analytics_callback_url: "https://…"}` as
//! `"---\n:recording_ready_url: https://…\n"`. Both sides share the table, so this module writes what Psych writes
//! for such a hash (plain scalars where Psych would use them, its quoting rules otherwise) and reads what Psych may
//! have written: plain, single-quoted, double-quoted and block scalars, symbol or string keys, an optional tag on
//! the document line, and the empty hash `--- {}`. It is not a general YAML parser.

#[cfg(test)]
mod tests;

/// The two callback URLs the original keeps per meeting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbackAttributes {
    /// `:recording_ready_url`, notified after import.
    pub recording_ready_url: Option<String>,
    /// `:analytics_callback_url`, where BBB's analytics are relayed.
    pub analytics_callback_url: Option<String>,
    /// `:tenant_id` (ours): the tenant that created the meeting. The original never writes it and ignores it.
    pub tenant_id: Option<String>,
    /// `:server_id` (ours): the server the meeting was created on.
    pub server_id: Option<String>,
}

/// Why a stored `callback_attributes` value could not be read.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum YamlError {
    /// Not the one-level mapping of scalars Psych writes for such a hash.
    #[error("callback_attributes line {line}: {reason}")]
    Syntax { line: usize, reason: &'static str },
}

const RECORDING_READY_URL: &str = "recording_ready_url";
const ANALYTICS_CALLBACK_URL: &str = "analytics_callback_url";
const TENANT_ID: &str = "tenant_id";
const SERVER_ID: &str = "server_id";

/// Serialise as Psych does for a Hash with symbol keys (analytics first: the original's create handlers set it
/// first and merge the recording-ready URL after it).
pub fn encode(attrs: &CallbackAttributes) -> String {
    let entries: Vec<(&str, &str)> = [
        (
            ANALYTICS_CALLBACK_URL,
            attrs.analytics_callback_url.as_deref(),
        ),
        (RECORDING_READY_URL, attrs.recording_ready_url.as_deref()),
        (TENANT_ID, attrs.tenant_id.as_deref()),
        (SERVER_ID, attrs.server_id.as_deref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    if entries.is_empty() {
        return "--- {}\n".to_owned();
    }
    let mut out = String::from("---\n");
    for (key, value) in entries {
        out.push(':');
        out.push_str(key);
        out.push_str(": ");
        out.push_str(&scalar(value));
        out.push('\n');
    }
    out
}

/// Parse a stored value. A NULL column is the caller's business; an empty string reads as no URLs.
pub fn decode(text: &str) -> Result<CallbackAttributes, YamlError> {
    let mut attrs = CallbackAttributes::default();
    for (key, value) in parse_mapping(text)? {
        let key = key.strip_prefix(':').unwrap_or(&key);
        match key {
            RECORDING_READY_URL => attrs.recording_ready_url = value,
            ANALYTICS_CALLBACK_URL => attrs.analytics_callback_url = value,
            TENANT_ID => attrs.tenant_id = value,
            SERVER_ID => attrs.server_id = value,
            _ => {}
        }
    }
    Ok(attrs)
}

/// One string value as Psych would emit it.
fn scalar(value: &str) -> String {
    if value.is_empty() {
        return "''".to_owned();
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return double_quoted(value);
    }
    if matches!(value, "y" | "Y" | "n" | "N") {
        return double_quoted(value);
    }
    let first = value.chars().next().unwrap_or(' ');
    let starts_with_word = first.is_alphanumeric() || first == '_';
    // Psych: a string starting with a non-word character and free of `"` is double-quoted.
    if !starts_with_word && !value.contains('"') {
        return double_quoted(value);
    }
    if resolves_to_non_string(value) || !plain_allowed(value) {
        return single_quoted(value);
    }
    value.to_owned()
}

/// Would YAML 1.1 (Psych's scalar scanner) read this plain scalar as something other than a string? Errs on the
/// side of quoting: a quoted string always reads back unchanged.
fn resolves_to_non_string(value: &str) -> bool {
    const WORDS: [&str; 10] = [
        "~", "null", "true", "false", "yes", "no", "on", "off", ".inf", ".nan",
    ];
    let lower = value.to_ascii_lowercase();
    if WORDS.contains(&lower.as_str()) || lower == "-.inf" || lower == "+.inf" {
        return true;
    }
    let first = value.chars().next().unwrap_or(' ');
    let numeric_start = first.is_ascii_digit() || matches!(first, '-' | '+' | '.');
    numeric_start
        && value.chars().all(|c| {
            c.is_ascii_hexdigit()
                || matches!(
                    c,
                    'x' | 'X'
                        | 'o'
                        | 'O'
                        | '_'
                        | ','
                        | '.'
                        | ':'
                        | '+'
                        | '-'
                        | 'T'
                        | 't'
                        | 'Z'
                        | 'z'
                        | ' '
                )
        })
}

/// libyaml's test for a plain scalar in block context, reduced to what strings here can contain.
fn plain_allowed(value: &str) -> bool {
    let first = value.chars().next().unwrap_or(' ');
    let last = value.chars().last().unwrap_or(' ');
    if first.is_whitespace() || last.is_whitespace() || last == ':' {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    !(value.contains(": ") || value.contains(" #") || value.contains('\t'))
}

fn single_quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => {
                let code = u32::from(c);
                if code <= 0xff {
                    out.push_str(&format!("\\x{code:02X}"));
                } else {
                    out.push_str(&format!("\\u{code:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Top-level `key: value` pairs of a one-level block mapping (values `None` for YAML null).
fn parse_mapping(text: &str) -> Result<Vec<(String, Option<String>)>, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // Document start, possibly with a tag (`--- !ruby/hash:…`) or an inline empty mapping.
    while i < lines.len() && is_blank_or_comment(lines[i]) {
        i += 1;
    }
    if i < lines.len() {
        if let Some(rest) = lines[i].strip_prefix("---") {
            let rest = strip_tag(rest.trim());
            if rest == "{}" || rest == "~" || rest == "null" {
                return Ok(out);
            }
            if !rest.is_empty() {
                return Err(YamlError::Syntax {
                    line: i + 1,
                    reason: "expected a mapping after the document start",
                });
            }
            i += 1;
        }
    }
    while i < lines.len() {
        let line = lines[i];
        if is_blank_or_comment(line) || line.starts_with("...") {
            i += 1;
            continue;
        }
        if line.starts_with(' ') {
            return Err(YamlError::Syntax {
                line: i + 1,
                reason: "unexpected indentation",
            });
        }
        let (key, rest) = split_key(line).ok_or(YamlError::Syntax {
            line: i + 1,
            reason: "expected `key: value`",
        })?;
        // Lines indented under this key belong to its value.
        let mut end = i + 1;
        while end < lines.len()
            && (lines[end].starts_with(' ')
                || lines[end].starts_with('\t')
                || lines[end].trim().is_empty())
        {
            end += 1;
        }
        let value = parse_value(rest, &lines[i + 1..end], i + 1)?;
        out.push((key, value));
        i = end;
    }
    Ok(out)
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// Drop a leading `!tag` (and `!!str`).
fn strip_tag(value: &str) -> &str {
    if value.starts_with('!') {
        match value.find(' ') {
            Some(pos) => value[pos..].trim_start(),
            None => "",
        }
    } else {
        value
    }
}

/// Split `key: rest` at the first `: ` (or a final `:`), keys possibly quoted.
fn split_key(line: &str) -> Option<(String, &str)> {
    let line = line.trim_end();
    if let Some(quote) = line.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let close = line[1..].find(quote)? + 1;
        let key = line[1..close].to_owned();
        let rest = line[close + 1..].strip_prefix(':')?;
        return Some((key, rest.trim_start()));
    }
    // Start after the first character: a symbol key begins with ':'.
    let search_from = line.char_indices().nth(1).map(|(p, _)| p)?;
    let pos = match line[search_from..].find(": ") {
        Some(p) => search_from + p,
        None if line.ends_with(':') && line.len() > 1 => line.len() - 1,
        None => return None,
    };
    Some((line[..pos].to_owned(), line[pos + 1..].trim_start()))
}

fn parse_value(first: &str, more: &[&str], line_no: usize) -> Result<Option<String>, YamlError> {
    let first = strip_tag(first);
    if first.starts_with('|') || first.starts_with('>') {
        return Ok(Some(block_scalar(first, more)));
    }
    if first.starts_with('\'') || first.starts_with('"') {
        let mut joined = first.to_owned();
        for l in more {
            joined.push('\n');
            joined.push_str(l);
        }
        return quoted(&joined, line_no).map(Some);
    }
    let first = strip_comment(first);
    let mut parts: Vec<String> = Vec::new();
    if !first.is_empty() {
        parts.push(first.to_owned());
    }
    for l in more {
        let t = strip_comment(l.trim());
        if t.is_empty() {
            parts.push("\n".to_owned());
        } else {
            parts.push(t.to_owned());
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    let value = fold(&parts);
    if matches!(value.as_str(), "~" | "null" | "Null" | "NULL") {
        return Ok(None);
    }
    Ok(Some(value))
}

fn strip_comment(value: &str) -> &str {
    match value.find(" #") {
        Some(pos) => value[..pos].trim_end(),
        None if value.starts_with('#') => "",
        None => value.trim_end(),
    }
}

/// Line folding of plain and quoted multi-line scalars: a single line break becomes a space, empty lines become
/// line breaks. `parts` holds trimmed lines, with `"\n"` standing for an empty line.
fn fold(parts: &[String]) -> String {
    let mut out = String::new();
    let mut pending_space = false;
    for p in parts {
        if p == "\n" {
            out.push('\n');
            pending_space = false;
            continue;
        }
        if pending_space {
            out.push(' ');
        }
        out.push_str(p);
        pending_space = true;
    }
    out
}

fn quoted(text: &str, line_no: usize) -> Result<String, YamlError> {
    let quote = text.chars().next().unwrap_or('\'');
    let single_line = fold_quoted_lines(text, quote == '"');
    let body = &single_line[1..];
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if quote == '\'' && c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
                out.push('\'');
                continue;
            }
            return Ok(out);
        }
        if quote == '"' && c == '"' {
            return Ok(out);
        }
        if quote == '"' && c == '\\' {
            let bad = YamlError::Syntax {
                line: line_no,
                reason: "bad escape in double-quoted scalar",
            };
            let e = chars.next().ok_or(bad.clone())?;
            match e {
                'n' => out.push('\n'),
                't' | '\t' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'e' => out.push('\u{1b}'),
                'f' => out.push('\u{c}'),
                'v' => out.push('\u{b}'),
                ' ' => out.push(' '),
                '/' => out.push('/'),
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'N' => out.push('\u{85}'),
                '_' => out.push('\u{a0}'),
                'L' => out.push('\u{2028}'),
                'P' => out.push('\u{2029}'),
                'x' | 'u' | 'U' => {
                    let len = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = (0..len).filter_map(|_| chars.next()).collect();
                    let ch = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or(bad)?;
                    out.push(ch);
                }
                _ => return Err(bad),
            }
            continue;
        }
        out.push(c);
    }
    Err(YamlError::Syntax {
        line: line_no,
        reason: "unterminated quoted scalar",
    })
}

/// Join the source lines of a multi-line quoted scalar by YAML line folding (a line break is a space, an empty
/// line a line break; in double quotes a trailing `\` joins without a space).
fn fold_quoted_lines(text: &str, double: bool) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    if lines.len() == 1 {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut joiner: Option<&str> = None;
    for (n, raw) in lines.iter().enumerate() {
        let line = if n == 0 { raw.trim_end() } else { raw.trim() };
        if n > 0 && line.is_empty() {
            out.push('\n');
            joiner = Some("");
            continue;
        }
        if let Some(j) = joiner {
            out.push_str(j);
        }
        let escaped_break = double && ends_with_unescaped_backslash(line);
        if escaped_break {
            out.push_str(&line[..line.len() - 1]);
            joiner = Some("");
        } else {
            out.push_str(line);
            joiner = Some(" ");
        }
    }
    out
}

fn ends_with_unescaped_backslash(line: &str) -> bool {
    let count = line.chars().rev().take_while(|c| *c == '\\').count();
    count % 2 == 1
}

fn block_scalar(header: &str, lines: &[&str]) -> String {
    let literal = header.starts_with('|');
    let chomp = if header.contains('-') {
        Chomp::Strip
    } else if header.contains('+') {
        Chomp::Keep
    } else {
        Chomp::Clip
    };
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    let content: Vec<&str> = lines
        .iter()
        .map(|l| if l.len() >= indent { &l[indent..] } else { "" })
        .collect();
    let mut body = if literal {
        content.join("\n")
    } else {
        let parts: Vec<String> = content
            .iter()
            .map(|l| {
                if l.is_empty() {
                    "\n".to_owned()
                } else {
                    (*l).to_owned()
                }
            })
            .collect();
        fold(&parts)
    };
    let trimmed_len = body.trim_end_matches('\n').len();
    let trailing = body.len() - trimmed_len;
    body.truncate(trimmed_len);
    match chomp {
        Chomp::Strip => {}
        Chomp::Clip => body.push('\n'),
        Chomp::Keep => {
            for _ in 0..trailing.max(1) {
                body.push('\n');
            }
        }
    }
    body
}

enum Chomp {
    Strip,
    Clip,
    Keep,
}

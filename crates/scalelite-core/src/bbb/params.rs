//! Request parameters of a BBB API call: decoding a query string or form body, checksum-verifying a
//! request ([`verify_request`]) and the small parameter rules the API shares (required values, lists).
//!
//! Decoding follows Rack, which the original runs on: `&`-separated pairs, `+` is a space, `%XX` a byte,
//! an invalid `%` escape is kept as it is, a bare `name` has the value `""`, a repeated name keeps its first
//! position and takes its last value. Nested names (`a[b]=`) are not interpreted.

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use crate::bbb::checksum::{self, AllowedAlgorithms, ChecksumError};
use crate::bbb::uri;
use crate::domain::Secret;

/// An ordered list of decoded `(name, value)` pairs with unique names.
#[derive(Clone, Default)]
pub struct Params {
    entries: Vec<(String, String)>,
    /// Position of each name in `entries`, so building a large parameter list stays linear.
    index: HashMap<String, usize>,
}

/// A query string or form body that cannot be turned into [`Params`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// A name or value is not UTF-8 once percent-decoded.
    #[error("parameter {name:?} is not valid UTF-8")]
    InvalidUtf8 {
        /// The parameter's name (lossily decoded if the name itself is the invalid part).
        name: String,
    },
}

/// Why [`verify_request`] refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The checksum is missing, malformed, not allowed or wrong: BBB's `checksumError`.
    #[error(transparent)]
    Checksum(#[from] ChecksumError),
    /// The checksum is right but the parameters cannot be decoded.
    #[error(transparent)]
    Params(#[from] ParamsError),
}

/// A `meetingID` that is present and not blank.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MeetingId(String);

/// `meetingID` is absent, empty or whitespace-only: BBB's `missingParamMeetingID`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("meetingID is missing or blank")]
pub struct MissingMeetingId;

impl Params {
    /// Decodes an `application/x-www-form-urlencoded` string (a URL query without `?`, or a form body).
    ///
    /// # Errors
    /// [`ParamsError::InvalidUtf8`] when a decoded name or value is not UTF-8.
    pub fn parse(raw: &str) -> Result<Params, ParamsError> {
        let mut params = Params::default();
        for (name, value) in raw_pairs(raw) {
            let (name, value) = into_utf8(name, value)?;
            params.set(name, value);
        }
        Ok(params)
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.index.get(name).map(|&i| self.entries[i].1.as_str())
    }

    /// Sets `name` to `value`: in place if the name is present, else appended at the end.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.index.get(&name) {
            Some(&i) => self.entries[i].1 = value,
            None => {
                self.index.insert(name.clone(), self.entries.len());
                self.entries.push((name, value));
            }
        }
    }

    /// Removes `name` and returns its value; the other parameters keep their order.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let position = self.index.remove(name)?;
        let (_, value) = self.entries.remove(position);
        for slot in self.index.values_mut() {
            if *slot > position {
                *slot -= 1;
            }
        }
        Some(value)
    }

    /// Whether `name` is present (possibly with an empty value).
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The `(name, value)` pairs in order.
    pub fn iter(
        &self,
    ) -> impl ExactSizeIterator<Item = (&str, &str)> + DoubleEndedIterator + Clone + '_ {
        self.entries
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl PartialEq for Params {
    /// Same pairs in the same order.
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for Params {}

impl FromIterator<(String, String)> for Params {
    /// Collects with [`Params::set`] semantics: a repeated name keeps its first position and last value.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut params = Params::default();
        for (name, value) in iter {
            params.set(name, value);
        }
        params
    }
}

impl<'a> FromIterator<(&'a str, &'a str)> for Params {
    /// Collects with [`Params::set`] semantics: a repeated name keeps its first position and last value.
    fn from_iter<I: IntoIterator<Item = (&'a str, &'a str)>>(iter: I) -> Self {
        iter.into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }
}

impl MeetingId {
    /// The request's `meetingID`, if present and not blank (see [`required`]). The value is kept as sent,
    /// surrounding whitespace included.
    ///
    /// # Errors
    /// [`MissingMeetingId`] when it is absent, empty or whitespace-only.
    pub fn from_params(params: &Params) -> Result<MeetingId, MissingMeetingId> {
        required(params, "meetingID")
            .map(|id| MeetingId(id.to_owned()))
            .ok_or(MissingMeetingId)
    }

    /// The meeting ID.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The meeting ID, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for MeetingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checksum-verifies a BBB API request and returns the parameters the checksum covers (never `checksum`
/// itself): a parameter the checksum does not cover is never acted on.
///
/// - `raw_query`: the URL query as it arrived, without `?`.
/// - `form_body`: the body of a POST whose content type is `application/x-www-form-urlencoded`, else `None`
///   (XML or multipart bodies are not parameters here, so their fields are never acted on).
///
/// The rules:
/// - **Non-empty URL query** (Scalelite and bbb-web): the check string is the raw query without the
///   parameters named exactly `checksum` ([`split_checksum`]); the checksum value comes from the query, or
///   from the body when the query has none. The query's parameters are returned; body parameters are not covered, so
///   they are dropped.
/// - **Empty or absent query, form body** (bbb-web 2.5–2.7): the check
///   string is rebuilt from the body: names and values stripped of control characters and trimmed, names
///   sorted in Java string order, `checksum` skipped, one `name=value` per value, values re-encoded like
///   Java's `URLEncoder`, joined with `&`. The returned parameters are those sanitized pairs (a repeated
///   name keeps its first position and last value), so what is acted on is exactly what was signed. A body
///   holding only `checksum` verifies against `H(call + secret)`, as in Scalelite.
/// - **Neither**: the check string is empty; there is no checksum, so this fails with
///   [`ChecksumError::Missing`].
///
/// # Errors
/// [`RequestError::Checksum`] when verification fails; [`RequestError::Params`] when the checksum matches but
/// a covered parameter is not UTF-8 (checked after the checksum, so a bad checksum is always reported as such).
pub fn verify_request(
    call: &str,
    raw_query: Option<&str>,
    form_body: Option<&str>,
    secrets: &[Secret],
    allowed: &AllowedAlgorithms,
) -> Result<Params, RequestError> {
    let body_pairs = || form_body.map(raw_pairs).unwrap_or_default();
    match raw_query.filter(|query| !query.is_empty()) {
        Some(query) => {
            let query_pairs = raw_pairs(query);
            let (check_string, in_query) = split_checksum(query);
            let supplied = match in_query {
                Some(value) => value,
                None => last_checksum(&body_pairs()).unwrap_or_default(),
            };
            checksum::verify(call, &check_string, &supplied, secrets, allowed)?;
            let mut params = Params::default();
            for (name, value) in query_pairs {
                let (name, value) = into_utf8(name, value)?;
                if name != CHECKSUM {
                    params.set(name, value);
                }
            }
            Ok(params)
        }
        None => {
            let (grouped, invalid) = sanitized_groups(body_pairs());
            let supplied = grouped
                .iter()
                .find(|(name, _)| name == CHECKSUM)
                .and_then(|(_, values)| values.last().cloned())
                .unwrap_or_default();
            let check_string = sorted_check_string(&grouped);
            checksum::verify(call, &check_string, &supplied, secrets, allowed)?;
            if let Some(name) = invalid {
                return Err(ParamsError::InvalidUtf8 { name }.into());
            }
            Ok(grouped
                .into_iter()
                .filter(|(name, _)| name != CHECKSUM)
                .filter_map(|(name, mut values)| values.pop().map(|value| (name, value)))
                .collect())
        }
    }
}

/// Splits a raw (still encoded) query into the string a checksum covers and the checksum value.
///
/// Every `&`-separated piece whose name percent-decodes to exactly `checksum` is removed; every other piece is
/// kept byte for byte, empty pieces included, so a client that appended `&checksum=X` to the string it signed
/// gets that string back. The value is the last such piece's (Rack: the last occurrence wins), decoded.
///
/// Only a parameter *named* `checksum` goes: the original removed the text `checksum=X` wherever it appeared,
/// so `guestchecksum=X=true&...&checksum=X` verified as if `guest` had never been sent.
///
/// `"a=1&checksum=X&b=2"` gives `("a=1&b=2", Some("X"))`; `"a=1"` gives `("a=1", None)`.
pub fn split_checksum(raw_query: &str) -> (String, Option<String>) {
    let mut kept: Vec<&str> = Vec::new();
    let mut value = None;
    for piece in raw_query.split('&') {
        let (name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        if percent_decode(name) == CHECKSUM.as_bytes() {
            value = Some(String::from_utf8_lossy(&percent_decode(raw_value)).into_owned());
        } else {
            kept.push(piece);
        }
    }
    (kept.join("&"), value)
}

/// The value of `name` if present and not blank (absent, empty and whitespace-only all count as missing):
/// the original's rule for `meetingID` and other required parameters.
pub fn required<'p>(params: &'p Params, name: &str) -> Option<&'p str> {
    params.get(name).filter(|value| !value.trim().is_empty())
}

/// Splits a comma-separated list like Ruby's `value.split(',')`: empty elements at the end are dropped,
/// those at the start or in the middle kept (`",a,,b,,"` gives `["", "a", "", "b"]`; `","` gives `[]`).
pub fn split_list(value: &str) -> Vec<String> {
    let mut items: Vec<String> = value.split(',').map(str::to_owned).collect();
    while items.last().is_some_and(String::is_empty) {
        items.pop();
    }
    items
}

const CHECKSUM: &str = "checksum";

/// Splits `raw` into percent-decoded `(name, value)` byte strings, in order, repeats included. Empty pieces
/// and pieces with an empty name are skipped, as Rack and Tomcat do.
fn raw_pairs(raw: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw.split('&')
        .filter(|piece| !piece.is_empty())
        .filter_map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            (!name.is_empty()).then(|| (percent_decode(name), percent_decode(value)))
        })
        .collect()
}

/// `+` → space, `%XX` → byte; a `%` not followed by two hex digits is kept literally.
fn percent_decode(encoded: &str) -> Vec<u8> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let high = bytes.get(i + 1).copied().and_then(hex_value);
                let low = bytes.get(i + 2).copied().and_then(hex_value);
                if let (Some(high), Some(low)) = (high, low) {
                    out.push(high << 4 | low);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn into_utf8(name: Vec<u8>, value: Vec<u8>) -> Result<(String, String), ParamsError> {
    let name = String::from_utf8(name).map_err(|e| ParamsError::InvalidUtf8 {
        name: String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })?;
    let value =
        String::from_utf8(value).map_err(|_| ParamsError::InvalidUtf8 { name: name.clone() })?;
    Ok((name, value))
}

/// The last `checksum` value among raw pairs (Rack: the last occurrence wins).
fn last_checksum(pairs: &[(Vec<u8>, Vec<u8>)]) -> Option<String> {
    pairs
        .iter()
        .rev()
        .find(|(name, _)| name == CHECKSUM.as_bytes())
        .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
}

/// The parameter map bbb-web sees for a form body: values grouped per name in order of first appearance,
/// then names and values sanitized (a name that sanitizes to an earlier one replaces that one's values,
/// keeping its position, as Java's `LinkedHashMap.put` does). Invalid UTF-8 is decoded lossily, like the
/// servlet container does; the name of the first such parameter is returned alongside.
fn sanitized_groups(
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
) -> (Vec<(String, Vec<String>)>, Option<String>) {
    let mut invalid = None;
    let mut raw: Vec<(String, Vec<String>)> = Vec::new();
    let mut raw_index: HashMap<String, usize> = HashMap::new();
    for (name, value) in pairs {
        let name = String::from_utf8(name).unwrap_or_else(|e| {
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            invalid.get_or_insert_with(|| lossy.clone());
            lossy
        });
        let value = String::from_utf8(value).unwrap_or_else(|e| {
            invalid.get_or_insert_with(|| name.clone());
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        });
        match raw_index.get(&name) {
            Some(&i) => raw[i].1.push(value),
            None => {
                raw_index.insert(name.clone(), raw.len());
                raw.push((name, vec![value]));
            }
        }
    }
    let mut sanitized: Vec<(String, Vec<String>)> = Vec::with_capacity(raw.len());
    let mut index: HashMap<String, usize> = HashMap::new();
    for (name, values) in raw {
        let name = sanitize(&name);
        let values: Vec<String> = values.iter().map(|v| sanitize(v)).collect();
        match index.get(&name) {
            Some(&i) => sanitized[i].1 = values,
            None => {
                index.insert(name.clone(), sanitized.len());
                sanitized.push((name, values));
            }
        }
    }
    (sanitized, invalid)
}

/// bbb-web's `ParamsUtil.sanitizeString`: control characters (Unicode `Cc`) removed, then Java's `trim()`
/// (which strips everything up to U+0020 at both ends).
fn sanitize(text: &str) -> String {
    let stripped: String = text.chars().filter(|c| !c.is_control()).collect();
    stripped.trim_matches(|c: char| c <= ' ').to_owned()
}

/// bbb-web's `buildQueryStringFromParamsMap`: names in Java `String` order (UTF-16 code units), `checksum`
/// skipped, `name=encoded value` for every value, joined with `&`.
fn sorted_check_string(grouped: &[(String, Vec<String>)]) -> String {
    let mut sorted: Vec<&(String, Vec<String>)> = grouped
        .iter()
        .filter(|(name, _)| name != CHECKSUM)
        .collect();
    sorted.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
    let mut out = String::new();
    for (name, values) in sorted {
        for value in values {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(name);
            out.push('=');
            out.push_str(&uri::encode_component(value));
        }
    }
    out
}

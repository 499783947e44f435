//! Checksum verification the way bbb-web ≥2.5.7 does it (`docs/compatibility.md#api-checksum`).
//!
//! This is deliberately independent of `scalelite-core`: the fake BBB checks what the balancer signs with its own
//! code, so a bug on one side shows up as a failure on the other.

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

#[cfg(test)]
mod tests;

/// A hash algorithm bbb-web accepts, chosen by the length of the hex checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    /// The algorithm whose hex digest has `len` characters, as bbb-web infers it.
    pub(crate) fn from_hex_len(len: usize) -> Option<Self> {
        match len {
            40 => Some(Self::Sha1),
            64 => Some(Self::Sha256),
            96 => Some(Self::Sha384),
            128 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Lower-case hex digest of `data`.
    pub(crate) fn hex_digest(self, data: &[u8]) -> String {
        match self {
            Self::Sha1 => hex::encode(Sha1::digest(data)),
            Self::Sha256 => hex::encode(Sha256::digest(data)),
            Self::Sha384 => hex::encode(Sha384::digest(data)),
            Self::Sha512 => hex::encode(Sha512::digest(data)),
        }
    }
}

/// Does `checksum` sign `call` with `secret`?
///
/// `raw_query` is the URL query exactly as it arrived (None when the URL had no `?`); `params` are the merged
/// decoded parameters (URL query first, then a form body), used only when the URL query is absent or empty.
pub(crate) fn verify(
    call: &str,
    raw_query: Option<&str>,
    params: &[(String, String)],
    checksum: &str,
    secret: &str,
) -> bool {
    let Some(algorithm) = Algorithm::from_hex_len(checksum.len()) else {
        return false;
    };
    let signed = format!(
        "{call}{}{secret}",
        check_string(raw_query, params, checksum)
    );
    let expected = algorithm.hex_digest(signed.as_bytes());
    // bbb-web ≥2.5.7 compares case-insensitively; timing does not matter for a fake.
    expected.eq_ignore_ascii_case(checksum)
}

/// The string bbb-web hashes between the call name and the secret.
///
/// With a non-empty URL query: the raw query with the checksum pair removed by three successive replace-all passes
/// (`&checksum=X`, then `checksum=X&`, then `checksum=X`). Otherwise: the sorted, re-encoded rebuild of the
/// parameters (body-only form POST).
pub(crate) fn check_string(
    raw_query: Option<&str>,
    params: &[(String, String)],
    checksum: &str,
) -> String {
    match raw_query {
        Some(query) if !query.is_empty() => query
            .replace(&format!("&checksum={checksum}"), "")
            .replace(&format!("checksum={checksum}&"), "")
            .replace(&format!("checksum={checksum}"), ""),
        _ => sorted_rebuild(params),
    }
}

/// bbb-web's rebuild for an empty URL query: names sorted in Java string order (UTF-16 code units), `checksum`
/// skipped, one `name=value` pair per value in arrival order, names as decoded, values re-encoded with Java's
/// `URLEncoder`, after stripping control characters and trimming both.
pub(crate) fn sorted_rebuild(params: &[(String, String)]) -> String {
    let mut cleaned: Vec<(String, String)> = params
        .iter()
        .map(|(name, value)| (clean(name), clean(value)))
        .filter(|(name, _)| name != "checksum")
        .collect();
    // A stable sort keeps the arrival order of repeated names, as bbb-web's name → values map does.
    cleaned.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
    cleaned
        .iter()
        .map(|(name, value)| format!("{name}={}", java_url_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Strip control characters, then trim like Java's `String.trim()` (every char ≤ U+0020 at either end).
fn clean(s: &str) -> String {
    let stripped: String = s.chars().filter(|c| !c.is_control()).collect();
    stripped.trim_matches(|c: char| c <= ' ').to_owned()
}

/// `java.net.URLEncoder.encode(s, UTF-8)`: letters, digits and `. - * _` kept, space → `+`, every other byte of the
/// UTF-8 encoding → `%XX` with upper-case hex.
pub(crate) fn java_url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &byte in s.as_bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

//! Outbound BBB URLs: form-encoding parameters and appending the checksum
//! (`docs/compatibility.md#api-outbound`, the original's `encode_bbb_uri`).
//!
//! The encoding is `application/x-www-form-urlencoded` as Ruby's `URI.encode_www_form` and Java's
//! `URLEncoder` write it: bytes `A-Z a-z 0-9 * - . _` are kept, a space becomes `+`, every other byte of the
//! UTF-8 form becomes `%XX` with upper-case hex.

#[cfg(test)]
mod tests;

use crate::bbb::checksum::{self, Algorithm};
use crate::bbb::params::Params;
use crate::domain::Secret;

/// Form-encodes one name or value: `A-Z a-z 0-9 * - . _` kept, space → `+`, anything else `%XX`
/// (upper-case hex, one per UTF-8 byte).
pub fn encode_component(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for &byte in value.as_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
        }
    }
    out
}

/// Form-encodes `pairs` in order as `name=value` joined with `&` (an empty value gives `name=`).
pub fn form_encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&encode_component(name));
        out.push('=');
        out.push_str(&encode_component(value));
    }
    out
}

/// The signed URL of a BBB API call: `<base>/<call>?<query>&checksum=<hex>`, or `<base>/<call>?checksum=<hex>`
/// when `params` is empty. `base_url` gets a `/` appended if it lacks one; the query is
/// [`form_encode`] of `params` in their order; the checksum is `hex(H(call + query + secret))`.
///
/// `params` are signed as given: the caller leaves out any inbound `checksum` parameter.
pub fn bbb_url(
    base_url: &str,
    call: &str,
    params: &Params,
    secret: &Secret,
    algorithm: Algorithm,
) -> String {
    let query = form_encode(params.iter());
    let digest = checksum::sign(call, &query, secret, algorithm);
    let mut url =
        String::with_capacity(base_url.len() + call.len() + query.len() + digest.len() + 12);
    url.push_str(base_url);
    if !base_url.ends_with('/') {
        url.push('/');
    }
    url.push_str(call);
    url.push('?');
    if !query.is_empty() {
        url.push_str(&query);
        url.push('&');
    }
    url.push_str("checksum=");
    url.push_str(&digest);
    url
}

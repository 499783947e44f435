//! CloudFront playback (`CLOUDFRONT_URL`, `docs/compatibility.md#playback`): when a recording's resource is asked
//! for as HTML, the API grants the browser CloudFront signed cookies for the recording's objects and redirects it
//! to CloudFront, which serves them from the bucket (`S3_RECORDING`).
//!
//! The cookies are CloudFront's custom-policy cookies: `CloudFront-Policy` (the policy JSON), `CloudFront-Signature`
//! (its RSA-SHA1 PKCS#1 v1.5 signature with `CF_PRIVATE_KEY_B64`) and `CloudFront-Key-Pair-Id` (`CF_KEY_PAIR_ID`),
//! the first two in CloudFront's URL-safe base64 (`+` `=` `/` written `-` `_` `~`). The policy allows
//! `<CLOUDFRONT_URL>/published/<format>/<record_id>/*` until five minutes from now, as the original's.

use std::fmt;

use base64::Engine;
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use scalelite_core::config::RecordingArgs;
use sha1::Sha1;

/// How long the cookies (and the policy) are valid: five minutes, as the original.
pub const COOKIE_TTL_SECONDS: i64 = 5 * 60;

/// The CloudFront distribution and the key its signed cookies are made with.
#[derive(Clone)]
pub struct CloudFront {
    url: String,
    key_pair_id: String,
    key: SigningKey<Sha1>,
}

impl fmt::Debug for CloudFront {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudFront")
            .field("url", &self.url)
            .field("key_pair_id", &self.key_pair_id)
            .finish_non_exhaustive()
    }
}

/// The three cookie values of one grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCookies {
    /// `CloudFront-Policy`: the policy JSON, CloudFront-base64.
    pub policy: String,
    /// `CloudFront-Signature`: RSA-SHA1 of the policy JSON, CloudFront-base64.
    pub signature: String,
    /// `CloudFront-Key-Pair-Id`.
    pub key_pair_id: String,
}

impl CloudFront {
    /// CloudFront playback when `CLOUDFRONT_URL` is set, `None` when it is not.
    ///
    /// # Errors
    /// One line naming the variable: CLOUDFRONT_URL set without CF_PRIVATE_KEY_B64 or CF_KEY_PAIR_ID, or a key
    /// that is not base64 of a PEM RSA private key (PKCS#1 or PKCS#8). The key itself never appears.
    pub fn from_config(recordings: &RecordingArgs) -> Result<Option<CloudFront>, String> {
        let Some(url) = &recordings.cloudfront_url else {
            return Ok(None);
        };
        let key = recordings
            .cf_private_key_b64
            .as_ref()
            .ok_or("CLOUDFRONT_URL is set but CF_PRIVATE_KEY_B64 is not")?;
        let key_pair_id = recordings
            .cf_key_pair_id
            .clone()
            .ok_or("CLOUDFRONT_URL is set but CF_KEY_PAIR_ID is not")?;
        let pem = base64::engine::general_purpose::STANDARD
            .decode(key.expose().trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or("CF_PRIVATE_KEY_B64 is not base64 of a PEM private key")?;
        CloudFront::new(url, &key_pair_id, &pem).map(Some)
    }

    /// A distribution at `url` (`https://d111111abcdef8.cloudfront.net`) signing with `pem` (PKCS#1 or PKCS#8).
    ///
    /// # Errors
    /// When `url` is not an http(s) URL or `pem` is not an RSA private key.
    pub fn new(url: &str, key_pair_id: &str, pem: &str) -> Result<CloudFront, String> {
        let url = url.trim_end_matches('/');
        let parsed = url::Url::parse(url).map_err(|_| "CLOUDFRONT_URL is not a URL".to_owned())?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err("CLOUDFRONT_URL must be an http:// or https:// URL".into());
        }
        let key = RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
            .map_err(|_| {
                "CF_PRIVATE_KEY_B64 is not a PEM RSA private key (PKCS#1 or PKCS#8)".to_owned()
            })?;
        Ok(CloudFront {
            url: url.to_owned(),
            key_pair_id: key_pair_id.to_owned(),
            key: SigningKey::<Sha1>::new(key),
        })
    }

    /// `<CLOUDFRONT_URL>/published/<format>/<record_id>/`: where a recording's objects are served.
    pub fn recording_url(&self, format: &str, record_id: &str) -> String {
        format!(
            "{}/published/{}/{}/",
            self.url,
            crate::playback::encode_segment(format),
            crate::playback::encode_segment(record_id)
        )
    }

    /// The cookies allowing `<recording_url>*` until `expires` (seconds since the epoch).
    pub fn signed_cookies(&self, format: &str, record_id: &str, expires: i64) -> SignedCookies {
        let resource = format!("{}*", self.recording_url(format, record_id));
        self.sign(&policy(&resource, expires))
    }

    /// The three cookies for a custom `policy` (JSON).
    pub fn sign(&self, policy: &str) -> SignedCookies {
        // PKCS#1 v1.5 signatures are deterministic; the random source only blinds the private-key operation.
        let signature = self
            .key
            .sign_with_rng(&mut rsa::rand_core::OsRng, policy.as_bytes())
            .to_bytes();
        SignedCookies {
            policy: cloudfront_base64(policy.as_bytes()),
            signature: cloudfront_base64(&signature),
            key_pair_id: self.key_pair_id.clone(),
        }
    }
}

/// A custom policy allowing `resource` until `expires`, written as the original writes it (compact JSON, keys in
/// this order).
pub fn policy(resource: &str, expires: i64) -> String {
    let resource = serde_json::to_string(resource).unwrap_or_default();
    format!(
        "{{\"Statement\":[{{\"Resource\":{resource},\"Condition\":{{\"DateLessThan\":{{\"AWS:EpochTime\":{expires}}}}}}}]}}"
    )
}

/// Base64 with CloudFront's substitutions: `+` → `-`, `=` → `_`, `/` → `~`.
pub fn cloudfront_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            c => c,
        })
        .collect()
}

/// Whether Rails' content negotiation, as the original's resource action sees it, makes the request HTML: with no
/// `Accept` header or a browser's (one listing `*/*` among other types), from the path's extension (none, `.html`
/// and `.htm` are HTML); with any other `Accept`, from its most preferred type (`text/html`,
/// `application/xhtml+xml` and `*/*` are HTML).
pub fn negotiates_html(accept: Option<&str>, path: &str) -> bool {
    let accept = accept.map(str::trim).filter(|a| !a.is_empty());
    let browser_like = accept.is_none_or(|a| {
        let compact: String = a.chars().filter(|c| !c.is_whitespace()).collect();
        compact.contains(",*/*") || compact.contains("*/*,")
    });
    if browser_like {
        let last = path.rsplit('/').next().unwrap_or_default();
        return match last.rsplit_once('.') {
            None => true,
            Some((_, extension)) => {
                matches!(extension.to_ascii_lowercase().as_str(), "html" | "htm")
            }
        };
    }
    let mut types: Vec<(f32, usize, String)> = accept
        .unwrap_or_default()
        .split(',')
        .enumerate()
        .filter_map(|(i, item)| {
            let mut parts = item.split(';');
            let media = parts.next()?.trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!media.is_empty()).then_some((q, i, media))
        })
        .collect();
    types.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    types.first().is_some_and(|(_, _, media)| {
        matches!(
            media.as_str(),
            "text/html" | "application/xhtml+xml" | "*/*"
        )
    })
}

/// The `Domain` attribute the original gives the cookies: the request host's registrable domain with a leading
/// dot (Rails' `domain: :all`: the last two labels, three when they look like `co.uk` or `com.au`); none for an IP
/// address or a host without a dot.
pub fn cookie_domain(host: &str) -> Option<String> {
    let host = host
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(name, _)| name);
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return None;
    }
    let labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
    if labels.len() < 2 {
        return None;
    }
    let (last, second) = (labels[labels.len() - 1], labels[labels.len() - 2]);
    let take = if labels.len() >= 3 && last.len() == 2 && matches!(second.len(), 2 | 3) {
        3
    } else {
        2
    };
    Some(format!(".{}", labels[labels.len() - take..].join(".")))
}

#[cfg(test)]
mod tests;

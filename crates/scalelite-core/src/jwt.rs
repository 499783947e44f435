//! The HMAC-signed JSON Web Tokens Scalelite uses: recording-ready callbacks (HS256/HS512), the analytics callback
//! relay (HS512) and protected-recording cookies.
//!
//! Only the HS256 and HS512 algorithms exist here; a token naming any other algorithm (`none` included) is refused.
//! Signatures are compared in constant time by `hmac`'s `verify_slice`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Sha256, Sha512};

/// Signing algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtAlgorithm {
    Hs256,
    Hs512,
}

impl JwtAlgorithm {
    fn name(self) -> &'static str {
        match self {
            JwtAlgorithm::Hs256 => "HS256",
            JwtAlgorithm::Hs512 => "HS512",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        match name {
            "HS256" => Some(JwtAlgorithm::Hs256),
            "HS512" => Some(JwtAlgorithm::Hs512),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("malformed token")]
    Malformed,
    #[error("unsupported token algorithm")]
    Algorithm,
    #[error("token signature does not match")]
    Signature,
    #[error("token expired")]
    Expired,
}

/// Sign `claims` with `secret`.
pub fn encode<T: Serialize>(claims: &T, secret: &[u8], algorithm: JwtAlgorithm) -> String {
    let header = serde_json::json!({ "alg": algorithm.name(), "typ": "JWT" });
    // Serialising plain data to JSON cannot fail.
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(sign(algorithm, secret, signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// Verify `token` against `secret` with the expected algorithm and return its claims. An `exp` claim (seconds since
/// the epoch) is enforced when present.
pub fn decode<T: DeserializeOwned>(
    token: &str,
    secret: &[u8],
    algorithm: JwtAlgorithm,
    now_epoch_seconds: i64,
) -> Result<T, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: Value = decode_part(header)?;
    let named = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(JwtAlgorithm::parse);
    if named != Some(algorithm) {
        return Err(JwtError::Algorithm);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwtError::Malformed)?;
    let signing_input_len = token.len() - token.rsplit('.').next().map_or(0, str::len) - 1;
    verify(
        algorithm,
        secret,
        &token.as_bytes()[..signing_input_len],
        &signature,
    )?;
    let claims: Value = decode_part(payload)?;
    if let Some(exp) = claims.get("exp") {
        let exp = exp
            .as_i64()
            .or_else(|| exp.as_f64().map(|f| f as i64))
            .ok_or(JwtError::Malformed)?;
        if now_epoch_seconds >= exp {
            return Err(JwtError::Expired);
        }
    }
    serde_json::from_value(claims).map_err(|_| JwtError::Malformed)
}

fn decode_part<T: DeserializeOwned>(part: &str) -> Result<T, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

fn sign(algorithm: JwtAlgorithm, secret: &[u8], input: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    match algorithm {
        JwtAlgorithm::Hs256 => {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
            mac.update(input);
            mac.finalize().into_bytes().to_vec()
        }
        JwtAlgorithm::Hs512 => {
            let mut mac =
                Hmac::<Sha512>::new_from_slice(secret).expect("HMAC takes any key length");
            mac.update(input);
            mac.finalize().into_bytes().to_vec()
        }
    }
}

fn verify(
    algorithm: JwtAlgorithm,
    secret: &[u8],
    input: &[u8],
    signature: &[u8],
) -> Result<(), JwtError> {
    let result = match algorithm {
        JwtAlgorithm::Hs256 => {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
            mac.update(input);
            mac.verify_slice(signature)
        }
        JwtAlgorithm::Hs512 => {
            let mut mac =
                Hmac::<Sha512>::new_from_slice(secret).expect("HMAC takes any key length");
            mac.update(input);
            mac.verify_slice(signature)
        }
    };
    result.map_err(|_| JwtError::Signature)
}

#[cfg(test)]
mod tests;

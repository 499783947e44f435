//! The tenant's learning-record-store credentials for BBB, `meta_secret-lrs-payload`
//! (`docs/compatibility.md#api-lrs`).
//!
//! The payload is JSON (`lrs_endpoint`, then `lrs_username` and `lrs_password`, or `lrs_token` from Keycloak),
//! encrypted for the chosen BBB server: PBKDF2-HMAC-SHA256(server secret, 8-byte random salt, 10000 rounds, 48
//! bytes) gives the AES-256-CBC key (32 bytes) and IV (16 bytes); the value is Base64 of 8 random bytes, the salt
//! and the PKCS#7-padded ciphertext (OpenSSL's `Salted__` layout with the magic replaced by random bytes). Any
//! failure leaves the parameter out, as in the original.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockEncryptMut, KeyIvInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use scalelite_core::domain::{Secret, Tenant};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// PBKDF2 rounds of the original.
pub const PBKDF2_ROUNDS: u32 = 10_000;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;

/// The JSON BBB decrypts, fields in the original's order.
#[derive(Serialize)]
struct Payload<'a> {
    lrs_endpoint: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    lrs_username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lrs_password: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lrs_token: Option<&'a str>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
enum TokenError {
    #[error("the tenant has no Keycloak token URL")]
    NoUrl,
    #[error("token request failed: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("token endpoint answered HTTP {0}")]
    Status(u16),
    #[error("token endpoint answered no access_token")]
    NoToken,
}

/// `meta_secret-lrs-payload` for `tenant` on a server with `server_secret`, or `None` when the tenant has no LRS
/// endpoint or the payload cannot be made (the reason is logged).
pub async fn payload(
    http: &reqwest::Client,
    tenant: &Tenant,
    server_secret: &Secret,
) -> Option<String> {
    let endpoint = tenant
        .lrs_endpoint
        .as_deref()
        .filter(|e| !e.trim().is_empty())?;
    let username = tenant
        .lrs_username
        .as_deref()
        .filter(|u| !u.trim().is_empty());
    let token = match username {
        Some(_) => None,
        None => match fetch_token(http, tenant).await {
            Ok(token) => Some(token),
            Err(e) => {
                tracing::warn!(tenant.id = %tenant.id, error = %e, "LRS token not found; no LRS payload");
                return None;
            }
        },
    };
    let payload = Payload {
        lrs_endpoint: endpoint,
        lrs_username: username,
        lrs_password: username.map(|_| tenant.lrs_password.as_ref().map_or("", Secret::expose)),
        lrs_token: token.as_deref(),
    };
    let json = match serde_json::to_vec(&payload) {
        Ok(json) => json,
        Err(e) => {
            tracing::warn!(tenant.id = %tenant.id, error = %e, "could not serialise the LRS payload");
            return None;
        }
    };
    Some(encrypt(&json, server_secret.expose()))
}

/// Encrypt `plaintext` for a server with `secret`, with fresh random prefix and salt.
pub fn encrypt(plaintext: &[u8], secret: &str) -> String {
    let mut prefix = [0u8; 8];
    let mut salt = [0u8; 8];
    let mut rng = rand::rng();
    rng.fill_bytes(&mut prefix);
    rng.fill_bytes(&mut salt);
    encrypt_with(plaintext, secret, prefix, salt)
}

/// [`encrypt`] with the random parts given (known-answer tests).
pub fn encrypt_with(plaintext: &[u8], secret: &str, prefix: [u8; 8], salt: [u8; 8]) -> String {
    let (key, iv) = key_and_iv(secret, &salt);
    let ciphertext =
        Aes256CbcEnc::new(&key.into(), &iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext);
    let mut out = Vec::with_capacity(16 + ciphertext.len());
    out.extend_from_slice(&prefix);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&ciphertext);
    STANDARD.encode(out)
}

/// Key and IV from PBKDF2-HMAC-SHA256(secret, salt, 10000 rounds, 48 bytes).
pub fn key_and_iv(secret: &str, salt: &[u8]) -> ([u8; 32], [u8; 16]) {
    let mut derived = [0u8; 48];
    pbkdf2::pbkdf2_hmac::<Sha256>(secret.as_bytes(), salt, PBKDF2_ROUNDS, &mut derived);
    let mut key = [0u8; 32];
    let mut iv = [0u8; 16];
    key.copy_from_slice(&derived[..32]);
    iv.copy_from_slice(&derived[32..]);
    (key, iv)
}

/// The Keycloak access token: a password-grant form POST to the tenant's `kc_token_url`; anything but HTTP 200
/// with an `access_token` is a failure.
async fn fetch_token(http: &reqwest::Client, tenant: &Tenant) -> Result<String, TokenError> {
    let url = tenant
        .kc_token_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .ok_or(TokenError::NoUrl)?;
    let expose = |s: &Option<Secret>| s.as_ref().map_or("", Secret::expose).to_owned();
    let form = [
        ("client_id", tenant.kc_client_id.clone().unwrap_or_default()),
        ("client_secret", expose(&tenant.kc_client_secret)),
        ("username", tenant.kc_username.clone().unwrap_or_default()),
        ("password", expose(&tenant.kc_password)),
        ("grant_type", "password".to_owned()),
    ];
    let response = http.post(url).form(&form).send().await?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(TokenError::Status(response.status().as_u16()));
    }
    let body = response.bytes().await?;
    let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| TokenError::NoToken)?;
    answer
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or(TokenError::NoToken)
}

#[cfg(test)]
mod tests;

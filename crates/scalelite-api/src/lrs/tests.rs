use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, KeyIvInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::lrs::{encrypt, encrypt_with, key_and_iv};

const SALT: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
const JSON: &str = r#"{"lrs_endpoint":"https://lrs.example.com","lrs_token":"test-token"}"#;

fn decrypt(value: &str, secret: &str) -> Vec<u8> {
    let raw = STANDARD.decode(value).expect("Base64");
    let (salt, ciphertext) = raw[8..].split_at(8);
    let (key, iv) = key_and_iv(secret, salt);
    cbc::Decryptor::<aes::Aes256>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .expect("valid padding")
}

#[test]
fn key_and_iv_are_pbkdf2_hmac_sha256_10000_rounds() {
    // python3: hashlib.pbkdf2_hmac('sha256', b'server-secret', bytes([1..=8]), 10000, 48)
    let (key, iv) = key_and_iv("server-secret", &SALT);
    let expected = "4088b25380821e539f3c281663e6d1e552e45a3f212658d9ed1dad100a093bb7\
                    75b34fd08bc1600616b994c89c283952";
    let mut derived = key.to_vec();
    derived.extend_from_slice(&iv);
    let hex: String = derived.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, expected);
}

#[test]
fn matches_openssl_salted_layout() {
    // `openssl enc -aes-256-cbc -pbkdf2 -iter 10000 -md sha256 -S 0102030405060708 -pass pass:server-secret`,
    // prefixed with OpenSSL's `Salted__` magic and the salt: the original's layout with a fixed prefix.
    let expected = "U2FsdGVkX18BAgMEBQYHCOURN5rzhOdzYacZpkX9P85DE9sNqS8ERIpkF40HrXVJdEhKFz2nu5f9bvbODC9S3q1xridZq7Ef\
                    ODpi+JvQRNpgLzU4DyJ8edJYGLuU1fFM";
    assert_eq!(
        encrypt_with(JSON.as_bytes(), "server-secret", *b"Salted__", SALT),
        expected
    );
}

#[test]
fn random_payloads_decrypt_back_and_differ() {
    let a = encrypt(JSON.as_bytes(), "s3cret");
    let b = encrypt(JSON.as_bytes(), "s3cret");
    assert_ne!(a, b, "fresh prefix and salt each time");
    assert!(!a.contains('\n'));
    assert_eq!(decrypt(&a, "s3cret"), JSON.as_bytes());
    assert_eq!(decrypt(&b, "s3cret"), JSON.as_bytes());
    // 8 + 8 + ciphertext rounded up to whole blocks.
    let raw = STANDARD.decode(&a).unwrap();
    assert_eq!(raw.len(), 16 + (JSON.len() / 16 + 1) * 16);
}

#[test]
fn wrong_secret_does_not_decrypt() {
    let value = encrypt(JSON.as_bytes(), "right");
    let raw = STANDARD.decode(&value).unwrap();
    let (salt, ciphertext) = raw[8..].split_at(8);
    let (key, iv) = key_and_iv("wrong", salt);
    let result = cbc::Decryptor::<aes::Aes256>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext);
    assert!(result.map_or(true, |plain| plain != JSON.as_bytes()));
}

fn tenant() -> scalelite_core::domain::Tenant {
    scalelite_core::domain::Tenant {
        id: "t1".into(),
        name: "bn".into(),
        lrs_endpoint: Some("https://lrs.example.com".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn basic_credentials_need_no_token() {
    use scalelite_core::domain::Secret;
    let mut tenant = tenant();
    tenant.lrs_username = Some("user".into());
    tenant.lrs_password = Some(Secret::new("pw"));
    let http = reqwest::Client::new();
    let value = crate::lrs::payload(&http, &tenant, &Secret::new("srv"))
        .await
        .expect("a payload");
    let json: serde_json::Value = serde_json::from_slice(&decrypt(&value, "srv")).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"lrs_endpoint": "https://lrs.example.com", "lrs_username": "user", "lrs_password": "pw"})
    );
}

#[tokio::test]
async fn no_endpoint_or_no_token_url_gives_nothing() {
    use scalelite_core::domain::Secret;
    let http = reqwest::Client::new();
    let mut without_endpoint = tenant();
    without_endpoint.lrs_endpoint = Some("  ".into());
    without_endpoint.lrs_username = Some("user".into());
    assert_eq!(
        crate::lrs::payload(&http, &without_endpoint, &Secret::new("srv")).await,
        None
    );
    // No username and no Keycloak URL: no token, no payload.
    assert_eq!(
        crate::lrs::payload(&http, &tenant(), &Secret::new("srv")).await,
        None
    );
}

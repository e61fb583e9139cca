//! Token minting shared by the integration tests, and the helpers several of them use: the layer
//! and the status it answers (`layer`), a response read whole with its assertions (`reply`), and
//! password hashers (`hashing`, with `login`), the counters a test recorder saw (`recorded`). Every binary that includes this module compiles
//! all of it, hence `dead_code` allowed.
#![allow(dead_code, unreachable_pub)]

#[cfg(feature = "login")]
pub mod hashing;
pub mod layer;
#[cfg(feature = "metrics")]
pub mod recorded;
pub mod reply;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-secret";

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An HS256 token over exactly these header and payload bytes, signed with `secret`.
pub fn hs256_raw(header: &[u8], payload: &[u8], secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

/// An HS256 token with header `{"alg":"HS256","typ":"JWT"}` and these claims.
pub fn hs256(claims: &str) -> String {
    hs256_raw(br#"{"alg":"HS256","typ":"JWT"}"#, claims.as_bytes(), SECRET)
}

/// Claims for a token valid for ten minutes, with `extra` members appended (`,"k":v…`).
pub fn claims(extra: &str) -> String {
    format!(r#"{{"sub":"ada","exp":{}{extra}}}"#, now() + 600)
}

/// A valid HS256 token for `sub: ada` with `extra` claims.
pub fn token(extra: &str) -> String {
    hs256(&claims(extra))
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Signs with jsonwebtoken, an independent implementation.
pub fn jwt_sign(
    alg: jsonwebtoken::Algorithm,
    kid: Option<&str>,
    claims: &str,
    key: &jsonwebtoken::EncodingKey,
) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = kid.map(str::to_owned);
    let claims: serde_json::Value = serde_json::from_str(claims).unwrap();
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

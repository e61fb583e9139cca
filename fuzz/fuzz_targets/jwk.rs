//! JWK and JWKS import: `serde_json::from_slice::<Jwk>` then `DecodingKey::from_jwk` (with no
//! algorithm asked for, and with each algorithm in turn), and `KeySet::from_jwks_json`.
//!
//! Properties: no panic; a key is accepted only when a plain reading of the JWK says it may be:
//! the algorithm is the one asked for and the JWK's own `alg` when it has one (or its curve's),
//! `use` is absent or `sig`, `key_ops` absent or holding `verify`, `kty` of the algorithm's
//! family, and the key material, decoded by a strict base64url decoder, is strong: HS* `k` of at
//! least 32/48/64 bytes and not PEM, RSA `n` of at least 2048 bits with an odd `e` ≥ 3 of at
//! most 64 bits, EC `x`/`y` of the curve's size, Ed25519 `x` of 32 bytes; the key's `kid` is the
//! JWK's. A key set is accepted only when every key is, it is not empty, no `kid` repeats,
//! secrets and public keys are not mixed, and no two keys without `kid` share an algorithm.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth::verify::{Jwk, JwkSet};
use tower_jwt_auth::{Algorithm, DecodingKey, KeySet};
use tower_jwt_auth_fuzz::{b64url_decode, hex};

fuzz_target!(|data: &[u8]| {
    if let Ok(jwk) = serde_json::from_slice::<Jwk>(data) {
        check_key(&jwk, None, data);
        for alg in Algorithm::ALL {
            check_key(&jwk, Some(alg), data);
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(set) = KeySet::from_jwks_json(text) else {
        return;
    };
    let jwks: JwkSet = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("a key set from what is not a JWKS ({e}): {}", hex(data)));
    let keys = set.keys();
    assert!(!keys.is_empty(), "an empty key set: {}", hex(data));
    assert_eq!(
        keys.len(),
        jwks.keys.len(),
        "keys lost or added: {}",
        hex(data)
    );
    for (key, jwk) in keys.iter().zip(&jwks.keys) {
        reference_allows(jwk, None, key, data);
    }
    let symmetric = keys[0].algorithm().is_symmetric();
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            key.algorithm().is_symmetric(),
            symmetric,
            "a mixed key set: {}",
            hex(data)
        );
        for other in &keys[..i] {
            match (key.kid(), other.kid()) {
                (Some(a), Some(b)) => assert_ne!(a, b, "a repeated kid: {}", hex(data)),
                (None, None) => assert_ne!(
                    key.algorithm(),
                    other.algorithm(),
                    "two keys without kid for one algorithm: {}",
                    hex(data)
                ),
                _ => {}
            }
        }
    }
});

fn check_key(jwk: &Jwk, wanted: Option<Algorithm>, data: &[u8]) {
    if let Ok(key) = DecodingKey::from_jwk(jwk, wanted) {
        reference_allows(jwk, wanted, &key, data);
    }
}

/// Panics when `key`, built from `jwk`, is one the JWK rules refuse.
fn reference_allows(jwk: &Jwk, wanted: Option<Algorithm>, key: &DecodingKey, data: &[u8]) {
    let alg = key.algorithm();
    let fail = |why: &str| -> ! {
        panic!(
            "accepted a {alg:?} key ({why}) from {jwk:?}, asked for {wanted:?}: input {}",
            hex(data)
        )
    };
    if wanted.is_some_and(|w| w != alg) {
        fail("not the algorithm asked for");
    }
    match jwk.alg.as_deref() {
        Some(own) if own != alg.as_str() => fail("not the JWK's alg"),
        None if wanted.is_none() && !matches!(jwk.kty.as_str(), "EC" | "OKP") => {
            fail("no alg, and the key type allows several")
        }
        _ => {}
    }
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        fail("use is not sig");
    }
    if jwk
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
    {
        fail("key_ops lacks verify");
    }
    if key.kid() != jwk.kid.as_deref() {
        fail("kid changed");
    }
    let decode = |member: &Option<String>| {
        member
            .as_deref()
            .and_then(|m| b64url_decode(m.as_bytes()))
            .unwrap_or_else(|| fail("key material missing or not strict base64url"))
    };
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            if jwk.kty != "oct" {
                fail("kty");
            }
            let k = decode(&jwk.k);
            let min = match alg {
                Algorithm::HS256 => 32,
                Algorithm::HS384 => 48,
                _ => 64,
            };
            if k.len() < min {
                fail("weak secret");
            }
            if k.trim_ascii_start().starts_with(b"-----BEGIN") {
                fail("a PEM document as a secret");
            }
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => {
            if jwk.kty != "RSA" {
                fail("kty");
            }
            let n = decode(&jwk.n);
            let e = decode(&jwk.e);
            let n = &n[n.iter().position(|b| *b != 0).unwrap_or(n.len())..];
            let e = &e[e.iter().position(|b| *b != 0).unwrap_or(e.len())..];
            let bits = n
                .first()
                .map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize);
            if bits < 2048 {
                fail("modulus under 2048 bits");
            }
            if e.is_empty() || e.len() > 8 || e[e.len() - 1] & 1 == 0 || (e.len() == 1 && e[0] < 3)
            {
                fail("bad exponent");
            }
        }
        Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => {
            let (crv, size) = match alg {
                Algorithm::ES256 => ("P-256", 32),
                Algorithm::ES384 => ("P-384", 48),
                _ => ("P-521", 66),
            };
            if jwk.kty != "EC" || jwk.crv.as_deref() != Some(crv) {
                fail("kty or crv");
            }
            if decode(&jwk.x).len() != size || decode(&jwk.y).len() != size {
                fail("coordinates not the curve's size");
            }
        }
        Algorithm::EdDSA => {
            if jwk.kty != "OKP" || jwk.crv.as_deref() != Some("Ed25519") {
                fail("kty or crv");
            }
            if decode(&jwk.x).len() != 32 {
                fail("an Ed25519 key is 32 bytes");
            }
        }
        _ => fail("an algorithm this check does not know"),
    }
}

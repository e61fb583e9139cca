//! Keys are checked when they are made: weak or misused material never reaches a request.

mod support;

use support::*;
use tower_jwt_auth::verify::Jwk;
use tower_jwt_auth::{
    Algorithm, ConfigError, DecodingKey, JwtAuthLayer, KeySet, Validation, Verifier,
};

fn jwk(json: &str) -> Jwk {
    serde_json::from_str(json).unwrap()
}

#[test]
fn rsa_keys_under_2048_bits_are_refused() {
    let err = DecodingKey::from_pem(Algorithm::RS256, &fixture("rsa1024.pub.pem")).unwrap_err();
    assert_eq!(err, ConfigError::WeakRsaKey { bits: 1024 });
    let err = DecodingKey::from_pem(Algorithm::RS256, &fixture("rsa1024.pem")).unwrap_err();
    assert_eq!(err, ConfigError::WeakRsaKey { bits: 1024 });
    assert!(DecodingKey::from_pem(Algorithm::RS256, &fixture("rsa2048.pub.pem")).is_ok());
}

#[test]
fn short_hmac_secrets_are_refused_with_a_clear_error() {
    let err = DecodingKey::from_secret(Algorithm::HS256, b"secret").unwrap_err();
    assert_eq!(
        err.to_string(),
        "HS256 secret is 6 bytes; at least 32 random bytes are required"
    );
}

#[test]
fn a_key_is_refused_for_an_algorithm_of_another_family() {
    for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::HS256] {
        assert!(
            DecodingKey::from_pem(alg, &fixture("rsa2048.pub.pem")).is_err(),
            "{alg}"
        );
    }
    assert!(DecodingKey::from_pem(Algorithm::ES384, &fixture("es256.pub.pem")).is_err());
    assert!(DecodingKey::from_pem(Algorithm::RS256, &fixture("ed25519.pub.pem")).is_err());
}

#[test]
fn a_jwk_whose_alg_use_or_key_ops_contradict_verification_is_refused() {
    let k = b64(&[7; 32]);
    let cases = [
        (
            format!(r#"{{"kty":"oct","k":"{k}","alg":"HS512"}}"#),
            Some(Algorithm::HS256),
        ),
        (
            format!(r#"{{"kty":"oct","k":"{k}","use":"enc"}}"#),
            Some(Algorithm::HS256),
        ),
        (
            format!(r#"{{"kty":"oct","k":"{k}","key_ops":["sign"]}}"#),
            Some(Algorithm::HS256),
        ),
        (format!(r#"{{"kty":"oct","k":"{k}","alg":"none"}}"#), None),
        // No alg and a type that allows several algorithms.
        (format!(r#"{{"kty":"oct","k":"{k}"}}"#), None),
    ];
    for (json, alg) in cases {
        let err = DecodingKey::from_jwk(&jwk(&json), alg).unwrap_err();
        assert!(matches!(err, ConfigError::JwkMisuse(_)), "{json}: {err}");
    }
    let ok = format!(
        r#"{{"kty":"oct","k":"{k}","alg":"HS256","use":"sig","key_ops":["verify"],"kid":"a"}}"#
    );
    let key = DecodingKey::from_jwk(&jwk(&ok), None).unwrap();
    assert_eq!((key.algorithm(), key.kid()), (Algorithm::HS256, Some("a")));
}

#[test]
fn an_ec_jwk_takes_the_algorithm_of_its_curve() {
    let signing = p256::ecdsa::SigningKey::from_slice(&[3; 32]).unwrap();
    let point = signing.verifying_key().to_sec1_point(false);
    let json = format!(
        r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}"#,
        b64(point.x().unwrap()),
        b64(point.y().unwrap())
    );
    let key = DecodingKey::from_jwk(&jwk(&json), None).unwrap();
    assert_eq!(key.algorithm(), Algorithm::ES256);
    assert!(DecodingKey::from_jwk(&jwk(&json), Some(Algorithm::ES384)).is_err());
}

#[test]
fn a_jwks_document_builds_a_key_set() {
    let json = format!(
        r#"{{"keys":[{{"kty":"oct","k":"{}","alg":"HS256","kid":"a"}},{{"kty":"oct","k":"{}","alg":"HS512","kid":"b"}}]}}"#,
        b64(&[1; 32]),
        b64(&[2; 64])
    );
    let set = KeySet::from_jwks_json(&json).unwrap();
    assert_eq!(set.keys().len(), 2);
    assert!(set.algorithms().contains(Algorithm::HS512));
    let duplicate = json.replace(r#""kid":"b""#, r#""kid":"a""#);
    assert!(matches!(
        KeySet::from_jwks_json(&duplicate),
        Err(ConfigError::DuplicateKid(_))
    ));
}

#[test]
fn an_allow_list_that_excludes_every_key_is_refused() {
    let key = DecodingKey::from_secret(Algorithm::HS256, SECRET).unwrap();
    let err = Verifier::new(
        key.clone(),
        Validation::new().algorithms([Algorithm::RS256]),
    )
    .unwrap_err();
    assert_eq!(err, ConfigError::NoKeys);
    // The layer's builders refuse it too, rather than build a layer that refuses everything.
    let layer = || JwtAuthLayer::new(key.clone());
    assert_eq!(
        layer().algorithms([Algorithm::RS256]).unwrap_err(),
        ConfigError::NoKeys
    );
    assert_eq!(
        layer()
            .with_validation(Validation::new().algorithms([Algorithm::ES256]))
            .unwrap_err(),
        ConfigError::NoKeys
    );
    assert!(
        layer()
            .algorithms([Algorithm::HS256, Algorithm::RS256])
            .is_ok()
    );
}

#[test]
fn debug_output_never_shows_key_material() {
    let key = DecodingKey::from_secret(Algorithm::HS256, SECRET).unwrap();
    let shown = format!("{key:?}");
    assert!(!shown.contains("0123456789"), "{shown}");
}

#[test]
fn the_jwk_thumbprint_is_rfc_7638s() {
    // RFC 7638 §3.1's example key and thumbprint.
    let key = jwk(
        r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
    );
    assert_eq!(
        key.thumbprint().unwrap(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

#[test]
fn public_keys_load_from_der_as_from_pem() {
    for (alg, file) in [
        (Algorithm::RS256, "rsa2048.pub.pem"),
        (Algorithm::PS512, "rsa2048.pub.pem"),
        (Algorithm::ES256, "es256.pub.pem"),
        (Algorithm::EdDSA, "ed25519.pub.pem"),
    ] {
        let der = pem_to_der(&fixture(file));
        let key = DecodingKey::from_der(alg, &der).unwrap();
        assert_eq!(key.algorithm(), alg);
        assert!(DecodingKey::from_der(alg, &der[..der.len() - 1]).is_err());
    }
    let weak = pem_to_der(&fixture("rsa1024.pub.pem"));
    assert_eq!(
        DecodingKey::from_der(Algorithm::RS256, &weak).unwrap_err(),
        ConfigError::WeakRsaKey { bits: 1024 }
    );
}

#[test]
fn a_pem_public_key_is_refused_as_an_hmac_secret() {
    // The classic confusion: the RSA public key, which anyone may hold, used as a shared secret.
    let public = fixture("rsa2048.pub.pem");
    for secret in [public.clone(), format!("\n  {public}")] {
        let err = DecodingKey::from_secret(Algorithm::HS256, secret.as_bytes()).unwrap_err();
        assert_eq!(err, ConfigError::SecretLooksLikeKey);
        assert!(err.to_string().contains("PEM"), "{err}");
    }
}

#[test]
fn two_keys_without_kid_for_one_algorithm_are_refused_and_a_rotation_set_with_kids_works() {
    let old = DecodingKey::from_secret(Algorithm::HS256, &[1; 32]).unwrap();
    let new = DecodingKey::from_secret(Algorithm::HS256, &[2; 32]).unwrap();
    // Mid-rotation without kids: no token could name its key.
    let err = KeySet::new([old.clone(), new.clone()]).unwrap_err();
    assert_eq!(err, ConfigError::AmbiguousKeys(Algorithm::HS256));
    assert!(err.to_string().contains("kid"), "{err}");
    // Without kid but for different algorithms, each token's alg still picks one key.
    let hs384 = DecodingKey::from_secret(Algorithm::HS384, &[3; 48]).unwrap();
    assert!(KeySet::new([old.clone(), hs384]).is_ok());
    // The same rotation with kids: tokens signed by either key verify.
    let set = KeySet::new([old.with_kid("2026-10"), new.with_kid("2026-11")]).unwrap();
    let verifier = Verifier::new(set, Validation::new()).unwrap();
    for (kid, secret) in [("2026-10", [1u8; 32]), ("2026-11", [2u8; 32])] {
        let header = format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#);
        let token = hs256_raw(header.as_bytes(), claims("").as_bytes(), &secret);
        let claims: tower_jwt_auth::Claims = verifier.verify(&token).unwrap();
        assert_eq!(claims.sub.as_deref(), Some("ada"));
        // A token without kid matches neither key of the set.
        let anonymous = hs256_raw(br#"{"alg":"HS256"}"#, br#"{"exp":9999999999}"#, &secret);
        assert!(
            verifier
                .verify::<tower_jwt_auth::Claims>(&anonymous)
                .is_err()
        );
    }
}

//! Every token the issuer signs verifies with a layer built from the same key material.
#![cfg(feature = "login")]

mod support;

use http::{Request, StatusCode};
use http_body_util::BodyExt;
use support::*;
use tower::ServiceExt;
use tower_jwt_auth::{
    Algorithm, Claims, ConfigError, ErrorKind, JwtAuthLayer, KeySet, SigningKey, TokenIssuer,
};

const NO_SCOPES: [&str; 0] = [];

fn keys() -> Vec<SigningKey> {
    let mut keys = vec![
        SigningKey::from_secret(Algorithm::HS256, &[1; 32]).unwrap(),
        SigningKey::from_secret(Algorithm::HS384, &[2; 48]).unwrap(),
        SigningKey::from_secret(Algorithm::HS512, &[3; 64]).unwrap(),
    ];
    let rsa = fixture("rsa2048.pem");
    let rsa_algorithms = Algorithm::ALL
        .into_iter()
        .filter(|alg| alg.family() == tower_jwt_auth::verify::KeyFamily::Rsa);
    for alg in rsa_algorithms {
        keys.push(SigningKey::from_pem(alg, &rsa).unwrap());
    }
    keys.push(SigningKey::from_pem(Algorithm::ES256, &fixture("es256.pem")).unwrap());
    keys.push(SigningKey::from_pem(Algorithm::ES384, &fixture("es384.pem")).unwrap());
    keys.push(SigningKey::from_pem(Algorithm::EdDSA, &fixture("ed25519.pem")).unwrap());
    keys
}

#[test]
fn every_algorithm_round_trips_through_the_verifier() {
    let keys = keys();
    assert_eq!(keys.len(), 12);
    for key in keys {
        let alg = key.algorithm();
        let issuer = TokenIssuer::new(key.with_kid("k1"))
            .issuer("https://auth.example")
            .audience("api");
        let token = issuer.issue("ada", ["read", "write"]).unwrap();
        let claims: Claims = issuer
            .verifier()
            .verify(&token.access_token)
            .unwrap_or_else(|e| {
                panic!("{alg}: {e}");
            });
        assert_eq!(claims.sub.as_deref(), Some("ada"), "{alg}");
        assert_eq!(claims.iss.as_deref(), Some("https://auth.example"));
        assert_eq!(claims.scope.as_deref(), Some("read write"));
        assert_eq!(claims.jti.as_deref(), Some(token.jwt_id.as_str()));
        assert_eq!(token.expires_in, 900);
        assert_eq!(claims.exp.unwrap() - claims.iat.unwrap(), 900);
        assert_eq!(claims.nbf, claims.iat);
        // 128 random bits, base64url.
        assert_eq!(token.jwt_id.len(), 22);
        let header = token.access_token.split('.').next().unwrap();
        let header: serde_json::Value = serde_json::from_slice(&base64_decode(header)).unwrap();
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["alg"], alg.as_str());
        assert_eq!(header["kid"], "k1");
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

#[test]
fn each_token_gets_a_fresh_jwt_id() {
    let issuer = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[1; 32]).unwrap());
    let a = issuer.issue("ada", NO_SCOPES).unwrap();
    let b = issuer.issue("ada", NO_SCOPES).unwrap();
    assert_ne!(a.jwt_id, b.jwt_id);
}

#[test]
fn a_private_pem_implies_its_algorithm_in_any_common_encoding() {
    for (file, alg) in [
        ("rsa2048.pem", Algorithm::RS256),
        ("rsa2048.pkcs1.pem", Algorithm::RS256),
        ("es256.pem", Algorithm::ES256),
        ("es256.sec1.pem", Algorithm::ES256),
        ("es384.pem", Algorithm::ES384),
        ("ed25519.pem", Algorithm::EdDSA),
    ] {
        let key = SigningKey::from_private_pem(&fixture(file)).unwrap();
        assert_eq!(key.algorithm(), alg, "{file}");
    }
    assert!(matches!(
        SigningKey::from_private_pem(&fixture("rsa1024.pem")),
        Err(ConfigError::WeakRsaKey { bits: 1024 })
    ));
    assert!(SigningKey::from_secret(Algorithm::HS256, b"short").is_err());
}

#[test]
fn another_service_verifies_with_the_published_jwks_alone() {
    let issuer = TokenIssuer::new(
        SigningKey::from_pem(Algorithm::ES256, &fixture("es256.pem"))
            .unwrap()
            .with_kid("2026-11"),
    );
    let jwks = serde_json::to_string(&issuer.jwks().unwrap()).unwrap();
    assert!(!jwks.contains("\"d\""), "private material leaked: {jwks}");
    let keys = KeySet::from_jwks_json(&jwks).unwrap();
    let token = issuer.issue("ada", ["read"]).unwrap();
    let verifier = tower_jwt_auth::Verifier::new(keys, tower_jwt_auth::Validation::new()).unwrap();
    let claims: Claims = verifier.verify(&token.access_token).unwrap();
    assert_eq!(claims.sub.as_deref(), Some("ada"));
    // Shared secrets are never published.
    let hmac = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[1; 32]).unwrap());
    assert!(hmac.jwks().is_none());
    assert!(hmac.jwks_service().is_none());
}

#[tokio::test]
async fn the_jwks_service_answers_get_and_refuses_other_methods() {
    let issuer =
        TokenIssuer::new(SigningKey::from_pem(Algorithm::EdDSA, &fixture("ed25519.pem")).unwrap());
    let service = issuer.jwks_service().unwrap();
    let response = service
        .clone()
        .oneshot(Request::get("/.well-known/jwks.json").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["keys"][0]["kty"], "OKP");
    assert_eq!(doc["keys"][0]["alg"], "EdDSA");
    let response = service
        .oneshot(Request::post("/.well-known/jwks.json").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, HEAD");
}

#[test]
fn tokens_from_another_issuer_or_for_another_audience_are_refused() {
    let key = SigningKey::from_secret(Algorithm::HS256, &[1; 32]).unwrap();
    let ours = TokenIssuer::new(key.clone()).issuer("us").audience("api");
    let theirs = TokenIssuer::new(key.clone()).issuer("them").audience("api");
    let elsewhere = TokenIssuer::new(key).issuer("us").audience("other");
    let verifier = ours.verifier();
    let err = verifier
        .verify::<Claims>(&theirs.issue("ada", NO_SCOPES).unwrap().access_token)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidIssuer);
    let err = verifier
        .verify::<Claims>(&elsewhere.issue("ada", NO_SCOPES).unwrap().access_token)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidAudience);
    let _: JwtAuthLayer = ours.layer();
}

#[test]
fn scopes_to_grant_are_single_scope_tokens() {
    let issuer = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap());
    assert_eq!(
        issuer.issue("ada", ["read", "write"]).unwrap().scope,
        "read write"
    );
    assert_eq!(issuer.issue("ada", NO_SCOPES).unwrap().scope, "");
    for bad in ["read write", "", "a\"b"] {
        assert!(
            matches!(
                issuer.issue("ada", [bad]),
                Err(tower_jwt_auth::issue::IssueError::InvalidScope(s)) if s == bad
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn a_huge_lifetime_is_capped_at_a_day_and_never_overflows_into_an_expired_token() {
    let key = SigningKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap();
    let issuer = TokenIssuer::new(key).lifetime(std::time::Duration::MAX);
    assert_eq!(issuer.token_lifetime(), tower_jwt_auth::issue::MAX_LIFETIME);
    let token = issuer.issue("ada", NO_SCOPES).unwrap();
    assert_eq!(token.expires_in, 24 * 60 * 60);
    let claims: Claims = issuer.verifier().verify(&token.access_token).unwrap();
    assert_eq!(claims.exp.unwrap() - claims.iat.unwrap(), 24 * 60 * 60);
}

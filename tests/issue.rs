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

fn header_kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(&base64_decode(header)).unwrap();
    header["kid"].as_str().unwrap_or_default().to_owned()
}

fn jwks_kids(issuer: &TokenIssuer) -> Vec<String> {
    issuer
        .jwks()
        .unwrap()
        .keys
        .into_iter()
        .map(|k| k.kid.unwrap())
        .collect()
}

#[test]
fn generated_keys_sign_with_their_thumbprint_as_kid() {
    for alg in [
        Algorithm::HS256,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        let key = SigningKey::generate(alg).unwrap();
        assert_eq!(key.algorithm(), alg);
        let kid = key.kid().unwrap().to_owned();
        if let Some(jwk) = key.public_jwk() {
            assert_eq!(jwk.thumbprint().unwrap(), kid, "{alg}");
        }
        let other = SigningKey::generate(alg).unwrap();
        assert_ne!(other.kid(), Some(kid.as_str()), "{alg}: two draws, one key");
        let issuer = TokenIssuer::new(key);
        let token = issuer.issue("ada", NO_SCOPES).unwrap();
        assert_eq!(header_kid(&token.access_token), kid);
        let claims: Claims = issuer.verifier().verify(&token.access_token).unwrap();
        assert_eq!(claims.sub.as_deref(), Some("ada"));
        // A token of the other key is not one of ours.
        let foreign = TokenIssuer::new(other).issue("ada", NO_SCOPES).unwrap();
        assert!(
            issuer
                .verifier()
                .verify::<Claims>(&foreign.access_token)
                .is_err()
        );
    }
    assert!(matches!(
        SigningKey::generate(Algorithm::ES512),
        Err(ConfigError::KeyAlgorithmMismatch { .. })
    ));
}

#[tokio::test]
async fn a_rotation_signs_with_the_new_key_and_keeps_the_old_one_verifying() {
    let issuer = TokenIssuer::new(SigningKey::generate(Algorithm::ES256).unwrap())
        .issuer("https://auth.example")
        .audience("api");
    assert_eq!(
        issuer.overlap(),
        std::time::Duration::from_secs(15 * 60 + 60)
    );
    // Made before the rotation: they must follow it.
    let verifier = issuer.verifier();
    let layer = issuer.layer();
    let jwks = issuer.jwks_service().unwrap();
    let clone = issuer.clone();
    let old_kid = issuer.key().kid().unwrap().to_owned();
    let old = issuer.issue("ada", NO_SCOPES).unwrap();

    let next = SigningKey::generate(Algorithm::ES256).unwrap();
    let new_kid = next.kid().unwrap().to_owned();
    clone.rotate(next).unwrap();
    let new = issuer.issue("ada", NO_SCOPES).unwrap();
    assert_eq!(header_kid(&old.access_token), old_kid);
    assert_eq!(header_kid(&new.access_token), new_kid);
    assert_eq!(issuer.key().kid(), Some(new_kid.as_str()));
    for token in [&old, &new] {
        let claims: Claims = verifier.verify(&token.access_token).unwrap();
        assert_eq!(claims.sub.as_deref(), Some("ada"));
        let service = tower::ServiceBuilder::new()
            .layer(layer.clone())
            .service_fn(|_: Request<()>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
            });
        let response = service
            .oneshot(
                Request::get("/")
                    .header("authorization", format!("Bearer {}", token.access_token))
                    .body(())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    // The JWKS service made before the rotation publishes both, the new key first.
    assert_eq!(jwks_kids(&issuer), [new_kid.clone(), old_kid.clone()]);
    let body = jwks
        .oneshot(Request::get("/.well-known/jwks.json").body(()).unwrap())
        .await
        .unwrap()
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes();
    let published = KeySet::from_jwks_json(std::str::from_utf8(&body).unwrap()).unwrap();
    let kids: Vec<_> = published.keys().iter().map(|k| k.kid().unwrap()).collect();
    assert_eq!(kids, [new_kid.as_str(), old_kid.as_str()]);
    // Another service holding the published set alone verifies both tokens.
    let remote =
        tower_jwt_auth::Verifier::new(published, tower_jwt_auth::Validation::new().audience("api"))
            .unwrap();
    for token in [&old, &new] {
        remote.verify::<Claims>(&token.access_token).unwrap();
    }
}

#[test]
fn a_retired_key_is_dropped_once_its_overlap_ends() {
    let issuer = TokenIssuer::new(SigningKey::generate(Algorithm::EdDSA).unwrap())
        .rotation_overlap(std::time::Duration::ZERO);
    let old = issuer.issue("ada", NO_SCOPES).unwrap();
    let verifier = issuer.verifier();
    issuer
        .rotate(SigningKey::generate(Algorithm::EdDSA).unwrap())
        .unwrap();
    // No overlap: the old key is gone from the JWKS and from the verifiers at the next look.
    assert_eq!(jwks_kids(&issuer).len(), 1);
    let err = verifier.verify::<Claims>(&old.access_token).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownKey);
    let new = issuer.issue("ada", NO_SCOPES).unwrap();
    verifier.verify::<Claims>(&new.access_token).unwrap();
}

#[test]
fn a_rotation_is_refused_whole_without_a_new_kid_or_across_key_kinds() {
    let first = SigningKey::generate(Algorithm::ES256).unwrap();
    let kid = first.kid().unwrap().to_owned();
    let issuer = TokenIssuer::new(first.clone());
    let pem = fixture("es256.pem");
    let no_kid = SigningKey::from_pem(Algorithm::ES256, &pem).unwrap();
    assert!(matches!(
        issuer.rotate(no_kid),
        Err(ConfigError::InvalidKey(_))
    ));
    assert!(matches!(
        issuer.rotate(first),
        Err(ConfigError::DuplicateKid(k)) if k == kid
    ));
    let secret = SigningKey::generate(Algorithm::HS256).unwrap();
    assert!(matches!(
        issuer.rotate(secret),
        Err(ConfigError::MixedKeySet)
    ));
    // Nothing changed.
    assert_eq!(jwks_kids(&issuer), [kid.as_str()]);
    assert_eq!(issuer.key().kid(), Some(kid.as_str()));
    // A shared secret rotates too: never published, the old one verifying meanwhile.
    let hmac = TokenIssuer::new(SigningKey::generate(Algorithm::HS256).unwrap());
    let old = hmac.issue("ada", NO_SCOPES).unwrap();
    hmac.rotate(SigningKey::generate(Algorithm::HS256).unwrap())
        .unwrap();
    assert!(hmac.jwks().is_none());
    hmac.verifier().verify::<Claims>(&old.access_token).unwrap();
}

#[test]
fn a_rotation_may_change_the_algorithm_and_both_keep_verifying() {
    let issuer = TokenIssuer::new(SigningKey::generate(Algorithm::ES256).unwrap());
    let verifier = issuer.verifier();
    let old = issuer.issue("ada", NO_SCOPES).unwrap();
    issuer
        .rotate(SigningKey::generate(Algorithm::EdDSA).unwrap())
        .unwrap();
    let new = issuer.issue("ada", NO_SCOPES).unwrap();
    for token in [&old, &new] {
        verifier.verify::<Claims>(&token.access_token).unwrap();
    }
    let algs: Vec<_> = issuer
        .jwks()
        .unwrap()
        .keys
        .into_iter()
        .map(|k| k.alg.unwrap())
        .collect();
    assert_eq!(algs, ["EdDSA", "ES256"]);
}

//! `Debug` never shows a secret: every public type that holds a key, a password, a password hash
//! or a token is formatted with `{:?}` and `{:#?}`, and the output searched for the secret's
//! bytes in the forms a log would carry them (as given, base64url, hex).
#![cfg(all(feature = "login", feature = "tonic"))]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use support::*;
use tower_jwt_auth::issue::IssuedToken;
use tower_jwt_auth::login::password::{Argon2Hasher, PasswordPolicy};
use tower_jwt_auth::login::{InMemoryUserStore, User, login_handler};
use tower_jwt_auth::tonic::BearerToken;
use tower_jwt_auth::tonic::auth::{LoginRequest, LoginResponse};
use tower_jwt_auth::verify::{Jwk, JwkSet};
use tower_jwt_auth::{Algorithm, DecodingKey, KeySet, KeyStore, SigningKey, TokenIssuer, Verifier};

const SECRET_BYTES: &[u8] = b"s3cret-s3cret-s3cret-s3cret-0123456789";
const PASSWORD: &str = "hunter2-correct-horse";

/// The forms a secret may take in a formatted value.
fn forms(secret: &[u8]) -> Vec<String> {
    let mut forms = vec![
        URL_SAFE_NO_PAD.encode(secret),
        secret.iter().map(|b| format!("{b:02x}")).collect(),
        format!("{secret:?}"),
    ];
    if let Ok(text) = std::str::from_utf8(secret) {
        forms.push(text.to_owned());
    }
    forms
}

#[track_caller]
fn assert_hidden(what: &str, value: &dyn std::fmt::Debug, secret: &[u8]) {
    for shown in [format!("{value:?}"), format!("{value:#?}")] {
        for form in forms(secret) {
            // Short forms could match by chance; every secret here is long.
            assert!(
                !shown.contains(&form),
                "{what}'s Debug shows the secret ({form}): {shown}"
            );
        }
    }
}

#[test]
fn keys_never_show_their_material() {
    let jwk: Jwk = serde_json::from_value(serde_json::json!({
        "kty": "oct",
        "alg": "HS256",
        "k": URL_SAFE_NO_PAD.encode(SECRET_BYTES),
    }))
    .unwrap();
    assert_hidden("Jwk", &jwk, SECRET_BYTES);
    let set: JwkSet = serde_json::from_value(serde_json::json!({ "keys": [jwk] })).unwrap();
    assert_hidden("JwkSet", &set, SECRET_BYTES);

    let key = DecodingKey::from_secret(Algorithm::HS256, SECRET_BYTES).unwrap();
    assert_hidden("DecodingKey", &key, SECRET_BYTES);
    let keys = KeySet::new([key.clone()]).unwrap();
    assert_hidden("KeySet", &keys, SECRET_BYTES);
    assert_hidden("KeyStore", &KeyStore::from(keys.clone()), SECRET_BYTES);
    let verifier = Verifier::new(keys, tower_jwt_auth::Validation::new()).unwrap();
    assert_hidden("Verifier", &verifier, SECRET_BYTES);

    let signing = SigningKey::from_secret(Algorithm::HS256, SECRET_BYTES).unwrap();
    assert_hidden("SigningKey", &signing, SECRET_BYTES);
    let issuer = TokenIssuer::new(signing);
    assert_hidden("TokenIssuer", &issuer, SECRET_BYTES);
    assert_hidden("JwtAuthLayer", &issuer.layer(), SECRET_BYTES);

    // A private key: its PEM body, and the PKCS#8 DER it holds.
    let pem = fixture("es256.pem");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .unwrap();
    let private = SigningKey::from_private_pem(&pem).unwrap();
    assert_hidden("SigningKey (ES256)", &private, body.as_bytes());
    assert_hidden("SigningKey (ES256)", &private, &der);
    assert_hidden("TokenIssuer (ES256)", &TokenIssuer::new(private), &der);
}

#[test]
fn passwords_hashes_and_tokens_never_show() {
    let hasher = Argon2Hasher::new(PasswordPolicy::default().m_cost_kib(64).t_cost(1)).unwrap();
    let hash = hasher.hash_blocking(PASSWORD).unwrap();
    let user = User::new("u1", hash.clone(), ["read"]);
    assert_hidden("User", &user, hash.as_bytes());
    let users = InMemoryUserStore::new();
    users.insert("ada", user);
    assert_hidden("InMemoryUserStore", &users, hash.as_bytes());
    let issuer = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, SECRET_BYTES).unwrap());
    let service = login_handler(users, issuer.clone(), hasher.clone());
    assert_hidden("LoginService", &service, hash.as_bytes());
    assert_hidden("LoginService", &service, SECRET_BYTES);

    let request = LoginRequest {
        username: "ada".into(),
        password: PASSWORD.into(),
        scope: String::new(),
    };
    assert_hidden("LoginRequest", &request, PASSWORD.as_bytes());
    assert!(
        format!("{request:?}").contains("ada"),
        "the username stays visible"
    );

    let issued: IssuedToken = issuer.issue("u1", ["read"]).unwrap();
    assert_hidden("IssuedToken", &issued, issued.access_token.as_bytes());
    let response = LoginResponse {
        access_token: issued.access_token.clone(),
        token_type: "Bearer".into(),
        expires_in: issued.expires_in,
        scope: issued.scope.clone(),
    };
    assert_hidden("LoginResponse", &response, issued.access_token.as_bytes());
    let bearer = BearerToken::new();
    bearer.set(&issued.access_token).unwrap();
    assert_hidden("BearerToken", &bearer, issued.access_token.as_bytes());
}

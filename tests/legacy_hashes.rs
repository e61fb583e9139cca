//! Hashes migrated from a Python/FastAPI application (feature `legacy-hashes`), run through
//! `tower_jwt_auth::login` as a black box.
//!
//! The fixtures (`tests/vectors/passlib/hashes.json`) were written by passlib 1.7.4, the
//! Python `bcrypt` package and argon2-cffi themselves (`tests/vectors/passlib/generate.py`;
//! versions recorded in the file), with, for each hash, the passwords the library itself accepts
//! and rejects. A missing or unreadable file fails every test here, naming the file.
//!
//! - every hash verifies with its password and with every password passlib accepts (for bcrypt,
//!   any password sharing its first 72 bytes), never with one it rejects or refuses; a bcrypt
//!   match always asks for a rehash;
//! - a login with a bcrypt account answers 200 and leaves an argon2id hash at the policy in the
//!   store, which the next login verifies; a wrong password on it is the usual `invalid_grant`;
//! - malformed bcrypt strings are `MalformedHash`, the `$2x$` and `$2$` variants and costs above
//!   the policy's cap `UnsupportedHash`, none of them a panic.
#![cfg(feature = "legacy-hashes")]

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use serde_json::Value;
use tower::ServiceExt;
use tower_jwt_auth::login::password::{
    Argon2Hasher, PasswordError, PasswordHashing, PasswordPolicy, PoolConfig, Verification,
    Zeroizing,
};
use tower_jwt_auth::login::{InMemoryUserStore, LoginService, User, login_handler};
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/passlib/hashes.json"
);

#[derive(Deserialize)]
struct Vectors {
    generator: BTreeMap<String, String>,
    cases: Vec<Case>,
}

#[derive(Clone, Deserialize)]
struct Case {
    source: String,
    scheme: String,
    password: String,
    hash: String,
    accepts: Vec<String>,
    rejects: Vec<String>,
    #[serde(default)]
    passlib_refuses: Vec<String>,
}

fn vectors() -> Vectors {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|err| {
        panic!(
            "cannot read {VECTORS}: {err}. The passlib fixtures are part of the repository \
             (tests/vectors/passlib/README.md); restore them or run generate.py"
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{VECTORS} is not valid: {err}"))
}

fn secret(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.to_owned())
}

fn is_bcrypt(case: &Case) -> bool {
    ["2a", "2b", "2y"].contains(&case.scheme.as_str())
}

/// The policy of the login tests: cheap, these tests are about the migration.
fn cheap() -> PasswordPolicy {
    PasswordPolicy::default().m_cost_kib(256).t_cost(1)
}

/// The first case from passlib's bcrypt handler with this ident and password.
fn passlib_bcrypt(vectors: &Vectors, ident: &str, password: &str) -> Case {
    vectors
        .cases
        .iter()
        .find(|c| {
            c.scheme == ident && c.password == password && c.source.starts_with("CryptContext")
        })
        .unwrap_or_else(|| panic!("no passlib ${ident}$ case for {password:?} in {VECTORS}"))
        .clone()
}

#[test]
fn the_fixtures_cover_every_ident_and_edge_they_claim() {
    let vectors = vectors();
    assert_eq!(vectors.generator["passlib"], "1.7.4");
    for tool in ["bcrypt", "argon2-cffi", "python"] {
        assert!(!vectors.generator[tool].is_empty(), "{tool}");
    }
    assert_eq!(vectors.cases.len(), 41);
    let count = |f: &dyn Fn(&Case) -> bool| vectors.cases.iter().filter(|c| f(c)).count();
    assert_eq!(count(&|c| c.scheme == "2a"), 8);
    assert_eq!(count(&|c| c.scheme == "2b"), 11);
    assert_eq!(count(&|c| c.scheme == "2y"), 5);
    assert_eq!(count(&|c| c.scheme == "argon2id"), 13);
    assert_eq!(count(&|c| c.scheme == "argon2i"), 4);
    assert_eq!(count(&|c| c.source.starts_with("bcrypt.hashpw")), 6);
    // Over 72 bytes, for each bcrypt ident: passlib accepted another password for each.
    for ident in ["2a", "2b", "2y"] {
        let long = count(&|c| c.scheme == ident && c.password.len() > 72);
        assert!(long >= 2, "${ident}$: {long}");
    }
    for case in vectors.cases.iter().filter(|c| c.password.len() > 72) {
        assert_eq!(case.accepts.len() > 1, is_bcrypt(case), "{}", case.source);
    }
    // One bcrypt hash at passlib's default cost, one argon2 hash at its defaults.
    assert_eq!(count(&|c| c.hash.starts_with("$2b$12$")), 1);
    assert_eq!(
        count(&|c| c.hash.starts_with("$argon2id$v=19$m=65536,t=3,p=4$")),
        1
    );
    assert_eq!(count(&|c| !c.passlib_refuses.is_empty()), 3);
}

#[tokio::test]
async fn every_passlib_hash_verifies_with_the_passwords_passlib_accepts_and_no_other() {
    let vectors = vectors();
    let policy = PasswordPolicy::default();
    let hasher = Argon2Hasher::with_pool(policy.clone(), PoolConfig::workers(2)).unwrap();
    for case in &vectors.cases {
        let what = format!("{} ({:?}): {}", case.source, case.password, case.hash);
        // Every one is replaced: bcrypt always, and every passlib argon2 hash differs from the
        // default policy (passlib's defaults m = 64 MiB, t = 3, p = 4 included), as passlib's
        // own `deprecated="auto"` replaces a hash whose parameters differ from its settings.
        let rehash = true;
        assert_eq!(policy.needs_rehash(&case.hash).unwrap(), rehash, "{what}");
        for accepted in &case.accepts {
            let check = hasher.verify(secret(accepted), Some(case.hash.clone()));
            assert_eq!(
                check.await.unwrap(),
                Verification::new(true, rehash),
                "{what} with {accepted:?}"
            );
        }
        for rejected in case.rejects.iter().chain(&case.passlib_refuses) {
            let check = hasher.verify(secret(rejected), Some(case.hash.clone()));
            assert_eq!(
                check.await.unwrap(),
                Verification::new(false, false),
                "{what} with {rejected:?}"
            );
        }
    }
}

#[test]
fn a_password_with_a_nul_byte_never_opens_a_bcrypt_account() {
    let vectors = vectors();
    let hasher = Argon2Hasher::with_pool(cheap(), PoolConfig::workers(1)).unwrap();
    let cases: Vec<_> = vectors
        .cases
        .iter()
        .filter(|c| !c.passlib_refuses.is_empty())
        .collect();
    assert_eq!(cases.len(), 3);
    for case in cases {
        assert_eq!(case.password, "x");
        let twice = "x\0x";
        assert!(case.passlib_refuses.iter().any(|p| p == twice));
        // bcrypt repeats "x" + NUL as its key: "x\0x" + NUL is the same key. The `bcrypt`
        // crate alone says yes.
        assert_eq!(bcrypt::verify(twice, &case.hash).ok(), Some(true));
        let check = hasher.verify_blocking(twice, Some(&case.hash)).unwrap();
        assert!(!check.matches, "{}", case.hash);
        assert!(
            hasher
                .verify_blocking("x", Some(&case.hash))
                .unwrap()
                .matches
        );
    }
}

fn key() -> SigningKey {
    SigningKey::from_secret(Algorithm::HS256, &[9; 32]).unwrap()
}

async fn login<H: PasswordHashing>(
    service: &LoginService<InMemoryUserStore, H>,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "password")
        .append_pair("username", username)
        .append_pair("password", password)
        .finish();
    let request = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn a_login_on_a_passlib_bcrypt_account_replaces_the_hash_by_argon2id_at_the_policy() {
    let vectors = vectors();
    let long = "A".repeat(72) + "this tail is past byte 72";
    let accounts = [
        (
            "ada",
            passlib_bcrypt(&vectors, "2b", "correct horse battery staple"),
        ),
        ("bea", passlib_bcrypt(&vectors, "2y", "pässwörd ñ 密码 🔐")),
        ("cy", passlib_bcrypt(&vectors, "2a", &long)),
    ];
    let users = InMemoryUserStore::new();
    for (name, case) in &accounts {
        users.insert(*name, User::new(format!("id-{name}"), &case.hash, ["read"]));
    }
    let policy = cheap();
    let hasher = Argon2Hasher::with_pool(policy.clone(), PoolConfig::workers(2)).unwrap();
    let service = login_handler(users.clone(), TokenIssuer::new(key()), hasher);

    for (name, case) in &accounts {
        let (status, body) = login(&service, name, &case.password).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert!(body["access_token"].is_string(), "{body}");
        let stored = users.get(name).unwrap().password_hash;
        assert!(
            stored.starts_with("$argon2id$v=19$m=256,t=1,p=1$"),
            "{name}: {stored}"
        );
        assert!(!policy.needs_rehash(&stored).unwrap(), "{stored}");
        // The next login verifies the new hash, and leaves it as it is.
        let (status, body) = login(&service, name, &case.password).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(users.get(name).unwrap().password_hash, stored);
    }
    // bcrypt's 72-byte truncation ends with the migration: the argon2id hash is of the whole
    // password, so another tail no longer opens the account.
    let other_tail = "A".repeat(72) + "another tail";
    let (status, _) = login(&service, "cy", &other_tail).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_wrong_password_on_a_bcrypt_account_is_the_usual_invalid_grant_and_keeps_the_hash() {
    let vectors = vectors();
    let case = passlib_bcrypt(&vectors, "2b", "correct horse battery staple");
    let hasher = Argon2Hasher::with_pool(cheap(), PoolConfig::workers(2)).unwrap();
    let users = InMemoryUserStore::new();
    users.insert("ada", User::new("id-ada", &case.hash, ["read"]));
    let argon2 = hasher
        .hash_blocking("correct horse battery staple")
        .unwrap();
    users.insert("eve", User::new("id-eve", argon2, ["read"]));
    let service = login_handler(users.clone(), TokenIssuer::new(key()), hasher);

    let (bcrypt_status, bcrypt_body) = login(&service, "ada", "wrong password").await;
    let (argon2_status, argon2_body) = login(&service, "eve", "wrong password").await;
    let (unknown_status, unknown_body) = login(&service, "nobody", "wrong password").await;
    assert_eq!(bcrypt_status, StatusCode::BAD_REQUEST);
    assert_eq!(bcrypt_body["error"], "invalid_grant", "{bcrypt_body}");
    assert_eq!((argon2_status, &argon2_body), (bcrypt_status, &bcrypt_body));
    assert_eq!(
        (unknown_status, &unknown_body),
        (bcrypt_status, &bcrypt_body)
    );
    assert_eq!(users.get("ada").unwrap().password_hash, case.hash);
    // And the right one still opens it.
    let (status, _) = login(&service, "ada", &case.password).await;
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn malformed_bcrypt_strings_are_refused_without_panicking() {
    let vectors = vectors();
    let good = passlib_bcrypt(&vectors, "2b", "correct horse battery staple").hash;
    assert_eq!(&good[..7], "$2b$04$");
    let (salt, checksum) = good[7..].split_at(22);
    let hasher = Argon2Hasher::with_pool(cheap(), PoolConfig::workers(1)).unwrap();
    assert!(
        hasher
            .verify_blocking("correct horse battery staple", Some(&good))
            .unwrap()
            .matches
    );

    let with = |prefix: &str, rest: &str| format!("{prefix}{rest}");
    let malformed = [
        good[..59].to_owned(),
        good[..30].to_owned(),
        "$2b$".to_owned(),
        "$2b$04$".to_owned(),
        "$2b$04".to_owned(),
        "$2b".to_owned(),
        format!("{good}x"),
        format!("{good}$"),
        // The cost: one digit, letters, a sign, out of 4..=31, no `$` after it.
        with("$2b$4$", &format!("{salt}{checksum}x")),
        with("$2b$ab$", &format!("{salt}{checksum}")),
        with("$2b$+4$", &format!("{salt}{checksum}")),
        with("$2b$03$", &format!("{salt}{checksum}")),
        with("$2b$00$", &format!("{salt}{checksum}")),
        with("$2b$32$", &format!("{salt}{checksum}")),
        with("$2b$99$", &format!("{salt}{checksum}")),
        with("$2b$045", &format!("{salt}{checksum}")),
        // Characters outside bcrypt's base64, in the salt and in the checksum; standard base64's
        // `+` and `=`; a two-byte character keeping the length at 60 bytes.
        with("$2b$04$", &format!("!{}{checksum}", &salt[1..])),
        with("$2b$04$", &format!("{salt}{}+", &checksum[..30])),
        with("$2b$04$", &format!("{salt}{}=", &checksum[..30])),
        with("$2b$04$", &format!("{}é{checksum}", &salt[..20])),
        with("$2a$04$", &format!("{salt}{} ", &checksum[..30])),
        with("$2y$04$", &format!("{salt}{}\0", &checksum[..30])),
    ];
    for stored in &malformed {
        let result = hasher.verify_blocking("correct horse battery staple", Some(stored));
        assert!(
            matches!(result, Err(PasswordError::MalformedHash(_))),
            "{stored:?}: {result:?}"
        );
        let message = format!("{} {:?}", result.as_ref().unwrap_err(), result);
        assert!(
            !message.contains(salt) && !message.contains(checksum),
            "{message}"
        );
        let policy = hasher.policy();
        assert!(matches!(
            policy.needs_rehash(stored),
            Err(PasswordError::MalformedHash(_))
        ));
    }

    let unsupported = [
        with("$2x$04$", &format!("{salt}{checksum}")),
        with("$2$04$", &format!("{salt}{checksum}")),
        // Above the default cap of 14, with a valid salt: without the cap this would verify
        // (and take seconds), answering `Ok`.
        with("$2b$15$", &format!("{salt}{checksum}")),
        with("$2y$31$", &format!("{salt}{checksum}")),
        with("$2c$04$", &format!("{salt}{checksum}")),
    ];
    for stored in &unsupported {
        let result = hasher.verify_blocking("correct horse battery staple", Some(stored));
        assert!(
            matches!(result, Err(PasswordError::UnsupportedHash(_))),
            "{stored:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_bcrypt_cost_above_the_policys_cap_is_refused() {
    let vectors = vectors();
    assert_eq!(PasswordPolicy::default().max_stored_bcrypt_cost, 14);
    let cost = |prefix: &str| {
        vectors
            .cases
            .iter()
            .find(|c| c.hash.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} case"))
            .clone()
    };
    let (four, five, six, twelve) = (
        cost("$2b$04$"),
        cost("$2b$05$"),
        cost("$2b$06$"),
        cost("$2b$12$"),
    );
    let policy = cheap().max_stored_bcrypt_cost(5);
    let hasher = Argon2Hasher::with_pool(policy.clone(), PoolConfig::workers(1)).unwrap();
    for case in [&four, &five] {
        let check = hasher.verify(secret(&case.password), Some(case.hash.clone()));
        assert_eq!(
            check.await.unwrap(),
            Verification::new(true, true),
            "{}",
            case.hash
        );
    }
    for case in [&six, &twelve] {
        let check = hasher.verify(secret(&case.password), Some(case.hash.clone()));
        let result = check.await;
        assert!(
            matches!(result, Err(PasswordError::UnsupportedHash(ref why)) if why.contains("above the limit of 5")),
            "{}: {result:?}",
            case.hash
        );
        assert!(matches!(
            policy.needs_rehash(&case.hash),
            Err(PasswordError::UnsupportedHash(_))
        ));
    }
    // The cap must be a bcrypt cost.
    for invalid in [0, 3, 32, u32::MAX] {
        let result = Argon2Hasher::new(cheap().max_stored_bcrypt_cost(invalid));
        assert!(
            matches!(result, Err(PasswordError::InvalidPolicy(_))),
            "{invalid}"
        );
    }
    assert!(Argon2Hasher::new(cheap().max_stored_bcrypt_cost(31)).is_ok());
}

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

use super::*;
use crate::verify::revocation::{RevocationCheck, TokenInfo};
use crate::{Algorithm, Claims, DecodingKey, KeySet};

const NOW: i64 = 1_700_000_000;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn es256_key() -> DecodingKey {
    DecodingKey::from_pem(Algorithm::ES256, &fixture("es256.pub.pem")).unwrap()
}

/// An EdDSA key, to sit next to the fixture's ES256 key without a `kid`.
fn ed25519_key() -> DecodingKey {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    DecodingKey::from_ed25519(key.verifying_key().as_bytes()).unwrap()
}

/// An ES256 key other than the fixture's.
fn another_es256_key() -> DecodingKey {
    let point = p256::SecretKey::from_slice(&[7; 32])
        .unwrap()
        .public_key()
        .to_sec1_bytes();
    DecodingKey::from_ec_point(Algorithm::ES256, &point).unwrap()
}

fn es256_token(claims: &serde_json::Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_ec_pem(fixture("es256.pem").as_bytes()).unwrap();
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn hs256_token(secret: &[u8], claims: &serde_json::Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret).unwrap();
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), claims, &key).unwrap()
}

fn claims(exp: i64) -> serde_json::Value {
    serde_json::json!({"sub": "ada", "exp": exp, "jti": "j1"})
}

/// A verifier with a cache and a clock the test moves.
fn cached(clock: &Arc<AtomicI64>) -> Verifier {
    let clock = Arc::clone(clock);
    let validation = Validation::new().clock(move || clock.load(Ordering::Relaxed));
    Verifier::new(es256_key(), validation)
        .unwrap()
        .cache_verified_tokens(16)
}

fn hits(verifier: &Verifier) -> usize {
    verifier.cache.as_ref().map_or(0, |cache| cache.hits())
}

#[test]
fn a_repeated_asymmetric_token_hits_and_gets_fresh_claims() {
    let clock = Arc::new(AtomicI64::new(NOW));
    let verifier = cached(&clock);
    let token = es256_token(&claims(NOW + 600));
    let first: Claims = verifier.verify(&token).unwrap();
    assert_eq!(hits(&verifier), 0);
    let second: Claims = verifier.verify(&token).unwrap();
    assert_eq!(hits(&verifier), 1);
    assert_eq!(first, second);
    // Another claims type from the same entry.
    #[derive(serde::Deserialize)]
    struct Sub {
        sub: String,
    }
    assert_eq!(verifier.verify::<Sub>(&token).unwrap().sub, "ada");
    assert_eq!(hits(&verifier), 2);
    // Clones share the cache.
    let _: Claims = verifier.clone().verify(&token).unwrap();
    assert_eq!(hits(&verifier), 3);
}

fn hs256_key(secret: &[u8]) -> DecodingKey {
    DecodingKey::from_secret(Algorithm::HS256, secret).unwrap()
}

fn len(verifier: &Verifier) -> usize {
    verifier.cache.as_ref().map_or(0, |cache| cache.len())
}

#[test]
fn the_cache_is_on_by_default_for_public_keys_within_the_default_bounds() {
    let token = es256_token(&claims(i64::MAX / 2));
    let verifier = Verifier::new(es256_key(), Validation::new()).unwrap();
    let cache = verifier.cache.as_ref().unwrap();
    assert_eq!(cache.capacity(), crate::verify::cache::DEFAULT_ENTRIES);
    assert_eq!(cache.max_bytes(), crate::verify::cache::DEFAULT_BYTES);
    assert!(verifier.caches());
    for _ in 0..3 {
        let _: Claims = verifier.verify(&token).unwrap();
    }
    assert_eq!(hits(&verifier), 2);
}

#[test]
fn the_cache_is_off_by_default_for_shared_secrets_until_asked_for() {
    let secret = [9; 32];
    let token = hs256_token(&secret, &claims(i64::MAX / 2));
    let verifier = Verifier::new(hs256_key(&secret), Validation::new()).unwrap();
    assert!(!verifier.caches());
    for _ in 0..3 {
        let _: Claims = verifier.verify(&token).unwrap();
        verifier.verify_shared::<Claims>(&token).unwrap();
    }
    assert_eq!((hits(&verifier), len(&verifier)), (0, 0));
    // The unused cache costs no slots.
    assert!(!verifier.cache.as_ref().unwrap().allocated());
    // Asked for: on for every key set.
    let verifier = verifier.cache_verified_tokens(8);
    assert!(verifier.caches());
    for _ in 0..3 {
        let _: Claims = verifier.verify(&token).unwrap();
    }
    assert_eq!((hits(&verifier), len(&verifier)), (2, 1));
}

#[test]
fn the_default_follows_the_key_set_in_use() {
    let secret = [9; 32];
    let hs = hs256_token(&secret, &claims(i64::MAX / 2));
    let es = es256_token(&claims(i64::MAX / 2));
    let verifier = Verifier::new(es256_key(), Validation::new()).unwrap();
    verifier.keys().replace(KeySet::from(hs256_key(&secret)));
    assert!(!verifier.caches());
    for _ in 0..2 {
        verifier.verify_shared::<Claims>(&hs).unwrap();
    }
    assert_eq!(len(&verifier), 0);
    verifier.keys().replace(KeySet::from(es256_key()));
    assert!(verifier.caches());
    for _ in 0..2 {
        verifier.verify_shared::<Claims>(&es).unwrap();
    }
    assert_eq!((hits(&verifier), len(&verifier)), (1, 1));
}

#[test]
fn zero_entries_or_zero_bytes_turn_the_cache_off() {
    let token = es256_token(&claims(i64::MAX / 2));
    let plain = Verifier::new(es256_key(), Validation::new()).unwrap();
    let zero = plain.clone().cache_verified_tokens(0);
    assert!(zero.cache.is_none() && !zero.caches());
    let no_bytes = plain.clone().cache_byte_budget(0);
    assert!(no_bytes.cache.is_none());
    for verifier in [zero, no_bytes] {
        for _ in 0..2 {
            let _: Claims = verifier.verify(&token).unwrap();
            verifier.verify_shared::<Claims>(&token).unwrap();
        }
    }
    // The two bounds are set independently.
    let both = plain.cache_byte_budget(5000).cache_verified_tokens(7);
    let cache = both.cache.as_ref().unwrap();
    assert_eq!((cache.capacity(), cache.max_bytes()), (7, 5000));
}

#[test]
fn the_byte_budget_bounds_the_cached_tokens() {
    // All of one length (ES256 signatures are), so that each is charged alike.
    let tokens: Vec<String> = (0..40)
        .map(|i| {
            es256_token(
                &serde_json::json!({"sub": "ada", "exp": i64::MAX / 2, "jti": format!("j{i:02}")}),
            )
        })
        .collect();
    assert!(tokens.iter().all(|t| t.len() == tokens[0].len()));
    let each = crate::verify::cache::charge(tokens[0].len());
    let verifier = Verifier::new(es256_key(), Validation::new())
        .unwrap()
        .cache_verified_tokens(64)
        .cache_byte_budget(each * 5);
    for token in &tokens {
        verifier.verify_shared::<Claims>(token).unwrap();
        let cache = verifier.cache.as_ref().unwrap();
        assert!(cache.bytes() <= each * 5);
        assert!(cache.len() <= 5);
    }
    assert_eq!(len(&verifier), 5);
}

#[test]
fn replacing_the_keys_with_the_same_keys_keeps_the_cache() {
    let token = es256_token(&claims(i64::MAX / 2));
    let verifier = Verifier::new(es256_key(), Validation::new()).unwrap();
    verifier.verify_shared::<Claims>(&token).unwrap();
    // The same PEM read again, alone or with the same `kid`s in another order.
    verifier.keys().replace(KeySet::from(es256_key()));
    verifier.verify_shared::<Claims>(&token).unwrap();
    assert_eq!(hits(&verifier), 1);
    let pair = |a: DecodingKey, b: DecodingKey| KeySet::new([a, b]).unwrap();
    verifier.keys().replace(pair(es256_key(), ed25519_key()));
    let _: Claims = verifier.verify(&token).unwrap();
    assert_eq!(hits(&verifier), 1);
    verifier.keys().replace(pair(ed25519_key(), es256_key()));
    let _: Claims = verifier.verify(&token).unwrap();
    assert_eq!(hits(&verifier), 2);
    // Shared secrets: the same secret keeps the identity, another does not.
    let id = |store: &KeyStore| store.with_current(KeySet::id);
    let store = KeyStore::from(hs256_key(&[1; 32]));
    let before = id(&store);
    store.replace(KeySet::from(hs256_key(&[1; 32])));
    assert_eq!(id(&store), before);
    store.replace(KeySet::from(hs256_key(&[2; 32])));
    assert_ne!(id(&store), before);
}

#[test]
fn keys_that_differ_in_any_way_make_a_new_key_set() {
    let id = |store: &KeyStore| store.with_current(KeySet::id);
    let store = KeyStore::from(es256_key().with_kid("a"));
    let mut seen = vec![id(&store)];
    for keys in [
        KeySet::from(es256_key().with_kid("b")),
        KeySet::from(es256_key()),
        KeySet::from(another_es256_key()),
        KeySet::new([es256_key().with_kid("a"), another_es256_key().with_kid("b")]).unwrap(),
        KeySet::from(hs256_key(&[1; 32])),
    ] {
        store.replace(keys);
        assert!(!seen.contains(&id(&store)));
        seen.push(id(&store));
    }
}

/// The layer's shortcut (`check_hit`, which reads the key set's identity without loading the
/// set) follows every replace: a new set makes old entries miss, the same keys keep them.
#[test]
fn the_layers_hit_follows_the_key_sets_identity() {
    let token = es256_token(&claims(i64::MAX / 2));
    let verifier = Verifier::new(es256_key(), Validation::new()).unwrap();
    let hit = |verifier: &Verifier| {
        verifier
            .check_hit::<Claims>(token.as_bytes(), None)
            .is_some()
    };
    assert!(!hit(&verifier));
    verifier.verify_shared::<Claims>(&token).unwrap();
    assert!(hit(&verifier));
    // The same key again (a reloaded PEM): the same identity, still a hit.
    verifier.keys().replace(KeySet::new([es256_key()]).unwrap());
    assert!(hit(&verifier));
    // Another set, even one holding the same key beside a new one: a miss.
    verifier
        .keys()
        .replace(KeySet::new([es256_key(), ed25519_key()]).unwrap());
    assert!(!hit(&verifier));
    // Verified again under the new set: a hit again.
    verifier.verify_shared::<Claims>(&token).unwrap();
    assert!(hit(&verifier));
    // Replaced by a shared secret: no hit from the cache of public keys' tokens.
    verifier.keys().replace(KeySet::from(hs256_key(&[9; 32])));
    assert!(!hit(&verifier));
}

#[test]
fn a_rotation_flushes_nothing_and_old_entries_only_miss() {
    let tokens: Vec<String> = (0..10)
        .map(|i| {
            es256_token(
                &serde_json::json!({"sub": "ada", "exp": i64::MAX / 2, "jti": format!("j{i:02}")}),
            )
        })
        .collect();
    let verifier = Verifier::new(es256_key(), Validation::new()).unwrap();
    for token in &tokens {
        verifier.verify_shared::<Claims>(token).unwrap();
    }
    let cached = len(&verifier);
    assert_eq!(cached, tokens.len());
    // A rotation that keeps the old key next to a new one: a new set.
    verifier
        .keys()
        .replace(KeySet::new([es256_key(), ed25519_key()]).unwrap());
    // The first request under the new set empties nothing: it misses, is verified again, and
    // its entry replaces its own old one.
    verifier.verify_shared::<Claims>(&tokens[0]).unwrap();
    assert_eq!(hits(&verifier), 0);
    assert_eq!(len(&verifier), cached);
    // Every old entry is a miss.
    for token in &tokens[1..] {
        verifier.verify_shared::<Claims>(token).unwrap();
    }
    assert_eq!(hits(&verifier), 0);
    // And hits again once verified under the new set.
    for token in &tokens {
        verifier.verify_shared::<Claims>(token).unwrap();
    }
    assert_eq!(hits(&verifier), tokens.len());
}

#[test]
fn expiry_and_not_before_are_checked_again_on_a_hit() {
    let clock = Arc::new(AtomicI64::new(NOW));
    let verifier = cached(&clock);
    let token = es256_token(&serde_json::json!({"exp": NOW + 100, "nbf": NOW - 10}));
    let _: Claims = verifier.verify(&token).unwrap();
    // Past `exp` and the leeway: refused, although the entry is still there and hit.
    clock.store(NOW + 100 + 61, Ordering::Relaxed);
    let err = verifier.verify::<Claims>(&token).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Expired);
    assert_eq!(hits(&verifier), 1);
    // Before `nbf` and the leeway: refused on a hit too.
    clock.store(NOW - 10 - 61, Ordering::Relaxed);
    let err = verifier.verify::<Claims>(&token).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotYetValid);
    assert_eq!(hits(&verifier), 2);
    clock.store(NOW, Ordering::Relaxed);
    let _: Claims = verifier.verify(&token).unwrap();
    assert_eq!(hits(&verifier), 3);
}

#[test]
fn the_revocation_hook_is_asked_on_every_hit() {
    let clock = Arc::new(AtomicI64::new(NOW));
    let verifier = cached(&clock);
    let token = es256_token(&claims(NOW + 600));
    let calls = Arc::new(AtomicUsize::new(0));
    let revoked = Arc::new(AtomicBool::new(false));
    let hook = {
        let (calls, revoked) = (Arc::clone(&calls), Arc::clone(&revoked));
        move |info: &TokenInfo<'_>| {
            assert_eq!(info.jwt_id, Some("j1"));
            calls.fetch_add(1, Ordering::Relaxed);
            RevocationCheck::Ready(Ok(revoked.load(Ordering::Relaxed)))
        }
    };
    for _ in 0..3 {
        assert!(verifier.check::<Claims>(&token, Some(&hook)).is_ok());
    }
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(hits(&verifier), 2);
    revoked.store(true, Ordering::Relaxed);
    let err = verifier.check::<Claims>(&token, Some(&hook)).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Revoked);
    assert_eq!(calls.load(Ordering::Relaxed), 4);
    assert_eq!(hits(&verifier), 3);
}

#[test]
fn a_token_verified_by_a_key_that_left_the_set_never_hits() {
    let clock = Arc::new(AtomicI64::new(NOW));
    let verifier = cached(&clock);
    let token = es256_token(&claims(NOW + 600));
    let _: Claims = verifier.verify(&token).unwrap();
    let _: Claims = verifier.verify(&token).unwrap();
    assert_eq!(hits(&verifier), 1);
    // Rotate to another key: the token no longer verifies, cached or not.
    verifier.keys().replace(KeySet::from(another_es256_key()));
    let err = verifier.verify::<Claims>(&token).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSignature);
    assert_eq!(hits(&verifier), 1);
    assert_eq!(verifier.cache.as_ref().unwrap().len(), 0);
    // Back to the original key, in a new set: verified again once, then hit.
    verifier.keys().replace(KeySet::from(es256_key()));
    let _: Claims = verifier.verify(&token).unwrap();
    assert_eq!(hits(&verifier), 1);
    let _: Claims = verifier.verify(&token).unwrap();
    assert_eq!(hits(&verifier), 2);
}

#[test]
fn only_tokens_that_passed_every_check_are_cached() {
    let clock = Arc::new(AtomicI64::new(NOW));
    let verifier = cached(&clock);
    // Expired: refused, not cached.
    let expired = es256_token(&claims(NOW - 1000));
    for _ in 0..2 {
        assert!(verifier.verify::<Claims>(&expired).is_err());
    }
    // A forged signature: refused each time.
    let token = es256_token(&claims(NOW + 600));
    let (head, sig) = token.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", sig.chars().rev().collect::<String>());
    for _ in 0..2 {
        assert!(verifier.verify::<Claims>(&forged).is_err());
    }
    assert_eq!(hits(&verifier), 0);
    assert_eq!(verifier.cache.as_ref().unwrap().len(), 0);
}

#[test]
fn hmac_tokens_are_cached_too() {
    use base64::Engine as _;
    use hmac::{KeyInit, Mac};
    let secret = [9; 32];
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256"}"#),
        b64(claims(i64::MAX / 2).to_string().as_bytes())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
    mac.update(input.as_bytes());
    let token = format!("{input}.{}", b64(&mac.finalize().into_bytes()));
    let key = DecodingKey::from_secret(Algorithm::HS256, &secret).unwrap();
    let verifier = Verifier::new(key, Validation::new())
        .unwrap()
        .cache_verified_tokens(16);
    for _ in 0..3 {
        let _: Claims = verifier.verify(&token).unwrap();
    }
    assert_eq!(hits(&verifier), 2);
    // A token whose MAC was computed with another secret never enters.
    let (head, _) = token.rsplit_once('.').unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&[8; 32]).unwrap();
    mac.update(head.as_bytes());
    let forged = format!("{head}.{}", b64(&mac.finalize().into_bytes()));
    for _ in 0..2 {
        let err = verifier.verify::<Claims>(&forged).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSignature);
    }
    assert_eq!(hits(&verifier), 2);
    assert_eq!(verifier.cache.as_ref().unwrap().len(), 1);
}

#[test]
fn changing_the_rules_starts_an_empty_cache() {
    let clock = Arc::new(AtomicI64::new(NOW));
    let mut verifier = cached(&clock);
    let token = es256_token(&claims(NOW + 600));
    let _: Claims = verifier.verify(&token).unwrap();
    *verifier.validation_mut() = verifier.validation().clone().require_type("at+jwt");
    // The token has no `typ`: refused, not served from the old entry.
    let err = verifier.verify::<Claims>(&token).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidType);
    assert_eq!(verifier.cache.as_ref().unwrap().capacity(), 16);
    assert_eq!(hits(&verifier), 0);
}

#[test]
fn a_shared_hit_rechecks_the_clock_and_shares_the_claims() {
    let clock = Arc::new(AtomicI64::new(NOW));
    let verifier = cached(&clock);
    let token = es256_token(&serde_json::json!({"sub": "ada", "exp": NOW + 100, "nbf": NOW - 10}));
    let first = verifier.verify_shared::<Claims>(&token).unwrap();
    let second = verifier.verify_shared::<Claims>(&token).unwrap();
    assert_eq!(hits(&verifier), 1);
    assert!(
        Arc::ptr_eq(&first, &second),
        "a hit shares the claims it kept"
    );
    clock.store(NOW + 100 + 61, Ordering::Relaxed);
    let err = verifier.verify_shared::<Claims>(&token).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Expired);
    clock.store(NOW - 10 - 61, Ordering::Relaxed);
    let err = verifier.verify_shared::<Claims>(&token).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotYetValid);
    clock.store(NOW, Ordering::Relaxed);
    assert!(Arc::ptr_eq(
        &verifier.verify_shared::<Claims>(&token).unwrap(),
        &first
    ));
    assert_eq!(hits(&verifier), 4);
}

#[test]
fn a_shared_hit_asks_the_revocation_hook_with_the_kept_claims() {
    let clock = Arc::new(AtomicI64::new(NOW));
    let verifier = cached(&clock);
    let token = es256_token(&serde_json::json!({
        "iss": "https://issuer", "sub": "ada", "jti": "j1", "exp": NOW + 600, "iat": NOW
    }));
    let revoked = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hook = {
        let (revoked, seen) = (Arc::clone(&revoked), Arc::clone(&seen));
        move |info: &TokenInfo<'_>| {
            seen.lock().unwrap().push(format!(
                "{:?} {:?} {:?} {:?} {:?}",
                info.issuer, info.subject, info.jwt_id, info.expires_at, info.issued_at
            ));
            RevocationCheck::Ready(Ok(revoked.load(Ordering::Relaxed)))
        }
    };
    for _ in 0..3 {
        assert!(
            verifier
                .check_shared::<Claims>(token.as_bytes(), Some(&hook))
                .is_ok()
        );
    }
    assert_eq!(hits(&verifier), 2);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    let expected = format!(
        "Some(\"https://issuer\") Some(\"ada\") Some(\"j1\") Some({}) Some({NOW})",
        NOW + 600
    );
    assert!(seen.iter().all(|s| *s == expected), "{seen:?}");
    revoked.store(true, Ordering::Relaxed);
    let err = verifier
        .check_shared::<Claims>(token.as_bytes(), Some(&hook))
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Revoked);
}

#[test]
fn a_shared_hit_keeps_the_scope_verdict() {
    let clock = Arc::new(AtomicI64::new(NOW));
    let clock2 = Arc::clone(&clock);
    let validation = Validation::new()
        .clock(move || clock2.load(Ordering::Relaxed))
        .require_scopes(["admin"]);
    let verifier = Verifier::new(es256_key(), validation)
        .unwrap()
        .cache_verified_tokens(16);
    let token = es256_token(&serde_json::json!({"exp": NOW + 600, "scope": "read"}));
    for _ in 0..3 {
        let err = verifier.verify_shared::<Claims>(&token).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InsufficientScope);
    }
    assert_eq!(hits(&verifier), 2);
    let granted = es256_token(&serde_json::json!({"exp": NOW + 600, "scope": "read admin"}));
    for _ in 0..2 {
        verifier.verify_shared::<Claims>(&granted).unwrap();
    }
    assert_eq!(hits(&verifier), 3);
}

#[test]
fn shared_and_owned_checks_and_claims_types_mix() {
    #[derive(serde::Deserialize)]
    struct Sub {
        sub: String,
    }
    let clock = Arc::new(AtomicI64::new(NOW));
    let verifier = cached(&clock);
    let token = es256_token(&claims(NOW + 600));
    // Cached by an owned check: no verdict yet; the first shared hit records one.
    let _: Claims = verifier.verify(&token).unwrap();
    let first = verifier.verify_shared::<Claims>(&token).unwrap();
    let second = verifier.verify_shared::<Claims>(&token).unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    // Another claims type: deserialized from the payload, every rule run again.
    assert_eq!(verifier.verify_shared::<Sub>(&token).unwrap().sub, "ada");
    assert_eq!(verifier.verify::<Sub>(&token).unwrap().sub, "ada");
    clock.store(NOW + 600 + 61, Ordering::Relaxed);
    for err in [
        verifier.verify_shared::<Sub>(&token).err(),
        verifier.verify_shared::<Claims>(&token).err(),
    ] {
        assert_eq!(err.unwrap().kind(), ErrorKind::Expired);
    }
    // Every check after the first found the entry: nothing was verified a second time.
    assert_eq!(hits(&verifier), 6);
}

#[test]
fn a_shared_hit_never_outlives_its_key() {
    let clock = Arc::new(AtomicI64::new(NOW));
    let verifier = cached(&clock);
    let token = es256_token(&claims(NOW + 600));
    verifier.verify_shared::<Claims>(&token).unwrap();
    verifier.verify_shared::<Claims>(&token).unwrap();
    assert_eq!(hits(&verifier), 1);
    verifier.keys().replace(KeySet::from(another_es256_key()));
    let err = verifier.verify_shared::<Claims>(&token).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSignature);
    assert_eq!(verifier.cache.as_ref().unwrap().len(), 0);
}

/// The layer hands the verifier the token's bytes with no UTF-8 check: each part is decoded as
/// strict base64url, which refuses every byte outside its ASCII alphabet, so bytes that are not
/// UTF-8 are refused wherever they stand, with or without the cache, and never get into it.
#[test]
fn bytes_that_are_not_utf8_are_refused_in_every_part() {
    const SECRET: &[u8] = b"a secret of at least thirty-two bytes!";
    let clock = Arc::new(AtomicI64::new(NOW));
    let token = hs256_token(SECRET, &claims(NOW + 60));
    let dots: Vec<usize> = token.match_indices('.').map(|(i, _)| i).collect();
    for cache in [0, 16] {
        let now = Arc::clone(&clock);
        let validation = Validation::new().clock(move || now.load(Ordering::Relaxed));
        let verifier = Verifier::new(hs256_key(SECRET), validation)
            .unwrap()
            .cache_verified_tokens(cache);
        // Before the token verified and after (the cache then holds it): the header, the
        // payload (the signature then no longer matches), the signature.
        for round in 0..2 {
            if round == 1 {
                assert!(
                    verifier
                        .check_shared::<Claims>(token.as_bytes(), None)
                        .is_ok()
                );
            }
            for (at, expected) in [
                (1, ErrorKind::MalformedToken),
                (dots[0] + 2, ErrorKind::InvalidSignature),
                (dots[1] + 2, ErrorKind::MalformedToken),
            ] {
                for byte in [0x80, 0xc3, 0xff] {
                    let mut bytes = token.clone().into_bytes();
                    bytes[at] = byte;
                    assert!(std::str::from_utf8(&bytes).is_err());
                    let error = verifier
                        .check_shared::<Claims>(&bytes, None)
                        .err()
                        .unwrap_or_else(|| panic!("byte {byte:#x} at {at} accepted"));
                    assert_eq!(
                        error.kind(),
                        expected,
                        "byte {byte:#x} at {at}, cache {cache}"
                    );
                }
            }
        }
    }
}

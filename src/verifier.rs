//! The verifying core: token in, typed claims out. No framework types here.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::algorithm::AlgorithmSet;
use crate::cache::TokenCache;
use crate::claims::grants_all;
use crate::error::{AuthError, ConfigError, ErrorKind};
use crate::json::{self, AudienceMatch, RegisteredClaims};
use crate::jws;
use crate::keys::KeyStore;
use crate::revocation::{BoxError, Revocation, RevocationCheck, TokenInfo};
use crate::validation::Validation;

/// Verifies compact JWTs against a key store and a [`Validation`].
///
/// Cheap to clone (an `Arc`). [`JwtAuthLayer`](crate::JwtAuthLayer) uses one; it is public so
/// the same rules can be applied outside a tower stack (a WebSocket handshake, a job queue).
#[derive(Clone)]
pub struct Verifier {
    keys: KeyStore,
    validation: Arc<Validation>,
    /// Shared by clones, like the key store: a token verified through one is known to all.
    cache: Option<Arc<TokenCache>>,
}

pub(crate) type PendingRevocation = Pin<Box<dyn Future<Output = Result<bool, BoxError>> + Send>>;

/// A verified token, before the revocation hook's answer (if it is not ready at once).
pub(crate) struct Checked<C> {
    pub(crate) claims: C,
    pub(crate) scope_error: Option<AuthError>,
    pub(crate) pending: Option<PendingRevocation>,
}

impl Verifier {
    /// A verifier of tokens signed by `keys`, under `validation`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoKeys`] when the validation's algorithm allow-list excludes every key.
    pub fn new(keys: impl Into<KeyStore>, validation: Validation) -> Result<Self, ConfigError> {
        let keys = keys.into();
        if let Some(allowed) = validation.algorithms
            && keys.with_current(|set| set.algorithms().intersection(allowed).is_empty())
        {
            return Err(ConfigError::NoKeys);
        }
        Ok(Self {
            keys,
            validation: Arc::new(validation),
            cache: None,
        })
    }

    pub(crate) fn from_parts(keys: KeyStore, validation: Validation) -> Self {
        Self {
            keys,
            validation: Arc::new(validation),
            cache: None,
        }
    }

    /// Remembers up to `capacity` tokens whose signature verified, so that the same token,
    /// presented again, skips the signature check (off by default; `0` turns it off).
    ///
    /// Meant above all for asymmetric keys (RS\*, PS\*, ES\*, EdDSA), whose signature check
    /// costs tens to hundreds of microseconds while a client typically sends the same access
    /// token on every request of its lifetime: a hit brings an ES256 token (about 150 µs with
    /// the pure-Rust backend) below the cost of verifying an HS256 one (about 1 µs). It pays
    /// for shared secrets too, less: a hit on an HS256 token costs about a third less than
    /// verifying it, while a token seen only once pays for a lookup and an insertion. Measure
    /// with your traffic (`cargo bench --bench verify` shows both) before turning it on there.
    ///
    /// # What a hit skips, and what it never skips
    ///
    /// A hit skips decoding and parsing the header, choosing the key and checking the
    /// signature: what depends only on the token's bytes, the key set and these rules. Nothing
    /// else. The payload is decoded and every claims rule runs again on each request (`exp` and
    /// `nbf` against the clock, `iss`, `aud`, required claims and scopes), the revocation hook
    /// is called again, and the claims type is deserialized anew from the payload. A cached
    /// token that has since expired or been revoked is refused like any other.
    ///
    /// # Why it is safe
    ///
    /// - An entry is the whole token, compared byte for byte with the one presented, in
    ///   constant time for their length (so timing does not tell how much of a guess matches a
    ///   cached token), and found through a hash keyed at random (so slots cannot be aimed at).
    ///   Only tokens whose signature verified and whose claims passed are inserted: a forged
    ///   token can neither enter nor evict one. What timing can tell is whether a token the
    ///   client already holds was seen recently.
    /// - An entry records which key set verified it, and hits only while that set is the
    ///   current one. After [`KeyStore::replace`] (key rotation, a JWKS refresh) no entry
    ///   verified under the old set hits, whatever key it used: each token is verified once
    ///   more, against the new set, and the first request that uses the new set empties the
    ///   cache. A token whose key left the set is refused as if it had never been cached.
    /// - Changing the validation rules (through [`JwtAuthLayer`](crate::JwtAuthLayer)'s
    ///   builders) starts from an empty cache.
    /// - It takes no lock: slots are swapped atomically, and nothing waits on I/O.
    ///
    /// # What it costs
    ///
    /// Memory: at most `capacity` tokens of at most 8 KiB each (longer tokens are not cached),
    /// plus about 80 bytes per entry; with 300-byte tokens, 10 000 entries take about 4 MB.
    /// Time: a lookup (a keyed hash of the token's last 64 bytes and a comparison) on every
    /// request, and two allocations when a token is inserted. Eviction is bounded: a token may
    /// live in one of two slots, and a new token replaces an entry not hit since the last
    /// eviction there (second chance). Clones of this verifier share the cache.
    #[must_use]
    pub fn cache_verified_tokens(mut self, capacity: usize) -> Self {
        self.set_cache(capacity);
        self
    }

    pub(crate) fn set_cache(&mut self, capacity: usize) {
        self.cache = (capacity > 0).then(|| Arc::new(TokenCache::new(capacity)));
    }

    /// The key store, to rotate keys while serving.
    #[must_use]
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// The validation rules.
    #[must_use]
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    pub(crate) fn validation_mut(&mut self) -> &mut Validation {
        // Entries were verified under the old rules (`typ`, the allow-list): start afresh.
        if let Some(capacity) = self.cache.as_ref().map(|cache| cache.capacity()) {
            self.set_cache(capacity);
        }
        Arc::make_mut(&mut self.validation)
    }

    /// Verifies `token` and returns its claims. Runs every rule but the revocation hook.
    ///
    /// # Errors
    ///
    /// An [`AuthError`] whose [`kind`](AuthError::kind) says which rule failed.
    pub fn verify<C: DeserializeOwned>(&self, token: &str) -> Result<C, AuthError> {
        let checked = self.check::<C>(token, None)?;
        match checked.scope_error {
            Some(err) => Err(err),
            None => Ok(checked.claims),
        }
    }

    /// Verifies the signature of a compact JWS and returns its payload, without reading it as
    /// JWT claims: the allow-list, key choice, `crit` and `typ` rules apply, the claims rules do
    /// not. For JWS payloads that are not claims sets.
    ///
    /// # Errors
    ///
    /// As [`Verifier::verify`], for the rules that apply.
    pub fn verify_jws(&self, token: &str) -> Result<Vec<u8>, AuthError> {
        self.keys.with_current(|keys| {
            jws::verify(token, keys, self.allowed(keys), |verified, payload| {
                if !self.validation.type_matches(verified.header.typ.as_deref()) {
                    return Err(AuthError::new(ErrorKind::InvalidType));
                }
                Ok(payload.to_vec())
            })
        })
    }

    fn allowed(&self, keys: &crate::keys::KeySet) -> AlgorithmSet {
        let of_keys = keys.algorithms();
        self.validation
            .algorithms
            .map_or(of_keys, |allowed| allowed.intersection(of_keys))
    }

    pub(crate) fn check<C: DeserializeOwned>(
        &self,
        token: &str,
        revocation: Option<&dyn Revocation>,
    ) -> Result<Checked<C>, AuthError> {
        // What the checks produce is written here rather than returned through every layer
        // below: a claims type is a few hundred bytes, which each layer would copy. The layers
        // return a bare `ErrorKind`, small enough to travel in registers.
        let mut out = Outcome {
            claims: None,
            scope_error: None,
            pending: None,
        };
        self.keys.with_current(|keys| {
            if let Some(cache) = &self.cache
                && cache.contains(token, keys.id())
            {
                // Verified before under this key set and these rules: only the claims again.
                let compact = jws::Compact::split(token)?;
                return jws::with_payload(compact.payload, |payload| {
                    self.check_claims(payload, revocation, &mut out)
                });
            }
            jws::verify(token, keys, self.allowed(keys), |verified, payload| {
                if !self.validation.type_matches(verified.header.typ.as_deref()) {
                    return Err(ErrorKind::InvalidType);
                }
                self.check_claims(payload, revocation, &mut out)?;
                if let Some(cache) = &self.cache {
                    cache.insert(token, keys.id());
                }
                Ok(())
            })
        })?;
        Ok(Checked {
            claims: out.claims.ok_or(ErrorKind::InvalidClaims)?,
            scope_error: out.scope_error,
            pending: out.pending,
        })
    }

    /// Every claims rule, then the revocation hook, on a verified payload.
    fn check_claims<C: DeserializeOwned>(
        &self,
        payload: &[u8],
        revocation: Option<&dyn Revocation>,
        out: &mut Outcome<C>,
    ) -> Result<(), ErrorKind> {
        let v = &*self.validation;
        let mut registered = RegisteredClaims::empty();
        match json::read_claims::<C>(payload, &v.audiences, &mut registered) {
            Some(claims) => {
                validate(v, &registered)?;
                out.claims = Some(claims);
            }
            // The one pass failed: read again in two, which names the reason precisely and in
            // the documented order (registered claims, then the rules, then the claims type).
            None => {
                registered = RegisteredClaims::parse(payload, &v.audiences)?;
                validate(v, &registered)?;
                out.claims =
                    Some(serde_json::from_slice(payload).map_err(|_| ErrorKind::InvalidClaims)?);
            }
        }
        if !v.scopes.is_empty() && !grants_all(registered.scope.as_deref().unwrap_or(""), &v.scopes)
        {
            out.scope_error = Some(AuthError::insufficient_scope(v.scopes.join(" ").into()));
        }
        if let Some(hook) = revocation {
            let info = TokenInfo {
                issuer: registered.iss.as_deref(),
                subject: registered.sub.as_deref(),
                jwt_id: registered.jti.as_deref(),
                expires_at: registered.exp,
                issued_at: registered.iat,
            };
            match hook.check(&info) {
                RevocationCheck::Ready(answer) => revocation_kind(answer)?,
                RevocationCheck::Pending(fut) => out.pending = Some(fut),
            }
        }
        Ok(())
    }
}

/// What [`Verifier::check`] gathers on its way down.
struct Outcome<C> {
    claims: Option<C>,
    scope_error: Option<AuthError>,
    pending: Option<PendingRevocation>,
}

/// Turns the hook's answer into the reason for a rejection, if any.
fn revocation_kind(answer: Result<bool, BoxError>) -> Result<(), ErrorKind> {
    match answer {
        Ok(false) => Ok(()),
        Ok(true) => Err(ErrorKind::Revoked),
        Err(err) => {
            tracing::warn!(error = %err, "revocation check failed; refusing the request");
            Err(ErrorKind::RevocationUnavailable)
        }
    }
}

/// Turns the hook's answer into a rejection, if any.
pub(crate) fn revocation_outcome(answer: Result<bool, BoxError>) -> Result<(), AuthError> {
    revocation_kind(answer).map_err(AuthError::from)
}

fn validate(v: &Validation, claims: &RegisteredClaims<'_>) -> Result<(), ErrorKind> {
    let now = v.now();
    match claims.exp {
        Some(exp) if now >= exp.saturating_add(v.leeway) => return Err(ErrorKind::Expired),
        None if v.require_exp => return Err(ErrorKind::MissingClaim("exp")),
        _ => {}
    }
    if let Some(nbf) = claims.nbf
        && now.saturating_add(v.leeway) < nbf
    {
        return Err(ErrorKind::NotYetValid);
    }
    if !v.issuers.is_empty() {
        let iss = claims
            .iss
            .as_deref()
            .ok_or(ErrorKind::MissingClaim("iss"))?;
        if !v.issuers.iter().any(|ours| **ours == *iss) {
            return Err(ErrorKind::InvalidIssuer);
        }
    }
    match (v.audiences.is_empty(), claims.aud) {
        (false, AudienceMatch::Absent) => return Err(ErrorKind::MissingClaim("aud")),
        // Unmatched, or present while we configured none (RFC 7519 §4.1.3).
        (_, AudienceMatch::Unmatched) | (true, AudienceMatch::Matched) => {
            return Err(ErrorKind::InvalidAudience);
        }
        _ => {}
    }
    if v.require_sub && claims.sub.is_none() {
        return Err(ErrorKind::MissingClaim("sub"));
    }
    if v.require_jti && claims.jti.is_none() {
        return Err(ErrorKind::MissingClaim("jti"));
    }
    if v.require_iat && claims.iat.is_none() {
        return Err(ErrorKind::MissingClaim("iat"));
    }
    Ok(())
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys)
            .field("validation", &self.validation)
            .field("cache", &self.cache)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

    use super::*;
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

    fn es256_token(claims: &serde_json::Value) -> String {
        let key = jsonwebtoken::EncodingKey::from_ec_pem(fixture("es256.pem").as_bytes()).unwrap();
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        jsonwebtoken::encode(&header, claims, &key).unwrap()
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

    #[test]
    fn the_cache_is_off_by_default_and_with_zero_capacity() {
        let token = es256_token(&claims(i64::MAX / 2));
        let plain = Verifier::new(es256_key(), Validation::new()).unwrap();
        assert!(plain.cache.is_none());
        let zero = plain.clone().cache_verified_tokens(0);
        assert!(zero.cache.is_none());
        for _ in 0..2 {
            let _: Claims = zero.verify(&token).unwrap();
        }
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
        let other = DecodingKey::from_ec_point(
            Algorithm::ES256,
            p256::SecretKey::from_slice(&[7; 32])
                .unwrap()
                .public_key()
                .to_sec1_bytes()
                .as_ref(),
        )
        .unwrap();
        verifier.keys().replace(KeySet::from(other));
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
}

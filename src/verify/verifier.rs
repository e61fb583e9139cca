//! The verifying core: token in, typed claims out. No framework types here.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::verify::algorithm::AlgorithmSet;
use crate::verify::cache::{Entry, Facts, TokenCache, Verdict};
use crate::verify::claims::grants_all;
use crate::verify::error::{AuthError, ConfigError, ErrorKind};
use crate::verify::json::{self, AudienceMatch, RegisteredClaims};
use crate::verify::jws;
use crate::verify::keys::KeyStore;
use crate::verify::revocation::{BoxError, Revocation, RevocationCheck, TokenInfo};
use crate::verify::validation::Validation;

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

    /// Remembers up to `capacity` tokens that passed every check, so that the same token,
    /// presented again, is not verified again (off by default; `0` turns it off).
    ///
    /// Meant above all for asymmetric keys (RS\*, PS\*, ES\*, EdDSA), whose signature check
    /// costs tens to hundreds of microseconds while a client typically sends the same access
    /// token on every request of its lifetime: a hit costs well under a microsecond whatever
    /// the algorithm. It pays for shared secrets too: a hit through
    /// [`JwtAuthLayer`](crate::JwtAuthLayer) costs about half of verifying an HS256 token, while
    /// a token seen only once pays for a lookup and an insertion. `cargo bench --bench verify`
    /// shows both.
    ///
    /// # What a hit skips, and what it never skips
    ///
    /// On a hit, [`verify_shared`](Self::verify_shared) and the layer skip what depends only on
    /// the token's bytes, the key set and these rules: decoding, parsing, choosing the key, the
    /// signature, and the rules on `iss`, `aud`, `typ`, required claims and scopes (their
    /// outcome is kept with the entry, and a token refused for its scopes is refused again).
    /// The claims are deserialized once and shared (`Arc<C>`) by every request the token comes
    /// with. What can change while a token is cached is checked on every request: `exp` and
    /// `nbf` against the clock, and the revocation hook, which is asked about the token again
    /// (with its `iss`, `sub`, `jti`, `exp` and `iat`, kept with the entry). A cached token
    /// that has since expired or been revoked is refused like any other.
    ///
    /// [`verify`](Self::verify), which returns owned claims, skips only the signature check on a
    /// hit and runs every claims rule again on a fresh copy.
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
    ///   builders) starts from an empty cache, so a kept outcome is always the current rules'.
    /// - The claims handed out on a hit are the ones deserialized from this very token, shared
    ///   read-only; a check for another claims type deserializes its own.
    /// - It takes no lock: slots are swapped atomically, and nothing waits on I/O.
    ///
    /// # What it costs
    ///
    /// Memory: at most `capacity` entries, each a token of at most 8 KiB (longer tokens are not
    /// cached), its deserialized claims and about 150 bytes of bookkeeping; with 400-byte
    /// tokens and [`Claims`](crate::Claims), 10 000 entries take about 10 MB.
    /// Time: a lookup (a keyed hash of the token's last 64 bytes and a comparison) on every
    /// request, and six allocations when a token is inserted. Eviction is bounded: a token may
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

    fn allowed(&self, keys: &crate::verify::keys::KeySet) -> AlgorithmSet {
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
        let mut out = Outcome::new();
        self.keys.with_current(|keys| {
            if let Some(cache) = &self.cache
                && cache.lookup(token.as_bytes(), keys.id()).is_some()
            {
                // Verified before under this key set and these rules: only the claims again.
                let compact = jws::Compact::split(token)?;
                return jws::with_payload(compact.payload, |payload| {
                    self.check_claims(payload, revocation, &mut out, false)
                        .map(drop)
                });
            }
            jws::verify(token, keys, self.allowed(keys), |verified, payload| {
                if !self.validation.type_matches(verified.header.typ.as_deref()) {
                    return Err(ErrorKind::InvalidType);
                }
                self.check_claims(payload, revocation, &mut out, false)?;
                if let Some(cache) = &self.cache {
                    cache.insert(token.as_bytes(), keys.id(), None);
                }
                Ok(())
            })
        })?;
        let claims = out.claims.take().ok_or(ErrorKind::InvalidClaims)?;
        Ok(out.checked(claims))
    }

    /// Verifies `token` and returns its claims behind an `Arc`, shared with the
    /// [verified-token cache](Self::cache_verified_tokens) when it is on. Runs every rule but
    /// the revocation hook.
    ///
    /// With the cache on, this is the cheapest way to verify a repeated token: a hit re-checks
    /// `exp` and `nbf` against the clock and hands out the claims deserialized when the token
    /// was first verified, without decoding or parsing anything (see
    /// [`cache_verified_tokens`](Self::cache_verified_tokens)). It is what
    /// [`JwtAuthLayer`](crate::JwtAuthLayer) uses.
    ///
    /// # Errors
    ///
    /// As [`Verifier::verify`].
    pub fn verify_shared<C>(&self, token: &str) -> Result<Arc<C>, AuthError>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let checked = self.check_shared::<C>(token.as_bytes(), None)?;
        match checked.scope_error {
            Some(err) => Err(err),
            None => Ok(checked.claims),
        }
    }

    /// [`Verifier::check`], with the claims behind an `Arc` that a cache entry shares.
    ///
    /// The token comes as bytes (ASCII, from the b64token grammar): a hit compares bytes only,
    /// and the UTF-8 check is made on a miss.
    pub(crate) fn check_shared<C>(
        &self,
        token: &[u8],
        revocation: Option<&dyn Revocation>,
    ) -> Result<Checked<Arc<C>>, AuthError>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let text = || std::str::from_utf8(token).map_err(|_| ErrorKind::MalformedToken);
        let Some(cache) = &self.cache else {
            let checked = self.check::<C>(text()?, revocation)?;
            return Ok(Checked {
                claims: Arc::new(checked.claims),
                scope_error: checked.scope_error,
                pending: checked.pending,
            });
        };
        let mut out = Outcome::new();
        let claims = self.keys.with_current(|keys| {
            let key_set = keys.id();
            if let Some(hit) = cache.lookup(token, key_set) {
                if let Some(answer) = self.answer_hit(&hit, revocation, &mut out) {
                    return answer;
                }
                // Cached by a check that kept no verdict, or for another claims type.
                let compact = jws::Compact::split(text()?)?;
                return jws::with_payload(compact.payload, |payload| {
                    let facts = self.check_claims(payload, revocation, &mut out, true)?;
                    let claims = Arc::new(out.claims.take().ok_or(ErrorKind::InvalidClaims)?);
                    if hit.verdict().is_none()
                        && let Some(facts) = facts
                    {
                        hit.record(Verdict {
                            claims: Arc::clone(&claims) as _,
                            facts,
                        });
                    }
                    Ok(claims)
                });
            }
            jws::verify(text()?, keys, self.allowed(keys), |verified, payload| {
                if !self.validation.type_matches(verified.header.typ.as_deref()) {
                    return Err(ErrorKind::InvalidType);
                }
                let facts = self.check_claims(payload, revocation, &mut out, true)?;
                let claims = Arc::new(out.claims.take().ok_or(ErrorKind::InvalidClaims)?);
                let verdict = facts.map(|facts| Verdict {
                    claims: Arc::clone(&claims) as _,
                    facts,
                });
                cache.insert(token, key_set, verdict);
                Ok(claims)
            })
        })?;
        Ok(out.checked(claims))
    }

    /// The answer for `token` if the cache holds it with a verdict and claims of type `C`: only
    /// the clock, the recorded scope outcome and the revocation hook are checked. `None` when
    /// the cache is off or does not know the token so (the caller then checks it in full, with
    /// [`check_shared`](Self::check_shared), which looks it up once more).
    pub(crate) fn check_hit<C>(
        &self,
        token: &[u8],
        revocation: Option<&dyn Revocation>,
    ) -> Option<Result<Checked<Arc<C>>, AuthError>>
    where
        C: Send + Sync + 'static,
    {
        let cache = self.cache.as_ref()?;
        let mut out = Outcome::new();
        let answer = self.keys.with_current(|keys| {
            let hit = cache.lookup(token, keys.id())?;
            self.answer_hit(&hit, revocation, &mut out)
        })?;
        Some(
            answer
                .map(|claims| out.checked(claims))
                .map_err(AuthError::from),
        )
    }

    /// Whether the verified-token cache is on.
    pub(crate) fn caches(&self) -> bool {
        self.cache.is_some()
    }

    /// A cache entry's answer, if it kept a verdict with claims of type `C`: the clock, the
    /// recorded scope outcome and the revocation hook, nothing else.
    fn answer_hit<C>(
        &self,
        entry: &Entry,
        revocation: Option<&dyn Revocation>,
        out: &mut Outcome<C>,
    ) -> Option<Result<Arc<C>, ErrorKind>>
    where
        C: Send + Sync + 'static,
    {
        let verdict = entry.verdict()?;
        let claims = Arc::clone(&verdict.claims).downcast::<C>().ok()?;
        let facts = &verdict.facts;
        Some(
            validate_time(&self.validation, facts.exp, facts.nbf)
                .and_then(|()| self.conclude(facts.scope_ok, &facts.info(), revocation, out))
                .map(|()| claims),
        )
    }

    /// Every claims rule, then the revocation hook, on a verified payload. With `keep`, also
    /// returns the facts a cache entry keeps about them.
    fn check_claims<C: DeserializeOwned>(
        &self,
        payload: &[u8],
        revocation: Option<&dyn Revocation>,
        out: &mut Outcome<C>,
        keep: bool,
    ) -> Result<Option<Facts>, ErrorKind> {
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
        let scope_ok =
            v.scopes.is_empty() || grants_all(registered.scope.as_deref().unwrap_or(""), &v.scopes);
        let info = TokenInfo {
            issuer: registered.iss.as_deref(),
            subject: registered.sub.as_deref(),
            jwt_id: registered.jti.as_deref(),
            expires_at: registered.exp,
            issued_at: registered.iat,
        };
        self.conclude(scope_ok, &info, revocation, out)?;
        Ok(keep.then(|| Facts {
            exp: info.expires_at,
            nbf: registered.nbf,
            iat: info.issued_at,
            iss: info.issuer.map(Box::from),
            sub: info.subject.map(Box::from),
            jti: info.jwt_id.map(Box::from),
            scope_ok,
        }))
    }

    /// How every check ends, a full one or a cache hit: the scope outcome, then the revocation
    /// hook (whose pending answer, if any, is left in `out`).
    fn conclude<C>(
        &self,
        scope_ok: bool,
        info: &TokenInfo<'_>,
        revocation: Option<&dyn Revocation>,
        out: &mut Outcome<C>,
    ) -> Result<(), ErrorKind> {
        if !scope_ok {
            let required = self.validation.scopes.join(" ");
            out.scope_error = Some(AuthError::insufficient_scope(required.into()));
        }
        match revocation.map(|hook| hook.check(info)) {
            None => Ok(()),
            Some(RevocationCheck::Ready(answer)) => revocation_kind(answer),
            Some(RevocationCheck::Pending(fut)) => {
                out.pending = Some(fut);
                Ok(())
            }
        }
    }
}

/// What [`Verifier::check`] gathers on its way down.
struct Outcome<C> {
    claims: Option<C>,
    scope_error: Option<AuthError>,
    pending: Option<PendingRevocation>,
}

impl<C> Outcome<C> {
    fn new() -> Self {
        Self {
            claims: None,
            scope_error: None,
            pending: None,
        }
    }

    /// The outcome, with `claims` as the claims handed out.
    fn checked<T>(self, claims: T) -> Checked<T> {
        Checked {
            claims,
            scope_error: self.scope_error,
            pending: self.pending,
        }
    }
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

/// The rules that depend on the clock: `exp` (required unless configured otherwise) and `nbf`.
fn validate_time(v: &Validation, exp: Option<i64>, nbf: Option<i64>) -> Result<(), ErrorKind> {
    let now = v.now();
    match exp {
        Some(exp) if now >= exp.saturating_add(v.leeway) => return Err(ErrorKind::Expired),
        None if v.require_exp => return Err(ErrorKind::MissingClaim("exp")),
        _ => {}
    }
    if let Some(nbf) = nbf
        && now.saturating_add(v.leeway) < nbf
    {
        return Err(ErrorKind::NotYetValid);
    }
    Ok(())
}

fn validate(v: &Validation, claims: &RegisteredClaims<'_>) -> Result<(), ErrorKind> {
    validate_time(v, claims.exp, claims.nbf)?;
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
        let token =
            es256_token(&serde_json::json!({"sub": "ada", "exp": NOW + 100, "nbf": NOW - 10}));
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
            .require_scopes("admin");
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
}

//! [`Verifier`]: the order of the checks, token in, typed claims out.
//!
//! `mod.rs` holds the public API and the full check (key, signature, `typ`); `rules.rs` the
//! claims rules and the revocation hook; `cached.rs` the paths through the verified-token cache.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::verify::algorithm::AlgorithmSet;
use crate::verify::cache::{self, TokenCache};
use crate::verify::error::{AuthError, ConfigError, ErrorKind};
use crate::verify::jws;
use crate::verify::keys::{KeySet, KeyStore};
use crate::verify::revocation::{BoxError, Revocation};
use crate::verify::validation::Validation;

mod cached;
mod rules;
#[cfg(test)]
mod tests;

pub(crate) use rules::revocation_outcome;

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
    /// The cache serves shared-secret key sets too (asked for by `cache_verified_tokens`);
    /// by default it serves public-key sets only.
    cache_all: bool,
}

pub(crate) type PendingRevocation = Pin<Box<dyn Future<Output = Result<bool, BoxError>> + Send>>;

/// A verified token, before the revocation hook's answer (if it is not ready at once).
pub(crate) struct Checked<C> {
    pub(crate) claims: C,
    pub(crate) scope_error: Option<AuthError>,
    pub(crate) pending: Option<PendingRevocation>,
    /// Whether the verified-token cache knew the token (set by the cached paths).
    pub(crate) cache_hit: bool,
}

impl Verifier {
    /// A verifier of tokens signed by `keys`, under `validation`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoKeys`] when the validation's algorithm allow-list excludes every key.
    pub fn new(keys: impl Into<KeyStore>, validation: Validation) -> Result<Self, ConfigError> {
        let verifier = Self::from_parts(keys.into(), validation);
        verifier.check_usable()?;
        Ok(verifier)
    }

    /// [`ConfigError::NoKeys`] when the allow-list excludes every key of the current set.
    pub(crate) fn check_usable(&self) -> Result<(), ConfigError> {
        match self.validation.algorithms {
            Some(allowed)
                if self
                    .keys
                    .with_current(|set| set.algorithms().intersection(allowed).is_empty()) =>
            {
                Err(ConfigError::NoKeys)
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn from_parts(keys: KeyStore, validation: Validation) -> Self {
        Self {
            keys,
            validation: Arc::new(validation),
            cache: Some(Arc::new(TokenCache::new(
                cache::DEFAULT_ENTRIES,
                cache::DEFAULT_BYTES,
            ))),
            cache_all: false,
        }
    }

    /// Remembers up to `capacity` tokens that passed every check, so that the same token,
    /// presented again, is not verified again. `0` turns the cache off.
    ///
    /// # The default
    ///
    /// On for key sets of public keys (RS\*, PS\*, ES\*, EdDSA), with room for 4096 tokens
    /// within a 6 MiB budget (see [`cache_byte_budget`](Self::cache_byte_budget)); off for
    /// shared secrets (HS\*), unless this method is called, which turns it on for every key
    /// set.
    ///
    /// Why: a signature check with a public key costs tens to hundreds of microseconds (ES256
    /// about 100 µs, RS256 about 30 µs on a 2020s server core), while a client typically sends
    /// the same access token on every request of its lifetime and a hit costs well under a
    /// microsecond, whatever the algorithm. With a shared secret the whole check costs a
    /// couple of microseconds, so a hit saves less (about 2 µs through
    /// [`JwtAuthLayer`](crate::JwtAuthLayer)) and a token seen once pays for a lookup and an
    /// insertion; call this method to have it when tokens repeat (`cargo bench --bench
    /// verify` shows both).
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
    ///   current one. After [`KeyStore::replace`] with other keys (a rotation, a JWKS that
    ///   changed) no entry verified under the old set hits, whatever key it used: each token
    ///   is verified once more, against the new set. Nothing is flushed on the request path:
    ///   old entries are misses, evicted before any other. A token whose key left the set is
    ///   refused as if it had never been cached. A replace with the same keys (a reloaded
    ///   PEM, a refetched JWKS) keeps every entry.
    /// - Changing the validation rules (through [`JwtAuthLayer`](crate::JwtAuthLayer)'s
    ///   builders) starts from an empty cache, so a kept outcome is always the current rules'.
    /// - The claims handed out on a hit are the ones deserialized from this very token, shared
    ///   read-only; a check for another claims type deserializes its own.
    /// - It takes no lock: slots are swapped atomically, and nothing waits on I/O.
    ///
    /// # What it costs
    ///
    /// Memory: the slots (8 bytes each, allocated when the first token is cached), and at most
    /// `capacity` entries
    /// within the [byte budget](Self::cache_byte_budget). An entry holds a token of at most
    /// 8 KiB (longer tokens are not cached), its deserialized claims and some bookkeeping.
    /// Measured with [`Claims`](crate::Claims) (bytes asked of the allocator,
    /// `tests/cache_memory.rs`): 967 bytes for a 355-byte token, 1 340 for a 568-byte one,
    /// 2 040 for a 968-byte one; so the default 4096 entries of typical 300–500-byte tokens
    /// take 4 to 5 MiB, and the 6 MiB budget is what holds longer tokens in check.
    /// Time: a lookup (a keyed hash of the token's length and last 16 bytes, and a comparison)
    /// on every request, and six allocations when a token is inserted. Eviction is bounded: a
    /// token may live in one of two slots, and a new token replaces an entry of an older key
    /// set, else one not hit since the last eviction there (second chance). Clones of this
    /// verifier share the cache.
    #[must_use]
    pub fn cache_verified_tokens(mut self, capacity: usize) -> Self {
        self.set_cache(capacity);
        self
    }

    /// Bounds what the [verified-token cache](Self::cache_verified_tokens) holds, in bytes
    /// (default 6 MiB); `0` turns the cache off. Keeps the cache's capacity in entries and
    /// which key sets it serves.
    ///
    /// Each entry is charged twice its token's length plus 512 bytes, which covers what it
    /// holds with [`Claims`](crate::Claims) (`tests/cache_memory.rs` checks it); a claims type
    /// that keeps much more than its token's payload takes more than it is charged. An
    /// insertion that would go over the budget replaces a neighbouring entry or is skipped, so
    /// long tokens use fewer of the slots. Concurrent insertions may go over it by at most
    /// one entry each, for as long as they run.
    #[must_use]
    pub fn cache_byte_budget(mut self, max_bytes: usize) -> Self {
        self.set_cache_bytes(max_bytes);
        self
    }

    pub(crate) fn set_cache(&mut self, capacity: usize) {
        let max_bytes = self
            .cache
            .as_ref()
            .map_or(cache::DEFAULT_BYTES, |cache| cache.max_bytes());
        self.cache =
            (capacity > 0 && max_bytes > 0).then(|| Arc::new(TokenCache::new(capacity, max_bytes)));
        self.cache_all = true;
    }

    pub(crate) fn set_cache_bytes(&mut self, max_bytes: usize) {
        self.cache = self.cache.as_ref().and_then(|cache| {
            (max_bytes > 0).then(|| Arc::new(TokenCache::new(cache.capacity(), max_bytes)))
        });
    }

    /// The cache to use with `keys`, if any.
    fn cache_for(&self, keys: &KeySet) -> Option<&TokenCache> {
        self.cache
            .as_deref()
            .filter(|_| self.cache_all || !keys.is_symmetric())
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
        if let Some(cache) = &self.cache {
            self.cache = Some(Arc::new(TokenCache::new(
                cache.capacity(),
                cache.max_bytes(),
            )));
        }
        Arc::make_mut(&mut self.validation)
    }

    /// Verifies `token` and returns its claims. Runs every rule but the revocation hook.
    ///
    /// # Errors
    ///
    /// An [`AuthError`] whose [`kind`](AuthError::kind) says which rule failed.
    pub fn verify<C: DeserializeOwned>(&self, token: &str) -> Result<C, AuthError> {
        let mut out = Outcome::new();
        self.check_into::<C>(token.as_bytes(), None, &mut out)?;
        match out.scope_error.take() {
            Some(err) => Err(err),
            None => Ok(out.take_claims()?),
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
            self.verify_signed(token.as_bytes(), keys, |payload| {
                Ok::<_, AuthError>(payload.to_vec())
            })
        })
    }

    fn allowed(&self, keys: &crate::verify::keys::KeySet) -> AlgorithmSet {
        let of_keys = keys.algorithms();
        self.validation
            .algorithms
            .map_or(of_keys, |allowed| allowed.intersection(of_keys))
    }

    /// Verifies `token`'s signature with `keys` under this verifier's allow-list, then its
    /// `typ` rule, and hands the payload to `then`: the start of every full check.
    fn verify_signed<R, E: From<ErrorKind>>(
        &self,
        token: &[u8],
        keys: &KeySet,
        then: impl FnOnce(&[u8]) -> Result<R, E>,
    ) -> Result<R, E> {
        jws::verify(token, keys, self.allowed(keys), |verified, payload| {
            if !self.validation.type_matches(verified.typ) {
                return Err(ErrorKind::InvalidType.into());
            }
            then(payload)
        })
    }

    #[cfg(test)]
    pub(crate) fn check<C: DeserializeOwned>(
        &self,
        token: &str,
        revocation: Option<&dyn Revocation>,
    ) -> Result<Checked<C>, AuthError> {
        let mut out = Outcome::new();
        self.check_into(token.as_bytes(), revocation, &mut out)?;
        let claims = out.take_claims()?;
        Ok(out.checked(claims))
    }

    /// [`check`](Self::check), its outcome written into `out`: what the checks produce is
    /// written in the caller's frame rather than returned through every layer below, which
    /// return a bare `ErrorKind` (BENCHMARKS.md, "Code-generation notes"). The claims are in
    /// `out` after `Ok`.
    fn check_into<C: DeserializeOwned>(
        &self,
        token: &[u8],
        revocation: Option<&dyn Revocation>,
        out: &mut Outcome<C>,
    ) -> Result<(), AuthError> {
        self.keys.with_current(|keys| {
            let cache = self.cache_for(keys);
            if let Some(cache) = cache
                && cache.lookup(token, keys.id()).is_some()
            {
                // Verified before under this key set and these rules: only the claims again.
                let compact = jws::Compact::split(token)?;
                return jws::with_payload(compact.payload, |payload| {
                    self.check_claims(payload, revocation, out, false).map(drop)
                });
            }
            self.verify_signed(token, keys, |payload| {
                self.check_claims(payload, revocation, out, false)?;
                if let Some(cache) = cache {
                    cache.insert(token, keys.id(), None);
                }
                Ok(())
            })
        })?;
        Ok(())
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

    /// Whether the verified-token cache is on for the current key set (a hint: a check made
    /// while the keys are replaced decides again with the set it uses).
    pub(crate) fn caches(&self) -> bool {
        self.current_cache().is_some()
    }

    /// The cache to use with the current key set, read from the store's hint without loading
    /// the set (see [`caches`](Self::caches)).
    fn current_cache(&self) -> Option<&TokenCache> {
        self.cache
            .as_deref()
            .filter(|_| self.cache_all || !self.keys.is_symmetric())
    }
}

/// What [`Verifier::check`] gathers on its way down.
struct Outcome<C> {
    claims: Option<C>,
    scope_error: Option<AuthError>,
    pending: Option<PendingRevocation>,
    cache_hit: bool,
}

impl<C> Outcome<C> {
    fn new() -> Self {
        Self {
            claims: None,
            scope_error: None,
            pending: None,
            cache_hit: false,
        }
    }

    /// The claims a check that passed wrote (never missing then: a missing one is refused as
    /// invalid claims rather than trusted).
    fn take_claims(&mut self) -> Result<C, ErrorKind> {
        self.claims.take().ok_or(ErrorKind::InvalidClaims)
    }

    /// The outcome, with `claims` as the claims handed out.
    fn checked<T>(self, claims: T) -> Checked<T> {
        Checked {
            claims,
            scope_error: self.scope_error,
            pending: self.pending,
            cache_hit: self.cache_hit,
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys)
            .field("validation", &self.validation)
            .field("cache", &self.cache)
            .field("cache_all", &self.cache_all)
            .finish()
    }
}

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
use crate::verify::cache::TokenCache;
use crate::verify::error::{AuthError, ConfigError, ErrorKind};
use crate::verify::jws;
use crate::verify::keys::KeyStore;
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
    /// Time: a lookup (a keyed hash of the token's length and last 16 bytes, and a comparison) on every
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
        // below, which return a bare `ErrorKind` (BENCHMARKS.md, "Code-generation notes").
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

    /// Whether the verified-token cache is on.
    pub(crate) fn caches(&self) -> bool {
        self.cache.is_some()
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
            .finish()
    }
}

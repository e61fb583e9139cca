//! The verified-token cache: which exact tokens had their signature verified, under which key
//! set. Opt-in, through [`Verifier::cache_verified_tokens`](crate::Verifier::cache_verified_tokens)
//! or [`JwtAuthLayer::cache_verified_tokens`](crate::JwtAuthLayer::cache_verified_tokens).
//!
//! What a hit skips: decoding and parsing, choosing the key, the signature, and the claims rules
//! that do not involve the clock (`iss`, `aud`, `typ`, required claims, scopes). All of these
//! depend only on the token, the key set and the validation rules, and the cache is keyed on all
//! three (the whole token, compared byte for byte; the key set's identity; and it is emptied
//! when the rules change). An entry keeps the claims as first deserialized
//! (shared as an `Arc`) and the facts to check again on every hit: `exp` and `nbf` against the
//! clock, and what the revocation hook is asked. A token that expired or was revoked since it
//! was cached is refused.
//!
//! Design:
//!
//! - A fixed array of `capacity` slots, each an atomically swapped `Option<Arc<Entry>>`: no
//!   lock anywhere, readers never block writers. A token may live in one of two neighbouring
//!   slots chosen by a keyed hash (SipHash with a random key, so a client cannot aim tokens at
//!   a slot); inserting evicts, in order, an empty slot, an entry of an older key set, one not
//!   hit since the last eviction there (second chance, as in CLOCK), or either.
//! - An entry records the identity of the key set whose key verified it. A hit needs that set
//!   to be the current one, so after [`KeyStore::replace`](crate::KeyStore::replace) no entry
//!   verified under the old set hits, whatever key it used; the first lookup that uses a newer
//!   set empties the whole cache.
//! - Tokens are compared in constant time (for their length, which is public), so response
//!   times do not tell how much of a guess matches a cached token.

use std::any::Any;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwapOption;
use arc_swap::Guard;

use crate::verify::revocation::TokenInfo;

/// Tokens longer than this are never cached; it bounds an entry's size.
pub(crate) const MAX_CACHED_TOKEN: usize = 8 * 1024;

/// The bytes of a token the slot choice hashes (with its length): its end, where the
/// signature is. 16 base64url characters carry 96 bits of the signature, which no two tokens
/// the issuer signed share by chance; the hash is keyed, so a client cannot aim tokens at a
/// slot however many it holds.
const HASHED_SUFFIX: usize = 16;

pub(crate) struct Entry {
    hash: u64,
    /// The key set the signature verified under.
    key_set: u64,
    /// Hit since the last eviction in its slots.
    used: AtomicBool,
    token: Box<[u8]>,
    /// What the claims rules concluded, once a shared-claims check has run on this token.
    verdict: OnceLock<Verdict>,
}

impl Entry {
    /// What the claims rules concluded about this token, if recorded.
    pub(crate) fn verdict(&self) -> Option<&Verdict> {
        self.verdict.get()
    }

    /// Records what the claims rules concluded (the first record stays).
    pub(crate) fn record(&self, verdict: Verdict) {
        let _ = self.verdict.set(verdict);
    }
}

/// What the claims rules concluded about a cached token, under the rules the cache lives with.
///
/// The time-independent rules (`iss`, `aud`, `typ`, required claims, scopes) depend only on the
/// token's bytes and the rules, so their outcome is kept. What can change while the entry lives
/// is kept as facts to check again: `exp` and `nbf` against the clock, and what the revocation
/// hook is asked.
pub(crate) struct Verdict {
    /// The deserialized claims, shared with every request the token comes with (an `Arc<C>`).
    pub(crate) claims: Arc<dyn Any + Send + Sync>,
    pub(crate) facts: Facts,
}

/// What a check concluded about a token's registered claims, owned: the facts a hit checks
/// again.
pub(crate) struct Facts {
    pub(crate) exp: Option<i64>,
    pub(crate) nbf: Option<i64>,
    pub(crate) iat: Option<i64>,
    pub(crate) iss: Option<Box<str>>,
    pub(crate) sub: Option<Box<str>>,
    pub(crate) jti: Option<Box<str>>,
    pub(crate) sid: Option<Box<str>>,
    /// The token grants every scope the rules require.
    pub(crate) scope_ok: bool,
}

impl Facts {
    /// What the revocation hook is asked about the token.
    pub(crate) fn info(&self, leeway: i64) -> TokenInfo<'_> {
        TokenInfo {
            leeway,
            issuer: self.iss.as_deref(),
            subject: self.sub.as_deref(),
            jwt_id: self.jti.as_deref(),
            session_id: self.sid.as_deref(),
            expires_at: self.exp,
            issued_at: self.iat,
        }
    }
}

/// A cache hit: the entry, held for as long as the request needs it.
pub(crate) struct Hit(Guard<Option<Arc<Entry>>>);

impl std::ops::Deref for Hit {
    type Target = Entry;

    fn deref(&self) -> &Entry {
        // `lookup` only makes a `Hit` of an occupied slot.
        self.0.as_deref().expect("a hit holds an entry")
    }
}

/// A bounded, lock-free set of verified tokens; see the module docs.
pub(crate) struct TokenCache {
    slots: Box<[ArcSwapOption<Entry>]>,
    hasher: RandomState,
    /// The newest key set seen; a newer one empties the cache.
    key_set: AtomicU64,
    #[cfg(test)]
    hits: std::sync::atomic::AtomicUsize,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: (0..capacity.max(1))
                .map(|_| ArcSwapOption::empty())
                .collect(),
            hasher: RandomState::new(),
            key_set: AtomicU64::new(0),
            #[cfg(test)]
            hits: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn hash(&self, bytes: &[u8]) -> u64 {
        let suffix = &bytes[bytes.len().saturating_sub(HASHED_SUFFIX)..];
        self.hasher.hash_one((bytes.len(), suffix))
    }

    /// The two slots a token may live in.
    fn slots(&self, hash: u64) -> [&ArcSwapOption<Entry>; 2] {
        let n = self.slots.len();
        // Maps the hash onto 0..n without a division (Lemire's multiply-shift).
        #[allow(clippy::cast_possible_truncation)]
        let first = ((u128::from(hash) * n as u128) >> 64) as usize;
        [&self.slots[first], &self.slots[(first + 1) % n]]
    }

    /// Empties the cache the first time a key set newer than every one seen is in use.
    ///
    /// Only ever forward: a request still finishing with the previous set does not empty it
    /// again. (A set restored after a newer one does not empty it either; its entries are
    /// simply never hits, and are evicted first.)
    fn follow(&self, key_set: u64) {
        let last = self.key_set.load(Ordering::Acquire);
        if key_set > last
            && self
                .key_set
                .compare_exchange(last, key_set, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            for slot in &self.slots {
                slot.store(None);
            }
        }
    }

    /// Whether `token` verified under the key set `key_set`.
    #[cfg(test)]
    pub(crate) fn contains(&self, token: &str, key_set: u64) -> bool {
        self.lookup(token.as_bytes(), key_set).is_some()
    }

    /// The entry of `token`, if its signature verified under the key set `key_set`.
    pub(crate) fn lookup(&self, token: &[u8], key_set: u64) -> Option<Hit> {
        self.follow(key_set);
        let hash = self.hash(token);
        for slot in self.slots(hash) {
            let guard = slot.load();
            let Some(entry) = &*guard else { continue };
            if entry.hash != hash || !same(&entry.token, token) {
                continue;
            }
            if entry.key_set != key_set {
                // Verified under another key set: never a hit.
                let _ = slot.compare_and_swap(&guard, None);
                return None;
            }
            if !entry.used.load(Ordering::Relaxed) {
                entry.used.store(true, Ordering::Relaxed);
            }
            #[cfg(test)]
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Some(Hit(guard));
        }
        None
    }

    /// Records that `token`'s signature verified under the key set `key_set`, with what the
    /// claims rules concluded if the caller keeps that.
    pub(crate) fn insert(&self, token: &[u8], key_set: u64, verdict: Option<Verdict>) {
        if token.len() > MAX_CACHED_TOKEN {
            return;
        }
        self.follow(key_set);
        let hash = self.hash(token);
        let [a, b] = self.slots(hash);
        let victim = {
            let (first, second) = (a.load(), b.load());
            let present = |e: &Entry| e.hash == hash && same(&e.token, token);
            match (first.as_deref(), second.as_deref()) {
                (Some(x), _) | (_, Some(x)) if present(x) && x.key_set == key_set => {
                    if let Some(verdict) = verdict {
                        x.record(verdict);
                    }
                    return;
                }
                (None, _) => a,
                (_, None) => b,
                (Some(x), _) if x.key_set != key_set => a,
                (_, Some(y)) if y.key_set != key_set => b,
                (Some(x), Some(y)) => {
                    // Second chance: whichever was not hit since the last eviction here goes.
                    let x_used = x.used.swap(false, Ordering::Relaxed);
                    let y_used = y.used.swap(false, Ordering::Relaxed);
                    match (x_used, y_used) {
                        (false, _) => a,
                        (true, false) => b,
                        _ if hash & 1 == 0 => a,
                        _ => b,
                    }
                }
            }
        };
        victim.store(Some(Arc::new(Entry {
            hash,
            key_set,
            used: AtomicBool::new(false),
            token: token.into(),
            verdict: verdict.map_or_else(OnceLock::new, OnceLock::from),
        })));
    }

    /// How many lookups hit.
    #[cfg(test)]
    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// How many tokens are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.load().is_some()).count()
    }
}

/// Byte equality whose time depends on the lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |diff, (x, y)| diff | (x ^ y)) == 0
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(i: usize) -> String {
        format!("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ{i}.c2lnbmF0dXJl{i:08}")
    }

    #[test]
    fn a_token_hits_only_under_the_key_set_it_verified_under() {
        let cache = TokenCache::new(8);
        assert!(!cache.contains(&token(1), 1));
        cache.insert(token(1).as_bytes(), 1, None);
        assert!(cache.contains(&token(1), 1));
        assert!(!cache.contains(&token(2), 1));
        // A byte more or less is another token.
        assert!(!cache.contains(&token(1)[1..], 1));
        assert!(!cache.contains(&format!("{}x", token(1)), 1));
        // Another key set: no hit, and the cache is emptied.
        assert!(!cache.contains(&token(1), 2));
        assert_eq!(cache.len(), 0);
        assert!(!cache.contains(&token(1), 1));
    }

    #[test]
    fn the_capacity_bounds_the_entries() {
        for capacity in [1, 2, 3, 16, 100] {
            let cache = TokenCache::new(capacity);
            for i in 0..capacity * 10 {
                cache.insert(token(i).as_bytes(), 7, None);
                assert!(cache.len() <= capacity);
            }
            assert!(cache.len() <= capacity);
            // The last token inserted is always there.
            assert!(cache.contains(&token(capacity * 10 - 1), 7));
        }
    }

    #[test]
    fn a_hit_token_survives_the_next_eviction_of_its_slots() {
        // With two slots, every token may live in either.
        let cache = TokenCache::new(2);
        cache.insert(token(0).as_bytes(), 1, None);
        cache.insert(token(1).as_bytes(), 1, None);
        assert!(cache.contains(&token(0), 1));
        cache.insert(token(2).as_bytes(), 1, None);
        assert!(cache.contains(&token(0), 1));
        assert!(cache.contains(&token(2), 1));
        assert!(!cache.contains(&token(1), 1));
    }

    #[test]
    fn oversized_tokens_are_not_cached() {
        let cache = TokenCache::new(4);
        let long = "a".repeat(MAX_CACHED_TOKEN + 1);
        cache.insert(long.as_bytes(), 1, None);
        assert!(!cache.contains(&long, 1));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn comparison_is_exact() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(same(b"", b""));
    }
}

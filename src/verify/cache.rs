//! The verified-token cache: which exact tokens had their signature verified, under which key
//! set. On by default for public keys; see
//! [`Verifier::cache_verified_tokens`](crate::Verifier::cache_verified_tokens) for the defaults
//! and their reasons.
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
//!   slots chosen by a keyed hash of the signature's end (a folded multiply with random keys
//!   and a finaliser, so a client cannot aim tokens at a slot); inserting evicts, in order, an
//!   empty slot, an entry of another key set, one not hit since the last eviction there
//!   (second chance, as in CLOCK), or either.
//! - Two bounds: the slots bound the entries, and a byte budget bounds what they hold. Each
//!   entry is charged [`charge`] bytes (its token twice, for the token and what is decoded from
//!   it, plus a fixed overhead, measured in `tests/cache_memory.rs`); an insertion that would
//!   exceed the budget evicts a neighbour or is skipped.
//! - An entry records the identity of the key set whose key verified it. A hit needs that set
//!   to be the current one, so after [`KeyStore::replace`](crate::KeyStore::replace) with other
//!   keys no entry verified under the old set hits, whatever key it used. Nothing is flushed:
//!   an entry of another set is a miss, removed when its token comes again and evicted before
//!   any other, so the first request after a rotation costs what any miss costs. (A replace
//!   with the same keys keeps the set's identity, and every entry stays a hit.)
//! - Tokens are compared in constant time (for their length, which is public), so response
//!   times do not tell how much of a guess matches a cached token.

use std::any::Any;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwapOption;
use arc_swap::Guard;

use crate::verify::revocation::TokenInfo;

/// Tokens longer than this are never cached; it bounds an entry's size.
pub(crate) const MAX_CACHED_TOKEN: usize = 8 * 1024;

/// The default bound in entries: a small service's active tokens (a few thousand clients).
pub(crate) const DEFAULT_ENTRIES: usize = 4096;

/// The default byte budget: 6 MiB, room for [`DEFAULT_ENTRIES`] entries of tokens up to
/// 512 bytes, fewer of longer ones.
pub(crate) const DEFAULT_BYTES: usize = 6 << 20;

/// What an entry is charged besides twice its token: the entry, its `Arc`, the verdict, the
/// fixed part of the claims and the allocator's overhead, measured with
/// [`Claims`](crate::Claims) in `tests/cache_memory.rs` (about 350 bytes, plus 1.75 bytes per
/// byte of token; the test checks that the charge covers it).
pub(crate) const ENTRY_OVERHEAD: usize = 512;

/// The bytes an entry of a `token_len`-byte token counts against the budget: the token is
/// kept, and the claims and facts decoded from its payload (three quarters of it, before
/// deserialization) take about as much again.
pub(crate) const fn charge(token_len: usize) -> usize {
    ENTRY_OVERHEAD + 2 * token_len
}

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
    fn charge(&self) -> usize {
        charge(self.token.len())
    }

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
    /// Allocated at the first insertion: a verifier whose cache is never used (shared
    /// secrets, by default) costs no memory for it.
    slots: OnceLock<Box<[ArcSwapOption<Entry>]>>,
    capacity: usize,
    /// The keys of the slot hash, random per cache.
    keys: [u64; 2],
    /// The byte budget, and what the entries in the slots are charged (see [`charge`]).
    max_bytes: usize,
    used: AtomicUsize,
    #[cfg(test)]
    hits: std::sync::atomic::AtomicUsize,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens (at least one), charged at most `max_bytes` bytes.
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            slots: OnceLock::new(),
            capacity: capacity.max(1),
            keys: {
                // Two draws from the standard library's randomly keyed SipHash.
                let random = RandomState::new();
                [random.hash_one(0_u8), random.hash_one(1_u8)]
            },
            max_bytes,
            used: AtomicUsize::new(0),
            #[cfg(test)]
            hits: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// What the cached entries are charged, in bytes.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The slot hash of a token: its length and last [`HASHED_SUFFIX`] bytes, mixed with the
    /// cache's random keys by a folded multiply (foldhash's and aHash's core step), then
    /// MurmurHash3's finaliser.
    ///
    /// Not SipHash: this runs on every request, and SipHash's rounds cost more than the rest of
    /// a lookup (BENCHMARKS.md, "The cached path under callgrind"). What the slot choice needs is
    /// that a client cannot predict it, which random keys give; the suffix of a cached token is
    /// the end of a signature the issuer made, which no client chooses, and a token the cache
    /// does not hold only reads the slots it lands on.
    fn hash(&self, bytes: &[u8]) -> u64 {
        let suffix = u128::from_le_bytes(bytes.last_chunk().copied().unwrap_or_else(|| {
            // Shorter than the suffix (never a JWT): zeros first.
            let mut padded = [0_u8; HASHED_SUFFIX];
            padded[HASHED_SUFFIX - bytes.len()..].copy_from_slice(bytes);
            padded
        }));
        let [k0, k1] = self.keys;
        #[allow(clippy::cast_possible_truncation)]
        let (high, low) = ((suffix >> 64) as u64, suffix as u64);
        mix(folded_multiply(high ^ k0, low ^ k1 ^ bytes.len() as u64))
    }

    /// The two slots a token may live in, once there are slots.
    fn slots(slots: &[ArcSwapOption<Entry>], hash: u64) -> [&ArcSwapOption<Entry>; 2] {
        let n = slots.len();
        // Maps the hash onto 0..n without a division (Lemire's multiply-shift).
        #[allow(clippy::cast_possible_truncation)]
        let first = ((u128::from(hash) * n as u128) >> 64) as usize;
        // The next slot, wrapping; a comparison rather than `%`, which divides.
        let second = if first + 1 == n { 0 } else { first + 1 };
        [&slots[first], &slots[second]]
    }

    /// Whether `token` verified under the key set `key_set`.
    #[cfg(test)]
    pub(crate) fn contains(&self, token: &str, key_set: u64) -> bool {
        self.lookup(token.as_bytes(), key_set).is_some()
    }

    /// The entry of `token`, if its signature verified under the key set `key_set`.
    pub(crate) fn lookup(&self, token: &[u8], key_set: u64) -> Option<Hit> {
        let slots = self.slots.get()?;
        let hash = self.hash(token);
        for slot in Self::slots(slots, hash) {
            let guard = slot.load();
            let Some(entry) = &*guard else { continue };
            if entry.hash != hash || !same(&entry.token, token) {
                continue;
            }
            if entry.key_set != key_set {
                // Verified under another key set: never a hit, and its slot is freed.
                let previous = slot.compare_and_swap(&guard, None);
                if previous
                    .as_ref()
                    .is_some_and(|previous| Arc::ptr_eq(previous, entry))
                {
                    self.used.fetch_sub(entry.charge(), Ordering::Relaxed);
                }
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
        let charge = charge(token.len());
        if token.len() > MAX_CACHED_TOKEN || charge > self.max_bytes {
            return;
        }
        let slots = self
            .slots
            .get_or_init(|| (0..self.capacity).map(|_| ArcSwapOption::empty()).collect());
        let hash = self.hash(token);
        let [a, b] = Self::slots(slots, hash);
        let (first, second) = (a.load(), b.load());
        let (x, y) = (first.as_deref(), second.as_deref());
        let present = |e: &Entry| e.hash == hash && e.key_set == key_set && same(&e.token, token);
        if let Some(known) = x.filter(|e| present(e)).or(y.filter(|e| present(e))) {
            if let Some(verdict) = verdict {
                known.record(verdict);
            }
            return;
        }
        let stale = |e: Option<&Entry>| e.is_some_and(|e| e.key_set != key_set);
        let freed = |e: Option<&Entry>| e.map_or(0, Entry::charge);
        // Within the budget without evicting, an empty slot first; else an occupied one, so
        // that its charge makes room.
        let roomy = self.used.load(Ordering::Relaxed) + charge <= self.max_bytes;
        let first_goes = match (x, y) {
            (None, _) if roomy => true,
            (_, None) if roomy => false,
            _ if stale(x) => true,
            _ if stale(y) => false,
            (Some(ex), Some(ey)) => {
                // Second chance: whichever was not hit since the last eviction here goes.
                let x_used = ex.used.swap(false, Ordering::Relaxed);
                let y_used = ey.used.swap(false, Ordering::Relaxed);
                match (x_used, y_used) {
                    (false, _) => true,
                    (true, false) => false,
                    _ => hash & 1 == 0,
                }
            }
            (x, _) => x.is_some(),
        };
        let ((victim, freeing), (other, other_frees)) = if first_goes {
            ((a, freed(x)), (b, freed(y)))
        } else {
            ((b, freed(y)), (a, freed(x)))
        };
        // Reserve the charge first, so concurrent insertions cannot all pass the check; an
        // entry actually replaced is released below, whatever a concurrent writer put there.
        let before = self.used.fetch_add(charge, Ordering::AcqRel);
        if before + charge > self.max_bytes + freeing {
            // Over budget (a longer token in place of a shorter one): the other neighbour
            // goes too if that makes room, else the token is not cached.
            if other_frees == 0 || before + charge > self.max_bytes + freeing + other_frees {
                self.used.fetch_sub(charge, Ordering::AcqRel);
                return;
            }
            if let Some(removed) = other.swap(None) {
                self.used.fetch_sub(removed.charge(), Ordering::AcqRel);
            }
        }
        drop((first, second));
        let replaced = victim.swap(Some(Arc::new(Entry {
            hash,
            key_set,
            used: AtomicBool::new(false),
            token: token.into(),
            verdict: verdict.map_or_else(OnceLock::new, OnceLock::from),
        })));
        if let Some(replaced) = replaced {
            self.used.fetch_sub(replaced.charge(), Ordering::AcqRel);
        }
    }

    /// How many lookups hit.
    #[cfg(test)]
    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// Whether the slots were allocated (at the first insertion).
    #[cfg(test)]
    pub(crate) fn allocated(&self) -> bool {
        self.slots.get().is_some()
    }

    /// How many tokens are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.get().map_or(0, |slots| {
            slots.iter().filter(|s| s.load().is_some()).count()
        })
    }
}

/// The high and low halves of the full product, xored: every input bit reaches the middle of
/// the result, which the slot choice takes from the top.
#[allow(clippy::cast_possible_truncation)]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ (full >> 64) as u64
}

/// MurmurHash3's 64-bit finaliser: every bit of `h` reaches every bit of the result. A bare
/// folded multiply of tokens whose suffixes differ only in a few digits left some random keys
/// with many slots unused (a CI run kept 534 of 1024 tokens in
/// `tokens_spread_over_the_slots`).
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Byte equality whose time depends on the lengths only.
///
/// Eight bytes at a time, the differences or-ed together and tested once at the end, so that
/// where two tokens differ does not change the time: a cache hit compares the whole token, and
/// this form compiles to a 32-bytes-a-turn loop, 30 instructions fewer per hit than the
/// byte-wise fold for the load bench's 380-byte token (BENCHMARKS.md, "Less work per request").
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let ((a_words, a_rest), (b_words, b_rest)) = (a.as_chunks::<8>(), b.as_chunks::<8>());
    let words = a_words.iter().zip(b_words).fold(0, |diff, (x, y)| {
        diff | (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y))
    });
    let rest = a_rest
        .iter()
        .zip(b_rest)
        .fold(0, |diff, (x, y)| diff | (x ^ y));
    words | u64::from(rest) == 0
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
        // All of one length, so that they are charged alike.
        format!("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ{i:06}.c2lnbmF0dXJl{i:08}")
    }

    const PLENTY: usize = 1 << 30;

    #[test]
    fn a_token_hits_only_under_the_key_set_it_verified_under() {
        let cache = TokenCache::new(8, PLENTY);
        assert!(!cache.contains(&token(1), 1));
        cache.insert(token(1).as_bytes(), 1, None);
        assert!(cache.contains(&token(1), 1));
        assert!(!cache.contains(&token(2), 1));
        // A byte more or less is another token.
        assert!(!cache.contains(&token(1)[1..], 1));
        assert!(!cache.contains(&format!("{}x", token(1)), 1));
        // Another key set: no hit, and that entry (only) is removed.
        assert!(!cache.contains(&token(1), 2));
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.bytes(), 0);
        assert!(!cache.contains(&token(1), 1));
    }

    #[test]
    fn a_new_key_set_flushes_nothing() {
        let cache = TokenCache::new(64, PLENTY);
        for i in 0..20 {
            cache.insert(token(i).as_bytes(), 1, None);
        }
        let (len, bytes) = (cache.len(), cache.bytes());
        assert!(len > 10);
        // Lookups and an insertion under a newer set touch no slot but their own.
        assert!(!cache.contains(&token(100), 2));
        cache.insert(token(101).as_bytes(), 2, None);
        assert!(cache.len() >= len && cache.len() <= len + 1);
        // None of the old entries is a hit under the new set; each miss frees its own slot.
        assert!(!cache.contains(&token(0), 2));
        assert!(cache.contains(&token(101), 2));
        assert!(cache.bytes() <= bytes + charge(token(101).len()));
    }

    #[test]
    fn entries_of_another_key_set_are_evicted_first() {
        // Two slots: every token may live in either.
        let cache = TokenCache::new(2, PLENTY);
        cache.insert(token(0).as_bytes(), 1, None);
        cache.insert(token(1).as_bytes(), 2, None);
        // Hit the old set's entry so second chance alone would keep it.
        assert!(cache.contains(&token(0), 1));
        cache.insert(token(2).as_bytes(), 2, None);
        assert!(cache.contains(&token(1), 2));
        assert!(cache.contains(&token(2), 2));
        assert!(!cache.contains(&token(0), 1));
    }

    #[test]
    fn the_byte_budget_bounds_what_the_entries_are_charged() {
        let each = charge(token(0).len());
        for budget in [each, each * 3, each * 10 + 1] {
            let cache = TokenCache::new(64, budget);
            for i in 0..500 {
                cache.insert(token(i).as_bytes(), 1, None);
                assert!(cache.bytes() <= budget);
                assert_eq!(cache.bytes(), cache.len() * each);
            }
            assert_eq!(cache.len(), budget / each, "budget {budget}");
        }
        // An entry larger than the whole budget is never cached.
        let cache = TokenCache::new(64, each - 1);
        cache.insert(token(0).as_bytes(), 1, None);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn a_longer_token_makes_room_by_evicting_both_neighbours() {
        let each = charge(token(0).len());
        // Two slots: every token may live in either, and both are its neighbours.
        let cache = TokenCache::new(2, each * 2);
        cache.insert(token(0).as_bytes(), 1, None);
        cache.insert(token(1).as_bytes(), 1, None);
        assert_eq!(cache.len(), 2);
        let longer = format!("{}{}", token(2), "x".repeat(20));
        cache.insert(longer.as_bytes(), 1, None);
        assert!(cache.contains(&longer, 1));
        assert_eq!((cache.len(), cache.bytes()), (1, charge(longer.len())));
        // Too long for the whole budget: not cached, nothing evicted.
        let longest = format!("{}{}", token(3), "x".repeat(each));
        cache.insert(longest.as_bytes(), 1, None);
        assert!(!cache.contains(&longest, 1));
        assert!(cache.contains(&longer, 1));
    }

    #[test]
    fn a_full_budget_still_takes_new_tokens_in_place_of_old_ones() {
        let each = charge(token(0).len());
        let cache = TokenCache::new(8, each * 4);
        for i in 0..4000 {
            cache.insert(token(i).as_bytes(), 1, None);
        }
        assert_eq!(cache.len(), 4);
        // Recent tokens get in: any with an occupied slot among its two replaces the entry
        // there (with half the slots taken, all but a vanishing share of a hundred tokens).
        assert!((3900..4000).any(|i| cache.contains(&token(i), 1)));
    }

    #[test]
    fn the_capacity_bounds_the_entries() {
        for capacity in [1, 2, 3, 16, 100] {
            let cache = TokenCache::new(capacity, PLENTY);
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
        let cache = TokenCache::new(2, PLENTY);
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
        let cache = TokenCache::new(4, PLENTY);
        let long = "a".repeat(MAX_CACHED_TOKEN + 1);
        cache.insert(long.as_bytes(), 1, None);
        assert!(!cache.contains(&long, 1));
        assert_eq!(cache.len(), 0);
    }

    /// With a hash that spread tokens badly, most insertions would evict a neighbour instead
    /// of filling an empty slot, and the cache would hold far fewer than its capacity.
    #[test]
    fn tokens_spread_over_the_slots() {
        const CAPACITY: usize = 1024;
        const KEYS: usize = 200;
        // Suffixes that differ in one digit (the helper's) and, to stand for real signatures,
        // in base64url characters drawn from a simple generator.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut signature = || {
            (0..43)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                        [usize::try_from(state >> 58).unwrap()] as char
                })
                .collect::<String>()
        };
        let sequential: Vec<String> = (0..CAPACITY).map(token).collect();
        let random: Vec<String> = (0..CAPACITY)
            .map(|i| format!("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ{i:06}.{}", signature()))
            .collect();
        // Each cache draws its own keys: many caches, so that an unlucky key shows.
        for tokens in [&sequential, &random]
            .into_iter()
            .flat_map(|tokens| std::iter::repeat_n(tokens, KEYS))
        {
            let cache = TokenCache::new(CAPACITY, PLENTY);
            for token in tokens {
                cache.insert(token.as_bytes(), 1, None);
            }
            // Uniformly random placement in one of two neighbouring slots keeps 74.5% (standard
            // deviation 0.9 points, simulated 2000 times), so 65% is ten deviations off; a hash
            // that sent tokens to few slots would keep a handful.
            let kept = cache.len();
            assert!(kept * 100 >= CAPACITY * 65, "{kept} of {CAPACITY} kept");
            let hits = tokens.iter().filter(|t| cache.contains(t, 1)).count();
            assert_eq!(hits, kept);
        }
    }

    #[test]
    fn tokens_shorter_than_the_hashed_suffix_are_found() {
        let cache = TokenCache::new(8, PLENTY);
        for short in ["", "a", "a.b.c", "0123456789abcde"] {
            cache.insert(short.as_bytes(), 1, None);
            assert!(cache.contains(short, 1), "{short:?}");
        }
    }

    #[test]
    fn comparison_is_exact() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(same(b"", b""));
        // Every length across two words and a tail, every position of a difference: the
        // word-wise compare sees each byte.
        for len in 0..=20 {
            let a: Vec<u8> = (0..len).map(|i| b'a' + i).collect();
            assert!(same(&a, &a.clone()), "len {len}");
            for at in 0..a.len() {
                for bit in 0..8 {
                    let mut b = a.clone();
                    b[at] ^= 1 << bit;
                    assert!(!same(&a, &b), "len {len}, byte {at}, bit {bit}");
                }
            }
        }
    }
}

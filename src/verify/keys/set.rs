//! [`KeySet`]: keys selected by `kid` and `alg`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::verify::algorithm::{Algorithm, AlgorithmSet};
use crate::verify::error::ConfigError;

use super::decoding::invalid;
use super::{DecodingKey, JwkSet};

/// A set of verification keys, selected by `kid` and `alg`.
///
/// A key set never mixes shared secrets with public keys, never holds two keys with the same
/// `kid`, and is never empty.
#[derive(Clone)]
pub struct KeySet {
    keys: Vec<DecodingKey>,
    algorithms: AlgorithmSet,
    /// Unique to the set (clones share it, having the same keys): what the verified-token cache
    /// ties its entries to.
    id: u64,
    /// Encoded headers whose tokens verified with one of these keys, and what reading them gave.
    headers: Arc<KnownHeaders>,
}

/// How many distinct encoded headers a key set remembers. An issuer writes the same header on
/// every token it signs with a key (`{"alg":"RS256","kid":"k1","typ":"JWT"}`), so a set meets
/// one per key and issuer library; a set whose tokens carry more just reads the others.
const KNOWN_HEADERS: usize = 4;

/// The first [`KNOWN_HEADERS`] encoded JOSE headers seen on tokens whose signature verified
/// with a key of the set, each with what reading it gave: the algorithm, the key it selected
/// and its `typ`.
///
/// A header is a pure function of its bytes, and the set's keys never change, so a token whose
/// encoded header is byte for byte a known one selects the same key with the same algorithm
/// as reading it would, and skips the base64url decoding and the JSON reading. The signature
/// is still checked: it covers the header bytes, compared here exactly. Only a header that came
/// with a valid signature is remembered, so a forger can neither fill nor choose the slots, and
/// the slots are filled once and never replaced (no allocation on the request path once full).
#[derive(Default)]
pub(crate) struct KnownHeaders {
    slots: [OnceLock<KnownHeader>; KNOWN_HEADERS],
}

/// What reading one encoded header gave.
pub(crate) struct KnownHeader {
    encoded: Box<[u8]>,
    pub(crate) alg: Algorithm,
    /// The index in [`KeySet::keys`] of the key it selected.
    pub(crate) key: usize,
    pub(crate) typ: Option<Box<str>>,
}

/// Headers longer than this (an `x5c` chain, a `jwk`) are not remembered.
const MAX_KNOWN_HEADER: usize = 512;

/// A fresh key set identity.
fn next_set_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl KeySet {
    /// A set of the given keys.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoKeys`] when empty, [`ConfigError::DuplicateKid`] when two keys share a
    /// `kid`, [`ConfigError::AmbiguousKeys`] when two keys without a `kid` verify the same
    /// algorithm (a token could name neither, and every token would fail as signed by an
    /// unknown key: give each key a `kid`), [`ConfigError::MixedKeySet`] when secrets and
    /// public keys are mixed.
    pub fn new(keys: impl IntoIterator<Item = DecodingKey>) -> Result<Self, ConfigError> {
        let keys: Vec<DecodingKey> = keys.into_iter().collect();
        if keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        let symmetric = keys[0].alg.is_symmetric();
        if keys.iter().any(|k| k.alg.is_symmetric() != symmetric) {
            return Err(ConfigError::MixedKeySet);
        }
        for (i, key) in keys.iter().enumerate() {
            if let Some(kid) = key.kid()
                && keys[..i].iter().any(|other| other.kid() == Some(kid))
            {
                return Err(ConfigError::DuplicateKid(kid.to_owned()));
            }
            if key.kid().is_none()
                && keys[..i]
                    .iter()
                    .any(|other| other.kid().is_none() && other.alg == key.alg)
            {
                return Err(ConfigError::AmbiguousKeys(key.alg));
            }
        }
        let algorithms = keys.iter().map(DecodingKey::algorithm).collect();
        Ok(Self {
            keys,
            algorithms,
            id: next_set_id(),
            headers: Arc::default(),
        })
    }

    /// A set from a JWKS document (`{"keys": [...]}`).
    ///
    /// Each key's algorithm is its `alg`, or the one its curve allows; an RSA or `oct` key
    /// without `alg` is refused, since it could be used with several.
    ///
    /// # Errors
    ///
    /// A parse error as [`ConfigError::InvalidKey`], or any error of [`DecodingKey::from_jwk`]
    /// and [`KeySet::new`].
    pub fn from_jwks_json(json: &str) -> Result<Self, ConfigError> {
        let set: JwkSet = serde_json::from_str(json).map_err(invalid)?;
        Self::from_jwks(&set)
    }

    /// A set from a parsed JWKS.
    ///
    /// # Errors
    ///
    /// As [`KeySet::from_jwks_json`].
    pub fn from_jwks(set: &JwkSet) -> Result<Self, ConfigError> {
        Self::new(
            set.keys
                .iter()
                .map(|jwk| DecodingKey::from_jwk(jwk, None))
                .collect::<Result<Vec<_>, _>>()?,
        )
    }

    /// A set holding no key: every token is refused as signed by an unknown key. What a
    /// remote key source verifies with until its first set arrives.
    #[cfg(feature = "remote")]
    pub(crate) fn empty() -> Self {
        Self {
            keys: Vec::new(),
            algorithms: AlgorithmSet::empty(),
            id: next_set_id(),
            headers: Arc::default(),
        }
    }

    /// The keys, in the order given.
    #[must_use]
    pub fn keys(&self) -> &[DecodingKey] {
        &self.keys
    }

    /// The algorithms the keys verify.
    #[must_use]
    pub fn algorithms(&self) -> AlgorithmSet {
        self.algorithms
    }

    /// The set's identity: equal for clones and for sets of the same keys that
    /// [`KeyStore::replace`](super::KeyStore::replace) put in place of each other, different
    /// otherwise.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Whether the keys are shared secrets (a set never mixes them with public keys).
    pub(crate) fn is_symmetric(&self) -> bool {
        self.keys.first().is_some_and(|key| key.alg.is_symmetric())
    }

    /// Whether `other` holds exactly these keys (algorithm, `kid` and material), in any order.
    pub(super) fn same_keys(&self, other: &Self) -> bool {
        self.keys.len() == other.keys.len()
            && other
                .keys
                .iter()
                .all(|theirs| self.keys.iter().any(|ours| ours.same_key(theirs)))
    }

    /// Takes `current`'s identity if it holds the same keys, so that what was verified under
    /// `current` stays verified (the verified-token cache keeps its entries).
    pub(super) fn inherit_identity(&mut self, current: &Self) {
        if self.id != current.id && self.same_keys(current) {
            self.id = current.id;
        }
    }

    /// The key for a token's `kid` and `alg`.
    ///
    /// With a `kid`, the key with that `kid`; without one (or when no key carries one), the only
    /// key without a `kid` for that algorithm, or, for a token without `kid`, the set's only
    /// key. The key's algorithm must equal `alg` in every case.
    #[cfg(test)]
    pub(crate) fn select(&self, kid: Option<&str>, alg: Algorithm) -> Option<&DecodingKey> {
        self.select_index(kid, alg).map(|i| &self.keys[i])
    }

    /// [`select`](Self::select), as the key's index in [`keys`](Self::keys).
    pub(crate) fn select_index(&self, kid: Option<&str>, alg: Algorithm) -> Option<usize> {
        if let Some(kid) = kid
            && let Some(i) = self.keys.iter().position(|k| k.kid() == Some(kid))
        {
            return (self.keys[i].alg == alg).then_some(i);
        }
        let mut candidates =
            (0..self.keys.len()).filter(|&i| self.keys[i].kid.is_none() && self.keys[i].alg == alg);
        match (candidates.next(), candidates.next()) {
            (Some(i), None) => Some(i),
            // OpenID Connect Core §10.1: a token may omit `kid` when the set holds one key.
            (None, _) if kid.is_none() && self.keys.len() == 1 && self.keys[0].alg == alg => {
                Some(0)
            }
            _ => None,
        }
    }

    /// What reading `encoded` gave, if a token with exactly this encoded header verified with
    /// a key of this set before.
    #[inline]
    pub(crate) fn known_header(&self, encoded: &[u8]) -> Option<&KnownHeader> {
        self.headers
            .slots
            .iter()
            .map_while(OnceLock::get)
            .find(|known| *known.encoded == *encoded)
    }

    /// Remembers what reading `encoded` gave, once a token carrying it verified with the key
    /// at `key`: in the first free slot, unless it is known already, too long, or every slot
    /// is taken.
    pub(crate) fn learn_header(
        &self,
        encoded: &[u8],
        alg: Algorithm,
        key: usize,
        typ: Option<&str>,
    ) {
        if encoded.len() > MAX_KNOWN_HEADER {
            return;
        }
        for slot in &self.headers.slots {
            match slot.get() {
                Some(known) if *known.encoded == *encoded => return,
                Some(_) => {}
                None => {
                    // Another thread may fill it first, with this header or another: either
                    // way the slot holds a header that verified.
                    let _ = slot.set(KnownHeader {
                        encoded: encoded.into(),
                        alg,
                        key,
                        typ: typ.map(Box::from),
                    });
                    return;
                }
            }
        }
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("keys", &self.keys)
            .field("algorithms", &self.algorithms)
            .finish()
    }
}

impl From<DecodingKey> for KeySet {
    fn from(key: DecodingKey) -> Self {
        let algorithms = AlgorithmSet::from(key.alg);
        Self {
            keys: vec![key],
            algorithms,
            id: next_set_id(),
            headers: Arc::default(),
        }
    }
}

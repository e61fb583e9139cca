//! [`KeySet`]: keys selected by `kid` and `alg`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

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
}

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
    pub(crate) fn select(&self, kid: Option<&str>, alg: Algorithm) -> Option<&DecodingKey> {
        if let Some(kid) = kid
            && let Some(key) = self.keys.iter().find(|k| k.kid() == Some(kid))
        {
            return (key.alg == alg).then_some(key);
        }
        let mut candidates = self.keys.iter().filter(|k| k.kid.is_none() && k.alg == alg);
        match (candidates.next(), candidates.next()) {
            (Some(key), None) => Some(key),
            // OpenID Connect Core §10.1: a token may omit `kid` when the set holds one key.
            (None, _) if kid.is_none() && self.keys.len() == 1 => {
                self.keys.first().filter(|k| k.alg == alg)
            }
            _ => None,
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
        }
    }
}

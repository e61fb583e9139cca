//! [`KeyStore`]: the current [`KeySet`], swapped without a lock.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{DecodingKey, KeySet};

/// A shared, swappable handle on the current [`KeySet`], for key rotation.
///
/// The request path reads it without a lock (an atomic load); a background task, such as a JWKS
/// refresher, calls [`KeyStore::replace`] with a new set. Clones share the same set.
#[derive(Clone)]
pub struct KeyStore {
    current: Arc<ArcSwap<KeySet>>,
}

impl KeyStore {
    /// A store holding `keys`.
    #[must_use]
    pub fn new(keys: KeySet) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(keys)),
        }
    }

    /// The current set.
    #[must_use]
    pub fn load(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    /// Replaces the set; requests already being verified finish with the old one.
    pub fn replace(&self, keys: KeySet) {
        self.current.store(Arc::new(keys));
    }

    pub(crate) fn with_current<R>(&self, f: impl FnOnce(&KeySet) -> R) -> R {
        f(&self.current.load())
    }
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyStore")
            .field(&self.current.load())
            .finish()
    }
}

impl From<DecodingKey> for KeyStore {
    fn from(key: DecodingKey) -> Self {
        Self::new(KeySet::from(key))
    }
}

impl From<KeySet> for KeyStore {
    fn from(keys: KeySet) -> Self {
        Self::new(keys)
    }
}

//! [`KeyStore`]: the current [`KeySet`], swapped without a lock.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use super::{DecodingKey, KeySet};

/// A shared, swappable handle on the current [`KeySet`], for key rotation.
///
/// The request path reads it without a lock (an atomic load); a background task, such as a JWKS
/// refresher, calls [`KeyStore::replace`] with a new set. Clones share the same set.
#[derive(Clone)]
pub struct KeyStore {
    shared: Arc<Shared>,
}

struct Shared {
    current: ArcSwap<KeySet>,
    /// Whether the current set holds shared secrets: read on every request to choose the path,
    /// without loading the set.
    symmetric: AtomicBool,
    /// The current set's identity: what a verified-token cache hit compares its entry with,
    /// read without loading the set.
    id: AtomicU64,
    /// Taken by [`KeyStore::replace`], so that the set, its identity and `symmetric` are
    /// written together; the request path never takes it.
    writing: Mutex<()>,
}

impl KeyStore {
    /// A store holding `keys`.
    #[must_use]
    pub fn new(keys: KeySet) -> Self {
        Self {
            shared: Arc::new(Shared {
                symmetric: AtomicBool::new(keys.is_symmetric()),
                id: AtomicU64::new(keys.id()),
                current: ArcSwap::from_pointee(keys),
                writing: Mutex::new(()),
            }),
        }
    }

    /// The current set.
    #[must_use]
    pub fn load(&self) -> Arc<KeySet> {
        self.shared.current.load_full()
    }

    /// Replaces the set; requests already being verified finish with the old one.
    ///
    /// A set of exactly the current keys (the same algorithms, `kid`s and key material, in any
    /// order: a reloaded PEM file, a refetched JWKS) keeps the current set's identity, so the
    /// [verified-token cache](crate::Verifier::cache_verified_tokens) keeps its entries. Any
    /// other set is new: no token verified under the current one is a cache hit once it is
    /// in place.
    pub fn replace(&self, mut keys: KeySet) {
        let _writing = self
            .shared
            .writing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        keys.inherit_identity(&self.shared.current.load());
        self.shared
            .symmetric
            .store(keys.is_symmetric(), Ordering::Relaxed);
        let id = keys.id();
        self.shared.current.store(Arc::new(keys));
        self.shared.id.store(id, Ordering::Release);
    }

    pub(crate) fn with_current<R>(&self, f: impl FnOnce(&KeySet) -> R) -> R {
        f(&self.shared.current.load())
    }

    /// The current set's identity, without loading the set. A request that races a
    /// [`replace`](Self::replace) may read the previous set's, as it may load the previous set.
    pub(crate) fn current_id(&self) -> u64 {
        self.shared.id.load(Ordering::Acquire)
    }

    /// Whether the current set holds shared secrets. A hint for choosing a path: a request
    /// that races a [`replace`](Self::replace) may read the previous set's answer.
    pub(crate) fn is_symmetric(&self) -> bool {
        self.shared.symmetric.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyStore")
            .field(&self.shared.current.load())
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

//! The revocation hook, called once a token's signature and claims have passed.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// An error from a revocation backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the revocation hook sees of a verified token.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct TokenInfo<'a> {
    /// `iss`, if present.
    pub issuer: Option<&'a str>,
    /// `sub`, if present.
    pub subject: Option<&'a str>,
    /// `jti`, if present.
    pub jwt_id: Option<&'a str>,
    /// `exp`, if present.
    pub expires_at: Option<i64>,
    /// `iat`, if present.
    pub issued_at: Option<i64>,
}

/// The answer of a [`Revocation`] hook: `Ok(true)` when the token is revoked.
///
/// A hook that can answer at once (an in-memory list) returns [`RevocationCheck::Ready`] and
/// costs no allocation; one that needs I/O returns a boxed future, which must own what it needs.
/// An `Err` refuses the request with 503 (fail closed), never lets it through.
pub enum RevocationCheck {
    /// The answer, now.
    Ready(Result<bool, BoxError>),
    /// The answer, later.
    Pending(Pin<Box<dyn Future<Output = Result<bool, BoxError>> + Send>>),
}

impl fmt::Debug for RevocationCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevocationCheck::Ready(answer) => f.debug_tuple("Ready").field(answer).finish(),
            RevocationCheck::Pending(_) => f.write_str("Pending"),
        }
    }
}

/// Decides whether a verified token has been revoked.
///
/// Implemented for closures `Fn(&TokenInfo<'_>) -> RevocationCheck`.
pub trait Revocation: Send + Sync + 'static {
    /// Checks one token.
    fn check(&self, token: &TokenInfo<'_>) -> RevocationCheck;
}

impl<F> Revocation for F
where
    F: Fn(&TokenInfo<'_>) -> RevocationCheck + Send + Sync + 'static,
{
    fn check(&self, token: &TokenInfo<'_>) -> RevocationCheck {
        self(token)
    }
}

/// One revoked token of a given `jti`: its issuer and expiry.
type Entry = (Option<Box<str>>, i64);

/// An in-memory denylist keyed by (`iss`, `jti`), whose entries are dropped once the token
/// they name has expired.
///
/// Clones share the same list. Reads take a read lock held only for a hash lookup, never across
/// I/O.
#[derive(Clone, Default)]
pub struct InMemoryDenylist {
    // jti -> [(iss, exp)]: looked up by the borrowed jti without allocating.
    entries: Arc<RwLock<HashMap<Box<str>, Vec<Entry>>>>,
}

impl InMemoryDenylist {
    /// An empty list.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Revokes the token with this `iss` (if any) and `jti`, until `expires_at` (its `exp`).
    pub fn revoke(&self, issuer: Option<&str>, jwt_id: &str, expires_at: i64) {
        let now = now();
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, list| {
            list.retain(|(_, exp)| *exp >= now);
            !list.is_empty()
        });
        let list = entries.entry(jwt_id.into()).or_default();
        match list.iter_mut().find(|(iss, _)| iss.as_deref() == issuer) {
            Some(entry) => entry.1 = entry.1.max(expires_at),
            None => list.push((issuer.map(Box::from), expires_at)),
        }
    }

    /// Whether the token with this `iss` and `jti` is revoked.
    #[must_use]
    pub fn is_revoked(&self, issuer: Option<&str>, jwt_id: &str) -> bool {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(jwt_id).is_some_and(|list| {
            list.iter()
                .any(|(iss, exp)| iss.as_deref() == issuer && *exp >= now())
        })
    }

    /// How many tokens are listed (expired ones included until the next [`revoke`](Self::revoke)).
    #[must_use]
    pub fn len(&self) -> usize {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.values().map(Vec::len).sum()
    }

    /// Whether the list is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Revocation for InMemoryDenylist {
    fn check(&self, token: &TokenInfo<'_>) -> RevocationCheck {
        let revoked = token
            .jwt_id
            .is_some_and(|jti| self.is_revoked(token.issuer, jti));
        RevocationCheck::Ready(Ok(revoked))
    }
}

impl fmt::Debug for InMemoryDenylist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryDenylist")
            .field("len", &self.len())
            .finish()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_entries_match_issuer_and_id_and_expire_with_the_token() {
        let list = InMemoryDenylist::new();
        let later = now() + 600;
        list.revoke(Some("iss"), "j1", later);
        assert!(list.is_revoked(Some("iss"), "j1"));
        assert!(!list.is_revoked(Some("other"), "j1"));
        assert!(!list.is_revoked(None, "j1"));
        assert!(!list.is_revoked(Some("iss"), "j2"));
        list.revoke(None, "old", now() - 10);
        assert!(!list.is_revoked(None, "old"));
        // The next write drops the expired entry.
        list.revoke(None, "j3", later);
        assert_eq!(list.len(), 2);
    }
}

//! The revocation hook, called once a token's signature and claims have passed.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// An error from a revocation backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the revocation hook sees of a verified token.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct TokenInfo<'a> {
    /// `iss`, if present.
    pub issuer: Option<&'a str>,
    /// `sub`, if present.
    pub subject: Option<&'a str>,
    /// `jti`, if present.
    pub jwt_id: Option<&'a str>,
    /// `sid`, if present: the session (refresh-token family) the token was issued in.
    pub session_id: Option<&'a str>,
    /// `exp`, if present.
    pub expires_at: Option<i64>,
    /// `iat`, if present.
    pub issued_at: Option<i64>,
    /// The verifier's leeway, in seconds: it accepts the token until `exp` plus this, so a
    /// denylist must remember a revoked token at least that long.
    pub leeway: i64,
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

/// One revoked token (or session) of a given id: its issuer and the `exp` after which (plus the
/// leeway) no token it names can be accepted.
type Entry = (Option<Box<str>>, i64);

/// id -> [(iss, exp)]: looked up by the borrowed id without allocating.
type Index = HashMap<Box<str>, Vec<Entry>>;

#[derive(Default)]
struct Lists {
    /// By `jti`: one token each.
    tokens: Index,
    /// By `sid`: every token issued in a session (a refresh-token family).
    sessions: Index,
}

/// An in-memory denylist keyed by (`iss`, `jti`), and by (`iss`, `sid`) for whole sessions.
///
/// An entry is kept until the token it names can no longer be accepted: its `exp` plus the
/// largest leeway of the verifiers that asked about it (60 s, the default leeway, at least).
/// A listed token is refused whatever the time; only the clean-up of old entries reads the
/// clock, the system's by default: give the denylist the [`Validation`]'s clock with
/// [`InMemoryDenylist::clock`] when that one is not the system's (tests, replays).
///
/// Clones share the same list. Reads take a read lock held only for a hash lookup, never across
/// I/O.
///
/// [`Validation`]: crate::Validation
#[derive(Clone)]
pub struct InMemoryDenylist {
    lists: Arc<RwLock<Lists>>,
    /// How long past `exp` an entry is kept: the largest leeway seen, at least the default.
    retention: Arc<AtomicI64>,
    clock: Option<Arc<dyn Fn() -> i64 + Send + Sync>>,
}

/// The least retention past `exp`: the default leeway of [`Validation`](crate::Validation).
const MIN_RETENTION: i64 = 60;

impl Default for InMemoryDenylist {
    fn default() -> Self {
        Self {
            lists: Arc::default(),
            retention: Arc::new(AtomicI64::new(MIN_RETENTION)),
            clock: None,
        }
    }
}

impl InMemoryDenylist {
    /// An empty list.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps entries at least `leeway` past their token's `exp`: give it the leeway of the
    /// [`Validation`](crate::Validation)s that use the list when it exceeds the default 60 s.
    /// (The list also learns the leeway of each verifier that asks it, but only from its first
    /// check on: set it here so a revocation made before any check is kept long enough.)
    #[must_use]
    pub fn leeway(self, leeway: std::time::Duration) -> Self {
        let secs = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
        self.retention.fetch_max(secs, Ordering::Relaxed);
        self
    }

    /// Reads the time (seconds since the Unix epoch) from `now` instead of the system clock:
    /// give it the clock given to [`Validation::clock`](crate::Validation::clock).
    #[must_use]
    pub fn clock(mut self, now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(now));
        self
    }

    fn now(&self) -> i64 {
        self.clock.as_ref().map_or_else(now, |clock| clock())
    }

    /// The largest leeway in use, in seconds: how long past `exp` an entry is kept.
    #[must_use]
    pub fn retention(&self) -> i64 {
        self.retention.load(Ordering::Relaxed)
    }

    /// Revokes the token with this `iss` (if any) and `jti`, until it can no longer be accepted:
    /// `expires_at` (its `exp`) plus the largest leeway in use. A token without `exp` (under
    /// `Validation::require_exp(false)`) never expires: pass `i64::MAX`.
    pub fn revoke(&self, issuer: Option<&str>, jwt_id: &str, expires_at: i64) {
        self.insert(issuer, jwt_id, expires_at, |lists| &mut lists.tokens);
    }

    /// Revokes every token with this `iss` (if any) and `sid`: a session (a refresh-token
    /// family) ended by a logout or a detected reuse. `last_expiry` is the latest `exp` any of
    /// its tokens can carry (the revocation time plus the access-token lifetime does); the entry
    /// is kept until then plus the largest leeway in use.
    pub fn revoke_session(&self, issuer: Option<&str>, session_id: &str, last_expiry: i64) {
        self.insert(issuer, session_id, last_expiry, |lists| &mut lists.sessions);
    }

    fn insert(
        &self,
        issuer: Option<&str>,
        id: &str,
        expires_at: i64,
        index: impl FnOnce(&mut Lists) -> &mut Index,
    ) {
        let now = self.now();
        let retention = self.retention();
        let mut guard = self.lists.write().unwrap_or_else(|e| e.into_inner());
        let lists = &mut *guard;
        for old in [&mut lists.tokens, &mut lists.sessions] {
            old.retain(|_, list| {
                list.retain(|(_, exp)| exp.saturating_add(retention) >= now);
                !list.is_empty()
            });
        }
        let list = index(lists).entry(id.into()).or_default();
        match list.iter_mut().find(|(iss, _)| iss.as_deref() == issuer) {
            Some(entry) => entry.1 = entry.1.max(expires_at),
            None => list.push((issuer.map(Box::from), expires_at)),
        }
    }

    /// Whether the token with this `iss` and `jti` is listed. The time plays no part: a token
    /// past its `exp` and leeway is refused by the verifier anyway.
    #[must_use]
    pub fn is_revoked(&self, issuer: Option<&str>, jwt_id: &str) -> bool {
        let lists = self.lists.read().unwrap_or_else(|e| e.into_inner());
        listed(&lists.tokens, issuer, jwt_id)
    }

    /// Whether the session with this `iss` and `sid` is revoked.
    #[must_use]
    pub fn is_session_revoked(&self, issuer: Option<&str>, session_id: &str) -> bool {
        let lists = self.lists.read().unwrap_or_else(|e| e.into_inner());
        listed(&lists.sessions, issuer, session_id)
    }

    /// Whether a token with these `iss`, `jti` and `sid` is refused: its own entry or its
    /// session's.
    fn refuses(
        &self,
        issuer: Option<&str>,
        jwt_id: Option<&str>,
        session_id: Option<&str>,
    ) -> bool {
        let lists = self.lists.read().unwrap_or_else(|e| e.into_inner());
        jwt_id.is_some_and(|jti| listed(&lists.tokens, issuer, jti))
            || session_id.is_some_and(|sid| listed(&lists.sessions, issuer, sid))
    }

    /// How many tokens and sessions are listed (expired ones included until the next write).
    #[must_use]
    pub fn len(&self) -> usize {
        let lists = self.lists.read().unwrap_or_else(|e| e.into_inner());
        lists.tokens.values().map(Vec::len).sum::<usize>()
            + lists.sessions.values().map(Vec::len).sum::<usize>()
    }

    /// Whether the list is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every entry: for a mirror about to be reloaded from its source.
    pub fn clear(&self) {
        let mut lists = self.lists.write().unwrap_or_else(|e| e.into_inner());
        *lists = Lists::default();
    }
}

fn listed(index: &Index, issuer: Option<&str>, id: &str) -> bool {
    index
        .get(id)
        .is_some_and(|list| list.iter().any(|(iss, _)| iss.as_deref() == issuer))
}

impl Revocation for InMemoryDenylist {
    fn check(&self, token: &TokenInfo<'_>) -> RevocationCheck {
        // Remember the largest leeway in use, so no entry is dropped while a verifier could
        // still accept its token.
        if token.leeway > self.retention.load(Ordering::Relaxed) {
            self.retention.fetch_max(token.leeway, Ordering::Relaxed);
        }
        let revoked = self.refuses(token.issuer, token.jwt_id, token.session_id);
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
        // Expired 10 s ago, but a verifier accepts it for its leeway (60 s by default).
        list.revoke(None, "recent", now() - 10);
        assert!(list.is_revoked(None, "recent"));
        list.revoke(None, "old", now() - 120);
        // The next write drops the entry past its exp and leeway, and only that one.
        list.revoke(None, "j3", later);
        assert!(!list.is_revoked(None, "old"));
        assert!(list.is_revoked(None, "recent"));
        assert_eq!(list.len(), 3);
    }

    #[test]
    fn entries_are_kept_for_the_largest_leeway_seen_by_the_lists_clock() {
        let clock = Arc::new(AtomicI64::new(1_000_000));
        let list = {
            let clock = Arc::clone(&clock);
            InMemoryDenylist::new().clock(move || clock.load(Ordering::SeqCst))
        };
        let info = TokenInfo {
            issuer: None,
            subject: None,
            jwt_id: Some("j"),
            session_id: None,
            expires_at: Some(1_000_000),
            issued_at: None,
            leeway: 300,
        };
        list.revoke(None, "j", 1_000_000);
        assert!(matches!(
            list.check(&info),
            RevocationCheck::Ready(Ok(true))
        ));
        // 200 s past exp: within the 300 s leeway the verifier reported, the entry stays.
        clock.store(1_000_200, Ordering::SeqCst);
        list.revoke(None, "other", 2_000_000);
        assert!(list.is_revoked(None, "j"));
        // Past exp + 300 s, the next write drops it.
        clock.store(1_000_301, Ordering::SeqCst);
        list.revoke(None, "other", 2_000_000);
        assert!(!list.is_revoked(None, "j"));
    }

    #[test]
    fn a_leeway_given_up_front_holds_before_any_check() {
        let clock = Arc::new(AtomicI64::new(1_000_000));
        let list = {
            let clock = Arc::clone(&clock);
            InMemoryDenylist::new()
                .leeway(std::time::Duration::from_secs(300))
                .clock(move || clock.load(Ordering::SeqCst))
        };
        // Revoked 100 s after its exp, no check made yet: a 300 s leeway still accepts it.
        clock.store(1_000_100, Ordering::SeqCst);
        list.revoke(None, "j", 1_000_000);
        list.revoke(None, "other", 2_000_000);
        assert!(list.is_revoked(None, "j"));
    }

    #[test]
    fn a_revoked_session_refuses_every_token_in_it_until_its_last_expiry() {
        let clock = Arc::new(AtomicI64::new(1_000_000));
        let list = {
            let clock = Arc::clone(&clock);
            InMemoryDenylist::new().clock(move || clock.load(Ordering::SeqCst))
        };
        let token = |jti, sid| TokenInfo {
            issuer: Some("iss"),
            subject: None,
            jwt_id: Some(jti),
            session_id: sid,
            expires_at: Some(1_000_900),
            issued_at: None,
            leeway: 60,
        };
        let refused =
            |info: &TokenInfo<'_>| matches!(list.check(info), RevocationCheck::Ready(Ok(true)));
        assert!(!refused(&token("a", Some("s1"))));
        list.revoke_session(Some("iss"), "s1", 1_000_900);
        assert!(refused(&token("a", Some("s1"))));
        assert!(refused(&token("b", Some("s1"))));
        assert!(!refused(&token("a", Some("s2"))));
        assert!(!refused(&token("a", None)));
        assert!(list.is_session_revoked(Some("iss"), "s1"));
        assert!(!list.is_session_revoked(None, "s1"));
        assert!(
            !list.is_revoked(Some("iss"), "s1"),
            "sessions and tokens are apart"
        );
        // Kept through the last expiry plus the leeway, then dropped at the next write.
        clock.store(1_000_960, Ordering::SeqCst);
        list.revoke(None, "other", 2_000_000);
        assert!(list.is_session_revoked(Some("iss"), "s1"));
        clock.store(1_000_961, Ordering::SeqCst);
        list.revoke(None, "other", 2_000_000);
        assert!(!list.is_session_revoked(Some("iss"), "s1"));
        list.clear();
        assert!(list.is_empty());
    }
}

//! The storage contract of sessions: refresh-token families and revocations.

use std::fmt;
use std::future::Future;

use crate::verify::revocation::BoxError;

/// The SHA-256 of a refresh token: all a store ever holds of one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// The bytes, for a store's column.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// From a store's column: `None` unless exactly 32 bytes.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to tell two apart in a log, and a hash is no secret.
        write!(f, "TokenHash(")?;
        for byte in &self.0[..6] {
            write!(f, "{byte:02x}")?;
        }
        write!(f, "…)")
    }
}

/// One login's chain of refresh tokens: what its access tokens carry as `sid`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Family {
    /// Random, 128-bit, base64url: the `sid` of every access token issued in the family.
    pub id: String,
    /// The user the family was started for (the token's `sub`).
    pub user_id: String,
    /// The scopes granted at login, space-separated: a refresh may narrow them, never widen.
    pub scope: String,
    /// When the login happened (seconds since the Unix epoch).
    pub created_at: i64,
    /// The absolute expiry: no token of the family is accepted from then on.
    pub expires_at: i64,
    /// When the family was revoked, if it was.
    pub revoked_at: Option<i64>,
}

impl Family {
    /// A family as a store reads it back.
    #[must_use]
    pub fn new(
        id: impl Into<String>,
        user_id: impl Into<String>,
        scope: impl Into<String>,
        created_at: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            id: id.into(),
            user_id: user_id.into(),
            scope: scope.into(),
            created_at,
            expires_at,
            revoked_at: None,
        }
    }

    /// Marks it revoked at `at`.
    #[must_use]
    pub fn revoked(mut self, at: Option<i64>) -> Self {
        self.revoked_at = at;
        self
    }
}

/// What [`RefreshStore::rotate`] concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rotation {
    /// The presented token was the family's current one (or its immediate predecessor within
    /// the grace period): the new token is now current.
    Rotated(Family),
    /// The presented token was used before: the family has been revoked in the same step.
    Reused(Family),
    /// The family had been revoked before (a logout, a reuse, a disabled user).
    Revoked,
    /// The token's idle lifetime or the family's absolute one has passed.
    Expired,
    /// No family holds this token.
    Unknown,
}

/// The timing rules of one rotation, all in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotationRules {
    /// The time of the rotation (seconds since the Unix epoch).
    pub now: i64,
    /// The new token's idle lifetime: it expires at `now + idle` or at the family's absolute
    /// expiry, whichever comes first.
    pub idle: i64,
    /// How long after the current token was first rotated its immediate predecessor may still
    /// be rotated (a client whose response was lost); 0 turns the grace off.
    pub grace: i64,
}

impl RotationRules {
    /// Rules for a rotation at `now`.
    #[must_use]
    pub fn new(now: i64, idle: i64, grace: i64) -> Self {
        Self { now, idle, grace }
    }
}

/// A revocation kept by a [`RevocationStore`], to seed a denylist at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revoked {
    /// One access token, by (`iss`, `jti`), until its `exp`.
    Token {
        /// Its `iss`.
        issuer: Option<String>,
        /// Its `jti`.
        jwt_id: String,
        /// Its `exp`.
        expires_at: i64,
    },
    /// A refresh-token family, and so every access token whose `sid` is its id.
    Session {
        /// The family's id.
        family_id: String,
        /// When it was revoked: its access tokens were all issued before.
        revoked_at: i64,
    },
}

/// Where refresh-token families live.
///
/// The whole protocol of refresh tokens is in [`rotate`](Self::rotate), which a store must
/// carry out as ONE atomic step (a conditional write inside a transaction, never a read
/// followed by a write decided in Rust): of any number of concurrent rotations of one token,
/// exactly one may succeed. The conformance suite in `tower_jwt_auth::testkit` (feature
/// `testkit`) checks a store against this contract, races included.
///
/// Times are seconds since the Unix epoch, passed in by the caller (so tests can move them).
/// An `Err` is a store failure: the caller answers 503 and nothing may have changed.
pub trait RefreshStore: Send + Sync + 'static {
    /// Starts a family whose current token is `first`, expiring (idle) at `first_expires_at`.
    fn create_family(
        &self,
        family: &Family,
        first: &TokenHash,
        first_expires_at: i64,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// The family holding `token` in any generation, revoked or not.
    fn family_of(
        &self,
        token: &TokenHash,
    ) -> impl Future<Output = Result<Option<Family>, BoxError>> + Send;

    /// Rotates `presented` to `next`, in one atomic step:
    ///
    /// 1. `presented` is the family's current token, the family is not revoked, the token's
    ///    idle expiry and the family's absolute expiry are both after `rules.now`: `next` becomes
    ///    current (its idle expiry `min(now + idle, family expiry)`), `presented` becomes the
    ///    predecessor, the time is kept as the rotation time → [`Rotation::Rotated`].
    /// 2. Otherwise, classified: no family holds `presented` → [`Rotation::Unknown`]; the
    ///    family was revoked → [`Rotation::Revoked`]; `presented` is current but expired, or
    ///    the family is past its absolute expiry → [`Rotation::Expired`];
    /// 3. `presented` is the immediate predecessor of the current token, `grace > 0` and
    ///    `now < rotation time + grace`: `next` replaces the current token (the rotation time
    ///    is kept, so the grace does not extend itself) → [`Rotation::Rotated`];
    /// 4. any other older token: the family is revoked at `now` → [`Rotation::Reused`].
    fn rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        rules: RotationRules,
    ) -> impl Future<Output = Result<Rotation, BoxError>> + Send;

    /// Revokes the family with this id at `now` (kept revoked if it already was); `None` when
    /// there is no such family.
    fn revoke_family(
        &self,
        family_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<Family>, BoxError>> + Send;

    /// Deletes the families whose absolute expiry is before `before`, with their tokens;
    /// returns how many.
    fn purge_expired(&self, before: i64) -> impl Future<Output = Result<u64, BoxError>> + Send;
}

/// Where revocations outlive the process: the denylist of each instance is seeded from it.
pub trait RevocationStore: Send + Sync + 'static {
    /// Records the revocation of the access token (`iss`, `jti`) until `expires_at`.
    fn revoke_token(
        &self,
        issuer: Option<&str>,
        jwt_id: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Every access token revoked whose `exp` is at or after `tokens_after`, and every family
    /// revoked at or after `sessions_after`.
    fn revocations(
        &self,
        tokens_after: i64,
        sessions_after: i64,
    ) -> impl Future<Output = Result<Vec<Revoked>, BoxError>> + Send;
}

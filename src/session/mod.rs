//! Sessions that outlive an access token: refresh tokens with rotation and reuse detection
//! (RFC 6749 §6, RFC 9700 §2.2.2 and §4.14), and revocation (RFC 7009).
//!
//! A successful password grant starts a *family*: a chain of refresh tokens, one current at a
//! time, whose id is the `sid` claim of every access token issued in it. Each refresh rotates
//! the chain: the presented token is spent and a new one issued. Presenting a spent token again
//! means two parties hold the chain (a stolen token): the whole family is revoked, its newest
//! token included, and so are its access tokens, through the denylist's `sid` entries.
//!
//! ```
//! use axum::Router;
//! use tower_jwt_auth::login::{InMemoryUserStore, login_handler};
//! use tower_jwt_auth::login::password::{Argon2Hasher, PasswordPolicy};
//! use tower_jwt_auth::session::{InMemorySessionStore, Sessions, revocation_handler};
//! use tower_jwt_auth::verify::InMemoryDenylist;
//! use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[7; 32])?)
//!     .issuer("https://auth.example");
//! let denylist = InMemoryDenylist::new();
//! let sessions = Sessions::new(InMemorySessionStore::new(), issuer.clone(), denylist.clone());
//! let login = login_handler(InMemoryUserStore::new(), issuer.clone(), Argon2Hasher::new(PasswordPolicy::default())?)
//!     .sessions(sessions.clone());
//!
//! let app: Router = Router::new()
//!     .route_service("/login", login)
//!     .route_service("/revoke", revocation_handler(sessions))
//!     // Every protected route consults the denylist: revoked tokens and sessions are refused.
//!     .layer(issuer.layer().revocation(denylist));
//! # Ok(()) }
//! ```
//!
//! Refresh tokens are 256 random bits, base64url-encoded (43 characters); a store holds only
//! their SHA-256 ([`TokenHash`]), and no log line or error body carries one.

mod memory;
mod revoke;
mod store;

pub use memory::InMemorySessionStore;
pub use revoke::{RevocationService, revocation_handler};
pub use store::{
    Family, RefreshStore, RevocationStore, Revoked, Rotation, RotationRules, TokenHash,
};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::TokenIssuer;
use crate::verify::Verifier;
use crate::verify::revocation::{BoxError, InMemoryDenylist};

/// The longest grace period [`RefreshPolicy::grace`] sets: 60 s.
pub const MAX_GRACE: Duration = Duration::from_secs(60);

/// How long refresh tokens and their families live.
#[derive(Clone)]
#[non_exhaustive]
pub struct RefreshPolicy {
    /// A token unused this long expires. Default 7 days.
    pub idle: Duration,
    /// A family ends this long after its login, however often it was refreshed. Default 30
    /// days; a rotated token never outlives it.
    pub absolute: Duration,
    /// How long the immediate predecessor of the current token may still be rotated after its
    /// first use (a client whose response was lost). Default 0, at most [`MAX_GRACE`].
    pub grace: Duration,
    clock: Option<Arc<dyn Fn() -> i64 + Send + Sync>>,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(7 * 24 * 60 * 60),
            absolute: Duration::from_secs(30 * 24 * 60 * 60),
            grace: Duration::ZERO,
            clock: None,
        }
    }
}

impl RefreshPolicy {
    /// Sets the idle and the absolute lifetime (the idle one at most the absolute one).
    #[must_use]
    pub fn lifetimes(mut self, idle: Duration, absolute: Duration) -> Self {
        self.absolute = absolute.max(Duration::from_secs(1));
        self.idle = idle.clamp(Duration::from_secs(1), self.absolute);
        self
    }

    /// Sets the grace period of the immediate predecessor, capped at [`MAX_GRACE`]: beyond a
    /// lost response's retry, a grace only widens the window a stolen token can be used in.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace.min(MAX_GRACE);
        self
    }

    /// Reads the time (seconds since the Unix epoch) from `now` instead of the system clock.
    #[must_use]
    pub fn clock(mut self, now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(now));
        self
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.as_ref().map_or_else(unix_now, |clock| clock())
    }

    pub(crate) fn rules(&self, now: i64) -> RotationRules {
        RotationRules::new(now, secs(self.idle), secs(self.grace.min(MAX_GRACE)))
    }
}

impl fmt::Debug for RefreshPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshPolicy")
            .field("idle", &self.idle)
            .field("absolute", &self.absolute)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, secs)
}

/// A refresh token in clear: given once to the client, never stored, never logged.
#[derive(Clone)]
pub struct RefreshToken(Zeroizing<String>);

impl RefreshToken {
    /// 256 random bits from the system's generator, base64url without padding.
    ///
    /// # Errors
    ///
    /// When the system's random number generator fails.
    pub fn generate() -> Result<Self, BoxError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *bytes).map_err(|e| format!("random number generator: {e}"))?;
        Ok(Self(Zeroizing::new(URL_SAFE_NO_PAD.encode(*bytes))))
    }

    /// A token as a client presented it: `None` unless it has the shape of one (43 base64url
    /// characters), so that nothing else reaches a store.
    #[must_use]
    pub fn parse(presented: &str) -> Option<Self> {
        let shape = presented.len() == 43
            && presented
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        shape.then(|| Self(Zeroizing::new(presented.to_owned())))
    }

    /// The text to hand the client.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What a store keeps of it.
    #[must_use]
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(…)")
    }
}

/// A random family id: 128 bits, base64url.
pub(crate) fn new_family_id() -> Result<String, BoxError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("random number generator: {e}"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send + 'a>>;

/// [`RefreshStore`] and [`RevocationStore`] behind one object, so the services need no type
/// parameter for them.
trait DynStore: Send + Sync + 'static {
    fn create_family<'a>(
        &'a self,
        family: &'a Family,
        first: &'a TokenHash,
        first_expires_at: i64,
    ) -> BoxFuture<'a, ()>;
    fn family_of<'a>(&'a self, token: &'a TokenHash) -> BoxFuture<'a, Option<Family>>;
    fn rotate<'a>(
        &'a self,
        presented: &'a TokenHash,
        next: &'a TokenHash,
        rules: RotationRules,
    ) -> BoxFuture<'a, Rotation>;
    fn revoke_family<'a>(&'a self, family_id: &'a str, now: i64) -> BoxFuture<'a, Option<Family>>;
    fn revoke_token<'a>(
        &'a self,
        issuer: Option<&'a str>,
        jwt_id: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, ()>;
    fn revocations(&self, tokens_after: i64, sessions_after: i64) -> BoxFuture<'_, Vec<Revoked>>;
}

impl<S: RefreshStore + RevocationStore> DynStore for S {
    fn create_family<'a>(
        &'a self,
        family: &'a Family,
        first: &'a TokenHash,
        first_expires_at: i64,
    ) -> BoxFuture<'a, ()> {
        Box::pin(RefreshStore::create_family(
            self,
            family,
            first,
            first_expires_at,
        ))
    }
    fn family_of<'a>(&'a self, token: &'a TokenHash) -> BoxFuture<'a, Option<Family>> {
        Box::pin(RefreshStore::family_of(self, token))
    }
    fn rotate<'a>(
        &'a self,
        presented: &'a TokenHash,
        next: &'a TokenHash,
        rules: RotationRules,
    ) -> BoxFuture<'a, Rotation> {
        Box::pin(RefreshStore::rotate(self, presented, next, rules))
    }
    fn revoke_family<'a>(&'a self, family_id: &'a str, now: i64) -> BoxFuture<'a, Option<Family>> {
        Box::pin(RefreshStore::revoke_family(self, family_id, now))
    }
    fn revoke_token<'a>(
        &'a self,
        issuer: Option<&'a str>,
        jwt_id: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, ()> {
        Box::pin(RevocationStore::revoke_token(
            self, issuer, jwt_id, expires_at,
        ))
    }
    fn revocations(&self, tokens_after: i64, sessions_after: i64) -> BoxFuture<'_, Vec<Revoked>> {
        Box::pin(RevocationStore::revocations(
            self,
            tokens_after,
            sessions_after,
        ))
    }
}

/// Where a revocation goes once the store holds it: the denylist the verifying layer consults,
/// in this process ([`InMemoryDenylist`]) or shared by every instance (a Redis-fed mirror).
pub trait DenylistSink: Send + Sync + 'static {
    /// Refuses the access token (`iss`, `jti`) until `expires_at` plus the retention.
    fn revoke_token(
        &self,
        issuer: Option<&str>,
        jwt_id: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Refuses every access token of the session (`iss`, `sid`) until `last_expiry` plus the
    /// retention.
    fn revoke_session(
        &self,
        issuer: Option<&str>,
        session_id: &str,
        last_expiry: i64,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// How long past `exp` an entry is kept, in seconds: the largest leeway in use.
    fn retention(&self) -> i64;
}

impl DenylistSink for InMemoryDenylist {
    async fn revoke_token(
        &self,
        issuer: Option<&str>,
        jwt_id: &str,
        expires_at: i64,
    ) -> Result<(), BoxError> {
        self.revoke(issuer, jwt_id, expires_at);
        Ok(())
    }

    async fn revoke_session(
        &self,
        issuer: Option<&str>,
        session_id: &str,
        last_expiry: i64,
    ) -> Result<(), BoxError> {
        InMemoryDenylist::revoke_session(self, issuer, session_id, last_expiry);
        Ok(())
    }

    fn retention(&self) -> i64 {
        InMemoryDenylist::retention(self)
    }
}

/// [`DenylistSink`] as an object.
trait DynSink: Send + Sync + 'static {
    fn revoke_token<'a>(
        &'a self,
        issuer: Option<&'a str>,
        jwt_id: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, ()>;
    fn revoke_session<'a>(
        &'a self,
        issuer: Option<&'a str>,
        session_id: &'a str,
        last_expiry: i64,
    ) -> BoxFuture<'a, ()>;
    fn retention(&self) -> i64;
}

impl<D: DenylistSink> DynSink for D {
    fn revoke_token<'a>(
        &'a self,
        issuer: Option<&'a str>,
        jwt_id: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, ()> {
        Box::pin(DenylistSink::revoke_token(self, issuer, jwt_id, expires_at))
    }
    fn revoke_session<'a>(
        &'a self,
        issuer: Option<&'a str>,
        session_id: &'a str,
        last_expiry: i64,
    ) -> BoxFuture<'a, ()> {
        Box::pin(DenylistSink::revoke_session(
            self,
            issuer,
            session_id,
            last_expiry,
        ))
    }
    fn retention(&self) -> i64 {
        DenylistSink::retention(self)
    }
}

/// The session side of a token endpoint: a store of families and revocations, the issuer whose
/// tokens they concern, and the denylist the verifying layer consults.
///
/// Give it to [`LoginService::sessions`](crate::login::LoginService::sessions) (the password
/// grant then returns a `refresh_token`, and `grant_type=refresh_token` is accepted) and to
/// [`revocation_handler`]; give the same denylist to the layer
/// ([`JwtAuthLayer::revocation`](crate::JwtAuthLayer::revocation)). Clones share everything.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn DynStore>,
    issuer: TokenIssuer,
    /// Checks access tokens presented for revocation: built once (it shares the issuer's key
    /// store, so it follows rotations), not per request.
    verifier: Verifier,
    denylist: Arc<dyn DynSink>,
    policy: RefreshPolicy,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("issuer", &self.issuer)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What a successful refresh produced.
#[derive(Debug)]
pub(crate) struct Refreshed {
    pub(crate) family: Family,
    pub(crate) token: RefreshToken,
}

impl Sessions {
    /// Sessions kept in `store`, for the tokens of `issuer`, revoked through `denylist` (an
    /// [`InMemoryDenylist`] the layer consults, or any [`DenylistSink`]).
    pub fn new<S: RefreshStore + RevocationStore>(
        store: S,
        issuer: TokenIssuer,
        denylist: impl DenylistSink,
    ) -> Self {
        Self {
            store: Arc::new(store),
            verifier: issuer.verifier(),
            issuer,
            denylist: Arc::new(denylist),
            policy: RefreshPolicy::default(),
        }
    }

    /// Replaces the lifetimes and grace (see [`RefreshPolicy`]).
    #[must_use]
    pub fn policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The issuer whose tokens these sessions concern.
    #[must_use]
    pub fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// The lifetimes and grace.
    #[must_use]
    pub fn refresh_policy(&self) -> &RefreshPolicy {
        &self.policy
    }

    pub(crate) fn now(&self) -> i64 {
        self.policy.now()
    }

    /// The verifier of the issuer's access tokens.
    pub(crate) fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Seeds the denylist with every revocation in the store that can still matter (access
    /// tokens not yet past `exp` and leeway, families revoked within an access-token lifetime
    /// and leeway): call it at start-up, before serving, and whenever a shared denylist lost
    /// its data. Returns how many entries were loaded.
    ///
    /// # Errors
    ///
    /// When the store or the denylist fails.
    pub async fn load_revocations(&self) -> Result<usize, BoxError> {
        let now = self.now();
        let retention = self.denylist.retention();
        let lifetime = secs(self.issuer.token_lifetime());
        let revoked = self
            .store
            .revocations(
                now.saturating_sub(retention),
                now.saturating_sub(retention).saturating_sub(lifetime),
            )
            .await?;
        for entry in &revoked {
            match entry {
                Revoked::Token {
                    issuer,
                    jwt_id,
                    expires_at,
                } => {
                    self.denylist
                        .revoke_token(issuer.as_deref(), jwt_id, *expires_at)
                        .await?;
                }
                Revoked::Session {
                    family_id,
                    revoked_at,
                } => self.deny_session(family_id, *revoked_at).await?,
            }
        }
        Ok(revoked.len())
    }

    /// Every access token of the family is refused: none was issued after `revoked_at`, so
    /// none expires after `revoked_at` plus the token lifetime.
    async fn deny_session(&self, family_id: &str, revoked_at: i64) -> Result<(), BoxError> {
        let last = revoked_at.saturating_add(secs(self.issuer.token_lifetime()));
        self.denylist
            .revoke_session(self.issuer.issuer_name(), family_id, last)
            .await
    }

    /// Starts a family for `user_id` granted `scope`: its first refresh token.
    pub(crate) async fn start(
        &self,
        user_id: &str,
        scope: &str,
    ) -> Result<(Family, RefreshToken), BoxError> {
        let now = self.now();
        let expires_at = now.saturating_add(secs(self.policy.absolute));
        let family = Family::new(new_family_id()?, user_id, scope, now, expires_at);
        let token = RefreshToken::generate()?;
        let first_expires = now.saturating_add(secs(self.policy.idle)).min(expires_at);
        self.store
            .create_family(&family, &token.hash(), first_expires)
            .await?;
        Ok((family, token))
    }

    /// The family holding `token`, without changing anything.
    pub(crate) async fn family_of(&self, token: &RefreshToken) -> Result<Option<Family>, BoxError> {
        self.store.family_of(&token.hash()).await
    }

    /// Rotates `presented`. A reuse revokes the family's access tokens here too.
    pub(crate) async fn rotate(
        &self,
        presented: &RefreshToken,
    ) -> Result<Result<Refreshed, Rotation>, BoxError> {
        let next = RefreshToken::generate()?;
        let now = self.now();
        let rotation = self
            .store
            .rotate(&presented.hash(), &next.hash(), self.policy.rules(now))
            .await?;
        match rotation {
            Rotation::Rotated(family) => Ok(Ok(Refreshed {
                family,
                token: next,
            })),
            Rotation::Reused(family) => {
                tracing::warn!(
                    family = %family.id,
                    user = %family.user_id,
                    "refresh token reused: the family and its access tokens are revoked"
                );
                self.deny_session(&family.id, family.revoked_at.unwrap_or(now))
                    .await?;
                Ok(Err(Rotation::Reused(family)))
            }
            other => Ok(Err(other)),
        }
    }

    /// Ends the family with this id: its refresh tokens and its access tokens.
    ///
    /// # Errors
    ///
    /// When the store fails; nothing is revoked then.
    pub async fn end_session(&self, family_id: &str) -> Result<bool, BoxError> {
        let now = self.now();
        match self.store.revoke_family(family_id, now).await? {
            Some(family) => {
                self.deny_session(&family.id, family.revoked_at.unwrap_or(now))
                    .await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Revokes the refresh token's family (RFC 7009): `false` when no family holds it.
    pub(crate) async fn revoke_refresh_token(
        &self,
        token: &RefreshToken,
    ) -> Result<bool, BoxError> {
        match self.store.family_of(&token.hash()).await? {
            Some(family) => self.end_session(&family.id).await,
            None => Ok(false),
        }
    }

    /// Denylists one access token, durably first.
    pub(crate) async fn revoke_access_token(
        &self,
        issuer: Option<&str>,
        jwt_id: &str,
        expires_at: i64,
    ) -> Result<(), BoxError> {
        self.store.revoke_token(issuer, jwt_id, expires_at).await?;
        self.denylist.revoke_token(issuer, jwt_id, expires_at).await
    }
}

//! The password grant (RFC 6749 §4.3) as a tower service: [`login_handler`].
//!
//! ```
//! use axum::{Router, body::Body};
//! use http::{Request, StatusCode, header};
//! use http_body_util::BodyExt as _;
//! use tower::ServiceExt as _;
//! use tower_jwt_auth::login::{InMemoryUserStore, User, login_handler};
//! use tower_jwt_auth::login::password::{Argon2Hasher, PasswordPolicy};
//! use tower_jwt_auth::{Algorithm, Claims, SigningKey, TokenIssuer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hasher = Argon2Hasher::new(PasswordPolicy::default())?;
//! let users = InMemoryUserStore::new();
//! users.insert("ada", User::new("user-1", hasher.hash_blocking("correct horse")?, ["read"]));
//! let issuer = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[7; 32])?)
//!     .issuer("https://auth.example");
//!
//! let app: Router = Router::new()
//!     .route_service("/login", login_handler(users, issuer.clone(), hasher));
//!
//! let login = |password: &str| {
//!     let form = format!("grant_type=password&username=ada&password={password}");
//!     Request::post("/login")
//!         .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
//!         .body(Body::from(form))
//! };
//! let response = app.clone().oneshot(login("correct+horse")?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! let body = response.into_body().collect().await?.to_bytes();
//! let body: serde_json::Value = serde_json::from_slice(&body)?;
//! assert_eq!(body["token_type"], "Bearer");
//! assert_eq!(body["scope"], "read");
//! // The token `issuer.layer()` accepts on the protected routes.
//! let claims: Claims = issuer.verifier().verify(body["access_token"].as_str().unwrap())?;
//! assert_eq!(claims.sub.as_deref(), Some("user-1"));
//!
//! let response = app.oneshot(login("wrong")?).await?;
//! assert_eq!(response.status(), StatusCode::BAD_REQUEST); // `invalid_grant`
//! # Ok(()) }
//! ```
//!
//! # Requests
//!
//! `POST` with `application/x-www-form-urlencoded` (`grant_type=password`, `username`,
//! `password`, optional `scope`), or `application/json` (`{"username", "password", "scope"}`,
//! `grant_type` optional). Bodies above 16 KiB are refused (413).
//!
//! # Responses
//!
//! | outcome | status | body (`error`) |
//! |---|---|---|
//! | success | 200 | `{"access_token","token_type":"Bearer","expires_in","scope"}` |
//! | unknown user, wrong password, disabled account | 400 | `invalid_grant`, identical for the three |
//! | missing or repeated parameter, password over the cap | 400 | `invalid_request` |
//! | `grant_type` other than `password` | 400 | `unsupported_grant_type` |
//! | none of the requested scopes held | 400 | `invalid_scope` |
//! | other content type | 415 | `invalid_request` |
//! | body too large | 413 | `invalid_request` |
//! | method other than `POST` | 405, `Allow: POST` | `invalid_request` |
//! | too many failed attempts on the account | 429, `Retry-After` | `slow_down` |
//! | hashing pool saturated, user store failing | 503, `Retry-After` | `temporarily_unavailable` |
//!
//! Every response carries `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
//!
//! # Timing
//!
//! An unknown user, a wrong password, a disabled account and an account whose stored hash cannot
//! be read (an SSO-only account stored as `""` or `"!"`) each cost exactly one password
//! verification at the policy's parameters (an unknown user and an unreadable hash are checked
//! against a dummy hash), and each counts as one failed attempt, so neither the answer nor its
//! timing tells them apart. Password work runs on the hasher's own threads, never on the async
//! executor.
//!
//! One caveat remains: an account whose stored hash was written with other parameters than the
//! policy's is verified at *its* parameters, faster or slower than the others (up to
//! `max_stored_m_cost_kib`), until its owner's next successful login replaces it by a hash at
//! the policy. Timing can tell such accounts apart until then. Rehash imported hashes in bulk where you can, or change the policy only together with
//! a migration. The same holds for bcrypt hashes imported with the feature `legacy-hashes`: each
//! is verified at its own cost (a few hundred milliseconds at passlib's default of 12, up to
//! `max_stored_bcrypt_cost`), far slower than the default argon2id, until its owner's next
//! successful login replaces it (see
//! [Legacy hashes](password#legacy-hashes-feature-legacy-hashes)).
//!
//! # Throttling
//!
//! Every attempt is counted before its password is checked, under the account the store found
//! (its id) or, for an unknown user, the normalised name (see [`ThrottlePolicy`]): a burst of
//! parallel wrong passwords costs at most `free_failures + 1` verifications. The throttle is per
//! account; put a per-client rate limit in front of the endpoint against password spraying
//! (the example server uses `tower_governor`).

pub mod password;
mod refresh;
mod store;
mod throttle;

pub use store::{InMemoryUserStore, User, UserStore};
pub use throttle::{
    InMemoryThrottle, InMemoryTicket, MAX_THROTTLE_DELAY, ThrottleClock, ThrottlePolicy,
    ThrottleStore,
};

use std::any::Any;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, PRAGMA, RETRY_AFTER};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use serde::Deserialize;
use tower_service::Service;
use zeroize::Zeroizing;

use crate::issue::{IssuedToken, TokenIssuer};
use crate::login::password::{PasswordError, PasswordHashing, Verification};
use crate::session::{RefreshToken, Sessions};
use crate::verify::revocation::BoxError;
use throttle::{account_key, unknown_name_key};

/// Default cap on a login request's body: 16 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;
/// Longest username accepted, in bytes.
const MAX_USERNAME_LEN: usize = 256;

/// The login service: checks a username and password, answers with an access token.
///
/// `users` finds accounts, `issuer` signs tokens, `hasher` checks passwords off the executor
/// (an [`Argon2Hasher`](crate::login::password::Argon2Hasher), or any [`PasswordHashing`]). See the
/// [module docs](self) for the protocol. Mount it with `Router::route_service` in axum, as a
/// hyper service, or beside tonic services on the same port.
pub fn login_handler<U, H>(users: U, issuer: TokenIssuer, hasher: H) -> LoginService<U, H>
where
    U: UserStore,
    H: PasswordHashing,
{
    LoginService {
        shared: Arc::new(Shared {
            users,
            issuer,
            hasher,
        }),
        throttle: Arc::new(InMemoryThrottle::new(ThrottlePolicy::default())),
        body_limit: DEFAULT_BODY_LIMIT,
        sessions: None,
    }
}

/// The service made by [`login_handler`]. Cheap to clone; clones share the throttling records.
pub struct LoginService<U, H> {
    shared: Arc<Shared<U, H>>,
    throttle: Arc<dyn DynThrottle>,
    body_limit: usize,
    sessions: Option<Sessions>,
}

struct Shared<U, H> {
    users: U,
    issuer: TokenIssuer,
    hasher: H,
}

impl<U, H> LoginService<U, H> {
    /// Replaces the throttling policy of failed attempts (see [`ThrottlePolicy`]).
    #[must_use]
    pub fn throttle(mut self, policy: ThrottlePolicy) -> Self {
        self.throttle = Arc::new(InMemoryThrottle::new(policy));
        self
    }

    /// Keeps the failed-attempt records in `store` instead of this process's memory: a store
    /// shared by every instance (Redis) gives an attacker the free failures once in all.
    #[must_use]
    pub fn throttle_store(mut self, store: impl ThrottleStore) -> Self {
        self.throttle = Arc::new(store);
        self
    }

    /// Caps the request body (default 16 KiB), over HTTP and, through
    /// `tonic::auth::AuthServer`, the gRPC `Login` message.
    #[must_use]
    pub fn body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    /// Keeps sessions: a successful password grant also returns a `refresh_token`, and
    /// `grant_type=refresh_token` is accepted (see [`crate::session`]). Give it the issuer
    /// given to [`login_handler`].
    #[must_use]
    pub fn sessions(mut self, sessions: Sessions) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// The cap on a request body or `Login` message, in bytes.
    #[must_use]
    pub fn max_body_len(&self) -> usize {
        self.body_limit
    }
}

impl<U, H> Clone for LoginService<U, H> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            throttle: Arc::clone(&self.throttle),
            body_limit: self.body_limit,
            sessions: self.sessions.clone(),
        }
    }
}

impl<U, H> fmt::Debug for LoginService<U, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginService")
            .field("issuer", &self.shared.issuer)
            .field("body_limit", &self.body_limit)
            .field("sessions", &self.sessions.is_some())
            .finish_non_exhaustive()
    }
}

impl<U, H, B> Service<Request<B>> for LoginService<U, H>
where
    U: UserStore,
    H: PasswordHashing,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let response = match this.login(request).await {
                Ok(response) => response,
                Err(failure) => failure.into_response(),
            };
            Ok(response)
        })
    }
}

/// Why [`LoginService::authenticate`] issued no token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginError {
    /// The request is malformed (empty or over-long username, password over the cap).
    InvalidRequest(&'static str),
    /// Unknown user, wrong password or disabled account: deliberately one answer.
    InvalidGrant,
    /// A refresh token that is invalid, expired, revoked or reused (`invalid_grant` too).
    InvalidRefresh,
    /// None of the requested scopes is held by the user.
    InvalidScope,
    /// Too many failed attempts on this account; retry after the delay.
    Throttled {
        /// How long the account stays blocked.
        retry_after: Duration,
    },
    /// The hashing pool is saturated or a backend failed; retry shortly.
    Unavailable(&'static str),
}

impl LoginError {
    /// The RFC 6749 §5.2 error code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            LoginError::InvalidRequest(_) => "invalid_request",
            LoginError::InvalidGrant | LoginError::InvalidRefresh => "invalid_grant",
            LoginError::InvalidScope => "invalid_scope",
            LoginError::Throttled { .. } => "slow_down",
            LoginError::Unavailable(_) => "temporarily_unavailable",
        }
    }

    /// A description safe to show the client.
    #[must_use]
    pub const fn description(&self) -> &'static str {
        match self {
            LoginError::InvalidRequest(why) | LoginError::Unavailable(why) => why,
            LoginError::InvalidGrant => "the username or password is incorrect",
            LoginError::InvalidRefresh => "the refresh token is invalid, expired or revoked",
            LoginError::InvalidScope => "none of the requested scopes can be granted",
            LoginError::Throttled { .. } => "too many failed attempts; retry later",
        }
    }
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.description())
    }
}

impl std::error::Error for LoginError {}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send + 'a>>;

/// A reservation of any [`ThrottleStore`].
type AnyTicket = Box<dyn Any + Send>;

/// [`ThrottleStore`] as an object, so the service needs no type parameter for it.
trait DynThrottle: Send + Sync + 'static {
    fn reserve<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<AnyTicket, Duration>>;
    fn succeeded(&self, ticket: AnyTicket) -> BoxFuture<'_, ()>;
    fn cancel(&self, ticket: AnyTicket) -> BoxFuture<'_, ()>;
}

impl<T: ThrottleStore> DynThrottle for T {
    fn reserve<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<AnyTicket, Duration>> {
        Box::pin(async move {
            let reserved = ThrottleStore::reserve(self, keys).await?;
            Ok(reserved.map(|ticket| Box::new(ticket) as AnyTicket))
        })
    }

    fn succeeded(&self, ticket: AnyTicket) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            match ticket.downcast::<T::Ticket>() {
                Ok(ticket) => ThrottleStore::succeeded(self, *ticket).await,
                Err(_) => Err("a throttle ticket of another store".into()),
            }
        })
    }

    fn cancel(&self, ticket: AnyTicket) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            match ticket.downcast::<T::Ticket>() {
                Ok(ticket) => ThrottleStore::cancel(self, *ticket).await,
                Err(_) => Err("a throttle ticket of another store".into()),
            }
        })
    }
}

/// A login over HTTP that did not produce a token.
#[derive(Debug)]
enum Failure {
    MethodNotAllowed,
    UnsupportedMediaType,
    TooLarge,
    UnsupportedGrantType,
    Login(LoginError),
}

#[cfg(feature = "metrics")]
impl LoginError {
    /// The `outcome` label of this refusal.
    pub(crate) fn outcome(&self) -> crate::metrics::LoginOutcome {
        use crate::metrics::LoginOutcome;
        match self {
            LoginError::InvalidGrant | LoginError::InvalidRefresh => LoginOutcome::Failure,
            LoginError::InvalidRequest(_) => LoginOutcome::InvalidRequest,
            LoginError::InvalidScope => LoginOutcome::InvalidScope,
            LoginError::Throttled { .. } => LoginOutcome::Throttled,
            LoginError::Unavailable(why) if *why == BUSY => LoginOutcome::Busy,
            LoginError::Unavailable(_) => LoginOutcome::Unavailable,
        }
    }
}

impl From<LoginError> for Failure {
    fn from(err: LoginError) -> Self {
        Failure::Login(err)
    }
}

impl Failure {
    fn into_response(self) -> Response<Full<Bytes>> {
        let (status, error, description) = match &self {
            Failure::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "the token endpoint accepts POST only",
            ),
            Failure::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                "send application/x-www-form-urlencoded or application/json",
            ),
            Failure::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "the request body is too large",
            ),
            Failure::UnsupportedGrantType => (
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only the password and refresh_token grants are supported",
            ),
            Failure::Login(err) => {
                let status = match err {
                    LoginError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                    LoginError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::BAD_REQUEST,
                };
                (status, err.code(), err.description())
            }
        };
        let body = serde_json::json!({ "error": error, "error_description": description });
        let mut response = json_response(status, &body);
        let headers = response.headers_mut();
        match self {
            Failure::MethodNotAllowed => {
                headers.insert(ALLOW, HeaderValue::from_static("POST"));
            }
            Failure::Login(LoginError::Throttled { retry_after }) => {
                headers.insert(
                    RETRY_AFTER,
                    HeaderValue::from(retry_after_secs(retry_after)),
                );
            }
            Failure::Login(LoginError::Unavailable(_)) => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

/// Whole seconds, rounded up: retrying before the block ends would be refused again.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A parsed token request.
enum Grant {
    /// RFC 6749 §4.3.
    Password {
        username: String,
        password: Zeroizing<String>,
        scope: Option<String>,
    },
    /// RFC 6749 §6.
    Refresh {
        token: Zeroizing<String>,
        scope: Option<String>,
    },
}

impl<U: UserStore, H: PasswordHashing> LoginService<U, H> {
    async fn login<B>(&self, request: Request<B>) -> Result<Response<Full<Bytes>>, Failure>
    where
        B: Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let grant = self.read_grant(request).await;
        #[cfg(feature = "metrics")]
        let kind = match &grant {
            Ok(Grant::Password { .. }) => crate::metrics::Grant::Password,
            Ok(Grant::Refresh { .. }) => crate::metrics::Grant::RefreshToken,
            Err(_) => crate::metrics::Grant::Unknown,
        };
        let answer = match grant {
            Ok(grant) => self.grant(grant).await,
            Err(failure) => Err(failure),
        };
        #[cfg(feature = "metrics")]
        crate::metrics::login(
            kind,
            crate::metrics::Transport::Http,
            match &answer {
                Ok(_) => crate::metrics::LoginOutcome::Success,
                Err(Failure::Login(error)) => error.outcome(),
                Err(_) => crate::metrics::LoginOutcome::InvalidRequest,
            },
        );
        answer
    }

    /// The answer to a grant read from the request.
    async fn grant(&self, grant: Grant) -> Result<Response<Full<Bytes>>, Failure> {
        let (token, refresh) = match grant {
            Grant::Password {
                username,
                password,
                scope,
            } => {
                self.password_grant(&username, password, scope.as_deref())
                    .await?
            }
            Grant::Refresh { token, scope } => {
                let Some(sessions) = &self.sessions else {
                    return Err(Failure::UnsupportedGrantType);
                };
                let (token, refresh) = self.refresh(sessions, &token, scope.as_deref()).await?;
                (token, Some(refresh))
            }
        };
        let mut body = serde_json::json!({
            "access_token": token.access_token,
            "token_type": "Bearer",
            "expires_in": token.expires_in,
            "scope": token.scope,
        });
        if let Some(refresh) = refresh {
            body["refresh_token"] = refresh.expose().into();
        }
        Ok(json_response(StatusCode::OK, &body))
    }

    /// The password grant, and the family it starts when sessions are kept.
    async fn password_grant(
        &self,
        username: &str,
        password: Zeroizing<String>,
        scope: Option<&str>,
    ) -> Result<(IssuedToken, Option<RefreshToken>), LoginError> {
        let Some(sessions) = &self.sessions else {
            return Ok((self.authenticate(username, password, scope).await?, None));
        };
        let (user, scope) = self.check_password(username, password, scope).await?;
        let (family, refresh) = sessions.start(&user.id, &scope).await.map_err(|err| {
            tracing::error!(error = %err, "session store failed");
            LoginError::Unavailable("the session service is unavailable")
        })?;
        let token = self.issue(&user, &scope, Some(&family.id))?;
        Ok((token, Some(refresh)))
    }

    /// The login core, without HTTP: checks `username` and `password` and issues a token
    /// granting the `scope` requested (all the user's scopes when `None`), limited to what the
    /// user holds. The HTTP service and the gRPC `Login` method (feature `tonic`) both call it,
    /// so they share throttling, timing and rehash behaviour.
    ///
    /// # Errors
    ///
    /// A [`LoginError`]: bad credentials of any kind are one [`LoginError::InvalidGrant`].
    pub async fn authenticate(
        &self,
        username: &str,
        password: Zeroizing<String>,
        scope: Option<&str>,
    ) -> Result<IssuedToken, LoginError> {
        let (user, scope) = self.check_password(username, password, scope).await?;
        self.issue(&user, &scope, None)
    }

    /// Signs an access token for `user` granting `scope`, in the session `family_id` if any.
    fn issue(
        &self,
        user: &User,
        scope: &str,
        family_id: Option<&str>,
    ) -> Result<IssuedToken, LoginError> {
        let scopes = scope.split_ascii_whitespace();
        let issued = match family_id {
            Some(sid) => self.shared.issuer.issue_in_session(&user.id, scopes, sid),
            None => self.shared.issuer.issue(&user.id, scopes),
        };
        let token = issued.map_err(|err| {
            tracing::error!(error = %err, "token issuing failed");
            LoginError::Unavailable("the token cannot be issued right now")
        })?;
        tracing::info!(user = %user.id, scope = %scope, session = ?family_id, "token issued");
        Ok(token)
    }

    /// The password check with its throttling: the user and the scope to grant.
    async fn check_password(
        &self,
        username: &str,
        password: Zeroizing<String>,
        scope: Option<&str>,
    ) -> Result<(User, String), LoginError> {
        if username.is_empty() {
            return Err(LoginError::InvalidRequest("the username is empty"));
        }
        if username.len() > MAX_USERNAME_LEN {
            return Err(LoginError::InvalidRequest("the username is too long"));
        }
        let user = self.shared.users.find_user(username).await.map_err(|err| {
            tracing::error!(error = %err, "user store failed");
            LoginError::Unavailable("the account service is unavailable")
        })?;
        // Counted before the password is checked, under the normalised name whether or not an
        // account answers to it (so the throttle's answers do not tell whether one does), and
        // under the account found (every spelling the store accepts for it shares its record).
        let mut keys = vec![unknown_name_key(username)];
        if let Some(user) = &user {
            keys.push(account_key(&user.id));
        }
        let reservation = self
            .throttle
            .reserve(&keys)
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "throttle store failed");
                LoginError::Unavailable("the login service is unavailable")
            })?
            .map_err(|retry_after| LoginError::Throttled { retry_after })?;
        let verification = match self.verify_once(user.as_ref(), &password).await {
            Ok(verification) => verification,
            Err(err) => {
                // No password was checked: the attempt does not count.
                if let Err(store) = self.throttle.cancel(reservation).await {
                    tracing::warn!(error = %store, "throttle store failed to uncount an attempt");
                }
                return Err(err);
            }
        };
        let user = match user {
            Some(user) if verification.matches && !user.disabled => user,
            other => {
                let reason = match &other {
                    None => "unknown user",
                    Some(user) if user.disabled => "disabled account",
                    Some(_) => "wrong password or unusable stored hash",
                };
                match &other {
                    Some(user) => tracing::info!(user = %user.id, reason, "login refused"),
                    None => tracing::info!(username = %loggable(username), reason, "login refused"),
                }
                // The reservation stays: this attempt is one failure.
                drop(reservation);
                return Err(LoginError::InvalidGrant);
            }
        };
        if let Err(err) = self.throttle.succeeded(reservation).await {
            tracing::warn!(user = %user.id, error = %err, "throttle store failed to clear a success");
        }
        if verification.needs_rehash {
            self.rehash(&user, password).await;
        }
        let scope = granted_scope(scope, &user.scopes)?;
        Ok((user, scope))
    }

    /// Exactly one full verification whatever the account's state: an unknown user is checked
    /// against the hasher's dummy hash, a disabled one against its own, and one whose stored
    /// hash cannot be read (an SSO-only account stored as `""` or `"!"`, a foreign scheme)
    /// against the dummy hash too (by the hasher, in the same job), so that none answers
    /// faster than the others.
    async fn verify_once(
        &self,
        user: Option<&User>,
        password: &Zeroizing<String>,
    ) -> Result<Verification, LoginError> {
        let attempt = Zeroizing::new(password.as_str().to_owned());
        let stored = user.map(|u| u.password_hash.clone());
        match self.shared.hasher.verify(attempt, stored).await {
            // The hasher spent a dummy verification before saying so (the `PasswordHashing`
            // contract), in the same job: one trip through the pool, like any other attempt.
            Err(err @ (PasswordError::MalformedHash(_) | PasswordError::UnsupportedHash(_))) => {
                tracing::warn!(user = ?user.map(|u| &u.id), error = %err, "stored password hash unusable");
                Ok(Verification::new(false, false))
            }
            other => other.map_err(password_failure),
        }
    }

    /// Stores a hash at the current policy. A failure is logged: the login itself succeeded.
    async fn rehash(&self, user: &User, password: Zeroizing<String>) {
        match self.shared.hasher.hash(password).await {
            Ok(phc) => match self.shared.users.set_password_hash(&user.id, phc).await {
                Ok(()) => {
                    tracing::info!(user = %user.id, "password rehashed to the current policy")
                }
                Err(err) => {
                    tracing::warn!(user = %user.id, error = %err, "saving the rehash failed")
                }
            },
            Err(err) => tracing::warn!(user = %user.id, error = %err, "rehash failed"),
        }
    }

    async fn read_grant<B>(&self, request: Request<B>) -> Result<Grant, Failure>
    where
        B: Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        if request.method() != Method::POST {
            return Err(Failure::MethodNotAllowed);
        }
        let json = match media_type(request.headers().get(CONTENT_TYPE)) {
            Some(m) if m.eq_ignore_ascii_case("application/x-www-form-urlencoded") => false,
            Some(m) if m.eq_ignore_ascii_case("application/json") => true,
            _ => return Err(Failure::UnsupportedMediaType),
        };
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.body_limit as u64) {
            return Err(Failure::TooLarge);
        }
        let body = Limited::new(request.into_body(), self.body_limit)
            .collect()
            .await
            .map_err(|err| {
                if err.downcast_ref::<LengthLimitError>().is_some() {
                    Failure::TooLarge
                } else {
                    invalid("the request body could not be read")
                }
            })?
            .to_bytes();
        let body = Zeroizing::new(body.to_vec());
        if json {
            parse_json(&body)
        } else {
            parse_form(&body)
        }
    }
}

/// Why a login is refused when the hashing pool is saturated.
const BUSY: &str = "too many logins in progress";

fn password_failure(err: PasswordError) -> LoginError {
    match err {
        PasswordError::TooLong { .. } => LoginError::InvalidRequest("the password is too long"),
        PasswordError::Busy => LoginError::Unavailable(BUSY),
        other => {
            tracing::error!(error = %other, "password verification failed");
            LoginError::Unavailable("the login service is unavailable")
        }
    }
}

/// A name no account answers to, as it may appear in a log line: its first 3 characters,
/// escaped, and its length. It is often a password typed into the name field, so most of it
/// stays out of the logs; a known account is logged by its id instead.
fn loggable(username: &str) -> String {
    let shown: String = username
        .chars()
        .take(3)
        .flat_map(char::escape_debug)
        .collect();
    format!("{shown}… ({} chars)", username.chars().count())
}

fn invalid(why: &'static str) -> Failure {
    Failure::Login(LoginError::InvalidRequest(why))
}

pub(crate) fn media_type(value: Option<&HeaderValue>) -> Option<&str> {
    let value = value?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or("").trim())
}

/// RFC 6749 §4.3.2 and §6, with §3.1's rule that no parameter may be repeated.
fn parse_form(body: &[u8]) -> Result<Grant, Failure> {
    let mut grant_type = None;
    let mut username = None;
    let mut password: Option<Zeroizing<String>> = None;
    let mut refresh_token: Option<Zeroizing<String>> = None;
    let mut scope = None;
    for (name, value) in form_urlencoded::parse(body) {
        let slot_taken = match &*name {
            "grant_type" => grant_type.replace(value.into_owned()).is_some(),
            "username" => username.replace(value.into_owned()).is_some(),
            "password" => password
                .replace(Zeroizing::new(value.into_owned()))
                .is_some(),
            "refresh_token" => refresh_token
                .replace(Zeroizing::new(value.into_owned()))
                .is_some(),
            "scope" => scope.replace(value.into_owned()).is_some(),
            _ => false,
        };
        if slot_taken {
            return Err(invalid("a parameter is repeated"));
        }
    }
    let grant_type = grant_type.ok_or(invalid("grant_type is missing"))?;
    grant(&grant_type, username, password, refresh_token, scope)
}

/// The grant the parameters make, whichever encoding carried them.
fn grant(
    grant_type: &str,
    username: Option<String>,
    password: Option<Zeroizing<String>>,
    refresh_token: Option<Zeroizing<String>>,
    scope: Option<String>,
) -> Result<Grant, Failure> {
    match grant_type {
        "password" => Ok(Grant::Password {
            username: username.ok_or(invalid("username is missing"))?,
            password: password.ok_or(invalid("password is missing"))?,
            scope,
        }),
        "refresh_token" => Ok(Grant::Refresh {
            token: refresh_token.ok_or(invalid("refresh_token is missing"))?,
            scope,
        }),
        _ => Err(Failure::UnsupportedGrantType),
    }
}

#[derive(Deserialize)]
struct JsonGrant {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
}

fn parse_json(body: &[u8]) -> Result<Grant, Failure> {
    // Every member checked first, those the grant ignores included: text that is not UTF-8, a
    // lone surrogate or a repeated member anywhere makes the body no JSON (RFC 8259 §8), while
    // serde's derive skips unknown members unread (found by fuzz/, login_json).
    serde_json::from_slice::<crate::verify::json::Strict>(body)
        .map_err(|_| invalid("the body is not a valid JSON login request"))?;
    // serde's derive refuses a repeated member, which is what §3.1 asks of the form as well.
    let json: JsonGrant = serde_json::from_slice(body)
        .map_err(|_| invalid("the body is not a valid JSON login request"))?;
    grant(
        json.grant_type.as_deref().unwrap_or("password"),
        json.username,
        json.password.map(Zeroizing::new),
        json.refresh_token.map(Zeroizing::new),
        json.scope,
    )
}

/// The grant of a login body, for the fuzz targets.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_grant(body: &[u8], json: bool) -> Result<(String, String, Option<String>), ()> {
    let grant = if json {
        parse_json(body)
    } else {
        parse_form(body)
    }
    .map_err(drop)?;
    match grant {
        Grant::Password {
            username,
            password,
            scope,
        } => Ok((username, password.to_string(), scope)),
        Grant::Refresh { .. } => Err(()),
    }
}

/// The requested scopes the user holds, in the order asked; all of the user's when none are
/// asked for.
fn granted_scope(requested: Option<&str>, held: &[String]) -> Result<String, LoginError> {
    let Some(requested) = requested.filter(|r| !r.trim().is_empty()) else {
        return Ok(held.join(" "));
    };
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split_ascii_whitespace() {
        if held.iter().any(|h| h == scope) && !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    if granted.is_empty() {
        return Err(LoginError::InvalidScope);
    }
    Ok(granted.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_refuse_repeated_and_missing_parameters() {
        let Ok(Grant::Password {
            username,
            password,
            scope,
        }) = parse_form(b"grant_type=password&username=ada&password=p%20w&scope=read")
        else {
            panic!("not a password grant");
        };
        assert_eq!((username.as_str(), password.as_str()), ("ada", "p w"));
        assert_eq!(scope.as_deref(), Some("read"));
        let Ok(Grant::Refresh { token, scope }) =
            parse_form(b"grant_type=refresh_token&refresh_token=abc&client_id=swagger")
        else {
            panic!("not a refresh grant");
        };
        assert_eq!((token.as_str(), scope), ("abc", None));
        for body in [
            &b"grant_type=password&username=a&username=b&password=x"[..],
            b"grant_type=password&grant_type=password&username=a&password=x",
            b"grant_type=password&username=a&password=x&password=y",
            b"grant_type=refresh_token&refresh_token=a&refresh_token=b",
            b"grant_type=refresh_token",
        ] {
            assert!(matches!(
                parse_form(body),
                Err(Failure::Login(LoginError::InvalidRequest(_)))
            ));
        }
        assert!(matches!(
            parse_form(b"username=a&password=x"),
            Err(Failure::Login(LoginError::InvalidRequest(_)))
        ));
        assert!(matches!(
            parse_form(b"grant_type=client_credentials&username=a&password=x"),
            Err(Failure::UnsupportedGrantType)
        ));
    }

    #[test]
    fn json_refuses_repeated_members_and_other_grants() {
        assert!(parse_json(br#"{"username":"a","password":"x"}"#).is_ok());
        assert!(matches!(
            parse_json(br#"{"username":"a","username":"b","password":"x"}"#),
            Err(Failure::Login(LoginError::InvalidRequest(_)))
        ));
        assert!(matches!(
            parse_json(br#"{"username":"a","password":1}"#),
            Err(Failure::Login(LoginError::InvalidRequest(_)))
        ));
        assert!(matches!(
            parse_json(br#"{"grant_type":"implicit","username":"a","password":"x"}"#),
            Err(Failure::UnsupportedGrantType)
        ));
    }

    #[test]
    fn requested_scopes_are_limited_to_what_the_user_holds() {
        let held = vec!["read".to_owned(), "write".to_owned()];
        assert_eq!(granted_scope(None, &held).unwrap(), "read write");
        assert_eq!(granted_scope(Some("write admin"), &held).unwrap(), "write");
        assert_eq!(granted_scope(Some("write write"), &held).unwrap(), "write");
        assert!(matches!(
            granted_scope(Some("admin"), &held),
            Err(LoginError::InvalidScope)
        ));
    }
}

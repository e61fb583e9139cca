//! Keys fetched from identity providers (feature `remote`): verify tokens from Keycloak,
//! Auth0, Okta, Entra ID, Cognito, Google or an issuer of your own, by their published JWKS.
//!
//! [`RemoteKeys`] maps each trusted issuer (its exact `iss`) to where its keys are (an
//! explicit JWKS URL, or discovery) and the rules its tokens must meet ([`IssuerConfig`]);
//! [`RemoteKeys::layer`] makes the [`JwtAuthLayer`] that verifies with them.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//! use tower_jwt_auth::remote::{IssuerConfig, RemoteKeys, RequestBody};
//!
//! // Any tower HTTP client; this one speaks plain http, for an issuer on loopback.
//! let client = Client::builder(TokioExecutor::new()).build_http::<RequestBody>();
//! let keys = RemoteKeys::builder(client)
//!     .issuer(IssuerConfig::discovery("http://127.0.0.1:3000")?.audience("my-api"))
//!     .build()?;
//! let layer = keys.layer(); // put it on a router; `keys.ready()` for health checks
//! # Ok(()) }
//! ```
//!
//! # Example
//!
//! The HTTP client is any tower service, so a test needs no network: here the identity
//! provider is a `TokenIssuer` of this crate (feature `issue`), and the "client" is its JWKS
//! service, answering every request with the provider's public keys.
//!
//! ```
//! # #[cfg(feature = "issue")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use http::{Request, Response, StatusCode, header};
//! use tower::{Layer as _, ServiceExt as _, service_fn};
//! use tower_jwt_auth::remote::{IssuerConfig, RemoteKeys};
//! use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};
//!
//! let idp = TokenIssuer::new(SigningKey::generate(Algorithm::ES256)?)
//!     .issuer("https://idp.example.com")
//!     .audience("my-api");
//! let client = idp.jwks_service().expect("an ES256 key has a public half to publish");
//!
//! let keys = RemoteKeys::builder(client)
//!     .issuer(
//!         IssuerConfig::jwks("https://idp.example.com", "https://idp.example.com/jwks.json")?
//!             .audience("my-api"),
//!     )
//!     .build_eager() // the first fetch must succeed; `build()` fetches in the background
//!     .await?;
//! assert!(keys.is_ready());
//!
//! let api = keys.layer().layer(service_fn(|_: Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("hello")))
//! }));
//! let bearer = |token: &str| {
//!     Request::get("/").header(header::AUTHORIZATION, format!("Bearer {token}")).body(())
//! };
//!
//! let token = idp.issue("ada", ["read"])?;
//! let response = api.clone().oneshot(bearer(&token.access_token)?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! // An issuer not configured: refused at once, without any fetch.
//! let stranger = TokenIssuer::new(SigningKey::generate(Algorithm::ES256)?)
//!     .issuer("https://stranger.example.com")
//!     .audience("my-api");
//! let token = stranger.issue("ada", ["read"])?;
//! let response = api.oneshot(bearer(&token.access_token)?).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(keys.stats()[0].fetches, 1);
//! # Ok(()) }
//! # #[cfg(not(feature = "issue"))]
//! # fn main() {}
//! ```
//!
//! # What it does
//!
//! - **Discovery**: `{issuer}/.well-known/openid-configuration`, then the RFC 8414 forms,
//!   moving on only on 404 or 410; the document's `issuer` must equal the configured one byte
//!   for byte and its `jwks_uri` must be https (http only for `localhost`, `127.0.0.0/8`,
//!   `::1`). Anything else over http is a configuration error.
//! - **The request path never waits on a refresh** and holds no lock across I/O: the keys live
//!   in a [`KeyStore`](crate::KeyStore), swapped atomically by a background task per issuer
//!   (every 5 minutes less up to 10 % of jitter; `Cache-Control: max-age` honoured, clamped to
//!   1 minute .. 1 hour; `If-None-Match` with the last `ETag`). A refresh that brings the same
//!   keys keeps the same key set, so the verified-token cache is kept.
//! - **Unknown `kid`**: the request joins the fetch in flight, or starts one if the issuer's
//!   budget allows (2 per 30 s by default), then is verified once more; otherwise it gets 401
//!   `invalid_token` at once. A request never waits for the budget: a flood of random `kid`s
//!   costs the identity provider at most the budget.
//! - **Outages**: the last good keys are served (by default up to 24 h past their expiry),
//!   then requests get 503 with `Retry-After` (gRPC `UNAVAILABLE`). Failed fetches are retried
//!   with an exponential back-off (1 s up to 64 s).
//! - **Start-up does not block**: a request before the first keys waits at most the fetch
//!   deadline, then gets 503. [`RemoteKeys::ready`] and [`RemoteKeys::is_ready`] serve health
//!   checks; [`RemoteKeysBuilder::build_eager`] fails start-up instead.
//! - **HTTP through any tower client** (`Service<http::Request<RequestBody>>`): your own for a
//!   custom CA, mTLS or a proxy, hyper-util's, reqwest through an adapter, a mock in tests.
//!   Around any client the crate enforces the total deadline (5 s), no redirects (only 200,
//!   and 304 to a conditional request), body caps (JWKS 256 KiB, discovery 64 KiB) and at
//!   most 100 keys. Give your client a connect deadline (2 s is a good default). Feature
//!   `remote-client` adds one ready to use: [`RemoteKeys::with_default_client`] (hyper-util
//!   over rustls, the system's trust store or bundled roots, a 2 s connect deadline, no
//!   process-wide crypto provider installed).
//! - **Lenient import**: keys that cannot be used (unknown `kty` or `crv`, `use` other than
//!   `sig`, `key_ops` without `verify`, private members, `oct`, weak RSA, a `kid` used twice,
//!   no `kid` in a set of several) are skipped with a `tracing` warning; a set with no usable key
//!   counts as a failed fetch. RSA keys without `alg` take one configured algorithm (RS256 by
//!   default).
//! - **Never** follows a token's `jku` or `x5u`, and never puts anything from a token into a
//!   URL.
//! - **Several issuers**: the token's unverified `iss` (after the length cap and strict
//!   base64url) chooses the entry; an unknown issuer gets 401 without any I/O, and `iss` is
//!   checked again after the signature. Each issuer has its own budget, back-off, last good
//!   set and cache.
//!
//! | file | what it holds |
//! |---|---|
//! | `config.rs` | [`IssuerConfig`], the defaults, the URL rules, discovery URLs |
//! | `source.rs` | one issuer's state machine: single-flight fetches, schedule, budget, staleness |
//! | `fetch.rs` | HTTP around any client: deadline, status, caps, `Cache-Control`, `ETag` |
//! | `import.rs` | the lenient JWKS import |
//! | `client.rs` | the default client (feature `remote-client`) |

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use tower_service::Service;

use crate::layer::JwtAuthLayer;
use crate::layer::auth::{KeySource, Resolution, Resolve};
use crate::verify::error::ErrorKind;
use crate::verify::jws;
use crate::verify::verifier::Verifier;

#[cfg(feature = "remote-client")]
mod client;
mod config;
mod fetch;
mod import;
mod source;

pub use config::{
    DEFAULT_FETCH_TIMEOUT, DEFAULT_MAX_STALE, DEFAULT_REFRESH_INTERVAL,
    DEFAULT_UNKNOWN_KID_FETCHES, DEFAULT_UNKNOWN_KID_WINDOW, IssuerConfig, MAX_DISCOVERY_BYTES,
    MAX_JWKS_BYTES, MAX_KEYS, MAX_REFRESH_INTERVAL, MIN_REFRESH_INTERVAL, RemoteConfigError,
};
pub use fetch::{BoxError, RequestBody};

#[cfg(feature = "remote-client")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote-client")))]
pub use client::{DEFAULT_CONNECT_TIMEOUT, DefaultClient, TrustAnchors, default_client};

use fetch::Client;
use source::Source;

/// The keys of every trusted issuer, fetched and kept fresh in the background.
///
/// Cheap to clone (an `Arc`); clones share the keys, the tasks and the counters. The
/// background tasks end when the last clone (and the last layer made from it) is dropped.
#[derive(Clone)]
pub struct RemoteKeys {
    issuers: Arc<Issuers>,
}

struct Issuers {
    /// In configuration order.
    sources: Vec<Arc<Source>>,
    by_issuer: HashMap<Arc<str>, Arc<Source>>,
}

impl RemoteKeys {
    /// A builder fetching keys through `client`, any tower HTTP client.
    pub fn builder<S, B>(client: S) -> RemoteKeysBuilder
    where
        S: Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        RemoteKeysBuilder {
            client: Client::new(client),
            issuers: Vec::new(),
        }
    }

    /// A builder fetching keys through [`default_client`]: https with the system's trust store
    /// (else bundled roots), a 2 s connect deadline (feature `remote-client`).
    ///
    /// In production, `IssuerConfig::discovery("https://login.example.com")?`. Here, to run
    /// without a network, the identity provider is a `TokenIssuer` of this crate (feature
    /// `issue`) publishing its JWKS over plain http on loopback, the only place http is allowed:
    ///
    /// ```
    /// # #[cfg(feature = "issue")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_jwt_auth::remote::{IssuerConfig, RemoteKeys};
    /// use tower_jwt_auth::{Algorithm, Claims, SigningKey, TokenIssuer};
    ///
    /// let idp = TokenIssuer::new(SigningKey::generate(Algorithm::ES256)?)
    ///     .issuer("https://idp.test")
    ///     .audience("my-api");
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let jwks_url = format!("http://{}/jwks.json", listener.local_addr()?);
    /// let app = axum::Router::new().route_service("/jwks.json", idp.jwks_service().unwrap());
    /// tokio::spawn(async move { axum::serve(listener, app).await });
    ///
    /// let keys = RemoteKeys::with_default_client()?
    ///     .issuer(IssuerConfig::jwks("https://idp.test", jwks_url)?.audience("my-api"))
    ///     .build_eager()
    ///     .await?;
    /// let token = idp.issue("ada", ["read"])?;
    /// let verifier = keys.verifier("https://idp.test").expect("a configured issuer");
    /// let claims: Claims = verifier.verify(&token.access_token)?;
    /// assert_eq!(claims.sub.as_deref(), Some("ada"));
    /// # Ok(()) }
    /// # #[cfg(not(feature = "issue"))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    ///
    /// As [`default_client`].
    #[cfg(feature = "remote-client")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote-client")))]
    pub fn with_default_client() -> Result<RemoteKeysBuilder, RemoteConfigError> {
        let (client, anchors) = default_client()?;
        tracing::debug!(?anchors, "remote keys over the default HTTP client");
        Ok(Self::builder(client))
    }

    /// A [`JwtAuthLayer`] verifying with these keys, each issuer under its own rules.
    ///
    /// The layer's own validation builders (`issuer`, `audience`, …) do not apply to it: the
    /// rules are each [`IssuerConfig`]'s. Its other builders (`realm`, `resource_metadata`,
    /// `claims`, `token_source`, `revocation`, `on_rejection`, …) do.
    pub fn layer(&self) -> JwtAuthLayer {
        JwtAuthLayer::from_resolver(Arc::clone(&self.issuers) as Arc<dyn Resolve>)
    }

    /// Whether every issuer has keys that may be served now: a readiness answer.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.issuers.sources.iter().all(|source| source.is_ready())
    }

    /// Waits until every issuer has keys.
    pub async fn ready(&self) {
        for source in &self.issuers.sources {
            source.ready().await;
        }
    }

    /// Fetches every issuer's keys now (joining fetches in flight), whatever the schedule and
    /// the unknown-`kid` budget.
    ///
    /// # Errors
    ///
    /// The first issuer's error, if any fetch failed; the others were fetched all the same.
    pub async fn refresh_now(&self) -> Result<(), RemoteError> {
        let mut first = Ok(());
        for source in &self.issuers.sources {
            if let Err(error) = source.fetch_now().await
                && first.is_ok()
            {
                first = Err(error);
            }
        }
        first
    }

    /// A snapshot of each issuer's state and counters, in configuration order.
    #[must_use]
    pub fn stats(&self) -> Vec<IssuerStats> {
        self.issuers.sources.iter().map(|s| s.stats()).collect()
    }

    /// The verifier of `issuer`'s tokens, to check tokens outside a request. It does not wait
    /// for keys, nor refetch on an unknown `kid`.
    #[must_use]
    pub fn verifier(&self, issuer: &str) -> Option<&Verifier> {
        self.issuers.by_issuer.get(issuer).map(|s| s.verifier())
    }
}

impl Resolve for Issuers {
    fn resolve(&self, token: &[u8]) -> Resolution<'_> {
        let source = match self.sources.as_slice() {
            // One issuer: its verifier checks `iss`; the token is read for it only before I/O.
            [only] => only,
            _ => match jws::with_unverified_issuer(token, |iss| {
                iss.and_then(|iss| self.by_issuer.get(iss))
            }) {
                Ok(Some(source)) => source,
                Ok(None) => return Resolution::Refused(ErrorKind::InvalidIssuer.into()),
                Err(kind) => return Resolution::Refused(kind.into()),
            },
        };
        source.resolution()
    }

    fn only_ready(&self) -> Option<&dyn KeySource> {
        match self.sources.as_slice() {
            [only] if only.is_ready() => Some(&**only),
            _ => None,
        }
    }
}

impl fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("issuers", &self.stats())
            .finish()
    }
}

/// Builds [`RemoteKeys`]; made by [`RemoteKeys::builder`].
#[must_use]
pub struct RemoteKeysBuilder {
    client: Client,
    issuers: Vec<IssuerConfig>,
}

impl RemoteKeysBuilder {
    /// Trusts the issuer `config` describes.
    pub fn issuer(mut self, config: IssuerConfig) -> Self {
        self.issuers.push(config);
        self
    }

    /// The keys; their first fetch starts at once in the background.
    ///
    /// # Errors
    ///
    /// [`RemoteConfigError::NoIssuers`], [`RemoteConfigError::DuplicateIssuer`], or
    /// [`RemoteConfigError::NoRuntime`] outside a tokio runtime.
    pub fn build(self) -> Result<RemoteKeys, RemoteConfigError> {
        if self.issuers.is_empty() {
            return Err(RemoteConfigError::NoIssuers);
        }
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| RemoteConfigError::NoRuntime)?;
        let mut by_issuer = HashMap::new();
        for config in &self.issuers {
            if by_issuer.insert(Arc::clone(&config.issuer), ()).is_some() {
                return Err(RemoteConfigError::DuplicateIssuer(
                    config.issuer.to_string(),
                ));
            }
        }
        let sources: Vec<Arc<Source>> = self
            .issuers
            .into_iter()
            .map(|config| Source::start(config, self.client.clone(), runtime.clone()))
            .collect();
        let by_issuer = sources
            .iter()
            .map(|s| (Arc::clone(&s.config.issuer), Arc::clone(s)))
            .collect();
        Ok(RemoteKeys {
            issuers: Arc::new(Issuers { sources, by_issuer }),
        })
    }

    /// Eager mode: the keys, once every issuer's first fetch succeeded.
    ///
    /// # Errors
    ///
    /// [`RemoteError::Config`] for a configuration [`build`](Self::build) refuses, or the
    /// first issuer's fetch error.
    pub async fn build_eager(self) -> Result<RemoteKeys, RemoteError> {
        let keys = self.build().map_err(RemoteError::Config)?;
        for source in &keys.issuers.sources {
            source.first_fetch().await?;
        }
        Ok(keys)
    }
}

impl fmt::Debug for RemoteKeysBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKeysBuilder")
            .field("issuers", &self.issuers)
            .finish_non_exhaustive()
    }
}

/// One issuer's state and counters, from [`RemoteKeys::stats`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IssuerStats {
    /// The issuer.
    pub issuer: Arc<str>,
    /// Time since the last successful fetch (200 or 304).
    pub since_last_success: Option<Duration>,
    /// Time since the last fetch ended, successful or not.
    pub since_last_attempt: Option<Duration>,
    /// Fetches failed in a row.
    pub consecutive_failures: u32,
    /// Usable keys in the current set.
    pub keys: usize,
    /// Whether the current keys are past their expiry (served while the issuer is down).
    pub stale: bool,
    /// Whether the keys may be served now (there are some, not too old).
    pub ready: bool,
    /// HTTP requests made to the issuer (discovery and JWKS).
    pub fetches: u64,
    /// Fetches started for a token naming an unknown `kid`.
    pub unknown_kid_refreshes: u64,
    /// Unknown-`kid` refetches refused because the budget was spent (those tokens got 401).
    pub refused_refreshes: u64,
    /// The last fetch's error, while fetches fail.
    pub last_error: Option<RemoteError>,
}

/// Why fetching an issuer's keys failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteError {
    /// The exchange took longer than the deadline.
    Timeout(Duration),
    /// The client failed (connection, TLS, protocol).
    Transport(String),
    /// A redirect, which is never followed.
    Redirect(u16),
    /// A status other than 200 (or 304 to a conditional request).
    Status(u16),
    /// The body is larger than the cap (in bytes).
    TooLarge(usize),
    /// The body is not the JSON document expected.
    InvalidJson(String),
    /// The JWKS holds more keys than [`MAX_KEYS`].
    TooManyKeys(usize),
    /// The JWKS holds no usable key.
    NoUsableKey,
    /// The discovery document names another issuer.
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The document's.
        found: String,
    },
    /// The discovery document's `jwks_uri` is not https (nor http on loopback).
    InsecureUrl(String),
    /// A URL that makes no request.
    InvalidUrl(String),
    /// Every discovery URL answered 404 or 410.
    NoDiscoveryDocument,
    /// The configuration was refused ([`RemoteKeysBuilder::build_eager`]).
    Config(RemoteConfigError),
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(deadline) => write!(f, "no complete answer within {deadline:?}"),
            Self::Transport(why) => write!(f, "HTTP client error: {why}"),
            Self::Redirect(status) => write!(f, "redirect ({status}), not followed"),
            Self::Status(status) => write!(f, "unexpected status {status}"),
            Self::TooLarge(cap) => write!(f, "the body is larger than {cap} bytes"),
            Self::InvalidJson(why) => write!(f, "invalid document: {why}"),
            Self::TooManyKeys(n) => write!(f, "the JWKS holds {n} keys, more than {MAX_KEYS}"),
            Self::NoUsableKey => f.write_str("the JWKS holds no usable key"),
            Self::IssuerMismatch { expected, found } => write!(
                f,
                "the discovery document names the issuer {found:?}, not {expected:?}"
            ),
            Self::InsecureUrl(url) => write!(f, "the jwks_uri {url:?} is not https"),
            Self::InvalidUrl(url) => write!(f, "invalid URL {url:?}"),
            Self::NoDiscoveryDocument => f.write_str("no discovery document (404 or 410)"),
            Self::Config(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for RemoteError {}

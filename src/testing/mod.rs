//! Tokens for your own tests (feature `testing`): mint a valid token for the layer under test
//! in one line, or an invalid one on purpose, without handling keys.
//!
//! [`TestKeys`] generates a key (HS256, ES256, ES384, RS256 or EdDSA) and holds the issuer and
//! audience its verifier requires; [`TestKeys::layer`] is the [`JwtAuthLayer`] to put on the
//! routes under test, and [`TestKeys::token`] starts a [`TokenBuilder`] whose defaults pass it:
//!
//! | claim or header | default |
//! |---|---|
//! | `sub` | `"test-user"` |
//! | `iss` | [`TestKeys::issuer`], by default `"https://issuer.test"` |
//! | `aud` | [`TestKeys::audience`], by default `"test-api"` |
//! | `iat`, `exp` | now, now + 5 minutes |
//! | `jti` | 128 random bits |
//! | `scope` | none |
//! | header `typ`, `kid` | `at+jwt` (RFC 9068), the key's id |
//!
//! Each invalid kind is one call, and the layer from [`TestKeys::layer`] really refuses it for
//! the stated reason (the crate's own tests check each one through axum):
//!
//! | builder call | the verifier's reason ([`ErrorKind`](crate::ErrorKind)) | answer |
//! |---|---|---|
//! | [`expired`](TokenBuilder::expired) | `Expired` | 401 `invalid_token` |
//! | [`not_yet_valid`](TokenBuilder::not_yet_valid) | `NotYetValid` | 401 `invalid_token` |
//! | [`wrong_audience`](TokenBuilder::wrong_audience) | `InvalidAudience` | 401 `invalid_token` |
//! | [`wrong_issuer`](TokenBuilder::wrong_issuer) | `InvalidIssuer` | 401 `invalid_token` |
//! | [`signed_with_another_key`](TokenBuilder::signed_with_another_key) | `InvalidSignature` | 401 `invalid_token` |
//! | [`tampered`](TokenBuilder::tampered) | `InvalidSignature` | 401 `invalid_token` |
//! | [`alg_none`](TokenBuilder::alg_none) | `MalformedToken` (its empty signature is refused before its header is read) | 401 `invalid_token` |
//! | [`missing_scope`](TokenBuilder::missing_scope), on a route that requires one | `InsufficientScope` | 403 `insufficient_scope` |
//!
//! The builder's calls apply in order, a later one winning: `.expired().expires_in(d)` is
//! valid again.
//!
//! Times are far from any leeway: an expired token expired a day ago, a not-yet-valid one
//! becomes valid in a day, so no test depends on how fast it runs.
//!
//! Not to be confused with [`testkit`](crate#features) (feature `testkit`), the conformance suite
//! a *store* implementation runs; this module is for application authors testing their own
//! routes.
//!
//! # With axum
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::{Extension, Router, body::Body, routing::get};
//! use http::{HeaderValue, Request, StatusCode, header::AUTHORIZATION};
//! use tower::ServiceExt; // oneshot
//! use tower_jwt_auth::Claims;
//! use tower_jwt_auth::testing::TestKeys;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let keys = TestKeys::hs256().audience("orders-api");
//! let app = Router::new()
//!     .route("/me", get(|Extension(claims): Extension<Arc<Claims>>| async move {
//!         claims.sub.clone().unwrap_or_default()
//!     }))
//!     .layer(keys.layer());
//!
//! let call = |bearer: HeaderValue| {
//!     let request = Request::get("/me").header(AUTHORIZATION, bearer).body(Body::empty());
//!     app.clone().oneshot(request.unwrap())
//! };
//!
//! let ok = call(keys.token().sub("ada").bearer()).await.unwrap();
//! assert_eq!(ok.status(), StatusCode::OK);
//!
//! let expired = call(keys.token().expired().bearer()).await.unwrap();
//! assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
//! assert!(expired.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
//!
//! let elsewhere = call(keys.token().wrong_audience().bearer()).await.unwrap();
//! assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```
//!
//! Your application probably builds its layer from its configuration: give it
//! [`TestKeys::key_set`] (or [`TestKeys::verifier`]) in place of the production keys, and set
//! [`TestKeys::issuer`] and [`TestKeys::audience`] to what the application requires. With keys
//! fetched from an identity provider (feature `remote`), serve [`TestKeys::jwks_service`] on a
//! loopback port and point the application's JWKS URL at it.
//!
//! # With tonic
//!
//! The layer answers a refused gRPC call with a trailers-only `grpc-status`; put the token in
//! the `authorization` metadata.
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::Arc;
//!
//! use http::header::{AUTHORIZATION, CONTENT_TYPE};
//! use tonic::{Code, Status, body::Body};
//! use tower::{Layer, ServiceExt, service_fn};
//! use tower_jwt_auth::Claims;
//! use tower_jwt_auth::testing::TestKeys;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let keys = TestKeys::es256();
//! // A gRPC service (in a real server, `Server::builder().layer(keys.layer())`).
//! let service = keys.layer().layer(service_fn(|request: http::Request<Body>| async move {
//!     let claims = request.extensions().get::<Arc<Claims>>().expect("verified claims");
//!     let status = Status::new(Code::Ok, claims.sub.clone().unwrap_or_default());
//!     Ok::<_, Infallible>(status.into_http::<Body>())
//! }));
//! let call = |bearer: http::HeaderValue| {
//!     let request = http::Request::post("/example.Greeter/WhoAmI")
//!         .header(CONTENT_TYPE, "application/grpc")
//!         .header(AUTHORIZATION, bearer)
//!         .body(Body::empty());
//!     service.clone().oneshot(request.unwrap())
//! };
//! let status_of = |response: http::Response<_>| Status::from_header_map(response.headers()).unwrap();
//!
//! let ok = status_of(call(keys.token().sub("ada").bearer()).await.unwrap());
//! assert_eq!((ok.code(), ok.message()), (Code::Ok, "ada"));
//!
//! let forged = status_of(call(keys.token().signed_with_another_key().bearer()).await.unwrap());
//! assert_eq!(forged.code(), Code::Unauthenticated);
//!
//! // On a tonic client: `request.metadata_mut().insert("authorization", value)`.
//! let value: tonic::metadata::AsciiMetadataValue = keys.token().bearer_string().parse().unwrap();
//! # let _ = value;
//! # }
//! ```
//!
//! Against a real tonic server, give a client's interceptor the token: with feature `tonic`,
//! `tower_jwt_auth::tonic::BearerToken::set(&keys.token().sign())`.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderValue;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::JwtAuthLayer;
use crate::issue::{JwksService, SigningKey, TokenIssuer};
use crate::verify::algorithm::Algorithm;
use crate::verify::claims::is_scope_token;
use crate::verify::keys::{DecodingKey, JwkSet, KeySet};
use crate::verify::validation::Validation;
use crate::verify::verifier::Verifier;

/// The issuer [`TestKeys`] requires unless told otherwise.
pub const DEFAULT_ISSUER: &str = "https://issuer.test";
/// The audience [`TestKeys`] requires unless told otherwise.
pub const DEFAULT_AUDIENCE: &str = "test-api";
/// The `sub` of a token unless told otherwise.
pub const DEFAULT_SUBJECT: &str = "test-user";
/// The lifetime of a token unless told otherwise: 5 minutes.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// How far in the past an expired token expired, and in the future a not-yet-valid one
/// starts: a day, beyond any sane leeway.
const FAR: u64 = 24 * 60 * 60;

/// A generated key, and the issuer and audience its verifier requires: everything a test
/// needs to mint tokens for a [`JwtAuthLayer`]. See the [module docs](self).
///
/// Cloning is cheap and keeps the same key.
#[derive(Clone)]
pub struct TestKeys {
    key: SigningKey,
    issuer: Arc<str>,
    audience: Arc<str>,
    /// Another key of the same algorithm, with the same `kid`, made on first use (an RSA key
    /// takes a moment to generate).
    another: Arc<OnceLock<SigningKey>>,
}

impl TestKeys {
    /// A random 64-byte HS256 secret, with a random `kid`.
    ///
    /// # Panics
    ///
    /// When the operating system's random number generator fails.
    #[must_use]
    pub fn hs256() -> Self {
        Self::generate(Algorithm::HS256)
    }

    /// A fresh P-256 key (ES256), its `kid` the RFC 7638 thumbprint.
    ///
    /// # Panics
    ///
    /// When the operating system's random number generator fails.
    #[must_use]
    pub fn es256() -> Self {
        Self::generate(Algorithm::ES256)
    }

    /// A fresh P-384 key (ES384), its `kid` the RFC 7638 thumbprint.
    ///
    /// # Panics
    ///
    /// When the operating system's random number generator fails.
    #[must_use]
    pub fn es384() -> Self {
        Self::generate(Algorithm::ES384)
    }

    /// A fresh 2048-bit RSA key (RS256), its `kid` the RFC 7638 thumbprint. Generating one
    /// takes a moment: share it between the tests of a file (in a `static` `LazyLock`) when
    /// there are many.
    ///
    /// # Panics
    ///
    /// When the operating system's random number generator fails.
    #[must_use]
    pub fn rs256() -> Self {
        Self::generate(Algorithm::RS256)
    }

    /// A fresh Ed25519 key (EdDSA), its `kid` the RFC 7638 thumbprint.
    ///
    /// # Panics
    ///
    /// When the operating system's random number generator fails.
    #[must_use]
    pub fn eddsa() -> Self {
        Self::generate(Algorithm::EdDSA)
    }

    /// A fresh key for `alg`, as [`SigningKey::generate`] makes it.
    ///
    /// # Panics
    ///
    /// For ES512 (not supported for signing), and when the operating system's random number
    /// generator fails.
    #[must_use]
    pub fn generate(alg: Algorithm) -> Self {
        let key = SigningKey::generate(alg)
            .unwrap_or_else(|err| panic!("cannot generate a {alg:?} test key: {err}"));
        Self::from_key(key)
    }

    /// Tokens signed by `key` (give it a `kid` with [`SigningKey::with_kid`] to have one in
    /// the tokens' header), for a test that must use a fixed key.
    #[must_use]
    pub fn from_key(key: SigningKey) -> Self {
        Self {
            key,
            issuer: DEFAULT_ISSUER.into(),
            audience: DEFAULT_AUDIENCE.into(),
            another: Arc::default(),
        }
    }

    /// The `iss` the verifier requires and tokens carry (default [`DEFAULT_ISSUER`]).
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<Arc<str>>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// The `aud` the verifier requires and tokens carry (default [`DEFAULT_AUDIENCE`]).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<Arc<str>>) -> Self {
        self.audience = audience.into();
        self
    }

    /// The `iss` the verifier requires.
    #[must_use]
    pub fn issuer_name(&self) -> &str {
        &self.issuer
    }

    /// The `aud` the verifier requires.
    #[must_use]
    pub fn audience_name(&self) -> &str {
        &self.audience
    }

    /// The signing key.
    #[must_use]
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The key that verifies the tokens (with the `kid`).
    #[must_use]
    pub fn decoding_key(&self) -> DecodingKey {
        self.key.decoding_key()
    }

    /// The verifying key as a key set, to give an application in place of its production keys.
    #[must_use]
    pub fn key_set(&self) -> KeySet {
        KeySet::from(self.decoding_key())
    }

    /// An issuer signing with the same key and requiring the same claims: its verifier, layer
    /// and JWKS are this key's.
    fn token_issuer(&self) -> TokenIssuer {
        TokenIssuer::new(self.key.clone())
            .issuer(self.issuer.to_string())
            .audience(self.audience.to_string())
    }

    /// The rules the tokens pass: `typ: at+jwt`, a `sub`, the issuer and the audience, and the
    /// defaults of [`Validation`] (the key's algorithm only, `exp` required, 60 s of leeway).
    #[must_use]
    pub fn validation(&self) -> Validation {
        self.token_issuer().validation()
    }

    /// A verifier with the key and [`validation`](Self::validation).
    #[must_use]
    pub fn verifier(&self) -> Verifier {
        self.token_issuer().verifier()
    }

    /// The [`JwtAuthLayer`] that accepts the valid tokens and refuses the invalid ones; add
    /// [`require_scopes`](JwtAuthLayer::require_scopes) and the like as in production.
    pub fn layer(&self) -> JwtAuthLayer {
        JwtAuthLayer::from_verifier(self.verifier())
    }

    /// The public key as a JWKS document; `None` for a shared secret (HS256), which is never
    /// published.
    #[must_use]
    pub fn jwks(&self) -> Option<JwkSet> {
        self.token_issuer().jwks()
    }

    /// The JWKS document serialized, as an identity provider serves it; `None` for a shared
    /// secret.
    #[must_use]
    pub fn jwks_json(&self) -> Option<String> {
        self.jwks()
            .map(|set| serde_json::to_string(&set).expect("a JWKS serializes"))
    }

    /// A tower service answering `GET` with [`jwks_json`](Self::jwks_json), to serve on a
    /// loopback port for keys fetched by URL (feature `remote`), or to mount on a router at
    /// `/.well-known/jwks.json`; `None` for a shared secret.
    #[must_use]
    pub fn jwks_service(&self) -> Option<JwksService> {
        self.token_issuer().jwks_service()
    }

    /// Starts a token whose defaults pass the [layer](Self::layer) (see the
    /// [module docs](self)).
    pub fn token(&self) -> TokenBuilder<'_> {
        let now = unix_now();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(&*self.issuer));
        claims.insert("sub".into(), json!(DEFAULT_SUBJECT));
        claims.insert("aud".into(), json!(&*self.audience));
        claims.insert("iat".into(), json!(now));
        claims.insert(
            "exp".into(),
            json!(now.saturating_add(DEFAULT_LIFETIME.as_secs())),
        );
        claims.insert("jti".into(), json!(random_id()));
        TokenBuilder {
            keys: self,
            now,
            claims,
            typ: Some("at+jwt".into()),
            signing: Signing::Key,
            tampered: false,
        }
    }

    /// Another key of the same algorithm, with the same `kid`: its signatures are refused.
    fn another_key(&self) -> &SigningKey {
        self.another.get_or_init(|| {
            let key = SigningKey::generate(self.key.algorithm())
                .unwrap_or_else(|err| panic!("cannot generate a second test key: {err}"));
            match self.key.kid() {
                Some(kid) => key.with_kid(kid),
                None => key,
            }
        })
    }
}

impl fmt::Debug for TestKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestKeys")
            .field("key", &self.key)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// Which key signs, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signing {
    Key,
    AnotherKey,
    None,
}

/// A token being built by [`TestKeys::token`]: set claims, or make it invalid on purpose, then
/// [`sign`](Self::sign) it or take it as a [`bearer`](Self::bearer) header value.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{Claims, testing::TestKeys};
///
/// let keys = TestKeys::eddsa();
/// let token = keys
///     .token()
///     .sub("ada")
///     .scopes(["orders:read", "orders:write"])
///     .expires_in(Duration::from_secs(60))
///     .claim("tenant", "acme")
///     .sign();
/// let claims: Claims = keys.verifier().verify(&token).unwrap();
/// assert_eq!(claims.sub.as_deref(), Some("ada"));
/// assert_eq!(claims.scopes().collect::<Vec<_>>(), ["orders:read", "orders:write"]);
/// assert_eq!(claims.extra["tenant"], "acme");
///
/// let expired = keys.token().expired().sign();
/// assert!(keys.verifier().verify::<Claims>(&expired).is_err());
/// ```
#[must_use = "a token builder does nothing until signed"]
pub struct TokenBuilder<'k> {
    keys: &'k TestKeys,
    /// When the token was started: its `iat`, and what lifetimes count from.
    now: u64,
    claims: Map<String, Value>,
    typ: Option<String>,
    signing: Signing,
    tampered: bool,
}

impl TokenBuilder<'_> {
    /// Sets `sub` (default [`DEFAULT_SUBJECT`]).
    // Named after the claim, as `Claims::sub` is; a builder is never subtracted.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, subject: impl Into<String>) -> Self {
        self.claim("sub", subject.into())
    }

    /// Sets the granted scopes (the `scope` claim, space-separated), replacing any set before;
    /// an empty list leaves the token without `scope`.
    ///
    /// # Panics
    ///
    /// When a scope is not one RFC 6749 `scope-token` (`"read write"` is two scopes: name them
    /// as two items).
    pub fn scopes<S: AsRef<str>>(self, scopes: impl IntoIterator<Item = S>) -> Self {
        let mut scope = String::new();
        for item in scopes {
            let item = item.as_ref();
            assert!(
                is_scope_token(item),
                "invalid scope {item:?}: a scope is one RFC 6749 scope-token; name several \
                 scopes as several items, e.g. [\"read\", \"write\"]"
            );
            if !scope.is_empty() {
                scope.push(' ');
            }
            scope.push_str(item);
        }
        if scope.is_empty() {
            self.without_claim("scope")
        } else {
            self.claim("scope", scope)
        }
    }

    /// Sets `iss` (default: the issuer the keys' verifier requires).
    pub fn issuer(self, issuer: impl Into<String>) -> Self {
        self.claim("iss", issuer.into())
    }

    /// Sets `aud` to one audience (default: the audience the keys' verifier requires).
    pub fn audience(self, audience: impl Into<String>) -> Self {
        self.claim("aud", audience.into())
    }

    /// Sets `aud` to an array of audiences.
    pub fn audiences<S: Into<String>>(self, audiences: impl IntoIterator<Item = S>) -> Self {
        let audiences: Vec<String> = audiences.into_iter().map(Into::into).collect();
        self.claim("aud", audiences)
    }

    /// Sets `exp` to `lifetime` after the token was started (its default `iat`; default
    /// [`DEFAULT_LIFETIME`]).
    pub fn expires_in(self, lifetime: Duration) -> Self {
        let exp = self.now.saturating_add(lifetime.as_secs());
        self.claim("exp", exp)
    }

    /// Sets any claim to `value` (anything `Serialize`: a string, a number, `json!(…)`),
    /// replacing the default if there is one.
    ///
    /// # Panics
    ///
    /// When `value` does not serialize to JSON (a map with non-string keys, say).
    pub fn claim(mut self, name: impl Into<String>, value: impl Serialize) -> Self {
        let name = name.into();
        let value = serde_json::to_value(value)
            .unwrap_or_else(|err| panic!("claim {name:?} does not serialize to JSON: {err}"));
        self.claims.insert(name, value);
        self
    }

    /// Leaves a claim out, default or not: `without_claim("exp")` makes a token that never
    /// expires (refused: `exp` is required), `without_claim("sub")` one without a subject.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets the header's `typ` (default `at+jwt`); `typ("JWT")` makes a token refused as not an
    /// access token (an ID token replayed, say).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Leaves `typ` out of the header.
    pub fn without_typ(mut self) -> Self {
        self.typ = None;
        self
    }

    // --- Invalid on purpose ----------------------------------------------------------------

    /// Expired a day ago (issued two days ago), beyond any leeway: refused as `Expired`.
    pub fn expired(self) -> Self {
        let now = self.now;
        self.claim("iat", now.saturating_sub(2 * FAR))
            .claim("exp", now.saturating_sub(FAR))
    }

    /// Valid only from a day on (`nbf`), beyond any leeway: refused as `NotYetValid`.
    pub fn not_yet_valid(self) -> Self {
        let now = self.now;
        self.claim("nbf", now.saturating_add(FAR)).claim(
            "exp",
            now.saturating_add(FAR)
                .saturating_add(DEFAULT_LIFETIME.as_secs()),
        )
    }

    /// For another audience than the one the keys' verifier requires: refused as
    /// `InvalidAudience` (also by a verifier that requires none, RFC 7519 §4.1.3).
    pub fn wrong_audience(self) -> Self {
        let other = format!("not-{}", self.keys.audience);
        self.audience(other)
    }

    /// From another issuer than the one the keys' verifier requires: refused as
    /// `InvalidIssuer`.
    pub fn wrong_issuer(self) -> Self {
        let other = format!("{}.not", self.keys.issuer);
        self.issuer(other)
    }

    /// Signed with another key of the same algorithm under the same `kid`, as a forger would:
    /// refused as `InvalidSignature`.
    pub fn signed_with_another_key(mut self) -> Self {
        self.signing = Signing::AnotherKey;
        self
    }

    /// Signed, then its payload changed (the `sub` claim): refused as `InvalidSignature`.
    pub fn tampered(mut self) -> Self {
        self.tampered = true;
        self
    }

    /// Unsecured (RFC 7519 §6: `"alg": "none"`, an empty signature), the oldest attack on
    /// JWT libraries: refused as `MalformedToken`, the empty signature being refused before
    /// the header is read (a `none` with a signature would be `DisallowedAlgorithm`).
    pub fn alg_none(mut self) -> Self {
        self.signing = Signing::None;
        self
    }

    /// Without any scope: refused with 403 `insufficient_scope` by a route that requires one
    /// ([`JwtAuthLayer::require_scopes`], [`RequireScopeLayer`](crate::RequireScopeLayer),
    /// [`MethodScopes`](crate::MethodScopes)). The same as `scopes([] as [&str; 0])`.
    pub fn missing_scope(self) -> Self {
        self.without_claim("scope")
    }

    // --- Output ----------------------------------------------------------------------------

    /// The claims as they will be signed.
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The compact JWT.
    ///
    /// # Panics
    ///
    /// When signing fails (it does not with the keys [`TestKeys`] generates).
    #[must_use]
    pub fn sign(self) -> String {
        let key = match self.signing {
            Signing::Key => &self.keys.key,
            Signing::AnotherKey => self.keys.another_key(),
            Signing::None => return self.unsecured(),
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.typ.clone_from(&self.typ);
        header.kid = key.kid().map(str::to_owned);
        let claims = Value::Object(self.claims.clone());
        let token = key
            .sign_json(header, &claims)
            .unwrap_or_else(|err| panic!("cannot sign a test token: {err}"));
        if self.tampered {
            self.tamper(&token)
        } else {
            token
        }
    }

    /// `Bearer <jwt>`, as a string (for a tonic metadata value, say).
    ///
    /// # Panics
    ///
    /// As [`sign`](Self::sign).
    #[must_use]
    pub fn bearer_string(self) -> String {
        format!("Bearer {}", self.sign())
    }

    /// `Bearer <jwt>`, the value of an `Authorization` header (marked sensitive, so that
    /// logging layers do not print it).
    ///
    /// # Panics
    ///
    /// As [`sign`](Self::sign).
    #[must_use]
    pub fn bearer(self) -> HeaderValue {
        let mut value =
            HeaderValue::try_from(self.bearer_string()).expect("a JWT is a valid header value");
        value.set_sensitive(true);
        value
    }

    fn header_json(&self, alg: &str) -> Value {
        let mut header = Map::new();
        header.insert("alg".into(), json!(alg));
        if let Some(typ) = &self.typ {
            header.insert("typ".into(), json!(typ));
        }
        if let Some(kid) = self.keys.key.kid() {
            header.insert("kid".into(), json!(kid));
        }
        Value::Object(header)
    }

    /// `header.payload.` with `"alg": "none"`.
    fn unsecured(&self) -> String {
        let header = serde_json::to_vec(&self.header_json("none")).expect("JSON");
        let payload = serde_json::to_vec(&self.claims).expect("JSON");
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    /// `token` with its payload's `sub` changed, header and signature kept.
    fn tamper(&self, token: &str) -> String {
        let mut parts = token.splitn(3, '.');
        let (header, _payload, signature) = (
            parts.next().unwrap_or(""),
            parts.next(),
            parts.next().unwrap_or(""),
        );
        let mut claims = self.claims.clone();
        let sub = match claims.get("sub").and_then(Value::as_str) {
            Some("admin") => "root".to_owned(),
            Some(_) | None => "admin".to_owned(),
        };
        claims.insert("sub".into(), json!(sub));
        let payload = serde_json::to_vec(&claims).expect("JSON");
        format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(payload))
    }
}

impl fmt::Debug for TokenBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBuilder")
            .field("alg", &self.keys.key.algorithm())
            .field("claims", &self.claims)
            .field("typ", &self.typ)
            .field("signing", &self.signing)
            .field("tampered", &self.tampered)
            .finish()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn random_id() -> String {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).expect("the operating system's random number generator failed");
    URL_SAFE_NO_PAD.encode(id)
}

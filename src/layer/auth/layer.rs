use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::{Config, DEFAULT_MAX_TOKEN_LEN, JwtAuth};
use crate::layer::extract::TokenSource;
use crate::layer::rejection::{DefaultRejection, OnRejection};
use crate::verify::algorithm::AlgorithmSet;
use crate::verify::claims::Claims;
use crate::verify::error::ConfigError;
use crate::verify::keys::KeyStore;
use crate::verify::revocation::Revocation;
use crate::verify::validation::Validation;
use crate::verify::verifier::Verifier;

/// Layer that verifies `Authorization: Bearer <jwt>` on every request; see the
/// [crate docs](crate) for an example.
///
/// Verified claims of type `C` (by default [`Claims`]) are inserted into the request's
/// extensions as an **`Arc<C>`**: read them with [`ClaimsExt::claims`](crate::ClaimsExt) (on an
/// `http::Request`, its `Parts` or its `Extensions`), the `axum::JwtClaims` extractor (feature
/// `axum`), `tonic::RequestClaimsExt` (feature `tonic`), or
/// `request.extensions().get::<Arc<C>>()`. Shared rather than owned, so that
/// nothing copies them on the way to the handler, and so that the
/// [verified-token cache](Self::cache_verified_tokens) can hand the same claims to every request
/// a token comes with. Rejections are responses, never errors: the service's error type stays the inner
/// service's.
///
/// Cloning is cheap: the configuration sits behind an `Arc`.
#[must_use]
pub struct JwtAuthLayer<C = Claims, R = DefaultRejection> {
    pub(super) config: Arc<Config>,
    pub(super) on_rejection: R,
    pub(super) _claims: PhantomData<fn() -> C>,
}

impl JwtAuthLayer {
    /// A layer accepting tokens signed by `keys` (a [`DecodingKey`](crate::DecodingKey),
    /// a [`KeySet`](crate::KeySet) or a [`KeyStore`]), under the default [`Validation`].
    pub fn new(keys: impl Into<KeyStore>) -> Self {
        Self::from_verifier(Verifier::from_parts(keys.into(), Validation::new()))
    }

    /// A layer using a ready [`Verifier`].
    pub fn from_verifier(verifier: Verifier) -> Self {
        Self {
            config: Arc::new(Config {
                verifier,
                sources: Vec::new(),
                max_token_len: DEFAULT_MAX_TOKEN_LEN,
                optional: false,
                revocation: None,
                resolver: None,
            }),
            on_rejection: DefaultRejection::default(),
            _claims: PhantomData,
        }
    }
}

impl JwtAuthLayer {
    /// A layer whose keys and rules are chosen per request by `resolver`; the layer's own
    /// verifier then holds no key and is not used.
    #[cfg(feature = "remote")]
    pub(crate) fn from_resolver(resolver: Arc<dyn super::Resolve>) -> Self {
        let keys = KeyStore::new(crate::verify::keys::KeySet::empty());
        let mut layer = Self::from_verifier(Verifier::from_parts(keys, Validation::new()));
        layer.config_mut().resolver = Some(resolver);
        layer
    }
}

impl<C, R> JwtAuthLayer<C, R> {
    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    fn validation(mut self, f: impl FnOnce(Validation) -> Validation) -> Self {
        let validation = self.config_mut().verifier.validation_mut();
        *validation = f(std::mem::take(validation));
        self
    }

    /// Deserializes verified claims into `C2` instead (any `DeserializeOwned + Send + Sync` type).
    ///
    /// The layer reads and checks the registered claims it is configured for (`exp`, `nbf`,
    /// `iss`, `aud`, required scopes) on its own, whatever `C2` holds, so `C2` needs only what
    /// the handlers read. That is also the faster choice where tokens are verified rather than
    /// found in the cache: [`Claims`](crate::Claims) allocates a string for each of `iss`, `sub`,
    /// `aud`, `jti` and `scope` a token carries. In the load benchmark, a type holding `sub`
    /// alone took an uncached HS256 request through axum from 0.75× to 0.79× of bare axum's
    /// throughput (BENCHMARKS.md, "The floor of handing claims on").
    ///
    /// ```
    /// # use tower_jwt_auth::{Algorithm, DecodingKey, JwtAuthLayer};
    /// #[derive(serde::Deserialize)]
    /// struct Subject {
    ///     sub: String,
    /// }
    ///
    /// let key = DecodingKey::from_secret(Algorithm::HS256, b"a secret of at least 32 bytes!!!")?;
    /// let layer = JwtAuthLayer::new(key).issuer("https://auth.example").claims::<Subject>();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn claims<C2>(self) -> JwtAuthLayer<C2, R> {
        JwtAuthLayer {
            config: self.config,
            on_rejection: self.on_rejection,
            _claims: PhantomData,
        }
    }

    /// Answers rejections with `on_rejection` instead of the standard responses.
    pub fn on_rejection<R2: OnRejection>(self, on_rejection: R2) -> JwtAuthLayer<C, R2> {
        JwtAuthLayer {
            config: self.config,
            on_rejection,
            _claims: PhantomData,
        }
    }

    /// See [`Validation::issuer`].
    pub fn issuer(self, issuer: impl Into<Arc<str>>) -> Self {
        self.validation(|v| v.issuer(issuer))
    }

    /// See [`Validation::audience`].
    pub fn audience(self, audience: impl Into<Arc<str>>) -> Self {
        self.validation(|v| v.audience(audience))
    }

    /// See [`Validation::leeway`].
    pub fn leeway(self, leeway: Duration) -> Self {
        self.validation(|v| v.leeway(leeway))
    }

    /// See [`Validation::require_type`].
    pub fn require_type(self, typ: impl Into<Arc<str>>) -> Self {
        self.validation(|v| v.require_type(typ))
    }

    /// See [`Validation::algorithms`].
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoKeys`] when the allow-list shares no algorithm with the keys: such a
    /// layer could never accept a token.
    pub fn algorithms(self, algorithms: impl Into<AlgorithmSet>) -> Result<Self, ConfigError> {
        self.validation(|v| v.algorithms(algorithms)).usable()
    }

    /// See [`Validation::require_scopes`]: every route behind this layer needs these scopes.
    ///
    /// # Panics
    ///
    /// As [`Validation::require_scopes`], on a scope that is not one RFC 6749 `scope-token`.
    pub fn require_scopes<S: AsRef<str>>(self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.validation(|v| v.require_scopes(scopes))
    }

    /// Replaces the whole [`Validation`].
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoKeys`] when its algorithm allow-list shares no algorithm with the keys.
    pub fn with_validation(self, validation: Validation) -> Result<Self, ConfigError> {
        self.validation(|_| validation).usable()
    }

    /// `self`, unless its allow-list excludes every key.
    fn usable(self) -> Result<Self, ConfigError> {
        self.config.verifier.check_usable()?;
        Ok(self)
    }

    /// Also reads the token from `source` when there is no `Authorization: Bearer` header.
    pub fn token_source(mut self, source: TokenSource) -> Self {
        self.config_mut().sources.push(source);
        self
    }

    /// Caps the token's length (default 8 KiB); longer tokens are refused before any parsing.
    pub fn max_token_len(mut self, max: usize) -> Self {
        self.config_mut().max_token_len = max;
        self
    }

    /// Optional authentication: a request with no bearer credential passes through without
    /// claims (handlers see `None`); a bad credential is still rejected.
    pub fn optional(mut self) -> Self {
        self.config_mut().optional = true;
        self
    }

    /// Calls `hook` for every token that passes signature and claims checks (see
    /// [`InMemoryDenylist`](crate::verify::InMemoryDenylist)).
    pub fn revocation(mut self, hook: impl Revocation) -> Self {
        self.config_mut().revocation = Some(Arc::new(hook));
        self
    }

    /// Caches up to `capacity` verified tokens, so a token presented again skips its
    /// signature check; `0` turns the cache off. On by default for public keys, off for
    /// shared secrets unless this is called; see [`Verifier::cache_verified_tokens`] for the
    /// defaults, what a hit skips (never the time, claims or revocation checks) and what it
    /// costs.
    pub fn cache_verified_tokens(mut self, capacity: usize) -> Self {
        self.config_mut().verifier.set_cache(capacity);
        self
    }

    /// Bounds the verified-token cache in bytes (default 6 MiB); `0` turns it off. See
    /// [`Verifier::cache_byte_budget`].
    pub fn cache_byte_budget(mut self, max_bytes: usize) -> Self {
        self.config_mut().verifier.set_cache_bytes(max_bytes);
        self
    }

    /// The verifier, to check tokens outside a request or to rotate keys through
    /// [`Verifier::keys`].
    #[must_use]
    pub fn verifier(&self) -> &Verifier {
        &self.config.verifier
    }
}

impl<C> JwtAuthLayer<C, DefaultRejection> {
    /// The realm named in challenges (default `api`).
    pub fn realm(self, realm: &str) -> Self {
        let rejection = self.on_rejection.clone().with_realm(realm);
        self.on_rejection(rejection)
    }

    /// Challenges name `url`, the resource's RFC 9728 metadata document, in a
    /// `resource_metadata` parameter; see [`DefaultRejection::resource_metadata`].
    pub fn resource_metadata(self, url: &str) -> Self {
        let rejection = self.on_rejection.clone().resource_metadata(url);
        self.on_rejection(rejection)
    }
}

impl<S, C, R: Clone> Layer<S> for JwtAuthLayer<C, R> {
    type Service = JwtAuth<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth {
            inner,
            config: Arc::clone(&self.config),
            on_rejection: self.on_rejection.clone(),
            _claims: PhantomData,
        }
    }
}

// Hand-written: a derive would require `C: Clone`, which the marker does not need.
impl<C, R: Clone> Clone for JwtAuthLayer<C, R> {
    fn clone(&self) -> Self {
        Self {
            config: Arc::clone(&self.config),
            on_rejection: self.on_rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C, R> fmt::Debug for JwtAuthLayer<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthLayer")
            .field("verifier", &self.config.verifier)
            .field("sources", &self.config.sources)
            .field("max_token_len", &self.config.max_token_len)
            .field("optional", &self.config.optional)
            .field("revocation", &self.config.revocation.is_some())
            .finish_non_exhaustive()
    }
}

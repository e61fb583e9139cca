//! Scope requirements, per route or per gRPC method, read from the claims a
//! [`JwtAuthLayer`](crate::JwtAuthLayer) put in the request.
//!
//! `mod.rs` holds the middleware ([`RequireScopeLayer`], [`RequireScope`]); `rules.rs` the
//! per-method rules ([`MethodScopes`]).

mod rules;

pub use rules::MethodScopes;

use rules::Rules;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::layer::access::ClaimsExt as _;
use crate::layer::body::ResponseBody;
use crate::layer::rejection::{DefaultRejection, OnRejection};
use crate::layer::{ResponseFuture, reject};
use crate::verify::claims::{Claims, ScopeClaims};

/// Layer requiring scopes: the same ones for every request ([`RequireScopeLayer::new`]), or
/// per request path or gRPC method ([`RequireScopeLayer::per_method`]).
///
/// Put it *inside* a [`JwtAuthLayer`](crate::JwtAuthLayer) (in axum: `route_layer` on the
/// routes, with the auth layer applied to the router). A request whose claims lack a scope gets
/// 403 `insufficient_scope` with the needed `scope` in the challenge (gRPC: `PERMISSION_DENIED`);
/// one with no claims at all (optional authentication) gets 401 (gRPC: `UNAUTHENTICATED`).
#[must_use]
pub struct RequireScopeLayer<C = Claims, R = DefaultRejection> {
    rules: Arc<Rules>,
    on_rejection: R,
    _claims: PhantomData<fn() -> C>,
}

impl RequireScopeLayer {
    /// Requires every one of `scopes`, whatever the path: put it on the routes that need them
    /// (in axum, `route_layer`), where nesting cannot change what it applies to.
    ///
    /// ```
    /// use tower_jwt_auth::RequireScopeLayer;
    ///
    /// let admin_only = RequireScopeLayer::new(["admin"]);
    /// let both = RequireScopeLayer::new(["read", "write"]);
    /// ```
    ///
    /// # Panics
    ///
    /// When a scope is empty or is not one RFC 6749 `scope-token` (`"read write"` holds a
    /// space: name the two scopes as two items).
    pub fn new<S: AsRef<str>>(scopes: impl IntoIterator<Item = S>) -> Self {
        Self::with_rules(Rules::every_path(scopes))
    }

    /// Applies `rules` by gRPC method (the request path); see [`MethodScopes`] for how paths
    /// that are not gRPC methods are treated.
    pub fn per_method(rules: MethodScopes) -> Self {
        Self::with_rules(Rules::PerMethod(rules))
    }

    fn with_rules(rules: Rules) -> Self {
        Self {
            rules: Arc::new(rules),
            on_rejection: DefaultRejection::default(),
            _claims: PhantomData,
        }
    }
}

impl<C, R> RequireScopeLayer<C, R> {
    /// Reads the scopes from claims of type `C2`.
    pub fn claims<C2: ScopeClaims>(self) -> RequireScopeLayer<C2, R> {
        RequireScopeLayer {
            rules: self.rules,
            on_rejection: self.on_rejection,
            _claims: PhantomData,
        }
    }

    /// Answers rejections with `on_rejection`.
    pub fn on_rejection<R2: OnRejection>(self, on_rejection: R2) -> RequireScopeLayer<C, R2> {
        RequireScopeLayer {
            rules: self.rules,
            on_rejection,
            _claims: PhantomData,
        }
    }
}

impl<C> RequireScopeLayer<C, DefaultRejection> {
    /// The realm named in challenges (default `api`).
    pub fn realm(self, realm: &str) -> Self {
        self.on_rejection(DefaultRejection::new(realm))
    }
}

impl<S, C, R: Clone> Layer<S> for RequireScopeLayer<C, R> {
    type Service = RequireScope<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope {
            inner,
            rules: Arc::clone(&self.rules),
            on_rejection: self.on_rejection.clone(),
            _claims: PhantomData,
        }
    }
}

// Hand-written: a derive would require `C: Clone`, which the marker does not need.
impl<C, R: Clone> Clone for RequireScopeLayer<C, R> {
    fn clone(&self) -> Self {
        Self {
            rules: Arc::clone(&self.rules),
            on_rejection: self.on_rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C, R> fmt::Debug for RequireScopeLayer<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopeLayer")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

/// Middleware made by [`RequireScopeLayer`].
pub struct RequireScope<S, C = Claims, R = DefaultRejection> {
    inner: S,
    rules: Arc<Rules>,
    on_rejection: R,
    _claims: PhantomData<fn() -> C>,
}

impl<S, C, R> RequireScope<S, C, R> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: ScopeClaims + Send + Sync + 'static,
    R: OnRejection,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let checked = self
            .rules
            .check(request.uri().path(), request.claims::<C>());
        match checked {
            Ok(()) => ResponseFuture::inner(self.inner.call(request)),
            Err(error) => {
                #[cfg(feature = "metrics")]
                crate::metrics::scope_rejected(error.kind());
                ResponseFuture::rejected(reject(&self.on_rejection, error, request.headers()))
            }
        }
    }
}

impl<S: Clone, C, R: Clone> Clone for RequireScope<S, C, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            rules: Arc::clone(&self.rules),
            on_rejection: self.on_rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<S: fmt::Debug, C, R> fmt::Debug for RequireScope<S, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScope")
            .field("inner", &self.inner)
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

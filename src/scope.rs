//! Per-route scope requirements, read from the claims a [`JwtAuthLayer`](crate::JwtAuthLayer)
//! put in the request.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::auth::{ResponseFuture, rejection};
use crate::body::ResponseBody;
use crate::claims::{Claims, ScopeClaims};
use crate::error::{AuthError, ErrorKind};
use crate::rejection::{DefaultRejection, OnRejection};

/// Layer requiring every one of a set of scopes, for the routes it wraps.
///
/// Put it *inside* a [`JwtAuthLayer`](crate::JwtAuthLayer) (in axum: `route_layer` on the
/// routes, with the auth layer applied to the router). A request whose claims lack a scope gets
/// 403 `insufficient_scope` with the needed `scope` in the challenge (gRPC: `PERMISSION_DENIED`);
/// one with no claims at all (optional authentication) gets 401.
#[must_use]
pub struct RequireScopeLayer<C = Claims, R = DefaultRejection> {
    scopes: Arc<[Box<str>]>,
    joined: Arc<str>,
    on_rejection: R,
    _claims: PhantomData<fn() -> C>,
}

impl RequireScopeLayer {
    /// Requires every scope in the space-separated `scopes`.
    pub fn new(scopes: &str) -> Self {
        let scopes: Arc<[Box<str>]> = scopes.split_ascii_whitespace().map(Box::from).collect();
        let joined = scopes.join(" ").into();
        Self {
            scopes,
            joined,
            on_rejection: DefaultRejection::default(),
            _claims: PhantomData,
        }
    }
}

impl<C, R> RequireScopeLayer<C, R> {
    /// Reads the scopes from claims of type `C2`.
    pub fn claims<C2: ScopeClaims>(self) -> RequireScopeLayer<C2, R> {
        RequireScopeLayer {
            scopes: self.scopes,
            joined: self.joined,
            on_rejection: self.on_rejection,
            _claims: PhantomData,
        }
    }

    /// Answers rejections with `on_rejection`.
    pub fn on_rejection<R2: OnRejection>(self, on_rejection: R2) -> RequireScopeLayer<C, R2> {
        RequireScopeLayer {
            scopes: self.scopes,
            joined: self.joined,
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
            scopes: Arc::clone(&self.scopes),
            joined: Arc::clone(&self.joined),
            on_rejection: self.on_rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C, R: Clone> Clone for RequireScopeLayer<C, R> {
    fn clone(&self) -> Self {
        Self {
            scopes: Arc::clone(&self.scopes),
            joined: Arc::clone(&self.joined),
            on_rejection: self.on_rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C, R> fmt::Debug for RequireScopeLayer<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopeLayer")
            .field("scopes", &self.joined)
            .finish_non_exhaustive()
    }
}

/// Middleware made by [`RequireScopeLayer`].
pub struct RequireScope<S, C = Claims, R = DefaultRejection> {
    inner: S,
    scopes: Arc<[Box<str>]>,
    joined: Arc<str>,
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
        let error = match request.extensions().get::<C>() {
            None => AuthError::new(ErrorKind::MissingCredential),
            Some(claims) if self.scopes.iter().all(|s| claims.has_scope(s)) => {
                return ResponseFuture::inner(self.inner.call(request));
            }
            Some(_) => AuthError::insufficient_scope(Arc::clone(&self.joined)),
        };
        ResponseFuture::rejected(rejection(&self.on_rejection, error, request.headers()))
    }
}

impl<S: Clone, C, R: Clone> Clone for RequireScope<S, C, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            scopes: Arc::clone(&self.scopes),
            joined: Arc::clone(&self.joined),
            on_rejection: self.on_rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<S: fmt::Debug, C, R> fmt::Debug for RequireScope<S, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScope")
            .field("inner", &self.inner)
            .field("scopes", &self.joined)
            .finish_non_exhaustive()
    }
}

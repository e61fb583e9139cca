//! Scope requirements, per route or per gRPC method, read from the claims a [`JwtAuthLayer`](crate::JwtAuthLayer)
//! put in the request.

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
use crate::verify::error::{AuthError, ErrorKind};

/// Layer requiring scopes: the same ones for every request ([`RequireScopeLayer::new`]), or
/// per request path or gRPC method ([`RequireScopeLayer::per_method`]).
///
/// Put it *inside* a [`JwtAuthLayer`](crate::JwtAuthLayer) (in axum: `route_layer` on the
/// routes, with the auth layer applied to the router). A request whose claims lack a scope gets
/// 403 `insufficient_scope` with the needed `scope` in the challenge (gRPC: `PERMISSION_DENIED`);
/// one with no claims at all (optional authentication) gets 401 (gRPC: `UNAUTHENTICATED`).
#[must_use]
pub struct RequireScopeLayer<C = Claims, R = DefaultRejection> {
    rules: Arc<MethodScopes>,
    on_rejection: R,
    _claims: PhantomData<fn() -> C>,
}

impl RequireScopeLayer {
    /// Requires every scope in the space-separated `scopes`, whatever the path.
    pub fn new(scopes: &str) -> Self {
        Self::per_method(MethodScopes::new().default_scopes(scopes))
    }

    /// Applies `rules` by request path (gRPC method).
    pub fn per_method(rules: MethodScopes) -> Self {
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
    rules: Arc<MethodScopes>,
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

/// Access rules by request path: for gRPC, by method (`/package.Service/Method`), for unary and
/// streaming calls alike.
///
/// Give it to [`RequireScopeLayer::per_method`], inside a [`JwtAuthLayer`](crate::JwtAuthLayer) — typically an
/// [optional](crate::JwtAuthLayer::optional) one, so that public methods need no token while a
/// token that is sent is still verified. Paths match exactly, or by a prefix ending in `/` (a
/// whole service); exact rules win over prefixes, longer prefixes over shorter ones. Unlisted
/// paths need an authenticated caller unless [`MethodScopes::default_public`] is set.
///
/// ```
/// use tower_jwt_auth::MethodScopes;
///
/// let rules = MethodScopes::new()
///     .public("/greeter.v1.Greeter/SayHello")
///     .public_prefix("/tower_jwt_auth.v1.Auth/")
///     .require("/greeter.v1.Greeter/Shutdown", "admin")
///     .require_prefix("/billing.v1.Billing/", "billing");
/// ```
#[derive(Clone, Debug, Default)]
pub struct MethodScopes {
    exact: std::collections::HashMap<Box<str>, Access>,
    prefixes: Vec<(Box<str>, Access)>,
    default: Access,
}

#[derive(Clone, Debug)]
enum Access {
    Public,
    /// A valid token granting these scopes (none: any valid token).
    Scopes(Arc<[Box<str>]>, Arc<str>),
}

impl Default for Access {
    fn default() -> Self {
        Access::scopes("")
    }
}

impl Access {
    fn scopes(scopes: &str) -> Self {
        let list: Arc<[Box<str>]> = scopes.split_ascii_whitespace().map(Box::from).collect();
        let joined = list.join(" ").into();
        Access::Scopes(list, joined)
    }
}

impl MethodScopes {
    /// No rules yet; unlisted paths need an authenticated caller.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// `path` needs no token.
    #[must_use]
    pub fn public(mut self, path: &str) -> Self {
        self.exact.insert(path.into(), Access::Public);
        self
    }

    /// Every path starting with `prefix` needs no token.
    #[must_use]
    pub fn public_prefix(mut self, prefix: &str) -> Self {
        self.prefixes.push((prefix.into(), Access::Public));
        self.sort_prefixes();
        self
    }

    /// `path` needs a token granting every scope in the space-separated `scopes` (an empty
    /// string: any valid token).
    #[must_use]
    pub fn require(mut self, path: &str, scopes: &str) -> Self {
        self.exact.insert(path.into(), Access::scopes(scopes));
        self
    }

    /// Every path starting with `prefix` needs these scopes.
    #[must_use]
    pub fn require_prefix(mut self, prefix: &str, scopes: &str) -> Self {
        self.prefixes.push((prefix.into(), Access::scopes(scopes)));
        self.sort_prefixes();
        self
    }

    /// Unlisted paths need no token (default: they need an authenticated caller).
    #[must_use]
    pub fn default_public(mut self) -> Self {
        self.default = Access::Public;
        self
    }

    /// Unlisted paths need every scope in the space-separated `scopes`.
    #[must_use]
    pub fn default_scopes(mut self, scopes: &str) -> Self {
        self.default = Access::scopes(scopes);
        self
    }

    fn sort_prefixes(&mut self) {
        self.prefixes
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
    }

    fn rule(&self, path: &str) -> &Access {
        if let Some(access) = self.exact.get(path) {
            return access;
        }
        self.prefixes
            .iter()
            .find(|(prefix, _)| path.starts_with(&**prefix))
            .map_or(&self.default, |(_, access)| access)
    }

    fn check<C: ScopeClaims>(&self, path: &str, claims: Option<&C>) -> Result<(), AuthError> {
        let Access::Scopes(scopes, joined) = self.rule(path) else {
            return Ok(());
        };
        let claims = claims.ok_or(AuthError::new(ErrorKind::MissingCredential))?;
        if scopes.iter().all(|s| claims.has_scope(s)) {
            Ok(())
        } else {
            Err(AuthError::insufficient_scope(Arc::clone(joined)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(scope: &str) -> Claims {
        Claims {
            scope: Some(scope.into()),
            ..Claims::default()
        }
    }

    #[test]
    fn exact_rules_win_then_the_longest_prefix_then_the_default() {
        let rules = MethodScopes::new()
            .public_prefix("/a.A/")
            .require("/a.A/Admin", "admin")
            .require_prefix("/a.A/Secret", "secret")
            .require("/b.B/Read", "read");
        let read = claims("read");
        assert!(rules.check::<Claims>("/a.A/Hello", None).is_ok());
        assert_eq!(
            rules.check("/a.A/Admin", Some(&read)).unwrap_err().kind(),
            ErrorKind::InsufficientScope
        );
        assert!(rules.check("/a.A/Admin", Some(&claims("admin"))).is_ok());
        assert_eq!(
            rules
                .check::<Claims>("/a.A/SecretStuff", None)
                .unwrap_err()
                .kind(),
            ErrorKind::MissingCredential
        );
        assert!(rules.check("/b.B/Read", Some(&read)).is_ok());
        // Unlisted: any authenticated caller.
        assert!(rules.check("/c.C/Any", Some(&claims(""))).is_ok());
        assert_eq!(
            rules.check::<Claims>("/c.C/Any", None).unwrap_err().kind(),
            ErrorKind::MissingCredential
        );
        assert!(
            rules
                .default_public()
                .check::<Claims>("/c.C/Any", None)
                .is_ok()
        );
    }

    #[test]
    fn a_missing_scope_names_every_required_scope() {
        let rules = MethodScopes::new().require("/x", "a  b");
        let err = rules.check("/x", Some(&claims("a"))).unwrap_err();
        assert_eq!(err.required_scope(), Some("a b"));
    }
}

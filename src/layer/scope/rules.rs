//! Which scopes a request needs: the same for every path, or per gRPC method.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::verify::claims::{ScopeClaims, scope_tokens};
use crate::verify::error::{AuthError, ErrorKind};

/// What a [`RequireScope`](super::RequireScope) applies.
#[derive(Clone, Debug)]
pub(crate) enum Rules {
    /// The same access for every path ([`RequireScopeLayer::new`](super::RequireScopeLayer::new)).
    EveryPath(Access),
    /// By gRPC method ([`RequireScopeLayer::per_method`](super::RequireScopeLayer::per_method)).
    PerMethod(MethodScopes),
}

impl Rules {
    pub(crate) fn every_path<S: AsRef<str>>(scopes: impl IntoIterator<Item = S>) -> Self {
        Rules::EveryPath(Access::scopes(scopes))
    }

    pub(crate) fn check<C: ScopeClaims>(
        &self,
        path: &str,
        claims: Option<&C>,
    ) -> Result<(), AuthError> {
        match self {
            Rules::EveryPath(access) => access.check(claims),
            Rules::PerMethod(rules) => rules.check(path, claims),
        }
    }
}

/// Access rules by gRPC method (`/package.Service/Method`), for unary and streaming calls alike.
///
/// Give it to [`RequireScopeLayer::per_method`](super::RequireScopeLayer::per_method), inside a
/// [`JwtAuthLayer`](crate::JwtAuthLayer), typically an
/// [optional](crate::JwtAuthLayer::optional) one, so that public methods need no token while a
/// token that is sent is still verified.
///
/// ```
/// use tower_jwt_auth::MethodScopes;
///
/// let rules = MethodScopes::new()
///     .public("/greeter.v1.Greeter/SayHello")
///     .public_service("tower_jwt_auth.v1.Auth")
///     .require("/greeter.v1.Greeter/Shutdown", ["admin"])
///     .require_service("billing.v1.Billing", ["billing"])
///     .public("/login"); // an HTTP route served beside the gRPC services
/// ```
///
/// # How a request's path is matched
///
/// 1. A rule for exactly that path ([`public`](Self::public), [`require`](Self::require)).
/// 2. For a gRPC method path (`/service/method`), a rule for its service
///    ([`public_service`](Self::public_service), [`require_service`](Self::require_service),
///    [`authenticated_service`](Self::authenticated_service)): `greeter.v1.Greeter` covers
///    `/greeter.v1.Greeter/*`, never `/greeter.v1.GreeterAdmin/*`.
/// 3. A method of a service some rule names (a service rule, or an exact rule for one of its
///    methods) gets the default: an authenticated caller, unless
///    [`default_public`](Self::default_public) or [`default_scopes`](Self::default_scopes) says
///    otherwise.
/// 4. **Any other path is refused** (401 without a token, 403 with one): a method of a service
///    no rule names, and any path that is not a method.
///
/// The last rule is there because rules match the path the layer sees, which is not always the
/// one the client sent: under axum's `Router::nest("/api", inner)`, a layer on `inner` sees
/// `/admin/stats` for `/api/admin/stats`. A rule written for the full path would then match
/// nothing, and falling back to a default would let any valid token through (and the path has
/// the shape of a gRPC method: the client chooses the `content-type` that would tell them
/// apart, so it cannot be trusted); refusing instead makes the mistake visible at once. For HTTP
/// routes, put a [`RequireScopeLayer::new`] on the route itself (axum: `route_layer`), which
/// applies wherever the route is mounted.
///
/// [`RequireScopeLayer::new`]: super::RequireScopeLayer::new
#[derive(Clone, Debug, Default)]
pub struct MethodScopes {
    exact: HashMap<Box<str>, Access>,
    services: HashMap<Box<str>, Access>,
    /// Services some rule names: only their unlisted methods get the default.
    declared: HashSet<Box<str>>,
    default: Access,
}

/// What one rule lets through.
#[derive(Clone, Debug)]
pub(crate) enum Access {
    Public,
    /// A valid token granting these scopes (none: any valid token).
    Scopes(Arc<[Box<str>]>, Arc<str>),
}

impl Default for Access {
    fn default() -> Self {
        Access::Scopes(Arc::new([]), Arc::from(""))
    }
}

impl Access {
    fn scopes<S: AsRef<str>>(scopes: impl IntoIterator<Item = S>) -> Self {
        let list: Arc<[Box<str>]> = scope_tokens(scopes).into();
        let joined = list.join(" ").into();
        Access::Scopes(list, joined)
    }

    fn check<C: ScopeClaims>(&self, claims: Option<&C>) -> Result<(), AuthError> {
        let Access::Scopes(scopes, joined) = self else {
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

/// The service of a gRPC method path (`/service/method`, both parts non-empty), if `path` is one.
fn method_service(path: &str) -> Option<&str> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    (!service.is_empty() && !method.is_empty() && !method.contains('/')).then_some(service)
}

/// Panics unless `path` can be a request path.
fn checked_path(path: &str) -> Box<str> {
    assert!(
        path.starts_with('/') && !path.bytes().any(|b| b.is_ascii_whitespace() || b == b'?'),
        "invalid path {path:?}: a rule names a request path, such as \
         \"/greeter.v1.Greeter/SayHello\""
    );
    path.into()
}

/// Panics unless `service` is a bare gRPC service name.
fn checked_service(service: &str) -> Box<str> {
    assert!(
        !service.is_empty()
            && !service
                .bytes()
                .any(|b| b == b'/' || b.is_ascii_whitespace() || b.is_ascii_control()),
        "invalid service {service:?}: name the service alone, such as \"greeter.v1.Greeter\" \
         (it covers \"/greeter.v1.Greeter/*\")"
    );
    service.into()
}

impl MethodScopes {
    /// No rules yet: gRPC methods need an authenticated caller, other paths are refused.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// `path` (a gRPC method, or an HTTP route served beside them) needs no token.
    ///
    /// # Panics
    ///
    /// When `path` does not start with `/`, or holds whitespace or a `?`.
    #[must_use]
    pub fn public(mut self, path: &str) -> Self {
        self.exact_rule(path, Access::Public);
        self
    }

    fn exact_rule(&mut self, path: &str, access: Access) {
        let path = checked_path(path);
        if let Some(service) = method_service(&path) {
            self.declared.insert(service.into());
        }
        self.exact.insert(path, access);
    }

    fn service_rule(&mut self, service: &str, access: Access) {
        let service = checked_service(service);
        self.declared.insert(service.clone());
        self.services.insert(service, access);
    }

    /// `path` needs a token granting every one of `scopes` (none: any valid token).
    ///
    /// # Panics
    ///
    /// As [`public`](Self::public), and when a scope is not one RFC 6749 `scope-token`.
    #[must_use]
    pub fn require<S: AsRef<str>>(
        mut self,
        path: &str,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.exact_rule(path, Access::scopes(scopes));
        self
    }

    /// Every method of the gRPC `service` (such as `greeter.v1.Greeter`) needs no token.
    ///
    /// # Panics
    ///
    /// When `service` is empty or holds a `/` or whitespace.
    #[must_use]
    pub fn public_service(mut self, service: &str) -> Self {
        self.service_rule(service, Access::Public);
        self
    }

    /// Every method of the gRPC `service` needs a valid token, whatever its scopes.
    ///
    /// # Panics
    ///
    /// As [`public_service`](Self::public_service).
    #[must_use]
    pub fn authenticated_service(mut self, service: &str) -> Self {
        self.service_rule(service, Access::default());
        self
    }

    /// Every method of the gRPC `service` needs a token granting every one of `scopes`.
    ///
    /// # Panics
    ///
    /// As [`public_service`](Self::public_service), and when a scope is not one RFC 6749
    /// `scope-token`.
    #[must_use]
    pub fn require_service<S: AsRef<str>>(
        mut self,
        service: &str,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.service_rule(service, Access::scopes(scopes));
        self
    }

    /// Methods no rule names, of services some rule names, need no token (default: an
    /// authenticated caller). Other paths are still refused unless a rule names them.
    #[must_use]
    pub fn default_public(mut self) -> Self {
        self.default = Access::Public;
        self
    }

    /// Methods no rule names, of services some rule names, need every one of `scopes`.
    ///
    /// # Panics
    ///
    /// When a scope is not one RFC 6749 `scope-token`.
    #[must_use]
    pub fn default_scopes<S: AsRef<str>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.default = Access::scopes(scopes);
        self
    }

    fn rule(&self, path: &str) -> Option<&Access> {
        if let Some(access) = self.exact.get(path) {
            return Some(access);
        }
        let service = method_service(path)?;
        if let Some(access) = self.services.get(service) {
            return Some(access);
        }
        self.declared.contains(service).then_some(&self.default)
    }

    pub(crate) fn check<C: ScopeClaims>(
        &self,
        path: &str,
        claims: Option<&C>,
    ) -> Result<(), AuthError> {
        match self.rule(path) {
            Some(access) => access.check(claims),
            None => {
                tracing::warn!(
                    path,
                    "no MethodScopes rule names this path or its service: refused"
                );
                match claims {
                    None => Err(AuthError::new(ErrorKind::MissingCredential)),
                    Some(_) => Err(AuthError::new(ErrorKind::UnlistedPath)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::claims::Claims;

    fn claims(scope: &str) -> Claims {
        Claims {
            scope: Some(scope.into()),
            ..Claims::default()
        }
    }

    fn kind(result: Result<(), AuthError>) -> ErrorKind {
        result.unwrap_err().kind()
    }

    #[test]
    fn exact_rules_win_then_the_service_then_the_default() {
        let rules = MethodScopes::new()
            .public_service("a.A")
            .require("/a.A/Admin", ["admin"])
            .require_service("b.B", ["secret"])
            .require("/b.B/Read", ["read"])
            .require("/c.C/Special", ["x"]);
        let read = claims("read");
        assert!(rules.check::<Claims>("/a.A/Hello", None).is_ok());
        assert_eq!(
            kind(rules.check("/a.A/Admin", Some(&read))),
            ErrorKind::InsufficientScope
        );
        assert!(rules.check("/a.A/Admin", Some(&claims("admin"))).is_ok());
        assert_eq!(
            kind(rules.check::<Claims>("/b.B/Other", None)),
            ErrorKind::MissingCredential
        );
        assert!(rules.check("/b.B/Other", Some(&claims("secret"))).is_ok());
        assert!(rules.check("/b.B/Read", Some(&read)).is_ok());
        // Unlisted method of a service a rule names: any authenticated caller.
        assert!(rules.check("/c.C/Any", Some(&claims(""))).is_ok());
        assert_eq!(
            kind(rules.check::<Claims>("/c.C/Any", None)),
            ErrorKind::MissingCredential
        );
        // A service no rule names: refused, default or not.
        assert_eq!(
            kind(rules.check("/d.D/Any", Some(&claims("admin")))),
            ErrorKind::UnlistedPath
        );
        let rules = rules.default_public();
        assert!(rules.check::<Claims>("/c.C/Any", None).is_ok());
        assert_eq!(
            kind(rules.check::<Claims>("/d.D/Any", None)),
            ErrorKind::MissingCredential
        );
        let authenticated = MethodScopes::new().authenticated_service("e.E");
        assert!(authenticated.check("/e.E/Any", Some(&claims(""))).is_ok());
        assert_eq!(
            kind(authenticated.check::<Claims>("/e.E/Any", None)),
            ErrorKind::MissingCredential
        );
    }

    #[test]
    fn a_service_rule_covers_that_service_only() {
        // A prefix "/pkg.Svc" used to cover "/pkg.SvcAdmin/*" too.
        let rules = MethodScopes::new()
            .public_service("pkg.Svc")
            .require_service("pkg.SvcAdmin", ["admin"]);
        assert!(rules.check::<Claims>("/pkg.Svc/Get", None).is_ok());
        assert_eq!(
            kind(rules.check("/pkg.SvcAdmin/Drop", Some(&claims("read")))),
            ErrorKind::InsufficientScope
        );
        let only = MethodScopes::new()
            .public_service("pkg.Svc")
            .default_public();
        assert_eq!(
            kind(only.check::<Claims>("/pkg.SvcAdmin/Drop", None)),
            ErrorKind::MissingCredential
        );
        assert_eq!(
            kind(only.check("/pkg.SvcAdmin/Drop", Some(&claims("read")))),
            ErrorKind::UnlistedPath
        );
    }

    #[test]
    fn paths_that_are_not_methods_are_refused_unless_named() {
        let rules = MethodScopes::new()
            .default_public()
            .public("/login")
            .require("/api/admin", ["admin"]);
        assert!(rules.check::<Claims>("/login", None).is_ok());
        assert!(rules.check("/api/admin", Some(&claims("admin"))).is_ok());
        // What a layer on a router nested at "/api" sees for "/api/admin": no rule names it,
        // and falling back to the (public) default would skip the rule written for it.
        assert_eq!(
            kind(rules.check("/admin", Some(&claims("read")))),
            ErrorKind::UnlistedPath
        );
        // Nor for "/api/admin/stats", seen as "/admin/stats", which has a method's shape: its
        // "service" is named by no rule.
        let deep = MethodScopes::new()
            .default_public()
            .require("/api/admin/stats", ["admin"]);
        for seen in ["/admin/stats", "/users/42", "/.well-known/jwks.json"] {
            assert_eq!(
                kind(deep.check(seen, Some(&claims("read")))),
                ErrorKind::UnlistedPath,
                "{seen}"
            );
            assert!(deep.check::<Claims>(seen, None).is_err(), "{seen}");
        }
        assert_eq!(
            kind(rules.check::<Claims>("/admin", None)),
            ErrorKind::MissingCredential
        );
        for path in ["/", "/a/b/c", "/a//", "//b", "/a/"] {
            assert!(rules.check::<Claims>(path, None).is_err(), "{path}");
        }
    }

    #[test]
    fn a_missing_scope_names_every_required_scope() {
        let rules = MethodScopes::new().require("/x.X/Y", ["a", "b"]);
        let err = rules.check("/x.X/Y", Some(&claims("a"))).unwrap_err();
        assert_eq!(err.required_scope(), Some("a b"));
    }

    #[test]
    #[should_panic(expected = "invalid service")]
    fn a_service_with_a_slash_is_refused() {
        let _ = MethodScopes::new().public_service("/pkg.Svc");
    }

    #[test]
    #[should_panic(expected = "invalid path")]
    fn a_path_without_a_leading_slash_is_refused() {
        let _ = MethodScopes::new().public("pkg.Svc/Method");
    }

    #[test]
    #[should_panic(expected = "invalid scope")]
    fn a_space_separated_scope_string_is_refused() {
        let _ = MethodScopes::new().require("/pkg.Svc/Method", ["read write"]);
    }
}

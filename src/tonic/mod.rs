//! tonic 0.14 integration (feature `tonic`).
//!
//! [`JwtAuthLayer`](crate::JwtAuthLayer) works on a tonic server as it is: put it on the whole
//! server with `Server::builder().layer(…)`, or wrap a single service with
//! [`Layer::layer`](tower_layer::Layer::layer) and pass the result to `add_service` (this module
//! makes [`JwtAuth`] and [`RequireScope`] forward the inner service's
//! [`NamedService::NAME`], so the wrapped service is still routed). A call it refuses ends with
//! `UNAUTHENTICATED` (or `PERMISSION_DENIED` for a missing scope) and a generic message.
//!
//! tonic copies the HTTP request's extensions into the [`tonic::Request`] a handler gets, so the
//! verified claims are there: read them with [`RequestClaimsExt::claims`] (or [`claims`]) before
//! [`tonic::Request::into_inner`], which drops them.
//!
//! ```
//! use tonic::transport::Server;
//! use tonic::{Request, Response, Status};
//! use tower_jwt_auth::tonic::RequestClaimsExt;
//! use tower_jwt_auth::{Algorithm, Claims, DecodingKey, JwtAuthLayer, RequireScopeLayer};
//! use tower::Layer;
//! # use std::convert::Infallible;
//! # use std::future::{Ready, ready};
//! # use std::task::{Context, Poll};
//! # macro_rules! service {
//! #     ($service:ident, $name:literal) => {
//! #         #[derive(Clone)]
//! #         struct $service;
//! #         impl tonic::server::NamedService for $service {
//! #             const NAME: &'static str = $name;
//! #         }
//! #         impl tower::Service<http::Request<tonic::body::Body>> for $service {
//! #             type Response = http::Response<tonic::body::Body>;
//! #             type Error = Infallible;
//! #             type Future = Ready<Result<Self::Response, Infallible>>;
//! #             fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
//! #                 Poll::Ready(Ok(()))
//! #             }
//! #             fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
//! #                 ready(Ok(Status::unimplemented("").into_http()))
//! #             }
//! #         }
//! #     };
//! # }
//! # service!(Greeter, "example.Greeter");
//! # service!(Health, "grpc.health.v1.Health");
//!
//! // In a handler: the claims the layer verified.
//! fn whoami(request: Request<()>) -> Result<Response<String>, Status> {
//!     let claims: &Claims = request
//!         .claims()
//!         .ok_or_else(|| Status::unauthenticated("authentication is required"))?;
//!     Ok(Response::new(claims.sub.clone().unwrap_or_default()))
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = DecodingKey::from_secret(Algorithm::HS256, b"a secret of at least 32 bytes!!!")?;
//! let auth = JwtAuthLayer::new(key).audience("my-api");
//!
//! // Every service needs a valid token…
//! let everything = Server::builder().layer(auth.clone()).add_service(Greeter);
//!
//! // …or only some: `Greeter` needs a token with the `admin` scope, `Health` stays public.
//! let some = Server::builder()
//!     .add_service(auth.layer(RequireScopeLayer::new(["admin"]).layer(Greeter)))
//!     .add_service(Health);
//! # let _ = (everything, some, whoami);
//! # Ok(()) }
//! ```
//!
//! # Example
//!
//! What a client meets: no token is `UNAUTHENTICATED`, a token without the scope
//! `PERMISSION_DENIED` (both in an HTTP 200 carrying `grpc-status`, as gRPC clients expect),
//! and a good token reaches the handler with its claims.
//!
//! ```
//! use http::{Request, header};
//! use tonic::server::NamedService;
//! use tonic::{Code, Status};
//! use tower::{Layer as _, ServiceExt as _};
//! use tower_jwt_auth::tonic::RequestClaimsExt as _;
//! use tower_jwt_auth::{Algorithm, Claims, DecodingKey, JwtAuthLayer, RequireScopeLayer};
//! # use std::convert::Infallible;
//! # use std::future::{Ready, ready};
//! # use std::task::{Context, Poll};
//! # #[derive(Clone)]
//! # struct Greeter;
//! # impl NamedService for Greeter {
//! #     const NAME: &'static str = "example.Greeter";
//! # }
//! # impl tower::Service<Request<tonic::body::Body>> for Greeter {
//! #     type Response = http::Response<tonic::body::Body>;
//! #     type Error = Infallible;
//! #     type Future = Ready<Result<Self::Response, Infallible>>;
//! #     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
//! #         Poll::Ready(Ok(()))
//! #     }
//! #     fn call(&mut self, request: Request<tonic::body::Body>) -> Self::Future {
//! #         ready(Ok(greet(tonic::Request::from_http(request)).into_http()))
//! #     }
//! # }
//!
//! // The handler of `example.Greeter` (its tonic-generated server is hidden here).
//! fn greet<T>(request: tonic::Request<T>) -> Status {
//!     match request.claims::<Claims>().and_then(|claims| claims.sub.as_deref()) {
//!         Some(subject) => Status::ok(format!("hello {subject}")),
//!         None => Status::unauthenticated("authentication is required"),
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! const SECRET: &[u8] = b"a secret of at least 32 bytes!!!";
//! let auth = JwtAuthLayer::new(DecodingKey::from_secret(Algorithm::HS256, SECRET)?);
//! let greeter = auth.layer(RequireScopeLayer::new(["admin"]).layer(Greeter));
//! # fn name<S: NamedService>(_: &S) -> &'static str { S::NAME }
//! assert_eq!(name(&greeter), "example.Greeter"); // still routed by its name
//!
//! // Tokens from the identity provider, here signed with the `jsonwebtoken` crate.
//! let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 300;
//! let sign = |scope: &str| {
//!     jsonwebtoken::encode(
//!         &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
//!         &serde_json::json!({ "sub": "ada", "scope": scope, "exp": exp }),
//!         &jsonwebtoken::EncodingKey::from_secret(SECRET)?,
//!     )
//! };
//! let call = |token: Option<String>| {
//!     let mut request = Request::post("/example.Greeter/SayHello")
//!         .header(header::CONTENT_TYPE, "application/grpc");
//!     if let Some(token) = token {
//!         request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
//!     }
//!     greeter.clone().oneshot(request.body(tonic::body::Body::empty()).unwrap())
//! };
//! let code = |response: &http::Response<_>| Status::from_header_map(response.headers()).map(|s| s.code());
//!
//! let response = call(None).await?;
//! assert_eq!(response.status(), http::StatusCode::OK);
//! assert_eq!(code(&response), Some(Code::Unauthenticated));
//!
//! let response = call(Some(sign("read")?)).await?;
//! assert_eq!(code(&response), Some(Code::PermissionDenied));
//!
//! let response = call(Some(sign("read admin")?)).await?;
//! let status = Status::from_header_map(response.headers()).expect("a grpc-status");
//! assert_eq!((status.code(), status.message()), (Code::Ok, "hello ada"));
//! # Ok(()) }
//! ```

use tonic::server::NamedService;

use std::fmt;
use std::sync::{Arc, RwLock};

use tonic::metadata::{AsciiMetadataValue, errors::InvalidMetadataValue};

use crate::layer::JwtAuth;
use crate::layer::RequireScope;

#[cfg(feature = "login")]
#[cfg_attr(docsrs, doc(cfg(feature = "login")))]
pub mod auth;

/// A wrapped service keeps the gRPC service name of the service it wraps.
impl<S: NamedService, C, R> NamedService for JwtAuth<S, C, R> {
    const NAME: &'static str = S::NAME;
}

/// A wrapped service keeps the gRPC service name of the service it wraps.
impl<S: NamedService, C, R> NamedService for RequireScope<S, C, R> {
    const NAME: &'static str = S::NAME;
}

/// Attaches `authorization: Bearer <token>` to every call of a tonic client.
///
/// An [`Interceptor`](tonic::service::Interceptor): give it to a generated client's
/// `with_interceptor`, or wrap a channel with
/// `tonic::service::interceptor::InterceptedService::new(channel, token)`. Clones share the
/// token, so [`BearerToken::set`] after a new login updates every client at once.
///
/// ```
/// use tower_jwt_auth::tonic::BearerToken;
///
/// let token = BearerToken::new();
/// // … log in, then:
/// token.set("eyJ…").unwrap();
/// # assert!(token.is_set());
/// ```
#[derive(Clone, Default)]
pub struct BearerToken {
    value: Arc<RwLock<Option<AsciiMetadataValue>>>,
}

impl BearerToken {
    /// No token yet: calls go out without `authorization` until [`BearerToken::set`].
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `token` from now on.
    ///
    /// # Errors
    ///
    /// When `token` cannot be a metadata value (control characters, non-ASCII).
    pub fn set(&self, token: &str) -> Result<(), InvalidMetadataValue> {
        let mut value: AsciiMetadataValue = format!("Bearer {token}").parse()?;
        value.set_sensitive(true);
        *self.value.write().unwrap_or_else(|e| e.into_inner()) = Some(value);
        Ok(())
    }

    /// Stops sending a token.
    pub fn clear(&self) {
        *self.value.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Whether a token is set.
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.value
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

impl tonic::service::Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let value = self.value.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(value) = value {
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the token.
        f.debug_struct("BearerToken")
            .field("set", &self.is_set())
            .finish()
    }
}

/// The claims of type `C` (the layer's claims type, by default [`Claims`](crate::Claims)) that
/// a [`JwtAuthLayer`](crate::JwtAuthLayer) verified for `request`.
///
/// `None` when the call went through no auth layer, or through an
/// [optional](crate::JwtAuthLayer::optional) one without a token, or when `C` is not the layer's
/// claims type.
///
/// ```
/// use tower_jwt_auth::Claims;
///
/// fn subject(request: &tonic::Request<()>) -> Option<&str> {
///     tower_jwt_auth::tonic::claims::<Claims>(request)?.sub.as_deref()
/// }
/// # assert_eq!(subject(&tonic::Request::new(())), None);
/// ```
#[must_use]
pub fn claims<C: Send + Sync + 'static>(request: &tonic::Request<impl Sized>) -> Option<&C> {
    crate::ClaimsExt::claims(request.extensions())
}

/// Reads verified claims from a [`tonic::Request`]; see [`claims`].
///
/// Sealed: implemented for `tonic::Request<T>` only.
pub trait RequestClaimsExt: sealed::Sealed {
    /// The claims of type `C` a [`JwtAuthLayer`](crate::JwtAuthLayer) verified for this request,
    /// if any; see [`claims`].
    fn claims<C: Send + Sync + 'static>(&self) -> Option<&C>;
}

impl<T> RequestClaimsExt for tonic::Request<T> {
    fn claims<C: Send + Sync + 'static>(&self) -> Option<&C> {
        claims(self)
    }
}

mod sealed {
    #[allow(unreachable_pub)] // Public in a private module: the usual sealed-trait pattern.
    pub trait Sealed {}

    impl<T> Sealed for tonic::Request<T> {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Claims;

    #[test]
    fn claims_are_read_from_the_request_extensions() {
        let mut request = tonic::Request::new(());
        assert!(request.claims::<Claims>().is_none());

        request.extensions_mut().insert(Arc::new(Claims {
            sub: Some("ada".into()),
            ..Claims::default()
        }));
        assert_eq!(
            request.claims::<Claims>().and_then(|c| c.sub.as_deref()),
            Some("ada")
        );
        assert!(claims::<Claims>(&request).is_some());
        assert!(claims::<String>(&request).is_none());
    }

    #[test]
    fn wrapped_services_keep_the_inner_name() {
        struct Svc;
        impl NamedService for Svc {
            const NAME: &'static str = "pkg.Svc";
        }
        assert_eq!(<JwtAuth<Svc> as NamedService>::NAME, "pkg.Svc");
        assert_eq!(<RequireScope<Svc> as NamedService>::NAME, "pkg.Svc");
        assert_eq!(
            <JwtAuth<RequireScope<Svc>> as NamedService>::NAME,
            "pkg.Svc"
        );
    }
}

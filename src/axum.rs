//! axum extractors (feature `axum`).
//!
//! [`JwtClaims`] hands a handler the claims a [`JwtAuthLayer`](crate::JwtAuthLayer) verified;
//! a request without a valid token never reaches the handler.
//!
//! # Example
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode, header};
//! use tower::ServiceExt as _;
//! use tower_jwt_auth::{Algorithm, DecodingKey, JwtAuthLayer, axum::JwtClaims};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! const SECRET: &[u8] = b"a secret of at least 32 bytes!!!";
//! let key = DecodingKey::from_secret(Algorithm::HS256, SECRET)?;
//! let app: Router = Router::new()
//!     .route("/me", get(|JwtClaims(claims): JwtClaims| async move {
//!         claims.sub.clone().unwrap_or_default()
//!     }))
//!     .layer(JwtAuthLayer::new(key).audience("my-api"));
//!
//! // A token from the identity provider, here signed with the `jsonwebtoken` crate.
//! let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 300;
//! let token = jsonwebtoken::encode(
//!     &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
//!     &serde_json::json!({ "sub": "ada", "aud": "my-api", "exp": exp }),
//!     &jsonwebtoken::EncodingKey::from_secret(SECRET)?,
//! )?;
//!
//! let request = Request::get("/me")
//!     .header(header::AUTHORIZATION, format!("Bearer {token}"))
//!     .body(Body::empty())?;
//! let response = app.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(axum::body::to_bytes(response.into_body(), 1024).await?, "ada");
//!
//! // No token: 401 with the RFC 6750 challenge, and the handler never runs.
//! let response = app.oneshot(Request::get("/me").body(Body::empty())?).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()[header::WWW_AUTHENTICATE], r#"Bearer realm="api""#);
//! # Ok(()) }
//! ```
//!
//! Behind an [optional](crate::JwtAuthLayer::optional) layer, take `Option<JwtClaims>`: `None`
//! when the request came without a token (a bad token is still refused).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::layer::DefaultRejection;
use crate::verify::error::{AuthError, ErrorKind};

/// Extracts the claims a [`JwtAuthLayer`](crate::JwtAuthLayer) verified.
///
/// `C` must be the layer's claims type (by default [`crate::Claims`]). Take
/// `Option<JwtClaims<C>>` behind an [optional](crate::JwtAuthLayer::optional) layer.
///
/// The claims are shared, not copied: the layer puts an `Arc<C>` in the request's extensions
/// and this extractor clones the `Arc`. It derefs to `C`; [`Arc::unwrap_or_clone`] gives an
/// owned `C` when one is needed.
#[derive(Debug, PartialEq)]
pub struct JwtClaims<C = crate::Claims>(pub Arc<C>);

impl<C> Clone for JwtClaims<C> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<C> Deref for JwtClaims<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.0
    }
}

impl<S, C> FromRequestParts<S> for JwtClaims<C>
where
    C: Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = MissingClaims;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Arc<C>>()
            .cloned()
            .map(JwtClaims)
            .ok_or(MissingClaims { _private: () })
    }
}

impl<S, C> OptionalFromRequestParts<S> for JwtClaims<C>
where
    C: Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Arc<C>>().cloned().map(JwtClaims))
    }
}

/// Rejection of [`JwtClaims`] when the request holds no verified claims of that type: the route is
/// not behind a `JwtAuthLayer`, the layer is optional and no token came, or the layer's claims
/// type differs. Answers 401 with a bare `Bearer` challenge.
#[derive(Debug)]
#[must_use]
pub struct MissingClaims {
    _private: (),
}

impl fmt::Display for MissingClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no verified claims in the request")
    }
}

impl std::error::Error for MissingClaims {}

impl IntoResponse for MissingClaims {
    fn into_response(self) -> Response {
        let error = AuthError::new(ErrorKind::MissingCredential);
        let mut response = DefaultRejection::default()
            .http_response(&error)
            .map(axum_core::body::Body::from);
        response.extensions_mut().insert(error);
        response
    }
}

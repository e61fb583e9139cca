//! The issuing side (feature `issue`): signing keys, [`TokenIssuer`], and JWKS publishing.
//!
//! - `signing.rs`: [`SigningKey`], from a secret or a private PEM, with its public JWK;
//! - `issuer.rs`: [`TokenIssuer`], which signs RFC 9068 access tokens and makes the
//!   [`JwtAuthLayer`](crate::JwtAuthLayer) that accepts exactly them;
//! - `jwks.rs`: [`JwksService`], the public keys as a JWKS for other services.
//!
//! No passwords here: a service that only mints tokens for other services builds this without
//! argon2. The password grant is [`login`](crate::login) (feature `login`).
//!
//! # Example
//!
//! ```
//! use http::{Request, Response, StatusCode, header};
//! use tower::{Layer as _, ServiceExt as _, service_fn};
//! use tower_jwt_auth::{Algorithm, Claims, SigningKey, TokenIssuer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = TokenIssuer::new(SigningKey::generate(Algorithm::ES256)?)
//!     .issuer("https://auth.example.com")
//!     .audience("my-api");
//! let token = issuer.issue("ada", ["read", "write"])?;
//! assert_eq!((token.scope.as_str(), token.expires_in), ("read write", 15 * 60));
//! let claims: Claims = issuer.verifier().verify(&token.access_token)?;
//! assert_eq!(claims.sub.as_deref(), Some("ada"));
//!
//! // `layer()` accepts exactly the tokens this issuer signs, on any tower service.
//! let api = issuer.layer().layer(service_fn(|_: Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("hello")))
//! }));
//! let bearer = |token: &str| {
//!     Request::get("/").header(header::AUTHORIZATION, format!("Bearer {token}")).body(())
//! };
//! let response = api.clone().oneshot(bearer(&token.access_token)?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! // Same issuer name and audience, another key: refused.
//! let impostor = TokenIssuer::new(SigningKey::generate(Algorithm::ES256)?)
//!     .issuer("https://auth.example.com")
//!     .audience("my-api");
//! let forged = impostor.issue("ada", ["admin"])?;
//! let response = api.oneshot(bearer(&forged.access_token)?).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//!
//! // Other services verify with the public keys, served at `/.well-known/jwks.json`.
//! let jwks = issuer.jwks_service().expect("an ES256 key has a public half to publish");
//! let response = jwks.oneshot(Request::get("/.well-known/jwks.json").body(())?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()[header::CONTENT_TYPE], "application/jwk-set+json");
//! assert_eq!(issuer.jwks().expect("public keys").keys.len(), 1);
//! # Ok(()) }
//! ```

mod issuer;
mod jwks;
mod signing;

pub use issuer::{DEFAULT_LIFETIME, IssueError, IssuedToken, MAX_LIFETIME, TokenIssuer};
pub use jwks::JwksService;
pub use signing::SigningKey;

use signing::*;

//! The issuing side (feature `issue`): signing keys, [`TokenIssuer`], and JWKS publishing.
//!
//! - `signing.rs`: [`SigningKey`], from a secret or a private PEM, with its public JWK;
//! - `issuer.rs`: [`TokenIssuer`], which signs RFC 9068 access tokens and makes the
//!   [`JwtAuthLayer`](crate::JwtAuthLayer) that accepts exactly them;
//! - `jwks.rs`: [`JwksService`], the public keys as a JWKS for other services.
//!
//! No passwords here: a service that only mints tokens for other services builds this without
//! argon2. The password grant is [`login`](crate::login) (feature `login`).

mod issuer;
mod jwks;
mod signing;

pub use issuer::{DEFAULT_LIFETIME, IssueError, IssuedToken, MAX_LIFETIME, TokenIssuer};
pub use jwks::JwksService;
pub use signing::SigningKey;

use signing::*;

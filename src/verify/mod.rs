//! The verifying core: a compact JWT in, typed claims out.
//!
//! Nothing here knows an HTTP framework or the issuing side: no tower, no axum, no tonic, no
//! passwords. The [layer](crate::layer) and the framework faces build on it; so can code that
//! verifies tokens outside a request (a WebSocket handshake, a job queue) through [`Verifier`].
//!
//! | file | what it holds |
//! |---|---|
//! | `jws.rs` | the compact JWS reader: three parts, strict base64url, the header, the signature |
//! | `json/` | the strict JSON readers: duplicate members, typed registered claims, one-pass claims |
//! | `algorithm.rs` | [`Algorithm`], [`AlgorithmSet`], [`KeyFamily`] |
//! | `keys/` | [`DecodingKey`] and its strength checks, [`KeySet`], the lock-free [`KeyStore`], JWK import |
//! | `validation.rs` | [`Validation`]: the rules a token must satisfy, with their defaults |
//! | `verifier/` | [`Verifier`]: the order of the checks, the claims rules, the cached paths |
//! | `cache.rs` | the verified-token cache |
//! | `claims.rs` | [`Claims`], [`Audience`], [`ScopeClaims`] |
//! | `revocation.rs` | the [`Revocation`] hook, [`InMemoryDenylist`] |
//! | `error.rs` | [`AuthError`] and its [`ErrorKind`], [`ConfigError`] |

pub(crate) mod algorithm;
pub(crate) mod cache;
pub(crate) mod claims;
pub(crate) mod clock;
pub(crate) mod error;
pub(crate) mod json;
pub(crate) mod jws;
pub(crate) mod keys;
pub(crate) mod revocation;
pub(crate) mod validation;
pub(crate) mod verifier;

pub use algorithm::{Algorithm, AlgorithmSet, KeyFamily, UnknownAlgorithm};
pub use claims::{Audience, Claims, ScopeClaims};
pub use error::{AuthError, ConfigError, ErrorCode, ErrorKind};
pub use keys::{DecodingKey, Jwk, JwkSet, KeySet, KeyStore};
pub use revocation::{BoxError, InMemoryDenylist, Revocation, RevocationCheck, TokenInfo};
pub use validation::Validation;
pub use verifier::Verifier;

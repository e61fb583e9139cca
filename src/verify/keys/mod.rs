//! Verification keys: prepared once, bound to one algorithm each, checked for strength when
//! they are made, and grouped into key sets selected by `kid`.
//!
//! Every constructor refuses weak material with a [`ConfigError`]: HMAC secrets shorter than
//! 32 bytes (or than the hash output), RSA moduli under 2048 bits, RSA exponents that are even or
//! below 3, RSA moduli with the ROCA fingerprint, and JWKs whose `alg`, `use` or `key_ops`
//! contradict signature verification with the algorithm asked for.
//!
//! Binding each key to exactly one algorithm is what makes algorithm confusion (an RSA public key
//! used as an HMAC secret, RFC 8725 §2.1) impossible by construction: the token's `alg` must equal
//! the key's, and the key's prepared state only knows its own algorithm.
//!
//! - `decoding.rs`: [`DecodingKey`] from secrets, PEM, DER and JWK, with the strength checks;
//! - `set.rs`: [`KeySet`], keys selected by `kid` and `alg`;
//! - `store.rs`: [`KeyStore`], the lock-free handle that key rotation swaps;
//! - `jwk.rs`: JWK and JWKS import ([`Jwk`], [`JwkSet`]);
//! - `roca.rs`: the ROCA fingerprint test for RSA moduli;
//! - `aws_lc.rs` (feature `aws-lc`): public keys handed to aws-lc-rs once, and its verify calls
//!   held to the RustCrypto path's verdicts.

#[cfg(feature = "aws-lc")]
mod aws_lc;
mod decoding;
mod jwk;
mod roca;
mod set;
mod store;
#[cfg(test)]
mod tests;

pub use decoding::DecodingKey;
pub use jwk::{Jwk, JwkSet};
pub use set::KeySet;
pub use store::KeyStore;

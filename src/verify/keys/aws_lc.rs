//! The aws-lc-rs signature backend (feature `aws-lc`).
//!
//! A key reaches this module only after the RustCrypto parsers accepted it and the start-up
//! checks of `decoding.rs` passed (RSA size, exponent and ROCA; points on the curve; Ed25519 keys
//! of small order refused). Here it is handed to aws-lc-rs once, as a [`ParsedPublicKey`], so a
//! verification does no key parsing.
//!
//! The verdicts are those of the RustCrypto path, rule for rule; the backend tests of `tests.rs`
//! build each key on both backends and fail if they diverge:
//! - RSA: the signature is exactly as long as the modulus (RFC 7518 §3.3), checked here before
//!   aws-lc sees it; PKCS#1 v1.5 with the DigestInfo's NULL parameters, PSS with MGF1 of the same
//!   hash and a salt as long as the hash output (RFC 7518 §3.5), as `rsa` checks them.
//! - ECDSA: the fixed-length `r || s` of RFC 7518 §3.4 (`ECDSA_*_FIXED`), `r` and `s` in
//!   `[1, n-1]`; high `s` accepted, as `p256`, `p384` and `p521` accept it.
//! - Ed25519: what `ed25519-dalek`'s `verify_strict` accepts. aws-lc already refuses a
//!   non-canonical `S`, and a non-canonical `R` can never equal the `R` it recomputes; the one
//!   rule it lacks, an `R` of small order, is checked here against the eight points of order
//!   dividing 8.

use std::sync::LazyLock;

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents};

use crate::verify::algorithm::Algorithm;
use crate::verify::error::ConfigError;

use super::decoding::strip_leading_zeros;

/// A public key prepared for aws-lc-rs.
#[derive(Clone)]
pub(super) enum Prepared {
    /// An RSA key, PKCS#1 v1.5 or PSS, and its modulus length in bytes.
    Rsa { key: ParsedPublicKey, len: usize },
    /// An ECDSA key on P-256, P-384 or P-521, for fixed-length signatures.
    Ecdsa(ParsedPublicKey),
    /// An Ed25519 key.
    Ed25519(ParsedPublicKey),
}

impl Prepared {
    /// Whether `self` and `other` hold the same public key (their algorithm is compared by the
    /// caller): the bytes aws-lc-rs parsed each from.
    pub(super) fn same(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Rsa { key: a, .. }, Self::Rsa { key: b, .. })
            | (Self::Ecdsa(a), Self::Ecdsa(b))
            | (Self::Ed25519(a), Self::Ed25519(b)) => a.as_ref() == b.as_ref(),
            _ => false,
        }
    }

    /// An RSA key from its big-endian modulus and exponent, for `alg` (RS* or PS*).
    pub(super) fn rsa(alg: Algorithm, n: &[u8], e: &[u8]) -> Result<Self, ConfigError> {
        let params: &'static RsaParameters = match alg {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return Err(refused("not an RSA algorithm")),
        };
        // aws-lc-rs takes the components without leading zeros.
        let n = strip_leading_zeros(n);
        let components = RsaPublicKeyComponents {
            n,
            e: strip_leading_zeros(e),
        };
        let key = components
            .to_parsed_public_key(params)
            .map_err(|err| refused(&err.to_string()))?;
        Ok(Self::Rsa { key, len: n.len() })
    }

    /// An ECDSA key from its uncompressed SEC1 point, for `alg` (ES256, ES384 or ES512).
    pub(super) fn ecdsa(alg: Algorithm, sec1: &[u8]) -> Result<Self, ConfigError> {
        let params = match alg {
            Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
            _ => return Err(refused("not an ECDSA algorithm")),
        };
        ParsedPublicKey::new(params, sec1)
            .map(Self::Ecdsa)
            .map_err(|err| refused(&err.to_string()))
    }

    /// An Ed25519 key from its 32 bytes, as given (the bytes are hashed into every signature).
    pub(super) fn ed25519(public_key: &[u8; 32]) -> Result<Self, ConfigError> {
        ParsedPublicKey::new(&signature::ED25519, public_key)
            .map(Self::Ed25519)
            .map_err(|err| refused(&err.to_string()))
    }

    /// Verifies `signature` over `message`.
    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Rsa { key, len } => {
                signature.len() == *len && key.verify_sig(message, signature).is_ok()
            }
            Self::Ecdsa(key) => key.verify_sig(message, signature).is_ok(),
            Self::Ed25519(key) => {
                signature.len() == 64
                    && !is_small_order_encoding(&signature[..32])
                    && key.verify_sig(message, signature).is_ok()
            }
        }
    }
}

/// The canonical encodings of the eight Ed25519 points whose order divides 8.
static SMALL_ORDER: LazyLock<[[u8; 32]; 8]> = LazyLock::new(|| {
    curve25519_dalek::constants::EIGHT_TORSION.map(|point| point.compress().to_bytes())
});

/// Whether `r` is the canonical encoding of a point of small order. A non-canonical encoding
/// needs no check: aws-lc compares `R` with the canonical encoding it recomputes.
fn is_small_order_encoding(r: &[u8]) -> bool {
    SMALL_ORDER.iter().any(|point| point.as_slice() == r)
}

/// aws-lc-rs refused a key that the RustCrypto parsers and the start-up checks accepted.
fn refused(why: &str) -> ConfigError {
    ConfigError::InvalidKey(format!("aws-lc-rs refused the key: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_small_order_encodings_are_the_eight_torsion_points_and_nothing_else() {
        let distinct: std::collections::BTreeSet<_> = SMALL_ORDER.iter().collect();
        assert_eq!(distinct.len(), 8);
        for encoding in SMALL_ORDER.iter() {
            let point = curve25519_dalek::edwards::CompressedEdwardsY(*encoding)
                .decompress()
                .unwrap();
            assert!(point.is_small_order());
            assert!(is_small_order_encoding(encoding));
        }
        let basepoint = curve25519_dalek::constants::ED25519_BASEPOINT_COMPRESSED;
        assert!(!is_small_order_encoding(basepoint.as_bytes()));
    }
}

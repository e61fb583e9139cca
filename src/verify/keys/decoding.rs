//! [`DecodingKey`]: one key, one algorithm, prepared once and checked for strength.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::verify::algorithm::{Algorithm, KeyFamily};
use crate::verify::error::ConfigError;

use super::{Jwk, roca};

/// The prepared verification state of one key.
///
/// HMAC keys hold the keyed state (inner and outer pads already absorbed), so a verification
/// clones a small struct instead of re-keying; public keys hold the parsed, validated point or
/// modulus.
///
/// Every key is first parsed and checked by the RustCrypto crates; with the feature `aws-lc`,
/// public keys are then handed to aws-lc-rs once ([`Verifier::into_backend`]) and verify there.
#[derive(Clone)]
enum Verifier {
    Hs256(Hmac<Sha256>),
    Hs384(Hmac<Sha384>),
    Hs512(Hmac<Sha512>),
    Rsa(Box<rsa::PublicKey>),
    Es256(p256::ecdsa::VerifyingKey),
    Es384(p384::ecdsa::VerifyingKey),
    Es512(Box<p521::ecdsa::VerifyingKey>),
    EdDsa(ed25519_dalek::VerifyingKey),
    #[cfg(feature = "aws-lc")]
    AwsLc(super::aws_lc::Prepared),
}

impl Verifier {
    /// The backend's form of this key: the RustCrypto state itself, or with the feature
    /// `aws-lc` the public key handed to aws-lc-rs.
    #[cfg(not(feature = "aws-lc"))]
    #[allow(clippy::unnecessary_wraps)] // the same signature as the aws-lc version
    fn into_backend(self, _alg: Algorithm) -> Result<Self, ConfigError> {
        Ok(self)
    }

    /// The backend's form of this key: the RustCrypto state itself, or with the feature
    /// `aws-lc` the public key handed to aws-lc-rs.
    #[cfg(feature = "aws-lc")]
    fn into_backend(self, alg: Algorithm) -> Result<Self, ConfigError> {
        use super::aws_lc::Prepared;
        #[cfg(test)]
        if RUSTCRYPTO_ONLY.with(std::cell::Cell::get) {
            return Ok(self);
        }
        let prepared = match &self {
            Self::Rsa(key) => Prepared::rsa(alg, &key.n_bytes(), &key.e_bytes())?,
            Self::Es256(key) => Prepared::ecdsa(alg, key.to_sec1_point(false).as_bytes())?,
            Self::Es384(key) => Prepared::ecdsa(alg, key.to_sec1_point(false).as_bytes())?,
            Self::Es512(key) => Prepared::ecdsa(alg, key.to_sec1_point(false).as_bytes())?,
            Self::EdDsa(key) => Prepared::ed25519(key.as_bytes())?,
            Self::Hs256(_) | Self::Hs384(_) | Self::Hs512(_) | Self::AwsLc(_) => return Ok(self),
        };
        Ok(Self::AwsLc(prepared))
    }
}

#[cfg(all(test, feature = "aws-lc"))]
thread_local! {
    /// Set by the differential tests of the backends: keys made on this thread while it is set
    /// stay on the RustCrypto path.
    pub(super) static RUSTCRYPTO_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A key that verifies signatures of exactly one [`Algorithm`].
///
/// Every constructor refuses weak material with a [`ConfigError`]: HMAC secrets shorter than
/// 32 bytes (or than the hash output), RSA moduli under 2048 bits, RSA exponents that are even or
/// below 3, RSA moduli with the ROCA fingerprint, and JWKs whose `alg`, `use` or `key_ops`
/// contradict signature verification with the algorithm asked for.
///
/// Binding each key to one algorithm makes algorithm confusion (an RSA public key used as an
/// HMAC secret, RFC 8725 §2.1) impossible by construction: a token's `alg` must equal its key's.
/// Key material is prepared once (HMAC states keyed, points and moduli parsed and checked), so
/// the request path does no key set-up.
///
/// With the feature `aws-lc`, RSA, ECDSA and Ed25519 keys are checked as above, then prepared
/// once for aws-lc-rs, which verifies their signatures with the same verdicts as the default
/// RustCrypto path; a key aws-lc-rs refused would be a [`ConfigError::InvalidKey`], though no key
/// that passes the checks above is known to be.
#[derive(Clone)]
pub struct DecodingKey {
    pub(super) alg: Algorithm,
    pub(super) kid: Option<Arc<str>>,
    verifier: Verifier,
}

impl DecodingKey {
    /// An HMAC key from a shared secret (HS256, HS384 or HS512).
    ///
    /// # Errors
    ///
    /// [`ConfigError::WeakSecret`] when the secret is shorter than 32 bytes or than the hash
    /// output (48 bytes for HS384, 64 for HS512), as RFC 7518 §3.2 requires;
    /// [`ConfigError::KeyAlgorithmMismatch`] when `alg` is not an HMAC algorithm;
    /// [`ConfigError::SecretLooksLikeKey`] when the secret is a PEM document, typically a public
    /// key passed where a shared secret belongs.
    pub fn from_secret(alg: Algorithm, secret: &[u8]) -> Result<Self, ConfigError> {
        let min = match alg {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            _ => return Err(mismatch(alg, "shared secret")),
        };
        if looks_like_pem(secret) {
            return Err(ConfigError::SecretLooksLikeKey);
        }
        if secret.len() < min {
            return Err(ConfigError::WeakSecret {
                algorithm: alg,
                len: secret.len(),
                min,
            });
        }
        let invalid = |_| ConfigError::InvalidKey("HMAC key".into());
        let verifier = match alg {
            Algorithm::HS256 => Verifier::Hs256(Hmac::new_from_slice(secret).map_err(invalid)?),
            Algorithm::HS384 => Verifier::Hs384(Hmac::new_from_slice(secret).map_err(invalid)?),
            _ => Verifier::Hs512(Hmac::new_from_slice(secret).map_err(invalid)?),
        };
        Self::with_verifier(alg, verifier)
    }

    /// A public key from PEM text: `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY` (PKCS#1), or a private key
    /// (`PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`) whose public half is taken.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] when the PEM does not hold a key of the family `alg` needs, and
    /// the strength errors of the family (see [`DecodingKey`]).
    pub fn from_pem(alg: Algorithm, pem: &str) -> Result<Self, ConfigError> {
        let label = pem_label(pem)?;
        match alg.family() {
            KeyFamily::Hmac => Err(mismatch(alg, "PEM key")),
            KeyFamily::Rsa => {
                let key = match label {
                    "PUBLIC KEY" => rsa::PublicKey::from_public_key_pem(pem).map_err(invalid)?,
                    "RSA PUBLIC KEY" => rsa::PublicKey::from_pkcs1_pem(pem).map_err(invalid)?,
                    "PRIVATE KEY" => {
                        use rsa::pkcs8::DecodePrivateKey;
                        rsa::PublicKey::from(
                            &rsa::PrivateKey::from_pkcs8_pem(pem).map_err(invalid)?,
                        )
                    }
                    "RSA PRIVATE KEY" => {
                        use rsa::pkcs1::DecodeRsaPrivateKey;
                        rsa::PublicKey::from(
                            &rsa::PrivateKey::from_pkcs1_pem(pem).map_err(invalid)?,
                        )
                    }
                    other => return Err(unexpected_label(other)),
                };
                Self::from_rsa_public_key(alg, key)
            }
            KeyFamily::Ec | KeyFamily::Okp => {
                let der = pem_body(pem)?;
                match label {
                    "PUBLIC KEY" => Self::from_public_key_der(alg, &der),
                    "PRIVATE KEY" => Self::from_pkcs8_private_der(alg, &der),
                    "EC PRIVATE KEY" => Self::from_sec1_private_der(alg, &der),
                    other => Err(unexpected_label(other)),
                }
            }
        }
    }

    /// A public key from DER: SubjectPublicKeyInfo for every family, or PKCS#1 `RSAPublicKey`.
    ///
    /// # Errors
    ///
    /// As [`DecodingKey::from_pem`].
    pub fn from_der(alg: Algorithm, der: &[u8]) -> Result<Self, ConfigError> {
        match alg.family() {
            KeyFamily::Hmac => Err(mismatch(alg, "DER key")),
            KeyFamily::Rsa => {
                let key = rsa::PublicKey::from_public_key_der(der)
                    .or_else(|_| rsa::PublicKey::from_pkcs1_der(der))
                    .map_err(invalid)?;
                Self::from_rsa_public_key(alg, key)
            }
            _ => Self::from_public_key_der(alg, der),
        }
    }

    /// An RSA public key from its big-endian modulus and exponent (as in a JWK's `n` and `e`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::WeakRsaKey`] under 2048 bits, [`ConfigError::InsecureRsaKey`] for an even
    /// or small exponent or a ROCA-fingerprinted modulus.
    pub fn from_rsa_components(alg: Algorithm, n: &[u8], e: &[u8]) -> Result<Self, ConfigError> {
        if alg.family() != KeyFamily::Rsa {
            return Err(mismatch(alg, "RSA key"));
        }
        check_rsa(n, e)?;
        let key = rsa::PublicKey::new(
            rsa::BoxedUint::from_be_slice_vartime(n),
            rsa::BoxedUint::from_be_slice_vartime(e),
        )
        .map_err(invalid)?;
        Self::from_rsa_public_key(alg, key)
    }

    /// An elliptic-curve public key from SEC1 bytes (`04 || x || y`, or compressed).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] when the point is not on the curve `alg` names.
    pub fn from_ec_point(alg: Algorithm, sec1: &[u8]) -> Result<Self, ConfigError> {
        let verifier = match alg {
            Algorithm::ES256 => {
                Verifier::Es256(p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1).map_err(invalid)?)
            }
            Algorithm::ES384 => {
                Verifier::Es384(p384::ecdsa::VerifyingKey::from_sec1_bytes(sec1).map_err(invalid)?)
            }
            Algorithm::ES512 => Verifier::Es512(Box::new(
                p521::ecdsa::VerifyingKey::from_sec1_bytes(sec1).map_err(invalid)?,
            )),
            _ => return Err(mismatch(alg, "elliptic-curve point")),
        };
        Self::with_verifier(alg, verifier)
    }

    /// An Ed25519 public key from its 32 bytes (as in an OKP JWK's `x`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] when the bytes are not a valid point.
    pub fn from_ed25519(public_key: &[u8]) -> Result<Self, ConfigError> {
        let bytes: &[u8; 32] = public_key
            .try_into()
            .map_err(|_| ConfigError::InvalidKey("an Ed25519 key is 32 bytes".into()))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(invalid)?;
        if key.is_weak() {
            return Err(ConfigError::InvalidKey("Ed25519 key of small order".into()));
        }
        Self::with_verifier(Algorithm::EdDSA, Verifier::EdDsa(key))
    }

    /// A key from one JWK, checked against the algorithm it will verify.
    ///
    /// When `alg` is `None` the JWK's own `alg` is used, or, for `EC` and `OKP` keys, the one
    /// algorithm their curve allows. The JWK's `kid` becomes the key's.
    ///
    /// # Errors
    ///
    /// [`ConfigError::JwkMisuse`] when the JWK's `alg`, `use` or `key_ops` contradicts signature
    /// verification with `alg`, or when no algorithm can be told; the parse and strength errors
    /// of the other constructors.
    pub fn from_jwk(jwk: &Jwk, alg: Option<Algorithm>) -> Result<Self, ConfigError> {
        jwk.to_decoding_key(alg)
    }

    /// Sets the key id this key answers to.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<Arc<str>>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The algorithm this key verifies.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id, if any.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Verifies `signature` over `message`. Runs in constant time for HMAC.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use ed25519_dalek::Signature as EdSignature;
        use p256::ecdsa::signature::Verifier as _;
        match &self.verifier {
            Verifier::Hs256(mac) => verify_mac(mac.clone(), message, signature),
            Verifier::Hs384(mac) => verify_mac(mac.clone(), message, signature),
            Verifier::Hs512(mac) => verify_mac(mac.clone(), message, signature),
            Verifier::Rsa(key) => verify_rsa(key, self.alg, message, signature),
            Verifier::Es256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
            Verifier::Es384(key) => p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
            Verifier::Es512(key) => p521::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
            Verifier::EdDsa(key) => EdSignature::from_slice(signature)
                .is_ok_and(|sig| key.verify_strict(message, &sig).is_ok()),
            #[cfg(feature = "aws-lc")]
            Verifier::AwsLc(key) => key.verify(message, signature),
        }
    }

    /// The key, its start-up checks passed, prepared for the backend that verifies.
    fn with_verifier(alg: Algorithm, verifier: Verifier) -> Result<Self, ConfigError> {
        Ok(Self {
            alg,
            kid: None,
            verifier: verifier.into_backend(alg)?,
        })
    }

    fn from_rsa_public_key(alg: Algorithm, key: rsa::PublicKey) -> Result<Self, ConfigError> {
        if alg.family() != KeyFamily::Rsa {
            return Err(mismatch(alg, "RSA key"));
        }
        check_rsa(&key.n_bytes(), &key.e_bytes())?;
        Self::with_verifier(alg, Verifier::Rsa(Box::new(key)))
    }

    fn from_public_key_der(alg: Algorithm, der: &[u8]) -> Result<Self, ConfigError> {
        let verifier = match alg {
            Algorithm::ES256 => Verifier::Es256(
                p256::ecdsa::VerifyingKey::from_public_key_der(der).map_err(invalid)?,
            ),
            Algorithm::ES384 => Verifier::Es384(
                p384::ecdsa::VerifyingKey::from_public_key_der(der).map_err(invalid)?,
            ),
            Algorithm::ES512 => Verifier::Es512(Box::new(
                p521::ecdsa::VerifyingKey::from_public_key_der(der).map_err(invalid)?,
            )),
            Algorithm::EdDSA => {
                let key = ed25519_dalek::VerifyingKey::from_public_key_der(der).map_err(invalid)?;
                return Self::from_ed25519(key.as_bytes());
            }
            _ => return Err(mismatch(alg, "public key")),
        };
        Self::with_verifier(alg, verifier)
    }

    fn from_pkcs8_private_der(alg: Algorithm, der: &[u8]) -> Result<Self, ConfigError> {
        use p256::pkcs8::DecodePrivateKey;
        let verifier = match alg {
            Algorithm::ES256 => Verifier::Es256(
                *p256::ecdsa::SigningKey::from_pkcs8_der(der)
                    .map_err(invalid)?
                    .verifying_key(),
            ),
            Algorithm::ES384 => Verifier::Es384(
                *p384::ecdsa::SigningKey::from_pkcs8_der(der)
                    .map_err(invalid)?
                    .verifying_key(),
            ),
            Algorithm::ES512 => Verifier::Es512(Box::new(
                *p521::ecdsa::SigningKey::from_pkcs8_der(der)
                    .map_err(invalid)?
                    .verifying_key(),
            )),
            Algorithm::EdDSA => {
                let key = ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(invalid)?;
                return Self::from_ed25519(key.verifying_key().as_bytes());
            }
            _ => return Err(mismatch(alg, "private key")),
        };
        Self::with_verifier(alg, verifier)
    }

    fn from_sec1_private_der(alg: Algorithm, der: &[u8]) -> Result<Self, ConfigError> {
        let verifier = match alg {
            Algorithm::ES256 => Verifier::Es256(
                p256::SecretKey::from_sec1_der(der)
                    .map_err(invalid)?
                    .public_key()
                    .into(),
            ),
            Algorithm::ES384 => Verifier::Es384(
                p384::SecretKey::from_sec1_der(der)
                    .map_err(invalid)?
                    .public_key()
                    .into(),
            ),
            Algorithm::ES512 => Verifier::Es512(Box::new(
                p521::SecretKey::from_sec1_der(der)
                    .map_err(invalid)?
                    .public_key()
                    .into(),
            )),
            _ => return Err(mismatch(alg, "EC private key")),
        };
        Self::with_verifier(alg, verifier)
    }
}

impl fmt::Debug for DecodingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material, not even the public half.
        f.debug_struct("DecodingKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn verify_mac<M: Mac>(mut mac: M, message: &[u8], signature: &[u8]) -> bool {
    mac.update(message);
    // `verify_slice` compares in constant time and rejects a truncated tag.
    mac.verify_slice(signature).is_ok()
}

fn verify_rsa(key: &rsa::PublicKey, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
    use rsa::{Pkcs1v15Sign, Pss};
    // RFC 7518 §3.3: the signature is exactly as long as the modulus.
    if signature.len() != key.size() {
        return false;
    }
    let result = match alg {
        Algorithm::RS256 => key.verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(message),
            signature,
        ),
        Algorithm::RS384 => key.verify(
            Pkcs1v15Sign::new::<Sha384>(),
            &Sha384::digest(message),
            signature,
        ),
        Algorithm::RS512 => key.verify(
            Pkcs1v15Sign::new::<Sha512>(),
            &Sha512::digest(message),
            signature,
        ),
        // RFC 7518 §3.5: the salt is as long as the hash output.
        Algorithm::PS256 => key.verify(Pss::<Sha256>::new(), &Sha256::digest(message), signature),
        Algorithm::PS384 => key.verify(Pss::<Sha384>::new(), &Sha384::digest(message), signature),
        Algorithm::PS512 => key.verify(Pss::<Sha512>::new(), &Sha512::digest(message), signature),
        _ => return false,
    };
    result.is_ok()
}

fn check_rsa(n: &[u8], e: &[u8]) -> Result<(), ConfigError> {
    let n = strip_leading_zeros(n);
    let e = strip_leading_zeros(e);
    let bits = n
        .first()
        .map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize);
    if bits < 2048 {
        return Err(ConfigError::WeakRsaKey { bits });
    }
    let e_is_odd = e.last().is_some_and(|low| low & 1 == 1);
    let e_is_small = e.len() == 1 && e[0] < 3;
    if e.is_empty() || !e_is_odd || e_is_small || e.len() > 8 {
        return Err(ConfigError::InsecureRsaKey(
            "the public exponent must be odd, at least 3 and fit in 64 bits",
        ));
    }
    if roca::is_fingerprinted(n) {
        return Err(ConfigError::InsecureRsaKey(
            "the modulus carries the ROCA fingerprint (CVE-2017-15361)",
        ));
    }
    Ok(())
}

pub(super) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn mismatch(algorithm: Algorithm, found: &'static str) -> ConfigError {
    ConfigError::KeyAlgorithmMismatch { algorithm, found }
}

/// Whether `secret` is a PEM document (`-----BEGIN …`), leading whitespace allowed.
fn looks_like_pem(secret: &[u8]) -> bool {
    secret.trim_ascii_start().starts_with(b"-----BEGIN")
}

pub(super) fn invalid(err: impl fmt::Display) -> ConfigError {
    ConfigError::InvalidKey(err.to_string())
}

fn unexpected_label(label: &str) -> ConfigError {
    ConfigError::InvalidKey(format!("unexpected PEM label {label:?}"))
}

fn pem_label(pem: &str) -> Result<&str, ConfigError> {
    let begin = pem
        .find("-----BEGIN ")
        .ok_or_else(|| ConfigError::InvalidKey("no PEM BEGIN line".into()))?;
    let rest = &pem[begin + "-----BEGIN ".len()..];
    let end = rest
        .find("-----")
        .ok_or_else(|| ConfigError::InvalidKey("unterminated PEM BEGIN line".into()))?;
    Ok(&rest[..end])
}

fn pem_body(pem: &str) -> Result<Vec<u8>, ConfigError> {
    let (_, der) = pem_rfc7468_decode(pem)?;
    Ok(der)
}

fn pem_rfc7468_decode(pem: &str) -> Result<(String, Vec<u8>), ConfigError> {
    use rsa::pkcs8::der::pem;
    let (label, der) = pem::decode_vec(pem.trim().as_bytes()).map_err(invalid)?;
    Ok((label.to_owned(), der))
}

impl DecodingKey {
    /// Whether `other` verifies exactly what this key verifies: the same algorithm, `kid` and
    /// key material. What lets [`KeyStore::replace`](super::KeyStore::replace) keep the
    /// verified-token cache when the same keys come back (a reloaded PEM, a JWKS refetch).
    ///
    /// Errs towards `false`: a pair of prepared states it cannot compare is "not the same",
    /// which costs cache hits, never a wrong hit.
    pub(super) fn same_key(&self, other: &Self) -> bool {
        /// HMAC states cannot be compared field by field: equal tags over a fixed message
        /// mean equal keys (up to a collision of the MAC itself).
        fn same_mac<M: Mac + Clone>(a: &M, b: &M) -> bool {
            const PROBE: &[u8] = b"tower-jwt-auth key identity";
            let tag = |m: &M| m.clone().chain_update(PROBE).finalize().into_bytes();
            tag(a) == tag(b)
        }
        if self.alg != other.alg || self.kid != other.kid {
            return false;
        }
        match (&self.verifier, &other.verifier) {
            (Verifier::Hs256(a), Verifier::Hs256(b)) => same_mac(a, b),
            (Verifier::Hs384(a), Verifier::Hs384(b)) => same_mac(a, b),
            (Verifier::Hs512(a), Verifier::Hs512(b)) => same_mac(a, b),
            (Verifier::Rsa(a), Verifier::Rsa(b)) => a == b,
            (Verifier::Es256(a), Verifier::Es256(b)) => a == b,
            (Verifier::Es384(a), Verifier::Es384(b)) => a == b,
            (Verifier::Es512(a), Verifier::Es512(b)) => a == b,
            (Verifier::EdDsa(a), Verifier::EdDsa(b)) => a == b,
            #[cfg(feature = "aws-lc")]
            (Verifier::AwsLc(a), Verifier::AwsLc(b)) => a.same(b),
            // Different kinds: not the same key.
            _ => false,
        }
    }
}

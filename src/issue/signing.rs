//! [`SigningKey`]: a private key or shared secret bound to one algorithm, and its public half.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::verify::algorithm::{Algorithm, KeyFamily};
use crate::verify::error::ConfigError;
use crate::verify::keys::{DecodingKey, Jwk};

/// A private key (or shared secret) that signs tokens with one [`Algorithm`], and the public
/// half that verifies them.
#[derive(Clone)]
pub struct SigningKey {
    pub(super) alg: Algorithm,
    pub(super) kid: Option<Arc<str>>,
    pub(super) encoding: jsonwebtoken::EncodingKey,
    decoding: DecodingKey,
    public_jwk: Option<Jwk>,
}

pub(super) fn invalid(err: impl fmt::Display) -> ConfigError {
    ConfigError::InvalidKey(err.to_string())
}

impl SigningKey {
    /// An HMAC key (HS256, HS384, HS512) from a shared secret.
    ///
    /// # Errors
    ///
    /// The strength errors of [`DecodingKey::from_secret`]: the same secret rules apply to both
    /// sides.
    pub fn from_secret(alg: Algorithm, secret: &[u8]) -> Result<Self, ConfigError> {
        let decoding = DecodingKey::from_secret(alg, secret)?;
        let encoding = jsonwebtoken::EncodingKey::from_secret(secret).map_err(invalid)?;
        Ok(Self {
            alg,
            kid: None,
            encoding,
            decoding,
            public_jwk: None,
        })
    }

    /// A key from a private key PEM, with the algorithm its type implies: RS256 for RSA, ES256
    /// or ES384 for P-256 or P-384, EdDSA for Ed25519.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] when the PEM holds no supported private key, and the strength
    /// errors of [`DecodingKey`].
    pub fn from_private_pem(pem: &str) -> Result<Self, ConfigError> {
        let candidates = [
            Algorithm::RS256,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
        ];
        let mut last = ConfigError::InvalidKey("no supported private key in the PEM".into());
        for alg in candidates {
            match Self::from_pem(alg, pem) {
                Ok(key) => return Ok(key),
                Err(err @ (ConfigError::WeakRsaKey { .. } | ConfigError::InsecureRsaKey(_))) => {
                    return Err(err);
                }
                Err(err) => last = err,
            }
        }
        Err(last)
    }

    /// A key from a private key PEM (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`) for
    /// `alg`: RS*/PS* with RSA, ES256 with P-256, ES384 with P-384, EdDSA with Ed25519.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] when the PEM does not hold a private key of the family `alg`
    /// needs, [`ConfigError::KeyAlgorithmMismatch`] for HMAC or ES512 (not supported for
    /// signing), and the strength errors of [`DecodingKey`].
    pub fn from_pem(alg: Algorithm, pem: &str) -> Result<Self, ConfigError> {
        use p256::elliptic_curve::sec1::ToSec1Point;
        use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
        let pem = pem.trim();
        let (encoding, decoding, jwk) = match alg.family() {
            KeyFamily::Rsa => {
                use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
                use rsa::traits::PublicKeyParts;
                let private = rsa::PrivateKey::from_pkcs8_pem(pem)
                    .or_else(|_| rsa::PrivateKey::from_pkcs1_pem(pem))
                    .map_err(invalid)?;
                let public = rsa::PublicKey::from(&private);
                let (n, e) = (public.n_bytes(), public.e_bytes());
                let decoding = DecodingKey::from_rsa_components(alg, &n, &e)?;
                let der = private.to_pkcs1_der().map_err(invalid)?;
                let jwk = Jwk {
                    kty: "RSA".into(),
                    n: Some(URL_SAFE_NO_PAD.encode(&n)),
                    e: Some(URL_SAFE_NO_PAD.encode(&e)),
                    ..Jwk::default()
                };
                (
                    jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
                    decoding,
                    jwk,
                )
            }
            KeyFamily::Ec => {
                let (der, point, crv) = match alg {
                    Algorithm::ES256 => {
                        let secret = p256::SecretKey::from_pkcs8_pem(pem)
                            .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
                            .map_err(invalid)?;
                        let point = secret.public_key().to_sec1_point(false);
                        (
                            secret.to_pkcs8_der().map_err(invalid)?,
                            point.as_bytes().to_vec(),
                            "P-256",
                        )
                    }
                    Algorithm::ES384 => {
                        let secret = p384::SecretKey::from_pkcs8_pem(pem)
                            .or_else(|_| p384::SecretKey::from_sec1_pem(pem))
                            .map_err(invalid)?;
                        let point = secret.public_key().to_sec1_point(false);
                        (
                            secret.to_pkcs8_der().map_err(invalid)?,
                            point.as_bytes().to_vec(),
                            "P-384",
                        )
                    }
                    _ => {
                        return Err(ConfigError::KeyAlgorithmMismatch {
                            algorithm: alg,
                            found: "key (ES512 tokens cannot be signed here)",
                        });
                    }
                };
                let decoding = DecodingKey::from_ec_point(alg, &point)?;
                let size = (point.len() - 1) / 2;
                let jwk = Jwk {
                    kty: "EC".into(),
                    crv: Some(crv.into()),
                    x: Some(URL_SAFE_NO_PAD.encode(&point[1..=size])),
                    y: Some(URL_SAFE_NO_PAD.encode(&point[1 + size..])),
                    ..Jwk::default()
                };
                (
                    jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes()),
                    decoding,
                    jwk,
                )
            }
            KeyFamily::Okp => {
                let secret = ed25519_dalek::SigningKey::from_pkcs8_pem(pem).map_err(invalid)?;
                let public = secret.verifying_key();
                let decoding = DecodingKey::from_ed25519(public.as_bytes())?;
                let der = secret.to_pkcs8_der().map_err(invalid)?;
                let jwk = Jwk {
                    kty: "OKP".into(),
                    crv: Some("Ed25519".into()),
                    x: Some(URL_SAFE_NO_PAD.encode(public.as_bytes())),
                    ..Jwk::default()
                };
                (
                    jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
                    decoding,
                    jwk,
                )
            }
            KeyFamily::Hmac => {
                return Err(ConfigError::KeyAlgorithmMismatch {
                    algorithm: alg,
                    found: "PEM key",
                });
            }
        };
        let jwk = Jwk {
            alg: Some(alg.as_str().into()),
            use_: Some("sig".into()),
            ..jwk
        };
        Ok(Self {
            alg,
            kid: None,
            encoding,
            decoding,
            public_jwk: Some(jwk),
        })
    }

    /// A fresh random key for `alg`, with a key id: the public key's RFC 7638 thumbprint
    /// (a random id for a shared secret). What a key rotation signs with next
    /// ([`TokenIssuer::rotate`](super::TokenIssuer::rotate)).
    ///
    /// RSA keys are 2048 bits (generating one takes a moment: up to a second or so); shared
    /// secrets are 64 random bytes. The randomness is the operating system's.
    ///
    /// # Errors
    ///
    /// [`ConfigError::KeyAlgorithmMismatch`] for ES512 (not supported for signing), and
    /// [`ConfigError::InvalidKey`] when the random number generator fails.
    pub fn generate(alg: Algorithm) -> Result<Self, ConfigError> {
        use p256::pkcs8::{EncodePrivateKey, LineEnding};
        fn random<const N: usize>() -> Result<zeroize::Zeroizing<[u8; N]>, ConfigError> {
            let mut bytes = zeroize::Zeroizing::new([0u8; N]);
            getrandom::fill(&mut *bytes).map_err(invalid)?;
            Ok(bytes)
        }
        let pem = match alg {
            _ if alg.family() == KeyFamily::Hmac => {
                let secret = random::<64>()?;
                let mut id = [0u8; 16];
                getrandom::fill(&mut id).map_err(invalid)?;
                return Ok(Self::from_secret(alg, &*secret)?.with_kid(URL_SAFE_NO_PAD.encode(id)));
            }
            Algorithm::ES256 => loop {
                // A scalar out of range is refused: draw again (odds about 2^-32).
                if let Ok(key) = p256::SecretKey::from_slice(&*random::<32>()?) {
                    break key.to_pkcs8_pem(LineEnding::LF).map_err(invalid)?;
                }
            },
            Algorithm::ES384 => loop {
                if let Ok(key) = p384::SecretKey::from_slice(&*random::<48>()?) {
                    break key.to_pkcs8_pem(LineEnding::LF).map_err(invalid)?;
                }
            },
            Algorithm::EdDSA => ed25519_dalek::SigningKey::from_bytes(&*random::<32>()?)
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(invalid)?,
            _ if alg.family() == KeyFamily::Rsa => {
                rsa::PrivateKey::new(&mut getrandom::SysRng, 2048)
                    .map_err(invalid)?
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(invalid)?
            }
            _ => {
                return Err(ConfigError::KeyAlgorithmMismatch {
                    algorithm: alg,
                    found: "key (ES512 tokens cannot be signed here)",
                });
            }
        };
        let key = Self::from_pem(alg, &pem)?;
        let kid = key
            .public_jwk()
            .and_then(|jwk| jwk.thumbprint().ok())
            .ok_or_else(|| invalid("no thumbprint for the generated key"))?;
        Ok(key.with_kid(kid))
    }

    /// The key id written in each token's header and in the JWKS, if set.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Sets the key id written in each token's header and in the JWKS.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<Arc<str>>) -> Self {
        let kid = kid.into();
        self.decoding = self.decoding.with_kid(Arc::clone(&kid));
        if let Some(jwk) = &mut self.public_jwk {
            jwk.kid = Some(kid.to_string());
        }
        self.kid = Some(kid);
        self
    }

    /// The algorithm this key signs with.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key that verifies this key's signatures.
    #[must_use]
    pub fn decoding_key(&self) -> DecodingKey {
        self.decoding.clone()
    }

    /// The public key as a JWK, for asymmetric keys; `None` for shared secrets.
    #[must_use]
    pub fn public_jwk(&self) -> Option<&Jwk> {
        self.public_jwk.as_ref()
    }

    /// Signs `claims` under `header`, whatever they hold: the test helpers of
    /// [`testing`](crate::testing) mint tokens [`TokenIssuer`](super::TokenIssuer) never would
    /// (expired, for another audience…). `header.alg` is set to this key's algorithm.
    #[cfg(feature = "testing")]
    pub(crate) fn sign_json(
        &self,
        mut header: jsonwebtoken::Header,
        claims: &serde_json::Value,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        header.alg = to_jsonwebtoken(self.alg);
        encode(&header, claims, &self.encoding)
    }
}

/// Signs a compact JWS (RFC 7515 §7.1) through jsonwebtoken's RustCrypto provider, named
/// explicitly, never through its process-wide default.
///
/// `jsonwebtoken::encode` signs with the process-wide provider, which jsonwebtoken chooses from
/// its cargo features only when exactly one backend is on. An application that enables
/// `jsonwebtoken/aws_lc_rs` for its own use, next to the `rust_crypto` this crate enables,
/// leaves jsonwebtoken without a default, and `encode` would panic unless the application
/// installed one; this crate never installs one. Naming the provider keeps issuing working in
/// such a build, with no process-wide state.
pub(super) fn encode<T: serde::Serialize + ?Sized>(
    header: &jsonwebtoken::Header,
    claims: &T,
    key: &jsonwebtoken::EncodingKey,
) -> Result<String, jsonwebtoken::errors::Error> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let provider = &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
    let signer = (provider.signer_factory)(&header.alg, key)?;
    if signer.algorithm() != header.alg {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidAlgorithm.into());
    }
    let mut jws = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header)?);
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims)?, &mut jws);
    let signature = signer.try_sign(jws.as_bytes())?;
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut jws);
    Ok(jws)
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

pub(super) fn to_jsonwebtoken(alg: Algorithm) -> jsonwebtoken::Algorithm {
    use jsonwebtoken::Algorithm as J;
    match alg {
        Algorithm::HS256 => J::HS256,
        Algorithm::HS384 => J::HS384,
        Algorithm::HS512 => J::HS512,
        Algorithm::RS256 => J::RS256,
        Algorithm::RS384 => J::RS384,
        Algorithm::RS512 => J::RS512,
        Algorithm::PS256 => J::PS256,
        Algorithm::PS384 => J::PS384,
        Algorithm::PS512 => J::PS512,
        Algorithm::ES256 => J::ES256,
        Algorithm::ES384 => J::ES384,
        // SigningKey never holds an ES512 key.
        Algorithm::ES512 | Algorithm::EdDSA => J::EdDSA,
    }
}

//! Token issuing (feature `login`): signing keys, [`TokenIssuer`], and a JWKS endpoint.

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;
use tower_service::Service;

use crate::verify::algorithm::{Algorithm, KeyFamily};
use crate::verify::error::ConfigError;
use crate::verify::keys::{DecodingKey, Jwk, JwkSet};
use crate::verify::validation::Validation;
use crate::verify::verifier::Verifier;
use crate::{JwtAuthLayer, KeyStore};

/// A private key (or shared secret) that signs tokens with one [`Algorithm`], and the public
/// half that verifies them.
#[derive(Clone)]
pub struct SigningKey {
    alg: Algorithm,
    kid: Option<Arc<str>>,
    encoding: jsonwebtoken::EncodingKey,
    decoding: DecodingKey,
    public_jwk: Option<Jwk>,
}

fn invalid(err: impl fmt::Display) -> ConfigError {
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
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn to_jsonwebtoken(alg: Algorithm) -> jsonwebtoken::Algorithm {
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

/// An access token just issued.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedToken {
    /// The compact JWT.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The space-separated scopes it grants.
    pub scope: String,
    /// Its `jti`.
    pub jwt_id: String,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("jwt_id", &self.jwt_id)
            .finish_non_exhaustive()
    }
}

/// Why a token could not be issued.
#[derive(Debug)]
#[non_exhaustive]
pub enum IssueError {
    /// The system's random number generator failed.
    Random,
    /// Signing failed.
    Signing(String),
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssueError::Random => f.write_str("the random number generator failed"),
            IssueError::Signing(why) => write!(f, "signing failed: {why}"),
        }
    }
}

impl std::error::Error for IssueError {}

/// Issues RFC 9068 access tokens: header `typ: at+jwt`, with `iss`, `aud`, `sub`, `iat`,
/// `nbf`, `exp`, a random 128-bit `jti` and `scope`.
///
/// Every token it issues verifies with [`TokenIssuer::verifier`] or [`TokenIssuer::layer`],
/// which use the same key material, issuer and audience.
#[derive(Clone, Debug)]
pub struct TokenIssuer {
    inner: Arc<IssuerConfig>,
}

#[derive(Clone, Debug)]
struct IssuerConfig {
    key: SigningKey,
    issuer: Option<String>,
    audience: Option<String>,
    lifetime: Duration,
}

#[derive(Serialize)]
struct AccessClaims<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: &'a str,
    scope: &'a str,
}

/// Default token lifetime: 15 minutes.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(15 * 60);

impl TokenIssuer {
    /// An issuer signing with `key`, tokens living 15 minutes, no `iss` or `aud` yet.
    #[must_use]
    pub fn new(key: SigningKey) -> Self {
        Self {
            inner: Arc::new(IssuerConfig {
                key,
                issuer: None,
                audience: None,
                lifetime: DEFAULT_LIFETIME,
            }),
        }
    }

    /// Sets `iss`.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.inner).issuer = Some(issuer.into());
        self
    }

    /// Sets `aud`.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.inner).audience = Some(audience.into());
        self
    }

    /// Sets the lifetime (default 15 minutes).
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        Arc::make_mut(&mut self.inner).lifetime = lifetime;
        self
    }

    /// The signing key.
    #[must_use]
    pub fn key(&self) -> &SigningKey {
        &self.inner.key
    }

    /// The lifetime of issued tokens.
    #[must_use]
    pub fn token_lifetime(&self) -> Duration {
        self.inner.lifetime
    }

    /// Issues a token for `subject` granting `scope` (space-separated).
    ///
    /// # Errors
    ///
    /// [`IssueError`] when the random number generator or the signature fails.
    pub fn issue(&self, subject: &str, scope: &str) -> Result<IssuedToken, IssueError> {
        let config = &*self.inner;
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|_| IssueError::Random)?;
        let jwt_id = URL_SAFE_NO_PAD.encode(id);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let expires_in = config.lifetime.as_secs();
        let claims = AccessClaims {
            iss: config.issuer.as_deref(),
            sub: subject,
            aud: config.audience.as_deref(),
            iat: now,
            nbf: now,
            exp: now + expires_in,
            jti: &jwt_id,
            scope,
        };
        let mut header = jsonwebtoken::Header::new(to_jsonwebtoken(config.key.alg));
        header.typ = Some("at+jwt".into());
        header.kid = config.key.kid.as_deref().map(str::to_owned);
        let access_token = jsonwebtoken::encode(&header, &claims, &config.key.encoding)
            .map_err(|e| IssueError::Signing(e.to_string()))?;
        Ok(IssuedToken {
            access_token,
            expires_in,
            scope: scope.to_owned(),
            jwt_id,
        })
    }

    /// The [`Validation`] that the issued tokens pass: the issuer, the audience, `typ: at+jwt`.
    #[must_use]
    pub fn validation(&self) -> Validation {
        let mut validation = Validation::new().require_type("at+jwt").require_sub();
        if let Some(issuer) = &self.inner.issuer {
            validation = validation.issuer(issuer.as_str());
        }
        if let Some(audience) = &self.inner.audience {
            validation = validation.audience(audience.as_str());
        }
        validation
    }

    /// A verifier for the issued tokens.
    #[must_use]
    pub fn verifier(&self) -> Verifier {
        Verifier::from_parts(
            KeyStore::from(self.inner.key.decoding_key()),
            self.validation(),
        )
    }

    /// A [`JwtAuthLayer`] accepting the issued tokens.
    pub fn layer(&self) -> JwtAuthLayer {
        JwtAuthLayer::from_verifier(self.verifier())
    }

    /// The public keys as a JWKS document; `None` for a shared secret, which must never be
    /// published.
    #[must_use]
    pub fn jwks(&self) -> Option<JwkSet> {
        self.inner
            .key
            .public_jwk()
            .map(|jwk| JwkSet::new(vec![jwk.clone()]))
    }

    /// A service answering `GET` with the JWKS document, to mount at
    /// `/.well-known/jwks.json`; `None` for a shared secret.
    #[must_use]
    pub fn jwks_service(&self) -> Option<JwksService> {
        let json = serde_json::to_vec(&self.jwks()?).ok()?;
        Some(JwksService {
            body: Bytes::from(json),
        })
    }
}

/// Serves a JWKS document (`GET`/`HEAD`), cacheable for five minutes.
#[derive(Clone, Debug)]
pub struct JwksService {
    body: Bytes,
}

impl<B> Service<Request<B>> for JwksService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut response = if request.method() == Method::GET || request.method() == Method::HEAD {
            let mut response = Response::new(Full::new(self.body.clone()));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            );
            response.headers_mut().insert(
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            response
        } else {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
        };
        if request.method() == Method::HEAD {
            *response.body_mut() = Full::new(Bytes::new());
        }
        ready(Ok(response))
    }
}

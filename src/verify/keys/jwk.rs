//! JSON Web Keys (RFC 7517) as sources of verification keys.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::DecodingKey;
use crate::verify::algorithm::{Algorithm, KeyFamily};
use crate::verify::error::ConfigError;

/// A JSON Web Key, with the members needed to verify signatures.
///
/// Private members (`d`, `p`, …) are never read, and never kept: a JWK that carries them is used
/// for its public half only.
///
/// Its `Debug` shows the public members and never the symmetric key `k`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Jwk {
    /// Key type: `oct`, `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The algorithm the key is meant for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Intended use: `sig` or `enc`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Permitted operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// Curve of an `EC` or `OKP` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// X coordinate (`EC`) or public key (`OKP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Y coordinate (`EC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Symmetric key value (`oct`). Only read to build an HMAC key; never serialized.
    #[serde(default, skip_serializing)]
    pub k: Option<String>,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("use", &self.use_)
            .field("key_ops", &self.key_ops)
            .field("crv", &self.crv)
            .field("x", &self.x)
            .field("y", &self.y)
            .field("n", &self.n)
            .field("e", &self.e)
            .field("k", &self.k.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A JWK Set (`{"keys": [...]}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// A set of the given keys.
    #[must_use]
    pub fn new(keys: Vec<Jwk>) -> Self {
        Self { keys }
    }
}

fn misuse(why: impl Into<String>) -> ConfigError {
    ConfigError::JwkMisuse(why.into())
}

fn member(value: Option<&String>, name: &str) -> Result<Vec<u8>, ConfigError> {
    let value = value.ok_or_else(|| ConfigError::InvalidKey(format!("JWK lacks {name:?}")))?;
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| ConfigError::InvalidKey(format!("JWK member {name:?} is not base64url")))
}

impl Jwk {
    /// The RFC 7638 thumbprint (SHA-256, base64url): a stable `kid` derived from the public key.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] when a member the thumbprint covers is missing.
    pub fn thumbprint(&self) -> Result<String, ConfigError> {
        use sha2::{Digest, Sha256};
        let need = |value: &Option<String>, name: &str| {
            value
                .clone()
                .ok_or_else(|| ConfigError::InvalidKey(format!("JWK lacks {name:?}")))
        };
        // The required members only, in lexicographic order, no white space (RFC 7638 §3.2).
        let canonical = match self.kty.as_str() {
            "RSA" => {
                serde_json::json!({"e": need(&self.e, "e")?, "kty": "RSA", "n": need(&self.n, "n")?})
            }
            "EC" => serde_json::json!({
                "crv": need(&self.crv, "crv")?, "kty": "EC",
                "x": need(&self.x, "x")?, "y": need(&self.y, "y")?,
            }),
            "OKP" => {
                serde_json::json!({"crv": need(&self.crv, "crv")?, "kty": "OKP", "x": need(&self.x, "x")?})
            }
            "oct" => serde_json::json!({"k": need(&self.k, "k")?, "kty": "oct"}),
            other => {
                return Err(ConfigError::InvalidKey(format!(
                    "unknown \"kty\" {other:?}"
                )));
            }
        };
        // serde_json's map is ordered by key, so this is the canonical form.
        Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.to_string().as_bytes())))
    }

    fn curve_algorithm(&self) -> Option<Algorithm> {
        match (self.kty.as_str(), self.crv.as_deref()) {
            ("EC", Some("P-256")) => Some(Algorithm::ES256),
            ("EC", Some("P-384")) => Some(Algorithm::ES384),
            ("EC", Some("P-521")) => Some(Algorithm::ES512),
            ("OKP", Some("Ed25519")) => Some(Algorithm::EdDSA),
            _ => None,
        }
    }

    pub(super) fn to_decoding_key(
        &self,
        wanted: Option<Algorithm>,
    ) -> Result<DecodingKey, ConfigError> {
        if let Some(use_) = &self.use_
            && use_ != "sig"
        {
            return Err(misuse(format!("\"use\" is {use_:?}, not \"sig\"")));
        }
        if let Some(ops) = &self.key_ops
            && !ops.iter().any(|op| op == "verify")
        {
            return Err(misuse("\"key_ops\" does not permit \"verify\""));
        }
        let own = match &self.alg {
            Some(name) => Some(Algorithm::from_name(name).ok_or_else(|| {
                misuse(format!(
                    "\"alg\" {name:?} is not a supported signature algorithm"
                ))
            })?),
            None => None,
        };
        let alg = match (wanted, own) {
            (Some(wanted), Some(own)) if wanted != own => {
                return Err(misuse(format!(
                    "\"alg\" is {own}, but the key is to verify {wanted}"
                )));
            }
            (Some(alg), _) | (None, Some(alg)) => alg,
            (None, None) => self.curve_algorithm().ok_or_else(|| {
                misuse("the key has no \"alg\" and its type allows several algorithms")
            })?,
        };
        let family = match self.kty.as_str() {
            "oct" => KeyFamily::Hmac,
            "RSA" => KeyFamily::Rsa,
            "EC" => KeyFamily::Ec,
            "OKP" => KeyFamily::Okp,
            other => {
                return Err(ConfigError::InvalidKey(format!(
                    "unknown \"kty\" {other:?}"
                )));
            }
        };
        if family != alg.family() {
            return Err(misuse(format!("a {} key cannot verify {alg}", self.kty)));
        }
        if matches!(family, KeyFamily::Ec | KeyFamily::Okp) && self.curve_algorithm() != Some(alg) {
            return Err(misuse(format!(
                "curve {:?} does not match {alg}",
                self.crv.as_deref().unwrap_or("")
            )));
        }
        let key = match family {
            KeyFamily::Hmac => {
                let secret = zeroize::Zeroizing::new(member(self.k.as_ref(), "k")?);
                DecodingKey::from_secret(alg, &secret)?
            }
            KeyFamily::Rsa => DecodingKey::from_rsa_components(
                alg,
                &member(self.n.as_ref(), "n")?,
                &member(self.e.as_ref(), "e")?,
            )?,
            KeyFamily::Ec => {
                let x = member(self.x.as_ref(), "x")?;
                let y = member(self.y.as_ref(), "y")?;
                let size = match alg {
                    Algorithm::ES256 => 32,
                    Algorithm::ES384 => 48,
                    _ => 66,
                };
                // RFC 7518 §6.2.1.2: coordinates are the full field size, no more, no less.
                if x.len() != size || y.len() != size {
                    return Err(ConfigError::InvalidKey(
                        "EC coordinates are not the curve's size".into(),
                    ));
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                DecodingKey::from_ec_point(alg, &point)?
            }
            KeyFamily::Okp => DecodingKey::from_ed25519(&member(self.x.as_ref(), "x")?)?,
        };
        Ok(match &self.kid {
            Some(kid) => key.with_kid(kid.as_str()),
            None => key,
        })
    }
}

//! [`TokenIssuer`]: RFC 9068 access tokens, and the layer that accepts exactly them.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde::Serialize;

use crate::verify::claims::is_scope_token;
use crate::verify::keys::JwkSet;
use crate::verify::validation::Validation;
use crate::verify::verifier::Verifier;
use crate::{JwtAuthLayer, KeyStore};

use super::*;

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
    /// A scope to grant is empty or not one RFC 6749 `scope-token` (it holds a space, a quote,
    /// a backslash or a character outside printable ASCII).
    InvalidScope(String),
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssueError::Random => f.write_str("the random number generator failed"),
            IssueError::Signing(why) => write!(f, "signing failed: {why}"),
            IssueError::InvalidScope(scope) => write!(f, "invalid scope {scope:?}"),
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
pub(super) struct IssuerConfig {
    key: SigningKey,
    issuer: Option<String>,
    audience: Option<String>,
    lifetime: Duration,
}

#[derive(Serialize)]
pub(super) struct AccessClaims<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    scope: &'a str,
}

/// The longest lifetime [`TokenIssuer::lifetime`] sets: 24 hours.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

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

    /// Sets the lifetime (default 15 minutes), capped at [`MAX_LIFETIME`] (24 hours): an
    /// access token is a bearer credential, and a lifetime beyond any sane one (`Duration::MAX`)
    /// would otherwise overflow into a token that is already expired, or panic.
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        if lifetime > MAX_LIFETIME {
            tracing::warn!(
                requested = ?lifetime,
                "token lifetime capped at 24 hours; use refresh tokens for longer sessions"
            );
        }
        Arc::make_mut(&mut self.inner).lifetime = lifetime.min(MAX_LIFETIME);
        self
    }

    /// The signing key.
    #[must_use]
    pub fn key(&self) -> &SigningKey {
        &self.inner.key
    }

    /// The `iss` of issued tokens, if set.
    #[must_use]
    pub fn issuer_name(&self) -> Option<&str> {
        self.inner.issuer.as_deref()
    }

    /// The lifetime of issued tokens.
    #[must_use]
    pub fn token_lifetime(&self) -> Duration {
        self.inner.lifetime
    }

    /// Issues a token for `subject` granting every one of `scopes` (written into the token's
    /// `scope` claim, space-separated).
    ///
    /// ```
    /// # use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};
    /// # let issuer = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap());
    /// let token = issuer.issue("user-1", ["read", "write"])?;
    /// assert_eq!(token.scope, "read write");
    /// # Ok::<(), tower_jwt_auth::issue::IssueError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`IssueError::InvalidScope`] when a scope is not one RFC 6749 `scope-token` (`"read
    /// write"` is two scopes); [`IssueError`] when the random number generator or the signature
    /// fails.
    pub fn issue<S: AsRef<str>>(
        &self,
        subject: &str,
        scopes: impl IntoIterator<Item = S>,
    ) -> Result<IssuedToken, IssueError> {
        self.issue_with(subject, scopes, None)
    }

    /// Issues a token as [`issue`](Self::issue) does, in the session `session_id` (its `sid`
    /// claim): a refresh-token family, whose revocation ends every access token issued in it.
    ///
    /// # Errors
    ///
    /// As [`issue`](Self::issue).
    pub fn issue_in_session<S: AsRef<str>>(
        &self,
        subject: &str,
        scopes: impl IntoIterator<Item = S>,
        session_id: &str,
    ) -> Result<IssuedToken, IssueError> {
        self.issue_with(subject, scopes, Some(session_id))
    }

    fn issue_with<S: AsRef<str>>(
        &self,
        subject: &str,
        scopes: impl IntoIterator<Item = S>,
        session_id: Option<&str>,
    ) -> Result<IssuedToken, IssueError> {
        let mut scope = String::new();
        for item in scopes {
            let item = item.as_ref();
            if !is_scope_token(item) {
                return Err(IssueError::InvalidScope(item.to_owned()));
            }
            if !scope.is_empty() {
                scope.push(' ');
            }
            scope.push_str(item);
        }
        let scope = scope.as_str();
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
            // Both are bounded (a clock reading, a lifetime of at most a day): no overflow.
            exp: now.saturating_add(expires_in),
            jti: &jwt_id,
            sid: session_id,
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

//! Why a token was refused ([`AuthError`], [`ErrorKind`], the RFC 6750 [`ErrorCode`]) and why a
//! configuration was ([`ConfigError`]). The HTTP statuses and gRPC codes these map to belong to
//! the layer: [`crate::layer::http_status`], [`crate::layer::grpc_code`].

use std::fmt;
use std::sync::Arc;

/// Why a request was not authenticated.
///
/// The variants are precise and meant for logs, metrics and tests: they are never sent to the
/// client, which only sees the generic [`AuthError::description`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No credential was sent (RFC 6750 §3.1: a bare challenge, no error code).
    MissingCredential,
    /// An `Authorization` header with another scheme (`Basic`, `Token`, …).
    UnsupportedScheme,
    /// The credential does not follow the `Bearer <b64token>` grammar.
    MalformedCredential,
    /// More than one credential: several `Authorization` headers, or several tokens.
    MultipleCredentials,
    /// A token from a cookie, on a request with an unsafe method that did not show it came
    /// from this origin's own pages (see the layer's `SameOrigin`): cross-site request forgery.
    CrossSiteRequest,
    /// The token is longer than the configured cap.
    TokenTooLarge,
    /// The token is not a compact JWS: wrong number of parts, bad base64url, invalid JSON,
    /// invalid UTF-8 or a header or claims set that is not a JSON object.
    MalformedToken,
    /// A JSON object in the header or claims names the same member twice.
    DuplicateMember,
    /// The `alg` header names an algorithm outside the allow-list (`none` included).
    DisallowedAlgorithm,
    /// No key matches the token's `kid` and `alg`.
    UnknownKey,
    /// The signature does not verify.
    InvalidSignature,
    /// The `crit` header names an extension this verifier does not understand.
    UnsupportedCriticalHeader,
    /// The `typ` header is missing or not the required one.
    InvalidType,
    /// The token has expired (`exp`, with leeway).
    Expired,
    /// The token is not valid yet (`nbf`, with leeway).
    NotYetValid,
    /// A claim the configuration requires is absent.
    MissingClaim(&'static str),
    /// A registered claim has the wrong JSON type (a string `exp`, a numeric `iss`, …).
    InvalidClaimType(&'static str),
    /// `iss` is not the configured issuer.
    InvalidIssuer,
    /// `aud` does not contain the configured audience.
    InvalidAudience,
    /// The claims set does not deserialize into the application's claims type.
    InvalidClaims,
    /// The revocation hook reported the token as revoked.
    Revoked,
    /// The revocation hook failed; the request is refused rather than let through.
    RevocationUnavailable,
    /// The token is valid but lacks a required scope.
    InsufficientScope,
    /// Per-method access rules name neither this path nor, since it is not a gRPC method, a
    /// default for it (see [`MethodScopes`](crate::MethodScopes)).
    UnlistedPath,
    /// The keys of the token's issuer are not available: they were never fetched, or the last
    /// good set is older than the configured limit. The request is refused (HTTP 503, gRPC
    /// `UNAVAILABLE`) rather than let through; [`AuthError::retry_after`] says when to retry.
    KeysUnavailable,
}

/// The RFC 6750 §3.1 error code a rejection carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// No error code: the request carried no (bearer) credential.
    None,
    /// `invalid_request` (HTTP 400).
    InvalidRequest,
    /// `invalid_token` (HTTP 401).
    InvalidToken,
    /// `insufficient_scope` (HTTP 403).
    InsufficientScope,
    /// Not an RFC 6750 code: the server could not decide (HTTP 503, body `temporarily_unavailable`).
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The code as it appears in the challenge and the body, if any.
    #[must_use]
    pub const fn as_str(self) -> Option<&'static str> {
        match self {
            ErrorCode::None => None,
            ErrorCode::InvalidRequest => Some("invalid_request"),
            ErrorCode::InvalidToken => Some("invalid_token"),
            ErrorCode::InsufficientScope => Some("insufficient_scope"),
            ErrorCode::TemporarilyUnavailable => Some("temporarily_unavailable"),
        }
    }
}

impl ErrorKind {
    /// The RFC 6750 error code for this kind.
    #[must_use]
    pub const fn code(self) -> ErrorCode {
        match self {
            ErrorKind::MissingCredential | ErrorKind::UnsupportedScheme => ErrorCode::None,
            ErrorKind::MalformedCredential
            | ErrorKind::MultipleCredentials
            | ErrorKind::CrossSiteRequest => ErrorCode::InvalidRequest,
            ErrorKind::InsufficientScope | ErrorKind::UnlistedPath => ErrorCode::InsufficientScope,
            ErrorKind::RevocationUnavailable | ErrorKind::KeysUnavailable => {
                ErrorCode::TemporarilyUnavailable
            }
            _ => ErrorCode::InvalidToken,
        }
    }

    /// A stable `snake_case` name for this kind, for logs and metrics labels (the `reason` of
    /// the `tracing` decision span and of the `metrics` feature's counters): it never changes
    /// once published, and never carries data (a [`MissingClaim`](Self::MissingClaim) is
    /// `"missing_claim"`, whatever the claim).
    ///
    /// ```
    /// use tower_jwt_auth::ErrorKind;
    ///
    /// assert_eq!(ErrorKind::Expired.as_str(), "expired");
    /// assert_eq!(ErrorKind::MissingClaim("exp").as_str(), "missing_claim");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::MissingCredential => "missing_credential",
            ErrorKind::UnsupportedScheme => "unsupported_scheme",
            ErrorKind::MalformedCredential => "malformed_credential",
            ErrorKind::MultipleCredentials => "multiple_credentials",
            ErrorKind::CrossSiteRequest => "cross_site_request",
            ErrorKind::TokenTooLarge => "token_too_large",
            ErrorKind::MalformedToken => "malformed_token",
            ErrorKind::DuplicateMember => "duplicate_member",
            ErrorKind::DisallowedAlgorithm => "disallowed_algorithm",
            ErrorKind::UnknownKey => "unknown_key",
            ErrorKind::InvalidSignature => "invalid_signature",
            ErrorKind::UnsupportedCriticalHeader => "unsupported_critical_header",
            ErrorKind::InvalidType => "invalid_type",
            ErrorKind::Expired => "expired",
            ErrorKind::NotYetValid => "not_yet_valid",
            ErrorKind::MissingClaim(_) => "missing_claim",
            ErrorKind::InvalidClaimType(_) => "invalid_claim_type",
            ErrorKind::InvalidIssuer => "invalid_issuer",
            ErrorKind::InvalidAudience => "invalid_audience",
            ErrorKind::InvalidClaims => "invalid_claims",
            ErrorKind::Revoked => "revoked",
            ErrorKind::RevocationUnavailable => "revocation_unavailable",
            ErrorKind::InsufficientScope => "insufficient_scope",
            ErrorKind::UnlistedPath => "unlisted_path",
            ErrorKind::KeysUnavailable => "keys_unavailable",
        }
    }

    fn detail(self) -> &'static str {
        match self {
            ErrorKind::MissingCredential => "no credential in the request",
            ErrorKind::UnsupportedScheme => "the authorization scheme is not Bearer",
            ErrorKind::MalformedCredential => "the bearer credential is malformed",
            ErrorKind::MultipleCredentials => "more than one credential in the request",
            ErrorKind::CrossSiteRequest => {
                "a cookie credential on an unsafe request not shown to come from this origin"
            }
            ErrorKind::TokenTooLarge => "the token is longer than the configured cap",
            ErrorKind::MalformedToken => "the token is not a well-formed compact JWS",
            ErrorKind::DuplicateMember => "a JSON object in the token repeats a member name",
            ErrorKind::DisallowedAlgorithm => "the token's algorithm is not allowed",
            ErrorKind::UnknownKey => "no key matches the token's kid and algorithm",
            ErrorKind::InvalidSignature => "the signature does not verify",
            ErrorKind::UnsupportedCriticalHeader => {
                "the token has a critical header we do not understand"
            }
            ErrorKind::InvalidType => "the token's typ header is not the required one",
            ErrorKind::Expired => "the token has expired",
            ErrorKind::NotYetValid => "the token is not valid yet",
            ErrorKind::MissingClaim(_) => "a required claim is missing",
            ErrorKind::InvalidClaimType(_) => "a registered claim has the wrong type",
            ErrorKind::InvalidIssuer => "the issuer is not accepted",
            ErrorKind::InvalidAudience => "the audience is not accepted",
            ErrorKind::InvalidClaims => "the claims do not match the expected shape",
            ErrorKind::Revoked => "the token has been revoked",
            ErrorKind::RevocationUnavailable => "the revocation check failed",
            ErrorKind::InsufficientScope => "the token lacks a required scope",
            ErrorKind::UnlistedPath => "no access rule names this path",
            ErrorKind::KeysUnavailable => "the issuer's keys are not available",
        }
    }
}

/// The error behind every rejection: its [`kind`](AuthError::kind) says why.
///
/// It is attached to the extensions of each rejection response, so outer layers (logging,
/// metrics) can see the precise reason the client is not told.
#[derive(Clone)]
pub struct AuthError {
    kind: ErrorKind,
    scope: Option<Arc<str>>,
    /// Seconds after which a retry may succeed; 0 when not said.
    retry_after: u32,
}

impl AuthError {
    pub(crate) const fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            scope: None,
            retry_after: 0,
        }
    }

    pub(crate) fn insufficient_scope(scope: Arc<str>) -> Self {
        Self {
            kind: ErrorKind::InsufficientScope,
            scope: Some(scope),
            retry_after: 0,
        }
    }

    /// `self`, telling the client to retry after `seconds` (at least 1).
    #[must_use]
    #[cfg(feature = "remote")]
    pub(crate) fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = u32::try_from(seconds.max(1)).unwrap_or(u32::MAX);
        self
    }

    /// For a temporary refusal ([`ErrorKind::KeysUnavailable`]), the seconds after which a
    /// retry may succeed: the standard rejection sends them as `Retry-After`.
    #[must_use]
    pub const fn retry_after(&self) -> Option<u32> {
        if self.retry_after == 0 {
            None
        } else {
            Some(self.retry_after)
        }
    }

    /// Why the request was rejected.
    #[must_use]
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The RFC 6750 error code the client is told.
    #[must_use]
    pub const fn code(&self) -> ErrorCode {
        self.kind.code()
    }

    /// For [`ErrorKind::InsufficientScope`], the space-separated scopes the request needs.
    #[must_use]
    pub fn required_scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The generic description sent to clients; it never reveals the precise reason.
    #[must_use]
    pub const fn description(&self) -> &'static str {
        match self.code() {
            ErrorCode::None => "authentication is required",
            ErrorCode::InvalidRequest => "the request's credential is malformed",
            ErrorCode::InvalidToken => "the access token is invalid",
            ErrorCode::InsufficientScope => "the access token lacks the required scope",
            ErrorCode::TemporarilyUnavailable => "the token cannot be checked right now",
        }
    }
}

impl From<ErrorKind> for AuthError {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AuthError");
        d.field("kind", &self.kind);
        if let Some(scope) = &self.scope {
            d.field("required_scope", scope);
        }
        if let Some(seconds) = self.retry_after() {
            d.field("retry_after", &seconds);
        }
        d.finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.detail())?;
        match self.kind {
            ErrorKind::MissingClaim(name) | ErrorKind::InvalidClaimType(name) => {
                write!(f, " ({name})")
            }
            ErrorKind::InsufficientScope => match &self.scope {
                Some(scope) => write!(f, " ({scope})"),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

impl std::error::Error for AuthError {}

/// A configuration or key that is refused when the verifier is built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// An HMAC secret shorter than 32 bytes or than the hash output.
    WeakSecret {
        /// The algorithm the secret is meant for.
        algorithm: crate::Algorithm,
        /// The secret's length in bytes.
        len: usize,
        /// The least length accepted.
        min: usize,
    },
    /// An RSA modulus under 2048 bits.
    WeakRsaKey {
        /// The modulus size in bits.
        bits: usize,
    },
    /// An RSA public key refused for another reason (exponent, known-weak generator).
    InsecureRsaKey(&'static str),
    /// The key does not suit the algorithm it is bound to.
    KeyAlgorithmMismatch {
        /// The algorithm asked for.
        algorithm: crate::Algorithm,
        /// What the key is.
        found: &'static str,
    },
    /// A JWK whose `alg`, `use` or `key_ops` contradicts how it would be used.
    JwkMisuse(String),
    /// A key could not be parsed.
    InvalidKey(String),
    /// Two keys in one set share a `kid`.
    DuplicateKid(String),
    /// Two keys in one set verify this algorithm and neither has a `kid`: no token could say
    /// which it was signed with (typically mid-rotation). Give each key a `kid`.
    AmbiguousKeys(crate::Algorithm),
    /// An HMAC secret that is a PEM document (often a public key: the "public key as HMAC
    /// secret" mistake of RFC 8725 §2.1). A shared secret is random bytes.
    SecretLooksLikeKey,
    /// A key set that mixes shared secrets and public keys.
    MixedKeySet,
    /// No usable key: the set is empty, or the allow-list excludes every key.
    NoKeys,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::WeakSecret {
                algorithm,
                len,
                min,
            } => write!(
                f,
                "{algorithm} secret is {len} bytes; at least {min} random bytes are required"
            ),
            ConfigError::WeakRsaKey { bits } => {
                write!(f, "RSA key is {bits} bits; at least 2048 bits are required")
            }
            ConfigError::InsecureRsaKey(why) => write!(f, "RSA key refused: {why}"),
            ConfigError::KeyAlgorithmMismatch { algorithm, found } => {
                write!(f, "a {found} cannot be used with {algorithm}")
            }
            ConfigError::JwkMisuse(why) => write!(f, "JWK refused: {why}"),
            ConfigError::InvalidKey(why) => write!(f, "invalid key: {why}"),
            ConfigError::DuplicateKid(kid) => write!(f, "two keys share the kid {kid:?}"),
            ConfigError::AmbiguousKeys(alg) => write!(
                f,
                "two {alg} keys have no kid, so no token could name its key: give each key a kid"
            ),
            ConfigError::SecretLooksLikeKey => f.write_str(
                "the HMAC secret is a PEM document: a public key used as a shared secret lets \
                 anyone who has it sign tokens (RFC 8725 section 2.1); use random bytes, or \
                 DecodingKey::from_pem for a public key",
            ),
            ConfigError::MixedKeySet => {
                f.write_str("a key set must not mix shared secrets and public keys")
            }
            ConfigError::NoKeys => f.write_str("no usable verification key"),
        }
    }
}

impl std::error::Error for ConfigError {}

//! [`TokenIssuer`]: RFC 9068 access tokens, and the layer that accepts exactly them.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde::Serialize;

use crate::verify::claims::is_scope_token;
use crate::verify::error::ConfigError;
use crate::verify::keys::{DecodingKey, Jwk, JwkSet, KeySet};
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
///
/// # Key rotation
///
/// [`rotate`](Self::rotate) signs from then on with a new key (with a new `kid`), while the
/// previous public keys stay in the [JWKS](Self::jwks) and in the verifiers made here for
/// [`overlap`](Self::overlap) (by default the token lifetime plus 60 s of leeway: the longest
/// an already issued token can still be accepted), then are dropped. Clones share the keys:
/// a rotation through one is seen by every clone, every [`verifier`](Self::verifier),
/// [`layer`](Self::layer) and [`jwks_service`](Self::jwks_service) made from any of them,
/// without a restart.
#[derive(Clone, Debug)]
pub struct TokenIssuer {
    inner: Arc<IssuerConfig>,
    keys: Arc<KeyRing>,
}

#[derive(Clone, Debug)]
pub(super) struct IssuerConfig {
    issuer: Option<String>,
    audience: Option<String>,
    lifetime: Duration,
    overlap: Option<Duration>,
}

/// The leeway the issuer's own verifiers allow on `exp` (the [`Validation`] default), added to
/// the lifetime in the default rotation overlap.
const LEEWAY: Duration = Duration::from_secs(60);

/// The signing key and the keys it replaced, shared by the clones of a [`TokenIssuer`].
pub(super) struct KeyRing {
    state: ArcSwap<RingState>,
    /// The verifying keys: the signing key's, then the retired ones still in their overlap.
    store: KeyStore,
    /// Serialises rotations and prunes (never held across I/O, nor on the signing path).
    writing: Mutex<()>,
}

struct RingState {
    signing: SigningKey,
    retired: Vec<Retired>,
    /// The public keys as a JWKS, and serialized; `None` for a shared secret.
    jwks: Option<(JwkSet, Bytes)>,
}

/// A key that signs no more, still verifying (and published) until `until`.
#[derive(Clone)]
struct Retired {
    decoding: DecodingKey,
    jwk: Option<Jwk>,
    until: SystemTime,
}

impl KeyRing {
    fn new(signing: SigningKey) -> Self {
        let (state, set) =
            RingState::build(signing, Vec::new()).expect("one key always makes a set");
        Self {
            state: ArcSwap::from_pointee(state),
            store: KeyStore::new(set),
            writing: Mutex::new(()),
        }
    }

    /// The current state, once the keys whose overlap ended at `now` are dropped.
    fn current(&self, now: SystemTime) -> Arc<RingState> {
        let state = self.state.load_full();
        if state.retired.iter().all(|r| r.until > now) {
            return state;
        }
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let state = self.state.load_full();
        let retired: Vec<Retired> = state
            .retired
            .iter()
            .filter(|r| r.until > now)
            .cloned()
            .collect();
        if retired.len() == state.retired.len() {
            return state;
        }
        let dropped: Vec<&str> = state
            .retired
            .iter()
            .filter(|r| r.until <= now)
            .filter_map(|r| r.decoding.kid())
            .collect();
        tracing::info!(kids = ?dropped, "retired signing keys dropped: their overlap ended");
        self.install(state.signing.clone(), retired)
            .expect("a subset of a valid set is valid")
    }

    /// Signs with `key` from now on; the current key verifies until `until`.
    fn rotate(
        &self,
        key: SigningKey,
        now: SystemTime,
        until: SystemTime,
    ) -> Result<(), ConfigError> {
        let Some(kid) = key.kid.clone() else {
            return Err(ConfigError::InvalidKey(
                "a key rotated in needs a kid (SigningKey::with_kid)".into(),
            ));
        };
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let state = self.state.load_full();
        let mut retired: Vec<Retired> = state
            .retired
            .iter()
            .filter(|r| r.until > now)
            .cloned()
            .collect();
        retired.insert(
            0,
            Retired {
                decoding: state.signing.decoding_key(),
                jwk: state.signing.public_jwk().cloned(),
                until,
            },
        );
        let previous = state.signing.kid.clone();
        self.install(key, retired)?;
        tracing::info!(kid = %kid, previous = ?previous, overlap_until = ?until, "signing key rotated");
        Ok(())
    }

    fn install(
        &self,
        signing: SigningKey,
        retired: Vec<Retired>,
    ) -> Result<Arc<RingState>, ConfigError> {
        let (state, set) = RingState::build(signing, retired)?;
        let state = Arc::new(state);
        self.store.replace(set);
        self.state.store(Arc::clone(&state));
        Ok(state)
    }
}

impl RingState {
    fn build(signing: SigningKey, retired: Vec<Retired>) -> Result<(Self, KeySet), ConfigError> {
        let set = KeySet::new(
            std::iter::once(signing.decoding_key())
                .chain(retired.iter().map(|r| r.decoding.clone())),
        )?;
        let jwks = match signing.public_jwk() {
            Some(jwk) => {
                let keys = std::iter::once(jwk.clone())
                    .chain(retired.iter().filter_map(|r| r.jwk.clone()))
                    .collect();
                let set = JwkSet::new(keys);
                let json =
                    serde_json::to_vec(&set).map_err(|e| ConfigError::InvalidKey(e.to_string()))?;
                Some((set, Bytes::from(json)))
            }
            None => None,
        };
        Ok((
            Self {
                signing,
                retired,
                jwks,
            },
            set,
        ))
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load();
        f.debug_struct("KeyRing")
            .field("signing", &state.signing)
            .field(
                "retired",
                &state
                    .retired
                    .iter()
                    .map(|r| (r.decoding.kid(), r.until))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
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
                issuer: None,
                audience: None,
                lifetime: DEFAULT_LIFETIME,
                overlap: None,
            }),
            keys: Arc::new(KeyRing::new(key)),
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

    /// How long a key replaced by [`rotate`](Self::rotate) keeps verifying and stays in the
    /// JWKS (default: the token lifetime plus 60 s, the verifiers' leeway on `exp`). Shorter
    /// than the lifetime, tokens signed just before a rotation are refused before they expire.
    #[must_use]
    pub fn rotation_overlap(mut self, overlap: Duration) -> Self {
        Arc::make_mut(&mut self.inner).overlap = Some(overlap);
        self
    }

    /// The rotation overlap in force: the one set, else the token lifetime plus 60 s.
    #[must_use]
    pub fn overlap(&self) -> Duration {
        self.inner
            .overlap
            .unwrap_or_else(|| self.inner.lifetime.saturating_add(LEEWAY))
    }

    /// The key signing now (a clone: a rotation replaces it).
    #[must_use]
    pub fn key(&self) -> SigningKey {
        self.keys.state.load().signing.clone()
    }

    /// Signs with `key` from now on. The key it replaces keeps verifying, and stays in the
    /// JWKS, for [`overlap`](Self::overlap); keys whose overlap ended are dropped. Every clone
    /// of this issuer, and every verifier, layer and JWKS service made from one, sees the
    /// change at once. [`SigningKey::generate`] makes a fresh key with a `kid`.
    ///
    /// ```
    /// # use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};
    /// let issuer = TokenIssuer::new(SigningKey::generate(Algorithm::ES256)?);
    /// let before = issuer.issue("ada", ["read"])?;
    /// issuer.rotate(SigningKey::generate(Algorithm::ES256)?)?;
    /// let after = issuer.issue("ada", ["read"])?;
    /// // Both verify, and the JWKS publishes both keys until the overlap ends.
    /// assert!(issuer.verifier().verify::<tower_jwt_auth::Claims>(&before.access_token).is_ok());
    /// assert!(issuer.verifier().verify::<tower_jwt_auth::Claims>(&after.access_token).is_ok());
    /// assert_eq!(issuer.jwks().unwrap().keys.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKey`] when `key` has no `kid`, [`ConfigError::DuplicateKid`] when
    /// its `kid` is the current key's or a retired one's still in its overlap,
    /// [`ConfigError::MixedKeySet`] when it is a shared secret replacing a private key or the
    /// reverse. Nothing changes then.
    pub fn rotate(&self, key: SigningKey) -> Result<(), ConfigError> {
        let now = SystemTime::now();
        let until = now
            .checked_add(self.overlap())
            .unwrap_or(UNIX_EPOCH + MAX_LIFETIME * 365 * 1000);
        self.keys.rotate(key, now, until)
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
        let clock = SystemTime::now();
        let keys = self.keys.current(clock);
        let key = &keys.signing;
        let now = clock.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
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
        let mut header = jsonwebtoken::Header::new(to_jsonwebtoken(key.alg));
        header.typ = Some("at+jwt".into());
        header.kid = key.kid.as_deref().map(str::to_owned);
        let access_token = encode(&header, &claims, &key.encoding)
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

    /// A verifier for the issued tokens, with the signing key and the retired keys still in
    /// their overlap; it follows rotations.
    #[must_use]
    pub fn verifier(&self) -> Verifier {
        self.keys.current(SystemTime::now());
        Verifier::from_parts(self.keys.store.clone(), self.validation())
    }

    /// A [`JwtAuthLayer`] accepting the issued tokens; it follows rotations.
    pub fn layer(&self) -> JwtAuthLayer {
        JwtAuthLayer::from_verifier(self.verifier())
    }

    /// The public keys as a JWKS document: the signing key first, then the retired keys still
    /// in their overlap; `None` for a shared secret, which must never be published.
    #[must_use]
    pub fn jwks(&self) -> Option<JwkSet> {
        self.jwks_at(SystemTime::now())
    }

    fn jwks_at(&self, now: SystemTime) -> Option<JwkSet> {
        self.keys
            .current(now)
            .jwks
            .as_ref()
            .map(|(set, _)| set.clone())
    }

    /// A service answering `GET` with the JWKS document, to mount at
    /// `/.well-known/jwks.json`; it follows rotations. `None` for a shared secret.
    #[must_use]
    pub fn jwks_service(&self) -> Option<JwksService> {
        self.keys.current(SystemTime::now()).jwks.as_ref()?;
        Some(JwksService {
            keys: Arc::clone(&self.keys),
        })
    }
}

impl KeyRing {
    /// The JWKS document now, serialized; empty for a shared secret.
    pub(super) fn jwks_body(&self) -> Bytes {
        self.current(SystemTime::now())
            .jwks
            .as_ref()
            .map(|(_, body)| body.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    fn kids(set: Option<JwkSet>) -> Vec<String> {
        set.unwrap()
            .keys
            .into_iter()
            .map(|k| k.kid.unwrap_or_default())
            .collect()
    }

    #[test]
    fn retired_keys_are_dropped_when_their_overlap_ends() {
        let first = SigningKey::generate(Algorithm::ES256).unwrap();
        let second = SigningKey::generate(Algorithm::ES256).unwrap();
        let third = SigningKey::generate(Algorithm::ES256).unwrap();
        let (k1, k2, k3) = (
            first.kid().unwrap().to_owned(),
            second.kid().unwrap().to_owned(),
            third.kid().unwrap().to_owned(),
        );
        let issuer = TokenIssuer::new(first);
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let overlap = Duration::from_secs(960);
        issuer.keys.rotate(second, t0, t0 + overlap).unwrap();
        let t1 = t0 + Duration::from_secs(100);
        issuer.keys.rotate(third, t1, t1 + overlap).unwrap();
        assert_eq!(kids(issuer.jwks_at(t1)), [k3.clone(), k2.clone(), k1]);
        // The first key's overlap ends; the second's does not yet.
        assert_eq!(kids(issuer.jwks_at(t0 + overlap)), [k3.clone(), k2]);
        assert_eq!(issuer.keys.store.load().keys().len(), 2);
        assert_eq!(kids(issuer.jwks_at(t1 + overlap)), [k3]);
        assert_eq!(issuer.keys.store.load().keys().len(), 1);
    }
}

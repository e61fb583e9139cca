//! The verifying core: token in, typed claims out. No framework types here.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::algorithm::AlgorithmSet;
use crate::claims::grants_all;
use crate::error::{AuthError, ConfigError, ErrorKind};
use crate::json::{AudienceMatch, RegisteredClaims};
use crate::jws;
use crate::keys::KeyStore;
use crate::revocation::{BoxError, Revocation, RevocationCheck, TokenInfo};
use crate::validation::Validation;

/// Verifies compact JWTs against a key store and a [`Validation`].
///
/// Cheap to clone (an `Arc`). [`JwtAuthLayer`](crate::JwtAuthLayer) uses one; it is public so
/// the same rules can be applied outside a tower stack (a WebSocket handshake, a job queue).
#[derive(Clone)]
pub struct Verifier {
    keys: KeyStore,
    validation: Arc<Validation>,
}

pub(crate) type PendingRevocation = Pin<Box<dyn Future<Output = Result<bool, BoxError>> + Send>>;

/// A verified token, before the revocation hook's answer (if it is not ready at once).
pub(crate) struct Checked<C> {
    pub(crate) claims: C,
    pub(crate) scope_error: Option<AuthError>,
    pub(crate) pending: Option<PendingRevocation>,
}

impl Verifier {
    /// A verifier of tokens signed by `keys`, under `validation`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoKeys`] when the validation's algorithm allow-list excludes every key.
    pub fn new(keys: impl Into<KeyStore>, validation: Validation) -> Result<Self, ConfigError> {
        let keys = keys.into();
        if let Some(allowed) = validation.algorithms
            && keys.with_current(|set| set.algorithms().intersection(allowed).is_empty())
        {
            return Err(ConfigError::NoKeys);
        }
        Ok(Self {
            keys,
            validation: Arc::new(validation),
        })
    }

    pub(crate) fn from_parts(keys: KeyStore, validation: Validation) -> Self {
        Self {
            keys,
            validation: Arc::new(validation),
        }
    }

    /// The key store, to rotate keys while serving.
    #[must_use]
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// The validation rules.
    #[must_use]
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    pub(crate) fn validation_mut(&mut self) -> &mut Validation {
        Arc::make_mut(&mut self.validation)
    }

    /// Verifies `token` and returns its claims. Runs every rule but the revocation hook.
    ///
    /// # Errors
    ///
    /// An [`AuthError`] whose [`kind`](AuthError::kind) says which rule failed.
    pub fn verify<C: DeserializeOwned>(&self, token: &str) -> Result<C, AuthError> {
        let checked = self.check::<C>(token, None)?;
        match checked.scope_error {
            Some(err) => Err(err),
            None => Ok(checked.claims),
        }
    }

    /// Verifies the signature of a compact JWS and returns its payload, without reading it as
    /// JWT claims: the allow-list, key choice, `crit` and `typ` rules apply, the claims rules do
    /// not. For JWS payloads that are not claims sets.
    ///
    /// # Errors
    ///
    /// As [`Verifier::verify`], for the rules that apply.
    pub fn verify_jws(&self, token: &str) -> Result<Vec<u8>, AuthError> {
        self.keys.with_current(|keys| {
            jws::verify(token, keys, self.allowed(keys), |verified, payload| {
                if !self.validation.type_matches(verified.header.typ.as_deref()) {
                    return Err(AuthError::new(ErrorKind::InvalidType));
                }
                Ok(payload.to_vec())
            })
        })
    }

    fn allowed(&self, keys: &crate::keys::KeySet) -> AlgorithmSet {
        let of_keys = keys.algorithms();
        self.validation
            .algorithms
            .map_or(of_keys, |allowed| allowed.intersection(of_keys))
    }

    pub(crate) fn check<C: DeserializeOwned>(
        &self,
        token: &str,
        revocation: Option<&dyn Revocation>,
    ) -> Result<Checked<C>, AuthError> {
        let v = &*self.validation;
        self.keys.with_current(|keys| {
            jws::verify(token, keys, self.allowed(keys), |verified, payload| {
                if !v.type_matches(verified.header.typ.as_deref()) {
                    return Err(ErrorKind::InvalidType.into());
                }
                let registered = RegisteredClaims::parse(payload, &v.audiences)?;
                validate(v, &registered)?;
                let claims: C =
                    serde_json::from_slice(payload).map_err(|_| ErrorKind::InvalidClaims)?;
                let scope_error = (!v.scopes.is_empty()
                    && !grants_all(registered.scope.as_deref().unwrap_or(""), &v.scopes))
                .then(|| AuthError::insufficient_scope(v.scopes.join(" ").into()));
                let pending = match revocation {
                    None => None,
                    Some(hook) => {
                        let info = TokenInfo {
                            issuer: registered.iss.as_deref(),
                            subject: registered.sub.as_deref(),
                            jwt_id: registered.jti.as_deref(),
                            expires_at: registered.exp,
                            issued_at: registered.iat,
                        };
                        match hook.check(&info) {
                            RevocationCheck::Ready(answer) => {
                                revocation_outcome(answer)?;
                                None
                            }
                            RevocationCheck::Pending(fut) => Some(fut),
                        }
                    }
                };
                Ok(Checked {
                    claims,
                    scope_error,
                    pending,
                })
            })
        })
    }
}

/// Turns the hook's answer into a rejection, if any.
pub(crate) fn revocation_outcome(answer: Result<bool, BoxError>) -> Result<(), AuthError> {
    match answer {
        Ok(false) => Ok(()),
        Ok(true) => Err(ErrorKind::Revoked.into()),
        Err(err) => {
            tracing::warn!(error = %err, "revocation check failed; refusing the request");
            Err(ErrorKind::RevocationUnavailable.into())
        }
    }
}

fn validate(v: &Validation, claims: &RegisteredClaims<'_>) -> Result<(), ErrorKind> {
    let now = v.now();
    match claims.exp {
        Some(exp) if now >= exp.saturating_add(v.leeway) => return Err(ErrorKind::Expired),
        None if v.require_exp => return Err(ErrorKind::MissingClaim("exp")),
        _ => {}
    }
    if let Some(nbf) = claims.nbf
        && now.saturating_add(v.leeway) < nbf
    {
        return Err(ErrorKind::NotYetValid);
    }
    if !v.issuers.is_empty() {
        let iss = claims
            .iss
            .as_deref()
            .ok_or(ErrorKind::MissingClaim("iss"))?;
        if !v.issuers.iter().any(|ours| **ours == *iss) {
            return Err(ErrorKind::InvalidIssuer);
        }
    }
    match (v.audiences.is_empty(), claims.aud) {
        (false, AudienceMatch::Absent) => return Err(ErrorKind::MissingClaim("aud")),
        // Unmatched, or present while we configured none (RFC 7519 §4.1.3).
        (_, AudienceMatch::Unmatched) | (true, AudienceMatch::Matched) => {
            return Err(ErrorKind::InvalidAudience);
        }
        _ => {}
    }
    if v.require_sub && claims.sub.is_none() {
        return Err(ErrorKind::MissingClaim("sub"));
    }
    if v.require_jti && claims.jti.is_none() {
        return Err(ErrorKind::MissingClaim("jti"));
    }
    if v.require_iat && claims.iat.is_none() {
        return Err(ErrorKind::MissingClaim("iat"));
    }
    Ok(())
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys)
            .field("validation", &self.validation)
            .finish()
    }
}

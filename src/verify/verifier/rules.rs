//! The claims rules, in their documented order: the clock (`exp`, `nbf`), `iss`, `aud`, the
//! required claims, then the scopes and the revocation hook.

use serde::de::DeserializeOwned;

use super::{Outcome, Verifier};
use crate::verify::cache::Facts;
use crate::verify::claims::grants_all;
use crate::verify::error::{AuthError, ErrorKind};
use crate::verify::json::{self, AudienceMatch, RegisteredClaims};
use crate::verify::revocation::{BoxError, Revocation, RevocationCheck, TokenInfo};
use crate::verify::validation::Validation;

impl Verifier {
    /// Every claims rule, then the revocation hook, on a verified payload. With `keep`, also
    /// returns the facts a cache entry keeps about them.
    pub(super) fn check_claims<C: DeserializeOwned>(
        &self,
        payload: &[u8],
        revocation: Option<&dyn Revocation>,
        out: &mut Outcome<C>,
        keep: bool,
    ) -> Result<Option<Facts>, ErrorKind> {
        let v = &*self.validation;
        let mut registered = RegisteredClaims::empty();
        // The claims are written straight into `out`, and taken back if a rule refuses them.
        if json::read_claims_into::<C>(payload, &v.audiences, &mut registered, &mut out.claims) {
            if let Err(kind) = validate(v, &registered) {
                out.claims = None;
                return Err(kind);
            }
        } else {
            // The one pass failed: read again in two, which names the reason precisely and in
            // the documented order (registered claims, then the rules, then the claims type).
            registered = RegisteredClaims::parse(payload, &v.audiences)?;
            validate(v, &registered)?;
            out.claims =
                Some(serde_json::from_slice(payload).map_err(|_| ErrorKind::InvalidClaims)?);
        }
        let scope_ok =
            v.scopes.is_empty() || grants_all(registered.scope.as_deref().unwrap_or(""), &v.scopes);
        let info = TokenInfo {
            leeway: v.leeway,
            issuer: registered.iss.as_deref(),
            subject: registered.sub.as_deref(),
            jwt_id: registered.jti.as_deref(),
            session_id: registered.sid.as_deref(),
            expires_at: registered.exp,
            issued_at: registered.iat,
        };
        self.conclude(scope_ok, &info, revocation, out)?;
        Ok(keep.then(|| Facts {
            exp: info.expires_at,
            nbf: registered.nbf,
            iat: info.issued_at,
            iss: info.issuer.map(Box::from),
            sub: info.subject.map(Box::from),
            jti: info.jwt_id.map(Box::from),
            sid: info.session_id.map(Box::from),
            scope_ok,
        }))
    }

    /// How every check ends, a full one or a cache hit: the scope outcome, then the revocation
    /// hook (whose pending answer, if any, is left in `out`).
    pub(super) fn conclude<C>(
        &self,
        scope_ok: bool,
        info: &TokenInfo<'_>,
        revocation: Option<&dyn Revocation>,
        out: &mut Outcome<C>,
    ) -> Result<(), ErrorKind> {
        if !scope_ok {
            let required = self.validation.scopes.join(" ");
            out.scope_error = Some(AuthError::insufficient_scope(required.into()));
        }
        match revocation.map(|hook| hook.check(info)) {
            None => Ok(()),
            Some(RevocationCheck::Ready(answer)) => revocation_kind(answer),
            Some(RevocationCheck::Pending(fut)) => {
                out.pending = Some(fut);
                Ok(())
            }
        }
    }
}

/// Turns the hook's answer into the reason for a rejection, if any.
fn revocation_kind(answer: Result<bool, BoxError>) -> Result<(), ErrorKind> {
    match answer {
        Ok(false) => Ok(()),
        Ok(true) => Err(ErrorKind::Revoked),
        Err(err) => {
            tracing::warn!(error = %err, "revocation check failed; refusing the request");
            Err(ErrorKind::RevocationUnavailable)
        }
    }
}

/// Turns the hook's answer into a rejection, if any.
pub(crate) fn revocation_outcome(answer: Result<bool, BoxError>) -> Result<(), AuthError> {
    revocation_kind(answer).map_err(AuthError::from)
}

/// The rules that depend on the clock: `exp` (required unless configured otherwise) and `nbf`.
pub(super) fn validate_time(
    v: &Validation,
    exp: Option<i64>,
    nbf: Option<i64>,
) -> Result<(), ErrorKind> {
    let now = v.now();
    match exp {
        Some(exp) if now >= exp.saturating_add(v.leeway) => return Err(ErrorKind::Expired),
        None if v.require_exp => return Err(ErrorKind::MissingClaim("exp")),
        _ => {}
    }
    if let Some(nbf) = nbf
        && now.saturating_add(v.leeway) < nbf
    {
        return Err(ErrorKind::NotYetValid);
    }
    Ok(())
}

fn validate(v: &Validation, claims: &RegisteredClaims<'_>) -> Result<(), ErrorKind> {
    validate_time(v, claims.exp, claims.nbf)?;
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

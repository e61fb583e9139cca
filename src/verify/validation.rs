//! What a token must satisfy beyond its signature.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::verify::algorithm::AlgorithmSet;
use crate::verify::claims::scope_tokens;

/// Validation rules. The defaults are the safe ones:
///
/// | rule | default | risk of changing it |
/// |---|---|---|
/// | algorithms | those of the configured keys | none if narrowed; each key verifies only its own algorithm anyway |
/// | `exp` | required | a token without `exp` never expires |
/// | `nbf` | checked when present | — |
/// | leeway | 60 s | larger values keep expired tokens usable for longer |
/// | `iss` | not checked | set it whenever one issuer is trusted; once set, a token without `iss` is refused |
/// | `aud` | not checked, but a token *carrying* `aud` is refused | RFC 7519 §4.1.3: a token meant for an audience must not be accepted by a server that is not it |
/// | `typ` | not checked | require `at+jwt` (RFC 9068) to refuse ID tokens and other JWTs replayed as access tokens |
#[derive(Clone)]
pub struct Validation {
    pub(crate) algorithms: Option<AlgorithmSet>,
    pub(crate) issuers: Vec<Arc<str>>,
    pub(crate) audiences: Vec<Arc<str>>,
    pub(crate) leeway: i64,
    pub(crate) require_exp: bool,
    pub(crate) require_sub: bool,
    pub(crate) require_jti: bool,
    pub(crate) require_iat: bool,
    pub(crate) typ: Option<Arc<str>>,
    pub(crate) scopes: Vec<Box<str>>,
    pub(crate) clock: Option<Arc<dyn Fn() -> i64 + Send + Sync>>,
}

impl Default for Validation {
    fn default() -> Self {
        Self::new()
    }
}

impl Validation {
    /// The default rules (see the table above).
    #[must_use]
    pub fn new() -> Self {
        Self {
            algorithms: None,
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: 60,
            require_exp: true,
            require_sub: false,
            require_jti: false,
            require_iat: false,
            typ: None,
            scopes: Vec::new(),
            clock: None,
        }
    }

    /// Restricts the accepted algorithms. A token's `alg` must be in this set *and* equal the
    /// algorithm of the key its `kid` selects.
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl Into<AlgorithmSet>) -> Self {
        self.algorithms = Some(algorithms.into());
        self
    }

    /// Accepts tokens whose `iss` equals `issuer` exactly. Call again to accept several. Once
    /// set, a token without `iss` is refused.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<Arc<str>>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Accepts tokens whose `aud` is or contains `audience`. Call again to accept several. Once
    /// set, a token without `aud` is refused.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<Arc<str>>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Clock skew allowed on `exp` and `nbf` (default 60 s).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// Requires the `typ` header to be this media type, compared case-insensitively and with
    /// or without its `application/` prefix (RFC 7515 §4.1.9): `at+jwt` matches
    /// `application/AT+JWT`.
    #[must_use]
    pub fn require_type(mut self, typ: impl Into<Arc<str>>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Whether a token without `exp` is refused (default `true`).
    ///
    /// Turning it off accepts tokens that never expire: only do so for tokens whose lifetime
    /// is bounded some other way.
    #[must_use]
    pub fn require_exp(mut self, required: bool) -> Self {
        self.require_exp = required;
        self
    }

    /// Refuses tokens without `sub`.
    #[must_use]
    pub fn require_sub(mut self) -> Self {
        self.require_sub = true;
        self
    }

    /// Refuses tokens without `jti` (useful with a revocation hook keyed on it).
    #[must_use]
    pub fn require_jti(mut self) -> Self {
        self.require_jti = true;
        self
    }

    /// Refuses tokens without `iat`.
    #[must_use]
    pub fn require_iat(mut self) -> Self {
        self.require_iat = true;
        self
    }

    /// Requires every one of `scopes` (checked in the token's space-separated `scope` claim);
    /// a valid token lacking one gets 403 `insufficient_scope`.
    ///
    /// ```
    /// use tower_jwt_auth::Validation;
    ///
    /// let rules = Validation::new().require_scopes(["read", "write"]);
    /// ```
    ///
    /// # Panics
    ///
    /// When a scope is empty or is not one RFC 6749 `scope-token` (`"read write"` holds a
    /// space: name the two scopes as two items).
    #[must_use]
    pub fn require_scopes<S: AsRef<str>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes.extend(scope_tokens(scopes));
        self
    }

    /// Replaces the clock (seconds since the Unix epoch), for tests and replays of old tokens.
    ///
    /// The default reads the system's wall clock cheaply: the kernel's coarse monotonic clock
    /// plus its offset to the wall clock, taken again every second, so it is within a few
    /// milliseconds of the wall clock and follows a step of it within a second.
    #[must_use]
    pub fn clock(mut self, now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(now));
        self
    }

    pub(crate) fn now(&self) -> i64 {
        match &self.clock {
            Some(clock) => clock(),
            None => crate::verify::clock::unix_now(),
        }
    }

    pub(crate) fn type_matches(&self, typ: Option<&str>) -> bool {
        let Some(want) = self.typ.as_deref() else {
            return true;
        };
        let Some(typ) = typ else {
            return false;
        };
        fn bare(media_type: &str) -> &str {
            match media_type.get(..12) {
                Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &media_type[12..],
                _ => media_type,
            }
        }
        bare(typ).eq_ignore_ascii_case(bare(want))
    }
}

impl fmt::Debug for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validation")
            .field("algorithms", &self.algorithms)
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("leeway", &self.leeway)
            .field("require_exp", &self.require_exp)
            .field("typ", &self.typ)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_compare_case_insensitively_with_or_without_prefix() {
        let v = Validation::new().require_type("at+jwt");
        assert!(v.type_matches(Some("at+jwt")));
        assert!(v.type_matches(Some("AT+JWT")));
        assert!(v.type_matches(Some("application/at+jwt")));
        assert!(!v.type_matches(Some("JWT")));
        assert!(!v.type_matches(None));
        assert!(Validation::new().type_matches(None));
    }
}

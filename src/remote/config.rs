//! [`IssuerConfig`]: one issuer, where its keys come from, the rules its tokens must meet, and
//! the limits of fetching; [`RemoteConfigError`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;

use crate::verify::algorithm::{Algorithm, AlgorithmSet, KeyFamily};
use crate::verify::validation::Validation;

/// Default period of the background refresh: 5 minutes (less up to 10 % of jitter).
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// The least refresh period a `Cache-Control: max-age` may set: 1 minute.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// The greatest refresh period a `Cache-Control: max-age` may set: 1 hour.
pub const MAX_REFRESH_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// Default time the last good keys are served past their expiry while the issuer is down: 24 h.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(24 * 60 * 60);
/// Default total deadline of one HTTP exchange (and of a request's wait for keys): 5 s.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Default unknown-`kid` refetch budget: 2 fetches …
pub const DEFAULT_UNKNOWN_KID_FETCHES: u32 = 2;
/// … per 30 s.
pub const DEFAULT_UNKNOWN_KID_WINDOW: Duration = Duration::from_secs(30);
/// Cap on a JWKS response body: 256 KiB.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Cap on a discovery document: 64 KiB.
pub const MAX_DISCOVERY_BYTES: usize = 64 * 1024;
/// Cap on the keys of a JWKS: a larger set is refused whole.
pub const MAX_KEYS: usize = 100;

/// Where an issuer's keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeysFrom {
    /// Discovery from the issuer's URL: OpenID Connect, then the RFC 8414 forms.
    Discovery,
    /// This JWKS URL.
    Jwks(Arc<str>),
}

/// One trusted issuer: its exact `iss`, where its keys come from, the rules its tokens must
/// meet and the limits of fetching them. Every default is named by a constant of this module.
#[derive(Clone)]
#[must_use]
pub struct IssuerConfig {
    pub(crate) issuer: Arc<str>,
    pub(crate) from: KeysFrom,
    pub(crate) validation: Validation,
    pub(crate) rsa_algorithm: Algorithm,
    pub(crate) refresh_interval: Duration,
    pub(crate) max_stale: Duration,
    pub(crate) fetch_timeout: Duration,
    pub(crate) unknown_kid_fetches: u32,
    pub(crate) unknown_kid_window: Duration,
    /// `None`: the verifier's default.
    pub(crate) cache_capacity: Option<usize>,
}

impl IssuerConfig {
    /// An issuer whose keys are found by discovery: `{issuer}/.well-known/openid-configuration`,
    /// then the RFC 8414 forms (`/.well-known/openid-configuration{path}`,
    /// `/.well-known/oauth-authorization-server{path}`), each tried only when the one before
    /// answered 404 or 410. The document's `issuer` must equal `issuer` byte for byte, and its
    /// `jwks_uri` must be https (http only on a loopback host).
    ///
    /// # Errors
    ///
    /// [`RemoteConfigError::InvalidUrl`] when `issuer` is not an absolute URL without query or
    /// fragment; [`RemoteConfigError::InsecureUrl`] when it is http on a host other than
    /// `localhost`, `127.0.0.0/8` or `::1`.
    pub fn discovery(issuer: impl Into<Arc<str>>) -> Result<Self, RemoteConfigError> {
        let issuer = issuer.into();
        check_url(&issuer)?;
        Ok(Self::with(issuer, KeysFrom::Discovery))
    }

    /// An issuer whose tokens carry `iss` equal to `issuer`, with keys at `jwks_url`.
    ///
    /// # Errors
    ///
    /// As [`IssuerConfig::discovery`], for `jwks_url`.
    pub fn jwks(
        issuer: impl Into<Arc<str>>,
        jwks_url: impl Into<Arc<str>>,
    ) -> Result<Self, RemoteConfigError> {
        let url = jwks_url.into();
        check_url(&url)?;
        Ok(Self::with(issuer.into(), KeysFrom::Jwks(url)))
    }

    fn with(issuer: Arc<str>, from: KeysFrom) -> Self {
        Self {
            validation: Validation::new().issuer(Arc::clone(&issuer)),
            issuer,
            from,
            rsa_algorithm: Algorithm::RS256,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            max_stale: DEFAULT_MAX_STALE,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            unknown_kid_fetches: DEFAULT_UNKNOWN_KID_FETCHES,
            unknown_kid_window: DEFAULT_UNKNOWN_KID_WINDOW,
            cache_capacity: None,
        }
    }

    /// The exact `iss` this entry trusts.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Replaces the rules tokens of this issuer must meet; its `iss` stays required (any
    /// issuer the validation names is replaced by this entry's).
    pub fn validation(mut self, validation: Validation) -> Self {
        self.validation = validation;
        self.validation.issuers = vec![Arc::clone(&self.issuer)];
        self
    }

    /// See [`Validation::audience`].
    pub fn audience(mut self, audience: impl Into<Arc<str>>) -> Self {
        self.validation = std::mem::take(&mut self.validation).audience(audience);
        self
    }

    /// See [`Validation::require_type`] (RFC 9068 access tokens: `at+jwt`).
    pub fn require_type(mut self, typ: impl Into<Arc<str>>) -> Self {
        self.validation = std::mem::take(&mut self.validation).require_type(typ);
        self
    }

    /// See [`Validation::algorithms`]: keys of other algorithms are skipped when a set is
    /// fetched.
    pub fn algorithms(mut self, algorithms: impl Into<AlgorithmSet>) -> Self {
        self.validation = std::mem::take(&mut self.validation).algorithms(algorithms);
        self
    }

    /// The algorithm of RSA keys published without `alg` (Entra ID and Cognito publish them
    /// so); default `RS256`. One key, one algorithm: such a key verifies only this one.
    ///
    /// # Errors
    ///
    /// [`RemoteConfigError::NotRsa`] when `alg` is not an RSA algorithm.
    pub fn rsa_algorithm_for_keys_without_alg(
        mut self,
        alg: Algorithm,
    ) -> Result<Self, RemoteConfigError> {
        if alg.family() != KeyFamily::Rsa {
            return Err(RemoteConfigError::NotRsa(alg));
        }
        self.rsa_algorithm = alg;
        Ok(self)
    }

    /// Period of the background refresh when the response names no `max-age` (default
    /// [`DEFAULT_REFRESH_INTERVAL`]), clamped to [`MIN_REFRESH_INTERVAL`] ..
    /// [`MAX_REFRESH_INTERVAL`]. Shorter costs the identity provider more requests; longer
    /// delays noticing a removed key.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval.clamp(MIN_REFRESH_INTERVAL, MAX_REFRESH_INTERVAL);
        self
    }

    /// How long the last good keys are served past their expiry while the issuer cannot be
    /// reached (default [`DEFAULT_MAX_STALE`]); past it, requests get 503. Longer keeps a
    /// service up through a long outage, at the risk of trusting a key the issuer withdrew.
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// Total deadline of one HTTP exchange, and the longest a request waits for the first
    /// keys (default [`DEFAULT_FETCH_TIMEOUT`]).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// At most `fetches` refetches per `window` for tokens naming an unknown `kid` (default
    /// 2 per 30 s). Past the budget such a token gets 401 at once: a request never waits for
    /// the budget, and a flood of random `kid`s costs the issuer at most this.
    pub fn unknown_kid_budget(mut self, fetches: u32, window: Duration) -> Self {
        self.unknown_kid_fetches = fetches;
        self.unknown_kid_window = window;
        self
    }

    /// See [`Verifier::cache_verified_tokens`](crate::Verifier::cache_verified_tokens) (on by
    /// default, 4096 tokens within 6 MiB; `0` turns it off); a refresh that brings the same
    /// keys keeps the cache.
    pub fn cache_verified_tokens(mut self, capacity: usize) -> Self {
        self.cache_capacity = Some(capacity);
        self
    }
}

impl fmt::Debug for IssuerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerConfig")
            .field("issuer", &self.issuer)
            .field("from", &self.from)
            .field("validation", &self.validation)
            .field("rsa_algorithm", &self.rsa_algorithm)
            .field("refresh_interval", &self.refresh_interval)
            .field("max_stale", &self.max_stale)
            .field("fetch_timeout", &self.fetch_timeout)
            .field("unknown_kid_fetches", &self.unknown_kid_fetches)
            .field("unknown_kid_window", &self.unknown_kid_window)
            .field("cache_capacity", &self.cache_capacity)
            .finish()
    }
}

/// A remote key configuration that is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteConfigError {
    /// Not an absolute http(s) URL without query or fragment.
    InvalidUrl(String),
    /// An http URL whose host is not loopback: keys must come over https.
    InsecureUrl(String),
    /// The algorithm for RSA keys without `alg` is not an RSA algorithm.
    NotRsa(Algorithm),
    /// Two entries for one issuer.
    DuplicateIssuer(String),
    /// No issuer configured.
    NoIssuers,
    /// Built outside a tokio runtime: the background refresh needs one.
    NoRuntime,
    /// The default client's TLS configuration was refused (feature `remote-client`).
    Tls(String),
}

impl fmt::Display for RemoteConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl(url) => write!(f, "{url:?} is not an absolute http(s) URL"),
            Self::InsecureUrl(url) => write!(
                f,
                "{url:?} is http on a host that is not loopback: keys must come over https"
            ),
            Self::NotRsa(alg) => write!(f, "{alg} is not an RSA algorithm"),
            Self::DuplicateIssuer(iss) => write!(f, "the issuer {iss:?} is configured twice"),
            Self::NoIssuers => f.write_str("no issuer is configured"),
            Self::NoRuntime => f.write_str("remote keys must be built inside a tokio runtime"),
            Self::Tls(why) => write!(f, "TLS configuration refused: {why}"),
        }
    }
}

impl std::error::Error for RemoteConfigError {}

/// Whether `host` is loopback: `localhost`, `127.0.0.0/8` or `::1`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `url`, parsed, if it is https, or http on a loopback host.
pub(crate) fn check_url(url: &str) -> Result<Uri, RemoteConfigError> {
    let invalid = || RemoteConfigError::InvalidUrl(url.to_owned());
    let uri: Uri = url.parse().map_err(|_| invalid())?;
    let host = uri.host().ok_or_else(invalid)?;
    if uri.query().is_some() || url.contains('#') || url.contains('@') {
        return Err(invalid());
    }
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if is_loopback(host) => Ok(uri),
        Some("http") => Err(RemoteConfigError::InsecureUrl(url.to_owned())),
        _ => Err(invalid()),
    }
}

/// The discovery URLs of `issuer`, in the order they are tried.
pub(crate) fn discovery_urls(issuer: &str) -> Vec<String> {
    let trimmed = issuer.trim_end_matches('/');
    let after_scheme = trimmed.find("://").map_or(0, |at| at + 3);
    let (origin, path) = match trimmed[after_scheme..].find('/') {
        Some(at) => trimmed.split_at(after_scheme + at),
        None => (trimmed, ""),
    };
    let mut urls = vec![format!("{trimmed}/.well-known/openid-configuration")];
    for well_known in ["openid-configuration", "oauth-authorization-server"] {
        let url = format!("{origin}/.well-known/{well_known}{path}");
        if !urls.contains(&url) {
            urls.push(url);
        }
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_over_https_or_from_loopback() {
        for ok in [
            "https://idp.example.com",
            "https://idp.example.com/realms/x",
            "http://localhost:8080",
            "http://127.0.0.1:3000/auth",
            "http://127.8.9.1",
            "http://[::1]:9000",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for insecure in [
            "http://idp.example.com",
            "http://10.0.0.1",
            "http://localhost.example.com",
        ] {
            assert_eq!(
                check_url(insecure),
                Err(RemoteConfigError::InsecureUrl(insecure.into()))
            );
        }
        for invalid in [
            "idp.example.com",
            "ftp://idp.example.com",
            "https://idp.example.com/?a=b",
            "https://user@idp.example.com",
            "https://idp.example.com/#x",
        ] {
            assert!(
                matches!(check_url(invalid), Err(RemoteConfigError::InvalidUrl(_))),
                "{invalid}"
            );
        }
    }

    #[test]
    fn discovery_tries_oidc_then_the_rfc_8414_forms() {
        assert_eq!(
            discovery_urls("https://idp.example.com"),
            [
                "https://idp.example.com/.well-known/openid-configuration",
                "https://idp.example.com/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            discovery_urls("https://idp.example.com/tenant/"),
            [
                "https://idp.example.com/tenant/.well-known/openid-configuration",
                "https://idp.example.com/.well-known/openid-configuration/tenant",
                "https://idp.example.com/.well-known/oauth-authorization-server/tenant",
            ]
        );
    }
}

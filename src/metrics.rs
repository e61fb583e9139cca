//! Counters and a histogram of every decision, through the [`metrics` facade](https://docs.rs/metrics)
//! (feature `metrics`).
//!
//! The crate records; the application chooses the exporter (Prometheus, StatsD, OpenTelemetry…)
//! by installing a `metrics` recorder, and calls [`describe`] once after that so the exporter
//! can print each metric's help text. Without a recorder, recording does nothing. Without the
//! feature, the code that records is not compiled at all.
//!
//! The names and labels below are stable: a change is a breaking change of this crate. Labels
//! take only the fixed values listed here: never a username, a subject, a token, a path or an
//! issuer, so each metric has a small, bounded number of series.
//!
//! | name | type | labels | what it counts |
//! |---|---|---|---|
//! | `tower_jwt_auth_requests_total` | counter | `outcome`, `reason` | each decision of [`JwtAuthLayer`](crate::JwtAuthLayer) |
//! | `tower_jwt_auth_verify_seconds` | histogram | none | seconds from the layer receiving a request with a token to its decision |
//! | `tower_jwt_auth_cache_total` | counter | `result` | verified-token cache lookups of the layer |
//! | `tower_jwt_auth_revocation_errors_total` | counter | none | requests refused because the revocation hook failed |
//! | `tower_jwt_auth_scope_rejections_total` | counter | `reason` | refusals of [`RequireScopeLayer`](crate::RequireScopeLayer) |
//! | `tower_jwt_auth_login_total` | counter | `grant`, `outcome`, `transport` | each answer of the login endpoint (feature `login`) |
//! | `tower_jwt_auth_token_revocations_total` | counter | `outcome` | each answer of the RFC 7009 revocation endpoint (feature `login`) |
//!
//! The label values:
//!
//! - `tower_jwt_auth_requests_total`: `outcome` is `accepted` (the request went on with its
//!   claims), `rejected`, or `anonymous` (no credential, and the layer is
//!   [`optional`](crate::JwtAuthLayer::optional)). `reason` is `none` unless `rejected`; then it
//!   is the [`ErrorKind`] of the refusal, as [`ErrorKind::as_str`] names it:
//!   `missing_credential`, `unsupported_scheme`, `malformed_credential`, `multiple_credentials`,
//!   `cross_site_request`, `token_too_large`, `malformed_token`, `duplicate_member`,
//!   `disallowed_algorithm`, `unknown_key`, `invalid_signature`, `unsupported_critical_header`,
//!   `invalid_type`, `expired`, `not_yet_valid`, `missing_claim`, `invalid_claim_type`,
//!   `invalid_issuer`, `invalid_audience`, `invalid_claims`, `revoked`,
//!   `revocation_unavailable`, `insufficient_scope`, `unlisted_path`, `keys_unavailable`.
//! - `tower_jwt_auth_verify_seconds`: recorded for every decision on a request that carried a
//!   token, the waits for the revocation hook or for fetched keys included; not for requests
//!   refused before a token was read (no credential, a malformed one) nor for anonymous ones.
//! - `tower_jwt_auth_cache_total`: `result` is `hit` (the token was answered from a verdict
//!   the cache kept) or `miss` (its signature was checked); counted only when the cache is on
//!   (by default for public keys; for shared secrets after
//!   [`JwtAuthLayer::cache_verified_tokens`](crate::JwtAuthLayer::cache_verified_tokens), or
//!   the same setting of fetched keys) and the token reached the verifier. A request that
//!   waited for fetched keys is not counted.
//! - `tower_jwt_auth_revocation_errors_total`: the same requests as
//!   `tower_jwt_auth_requests_total{reason="revocation_unavailable"}`, as a metric of its own to
//!   alert on: the revocation backend is failing and requests are refused.
//! - `tower_jwt_auth_scope_rejections_total`: `reason` is `insufficient_scope` or
//!   `unlisted_path`. The requests it refuses were counted as `accepted` by the
//!   `JwtAuthLayer` in front of it.
//! - `tower_jwt_auth_login_total`: `grant` is `password`, `refresh_token` or `unknown` (the
//!   request was refused before its grant was read); `transport` is `http`
//!   (`login::login_handler`) or `grpc` (the `tonic` feature's
//!   `AuthServer`); `outcome` is `success`, `failure` (unknown user, wrong password, disabled
//!   account, or an invalid, expired, revoked or reused refresh token: one answer, on purpose),
//!   `invalid_request`, `invalid_scope`, `throttled` (HTTP 429 `slow_down`, gRPC
//!   `RESOURCE_EXHAUSTED`), `busy` (the password-hashing pool is saturated: HTTP 503) or
//!   `unavailable` (a store or the issuer failed: HTTP 503).
//! - `tower_jwt_auth_token_revocations_total`: `outcome` is `refresh_token` (a refresh token
//!   was revoked, or was unknown: RFC 7009 answers both alike), `access_token` (an access token
//!   of ours was put on the denylist), `ignored` (a token that is not ours, no longer valid, or
//!   without `jti`: nothing to revoke), `invalid_request` or `unavailable`.
//!
//! # Cost
//!
//! With the feature on, a decision costs a few look-ups of statically built keys in the
//! installed recorder and, for a request that carried a token, two reads of the monotonic
//! clock; the crate allocates nothing for it. Measured with `metrics-exporter-prometheus`'s
//! recorder: about 0.24 µs per request through the layer (1.17× an HS256 verification, 1.5× a
//! cache hit), most of it in the recorder; with the feature off, nothing. `BENCHMARKS.md`
//! ("Metrics cost") has the figures and the command.
//!
//! # Example
//!
//! With [`metrics-exporter-prometheus`](https://docs.rs/metrics-exporter-prometheus), served
//! by the application's own router (the example server's `GET /metrics` does this):
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use metrics_exporter_prometheus::PrometheusBuilder;
//! use tower::{Layer, Service};
//! use tower_jwt_auth::{Algorithm, DecodingKey, JwtAuthLayer};
//!
//! let handle = PrometheusBuilder::new().install_recorder()?;
//! tower_jwt_auth::metrics::describe();
//!
//! let key = DecodingKey::from_secret(Algorithm::HS256, b"a secret of at least 32 bytes!!!")?;
//! let mut service = JwtAuthLayer::new(key).layer(tower::service_fn(|_: http::Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(()))
//! }));
//! // A request without a credential: refused, and counted when it is refused.
//! let _response = service.call(http::Request::new(()));
//!
//! let text = handle.render(); // what `GET /metrics` answers
//! assert!(text.contains("# HELP tower_jwt_auth_requests_total "));
//! assert!(text.contains(
//!     r#"tower_jwt_auth_requests_total{outcome="rejected",reason="missing_credential"} 1"#
//! ));
//! # Ok(()) }
//! ```

use ::metrics::{Key, Label, Level, Metadata, Unit};

use crate::verify::error::ErrorKind;

/// Counter: each decision of [`JwtAuthLayer`](crate::JwtAuthLayer); labels `outcome`, `reason`.
pub const REQUESTS_TOTAL: &str = "tower_jwt_auth_requests_total";
/// Histogram, seconds: from a request with a token reaching the layer to its decision.
pub const VERIFY_SECONDS: &str = "tower_jwt_auth_verify_seconds";
/// Counter: verified-token cache lookups of the layer; label `result`.
pub const CACHE_TOTAL: &str = "tower_jwt_auth_cache_total";
/// Counter: requests refused because the revocation hook failed.
pub const REVOCATION_ERRORS_TOTAL: &str = "tower_jwt_auth_revocation_errors_total";
/// Counter: refusals of [`RequireScopeLayer`](crate::RequireScopeLayer); label `reason`.
pub const SCOPE_REJECTIONS_TOTAL: &str = "tower_jwt_auth_scope_rejections_total";
/// Counter: answers of the login endpoint; labels `grant`, `outcome`, `transport`.
pub const LOGIN_TOTAL: &str = "tower_jwt_auth_login_total";
/// Counter: answers of the RFC 7009 revocation endpoint; label `outcome`.
pub const TOKEN_REVOCATIONS_TOTAL: &str = "tower_jwt_auth_token_revocations_total";

/// Describes every metric of this crate (help text and unit) to the installed recorder.
///
/// Call it once, after installing the recorder: exporters print the descriptions (Prometheus's
/// `# HELP` lines). Recording works without it.
pub fn describe() {
    use ::metrics::{describe_counter, describe_histogram};
    describe_counter!(
        REQUESTS_TOTAL,
        "Decisions of the JWT authentication layer, by outcome and reason"
    );
    describe_histogram!(
        VERIFY_SECONDS,
        Unit::Seconds,
        "Time from a request with a token reaching the JWT layer to its decision"
    );
    describe_counter!(
        CACHE_TOTAL,
        "Verified-token cache lookups of the JWT layer, by result"
    );
    describe_counter!(
        REVOCATION_ERRORS_TOTAL,
        "Requests refused because the token revocation check failed"
    );
    describe_counter!(
        SCOPE_REJECTIONS_TOTAL,
        "Requests refused by the per-method scope rules, by reason"
    );
    describe_counter!(
        LOGIN_TOTAL,
        "Answers of the login endpoint, by grant, outcome and transport"
    );
    describe_counter!(
        TOKEN_REVOCATIONS_TOTAL,
        "Answers of the token revocation endpoint (RFC 7009), by outcome"
    );
}

/// Where the crate's metrics come from, for recorders that filter on it.
static METADATA: Metadata<'static> =
    Metadata::new("tower_jwt_auth", Level::INFO, Some(module_path!()));

/// A `&'static Key` built at compile time: recording then neither allocates nor hashes.
macro_rules! key {
    ($name:expr $(, $label:literal => $value:expr)* $(,)?) => {{
        static LABELS: [Label; 0 $(+ { let _ = $label; 1 })*] =
            [$(Label::from_static_parts($label, $value)),*];
        static KEY: Key = Key::from_static_parts($name, &LABELS);
        &KEY
    }};
}

fn increment(key: &'static Key) {
    ::metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(1));
}

/// Builds `fn $fn(kind) -> &'static Key`, a static key for every kind (the unit test below
/// checks each reason is the kind's [`ErrorKind::as_str`]).
macro_rules! reasons {
    ($fn:ident($name:expr, "outcome" => $outcome:literal) {
        $($kind:pat => $reason:literal,)*
    }) => {
        fn $fn(kind: ErrorKind) -> &'static Key {
            match kind {
                $($kind => key!($name, "outcome" => $outcome, "reason" => $reason),)*
                // `ErrorKind` is non-exhaustive only for other crates: a kind added here fails
                // the build until it has a reason.
            }
        }
    };
}

reasons!(rejected_key(REQUESTS_TOTAL, "outcome" => "rejected") {
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
});

/// A request the layer let through with its claims.
pub(crate) fn accepted() {
    increment(key!(REQUESTS_TOTAL, "outcome" => "accepted", "reason" => "none"));
}

/// A request without credential that an optional layer let through.
pub(crate) fn anonymous() {
    increment(key!(REQUESTS_TOTAL, "outcome" => "anonymous", "reason" => "none"));
}

/// A request the layer refused, for `kind`.
pub(crate) fn rejected(kind: ErrorKind) {
    increment(rejected_key(kind));
    if kind == ErrorKind::RevocationUnavailable {
        increment(key!(REVOCATION_ERRORS_TOTAL));
    }
}

/// A request `RequireScopeLayer` refused, for `kind`.
pub(crate) fn scope_rejected(kind: ErrorKind) {
    let key = match kind {
        ErrorKind::UnlistedPath => key!(SCOPE_REJECTIONS_TOTAL, "reason" => "unlisted_path"),
        _ => key!(SCOPE_REJECTIONS_TOTAL, "reason" => "insufficient_scope"),
    };
    increment(key);
}

/// A lookup of the verified-token cache.
pub(crate) fn cache(hit: bool) {
    increment(if hit {
        key!(CACHE_TOTAL, "result" => "hit")
    } else {
        key!(CACHE_TOTAL, "result" => "miss")
    });
}

/// The time from a request reaching the layer to its decision.
pub(crate) fn verify_time(elapsed: std::time::Duration) {
    ::metrics::with_recorder(|recorder| {
        recorder
            .register_histogram(key!(VERIFY_SECONDS), &METADATA)
            .record(elapsed.as_secs_f64());
    });
}

/// Which face of the login service answered.
#[cfg(feature = "login")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    Http,
    #[cfg_attr(not(feature = "tonic"), allow(dead_code))]
    Grpc,
}

/// Which grant a login request asked for.
#[cfg(feature = "login")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grant {
    Password,
    RefreshToken,
    /// Refused before its grant was read.
    Unknown,
}

/// How a login request ended.
#[cfg(feature = "login")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LoginOutcome {
    Success,
    Failure,
    InvalidRequest,
    InvalidScope,
    Throttled,
    Busy,
    Unavailable,
}

/// An answer of the login endpoint.
#[cfg(feature = "login")]
pub(crate) fn login(grant: Grant, transport: Transport, outcome: LoginOutcome) {
    macro_rules! by_outcome {
        ($grant:literal, $transport:literal) => {
            match outcome {
                LoginOutcome::Success => key!(LOGIN_TOTAL, "grant" => $grant, "outcome" => "success", "transport" => $transport),
                LoginOutcome::Failure => key!(LOGIN_TOTAL, "grant" => $grant, "outcome" => "failure", "transport" => $transport),
                LoginOutcome::InvalidRequest => key!(LOGIN_TOTAL, "grant" => $grant, "outcome" => "invalid_request", "transport" => $transport),
                LoginOutcome::InvalidScope => key!(LOGIN_TOTAL, "grant" => $grant, "outcome" => "invalid_scope", "transport" => $transport),
                LoginOutcome::Throttled => key!(LOGIN_TOTAL, "grant" => $grant, "outcome" => "throttled", "transport" => $transport),
                LoginOutcome::Busy => key!(LOGIN_TOTAL, "grant" => $grant, "outcome" => "busy", "transport" => $transport),
                LoginOutcome::Unavailable => key!(LOGIN_TOTAL, "grant" => $grant, "outcome" => "unavailable", "transport" => $transport),
            }
        };
    }
    let key = match (grant, transport) {
        (Grant::Password, Transport::Http) => by_outcome!("password", "http"),
        (Grant::RefreshToken, Transport::Http) => by_outcome!("refresh_token", "http"),
        (Grant::Unknown, Transport::Http) => by_outcome!("unknown", "http"),
        (Grant::Password, Transport::Grpc) => by_outcome!("password", "grpc"),
        (Grant::RefreshToken, Transport::Grpc) => by_outcome!("refresh_token", "grpc"),
        (Grant::Unknown, Transport::Grpc) => by_outcome!("unknown", "grpc"),
    };
    increment(key);
}

/// How a request to the revocation endpoint ended.
#[cfg(feature = "login")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RevocationOutcome {
    RefreshToken,
    AccessToken,
    Ignored,
    InvalidRequest,
    Unavailable,
}

/// An answer of the RFC 7009 revocation endpoint.
#[cfg(feature = "login")]
pub(crate) fn token_revocation(outcome: RevocationOutcome) {
    increment(match outcome {
        RevocationOutcome::RefreshToken => {
            key!(TOKEN_REVOCATIONS_TOTAL, "outcome" => "refresh_token")
        }
        RevocationOutcome::AccessToken => {
            key!(TOKEN_REVOCATIONS_TOTAL, "outcome" => "access_token")
        }
        RevocationOutcome::Ignored => key!(TOKEN_REVOCATIONS_TOTAL, "outcome" => "ignored"),
        RevocationOutcome::InvalidRequest => {
            key!(TOKEN_REVOCATIONS_TOTAL, "outcome" => "invalid_request")
        }
        RevocationOutcome::Unavailable => key!(TOKEN_REVOCATIONS_TOTAL, "outcome" => "unavailable"),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rejection_reason_is_the_kinds_stable_name() {
        let kinds = [
            ErrorKind::MissingCredential,
            ErrorKind::UnsupportedScheme,
            ErrorKind::MalformedCredential,
            ErrorKind::MultipleCredentials,
            ErrorKind::CrossSiteRequest,
            ErrorKind::TokenTooLarge,
            ErrorKind::MalformedToken,
            ErrorKind::DuplicateMember,
            ErrorKind::DisallowedAlgorithm,
            ErrorKind::UnknownKey,
            ErrorKind::InvalidSignature,
            ErrorKind::UnsupportedCriticalHeader,
            ErrorKind::InvalidType,
            ErrorKind::Expired,
            ErrorKind::NotYetValid,
            ErrorKind::MissingClaim("exp"),
            ErrorKind::InvalidClaimType("iss"),
            ErrorKind::InvalidIssuer,
            ErrorKind::InvalidAudience,
            ErrorKind::InvalidClaims,
            ErrorKind::Revoked,
            ErrorKind::RevocationUnavailable,
            ErrorKind::InsufficientScope,
            ErrorKind::UnlistedPath,
            ErrorKind::KeysUnavailable,
        ];
        for kind in kinds {
            let key = rejected_key(kind);
            assert_eq!(key.name(), REQUESTS_TOTAL);
            let labels: Vec<_> = key.labels().map(|l| (l.key(), l.value())).collect();
            assert_eq!(
                labels,
                [("outcome", "rejected"), ("reason", kind.as_str())],
                "{kind:?}"
            );
        }
    }
}

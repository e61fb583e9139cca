//! What the layer decided about a request, told to `tracing` and, with the `metrics` feature,
//! to the `metrics` recorder.
//!
//! Each request gets one DEBUG span, `decision` with the target `tower_jwt_auth::decision`,
//! from the layer receiving it to its decision (the waits for the revocation hook or fetched
//! keys included, the inner service not), with the fields:
//!
//! - `outcome`: `accepted`, `rejected` or `anonymous` (no credential, optional layer);
//! - `reason`: for a rejection, [`ErrorKind::as_str`](crate::ErrorKind::as_str) of its kind;
//! - `cache`: `hit` or `miss` when the verified-token cache was asked.
//!
//! DEBUG, like tower-http's `TraceLayer` spans: a service at INFO pays one comparison per request
//! for it and logs nothing per request, while `RUST_LOG=tower_jwt_auth::decision=debug` shows
//! every decision. What a service at INFO or WARN must see is logged at WARN where it happens:
//! the revocation hook failing, fetched keys unavailable. The span is for `tracing` subscribers:
//! with none taking DEBUG it is not made at all, so `tracing`'s `log` fallback never sees it.
//! Nothing of the token is ever recorded: a bad token is described by its kind only.

use tracing::field::Empty;
use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
use tracing::span::Entered;
use tracing::{Level, Span};

use crate::verify::error::AuthError;
use crate::verify::verifier::Checked;

/// One request's decision: its span, and when it started (for the `metrics` histogram).
#[derive(Clone)]
pub(crate) struct Decision {
    /// `None` while no subscriber takes DEBUG: not even `Span::none()`, whose entering, leaving
    /// and dropping each ask `log`'s level again when `tracing`'s `log` feature is on.
    span: Option<Span>,
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

impl Decision {
    /// Opens the decision of a request that just reached the layer.
    ///
    /// No span at all while no subscriber takes DEBUG: a disabled span still costs its
    /// entering, leaving and each recorded field when `tracing`'s `log` feature is on, as axum's
    /// default `tower-log` feature turns it on (about 450 instructions a request, BENCHMARKS.md,
    /// "The cached path under callgrind"), and even `Span::none()` asks `log`'s level again at
    /// each of those. So the span goes to `tracing` subscribers only, never through that
    /// feature to the `log` crate.
    #[inline]
    pub(crate) fn start() -> Self {
        // The check `tracing::span!` itself starts with: the static and the current maximum
        // level of every subscriber.
        let debug = Level::DEBUG <= STATIC_MAX_LEVEL && Level::DEBUG <= LevelFilter::current();
        Self {
            span: debug.then(|| {
                tracing::debug_span!(
                    target: "tower_jwt_auth::decision",
                    "decision",
                    outcome = Empty,
                    reason = Empty,
                    cache = Empty,
                )
            }),
            #[cfg(feature = "metrics")]
            started: std::time::Instant::now(),
        }
    }

    /// Enters the span the decision is made in, if there is one.
    #[inline]
    pub(crate) fn enter(&self) -> Option<Entered<'_>> {
        self.span.as_ref().map(Span::enter)
    }

    /// Records `value` in the span's `field`, if there is a span.
    #[inline]
    fn record(&self, field: &str, value: &str) {
        if let Some(span) = &self.span {
            span.record(field, value);
        }
    }

    /// The verified-token cache knew the token (`hit`) or not.
    pub(crate) fn cache(&self, hit: bool) {
        self.record("cache", if hit { "hit" } else { "miss" });
        #[cfg(feature = "metrics")]
        crate::metrics::cache(hit);
    }

    /// Whether the cache knew the token a full check went through; a refusal counts as a miss
    /// (the cache keeps only tokens that passed).
    pub(crate) fn note_cache<T>(&self, checked: &Result<Checked<T>, AuthError>) {
        self.cache(checked.as_ref().is_ok_and(|checked| checked.cache_hit));
    }

    /// The request goes on with its claims.
    pub(crate) fn accepted(&self) {
        self.record("outcome", "accepted");
        #[cfg(feature = "metrics")]
        {
            crate::metrics::accepted();
            crate::metrics::verify_time(self.started.elapsed());
        }
    }

    /// The request carried no credential and goes on without claims (optional layer).
    pub(crate) fn anonymous(&self) {
        self.record("outcome", "anonymous");
        #[cfg(feature = "metrics")]
        crate::metrics::anonymous();
    }

    /// The request is refused for `error`; `token_read` when a token got as far as the
    /// verifier (the histogram times only those).
    pub(crate) fn rejected(&self, error: &AuthError, token_read: bool) {
        let kind = error.kind();
        self.record("outcome", "rejected");
        self.record("reason", kind.as_str());
        #[cfg(feature = "metrics")]
        {
            crate::metrics::rejected(kind);
            if token_read {
                crate::metrics::verify_time(self.started.elapsed());
            }
        }
        #[cfg(not(feature = "metrics"))]
        let _ = token_read;
    }
}

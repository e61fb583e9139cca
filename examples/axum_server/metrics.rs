//! `GET /metrics`: the crate's counters and histogram (feature `metrics`) in the Prometheus
//! text format, rendered by `metrics-exporter-prometheus` and served by the app's own router
//! (the exporter's HTTP listener and push gateway are not built).
//!
//! Expose it only where Prometheus scrapes from (an internal network, or a second listener):
//! the counters tell how many logins fail, which is no one else's business.

use std::time::Duration;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::demo::Error;

/// Where the metrics are served.
pub const PATH: &str = "/metrics";

/// The Prometheus text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Buckets of `tower_jwt_auth_verify_seconds`: from a cache hit (about a microsecond) to a
/// request that waited for the revocation backend or for fetched keys.
const VERIFY_BUCKETS: &[f64] = &[
    0.000_002, 0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005,
    0.025, 0.1, 0.5, 2.0,
];

/// Installs the Prometheus recorder as this process's `metrics` recorder (once per process),
/// describes the crate's metrics to it, and returns the router of `GET /metrics`.
///
/// Must run within the Tokio runtime: a task drains the histograms every 5 s (the exporter's
/// own listener would do it; without it, the application does).
pub fn router() -> Result<Router, Error> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(tower_jwt_auth::metrics::VERIFY_SECONDS.into()),
            VERIFY_BUCKETS,
        )?
        .install_recorder()?;
    tower_jwt_auth::metrics::describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(routes(handle))
}

/// `GET /metrics`, rendering `handle`.
pub fn routes(handle: PrometheusHandle) -> Router {
    Router::new().route(
        PATH,
        get(move || {
            let text = handle.render();
            async move { ([(CONTENT_TYPE, TEXT_FORMAT)], text) }
        }),
    )
}

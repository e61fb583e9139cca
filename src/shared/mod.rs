//! Several instances, one truth: the access-token denylist and the login throttle shared
//! through Redis (feature `redis`).
//!
//! Behind a load balancer, an in-memory denylist lets a token revoked on instance A through on
//! instance B until it expires, and an in-memory throttle gives an attacker the free failures
//! once per instance. [`RedisDenylist`] and [`RedisThrottle`] share both.
//!
//! # Example
//!
//! Not run here: it needs a running Redis; `tests/redis.rs` runs it.
//!
//! ```no_run
//! # async fn run(
//! #     issuer: tower_jwt_auth::TokenIssuer,
//! #     store: tower_jwt_auth::store::SqlStore,
//! #     hasher: tower_jwt_auth::login::password::Argon2Hasher,
//! # ) -> Result<(), tower_jwt_auth::verify::BoxError> {
//! use std::time::Duration;
//! use tower_jwt_auth::login::{ThrottlePolicy, login_handler};
//! use tower_jwt_auth::session::Sessions;
//! use tower_jwt_auth::shared::{RedisConfig, RedisDenylist, RedisThrottle};
//!
//! let url = "redis://127.0.0.1:6379";
//! let denylist = RedisDenylist::connect(url, RedisConfig::default()).await?;
//! let sessions = Sessions::new(store.clone(), issuer.clone(), denylist.clone());
//! denylist.reseed_from(sessions.clone()).await?; // and again whenever Redis lost its data
//! denylist.ready(Duration::from_secs(5)).await;
//! let throttle = RedisThrottle::connect(url, ThrottlePolicy::default(), &RedisConfig::default()).await?;
//! let login = login_handler(store, issuer.clone(), hasher)
//!     .throttle_store(throttle)
//!     .sessions(sessions);
//! let layer = issuer.layer().revocation(denylist); // a hash lookup per request, no round trip
//! # Ok(()) }
//! ```
//!
//! ## TLS (feature `redis-tls`)
//!
//! `rediss://` URLs go through the platform's TLS (OpenSSL on Linux), trusting the system's
//! roots or the CA given to `RedisConfig::tls_root_ca`. Not run here: it needs a Redis
//! serving TLS; `tests/redis.rs` starts one.
//!
//! ```no_run
//! # #[cfg(feature = "redis-tls")]
//! # async fn run() -> Result<(), tower_jwt_auth::verify::BoxError> {
//! use tower_jwt_auth::login::ThrottlePolicy;
//! use tower_jwt_auth::shared::{RedisConfig, RedisDenylist, RedisThrottle};
//!
//! let url = "rediss://redis.internal:6380";
//! let config = RedisConfig::default().tls_root_ca(std::fs::read("/etc/redis/ca.pem")?);
//! let denylist = RedisDenylist::connect(url, config.clone()).await?;
//! let throttle = RedisThrottle::connect(url, ThrottlePolicy::default(), &config).await?;
//! # Ok(()) }
//! ```
//!
//! # What fails closed
//!
//! - **Verification**: each instance checks tokens against its in-memory mirror, fed from a
//!   Redis stream on a connection of its own. When that feed has been silent longer than
//!   [`RedisConfig::staleness`] (1 s), every check answers 503, never 200 (a revocation may
//!   have been missed) and never 401 (the token may be good).
//! - **Login, refresh and revocation** answer 503 `temporarily_unavailable` with `Retry-After`
//!   while Redis cannot be reached: the throttle cannot count the attempt, the revocation
//!   cannot be shared.
//! - Both recover on their own when Redis answers again, without a restart; the feed reloads
//!   every key and the revocations the durable store holds.
//!
//! # Operations
//!
//! - **`maxmemory-policy noeviction`**: an evicted key is a forgotten revocation or a reset
//!   throttle record. Every key expires on its own (a revocation when its token can no longer
//!   be accepted, a throttle record `forget_after` past its last failure), so memory stays
//!   bounded by the traffic.
//! - **Persistence is optional**: the durable record of revocations is the SQL store. A Redis
//!   that restarts empty (or is flushed) is noticed within half a second through an epoch key;
//!   the instances reload the revocations from the store into Redis, and their mirrors, which
//!   never drop an entry before it expires, keep refusing meanwhile. The throttle records are
//!   lost with it: the free failures start again, the back-off too.
//! - **Keys** start with [`RedisConfig::prefix`] (`tjwt` by default): `tjwt:deny:<sha256>`
//!   (one per revoked token or session, its JSON as value), `tjwt:deny-feed` (a stream capped
//!   near 100 000 entries), `tjwt:epoch`, `tjwt:throttle:<account>`.

mod denylist;
mod throttle;

pub use denylist::RedisDenylist;
pub use throttle::{RedisThrottle, RedisTicket};

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::verify::revocation::BoxError;

/// How the Redis-backed stores connect and when they give up.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedisConfig {
    /// The first part of every key (default `tjwt`): several deployments can share a Redis.
    pub prefix: String,
    /// How long the revocation feed may be silent before checks fail closed (default 1 s).
    pub staleness: Duration,
    /// How long one command may take (default 500 ms).
    pub response_timeout: Duration,
    /// How long connecting may take (default 1 s).
    pub connect_timeout: Duration,
    /// The largest leeway of the verifiers in use (default 60 s): a revocation is kept that long
    /// past its token's `exp`.
    pub leeway: Duration,
    /// For `rediss://` URLs (feature `redis-tls`): a PEM root certificate to trust instead of
    /// the system's store (a private CA).
    #[cfg(feature = "redis-tls")]
    pub tls_root_ca: Option<Vec<u8>>,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            prefix: "tjwt".into(),
            staleness: Duration::from_secs(1),
            response_timeout: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(1),
            leeway: Duration::from_secs(60),
            #[cfg(feature = "redis-tls")]
            tls_root_ca: None,
        }
    }
}

impl RedisConfig {
    /// Sets the key prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the staleness bound of the revocation feed (at least 300 ms: the feed answers
    /// every 200 ms when nothing happens).
    #[must_use]
    pub fn staleness(mut self, staleness: Duration) -> Self {
        self.staleness = staleness.max(Duration::from_millis(300));
        self
    }

    /// Sets the command and connect timeouts.
    #[must_use]
    pub fn timeouts(mut self, response: Duration, connect: Duration) -> Self {
        self.response_timeout = response;
        self.connect_timeout = connect;
        self
    }

    /// Trusts this PEM root certificate for `rediss://` URLs, instead of the system's store.
    #[cfg(feature = "redis-tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-tls")))]
    #[must_use]
    pub fn tls_root_ca(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_root_ca = Some(pem.into());
        self
    }

    /// Sets the largest leeway in use.
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }
}

/// A client for `url`: `rediss://` (feature `redis-tls`) through the platform's TLS (OpenSSL on
/// Linux), which installs nothing process-wide, trusting `tls_root_ca` when set.
pub(crate) fn client(url: &str, config: &RedisConfig) -> Result<redis::Client, BoxError> {
    #[cfg(feature = "redis-tls")]
    if let Some(ca) = &config.tls_root_ca {
        return redis::Client::build_with_tls(
            url,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(ca.clone()),
            },
        )
        .map_err(|e| redis_error("configuring TLS", &e));
    }
    let _ = config;
    redis::Client::open(url).map_err(|e| redis_error("parsing the URL", &e))
}

/// A connection that reconnects on its own, with the configured timeouts.
pub(crate) async fn connection_manager(
    url: &str,
    config: &RedisConfig,
) -> Result<ConnectionManager, BoxError> {
    let client = client(url, config)?;
    let managed = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.connect_timeout))
        .set_response_timeout(Some(config.response_timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    client
        .get_connection_manager_with_config(managed)
        .await
        .map_err(|e| redis_error("connecting", &e))
}

/// Runs `op` on the managed connection, and once more when the first try found the connection
/// broken (Redis restarted since the last command): the manager reconnects in between, so the
/// first request after an outage is served instead of answered 503. A script that ran before
/// its reply was lost runs twice: for the throttle, one failure too many, the safe side.
pub(crate) async fn with_reconnect<T, F, Fut>(
    conn: &ConnectionManager,
    mut op: F,
) -> redis::RedisResult<T>
where
    F: FnMut(ConnectionManager) -> Fut,
    Fut: std::future::Future<Output = redis::RedisResult<T>>,
{
    match op(conn.clone()).await {
        Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() => {
            tracing::debug!(error = %e, "Redis connection broken; retrying once on a new one");
            op(conn.clone()).await
        }
        other => other,
    }
}

/// A Redis error, said without the URL (which may hold a password).
pub(crate) fn redis_error(what: &str, e: &redis::RedisError) -> BoxError {
    format!("Redis, {what}: {:?} {}", e.kind(), e.detail().unwrap_or("")).into()
}

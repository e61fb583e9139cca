//! The access-token denylist shared through Redis, mirrored in each instance's memory.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::streams::{StreamReadOptions, StreamReadReply};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{RedisConfig, connection_manager, redis_error, with_reconnect};
use crate::session::{DenylistSink, Sessions};
use crate::verify::revocation::{
    BoxError, InMemoryDenylist, Revocation, RevocationCheck, TokenInfo,
};

/// One revocation as Redis holds it, under its key and in the feed.
#[derive(Serialize, Deserialize)]
struct Entry {
    /// `t`: one access token by `jti`; `s`: a session by `sid`.
    k: String,
    iss: Option<String>,
    id: String,
    /// The `exp` (or the session's last expiry) the entry covers.
    exp: i64,
}

/// How many revocations the feed stream keeps (approximately): a follower that fell further
/// behind reloads every key instead.
const FEED_LENGTH: usize = 100_000;
/// How long a feed read waits for news before it answers "nothing" (and so proves the feed
/// alive): well under the staleness bound.
const BLOCK: Duration = Duration::from_millis(200);
/// How often a connected follower checks that Redis still holds its data.
const EPOCH_CHECK: Duration = Duration::from_millis(500);

struct Shared {
    mirror: InMemoryDenylist,
    conn: ConnectionManager,
    client: redis::Client,
    config: RedisConfig,
    /// Milliseconds from `origin` at which the feed last answered.
    heard: AtomicU64,
    origin: Instant,
    /// Whether the feed has ever synchronised.
    synced: AtomicBool,
    /// Whether checks fail: kept by a watchdog task, so a check reads no clock.
    failing: AtomicBool,
    stopped: AtomicBool,
    /// Reloads Redis from the durable store: on every (re)connect, and when Redis lost its data.
    reseed: Mutex<Option<Sessions>>,
    reloads: AtomicU64,
}

/// The denylist of every instance, shared through Redis.
///
/// Revocations are written to Redis (a key per revoked token or session, expiring when the
/// token can no longer be accepted, and an entry in a stream) and applied to this instance's
/// in-memory mirror at once. Each instance follows the stream on a connection of its own and
/// applies the others' revocations to its mirror, so the request path never waits on the
/// network: a check is a hash lookup, as with [`InMemoryDenylist`].
///
/// It fails closed: when the feed has been silent longer than
/// [`RedisConfig::staleness`] (1 s by default: Redis down, the network cut), every check
/// answers an error, which the layer turns into 503, never a 200 for a token that may have been
/// revoked meanwhile. When the feed comes back it reloads every key first, so revocations
/// made while it was cut apply.
///
/// A Redis that lost its data (restarted empty, flushed) is noticed within half a second: an
/// epoch key disappears. The instances then reload Redis from the durable store through the
/// [`Sessions`] given to [`reseed_from`](Self::reseed_from), and their mirrors, which never
/// forget an entry before it expires, keep refusing what was revoked.
///
/// Redis must not evict these keys: run it with `maxmemory-policy noeviction`.
#[derive(Clone)]
pub struct RedisDenylist {
    shared: Arc<Shared>,
}

impl fmt::Debug for RedisDenylist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisDenylist")
            .field("mirror", &self.shared.mirror)
            .field("stale", &self.is_stale())
            .field("reloads", &self.reloads())
            .finish_non_exhaustive()
    }
}

impl RedisDenylist {
    /// Connects to the Redis at `url` and starts following its feed in a task of its own.
    /// Checks fail (503) until the feed has synchronised: wait for it with
    /// [`ready`](Self::ready).
    ///
    /// # Errors
    ///
    /// When Redis cannot be reached now.
    pub async fn connect(url: &str, config: RedisConfig) -> Result<Self, BoxError> {
        let client = super::client(url, &config)?;
        let conn = connection_manager(url, &config).await?;
        let mirror = InMemoryDenylist::new().leeway(config.leeway);
        let shared = Arc::new(Shared {
            mirror,
            conn,
            client,
            config,
            heard: AtomicU64::new(0),
            origin: Instant::now(),
            synced: AtomicBool::new(false),
            failing: AtomicBool::new(true),
            stopped: AtomicBool::new(false),
            reseed: Mutex::new(None),
            reloads: AtomicU64::new(0),
        });
        tokio::spawn(follow(Arc::downgrade(&shared)));
        tokio::spawn(watch(Arc::downgrade(&shared)));
        Ok(Self { shared })
    }

    /// Reloads Redis from `sessions`' store now, and again on every reconnect and whenever Redis
    /// lost its data: give it the [`Sessions`] that write to this denylist.
    ///
    /// # Errors
    ///
    /// When the store or Redis fails now.
    pub async fn reseed_from(&self, sessions: Sessions) -> Result<usize, BoxError> {
        let loaded = sessions.load_revocations().await?;
        *self.shared.reseed.lock().unwrap_or_else(|e| e.into_inner()) = Some(sessions);
        Ok(loaded)
    }

    /// Waits until the feed has synchronised once (at most `timeout`): `true` when it has.
    pub async fn ready(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.shared.synced.load(Ordering::Acquire) && !self.is_stale() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// Whether checks fail now: the feed has been silent longer than the staleness bound.
    #[must_use]
    pub fn is_stale(&self) -> bool {
        self.shared.is_stale()
    }

    /// How many times the mirror was reloaded from every key (each connect, and each time Redis
    /// was found to have lost its data).
    #[must_use]
    pub fn reloads(&self) -> u64 {
        self.shared.reloads.load(Ordering::Relaxed)
    }

    /// The in-memory mirror the checks read.
    #[must_use]
    pub fn mirror(&self) -> &InMemoryDenylist {
        &self.shared.mirror
    }

    /// Stops following the feed (checks fail from then on): for tests and orderly shutdowns.
    pub fn shutdown(&self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.failing.store(true, Ordering::Release);
        self.shared
            .reseed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    async fn publish(&self, entry: Entry) -> Result<(), BoxError> {
        let shared = &self.shared;
        let value = serde_json::to_string(&entry)?;
        // Year 9999 at most: a token without `exp` is kept "for ever", which Redis cannot say.
        let keep_until_ms = entry
            .exp
            .saturating_add(shared.mirror.retention())
            .clamp(1, 253_402_300_799)
            .saturating_mul(1000);
        let pipe = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(shared.key(&entry))
            .arg(&value)
            .arg("PXAT")
            .arg(keep_until_ms)
            .ignore()
            .cmd("XADD")
            .arg(shared.feed())
            .arg("MAXLEN")
            .arg("~")
            .arg(FEED_LENGTH)
            .arg("*")
            .arg("v")
            .arg(&value)
            .ignore()
            .clone();
        with_reconnect(&shared.conn, |mut conn| {
            let pipe = pipe.clone();
            async move { pipe.query_async::<()>(&mut conn).await }
        })
        .await
        .map_err(|e| redis_error("publishing a revocation", &e))?;
        shared.apply(&entry);
        Ok(())
    }
}

impl Shared {
    fn key(&self, entry: &Entry) -> String {
        let mut digest = Sha256::new();
        digest.update(entry.k.as_bytes());
        digest.update([0]);
        if let Some(iss) = &entry.iss {
            digest.update([1]);
            digest.update(iss.as_bytes());
        }
        digest.update([0]);
        digest.update(entry.id.as_bytes());
        let hex: String = digest
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{}:deny:{hex}", self.config.prefix)
    }

    fn feed(&self) -> String {
        format!("{}:deny-feed", self.config.prefix)
    }

    fn epoch_key(&self) -> String {
        format!("{}:epoch", self.config.prefix)
    }

    fn apply(&self, entry: &Entry) {
        match entry.k.as_str() {
            "t" => self
                .mirror
                .revoke(entry.iss.as_deref(), &entry.id, entry.exp),
            "s" => self
                .mirror
                .revoke_session(entry.iss.as_deref(), &entry.id, entry.exp),
            other => tracing::warn!(kind = other, "unknown kind of revocation in Redis"),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn heard(&self) {
        self.heard.store(self.now_ms(), Ordering::Release);
        if self.synced.load(Ordering::Acquire) {
            self.failing.store(false, Ordering::Release);
        }
    }

    fn is_stale(&self) -> bool {
        if self.stopped.load(Ordering::Acquire) || !self.synced.load(Ordering::Acquire) {
            return true;
        }
        let silent = self
            .now_ms()
            .saturating_sub(self.heard.load(Ordering::Acquire));
        u128::from(silent) > self.config.staleness.as_millis()
    }

    /// Connects, reloads, then follows the feed until an error or a lost epoch.
    async fn follow_once(&self) -> Result<(), BoxError> {
        let timeouts = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.config.connect_timeout))
            .set_response_timeout(Some(BLOCK + self.config.response_timeout));
        let mut conn: MultiplexedConnection = self
            .client
            .get_multiplexed_async_connection_with_config(&timeouts)
            .await
            .map_err(|e| redis_error("connecting the feed", &e))?;
        // The epoch: missing means Redis is new or lost its data.
        let epoch: Option<String> = redis::cmd("GET")
            .arg(self.epoch_key())
            .query_async(&mut conn)
            .await
            .map_err(|e| redis_error("reading the epoch", &e))?;
        let epoch = match epoch {
            Some(epoch) => epoch,
            None => {
                let fresh = crate::session::RefreshToken::generate()?.hash();
                let fresh: String = fresh.0[..8].iter().map(|b| format!("{b:02x}")).collect();
                let _: Option<String> = redis::cmd("SET")
                    .arg(self.epoch_key())
                    .arg(&fresh)
                    .arg("NX")
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| redis_error("writing the epoch", &e))?;
                redis::cmd("GET")
                    .arg(self.epoch_key())
                    .query_async::<Option<String>>(&mut conn)
                    .await
                    .map_err(|e| redis_error("reading the epoch", &e))?
                    .unwrap_or(fresh)
            }
        };
        // Whatever Redis missed while this instance could not write to it (or all of it, after
        // a loss) comes back from the durable store.
        let sessions = self
            .reseed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(sessions) = sessions {
            let loaded = sessions.load_revocations().await?;
            tracing::info!(loaded, "revocations reloaded into Redis from the store");
        }
        // The feed's position first, then every key: nothing written in between is missed.
        let last: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg(self.feed())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut conn)
            .await
            .map_err(|e| redis_error("reading the feed's end", &e))?;
        let mut last_id = last
            .first()
            .map_or_else(|| "0-0".to_owned(), |(id, _)| id.clone());
        let loaded = self.load_all(&mut conn).await?;
        self.reloads.fetch_add(1, Ordering::Relaxed);
        self.synced.store(true, Ordering::Release);
        self.heard();
        tracing::info!(loaded, "revocation feed synchronised");

        let mut epoch_checked = Instant::now();
        let options = StreamReadOptions::default()
            .block(usize::try_from(BLOCK.as_millis()).unwrap_or(200))
            .count(1000);
        loop {
            if self.stopped.load(Ordering::Acquire) {
                return Ok(());
            }
            let reply: Option<StreamReadReply> = redis::cmd("XREAD")
                .arg(&options)
                .arg("STREAMS")
                .arg(self.feed())
                .arg(&last_id)
                .query_async(&mut conn)
                .await
                .map_err(|e| redis_error("following the feed", &e))?;
            for stream in reply.into_iter().flat_map(|r| r.keys) {
                for message in stream.ids {
                    if let Some(entry) = message
                        .get::<String>("v")
                        .and_then(|v| serde_json::from_str::<Entry>(&v).ok())
                    {
                        self.apply(&entry);
                    }
                    last_id = message.id;
                }
            }
            self.heard();
            if epoch_checked.elapsed() >= EPOCH_CHECK {
                epoch_checked = Instant::now();
                let now: Option<String> = redis::cmd("GET")
                    .arg(self.epoch_key())
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| redis_error("reading the epoch", &e))?;
                if now.as_deref() != Some(epoch.as_str()) {
                    tracing::warn!("Redis lost the revocations: reloading them from the store");
                    return Ok(());
                }
            }
        }
    }

    /// Every revocation Redis holds, into the mirror.
    async fn load_all(&self, conn: &mut MultiplexedConnection) -> Result<usize, BoxError> {
        let pattern = format!("{}:deny:*", self.config.prefix);
        let mut cursor: u64 = 0;
        let mut loaded = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(conn)
                .await
                .map_err(|e| redis_error("listing the revocations", &e))?;
            if !keys.is_empty() {
                let values: Vec<Option<String>> = redis::cmd("MGET")
                    .arg(&keys)
                    .query_async(conn)
                    .await
                    .map_err(|e| redis_error("reading the revocations", &e))?;
                for entry in values
                    .into_iter()
                    .flatten()
                    .filter_map(|v| serde_json::from_str::<Entry>(&v).ok())
                {
                    self.apply(&entry);
                    loaded += 1;
                }
            }
            if next == 0 {
                return Ok(loaded);
            }
            cursor = next;
        }
    }
}

/// How often the watchdog compares the feed's last answer with the staleness bound: checks fail
/// at most this long after the bound.
const WATCH: Duration = Duration::from_millis(20);

/// The watchdog's task: turns checks off when the feed has been silent past the bound, and on
/// again when it answers.
async fn watch(shared: Weak<Shared>) {
    loop {
        let Some(this) = shared.upgrade() else {
            return;
        };
        let failing = this.is_stale();
        this.failing.store(failing, Ordering::Release);
        if this.stopped.load(Ordering::Acquire) {
            return;
        }
        drop(this);
        tokio::time::sleep(WATCH).await;
    }
}

/// The feed's task: follows, reconnects with a capped back-off, ends with the last handle.
async fn follow(shared: Weak<Shared>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(this) = shared.upgrade() else {
            return;
        };
        if this.stopped.load(Ordering::Acquire) {
            return;
        }
        match this.follow_once().await {
            Ok(()) => backoff = Duration::from_millis(50),
            Err(err) => {
                tracing::warn!(error = %err, "revocation feed interrupted; reconnecting");
            }
        }
        drop(this);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(500));
    }
}

impl Revocation for RedisDenylist {
    fn check(&self, token: &TokenInfo<'_>) -> RevocationCheck {
        // One atomic load: the watchdog reads the clock, not each request.
        if self.shared.failing.load(Ordering::Acquire) {
            return RevocationCheck::Ready(Err(
                "the revocation feed from Redis is silent: failing closed".into(),
            ));
        }
        self.shared.mirror.check(token)
    }
}

impl DenylistSink for RedisDenylist {
    async fn revoke_token(
        &self,
        issuer: Option<&str>,
        jwt_id: &str,
        expires_at: i64,
    ) -> Result<(), BoxError> {
        self.publish(Entry {
            k: "t".into(),
            iss: issuer.map(str::to_owned),
            id: jwt_id.to_owned(),
            exp: expires_at,
        })
        .await
    }

    async fn revoke_session(
        &self,
        issuer: Option<&str>,
        session_id: &str,
        last_expiry: i64,
    ) -> Result<(), BoxError> {
        self.publish(Entry {
            k: "s".into(),
            iss: issuer.map(str::to_owned),
            id: session_id.to_owned(),
            exp: last_expiry,
        })
        .await
    }

    fn retention(&self) -> i64 {
        self.shared.mirror.retention()
    }
}

//! The Redis-backed denylist and throttle against real Redis servers: the throttle's burst
//! conformance on the machine's Redis (`TEST_REDIS_URL`, by default `redis://127.0.0.1:6379`),
//! and, on private `redis-server` processes this file starts and stops, the cross-instance
//! revocation latency, a cut feed, a stopped Redis and a flushed one.
//!
//! Without Redis, these tests say loudly that they were skipped, unless `CI=true`, where they
//! fail.
#![cfg(all(feature = "redis", feature = "testkit"))]

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::{TcpListener, TcpStream};
use tower_jwt_auth::login::{ThrottlePolicy, ThrottleStore};
use tower_jwt_auth::session::{DenylistSink, InMemorySessionStore, RevocationStore, Sessions};
use tower_jwt_auth::shared::{RedisConfig, RedisDenylist, RedisThrottle};
use tower_jwt_auth::verify::{Revocation, RevocationCheck, TokenInfo};
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer, testkit};

fn skip_or_fail(test: &str, why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {why} (CI=true: Redis tests must run)"
    );
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED {test}: {why}.\n!!!!!!!! Start Redis on 127.0.0.1:6379 (and install \
         redis-server) or set TEST_REDIS_URL to run it.\n"
    );
}

/// The machine's Redis, or `None` after saying why.
async fn machine_redis(test: &str) -> Option<String> {
    let url =
        std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let answer = async {
        let client = redis::Client::open(url.as_str()).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .ok()
    };
    match tokio::time::timeout(Duration::from_secs(3), answer).await {
        Ok(Some(_)) => Some(url),
        _ => {
            skip_or_fail(test, "Redis (TEST_REDIS_URL) does not answer");
            None
        }
    }
}

fn unique(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("tjwt-test-{name}-{}-{nanos}", std::process::id())
}

/// A `redis-server` of this test's own, on a port of its own, keeping nothing on disk.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    async fn start(test: &str) -> Option<Self> {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut redis = Self { port, child: None };
        if !redis.launch().await {
            skip_or_fail(test, "redis-server cannot be started");
            return None;
        }
        Some(redis)
    }

    async fn launch(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxmemory-policy",
                "noeviction",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            return false;
        };
        self.child = Some(child);
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn flush(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("FLUSHALL")
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }

    async fn keys(&self, pattern: &str) -> usize {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("KEYS")
            .arg(pattern)
            .query_async::<Vec<String>>(&mut conn)
            .await
            .unwrap()
            .len()
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A TCP proxy to a Redis that can cut every connection through it and refuse new ones.
struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    generation: Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    async fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (flag, generation_seen) = (Arc::clone(&open), Arc::clone(&generation));
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let born = generation_seen.load(Ordering::SeqCst);
                let (flag, generation) = (Arc::clone(&flag), Arc::clone(&generation_seen));
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    let cut = async {
                        while flag.load(Ordering::SeqCst)
                            && generation.load(Ordering::SeqCst) == born
                        {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        () = cut => {}
                    }
                });
            }
        });
        Self {
            addr,
            open,
            generation,
        }
    }

    fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

fn token<'a>(jti: &'a str, sid: Option<&'a str>) -> TokenInfo<'a> {
    let mut info = TokenInfo::default();
    info.issuer = Some("https://auth.test");
    info.jwt_id = Some(jti);
    info.session_id = sid;
    info.expires_at = Some(now() + 600);
    info.leeway = 60;
    info
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `Some(true)` revoked, `Some(false)` not, `None` the check failed (fail closed: 503).
fn answer(denylist: &RedisDenylist, info: &TokenInfo<'_>) -> Option<bool> {
    match denylist.check(info) {
        RevocationCheck::Ready(Ok(revoked)) => Some(revoked),
        RevocationCheck::Ready(Err(_)) => None,
        RevocationCheck::Pending(_) => panic!("the Redis denylist must answer at once"),
    }
}

async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    start.elapsed()
}

fn config(prefix: &str) -> RedisConfig {
    RedisConfig::default().prefix(prefix)
}

fn issuer() -> TokenIssuer {
    TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[4; 32]).unwrap())
        .issuer("https://auth.test")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_redis_throttle_passes_the_burst_conformance_check() {
    let Some(url) = machine_redis("redis throttle conformance").await else {
        return;
    };
    let policy = ThrottlePolicy::default()
        .free_failures(3)
        .delays(Duration::from_secs(60), Duration::from_secs(60));
    let throttle = RedisThrottle::connect(&url, policy, &config(&unique("throttle")))
        .await
        .unwrap();
    testkit::check_throttle_store(throttle, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_on_one_instance_is_refused_on_the_other_within_the_bound() {
    let Some(url) = machine_redis("cross-instance revocation").await else {
        return;
    };
    let prefix = unique("latency");
    let a = RedisDenylist::connect(&url, config(&prefix)).await.unwrap();
    let b = RedisDenylist::connect(&url, config(&prefix)).await.unwrap();
    assert!(a.ready(Duration::from_secs(5)).await && b.ready(Duration::from_secs(5)).await);
    let mut latencies = Vec::new();
    for trial in 0..100 {
        let jti = format!("jti-{trial}");
        assert_eq!(answer(&b, &token(&jti, None)), Some(false));
        let start = Instant::now();
        a.revoke_token(Some("https://auth.test"), &jti, now() + 600)
            .await
            .unwrap();
        // The writer refuses it at once; the other instance once its feed brings it.
        assert_eq!(answer(&a, &token(&jti, None)), Some(true));
        until("the other instance", Duration::from_secs(10), || {
            answer(&b, &token(&jti, None)) == Some(true)
        })
        .await;
        latencies.push(start.elapsed());
    }
    // Sessions too: every token of the family.
    a.revoke_session(Some("https://auth.test"), "family-1", now() + 900)
        .await
        .unwrap();
    until(
        "a session on the other instance",
        Duration::from_secs(10),
        || answer(&b, &token("any", Some("family-1"))) == Some(true),
    )
    .await;
    latencies.sort();
    println!(
        "cross-instance revocation over 100 trials: p50 {:?}, p100 {:?}",
        latencies[50], latencies[99]
    );
    a.shutdown();
    b.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocations_made_while_a_feed_was_cut_apply_when_it_reconnects() {
    let Some(redis) = PrivateRedis::start("cut feed").await else {
        return;
    };
    let proxy = Proxy::start(redis.port).await;
    let a = RedisDenylist::connect(&redis.url(), config("cut"))
        .await
        .unwrap();
    let b = RedisDenylist::connect(&proxy.url(), config("cut"))
        .await
        .unwrap();
    assert!(a.ready(Duration::from_secs(5)).await && b.ready(Duration::from_secs(5)).await);

    proxy.cut();
    // B fails closed within the staleness bound (and never answers "not revoked" after it).
    let failed = until("B fails closed", Duration::from_secs(10), || {
        answer(&b, &token("x", None)).is_none()
    })
    .await;
    println!("a cut feed failed closed after {failed:?}");
    a.revoke_token(Some("https://auth.test"), "while-cut", now() + 600)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        answer(&b, &token("while-cut", None)),
        None,
        "a stale mirror answered"
    );

    proxy.restore();
    until("B back", Duration::from_secs(10), || {
        answer(&b, &token("x", None)) == Some(false)
    })
    .await;
    assert_eq!(
        answer(&b, &token("while-cut", None)),
        Some(true),
        "a revocation made while the feed was cut was missed"
    );
    a.shutdown();
    b.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_redis_fails_closed_and_recovers_from_the_store_when_back() {
    let Some(mut redis) = PrivateRedis::start("stopped redis").await else {
        return;
    };
    let url = redis.url();
    let issuer = issuer();
    let store = InMemorySessionStore::new();
    let denylist = RedisDenylist::connect(&url, config("stop")).await.unwrap();
    let sessions = Sessions::new(store.clone(), issuer, denylist.clone());
    denylist.reseed_from(sessions).await.unwrap();
    assert!(denylist.ready(Duration::from_secs(5)).await);
    let throttle = RedisThrottle::connect(&url, ThrottlePolicy::default(), &config("stop"))
        .await
        .unwrap();
    // A revocation the store holds, as the revocation endpoint writes it.
    store
        .revoke_token(Some("https://auth.test"), "revoked", now() + 600)
        .await
        .unwrap();
    denylist
        .revoke_token(Some("https://auth.test"), "revoked", now() + 600)
        .await
        .unwrap();

    redis.stop();
    let failed = until("failing closed", Duration::from_secs(10), || {
        answer(&denylist, &token("fine", None)).is_none()
    })
    .await;
    println!("stopped Redis: checks fail closed after {failed:?}");
    assert!(
        denylist
            .revoke_token(None, "during", now() + 600)
            .await
            .is_err(),
        "a revocation was taken while it cannot be shared"
    );
    assert!(
        throttle.reserve(&["id:someone".to_owned()]).await.is_err(),
        "a login attempt was counted nowhere"
    );

    // Back, and empty: the feed reloads Redis from the store.
    assert!(redis.launch().await);
    until("recovering", Duration::from_secs(15), || {
        answer(&denylist, &token("fine", None)) == Some(false)
    })
    .await;
    assert_eq!(answer(&denylist, &token("revoked", None)), Some(true));
    assert_eq!(redis.keys("stop:deny:*").await, 1, "Redis was not reseeded");
    assert!(throttle.reserve(&["id:someone".to_owned()]).await.is_ok());
    denylist.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flushed_redis_is_noticed_and_reseeded_from_the_store() {
    let Some(redis) = PrivateRedis::start("flushed redis").await else {
        return;
    };
    let url = redis.url();
    let store = InMemorySessionStore::new();
    let a = RedisDenylist::connect(&url, config("flush")).await.unwrap();
    let sessions = Sessions::new(store.clone(), issuer(), a.clone());
    a.reseed_from(sessions.clone()).await.unwrap();
    assert!(a.ready(Duration::from_secs(5)).await);
    // A session revoked through the sessions (store first, then Redis).
    let family = tower_jwt_auth::session::Family::new("fam", "user-1", "read", now(), now() + 3600);
    use tower_jwt_auth::session::RefreshStore as _;
    store
        .create_family(
            &family,
            &tower_jwt_auth::session::RefreshToken::generate()
                .unwrap()
                .hash(),
            now() + 600,
        )
        .await
        .unwrap();
    assert!(sessions.end_session("fam").await.unwrap());
    assert_eq!(redis.keys("flush:deny:*").await, 1);
    let reloads = a.reloads();

    redis.flush().await;
    until("the loss noticed", Duration::from_secs(10), || {
        a.reloads() > reloads
    })
    .await;
    until("Redis reseeded", Duration::from_secs(10), || {
        // Polled from a blocking context: a fresh connection each time.
        std::process::Command::new("redis-cli")
            .args([
                "-p",
                &redis.port.to_string(),
                "--scan",
                "--pattern",
                "flush:deny:*",
            ])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty())
    })
    .await;
    assert_eq!(answer(&a, &token("any", Some("fam"))), Some(true));
    // An instance started after the flush learns it from Redis.
    let c = RedisDenylist::connect(&url, config("flush")).await.unwrap();
    assert!(c.ready(Duration::from_secs(5)).await);
    assert_eq!(answer(&c, &token("any", Some("fam"))), Some(true));
    a.shutdown();
    c.shutdown();
}

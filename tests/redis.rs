//! The Redis-backed denylist and throttle against real Redis servers: the throttle's burst
//! conformance on the machine's Redis (`TEST_REDIS_URL`, by default `redis://127.0.0.1:6379`),
//! and, on private `redis-server` processes this file starts and stops, the cross-instance
//! revocation latency, a cut feed, a stopped Redis and a flushed one.
//!
//! Without Redis, these tests say loudly that they were skipped, unless `CI=true`, where they
//! fail.
#![cfg(all(feature = "redis", feature = "testkit"))]

#[path = "support/redis.rs"]
mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::{PrivateRedis, Proxy, skip_or_fail};
use tower_jwt_auth::login::{ThrottlePolicy, ThrottleStore};
use tower_jwt_auth::session::{DenylistSink, InMemorySessionStore, RevocationStore, Sessions};
use tower_jwt_auth::shared::{RedisConfig, RedisDenylist, RedisThrottle};
use tower_jwt_auth::verify::{Revocation, RevocationCheck, TokenInfo};
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer, testkit};

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

/// Deletes what a test left under `prefix` in a shared Redis (the feed and the epoch do not
/// expire on their own).
async fn purge(url: &str, prefix: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(&keys)
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
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
    let prefix = unique("throttle");
    let throttle = RedisThrottle::connect(&url, policy, &config(&prefix))
        .await
        .unwrap();
    testkit::check_throttle_store(throttle, 3).await;
    purge(&url, &prefix).await;
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
    purge(&url, &prefix).await;
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

/// `rediss://` with a private CA (feature `redis-tls`): the denylist and the throttle work over
/// TLS, and a client that does not trust the CA is refused.
#[cfg(feature = "redis-tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_shared_stores_work_over_tls_with_a_private_ca() {
    use std::process::{Command, Stdio};
    let dir = std::env::temp_dir().join(unique("tls"));
    std::fs::create_dir_all(&dir).unwrap();
    let openssl = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    let made = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=tjwt-test-ca",
    ]) && openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]) && openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
    if !made {
        skip_or_fail(
            "redis over TLS",
            "the openssl command cannot make test certificates",
        );
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = |name: &str| dir.join(name).display().to_string();
    let Ok(mut server) = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            &path("server.crt"),
            "--tls-key-file",
            &path("server.key"),
            "--tls-ca-cert-file",
            &path("ca.crt"),
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        skip_or_fail("redis over TLS", "redis-server cannot be started");
        return;
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = format!("rediss://127.0.0.1:{port}");
    let ca = std::fs::read(dir.join("ca.crt")).unwrap();
    let trusted = config("tls").tls_root_ca(ca);

    let a = RedisDenylist::connect(&url, trusted.clone()).await.unwrap();
    let b = RedisDenylist::connect(&url, trusted.clone()).await.unwrap();
    assert!(a.ready(Duration::from_secs(5)).await && b.ready(Duration::from_secs(5)).await);
    a.revoke_token(Some("https://auth.test"), "over-tls", now() + 600)
        .await
        .unwrap();
    until("over TLS", Duration::from_secs(10), || {
        answer(&b, &token("over-tls", None)) == Some(true)
    })
    .await;
    let throttle = RedisThrottle::connect(&url, ThrottlePolicy::default(), &trusted)
        .await
        .unwrap();
    assert!(
        throttle
            .reserve(&["id:tls".to_owned()])
            .await
            .unwrap()
            .is_ok()
    );
    // Without the private CA, the server's certificate is refused.
    assert!(
        RedisThrottle::connect(&url, ThrottlePolicy::default(), &config("tls"))
            .await
            .is_err(),
        "a certificate from an untrusted CA was accepted"
    );
    a.shutdown();
    b.shutdown();
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

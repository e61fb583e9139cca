//! The request-path cost of the revocation check: the Redis-fed denylist against the in-memory
//! one, the check alone and a whole request through the layer (HS256, verified-token cache on,
//! so the check is a visible share of it). Needs the machine's Redis (`TEST_REDIS_URL`, by
//! default `redis://127.0.0.1:6379`).
//!
//! ```sh
//! cargo bench --bench revocation --features axum,login,redis
//! ```

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use tower::ServiceExt;
use tower_jwt_auth::session::DenylistSink;
use tower_jwt_auth::shared::{RedisConfig, RedisDenylist};
use tower_jwt_auth::verify::{InMemoryDenylist, Revocation, TokenInfo};
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};

fn checks(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("tjwt-bench-{}", std::process::id());
    let redis = runtime
        .block_on(RedisDenylist::connect(
            &url,
            RedisConfig::default().prefix(prefix.clone()),
        ))
        .expect("Redis must answer for this benchmark");
    assert!(runtime.block_on(redis.ready(Duration::from_secs(5))));
    let memory = InMemoryDenylist::new();
    // A thousand revoked tokens in each, so the lookup is not into an empty table.
    runtime.block_on(async {
        for i in 0..1000 {
            let jti = format!("revoked-{i}");
            redis
                .revoke_token(Some("https://auth.bench"), &jti, 4_000_000_000)
                .await
                .unwrap();
            memory.revoke(Some("https://auth.bench"), &jti, 4_000_000_000);
        }
    });

    let mut info = TokenInfo::default();
    info.issuer = Some("https://auth.bench");
    info.jwt_id = Some("not-revoked");
    info.session_id = Some("session");
    info.expires_at = Some(4_000_000_000);
    info.leeway = 60;
    let mut group = c.benchmark_group("revocation check");
    group.bench_function("in-memory", |b| b.iter(|| memory.check(&info)));
    group.bench_function("redis mirror", |b| b.iter(|| redis.check(&info)));
    group.finish();

    let issuer = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap())
        .issuer("https://auth.bench");
    let token = issuer.issue("user", ["read"]).unwrap().access_token;
    let with_memory: Router = Router::new().route("/", get(|| async { "ok" })).layer(
        issuer
            .layer()
            .cache_verified_tokens(1024)
            .revocation(memory.clone()),
    );
    let with_redis: Router = Router::new().route("/", get(|| async { "ok" })).layer(
        issuer
            .layer()
            .cache_verified_tokens(1024)
            .revocation(redis.clone()),
    );
    let request = || {
        Request::get("/")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let mut group = c.benchmark_group("request, HS256 cached");
    for (name, router) in [("in-memory", &with_memory), ("redis mirror", &with_redis)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let response = router.clone().oneshot(request()).await.unwrap();
                    assert!(response.status().is_success());
                });
            });
        });
    }
    group.finish();
    redis.shutdown();
    // Leave nothing behind in the machine's Redis.
    runtime.block_on(async {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    });
}

criterion_group!(benches, checks);
criterion_main!(benches);

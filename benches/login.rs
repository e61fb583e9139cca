//! Login throughput of the example server's router, in process: successful logins through
//! `POST /login` at the default argon2id policy, several at once, so the hashing pool (one
//! worker per core) is kept busy.
//!
//! ```sh
//! cargo bench --bench login --features axum,login
//! ```
//!
//! Criterion reports logins per second (`thrpt`); compare with `cores ÷ verify time` from
//! `cargo bench --bench password --features login`.

#[path = "../examples/axum_server/app.rs"]
mod app;
#[path = "../examples/common/demo.rs"]
mod demo;

use std::time::Duration;

use axum::body::Body;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::Request;
use tower::ServiceExt;
use tower_jwt_auth::login::ThrottlePolicy;
use tower_jwt_auth::login::password::PasswordPolicy;
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};

const CONCURRENT: usize = 8;

fn logins(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let router = runtime
        .block_on(app::router(app::Config {
            issuer: TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap()),
            demo: demo::Demo {
                user: "demo".into(),
                password: "correct horse battery staple".into(),
                scopes: vec!["read".into()],
            },
            policy: PasswordPolicy::default(),
            throttle: ThrottlePolicy::default(),
            // Measures the login itself, from one client: no per-client limit.
            login_rate_per_minute: 0,
            // In memory: the bench measures the login, not a database.
            database_url: None,
            redis_url: None,
        }))
        .unwrap();
    let request = || {
        Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(
                "grant_type=password&username=demo&password=correct+horse+battery+staple",
            ))
            .unwrap()
    };

    let mut group = c.benchmark_group("login");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(CONCURRENT as u64));
    group.bench_function(format!("{CONCURRENT}_concurrent_successful_logins"), |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut calls = tokio::task::JoinSet::new();
                for _ in 0..CONCURRENT {
                    calls.spawn(router.clone().oneshot(request()));
                }
                while let Some(response) = calls.join_next().await {
                    assert_eq!(response.unwrap().unwrap().status(), http::StatusCode::OK);
                }
            })
        });
    });
    group.finish();
}

criterion_group!(benches, logins);
criterion_main!(benches);

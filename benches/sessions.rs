//! Login and refresh throughput of the example server's router, in process, against each
//! store: in memory, a SQLite file, and PostgreSQL (`TEST_POSTGRES_URL`, by default the
//! project machines' `postgres://postgres@127.0.0.1:5432/test`, in a schema of its own).
//!
//! ```sh
//! cargo bench --bench sessions --features axum,login,sqlite,postgres
//! ```
//!
//! Rounds interleave the stores, so a noisy neighbour slows all of them alike; the report is
//! the median of the rounds and its ratio to the in-memory store of the same run. Logins run at
//! the default argon2id policy (the hashing pool is the bottleneck, as in production); refreshes
//! hash nothing, so they measure the store's rotation.

#[path = "../examples/axum_server/app.rs"]
mod app;
#[path = "../examples/common/demo.rs"]
mod demo;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_jwt_auth::login::ThrottlePolicy;
use tower_jwt_auth::login::password::PasswordPolicy;
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};

const CONCURRENT: usize = 8;
const ROUNDS: usize = 3;
const WINDOW: Duration = Duration::from_secs(3);
const PASSWORD: &str = "correct horse battery staple";

async fn router(database_url: Option<String>) -> Router {
    app::router(app::Config {
        issuer: TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap()),
        demo: demo::Demo {
            user: "demo".into(),
            password: PASSWORD.into(),
            scopes: vec!["read".into()],
        },
        policy: PasswordPolicy::default(),
        // Eight clients log in to one account at once: each attempt counts as a failure until
        // it succeeds (the burst rule), so without room the throttle would answer 429.
        throttle: ThrottlePolicy::default().free_failures(1_000),
        login_rate_per_minute: 0,
        database_url,
        redis_url: None,
    })
    .await
    .unwrap()
}

async fn post(router: &Router, body: String) -> serde_json::Value {
    let response = router
        .clone()
        .oneshot(
            Request::post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

fn password_grant() -> String {
    format!(
        "grant_type=password&username=demo&password={}",
        PASSWORD.replace(' ', "+")
    )
}

/// Requests per second over `WINDOW`, from `CONCURRENT` clients.
async fn measure(router: &Router, refresh: bool) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENT {
        let (router, done) = (router.clone(), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            // Each refreshing client keeps its own chain, as a real one does.
            let mut token = if refresh {
                post(&router, password_grant()).await["refresh_token"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            } else {
                String::new()
            };
            let begin = Instant::now();
            while begin.elapsed() < WINDOW {
                if refresh {
                    let reply = post(
                        &router,
                        format!("grant_type=refresh_token&refresh_token={token}"),
                    )
                    .await;
                    token = reply["refresh_token"].as_str().unwrap().to_owned();
                } else {
                    post(&router, password_grant()).await;
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn postgres_url() -> Option<String> {
    let base = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let pool = sqlx::PgPool::connect(&base).await.ok()?;
    let schema = format!("tjwt_bench_{}", std::process::id());
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&pool)
        .await
        .ok()?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .ok()?;
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let sqlite = std::env::temp_dir().join(format!("tjwt-bench-{nanos}.db"));
        let mut stores = vec![
            ("memory", router(None).await),
            (
                "sqlite",
                router(Some(format!("sqlite://{}", sqlite.display()))).await,
            ),
        ];
        match postgres_url().await {
            Some(url) => stores.push(("postgres", router(Some(url)).await)),
            None => eprintln!("!!! PostgreSQL does not answer: its rows are left out"),
        }
        let mut results: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); stores.len()];
        for round in 0..ROUNDS {
            for (i, (name, router)) in stores.iter().enumerate() {
                let logins = measure(router, false).await;
                let refreshes = measure(router, true).await;
                eprintln!(
                    "round {round}: {name:<8} logins {logins:8.1}/s  refreshes {refreshes:8.1}/s"
                );
                results[i].0.push(logins);
                results[i].1.push(refreshes);
            }
        }
        let (base_login, base_refresh) =
            (median(results[0].0.clone()), median(results[0].1.clone()));
        println!("| store | logins/s | ÷ memory | refreshes/s | ÷ memory |");
        println!("|---|---|---|---|---|");
        for ((name, _), (logins, refreshes)) in stores.iter().zip(results) {
            let (l, r) = (median(logins), median(refreshes));
            println!(
                "| {name} | {l:.1} | {:.2} | {r:.1} | {:.2} |",
                l / base_login,
                r / base_refresh
            );
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", sqlite.display()));
        }
        drop(stores);
        if let Ok(pool) = sqlx::PgPool::connect(
            &std::env::var("TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        )
        .await
        {
            let schema = format!("tjwt_bench_{}", std::process::id());
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&pool)
                .await;
        }
    });
}

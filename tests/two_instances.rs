//! Two instances of the example server (separate processes) sharing one PostgreSQL and one
//! Redis, as behind a load balancer: a revocation or logout on one is refused on the other
//! (latency over 100 trials, reported), revocations made while one instance's feed was cut
//! apply when it reconnects, a stopped Redis fails closed (503, never 200 or 401) and both
//! recover without a restart, a flushed Redis is reseeded from Postgres, and 50 parallel wrong
//! passwords spread over both cost at most `free_failures + 1` password checks.
//!
//! Redis is a `redis-server` of this test's own (it is stopped and flushed); PostgreSQL is the
//! machine's (`TEST_POSTGRES_URL`, by default `postgres://postgres@127.0.0.1:5432/test`), in a
//! schema of this test's own. Without them the test says so loudly, unless `CI=true`.
#![cfg(all(
    feature = "redis",
    feature = "postgres",
    feature = "sqlite",
    feature = "axum",
    feature = "testkit"
))]

#[path = "support/examples.rs"]
mod examples;

#[path = "support/redis.rs"]
mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use support::{PrivateRedis, Proxy, skip_or_fail};

const PASSWORD: &str = "two instances, one truth";
const FREE_FAILURES: usize = 5;

/// A fresh schema in the machine's PostgreSQL, as a URL; `None` after saying why.
async fn postgres() -> Option<(String, String)> {
    let base = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let Ok(pool) = sqlx::PgPool::connect(&base).await else {
        skip_or_fail(
            "two instances",
            "PostgreSQL (TEST_POSTGRES_URL) does not answer",
        );
        return None;
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = format!("tjwt_two_{}_{nanos}", std::process::id());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    Some((
        format!("{base}{sep}options=-c%20search_path%3D{schema}"),
        schema,
    ))
}

async fn drop_schema(schema: &str) {
    let base = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    if let Ok(pool) = sqlx::PgPool::connect(&base).await {
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&pool)
            .await;
    }
}

struct Instance {
    addr: SocketAddr,
    child: Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

struct Http(Client<HttpConnector, Full<Bytes>>);

impl Http {
    async fn send(&self, method: Method, url: String, auth: Option<&str>, form: &str) -> Reply {
        let mut request = Request::builder().method(method).uri(url);
        if let Some(token) = auth {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if !form.is_empty() {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        let request = request
            .body(Full::new(Bytes::from(form.to_owned())))
            .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(30), self.0.request(request))
            .await
            .expect("no answer within 30 s")
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn me(&self, at: &Instance, token: &str) -> StatusCode {
        self.send(
            Method::GET,
            format!("http://{}/me", at.addr),
            Some(token),
            "",
        )
        .await
        .status
    }

    async fn post(&self, at: &Instance, path: &str, form: &str) -> Reply {
        self.send(
            Method::POST,
            format!("http://{}{path}", at.addr),
            None,
            form,
        )
        .await
    }

    async fn login(&self, at: &Instance, password: &str) -> Reply {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "password")
            .append_pair("username", "demo")
            .append_pair("password", password)
            .finish();
        self.post(at, "/login", &form).await
    }

    async fn refresh(&self, at: &Instance, token: &str) -> Reply {
        self.post(
            at,
            "/login",
            &format!("grant_type=refresh_token&refresh_token={token}"),
        )
        .await
    }

    async fn revoke(&self, at: &Instance, token: &str) -> Reply {
        self.post(at, "/revoke", &format!("token={token}")).await
    }
}

async fn start(database: &str, redis: &str) -> Instance {
    let port = free_port();
    let child = Command::new(examples::example("axum_server"))
        .env("DATABASE_URL", database)
        .env("REDIS_URL", redis)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "JWT_SECRET",
            "the secret both instances sign with, 32+ bytes",
        )
        .env("DEMO_PASSWORD", PASSWORD)
        .env("DEMO_SCOPES", "read")
        .env("LOGIN_RATE_PER_MINUTE", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let instance = Instance {
        addr: ([127, 0, 0, 1], port).into(),
        child,
    };
    let http = Http(Client::builder(TokioExecutor::new()).build_http());
    let started = Instant::now();
    loop {
        let health = format!("http://{}/health", instance.addr);
        let request = Request::get(health).body(Full::new(Bytes::new())).unwrap();
        if let Ok(Ok(response)) =
            tokio::time::timeout(Duration::from_secs(1), http.0.request(request)).await
            && response.status() == StatusCode::OK
        {
            return instance;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the example server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn str_of(reply: &Reply, member: &str) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body[member].as_str().unwrap().to_owned()
}

fn assert_unavailable(reply: &Reply) {
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(
        reply.body["error"], "temporarily_unavailable",
        "{}",
        reply.body
    );
    assert!(reply.headers.contains_key("retry-after"));
}

/// Polls `/me` on `at` with `token` until it answers `want`; returns how long it took.
async fn until_me(http: &Http, at: &Instance, token: &str, want: StatusCode) -> Duration {
    let start = Instant::now();
    loop {
        let status = http.me(at, token).await;
        if status == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "/me never answered {want} (last {status})"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_revocations_and_the_throttle_through_redis() {
    let Some(mut redis) = PrivateRedis::start("two instances").await else {
        return;
    };
    let Some((database, schema)) = postgres().await else {
        return;
    };
    // B reaches Redis through a proxy that can cut its connections.
    let proxy = Proxy::start(redis.port).await;
    let a = start(&database, &redis.url()).await;
    let b = start(&database, &proxy.url()).await;
    let http = Http(Client::builder(TokioExecutor::new()).build_http());

    // One login, then cheap access tokens from its refresh chain.
    let login = http.login(&a, PASSWORD).await;
    let mut refresh = str_of(&login, "refresh_token");

    // 1. An access token revoked on A is refused on B: 100 trials.
    let mut latencies = Vec::new();
    for _ in 0..100 {
        let next = http.refresh(&a, &refresh).await;
        refresh = str_of(&next, "refresh_token");
        let access = str_of(&next, "access_token");
        assert_eq!(http.me(&b, &access).await, StatusCode::OK);
        let revoked = http.revoke(&a, &access).await;
        assert_eq!(revoked.status, StatusCode::OK);
        let start = Instant::now();
        until_me(&http, &b, &access, StatusCode::UNAUTHORIZED).await;
        latencies.push(start.elapsed());
    }
    latencies.sort();
    println!(
        "revocation on A refused on B, 100 trials: p50 {:?}, p100 {:?}",
        latencies[50], latencies[99]
    );

    // 2. A logout on B ends the session's access tokens on A.
    let next = http.refresh(&b, &refresh).await;
    let (session_access, session_refresh) = (
        str_of(&next, "access_token"),
        str_of(&next, "refresh_token"),
    );
    assert_eq!(http.me(&a, &session_access).await, StatusCode::OK);
    assert_eq!(
        http.revoke(&b, &session_refresh).await.status,
        StatusCode::OK
    );
    let logout = until_me(&http, &a, &session_access, StatusCode::UNAUTHORIZED).await;
    println!("logout on B refused on A after {logout:?}");

    // 3. B's feed cut: B fails closed; a revocation made on A meanwhile applies on B after.
    let login = http.login(&a, PASSWORD).await;
    let (fresh, mut refresh) = (
        str_of(&login, "access_token"),
        str_of(&login, "refresh_token"),
    );
    let next = http.refresh(&a, &refresh).await;
    let cut_victim = str_of(&next, "access_token");
    refresh = str_of(&next, "refresh_token");
    proxy.cut();
    until_me(&http, &b, &fresh, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(http.revoke(&a, &cut_victim).await.status, StatusCode::OK);
    proxy.restore();
    until_me(&http, &b, &fresh, StatusCode::OK).await;
    assert_eq!(
        http.me(&b, &cut_victim).await,
        StatusCode::UNAUTHORIZED,
        "a revocation made while B's feed was cut was missed"
    );

    // 4. Redis stopped: 503 within the staleness bound plus the response timeout, never 200
    //    or 401 afterwards; login and revoke answer 503 with Retry-After.
    let next = http.refresh(&a, &refresh).await;
    let outage_victim = str_of(&next, "access_token");
    refresh = str_of(&next, "refresh_token");
    redis.stop();
    let closed = until_me(&http, &a, &fresh, StatusCode::SERVICE_UNAVAILABLE).await;
    until_me(&http, &b, &fresh, StatusCode::SERVICE_UNAVAILABLE).await;
    println!("Redis stopped: /me answers 503 after {closed:?}");
    for _ in 0..20 {
        for at in [&a, &b] {
            assert_eq!(http.me(at, &fresh).await, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(
                http.me(at, &cut_victim).await,
                StatusCode::SERVICE_UNAVAILABLE
            );
        }
    }
    assert_unavailable(&http.login(&a, PASSWORD).await);
    // A revocation asked now is answered 503, but Postgres already holds it: it takes effect
    // when Redis is back (the safe side; the client's retry is harmless).
    assert_unavailable(&http.revoke(&b, &outage_victim).await);

    // Back (empty): both recover without a restart, and the revocations come back from
    // Postgres.
    assert!(redis.launch().await);
    until_me(&http, &a, &fresh, StatusCode::OK).await;
    until_me(&http, &b, &fresh, StatusCode::OK).await;
    for at in [&a, &b] {
        assert_eq!(http.me(at, &cut_victim).await, StatusCode::UNAUTHORIZED);
        assert_eq!(http.me(at, &session_access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(http.me(at, &outage_victim).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(http.refresh(&b, &refresh).await.status, StatusCode::OK);

    // 5. Redis flushed: noticed, reseeded; revoked sessions stay refused.
    redis.flush().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for at in [&a, &b] {
        assert_eq!(http.me(at, &fresh).await, StatusCode::OK);
        assert_eq!(http.me(at, &cut_victim).await, StatusCode::UNAUTHORIZED);
        assert_eq!(http.me(at, &session_access).await, StatusCode::UNAUTHORIZED);
    }
    assert!(
        redis.keys("tjwt:deny:*").await >= 2,
        "Redis was not reseeded from Postgres"
    );

    // 6. 50 parallel wrong passwords over both: at most free_failures + 1 checked (400); the
    //    rest refused before any check (429).
    let mut tasks = Vec::new();
    for i in 0..50 {
        let at = if i % 2 == 0 { a.addr } else { b.addr };
        let http = Http(Client::builder(TokioExecutor::new()).build_http());
        tasks.push(tokio::spawn(async move {
            let form = "grant_type=password&username=demo&password=wrong";
            let reply = http
                .send(Method::POST, format!("http://{at}/login"), None, form)
                .await;
            (reply.status, reply.body)
        }));
    }
    let (mut checked, mut throttled, mut busy) = (0, 0, 0);
    for task in tasks {
        match task.await.unwrap() {
            (StatusCode::BAD_REQUEST, _) => checked += 1,
            (StatusCode::TOO_MANY_REQUESTS, _) => throttled += 1,
            // The hashing pool's queue is full: refused before any check, and not counted.
            (StatusCode::SERVICE_UNAVAILABLE, body)
                if body["error_description"] == "too many logins in progress" =>
            {
                busy += 1;
            }
            (other, body) => panic!("a wrong password answered {other}: {body}"),
        }
    }
    println!(
        "50 parallel wrong passwords over two instances: {checked} checked, {throttled} \
         throttled, {busy} refused by a full hashing queue"
    );
    assert!(
        (1..=FREE_FAILURES + 1).contains(&checked),
        "{checked} password checks for a burst of 50 (free_failures + 1 = {})",
        FREE_FAILURES + 1
    );

    drop((a, b));
    drop_schema(&schema).await;
}

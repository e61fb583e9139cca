//! End-to-end: the example server on a loopback socket, logins over real HTTP.
#![cfg(all(feature = "login", feature = "axum"))]

#[path = "../examples/axum_server/app.rs"]
mod app;
#[path = "../examples/common/demo.rs"]
mod demo;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tower_jwt_auth::login::password::{
    Argon2Hasher, PasswordError, PasswordHashing, PasswordPolicy, Verification, Zeroizing,
};
use tower_jwt_auth::login::{InMemoryUserStore, ThrottlePolicy, User, login_handler};
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};

const PASSWORD: &str = "correct horse battery staple";

/// A cheap policy: these tests are about the protocol, not the cost.
fn cheap() -> PasswordPolicy {
    PasswordPolicy::default().m_cost_kib(256).t_cost(1)
}

fn key() -> SigningKey {
    SigningKey::from_secret(Algorithm::HS256, &[9; 32]).unwrap()
}

fn config(scopes: &[&str]) -> app::Config {
    app::Config {
        issuer: TokenIssuer::new(key())
            .issuer("https://auth.test")
            .audience("api"),
        demo: demo::Demo {
            user: "demo".into(),
            password: PASSWORD.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        },
        policy: cheap(),
        throttle: ThrottlePolicy::default(),
    }
}

struct Server {
    addr: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Server {
    async fn start(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn example(scopes: &[&str]) -> Self {
        Self::start(app::router(config(scopes)).await.unwrap()).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn form(&self, body: &str) -> Reply {
        let ct = ("content-type", "application/x-www-form-urlencoded");
        self.send(Method::POST, "/login", &[ct], body).await
    }

    async fn login(&self, username: &str, password: &str) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "password")
            .append_pair("username", username)
            .append_pair("password", password)
            .finish();
        self.form(&body).await
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        let auth = format!("Bearer {token}");
        self.send(Method::GET, path, &[("authorization", &auth)], "")
            .await
    }
}

impl Reply {
    #[track_caller]
    fn assert_error(&self, status: StatusCode, error: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["error"], error, "{}", self.body);
        assert!(self.body["error_description"].is_string());
        assert_eq!(self.body.as_object().unwrap().len(), 2, "{}", self.body);
        assert_eq!(self.headers["content-type"], "application/json");
        assert_eq!(self.headers["cache-control"], "no-store");
        assert_eq!(self.headers["pragma"], "no-cache");
    }

    fn token(&self) -> &str {
        self.body["access_token"].as_str().unwrap()
    }
}

#[tokio::test]
async fn a_login_yields_a_token_that_opens_the_protected_route() {
    let server = Server::example(&["read"]).await;
    let reply = server.login("demo", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert_eq!(reply.headers["pragma"], "no-cache");
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 900);
    assert_eq!(reply.body["scope"], "read");
    let me = server.get("/me", reply.token()).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["sub"], "demo");
    assert_eq!(me.body["iss"], "https://auth.test");
    assert_eq!(me.body["aud"], "api");
    assert_eq!(server.get("/health", "").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_json_login_works_like_a_form_login() {
    let server = Server::example(&["read"]).await;
    let body = json!({"username": "demo", "password": PASSWORD, "scope": "read"}).to_string();
    let ct = ("content-type", "application/json; charset=utf-8");
    let reply = server.send(Method::POST, "/login", &[ct], &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        server.get("/me", reply.token()).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_token_without_the_admin_scope_gets_403_on_admin() {
    let server = Server::example(&["read"]).await;
    let token = server.login("demo", PASSWORD).await;
    let reply = server.get("/admin", token.token()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(
        reply.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains(r#"error="insufficient_scope""#)
    );
    assert_eq!(reply.body["error"], "insufficient_scope");

    let admin = Server::example(&["read", "admin"]).await;
    let token = admin.login("demo", PASSWORD).await;
    assert_eq!(
        admin.get("/admin", token.token()).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn requested_scopes_are_limited_to_those_the_user_holds() {
    let server = Server::example(&["read", "write"]).await;
    let reply = server
        .form(&format!(
            "grant_type=password&username=demo&password={}&scope=write%20admin",
            PASSWORD.replace(' ', "+")
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["scope"], "write");
    let reply = server
        .form(&format!(
            "grant_type=password&username=demo&password={}&scope=admin",
            PASSWORD.replace(' ', "+")
        ))
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST, "invalid_scope");
}

#[tokio::test]
async fn malformed_requests_get_the_rfc_6749_errors() {
    let server = Server::example(&["read"]).await;
    let pw = PASSWORD.replace(' ', "+");
    for body in [
        "grant_type=password&password=x".to_owned(),
        "grant_type=password&username=demo".to_owned(),
        "username=demo&password=x".to_owned(),
        format!("grant_type=password&username=demo&username=demo&password={pw}"),
        format!("grant_type=password&grant_type=password&username=demo&password={pw}"),
    ] {
        server
            .form(&body)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    server
        .form("grant_type=client_credentials&username=demo&password=x")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    let text = ("content-type", "text/plain");
    server
        .send(Method::POST, "/login", &[text], "username=demo")
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request");
    server
        .send(Method::POST, "/login", &[], "username=demo")
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request");
    let big = format!(
        "grant_type=password&username=demo&password={}",
        "a".repeat(17 * 1024)
    );
    server
        .form(&big)
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request");
    let get = server.send(Method::GET, "/login", &[], "").await;
    get.assert_error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request");
    assert_eq!(get.headers["allow"], "POST");
}

#[tokio::test]
async fn an_over_long_password_is_refused_cleanly_and_long_unicode_ones_work() {
    let server = Server::example(&["read"]).await;
    server
        .login("demo", &"x".repeat(1025))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");

    let hasher = Argon2Hasher::new(cheap()).unwrap();
    let long = "🔑".repeat(256); // exactly 1024 bytes, never truncated
    let users = InMemoryUserStore::new();
    users.insert(
        "ada",
        User::new("u1", hasher.hash_blocking(&long).unwrap(), ["read"]),
    );
    let issuer = TokenIssuer::new(key());
    let app = Router::new().route_service("/login", login_handler(users, issuer, hasher));
    let server = Server::start(app).await;
    assert_eq!(server.login("ada", &long).await.status, StatusCode::OK);
    let almost = format!("{}x", &long[..long.len() - 4]);
    server
        .login("ada", &almost)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
}

/// Counts verifications, to show each refused login ran one.
#[derive(Clone)]
struct Counting {
    inner: Argon2Hasher,
    verifications: Arc<AtomicUsize>,
    unknown_users: Arc<AtomicUsize>,
}

impl PasswordHashing for Counting {
    async fn hash(&self, password: Zeroizing<String>) -> Result<String, PasswordError> {
        self.inner.hash(password).await
    }

    async fn verify(
        &self,
        password: Zeroizing<String>,
        stored: Option<String>,
    ) -> Result<Verification, PasswordError> {
        if stored.is_none() {
            self.unknown_users.fetch_add(1, Ordering::SeqCst);
        }
        let verification = self.inner.verify(password, stored).await;
        // Count the verifications argon2 actually ran (refusals such as TooLong run none).
        if verification.is_ok() {
            self.verifications.fetch_add(1, Ordering::SeqCst);
        }
        verification
    }
}

#[tokio::test]
async fn unknown_users_wrong_passwords_and_disabled_accounts_look_the_same() {
    let inner = Argon2Hasher::new(cheap()).unwrap();
    let hasher = Counting {
        inner: inner.clone(),
        verifications: Arc::default(),
        unknown_users: Arc::default(),
    };
    let users = InMemoryUserStore::new();
    let hash = inner.hash_blocking(PASSWORD).unwrap();
    users.insert("ada", User::new("u1", hash.clone(), ["read"]));
    users.insert("bob", User::new("u2", hash, ["read"]).disabled(true));
    let service = login_handler(users, TokenIssuer::new(key()), hasher.clone());
    let server = Server::start(Router::new().route_service("/login", service)).await;

    let unknown = server.login("nobody", PASSWORD).await;
    assert_eq!(hasher.unknown_users.load(Ordering::SeqCst), 1);
    assert_eq!(hasher.verifications.load(Ordering::SeqCst), 1);
    let wrong = server.login("ada", "wrong password").await;
    assert_eq!(hasher.verifications.load(Ordering::SeqCst), 2);
    let disabled = server.login("bob", PASSWORD).await;
    assert_eq!(hasher.verifications.load(Ordering::SeqCst), 3);
    for reply in [&unknown, &wrong, &disabled] {
        reply.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
        assert_eq!(reply.body, unknown.body);
    }
    // A password over the cap is refused before any verification.
    server.login("ada", &"x".repeat(2000)).await;
    assert_eq!(hasher.verifications.load(Ordering::SeqCst), 3);
    assert_eq!(server.login("ada", PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn failed_attempts_are_throttled_with_retry_after_and_recover() {
    let mut config = config(&["read"]);
    config.throttle = ThrottlePolicy::default()
        .free_failures(2)
        .delays(Duration::from_millis(300), Duration::from_secs(2));
    let server = Server::start(app::router(config).await.unwrap()).await;
    for _ in 0..3 {
        server
            .login("demo", "wrong")
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    // Blocked now, even with the right password, and told when to come back.
    let blocked = server.login("demo", PASSWORD).await;
    blocked.assert_error(StatusCode::TOO_MANY_REQUESTS, "slow_down");
    assert_eq!(blocked.headers["retry-after"], "1");
    // Case variants are the same account.
    server
        .login("DEMO", PASSWORD)
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "slow_down");
    // Other accounts are not affected.
    server
        .login("someone", "x")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let reply = server.login("demo", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn a_hash_below_the_policy_is_replaced_on_login() {
    let weak = Argon2Hasher::new(PasswordPolicy::default().m_cost_kib(64).t_cost(1)).unwrap();
    let users = InMemoryUserStore::new();
    users.insert(
        "ada",
        User::new("u1", weak.hash_blocking(PASSWORD).unwrap(), ["read"]),
    );
    let hasher = Argon2Hasher::new(cheap()).unwrap();
    let service = login_handler(users.clone(), TokenIssuer::new(key()), hasher);
    let server = Server::start(Router::new().route_service("/login", service)).await;
    assert_eq!(server.login("ada", PASSWORD).await.status, StatusCode::OK);
    let stored = users.get("ada").unwrap().password_hash;
    assert!(stored.contains("m=256,t=1"), "{stored}");
    assert_eq!(server.login("ada", PASSWORD).await.status, StatusCode::OK);
}

/// Always busy, or always failing: the login answers 503 with `Retry-After`.
#[derive(Clone)]
struct Saturated;

impl PasswordHashing for Saturated {
    async fn hash(&self, _: Zeroizing<String>) -> Result<String, PasswordError> {
        Err(PasswordError::Busy)
    }

    async fn verify(
        &self,
        _: Zeroizing<String>,
        _: Option<String>,
    ) -> Result<Verification, PasswordError> {
        Err(PasswordError::Busy)
    }
}

#[tokio::test]
async fn a_saturated_hashing_pool_answers_503_with_retry_after() {
    let service = login_handler(InMemoryUserStore::new(), TokenIssuer::new(key()), Saturated);
    let server = Server::start(Router::new().route_service("/login", service)).await;
    let reply = server.login("ada", PASSWORD).await;
    reply.assert_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
    assert_eq!(reply.headers["retry-after"], "1");
}

/// While logins hash, a protected request on the same single-threaded runtime still answers:
/// hashing runs on the hasher's own threads, never on the executor's.
#[tokio::test(flavor = "current_thread")]
async fn a_login_storm_does_not_block_the_runtime() {
    let mut config = config(&["read"]);
    // Real cost: with one hash per core at a time, the storm takes a while to drain.
    config.policy = PasswordPolicy::default();
    let server = Arc::new(Server::example_with(config).await);
    let token = server.login("demo", PASSWORD).await.token().to_owned();

    let done = Arc::new(AtomicUsize::new(0));
    const STORM: usize = 24;
    let mut logins = tokio::task::JoinSet::new();
    for i in 0..STORM {
        let (server, done) = (Arc::clone(&server), Arc::clone(&done));
        logins.spawn(async move {
            // Distinct (unknown) users: each login runs a full verification, none is throttled.
            let reply = server.login(&format!("user-{i}"), "wrong password").await;
            done.fetch_add(1, Ordering::SeqCst);
            reply.status
        });
    }
    // Let the storm reach the server before the protected call.
    tokio::task::yield_now().await;
    let me = server.get("/me", &token).await;
    assert_eq!(me.status, StatusCode::OK);
    let finished = done.load(Ordering::SeqCst);
    assert!(
        finished < STORM,
        "the protected request waited for the whole login storm ({finished} logins done)"
    );
    while let Some(status) = logins.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::BAD_REQUEST);
    }
}

impl Server {
    async fn example_with(config: app::Config) -> Self {
        Self::start(app::router(config).await.unwrap()).await
    }
}

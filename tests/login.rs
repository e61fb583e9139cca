//! End-to-end: the example server on a loopback socket, logins over real HTTP.
#![cfg(all(feature = "login", feature = "axum"))]

#[path = "../examples/axum_server/app.rs"]
mod app;
#[path = "../examples/common/demo.rs"]
mod demo;
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use support::hashing::Saturated;
use tower_jwt_auth::login::password::{
    Argon2Hasher, PasswordError, PasswordHashing, PasswordPolicy, Verification, Zeroizing,
};
use tower_jwt_auth::login::{InMemoryUserStore, ThrottlePolicy, User, UserStore, login_handler};
use tower_jwt_auth::verify::BoxError;
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
        // The per-client limit has its own test; the rest log in as often as they need.
        login_rate_per_minute: 0,
        database_url: None,
        redis_url: None,
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
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
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

/// Counts verifications, to show each refused login ran one; when gated, also holds each
/// answer until the gate opens, so that a login can never finish before the test says so.
#[derive(Clone)]
struct Counting {
    inner: Argon2Hasher,
    verifications: Arc<AtomicUsize>,
    unknown_users: Arc<AtomicUsize>,
    gate: Option<Arc<tokio::sync::Semaphore>>,
}

impl Counting {
    fn new(inner: Argon2Hasher) -> Self {
        Self {
            inner,
            verifications: Arc::default(),
            unknown_users: Arc::default(),
            gate: None,
        }
    }

    /// Holds every answer until [`open`](Self::open).
    fn gated(inner: Argon2Hasher) -> Self {
        Self {
            gate: Some(Arc::new(tokio::sync::Semaphore::new(0))),
            ..Self::new(inner)
        }
    }

    fn open(&self, answers: usize) {
        self.gate
            .as_ref()
            .expect("a gated hasher")
            .add_permits(answers);
    }

    fn verified(&self) -> usize {
        self.verifications.load(Ordering::SeqCst)
    }
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
        // Count the verifications argon2 actually ran: refusals such as TooLong run none; an
        // unusable stored hash runs one, against the dummy hash.
        if matches!(
            verification,
            Ok(_) | Err(PasswordError::MalformedHash(_) | PasswordError::UnsupportedHash(_))
        ) {
            self.verifications.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        verification
    }
}

#[tokio::test]
async fn unknown_users_wrong_passwords_and_disabled_accounts_look_the_same() {
    let inner = Argon2Hasher::new(cheap()).unwrap();
    let hasher = Counting::new(inner.clone());
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
    let (clock, elapsed) = manual_clock();
    config.throttle = clock
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
    // Case variants share the record of the normalised name, whether or not the store takes
    // them for the account.
    server
        .login("DEMO", PASSWORD)
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "slow_down");
    // Other accounts are not affected.
    server
        .login("someone", "x")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    // Still blocked 1 ms before the block ends, let in when it has.
    elapsed.store(299, Ordering::SeqCst);
    server
        .login("demo", PASSWORD)
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "slow_down");
    elapsed.store(300, Ordering::SeqCst);
    let reply = server.login("demo", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// A throttle policy on a clock that moves only when told to (milliseconds from a fixed start).
fn manual_clock() -> (ThrottlePolicy, Arc<AtomicU64>) {
    let start = Instant::now();
    let elapsed = Arc::new(AtomicU64::new(0));
    let read = Arc::clone(&elapsed);
    let policy = ThrottlePolicy::default()
        .clock(move || start + Duration::from_millis(read.load(Ordering::SeqCst)));
    (policy, elapsed)
}

/// Matches usernames loosely, as many stores do: case, Unicode compatibility forms and
/// surrounding white space are ignored.
#[derive(Clone)]
struct LooseStore(InMemoryUserStore);

impl UserStore for LooseStore {
    async fn find_user(&self, username: &str) -> Result<Option<User>, BoxError> {
        let folded: String = username.trim().to_lowercase();
        let folded = folded.replace('\u{ff41}', "a").replace('\u{ff44}', "d");
        self.0.find_user(&folded).await
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>, BoxError> {
        self.0.user_by_id(id).await
    }

    async fn set_password_hash(&self, id: &str, hash: String) -> Result<(), BoxError> {
        self.0.set_password_hash(id, hash).await
    }
}

/// A login server over `users` whose hasher counts the verifications it runs.
async fn counting_server(
    users: impl UserStore + Clone,
    throttle: ThrottlePolicy,
) -> (Server, Counting) {
    let hasher = Counting::new(Argon2Hasher::new(cheap()).unwrap());
    let service = login_handler(users, TokenIssuer::new(key()), hasher.clone()).throttle(throttle);
    let server = Server::start(Router::new().route_service("/login", service)).await;
    (server, hasher)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_parallel_burst_of_wrong_passwords_costs_at_most_free_failures_plus_one_checks() {
    let users = InMemoryUserStore::new();
    let hash = Argon2Hasher::new(cheap())
        .unwrap()
        .hash_blocking(PASSWORD)
        .unwrap();
    users.insert("ada", User::new("u1", hash, ["read"]));
    let (clock, _) = manual_clock();
    // Every verification is held at a gate until all 50 attempts are either held there or
    // answered: the attempts overlap for certain, as a real burst's would, whatever the
    // scheduling (run one after another, check-then-count would also cost only 6).
    let gated = Counting::gated(Argon2Hasher::new(cheap()).unwrap());
    let service = login_handler(users, TokenIssuer::new(key()), gated.clone())
        .throttle(clock.free_failures(5));
    let server = Arc::new(Server::start(Router::new().route_service("/login", service)).await);
    let answered = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (server, answered) = (Arc::clone(&server), Arc::clone(&answered));
        tasks.spawn(async move {
            let reply = server.login("ada", "wrong").await;
            answered.fetch_add(1, Ordering::SeqCst);
            reply
        });
    }
    while gated.verified() + answered.load(Ordering::SeqCst) < 50 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let checked = gated.verified();
    gated.open(50);
    let mut replies = Vec::new();
    while let Some(reply) = tasks.join_next().await {
        replies.push(reply.unwrap());
    }
    assert!(
        checked <= 6,
        "{checked} password checks for 50 parallel attempts"
    );
    let throttled: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(throttled.len(), 50 - checked);
    for reply in &throttled {
        reply.assert_error(StatusCode::TOO_MANY_REQUESTS, "slow_down");
        assert!(
            reply.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                >= 1
        );
    }
    for reply in replies
        .iter()
        .filter(|r| r.status != StatusCode::TOO_MANY_REQUESTS)
    {
        reply.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
}

#[tokio::test]
async fn spellings_of_one_account_share_its_free_failures() {
    let users = InMemoryUserStore::new();
    let hash = Argon2Hasher::new(cheap())
        .unwrap()
        .hash_blocking(PASSWORD)
        .unwrap();
    users.insert("ada", User::new("u1", hash, ["read"]));
    let (clock, _) = manual_clock();
    let (server, _) = counting_server(LooseStore(users), clock.free_failures(2)).await;
    // Three failures under three spellings the store takes for one account.
    for name in ["Ada", "ada  ", "\u{ff41}\u{ff44}\u{ff41}"] {
        server
            .login(name, "wrong")
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    for name in ["ada", "ADA", " Ada"] {
        server
            .login(name, PASSWORD)
            .await
            .assert_error(StatusCode::TOO_MANY_REQUESTS, "slow_down");
    }
    // Unknown names are keyed on their normalised spelling.
    for name in ["Nobody", "nobody ", "NOBODY"] {
        server
            .login(name, "x")
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    server
        .login("nobody", "x")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "slow_down");
}

#[tokio::test]
async fn an_unusable_stored_hash_costs_a_full_check_and_counts_as_a_failure() {
    let users = InMemoryUserStore::new();
    users.insert("sso", User::new("u1", "", ["read"]));
    users.insert("locked", User::new("u2", "!", ["read"]));
    let (clock, _) = manual_clock();
    let (server, hasher) = counting_server(users, clock.free_failures(1)).await;
    for (round, name) in ["sso", "locked"].into_iter().enumerate() {
        let reply = server.login(name, PASSWORD).await;
        reply.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
        // One full verification (against the dummy hash), as for an unknown user.
        assert_eq!(hasher.verifications.load(Ordering::SeqCst), round + 1);
    }
    // Each refusal was counted: one more failure each, and the accounts are blocked.
    for name in ["sso", "locked"] {
        server
            .login(name, PASSWORD)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
        server
            .login(name, PASSWORD)
            .await
            .assert_error(StatusCode::TOO_MANY_REQUESTS, "slow_down");
    }
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

#[tokio::test]
async fn a_saturated_hashing_pool_answers_503_with_retry_after() {
    let service = login_handler(InMemoryUserStore::new(), TokenIssuer::new(key()), Saturated);
    let server = Server::start(Router::new().route_service("/login", service)).await;
    let reply = server.login("ada", PASSWORD).await;
    reply.assert_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
    assert_eq!(reply.headers["retry-after"], "1");
}

/// While logins are in flight, a protected request on the same single-threaded runtime still
/// answers. (That the argon2 work itself runs on the hasher's threads, never the caller's, is
/// `the_work_runs_on_a_named_worker_thread_not_the_callers` in `src/login/password/tests.rs`.)
#[tokio::test(flavor = "current_thread")]
async fn a_login_storm_does_not_block_the_runtime() {
    let inner = Argon2Hasher::new(cheap()).unwrap();
    let users = InMemoryUserStore::new();
    users.insert(
        "demo",
        User::new("u1", inner.hash_blocking(PASSWORD).unwrap(), ["read"]),
    );
    let gated = Counting::gated(inner);
    let issuer = TokenIssuer::new(key());
    let app = Router::new()
        .route("/me", axum::routing::get(|| async { "me" }))
        .layer(issuer.layer())
        .route_service(
            "/login",
            login_handler(users, issuer.clone(), gated.clone()),
        );
    let server = Arc::new(Server::start(app).await);
    let token = issuer.issue("u1", ["read"]).unwrap().access_token;

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
    // Wait until some logins have verified and are held: the storm is in flight.
    while gated.verified() == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let me = server.get("/me", &token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        done.load(Ordering::SeqCst),
        0,
        "no login can finish before the gate opens"
    );
    gated.open(STORM);
    while let Some(status) = logins.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::BAD_REQUEST);
    }
    assert_eq!(done.load(Ordering::SeqCst), STORM);
}

#[tokio::test]
async fn one_client_flooding_the_token_endpoint_gets_429_before_any_password_check() {
    // Per client IP, whatever the account: what the per-account throttle cannot stop.
    let mut config = config(&["read"]);
    config.login_rate_per_minute = 1;
    let server = Server::start(app::router(config).await.unwrap()).await;
    for i in 0..app::LOGIN_BURST {
        server
            .login(&format!("sprayed-{i}"), "Winter2026!")
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let limited = server.login("demo", PASSWORD).await;
    limited.assert_error(StatusCode::TOO_MANY_REQUESTS, "slow_down");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Other routes are not limited, nor are unknown paths (the app's fallback).
    let health = server.send(Method::GET, "/health", &[], "").await;
    assert_eq!(health.status, StatusCode::OK);
    for _ in 0..2 * app::LOGIN_BURST {
        let missing = server.send(Method::GET, "/nope", &[], "").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn the_throttle_answers_the_same_whether_or_not_the_account_exists() {
    // Exact-match store: "demo" exists, "DEMO" does not, "ghost" and "GHOST" do not. Spread
    // over two spellings, the failures must block both names alike, or the answers would
    // tell which names are accounts.
    let users = InMemoryUserStore::new();
    let hash = Argon2Hasher::new(cheap())
        .unwrap()
        .hash_blocking(PASSWORD)
        .unwrap();
    users.insert("demo", User::new("u1", hash, ["read"]));
    let (clock, _) = manual_clock();
    let (server, _) = counting_server(users, clock.free_failures(5)).await;
    for (name, shout) in [("demo", "DEMO"), ("ghost", "GHOST")] {
        for spelling in [name, name, name, shout, shout, shout] {
            server
                .login(spelling, "wrong")
                .await
                .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
        server
            .login(name, "wrong")
            .await
            .assert_error(StatusCode::TOO_MANY_REQUESTS, "slow_down");
    }
}

/// The example server over a SQLite file: a restart (a new server over the same file) keeps
/// users, sessions and revocations, and the file never holds a refresh token in clear.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_keeps_sessions_and_revocations_across_a_restart_in_sqlite() {
    let path = std::env::temp_dir().join(format!(
        "tjwt-example-{}-{}.db",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let url = format!("sqlite://{}", path.display());
    let with_db = |password: &str| {
        let mut config = config(&["read"]);
        config.database_url = Some(url.clone());
        config.demo.password = password.to_owned();
        config
    };
    let refresh = async |server: &Server, token: &str| {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", token)
            .finish();
        server.form(&body).await
    };
    let revoke = async |server: &Server, token: &str| {
        let body = format!("token={token}");
        let ct = ("content-type", "application/x-www-form-urlencoded");
        server.send(Method::POST, "/revoke", &[ct], &body).await
    };

    let first = Server::start(app::router(with_db(PASSWORD)).await.unwrap()).await;
    let login = first.login("demo", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let spent = login.body["refresh_token"].as_str().unwrap().to_owned();
    let rotated = refresh(&first, &spent).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let current = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    let access = rotated.body["access_token"].as_str().unwrap().to_owned();
    let other = first.login("demo", PASSWORD).await;
    let revoked_access = other.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(revoke(&first, &revoked_access).await.status, StatusCode::OK);
    assert_eq!(
        first.get("/me", &revoked_access).await.status,
        StatusCode::UNAUTHORIZED
    );
    let file = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
    for token in [&spent, &current] {
        let needle = token.as_bytes();
        assert!(
            !file.windows(needle.len()).any(|w| w == needle)
                && !wal.windows(needle.len()).any(|w| w == needle),
            "a refresh token is in the database file in clear"
        );
    }

    // The restart: the demo password changed in the environment, the same database.
    let second = Server::start(app::router(with_db("a new demo password")).await.unwrap()).await;
    second
        .login("demo", PASSWORD)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(
        second.login("demo", "a new demo password").await.status,
        StatusCode::OK,
        "the demo account was not updated at start-up"
    );
    // The revocation made before the restart holds.
    assert_eq!(
        second.get("/me", &revoked_access).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(second.get("/me", &access).await.status, StatusCode::OK);
    // A token spent before the restart is still a reuse: the family ends, its access tokens too.
    refresh(&second, &spent)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    refresh(&second, &current)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(
        second.get("/me", &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    drop((first, second));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_asymmetric_issuer_publishes_discovery_and_rotates_without_downtime() {
    let mut config = config(&["read"]);
    let issuer = TokenIssuer::new(SigningKey::generate(Algorithm::ES256).unwrap())
        .issuer("http://127.0.0.1:3000")
        .audience("api");
    config.issuer = issuer.clone();
    let server = Server::start(app::router(config).await.unwrap()).await;

    // Both discovery documents, the same RFC 8414 metadata.
    let oauth = server
        .send(
            Method::GET,
            "/.well-known/oauth-authorization-server",
            &[],
            "",
        )
        .await;
    let oidc = server
        .send(Method::GET, "/.well-known/openid-configuration", &[], "")
        .await;
    assert_eq!(oauth.status, StatusCode::OK);
    assert_eq!(oauth.headers["content-type"], "application/json");
    assert_eq!(oidc.body, oauth.body);
    let doc = &oauth.body;
    assert_eq!(doc["issuer"], "http://127.0.0.1:3000");
    assert_eq!(
        doc["jwks_uri"],
        "http://127.0.0.1:3000/.well-known/jwks.json"
    );
    assert_eq!(doc["token_endpoint"], "http://127.0.0.1:3000/login");
    assert_eq!(doc["revocation_endpoint"], "http://127.0.0.1:3000/revoke");
    assert_eq!(
        doc["grant_types_supported"],
        json!(["password", "refresh_token"])
    );
    assert_eq!(
        doc["access_token_signing_alg_values_supported"],
        json!(["ES256"])
    );

    let old = server.login("demo", PASSWORD).await;
    assert_eq!(old.status, StatusCode::OK, "{}", old.body);
    let old_kid = kid_of(old.token());

    // A clone of the issuer (as main.rs holds for SIGHUP) rotates the router's keys.
    issuer
        .rotate(SigningKey::generate(Algorithm::ES256).unwrap())
        .unwrap();
    let new = server.login("demo", PASSWORD).await;
    let new_kid = kid_of(new.token());
    assert_ne!(new_kid, old_kid);
    for token in [old.token(), new.token()] {
        let me = server.get("/me", token).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
        assert_eq!(me.body["sub"], "demo");
    }
    let jwks = server
        .send(Method::GET, "/.well-known/jwks.json", &[], "")
        .await;
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [new_kid.as_str(), old_kid.as_str()]);
}

#[tokio::test]
async fn a_shared_secret_or_a_nameless_issuer_publishes_no_discovery() {
    // config(): HS256, named: no JWKS, no discovery.
    let server = Server::example(&["read"]).await;
    for path in [
        "/.well-known/jwks.json",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let reply = server.send(Method::GET, path, &[], "").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    // ES256 without a name: the JWKS, no discovery.
    let mut config = config(&["read"]);
    config.issuer = TokenIssuer::new(SigningKey::generate(Algorithm::ES256).unwrap());
    let server = Server::start(app::router(config).await.unwrap()).await;
    let reply = server
        .send(Method::GET, "/.well-known/jwks.json", &[], "")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = server
        .send(Method::GET, "/.well-known/openid-configuration", &[], "")
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

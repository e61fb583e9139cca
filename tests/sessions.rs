//! Sessions end to end, in memory: refresh grants, reuse detection, scope narrowing, disabled
//! users, store failures, and the RFC 7009 revocation endpoint, each answer asserted with its
//! status, headers and body. The SQL stores run the same conformance suite in their own files.
#![cfg(all(feature = "login", feature = "axum", feature = "testkit"))]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_jwt_auth::axum::JwtClaims;
use tower_jwt_auth::login::password::{Argon2Hasher, PasswordPolicy};
use tower_jwt_auth::login::{
    InMemoryThrottle, InMemoryUserStore, ThrottlePolicy, User, login_handler,
};
use tower_jwt_auth::session::{
    Family, InMemorySessionStore, RefreshPolicy, RefreshStore, RevocationStore, Revoked, Rotation,
    RotationRules, Sessions, TokenHash, revocation_handler,
};
use tower_jwt_auth::verify::{BoxError, InMemoryDenylist};
use tower_jwt_auth::{Algorithm, Claims, SigningKey, TokenIssuer, testkit};

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_in_memory_stores_pass_the_conformance_suite() {
    testkit::check_session_store(InMemorySessionStore::new()).await;
    let policy = ThrottlePolicy::default()
        .free_failures(3)
        .delays(Duration::from_secs(60), Duration::from_secs(60));
    testkit::check_throttle_store(InMemoryThrottle::new(policy), 3).await;
    let users = InMemoryUserStore::new();
    let insert = users.clone();
    testkit::check_user_store(users, move |name, user| {
        insert.insert(name, user);
        async {}
    })
    .await;
}

/// A session store that fails while `down` is set: every call, reads included.
#[derive(Clone, Default)]
struct Flaky {
    inner: InMemorySessionStore,
    down: Arc<AtomicBool>,
}

impl Flaky {
    fn check(&self) -> Result<(), BoxError> {
        if self.down.load(Ordering::SeqCst) {
            Err("the database is down".into())
        } else {
            Ok(())
        }
    }
}

impl RefreshStore for Flaky {
    async fn create_family(
        &self,
        family: &Family,
        first: &TokenHash,
        first_expires_at: i64,
    ) -> Result<(), BoxError> {
        self.check()?;
        self.inner
            .create_family(family, first, first_expires_at)
            .await
    }
    async fn family_of(&self, token: &TokenHash) -> Result<Option<Family>, BoxError> {
        self.check()?;
        self.inner.family_of(token).await
    }
    async fn rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        rules: RotationRules,
    ) -> Result<Rotation, BoxError> {
        self.check()?;
        self.inner.rotate(presented, next, rules).await
    }
    async fn revoke_family(&self, family_id: &str, now: i64) -> Result<Option<Family>, BoxError> {
        self.check()?;
        self.inner.revoke_family(family_id, now).await
    }
    async fn purge_expired(&self, before: i64) -> Result<u64, BoxError> {
        self.check()?;
        self.inner.purge_expired(before).await
    }
}

impl RevocationStore for Flaky {
    async fn revoke_token(
        &self,
        issuer: Option<&str>,
        jwt_id: &str,
        expires_at: i64,
    ) -> Result<(), BoxError> {
        self.check()?;
        self.inner.revoke_token(issuer, jwt_id, expires_at).await
    }
    async fn revocations(
        &self,
        tokens_after: i64,
        sessions_after: i64,
    ) -> Result<Vec<Revoked>, BoxError> {
        self.check()?;
        self.inner.revocations(tokens_after, sessions_after).await
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct App {
    router: Router,
    users: InMemoryUserStore,
    store: Flaky,
    issuer: TokenIssuer,
    /// Seconds added to the real time by the sessions' clock.
    offset: Arc<AtomicI64>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    raw: Vec<u8>,
}

fn issuer() -> TokenIssuer {
    TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[5; 32]).unwrap())
        .issuer("https://auth.test")
        .audience("api")
}

fn hasher() -> Argon2Hasher {
    Argon2Hasher::new(PasswordPolicy::default().m_cost_kib(256).t_cost(1)).unwrap()
}

async fn me(JwtClaims(claims): JwtClaims<Claims>) -> axum::Json<Claims> {
    axum::Json(Arc::unwrap_or_clone(claims))
}

fn app_over(store: Flaky, users: InMemoryUserStore, grace: Duration) -> App {
    let issuer = issuer();
    let offset = Arc::new(AtomicI64::new(0));
    let clock = Arc::clone(&offset);
    let denylist = InMemoryDenylist::new();
    let sessions = Sessions::new(store.clone(), issuer.clone(), denylist.clone()).policy(
        RefreshPolicy::default()
            .grace(grace)
            .clock(move || now() + clock.load(Ordering::SeqCst)),
    );
    let login = login_handler(users.clone(), issuer.clone(), hasher()).sessions(sessions.clone());
    let router = Router::new()
        .route("/me", get(me))
        .layer(issuer.layer().revocation(denylist))
        .route_service("/login", login)
        .route_service("/revoke", revocation_handler(sessions));
    App {
        router,
        users,
        store,
        issuer,
        offset,
    }
}

fn app() -> App {
    let users = InMemoryUserStore::new();
    let hash = hasher().hash_blocking(PASSWORD).unwrap();
    users.insert("ada", User::new("user-1", hash, ["read", "write"]));
    app_over(Flaky::default(), users, Duration::ZERO)
}

impl App {
    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let raw = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            raw,
        }
    }

    async fn form(&self, path: &str, body: &str) -> Reply {
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body.to_owned()))
                .unwrap(),
        )
        .await
    }

    async fn login(&self) -> Reply {
        self.form(
            "/login",
            &format!("grant_type=password&username=ada&password={PASSWORD}"),
        )
        .await
    }

    async fn refresh(&self, token: &str, scope: Option<&str>) -> Reply {
        let scope = scope.map_or(String::new(), |s| format!("&scope={s}"));
        self.form(
            "/login",
            &format!("grant_type=refresh_token&refresh_token={token}{scope}"),
        )
        .await
    }

    async fn revoke(&self, token: &str) -> Reply {
        self.form("/revoke", &format!("token={token}")).await
    }

    async fn me(&self, access: &str) -> Reply {
        self.send(
            Request::get("/me")
                .header(header::AUTHORIZATION, format!("Bearer {access}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }
}

fn tokens(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let access = reply.body["access_token"].as_str().unwrap().to_owned();
    let refresh = reply.body["refresh_token"].as_str().unwrap().to_owned();
    (access, refresh)
}

fn assert_no_store(reply: &Reply) {
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(reply.headers[header::PRAGMA], "no-cache");
}

fn assert_error(reply: &Reply, status: StatusCode, error: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["error"], error, "{}", reply.body);
    assert!(reply.body["error_description"].is_string());
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    assert_no_store(reply);
}

fn assert_invalid_token(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    let challenge = reply.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
}

fn claims_of(app: &App, access: &str) -> Claims {
    app.issuer.verifier().verify::<Claims>(access).unwrap()
}

#[tokio::test]
async fn a_password_grant_starts_a_session_and_each_refresh_rotates_it() {
    let app = app();
    let first = app.login().await;
    assert_no_store(&first);
    assert_eq!(first.body["token_type"], "Bearer");
    assert_eq!(first.body["scope"], "read write");
    let (access, refresh) = tokens(&first);
    assert_eq!(refresh.len(), 43, "256 bits, base64url");
    let sid = claims_of(&app, &access).extra["sid"]
        .as_str()
        .unwrap()
        .to_owned();

    let second = app.refresh(&refresh, None).await;
    assert_no_store(&second);
    let (access2, refresh2) = tokens(&second);
    assert_ne!(refresh2, refresh, "the refresh token was not rotated");
    assert_eq!(second.body["scope"], "read write");
    assert_eq!(second.body["expires_in"], 900);
    let claims = claims_of(&app, &access2);
    assert_eq!(claims.extra["sid"], sid.as_str(), "the family changed");
    assert_eq!(claims.sub.as_deref(), Some("user-1"));
    assert_eq!(app.me(&access2).await.status, StatusCode::OK);
    assert_eq!(app.me(&access).await.status, StatusCode::OK);

    // JSON bodies carry the refresh grant too.
    let third = app
        .send(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"grant_type": "refresh_token", "refresh_token": refresh2}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    let (_, refresh3) = tokens(&third);
    assert_ne!(refresh3, refresh2);
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_family_and_its_access_tokens() {
    let app = app();
    let (access1, refresh1) = tokens(&app.login().await);
    let (access2, refresh2) = tokens(&app.refresh(&refresh1, None).await);
    // Another session of the same user is not touched.
    let (other_access, other_refresh) = tokens(&app.login().await);

    let reuse = app.refresh(&refresh1, None).await;
    assert_error(&reuse, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(reuse.headers.get(header::RETRY_AFTER).is_none());
    // The newest token of the family is refused as well.
    assert_error(
        &app.refresh(&refresh2, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    // And every access token issued in it, by its sid.
    assert_invalid_token(&app.me(&access1).await);
    assert_invalid_token(&app.me(&access2).await);
    assert_eq!(app.me(&other_access).await.status, StatusCode::OK);
    assert_eq!(
        app.refresh(&other_refresh, None).await.status,
        StatusCode::OK
    );
    // Nothing of a refresh token in an error body.
    assert!(!String::from_utf8_lossy(&reuse.raw).contains(&refresh1));
}

#[tokio::test]
async fn the_scope_can_be_narrowed_but_never_widened() {
    let app = app();
    let (_, refresh) = tokens(&app.login().await);
    let narrowed = app.refresh(&refresh, Some("read")).await;
    let (access, refresh) = tokens(&narrowed);
    assert_eq!(narrowed.body["scope"], "read");
    assert_eq!(claims_of(&app, &access).scope.as_deref(), Some("read"));
    // Narrowing is per refresh: omitted means the family's grant at login.
    let (_, refresh) = tokens(&app.refresh(&refresh, None).await);

    let widened = app.refresh(&refresh, Some("read%20admin")).await;
    assert_error(&widened, StatusCode::BAD_REQUEST, "invalid_scope");
    // Refused before anything rotated: the same token still refreshes.
    assert_eq!(app.refresh(&refresh, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_refresh_grants_no_scope_the_user_has_lost_since() {
    let app = app();
    let (_, refresh) = tokens(&app.login().await);
    let mut user = app.users.get("ada").unwrap();
    user.scopes = vec!["read".into()];
    app.users.insert("ada", user);
    let reply = app.refresh(&refresh, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["scope"], "read");
}

#[tokio::test]
async fn a_disabled_user_ends_the_family() {
    let app = app();
    let (access, refresh) = tokens(&app.login().await);
    let user = app.users.get("ada").unwrap();
    app.users.insert("ada", user.clone().disabled(true));
    assert_error(
        &app.refresh(&refresh, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    assert_invalid_token(&app.me(&access).await);
    // Enabled again: the family stays ended.
    app.users.insert("ada", user.disabled(false));
    assert_error(
        &app.refresh(&refresh, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
}

#[tokio::test]
async fn idle_and_absolute_lifetimes_end_a_family() {
    let app = app();
    let (_, refresh) = tokens(&app.login().await);
    // Refreshed every 6 days (idle 7): alive until the 30th day, never after.
    let mut token = refresh;
    for day in [6, 12, 18, 24] {
        app.offset.store(day * 86_400, Ordering::SeqCst);
        token = tokens(&app.refresh(&token, None).await).1;
    }
    app.offset.store(30 * 86_400, Ordering::SeqCst);
    assert_error(
        &app.refresh(&token, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );

    let (_, idle) = tokens(&app.login().await);
    app.offset.store(37 * 86_400 + 1, Ordering::SeqCst);
    assert_error(
        &app.refresh(&idle, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
}

#[tokio::test]
async fn a_grace_period_lets_the_immediate_predecessor_retry() {
    let users = InMemoryUserStore::new();
    let hash = hasher().hash_blocking(PASSWORD).unwrap();
    users.insert("ada", User::new("user-1", hash, ["read"]));
    let app = app_over(Flaky::default(), users, Duration::from_secs(10));
    let (_, refresh1) = tokens(&app.login().await);
    let (_, lost) = tokens(&app.refresh(&refresh1, None).await);
    // The response carrying `lost` never arrived: the client retries with refresh1.
    let (_, refresh2) = tokens(&app.refresh(&refresh1, None).await);
    assert_ne!(refresh2, lost);
    assert_eq!(app.refresh(&refresh2, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_failing_store_answers_503_and_changes_nothing() {
    let app = app();
    let (access, refresh) = tokens(&app.login().await);
    app.store.down.store(true, Ordering::SeqCst);
    for reply in [
        app.refresh(&refresh, None).await,
        app.login().await,
        app.revoke(&refresh).await,
        app.revoke(&access).await,
    ] {
        assert_error(
            &reply,
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
        );
        assert_eq!(reply.headers[header::RETRY_AFTER], "1");
    }
    app.store.down.store(false, Ordering::SeqCst);
    // Nothing was rotated or revoked: the same token refreshes once, the access token works.
    assert_eq!(app.me(&access).await.status, StatusCode::OK);
    assert_eq!(app.refresh(&refresh, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_refresh_token_that_is_not_one_is_invalid_grant_without_touching_the_store() {
    let app = app();
    app.store.down.store(true, Ordering::SeqCst);
    for token in ["", "short", &"A".repeat(44), &"*".repeat(43)] {
        // The store is down: an answer other than 503 shows it was not asked.
        let reply = app.refresh(token, None).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let missing = app.form("/login", "grant_type=refresh_token").await;
    assert_error(&missing, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn without_sessions_the_refresh_grant_is_unsupported() {
    let users = InMemoryUserStore::new();
    let hash = hasher().hash_blocking(PASSWORD).unwrap();
    users.insert("ada", User::new("user-1", hash, ["read"]));
    let login = login_handler(users, issuer(), hasher());
    let router = Router::new().route_service("/login", login);
    let app = App {
        router,
        users: InMemoryUserStore::new(),
        store: Flaky::default(),
        issuer: issuer(),
        offset: Arc::default(),
    };
    let reply = app.login().await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.get("refresh_token").is_none(), "{}", reply.body);
    let claims = claims_of(&app, reply.body["access_token"].as_str().unwrap());
    assert!(claims.extra.get("sid").is_none());
    assert_error(
        &app.refresh(&"A".repeat(43), None).await,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
    );
}

// RFC 7009.

fn assert_revoked_ok(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert!(reply.raw.is_empty(), "a revocation answers an empty body");
    assert_no_store(reply);
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_family_and_its_access_tokens() {
    let app = app();
    let (access, refresh) = tokens(&app.login().await);
    let (access2, refresh2) = tokens(&app.refresh(&refresh, None).await);
    // Any generation names the family: revoking the spent one ends it too (logout).
    assert_revoked_ok(&app.revoke(&refresh).await);
    assert_error(
        &app.refresh(&refresh2, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    assert_invalid_token(&app.me(&access).await);
    assert_invalid_token(&app.me(&access2).await);
    // Again: still 200.
    assert_revoked_ok(&app.revoke(&refresh2).await);
}

#[tokio::test]
async fn revoking_an_access_token_denylists_it_alone() {
    let app = app();
    let (access, refresh) = tokens(&app.login().await);
    let (access2, _) = tokens(&app.refresh(&refresh, None).await);
    let hinted = app
        .form(
            "/revoke",
            &format!("token={access}&token_type_hint=access_token"),
        )
        .await;
    assert_revoked_ok(&hinted);
    assert_invalid_token(&app.me(&access).await);
    assert_eq!(app.me(&access2).await.status, StatusCode::OK);
    // A wrong hint is only a hint.
    let misleading = app
        .form(
            "/revoke",
            &format!("token={access2}&token_type_hint=refresh_token"),
        )
        .await;
    assert_revoked_ok(&misleading);
    assert_invalid_token(&app.me(&access2).await);
    // Recorded in the store, so a restart keeps it.
    let listed = app.store.inner.revocations(0, 0).await.unwrap();
    assert!(
        listed
            .iter()
            .filter(|r| matches!(r, Revoked::Token { .. }))
            .count()
            >= 2
    );
}

#[tokio::test]
async fn unknown_foreign_and_expired_tokens_are_answered_200() {
    let app = app();
    let foreign = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[6; 32]).unwrap())
        .issuer("https://auth.test")
        .audience("api")
        .issue("user-1", ["read"])
        .unwrap()
        .access_token;
    for token in [
        "A".repeat(43),
        "not-a-token".to_owned(),
        foreign,
        "a.b.c".to_owned(),
    ] {
        assert_revoked_ok(&app.revoke(&token).await);
    }
    assert!(
        app.store.inner.revocations(0, 0).await.unwrap().is_empty(),
        "a token that is not ours filled the denylist"
    );
}

#[tokio::test]
async fn malformed_revocation_requests_are_refused_with_their_status_and_body() {
    let app = app();
    assert_error(
        &app.form("/revoke", "token_type_hint=refresh_token").await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert_error(
        &app.form("/revoke", "token=").await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert_error(
        &app.form("/revoke", "token=a&token=b").await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    let json = app
        .send(
            Request::post("/revoke")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"token":"x"}"#))
                .unwrap(),
        )
        .await;
    assert_error(&json, StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request");
    let get = app
        .send(
            Request::builder()
                .method(Method::GET)
                .uri("/revoke")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_error(&get, StatusCode::METHOD_NOT_ALLOWED, "invalid_request");
    assert_eq!(get.headers[header::ALLOW], "POST");
    let large = app
        .form("/revoke", &format!("token={}", "a".repeat(20_000)))
        .await;
    assert_error(&large, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request");
}

#[tokio::test]
async fn revocations_survive_a_restart_through_the_store() {
    let app = app();
    let (access, _) = tokens(&app.login().await);
    let (access_b, refresh_b) = tokens(&app.login().await);
    assert_revoked_ok(&app.revoke(&access).await);
    assert_revoked_ok(&app.revoke(&refresh_b).await);

    // A new process: a fresh denylist over the same store, seeded before serving.
    let denylist = InMemoryDenylist::new();
    let sessions = Sessions::new(app.store.clone(), app.issuer.clone(), denylist.clone());
    let loaded = sessions.load_revocations().await.unwrap();
    assert_eq!(loaded, 2, "one access token and one family");
    let verifier = app.issuer.layer().revocation(denylist);
    let router = Router::new().route("/me", get(me)).layer(verifier);
    let restarted = App {
        router,
        users: app.users.clone(),
        store: app.store.clone(),
        issuer: app.issuer.clone(),
        offset: Arc::default(),
    };
    assert_invalid_token(&restarted.me(&access).await);
    assert_invalid_token(&restarted.me(&access_b).await);
    let (fresh, _) = tokens(&app.login().await);
    assert_eq!(restarted.me(&fresh).await.status, StatusCode::OK);
}

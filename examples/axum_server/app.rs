//! The example application, shared by `main.rs` and the end-to-end tests (`tests/login.rs`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_jwt_auth::axum::JwtClaims;
use tower_jwt_auth::login::ThrottlePolicy;
use tower_jwt_auth::login::password::PasswordPolicy;
use tower_jwt_auth::{Claims, RequireScopeLayer, TokenIssuer};

use tower_jwt_auth::login::password::{Argon2Hasher, PasswordHashing, Zeroizing};
use tower_jwt_auth::login::{InMemoryUserStore, User, UserStore, login_handler};
use tower_jwt_auth::session::{
    InMemorySessionStore, RefreshStore, RevocationStore, Sessions, revocation_handler,
};
use tower_jwt_auth::verify::InMemoryDenylist;

use crate::demo::{Demo, Error};

/// What the server is made of.
pub struct Config {
    /// Signs and verifies tokens.
    pub issuer: TokenIssuer,
    /// The demo account.
    pub demo: Demo,
    /// Password hashing parameters.
    pub policy: PasswordPolicy,
    /// Back-off of failed logins.
    pub throttle: ThrottlePolicy,
    /// Logins per minute per client IP address before `POST /login` and `POST /revoke` answer
    /// 429 (with a burst of [`LOGIN_BURST`]); 0 turns the limit off.
    pub login_rate_per_minute: u32,
    /// Where users, refresh-token families and revocations live (`sqlite://…` or
    /// `postgres://…`); `None` keeps them in memory, lost on restart.
    pub database_url: Option<String>,
    /// A Redis (`redis://…`) through which every instance shares the access-token denylist and
    /// the login throttle; `None` keeps both in this process.
    pub redis_url: Option<String>,
}

/// How many logins a client may send at once before the per-minute rate applies.
pub const LOGIN_BURST: u32 = 10;

/// Builds the router: `POST /login` (password and refresh grants), `POST /revoke`, `GET /me`,
/// `GET /admin` (scope `admin`), `GET /health`, `GET /.well-known/jwks.json` when the key is
/// asymmetric, and the discovery documents (`GET /.well-known/oauth-authorization-server` and
/// `GET /.well-known/openid-configuration`) when it is asymmetric and the issuer has a name.
///
/// Every piece shares the issuer's keys: after [`TokenIssuer::rotate`] the endpoints sign with
/// the new key, the JWKS publishes both, and `/me` accepts tokens of either until the overlap
/// ends.
pub async fn router(config: Config) -> Result<Router, Error> {
    let hasher = Argon2Hasher::new(config.policy.clone())?;
    let demo_hash = hasher
        .hash(Zeroizing::new(config.demo.password.clone()))
        .await?;
    let demo = User::new(
        config.demo.user.clone(),
        demo_hash,
        config.demo.scopes.clone(),
    );
    match config.database_url.clone() {
        None => {
            let users = InMemoryUserStore::new();
            users.insert(config.demo.user.clone(), demo);
            build(config, users, InMemorySessionStore::new(), hasher).await
        }
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        Some(url) => {
            let store = tower_jwt_auth::store::SqlStore::connect(&url)
                .await
                .map_err(|e| format!("DATABASE_URL: {e}"))?;
            // Created, or updated to the environment's password and scopes, and enabled.
            store.upsert_user(&config.demo.user, &demo).await?;
            let purged = store.purge_expired(unix_now() - 24 * 60 * 60).await?;
            tracing::info!(purged, "expired session families purged");
            build(config, store.clone(), store, hasher).await
        }
        #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
        Some(_) => Err("DATABASE_URL needs the sqlite or postgres feature".into()),
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn build<U, S>(
    config: Config,
    users: U,
    store: S,
    hasher: Argon2Hasher,
) -> Result<Router, Error>
where
    U: UserStore,
    S: RefreshStore + RevocationStore,
{
    let issuer = config.issuer.clone();
    match config.redis_url.clone() {
        None => {
            let denylist = InMemoryDenylist::new();
            let sessions = Sessions::new(store, issuer.clone(), denylist.clone());
            // Revocations made before this start are refused at once.
            let loaded = sessions.load_revocations().await?;
            tracing::info!(loaded, "revocations loaded");
            let login = login_handler(users, issuer.clone(), hasher)
                .throttle(config.throttle.clone())
                .sessions(sessions.clone());
            routes(config, login, sessions, denylist)
        }
        #[cfg(feature = "redis")]
        Some(url) => {
            use tower_jwt_auth::shared::{RedisConfig, RedisDenylist, RedisThrottle};
            let redis = RedisConfig::default();
            let denylist = RedisDenylist::connect(&url, redis.clone())
                .await
                .map_err(|e| format!("REDIS_URL: {e}"))?;
            let throttle = RedisThrottle::connect(&url, config.throttle.clone(), &redis).await?;
            let sessions = Sessions::new(store, issuer.clone(), denylist.clone());
            // Redis gets what the SQL store holds now, and again whenever it lost its data.
            let loaded = denylist.reseed_from(sessions.clone()).await?;
            tracing::info!(loaded, "revocations loaded into Redis");
            if !denylist.ready(Duration::from_secs(5)).await {
                return Err("REDIS_URL: the revocation feed did not synchronise".into());
            }
            let login = login_handler(users, issuer.clone(), hasher)
                .throttle_store(throttle)
                .sessions(sessions.clone());
            routes(config, login, sessions, denylist)
        }
        #[cfg(not(feature = "redis"))]
        Some(_) => Err("REDIS_URL needs the redis feature".into()),
    }
}

fn routes<U, H>(
    config: Config,
    login: tower_jwt_auth::login::LoginService<U, H>,
    sessions: Sessions,
    denylist: impl tower_jwt_auth::verify::Revocation,
) -> Result<Router, Error>
where
    U: UserStore,
    H: PasswordHashing,
{
    let issuer = config.issuer;
    let protected = Router::new()
        .route("/me", get(me))
        .route(
            "/admin",
            get(admin).route_layer(RequireScopeLayer::new(["admin"])),
        )
        .layer(issuer.layer().revocation(denylist));
    let mut endpoints = Router::new()
        .route_service("/login", login)
        .route_service("/revoke", revocation_handler(sessions));
    if config.login_rate_per_minute > 0 {
        // Per client IP, in front of the token and revocation endpoints (tower_governor): the
        // login throttle is per account, and does nothing against one client spraying
        // passwords over many accounts or flooding unknown names, each costing a full argon2
        // verification. Needs `into_make_service_with_connect_info::<SocketAddr>()` (the peer
        // address); behind a reverse proxy, key on the address it forwards instead
        // (`SmartIpKeyExtractor`, only if the proxy sets the header and clients cannot).
        let limit = GovernorConfigBuilder::default()
            .period(Duration::from_secs(60) / config.login_rate_per_minute)
            .burst_size(LOGIN_BURST)
            .finish()
            .ok_or("invalid login rate limit")?;
        // `route_layer`: the limit guards these two routes only, not the fallback of the
        // merged app. One budget per client for both.
        endpoints = endpoints.route_layer(GovernorLayer::new(limit).error_handler(rate_limited));
    }
    let mut app = Router::new()
        .merge(protected)
        .merge(endpoints)
        .route("/health", get(|| async { "ok" }));
    if let Some(jwks) = issuer.jwks_service() {
        app = app.route_service(JWKS_PATH, jwks);
    }
    if let Some(document) = authorization_server_metadata(&issuer) {
        let document = document.to_string();
        let serve = get(move || {
            let document = document.clone();
            async move {
                let mut response = Response::new(Body::from(document));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=300"),
                );
                response
            }
        });
        app = app
            .route("/.well-known/oauth-authorization-server", serve.clone())
            .route("/.well-known/openid-configuration", serve);
    }
    Ok(app)
}

/// Where the public keys are published.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The authorization server metadata (RFC 8414), also served as the OpenID Connect discovery
/// document, so that resource servers find the keys from the issuer's name alone: `None` unless
/// the issuer has a name (`JWT_ISSUER`) and an asymmetric key (a shared secret is never
/// published). The endpoints are the issuer's URL plus this server's paths: `JWT_ISSUER` must be
/// the URL clients reach this server at.
pub fn authorization_server_metadata(issuer: &TokenIssuer) -> Option<serde_json::Value> {
    let name = issuer.issuer_name()?;
    issuer.jwks()?;
    let base = name.trim_end_matches('/');
    Some(serde_json::json!({
        "issuer": name,
        "jwks_uri": format!("{base}{JWKS_PATH}"),
        "token_endpoint": format!("{base}/login"),
        "revocation_endpoint": format!("{base}/revoke"),
        "grant_types_supported": ["password", "refresh_token"],
        // No authorization endpoint: no response type (RFC 8414 asks for the member).
        "response_types_supported": [],
        // Public clients: no client authentication at either endpoint.
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        // RFC 9068 access tokens; the algorithm stays the same across rotations.
        "access_token_signing_alg_values_supported": [issuer.key().algorithm().as_str()],
    }))
}

/// The token endpoint's own error format (RFC 6749 §5.2) for the per-client limit, not a
/// plain-text 429.
fn rate_limited(error: tower_governor::GovernorError) -> Response<Body> {
    let (status, code, description, wait) = match error {
        tower_governor::GovernorError::TooManyRequests { wait_time, .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "slow_down",
            "too many login requests from this client; retry later",
            Some(wait_time.max(1)),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the client's address is unknown",
            None,
        ),
    };
    let body = serde_json::json!({ "error": code, "error_description": description });
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Some(wait) = wait {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(wait));
    }
    response
}

async fn me(JwtClaims(claims): JwtClaims) -> Json<Arc<Claims>> {
    Json(claims)
}

async fn admin(JwtClaims(claims): JwtClaims) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "admin": true, "sub": claims.sub }))
}

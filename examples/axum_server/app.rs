//! The example application, shared by `main.rs` and the end-to-end tests (`tests/login.rs`).

use axum::routing::get;
use axum::{Json, Router};
use tower_jwt_auth::axum::Claims as Verified;
use tower_jwt_auth::login::{InMemoryUserStore, LoginService, ThrottlePolicy, User, login_handler};
use tower_jwt_auth::password::{Argon2Hasher, PasswordHashing, PasswordPolicy, Zeroizing};
use tower_jwt_auth::{Claims, RequireScopeLayer, SigningKey, TokenIssuer};

/// What the server is made of.
pub struct Config {
    /// Signs and verifies tokens.
    pub key: SigningKey,
    /// `iss` written and required.
    pub issuer: Option<String>,
    /// `aud` written and required.
    pub audience: Option<String>,
    /// The demo account's username.
    pub demo_user: String,
    /// The demo account's password.
    pub demo_password: String,
    /// The demo account's scopes.
    pub demo_scopes: Vec<String>,
    /// Password hashing parameters.
    pub policy: PasswordPolicy,
    /// Back-off of failed logins.
    pub throttle: ThrottlePolicy,
}

/// Builds the router: `POST /login`, `GET /me`, `GET /admin` (scope `admin`), `GET /health`,
/// and `GET /.well-known/jwks.json` when the key is asymmetric.
pub async fn router(config: Config) -> Result<Router, Box<dyn std::error::Error + Send + Sync>> {
    let mut issuer = TokenIssuer::new(config.key);
    if let Some(iss) = config.issuer {
        issuer = issuer.issuer(iss);
    }
    if let Some(aud) = config.audience {
        issuer = issuer.audience(aud);
    }
    let hasher = Argon2Hasher::new(config.policy)?;
    let users = InMemoryUserStore::new();
    let hash = hasher.hash(Zeroizing::new(config.demo_password)).await?;
    users.insert(
        config.demo_user.clone(),
        User::new(config.demo_user, hash, config.demo_scopes),
    );
    let login: LoginService<_, _> =
        login_handler(users, issuer.clone(), hasher).throttle(config.throttle);

    let protected = Router::new()
        .route("/me", get(me))
        .route(
            "/admin",
            get(admin).route_layer(RequireScopeLayer::new("admin")),
        )
        .layer(issuer.layer());
    let mut app = Router::new()
        .merge(protected)
        .route_service("/login", login)
        .route("/health", get(|| async { "ok" }));
    if let Some(jwks) = issuer.jwks_service() {
        app = app.route_service("/.well-known/jwks.json", jwks);
    }
    Ok(app)
}

async fn me(Verified(claims): Verified) -> Json<Claims> {
    Json(claims)
}

async fn admin(Verified(claims): Verified) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "admin": true, "sub": claims.sub }))
}

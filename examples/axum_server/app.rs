//! The example application, shared by `main.rs` and the end-to-end tests (`tests/login.rs`).

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use tower_jwt_auth::axum::JwtClaims;
use tower_jwt_auth::login::ThrottlePolicy;
use tower_jwt_auth::login::password::PasswordPolicy;
use tower_jwt_auth::{Claims, RequireScopeLayer, TokenIssuer};

use crate::demo::{Demo, Error, login_service};

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
}

/// Builds the router: `POST /login`, `GET /me`, `GET /admin` (scope `admin`), `GET /health`,
/// and `GET /.well-known/jwks.json` when the key is asymmetric.
pub async fn router(config: Config) -> Result<Router, Error> {
    let issuer = config.issuer;
    let login = login_service(config.demo, issuer.clone(), config.policy, config.throttle).await?;

    let protected = Router::new()
        .route("/me", get(me))
        .route(
            "/admin",
            get(admin).route_layer(RequireScopeLayer::new(["admin"])),
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

async fn me(JwtClaims(claims): JwtClaims) -> Json<Arc<Claims>> {
    Json(claims)
}

async fn admin(JwtClaims(claims): JwtClaims) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "admin": true, "sub": claims.sub }))
}

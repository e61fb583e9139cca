//! The gRPC server of examples/tonic_server.rs, shared with tests/tonic_login.rs: the greeter,
//! the gRPC `Login` and the HTTP `POST /login`, all on one port.
#![allow(dead_code)]

use tonic::service::Routes;
use tower_jwt_auth::login::{InMemoryUserStore, LoginService, ThrottlePolicy, User, login_handler};
use tower_jwt_auth::password::{Argon2Hasher, PasswordHashing, PasswordPolicy, Zeroizing};
use tower_jwt_auth::tonic::auth::AuthServer;
use tower_jwt_auth::{JwtAuthLayer, MethodScopes, RequireScopeLayer, TokenIssuer};

use super::greeter::{ADMIN_REPORT, GreeterServer, SAY_HELLO};

pub struct Config {
    pub issuer: TokenIssuer,
    pub demo_user: String,
    pub demo_password: String,
    pub demo_scopes: Vec<String>,
    pub policy: PasswordPolicy,
    pub throttle: ThrottlePolicy,
}

/// Who may call what: `SayHello`, `Login` (gRPC) and `/login` (HTTP) are public;
/// `AdminReport` needs `admin`; everything else needs a valid token.
pub fn rules() -> MethodScopes {
    MethodScopes::new()
        .public(SAY_HELLO)
        .public(tower_jwt_auth::tonic::auth::LOGIN_PATH)
        .public("/login")
        .require(ADMIN_REPORT, "admin")
}

/// The layers for `Server::builder().layer(…)`: verify any token sent (optional mode: public
/// methods need none, a bad one is still refused), then apply the per-method rules.
pub fn layers(issuer: &TokenIssuer) -> (JwtAuthLayer, RequireScopeLayer) {
    (issuer.layer().optional(), RequireScopeLayer::per_method(rules()))
}

/// The services: the greeter, gRPC `Login`, and an axum router with the HTTP `POST /login`.
pub async fn routes(config: Config) -> Result<Routes, Box<dyn std::error::Error + Send + Sync>> {
    let hasher = Argon2Hasher::new(config.policy)?;
    let users = InMemoryUserStore::new();
    let hash = hasher.hash(Zeroizing::new(config.demo_password)).await?;
    users.insert(
        config.demo_user.clone(),
        User::new(config.demo_user, hash, config.demo_scopes),
    );
    let login: LoginService<_, _> =
        login_handler(users, config.issuer, hasher).throttle(config.throttle);
    let http = axum::Router::new().route_service("/login", login.clone());
    Ok(Routes::from(http)
        .add_service(GreeterServer)
        .add_service(AuthServer::new(login)))
}

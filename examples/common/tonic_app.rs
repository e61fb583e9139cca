//! The gRPC server of examples/tonic_server.rs, shared with tests/tonic_login.rs: the greeter,
//! the gRPC `Login` and the HTTP `POST /login`, all on one port.
#![allow(dead_code)]

use tonic::service::Routes;
use tower_jwt_auth::login::ThrottlePolicy;
use tower_jwt_auth::login::password::PasswordPolicy;
use tower_jwt_auth::tonic::auth::AuthServer;
use tower_jwt_auth::{JwtAuthLayer, MethodScopes, RequireScopeLayer, TokenIssuer};

use crate::demo::{Demo, Error, login_service};
use crate::greeter::{ADMIN_REPORT, GreeterServer, SAY_HELLO};

pub struct Config {
    pub issuer: TokenIssuer,
    pub demo: Demo,
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
        .require(ADMIN_REPORT, ["admin"])
}

/// The layers for `Server::builder().layer(…)`: verify any token sent (optional mode: public
/// methods need none, a bad one is still refused), then apply the per-method rules.
pub fn layers(issuer: &TokenIssuer) -> (JwtAuthLayer, RequireScopeLayer) {
    (
        issuer.layer().optional(),
        RequireScopeLayer::per_method(rules()),
    )
}

/// The services: the greeter, gRPC `Login`, and an axum router with the HTTP `POST /login`.
pub async fn routes(config: Config) -> Result<Routes, Error> {
    let login = login_service(config.demo, config.issuer, config.policy, config.throttle).await?;
    let http = axum::Router::new().route_service("/login", login.clone());
    Ok(Routes::from(http)
        .add_service(GreeterServer)
        .add_service(AuthServer::new(login)))
}

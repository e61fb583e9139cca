//! A resource server that trusts a remote issuer, and nothing else: its keys are fetched by
//! discovery (or from a JWKS URL), refreshed in the background, refetched on an unknown `kid`.
//!
//! ```text
//! OIDC_ISSUER=http://127.0.0.1:3000 JWT_AUDIENCE=my-api \
//!     cargo run --example resource_server --features axum,remote
//! ```
//!
//! Environment:
//!
//! | variable | meaning |
//! |---|---|
//! | `OIDC_ISSUER` | the issuer, whose keys are found by discovery; or |
//! | `JWKS_URL` with `JWT_ISSUER` | the JWKS URL, and the `iss` its tokens carry |
//! | `JWT_AUDIENCE` | required: the `aud` tokens must name |
//! | `BIND_ADDR` | default `127.0.0.1:3001` |
//! | `RESOURCE_URL` | optional: this resource's identifier, for RFC 9728 metadata |
//!
//! Routes: `GET /health` (public, `ok`), `GET /ready` (200 once keys are loaded, 503 before),
//! `GET /me` (the verified claims as JSON), `GET /admin` (scope `admin`, else 403
//! `insufficient_scope`), `GET /.well-known/oauth-protected-resource` (RFC 9728).
//!
//! Tokens are RFC 9068 access tokens (`typ: at+jwt`) signed with RS256, PS256, ES256, ES384 or
//! EdDSA. With feature `remote-client` the keys come through the crate's default client
//! (`RemoteKeys::with_default_client`: https with the system's trust store or bundled roots,
//! and http on loopback): `--features axum,remote-client` for an https issuer. Without it,
//! through hyper-util's plain client: the issuer must then be on a loopback host
//! (`http://127.0.0.1:…`, `http://localhost:…`), or plug any tower
//! `Service<http::Request<RequestBody>>` with TLS.

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tower_jwt_auth::axum::JwtClaims;
use tower_jwt_auth::layer::{DefaultRejection, ProtectedResourceMetadata};
use tower_jwt_auth::remote::{IssuerConfig, RemoteKeys, RemoteKeysBuilder};
use tower_jwt_auth::{Algorithm, RequireScopeLayer};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_jwt_auth=debug".into()),
        )
        .init();
    let audience = env("JWT_AUDIENCE").ok_or("JWT_AUDIENCE is required")?;
    let issuer = match (env("OIDC_ISSUER"), env("JWKS_URL"), env("JWT_ISSUER")) {
        (Some(issuer), None, _) => IssuerConfig::discovery(issuer)?,
        (None, Some(url), Some(issuer)) => IssuerConfig::jwks(issuer, url)?,
        _ => return Err("set OIDC_ISSUER, or JWKS_URL together with JWT_ISSUER".into()),
    };
    let issuer_name = issuer.issuer().to_owned();
    let issuer = issuer
        .audience(audience)
        .require_type("at+jwt")
        .algorithms([
            Algorithm::RS256,
            Algorithm::PS256,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
        ])
        .cache_verified_tokens(10_000);

    let keys = keys_builder()?.issuer(issuer).build()?;

    let mut auth = keys.layer();
    let metadata = env("RESOURCE_URL").map(|resource| {
        ProtectedResourceMetadata::new(resource)
            .authorization_server(issuer_name.clone())
            .scopes(["admin"])
    });
    if let Some(metadata) = &metadata {
        auth = auth.resource_metadata(&metadata.well_known_url());
    }
    let metadata_path = metadata.as_ref().map_or_else(
        || tower_jwt_auth::layer::PROTECTED_RESOURCE_METADATA_PATH.to_owned(),
        ProtectedResourceMetadata::well_known_path,
    );

    // The scope check answers its 403 with the same challenge parameters.
    let mut scope_rejection = DefaultRejection::new("api");
    if let Some(metadata) = &metadata {
        scope_rejection = scope_rejection.resource_metadata(&metadata.well_known_url());
    }
    let protected = Router::new()
        .route("/me", get(me))
        .route(
            "/admin",
            get(admin).route_layer(RequireScopeLayer::new(["admin"]).on_rejection(scope_rejection)),
        )
        .layer(auth);
    let ready_keys = keys.clone();
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/ready",
            get(move || {
                let keys = ready_keys.clone();
                async move {
                    if keys.is_ready() {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "waiting for keys")
                    }
                }
            }),
        )
        .route(
            &metadata_path,
            get(move || {
                let metadata = metadata.clone();
                async move {
                    match metadata {
                        Some(metadata) => metadata.http_response().map(axum::body::Body::from),
                        None => StatusCode::NOT_FOUND.into_response(),
                    }
                }
            }),
        )
        .merge(protected);

    let addr: SocketAddr = env("BIND_ADDR")
        .unwrap_or_else(|| "127.0.0.1:3001".into())
        .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, issuer = %issuer_name, "resource server listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// With feature `remote-client`: the crate's default client (https with the system's trust
/// store or bundled roots; http on loopback).
#[cfg(feature = "remote-client")]
fn keys_builder() -> Result<RemoteKeysBuilder, Box<dyn std::error::Error>> {
    Ok(RemoteKeys::with_default_client()?)
}

/// Without it: hyper-util's plain client, for an issuer on loopback.
#[cfg(not(feature = "remote-client"))]
fn keys_builder() -> Result<RemoteKeysBuilder, Box<dyn std::error::Error>> {
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;
    use tower_jwt_auth::remote::RequestBody;
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(std::time::Duration::from_secs(2)));
    let client = Client::builder(TokioExecutor::new()).build::<_, RequestBody>(connector);
    Ok(RemoteKeys::builder(client))
}

async fn me(JwtClaims(claims): JwtClaims) -> impl IntoResponse {
    Json(claims)
}

async fn admin(JwtClaims(claims): JwtClaims) -> impl IntoResponse {
    Json(serde_json::json!({ "admin": claims.sub }))
}

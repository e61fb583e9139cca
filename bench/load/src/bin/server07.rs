//! The axum 0.7 servers: jwt-authorizer 0.15 only works with axum 0.7, so it gets its own
//! binary and its own bare axum 0.7 baseline. Same route, same runtime, same keys as `server`.
//!
//! Usage: `server07 VARIANT` with VARIANT `bare-axum07`, `jwt-authorizer-hs256` or
//! `jwt-authorizer-es256`.

use axum07::Router;
use axum07::routing::get;
use jsonwebtoken9::Algorithm;
use jwt_authorizer::{IntoLayer, JwtAuthorizer, JwtClaims, RegisteredClaims, Validation};
use tower_jwt_auth_load::{AUDIENCE, ISSUER, KeyDir, bind_addr, runtime};

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn health() -> &'static str {
    "ok"
}

async fn jwt_authorizer_router(keys: &KeyDir, es256: bool) -> Result<Router, Error> {
    let (builder, alg) = if es256 {
        (
            JwtAuthorizer::<RegisteredClaims>::from_ec_pem_text(&keys.es256_public_pem()),
            Algorithm::ES256,
        )
    } else {
        (
            JwtAuthorizer::<RegisteredClaims>::from_secret(&keys.hs256_secret()),
            Algorithm::HS256,
        )
    };
    // exp is required and checked by default (60 s leeway); iss and aud checked when present
    // in the configuration; the algorithm pinned to the key's.
    let validation = Validation::new()
        .iss(&[ISSUER])
        .aud(&[AUDIENCE])
        .algs(vec![alg]);
    let authorizer = builder.validation(validation).build().await?;
    Ok(Router::new()
        .route(
            "/me",
            get(|JwtClaims(_claims): JwtClaims<RegisteredClaims>| async { "ok" }),
        )
        .layer(authorizer.into_layer())
        .route("/health", get(health)))
}

async fn build(variant: &str, keys: &KeyDir) -> Result<Router, Error> {
    Ok(match variant {
        "bare-axum07" => Router::new()
            .route("/me", get(|| async { "ok" }))
            .route("/health", get(health)),
        "jwt-authorizer-hs256" => jwt_authorizer_router(keys, false).await?,
        "jwt-authorizer-es256" => jwt_authorizer_router(keys, true).await?,
        other => return Err(format!("unknown variant {other:?}").into()),
    })
}

fn main() -> Result<(), Error> {
    let variant = std::env::args().nth(1).ok_or("usage: server07 VARIANT")?;
    let keys = KeyDir::from_env();
    let rt = runtime(Some(1));
    rt.block_on(async move {
        let app = build(&variant, &keys).await?;
        let listener = tokio::net::TcpListener::bind(bind_addr()).await?;
        eprintln!("{variant} listening on http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum07::serve(listener, app).await }).await??;
        Ok(())
    })
}

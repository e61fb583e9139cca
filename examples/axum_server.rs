//! An axum server protected by `JwtAuthLayer`.
//!
//! ```sh
//! cargo run --example axum_server --features axum
//! ```
//!
//! Environment: `JWT_SECRET` (HS256, at least 32 bytes; a random one is generated, with a
//! warning, when unset), `JWT_ISSUER` and `JWT_AUDIENCE` (checked when set), `BIND_ADDR`
//! (default `127.0.0.1:3000`). Routes: `GET /health` (public), `GET /me` (the verified claims).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::{Json, Router, routing::get};
use tower_jwt_auth::{Algorithm, Claims, DecodingKey, JwtAuthLayer, axum::Claims as Verified};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_jwt_auth=debug".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let secret = match std::env::var("JWT_SECRET") {
        Ok(secret) => secret.into_bytes(),
        Err(_) => {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret)?;
            tracing::warn!("JWT_SECRET is not set: using a random secret; tokens die with the process");
            secret.to_vec()
        }
    };
    let issuer = std::env::var("JWT_ISSUER").ok();
    let audience = std::env::var("JWT_AUDIENCE").ok();
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());

    // Weak secrets are refused here, at start-up, not on the first request.
    let key = DecodingKey::from_secret(Algorithm::HS256, &secret)?;
    let mut auth = JwtAuthLayer::new(key);
    if let Some(issuer) = &issuer {
        auth = auth.issuer(issuer.as_str());
    }
    if let Some(audience) = &audience {
        auth = auth.audience(audience.as_str());
    }

    let app = Router::new()
        .route("/me", get(me))
        .layer(auth)
        .route("/health", get(|| async { "ok" }));

    // Until the login endpoint lands, print a ready token for trying the server.
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut claims = serde_json::json!({"sub": "demo", "iat": now, "exp": now + 3600, "scope": "read"});
    if let Some(issuer) = issuer {
        claims["iss"] = issuer.into();
    }
    if let Some(audience) = audience {
        claims["aud"] = audience.into();
    }
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&secret)?,
    )?;

    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on http://{}", listener.local_addr()?);
    println!("try: curl -H 'Authorization: Bearer {token}' http://{bind}/me");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn me(Verified(claims): Verified) -> Json<Claims> {
    Json(claims)
}

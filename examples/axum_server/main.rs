//! The whole flow on axum: log in, get a token, call protected routes.
//!
//! ```sh
//! cargo run --example axum_server --features axum,login,sqlite,postgres,openapi,metrics
//! ```
//!
//! Environment (all optional):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `JWT_SECRET` | HS256 secret (at least 32 bytes) | unset |
//! | `JWT_PRIVATE_KEY_FILE` | PEM private key (RSA → RS256, P-256 → ES256, P-384 → ES384, Ed25519 → EdDSA) | unset |
//! | neither of the two | a generated ES256 key, with a warning: tokens die with the process | |
//! | `JWT_ISSUER`, `JWT_AUDIENCE` | `iss` and `aud`, written and required; with an asymmetric key, `JWT_ISSUER` (this server's URL) also turns on discovery | unset |
//! | `BIND_ADDR` | listen address | `127.0.0.1:3000` |
//! | `DEMO_USER`, `DEMO_PASSWORD` | the demo account | `demo`, a random password printed at start-up |
//! | `DEMO_SCOPES` | the demo account's scopes | `read` |
//! | `LOGIN_RATE_PER_MINUTE` | requests per minute per client IP (burst of 10) before `POST /login` and `POST /revoke` answer 429; `0` turns it off | `60` |
//! | `REDIS_URL` | a Redis (`redis://HOST:PORT`) through which several instances share the access-token denylist and the login throttle (feature `redis`); point `DATABASE_URL` at one shared Postgres then | unset: both in this process |
//! | `DATABASE_URL` | where users, refresh-token families and revocations live: `sqlite://FILE` (created on first start) or `postgres://…`; the demo account is created or updated there at start-up | `sqlite://tower-jwt-auth.db` |
//!
//! With an asymmetric key (a key file, or the generated one) the server publishes its public keys
//! at `GET /.well-known/jwks.json`; with `JWT_ISSUER` set too, the RFC 8414 metadata at
//! `GET /.well-known/oauth-authorization-server` and the same document at
//! `GET /.well-known/openid-configuration`, so a resource server finds the keys by discovery.
//!
//! `GET /openapi.json` is the OpenAPI document of every route, and `GET /docs` Swagger UI over
//! it (served from the binary, no CDN): "Authorize" logs in with the demo account through the
//! OAuth2 password flow, and "Try it out" calls then carry the token.
//!
//! `kill -HUP <pid>` rotates the signing key: a fresh key of the same algorithm, with a new
//! `kid` (logged). The previous public key stays in the JWKS, and tokens it signed keep opening
//! `/me`, for the token lifetime plus 60 s; then it is dropped. Verifiers that refetch on an
//! unknown `kid` (the `resource_server` example) accept the new tokens at once.

#[path = "app.rs"]
mod app;
#[path = "../common/demo.rs"]
mod demo;
mod metrics;
#[path = "openapi.rs"]
mod openapi;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use demo::{Demo, Error, env};
use tower_jwt_auth::login::ThrottlePolicy;
use tower_jwt_auth::login::password::PasswordPolicy;
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};

#[tokio::main]
async fn main() -> Result<(), Error> {
    demo::init_tracing();
    let key = signing_key()?;
    let jwks = key.public_jwk().is_some();
    let issuer = demo::issuer(key);
    let discovery = app::authorization_server_metadata(&issuer).is_some();
    // A clone shares the keys: rotating it rotates the router's.
    #[cfg(unix)]
    tokio::spawn(rotate_on_sighup(issuer.clone()));
    let app = app::router(app::Config {
        issuer,
        demo: Demo::from_env()?,
        policy: PasswordPolicy::default(),
        throttle: ThrottlePolicy::default(),
        login_rate_per_minute: match env("LOGIN_RATE_PER_MINUTE") {
            Some(rate) => rate
                .parse()
                .map_err(|e| format!("LOGIN_RATE_PER_MINUTE {rate:?}: {e}"))?,
            None => 60,
        },
        database_url: Some(
            env("DATABASE_URL").unwrap_or_else(|| "sqlite://tower-jwt-auth.db".into()),
        ),
        redis_url: env("REDIS_URL"),
    })
    .await?
    .merge(openapi::router(openapi::Routes {
        jwks,
        discovery,
        metrics: true,
    }))
    .merge(metrics::router()?)
    .layer(middleware::from_fn(trace));

    let bind = env("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    println!("  POST /login   (form: grant_type=password&username=…&password=…,");
    println!("                 or grant_type=refresh_token&refresh_token=…)");
    println!("  POST /revoke  (form: token=… ; RFC 7009)");
    println!("  GET  /me      (Authorization: Bearer <access_token>)");
    println!("  GET  /admin   (needs scope admin)");
    println!("  GET  /health");
    println!("  GET  /openapi.json");
    println!("  GET  /docs    (Swagger UI: Authorize, then Try it out)");
    println!("  GET  {}  (Prometheus text format)", metrics::PATH);
    if jwks {
        println!("  GET  /.well-known/jwks.json");
    }
    if discovery {
        println!("  GET  /.well-known/oauth-authorization-server");
        println!("  GET  /.well-known/openid-configuration");
    }
    // With the peer address, for the per-client login limit.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    println!("stopped");
    Ok(())
}

/// The signing key from `JWT_PRIVATE_KEY_FILE`, else `JWT_SECRET`, else a generated ES256 key.
/// Weak keys are refused here, at start-up.
fn signing_key() -> Result<SigningKey, Error> {
    let Some(path) = env("JWT_PRIVATE_KEY_FILE") else {
        if env("JWT_SECRET").is_some() {
            return demo::secret_key();
        }
        tracing::warn!(
            "neither JWT_SECRET nor JWT_PRIVATE_KEY_FILE is set: using a generated ES256 key; \
             tokens die with the process"
        );
        let key = SigningKey::generate(Algorithm::ES256)?;
        tracing::info!(kid = key.kid(), "signing with a generated ES256 key");
        return Ok(key);
    };
    let pem = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read JWT_PRIVATE_KEY_FILE {path:?}: {e}"))?;
    let key = SigningKey::from_private_pem(&pem)
        .map_err(|e| format!("JWT_PRIVATE_KEY_FILE {path:?}: {e}"))?;
    tracing::info!(alg = %key.algorithm(), "signing with the private key file");
    // RFC 7638 thumbprint as the kid, so verifiers pick the key from the JWKS.
    Ok(
        match key.public_jwk().and_then(|jwk| jwk.thumbprint().ok()) {
            Some(kid) => key.with_kid(kid),
            None => key,
        },
    )
}

/// On each SIGHUP, signs with a fresh key of the same algorithm; the previous one keeps
/// verifying, and stays in the JWKS, for the issuer's overlap.
#[cfg(unix)]
async fn rotate_on_sighup(issuer: TokenIssuer) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: no key rotation");
        return;
    };
    while hangups.recv().await.is_some() {
        let alg = issuer.key().algorithm();
        // RSA key generation takes a moment: off the executor.
        let fresh = tokio::task::spawn_blocking(move || SigningKey::generate(alg)).await;
        let rotated = match fresh {
            Ok(Ok(key)) => {
                let kid = key.kid().map(str::to_owned);
                issuer.rotate(key).map(|()| kid)
            }
            Ok(Err(error)) => Err(error),
            Err(panic) => {
                tracing::error!(%panic, "key generation failed");
                continue;
            }
        };
        match rotated {
            Ok(kid) => tracing::info!(
                kid,
                %alg,
                overlap = ?issuer.overlap(),
                "SIGHUP: signing key rotated; the previous key verifies until the overlap ends"
            ),
            Err(error) => {
                tracing::error!(%error, "SIGHUP: key rotation failed; signing key unchanged")
            }
        }
    }
}

/// Logs each request and its outcome to stderr.
async fn trace(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let reason = response
        .extensions()
        .get::<tower_jwt_auth::AuthError>()
        .map(|e| format!("{:?}", e.kind()));
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        reason,
        elapsed = ?started.elapsed(),
        "request"
    );
    response
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

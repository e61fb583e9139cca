//! A gRPC server protected per method, with login over gRPC and HTTP on the same port.
//!
//! ```sh
//! DEMO_PASSWORD=s3cret-demo cargo run --example tonic_server --features tonic,login
//! ```
//!
//! Environment: `JWT_SECRET` (HS256, random with a warning when unset), `JWT_ISSUER`,
//! `JWT_AUDIENCE`, `DEMO_USER` (default `demo`), `DEMO_PASSWORD` (random and printed when
//! unset), `DEMO_SCOPES` (default `read`: no `admin`), `BIND_ADDR` (default `127.0.0.1:50051`).
//!
//! Methods (`examples/proto/greeter.proto`, `proto/tower_jwt_auth/v1/auth.proto`):
//! `greeter.v1.Greeter/SayHello` (public), `WhoAmI` (any valid token), `AdminReport` (scope
//! `admin`), `Countdown` (server streaming, any valid token), `tower_jwt_auth.v1.Auth/Login`,
//! and HTTP `POST /login` (RFC 6749 password grant; HTTP/1.1 and HTTP/2).

#[path = "common/greeter.rs"]
mod greeter;
#[path = "common/tonic_app.rs"]
mod tonic_app;

use base64::Engine as _;
use tower_jwt_auth::login::ThrottlePolicy;
use tower_jwt_auth::password::PasswordPolicy;
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_jwt_auth=debug".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let secret = match env("JWT_SECRET") {
        Some(secret) => secret.into_bytes(),
        None => {
            tracing::warn!("JWT_SECRET is not set: using a random secret");
            let mut secret = vec![0u8; 32];
            getrandom::fill(&mut secret)?;
            secret
        }
    };
    let mut issuer = TokenIssuer::new(
        SigningKey::from_secret(Algorithm::HS256, &secret)
            .map_err(|e| format!("JWT_SECRET: {e}"))?,
    );
    if let Some(iss) = env("JWT_ISSUER") {
        issuer = issuer.issuer(iss);
    }
    if let Some(aud) = env("JWT_AUDIENCE") {
        issuer = issuer.audience(aud);
    }
    let demo_user = env("DEMO_USER").unwrap_or_else(|| "demo".into());
    let demo_password = match env("DEMO_PASSWORD") {
        Some(password) => password,
        None => {
            let mut raw = [0u8; 18];
            getrandom::fill(&mut raw)?;
            let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
            println!("demo user {demo_user:?} has the generated password {password:?}");
            password
        }
    };
    let demo_scopes = env("DEMO_SCOPES")
        .unwrap_or_else(|| "read".into())
        .split_ascii_whitespace()
        .map(str::to_owned)
        .collect();

    let (auth, rules) = tonic_app::layers(&issuer);
    let routes = tonic_app::routes(tonic_app::Config {
        issuer,
        demo_user,
        demo_password,
        demo_scopes,
        policy: PasswordPolicy::default(),
        throttle: ThrottlePolicy::default(),
    })
    .await?;

    let bind = env("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:50051".into());
    let addr: std::net::SocketAddr = bind
        .parse()
        .map_err(|e| format!("BIND_ADDR {bind:?}: {e}"))?;
    println!("listening on http://{addr} (gRPC, and HTTP POST /login)");
    tonic::transport::Server::builder()
        .accept_http1(true)
        .layer(auth)
        .layer(rules)
        .add_routes(routes)
        .serve_with_shutdown(addr, async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
        .await?;
    Ok(())
}

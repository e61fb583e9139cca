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

#[path = "common/demo.rs"]
mod demo;
#[path = "common/greeter.rs"]
mod greeter;
#[path = "common/tonic_app.rs"]
mod tonic_app;

use demo::{Demo, Error, env};
use tower_jwt_auth::login::ThrottlePolicy;
use tower_jwt_auth::login::password::PasswordPolicy;

#[tokio::main]
async fn main() -> Result<(), Error> {
    demo::init_tracing();
    let issuer = demo::issuer(demo::secret_key()?);
    let (auth, rules) = tonic_app::layers(&issuer);
    let routes = tonic_app::routes(tonic_app::Config {
        issuer,
        demo: Demo::from_env()?,
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

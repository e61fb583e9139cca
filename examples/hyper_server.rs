//! The whole flow on bare hyper 1, no axum: the crate's services are plain tower services.
//!
//! ```sh
//! cargo run --example hyper_server --features login
//! ```
//!
//! Same environment and routes as `axum_server` (`JWT_SECRET`, `JWT_ISSUER`, `JWT_AUDIENCE`,
//! `BIND_ADDR` default `127.0.0.1:3000`, `DEMO_USER`, `DEMO_PASSWORD`, `DEMO_SCOPES`):
//! `POST /login`, `GET /me`, `GET /admin` (scope `admin`), `GET /health`.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tower::{Layer, ServiceExt, service_fn};
use tower_jwt_auth::login::{InMemoryUserStore, User, login_handler};
use tower_jwt_auth::password::{Argon2Hasher, PasswordHashing, PasswordPolicy, Zeroizing};
use tower_jwt_auth::{Algorithm, BoxError, Claims, RequireScopeLayer, SigningKey, TokenIssuer};

type Body = UnsyncBoxBody<Bytes, BoxError>;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response
}

/// Answers the verified claims (the layer put them in the request's extensions).
async fn me(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let claims = request
        .extensions()
        .get::<Claims>()
        .cloned()
        .unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(
        serde_json::to_vec(&claims).unwrap_or_default(),
    )));
    response.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
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
    let mut issuer = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &secret)?);
    if let Some(iss) = env("JWT_ISSUER") {
        issuer = issuer.issuer(iss);
    }
    if let Some(aud) = env("JWT_AUDIENCE") {
        issuer = issuer.audience(aud);
    }
    let hasher = Argon2Hasher::new(PasswordPolicy::default())?;
    let users = InMemoryUserStore::new();
    let demo = env("DEMO_USER").unwrap_or_else(|| "demo".into());
    let password = match env("DEMO_PASSWORD") {
        Some(password) => password,
        None => {
            let mut raw = [0u8; 12];
            getrandom::fill(&mut raw)?;
            let password: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            println!("demo user {demo:?} has the generated password {password:?}");
            password
        }
    };
    let scopes: Vec<String> = env("DEMO_SCOPES")
        .unwrap_or_else(|| "read".into())
        .split_ascii_whitespace()
        .map(str::to_owned)
        .collect();
    let hash = hasher.hash(Zeroizing::new(password)).await?;
    users.insert(demo.clone(), User::new(demo, hash, scopes));

    let login = login_handler(users, issuer.clone(), hasher);
    let me_route = issuer.layer().layer(service_fn(me));
    let admin_route = issuer
        .layer()
        .layer(RequireScopeLayer::new("admin").layer(service_fn(me)));

    // A hand-written router: each route is a tower service; bodies are boxed to one type.
    let app = service_fn(move |request: Request<Incoming>| {
        let (login, me, admin) = (login.clone(), me_route.clone(), admin_route.clone());
        async move {
            let response = match (request.method().as_str(), request.uri().path()) {
                (_, "/login") => login
                    .oneshot(request)
                    .await?
                    .map(|b| b.map_err(|e| match e {}).boxed_unsync()),
                ("GET", "/me") => me
                    .oneshot(request)
                    .await?
                    .map(|b| b.map_err(|e| match e {}).boxed_unsync()),
                ("GET", "/admin") => admin
                    .oneshot(request)
                    .await?
                    .map(|b| b.map_err(|e| match e {}).boxed_unsync()),
                ("GET", "/health") => text(StatusCode::OK, "ok".into()),
                _ => text(StatusCode::NOT_FOUND, "not found".into()),
            };
            Ok::<_, Infallible>(response)
        }
    });

    let bind = env("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => break,
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            if let Err(err) = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %err, "connection ended");
            }
        });
    }
    println!("stopped");
    Ok(())
}

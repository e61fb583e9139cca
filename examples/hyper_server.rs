//! The whole flow on bare hyper 1, no axum: the crate's services are plain tower services.
//!
//! ```sh
//! cargo run --example hyper_server --features login
//! ```
//!
//! Same environment and routes as `axum_server` (`JWT_SECRET`, `JWT_ISSUER`, `JWT_AUDIENCE`,
//! `BIND_ADDR` default `127.0.0.1:3000`, `DEMO_USER`, `DEMO_PASSWORD`, `DEMO_SCOPES`):
//! `POST /login`, `GET /me`, `GET /admin` (scope `admin`), `GET /health`.

#[path = "common/demo.rs"]
mod demo;

use std::convert::Infallible;

use bytes::Bytes;
use demo::{Demo, env};
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tower::{Layer, ServiceExt, service_fn};
use tower_jwt_auth::login::ThrottlePolicy;
use tower_jwt_auth::login::password::PasswordPolicy;
use tower_jwt_auth::verify::BoxError;
use tower_jwt_auth::{Claims, ClaimsExt, RequireScopeLayer};

type Body = UnsyncBoxBody<Bytes, BoxError>;

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response
}

/// Answers the verified claims (the layer put them in the request's extensions; `ClaimsExt`
/// reads them).
async fn me(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let claims = request
        .extensions()
        .claims::<Claims>()
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
    demo::init_tracing();
    let issuer = demo::issuer(demo::secret_key()?);
    let login = demo::login_service(
        Demo::from_env()?,
        issuer.clone(),
        PasswordPolicy::default(),
        ThrottlePolicy::default(),
    )
    .await?;
    let me_route = issuer.layer().layer(service_fn(me));
    let admin_route = issuer
        .layer()
        .layer(RequireScopeLayer::new(["admin"]).layer(service_fn(me)));

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

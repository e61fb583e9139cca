//! `JwtAuthLayer` around a plain tower service, served by hyper 1 on a loopback socket and
//! called by hyper's client.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use jsonwebtoken::{Algorithm as JwtAlgorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tower::{Layer, Service, ServiceBuilder, service_fn};
use tower_jwt_auth::{Algorithm, Claims, ClaimsExt, DecodingKey, JwtAuthLayer, RequireScopeLayer};

const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
const OTHER_SECRET: &[u8; 32] = b"fedcba9876543210fedcba9876543210";

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("time fits i64")
}

fn sign_with(secret: &[u8], claims: &Value) -> String {
    let key = EncodingKey::from_secret(secret).expect("HMAC key");
    jsonwebtoken::encode(&Header::new(JwtAlgorithm::HS256), claims, &key).expect("signed token")
}

fn valid_token() -> String {
    sign_with(
        SECRET,
        &json!({ "sub": "ada", "exp": now() + 600, "scope": "read" }),
    )
}

fn key() -> DecodingKey {
    DecodingKey::from_secret(Algorithm::HS256, SECRET).expect("strong secret")
}

/// The application: echoes the `sub` of the claims it finds in the request's extensions.
async fn whoami(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.claims::<Claims>() {
        Some(claims) => format!("hello {}", claims.sub.as_deref().unwrap_or("?")),
        None => "no claims".to_owned(),
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// A hyper 1 server on a loopback port; dropping or [`TestServer::shutdown`] stops it.
struct TestServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Serves `service` over HTTP/1.1 on `127.0.0.1:0`.
    async fn start<S, B>(service: S) -> Self
    where
        S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("bound address");
        let task = tokio::spawn(async move {
            // Connections live in this set: aborting the accept loop drops (and aborts) them.
            let mut connections = JoinSet::new();
            loop {
                let (stream, _) = listener.accept().await.expect("accept");
                let service = TowerToHyperService::new(service.clone());
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops accepting, closes every connection, and waits for the server task to end.
    async fn shutdown(self) {
        self.task.abort();
        let ended = self.task.await;
        assert!(
            ended.as_ref().is_err_and(|e| e.is_cancelled()),
            "the server ended on its own: {ended:?}"
        );
    }
}

fn client() -> Client<HttpConnector, Empty<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// GETs `url` with `authorization` (if any); returns the response head and the whole body.
async fn get(url: &str, authorization: Option<&str>) -> (http::response::Parts, Bytes) {
    let mut request = Request::get(url);
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    let request = request.body(Empty::new()).expect("request");
    let response = client().request(request).await.expect("response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (parts, body)
}

fn json_body(body: &Bytes) -> Value {
    serde_json::from_slice(body).expect("a JSON body")
}

async fn protected_server() -> TestServer {
    TestServer::start(JwtAuthLayer::new(key()).layer(service_fn(whoami))).await
}

#[tokio::test]
async fn a_request_without_a_token_gets_a_bare_bearer_challenge() {
    let server = protected_server().await;

    let (head, body) = get(&server.url("/me"), None).await;

    assert_eq!(head.status, StatusCode::UNAUTHORIZED);
    assert_eq!(head.headers[WWW_AUTHENTICATE], r#"Bearer realm="api""#);
    assert!(body.is_empty(), "no body without a credential: {body:?}");

    server.shutdown().await;
}

#[tokio::test]
async fn a_request_with_another_scheme_gets_a_bare_bearer_challenge() {
    let server = protected_server().await;

    let (head, body) = get(&server.url("/me"), Some("Basic YWRhOnNlY3JldA==")).await;

    assert_eq!(head.status, StatusCode::UNAUTHORIZED);
    assert_eq!(head.headers[WWW_AUTHENTICATE], r#"Bearer realm="api""#);
    assert!(body.is_empty());

    server.shutdown().await;
}

#[tokio::test]
async fn a_request_with_a_bad_token_gets_an_invalid_token_challenge_and_json_body() {
    let server = protected_server().await;
    let forged = sign_with(
        OTHER_SECRET,
        &json!({ "sub": "mallory", "exp": now() + 600 }),
    );

    let (head, body) = get(&server.url("/me"), Some(&format!("Bearer {forged}"))).await;

    assert_eq!(head.status, StatusCode::UNAUTHORIZED);
    let challenge = head.headers[WWW_AUTHENTICATE].to_str().expect("ASCII");
    assert!(
        challenge.starts_with(r#"Bearer realm="api""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert_eq!(head.headers[CONTENT_TYPE], "application/json");
    let json = json_body(&body);
    assert_eq!(json["error"], "invalid_token");
    let description = json["error_description"].as_str().expect("a description");
    assert!(
        !description.contains("signature"),
        "the precise reason stays on the server: {description}"
    );

    server.shutdown().await;
}

#[tokio::test]
async fn a_request_with_an_expired_token_gets_an_invalid_token_challenge() {
    let server = protected_server().await;
    let expired = sign_with(SECRET, &json!({ "sub": "ada", "exp": now() - 3600 }));

    let (head, body) = get(&server.url("/me"), Some(&format!("Bearer {expired}"))).await;

    assert_eq!(head.status, StatusCode::UNAUTHORIZED);
    let challenge = head.headers[WWW_AUTHENTICATE].to_str().expect("ASCII");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert_eq!(json_body(&body)["error"], "invalid_token");

    server.shutdown().await;
}

#[tokio::test]
async fn a_malformed_credential_is_a_bad_request() {
    let server = protected_server().await;

    let (head, body) = get(&server.url("/me"), Some("Bearer two tokens")).await;

    assert_eq!(head.status, StatusCode::BAD_REQUEST);
    let challenge = head.headers[WWW_AUTHENTICATE].to_str().expect("ASCII");
    assert!(
        challenge.contains(r#"error="invalid_request""#),
        "{challenge}"
    );
    assert_eq!(json_body(&body)["error"], "invalid_request");

    server.shutdown().await;
}

#[tokio::test]
async fn a_request_with_a_valid_token_reaches_the_handler_with_its_claims() {
    let server = protected_server().await;

    let (head, body) = get(
        &server.url("/me"),
        Some(&format!("Bearer {}", valid_token())),
    )
    .await;

    assert_eq!(head.status, StatusCode::OK);
    assert!(head.headers.get(WWW_AUTHENTICATE).is_none());
    assert_eq!(body, "hello ada");

    server.shutdown().await;
}

#[tokio::test]
async fn a_valid_token_lacking_a_required_scope_is_forbidden() {
    let service = ServiceBuilder::new()
        .layer(JwtAuthLayer::new(key()))
        .layer(RequireScopeLayer::new(["admin"]))
        .service(service_fn(whoami));
    let server = TestServer::start(service).await;

    let (head, body) = get(
        &server.url("/admin"),
        Some(&format!("Bearer {}", valid_token())),
    )
    .await;
    assert_eq!(head.status, StatusCode::FORBIDDEN);
    let challenge = head.headers[WWW_AUTHENTICATE].to_str().expect("ASCII");
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="admin""#), "{challenge}");
    assert_eq!(json_body(&body)["error"], "insufficient_scope");

    let admin = sign_with(
        SECRET,
        &json!({ "sub": "root", "exp": now() + 600, "scope": "admin" }),
    );
    let (head, body) = get(&server.url("/admin"), Some(&format!("Bearer {admin}"))).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(body, "hello root");

    server.shutdown().await;
}

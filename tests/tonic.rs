//! `JwtAuthLayer` on a real tonic server, called by a real tonic client over loopback TCP.
//!
//! The services are written by hand (no protobuf codegen): messages are UTF-8 strings, carried by
//! a tiny [`Codec`].

#![cfg(feature = "tonic")]

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut};
use http::uri::PathAndQuery;
use jsonwebtoken::{Algorithm as JwtAlgorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::body::Body;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::tokio_stream::{self, Iter};
use tonic::server::{Grpc, NamedService};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Code, Status};
use tower::{Layer, Service};
use tower_jwt_auth::tonic::RequestClaimsExt;
use tower_jwt_auth::{Algorithm, Claims, DecodingKey, JwtAuthLayer, RequireScopeLayer};

const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
const OTHER_SECRET: &[u8; 32] = b"fedcba9876543210fedcba9876543210";

const WHO_AM_I: &str = "/test.Greeter/WhoAmI";
const COUNTDOWN: &str = "/test.Greeter/Countdown";
const PING: &str = "/test.Public/Ping";

// ---------------------------------------------------------------------------------------------
// Tokens

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

fn sign(claims: &Value) -> String {
    sign_with(SECRET, claims)
}

/// A valid token for `ada` with the `read` scope.
fn valid_token() -> String {
    sign(&json!({ "sub": "ada", "exp": now() + 600, "scope": "read" }))
}

fn key() -> DecodingKey {
    DecodingKey::from_secret(Algorithm::HS256, SECRET).expect("strong secret")
}

// ---------------------------------------------------------------------------------------------
// A codec for UTF-8 string messages

#[derive(Clone, Copy, Debug, Default)]
struct Utf8Codec;

impl Codec for Utf8Codec {
    type Encode = String;
    type Decode = String;
    type Encoder = Utf8Codec;
    type Decoder = Utf8Codec;

    fn encoder(&mut self) -> Self::Encoder {
        Utf8Codec
    }

    fn decoder(&mut self) -> Self::Decoder {
        Utf8Codec
    }
}

impl Encoder for Utf8Codec {
    type Item = String;
    type Error = Status;

    fn encode(&mut self, item: String, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(item.as_bytes());
        Ok(())
    }
}

impl Decoder for Utf8Codec {
    type Item = String;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<String>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| Status::internal("message is not UTF-8"))
    }
}

// ---------------------------------------------------------------------------------------------
// Services

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Answers with the `sub` of the claims the handler read from its `tonic::Request`.
#[derive(Clone, Copy, Debug)]
struct WhoAmI;

impl Service<tonic::Request<String>> for WhoAmI {
    type Response = tonic::Response<String>;
    type Error = Status;
    type Future = Ready<Result<Self::Response, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<String>) -> Self::Future {
        let sub = request
            .claims::<Claims>()
            .map(|claims| claims.sub.clone().unwrap_or_default());
        ready(
            sub.map(tonic::Response::new)
                .ok_or_else(|| Status::internal("the handler saw no claims behind the auth layer")),
        )
    }
}

/// Streams `3`, `2`, `1`, then the caller's `sub`.
#[derive(Clone, Copy, Debug)]
struct Countdown;

impl Service<tonic::Request<String>> for Countdown {
    type Response = tonic::Response<Iter<std::vec::IntoIter<Result<String, Status>>>>;
    type Error = Status;
    type Future = Ready<Result<Self::Response, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<String>) -> Self::Future {
        let sub = tower_jwt_auth::tonic::claims::<Claims>(&request)
            .and_then(|claims| claims.sub.clone())
            .unwrap_or_default();
        let messages = vec![
            Ok("3".to_owned()),
            Ok("2".to_owned()),
            Ok("1".to_owned()),
            Ok(sub),
        ];
        ready(Ok(tonic::Response::new(tokio_stream::iter(messages))))
    }
}

/// `test.Greeter`: the unary `WhoAmI` and the server-streaming `Countdown`.
#[derive(Clone, Copy, Debug)]
struct Greeter;

impl NamedService for Greeter {
    const NAME: &'static str = "test.Greeter";
}

impl Service<http::Request<Body>> for Greeter {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match request.uri().path() {
            WHO_AM_I => {
                Box::pin(async move { Ok(Grpc::new(Utf8Codec).unary(WhoAmI, request).await) })
            }
            COUNTDOWN => Box::pin(async move {
                Ok(Grpc::new(Utf8Codec)
                    .server_streaming(Countdown, request)
                    .await)
            }),
            _ => Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) }),
        }
    }
}

/// `test.Public`: `Ping` answers `pong`, and says whether it saw claims.
#[derive(Clone, Copy, Debug)]
struct Public;

impl NamedService for Public {
    const NAME: &'static str = "test.Public";
}

impl Service<tonic::Request<String>> for Public {
    type Response = tonic::Response<String>;
    type Error = Status;
    type Future = Ready<Result<Self::Response, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<String>) -> Self::Future {
        let answer = match request.claims::<Claims>() {
            Some(_) => "pong (with claims)",
            None => "pong",
        };
        ready(Ok(tonic::Response::new(answer.to_owned())))
    }
}

impl Service<http::Request<Body>> for Public {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match request.uri().path() {
            PING => Box::pin(async move { Ok(Grpc::new(Utf8Codec).unary(Public, request).await) }),
            _ => Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) }),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server and client

/// A tonic server on a loopback port and a client channel to it.
struct TestServer {
    channel: Channel,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl TestServer {
    /// Binds `127.0.0.1:0`, spawns `serve(incoming, shutdown_signal)` (a router's
    /// `serve_with_incoming_shutdown`) and connects a channel to the bound port.
    async fn start<F, Fut>(serve: F) -> Self
    where
        F: FnOnce(TcpIncoming, BoxFuture<()>) -> Fut,
        Fut: Future<Output = Result<(), tonic::transport::Error>> + Send + 'static,
    {
        let incoming = TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
        let addr = incoming.local_addr().expect("bound address");
        let (stop, stopped) = oneshot::channel::<()>();
        let signal: BoxFuture<()> = Box::pin(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(serve(incoming, signal));
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("endpoint URI")
            .connect()
            .await
            .expect("connected to the test server");
        Self {
            channel,
            stop,
            task,
        }
    }

    /// A client on this server's channel.
    fn client(&self) -> Client {
        Client(tonic::client::Grpc::new(self.channel.clone()))
    }

    /// Closes the client channel, asks the server to stop, and waits for it.
    async fn shutdown(self) {
        drop(self.channel);
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops once asked")
            .expect("the server task did not panic")
            .expect("the server ran without error");
    }
}

/// A tonic client of the test services.
struct Client(tonic::client::Grpc<Channel>);

/// A request carrying `Authorization: Bearer <token>` when `token` is given.
fn request(token: Option<&str>) -> tonic::Request<String> {
    let mut request = tonic::Request::new("hello".to_owned());
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ASCII metadata"),
        );
    }
    request
}

impl Client {
    async fn unary(&mut self, path: &'static str, token: Option<&str>) -> Result<String, Status> {
        self.0
            .ready()
            .await
            .map_err(|e| Status::unknown(format!("channel not ready: {e}")))?;
        let response = self
            .0
            .unary(request(token), PathAndQuery::from_static(path), Utf8Codec)
            .await?;
        Ok(response.into_inner())
    }

    async fn who_am_i(&mut self, token: Option<&str>) -> Result<String, Status> {
        self.unary(WHO_AM_I, token).await
    }

    async fn ping(&mut self, token: Option<&str>) -> Result<String, Status> {
        self.unary(PING, token).await
    }

    /// Every message of a `Countdown` call.
    async fn countdown(&mut self, token: Option<&str>) -> Result<Vec<String>, Status> {
        self.0
            .ready()
            .await
            .map_err(|e| Status::unknown(format!("channel not ready: {e}")))?;
        let mut stream = self
            .0
            .server_streaming(
                request(token),
                PathAndQuery::from_static(COUNTDOWN),
                Utf8Codec,
            )
            .await?
            .into_inner();
        let mut messages = Vec::new();
        while let Some(message) = stream.message().await? {
            messages.push(message);
        }
        Ok(messages)
    }
}

/// A server with `layer` on every service: `test.Greeter` and `test.Public`.
async fn server_behind(layer: JwtAuthLayer) -> TestServer {
    TestServer::start(|incoming, signal| {
        Server::builder()
            .layer(layer)
            .add_service(Greeter)
            .add_service(Public)
            .serve_with_incoming_shutdown(incoming, signal)
    })
    .await
}

#[track_caller]
fn assert_status(result: Result<impl std::fmt::Debug, Status>, code: Code, message: &str) {
    match result {
        Ok(value) => panic!("expected {code:?}, got a response: {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            assert_eq!(status.message(), message, "the message must stay generic");
        }
    }
}

const UNAUTHENTICATED_MESSAGE: &str = "authentication is required";
const INVALID_TOKEN_MESSAGE: &str = "the access token is invalid";
const INSUFFICIENT_SCOPE_MESSAGE: &str = "the access token lacks the required scope";

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn a_grpc_call_without_a_token_is_unauthenticated() {
    let server = server_behind(JwtAuthLayer::new(key())).await;
    let mut client = server.client();

    assert_status(
        client.who_am_i(None).await,
        Code::Unauthenticated,
        UNAUTHENTICATED_MESSAGE,
    );

    server.shutdown().await;
}

#[tokio::test]
async fn a_grpc_call_with_a_valid_token_reaches_the_handler_with_its_claims() {
    let server = server_behind(JwtAuthLayer::new(key())).await;
    let mut client = server.client();

    let sub = client.who_am_i(Some(&valid_token())).await;
    assert_eq!(sub.expect("the call is let through"), "ada");

    server.shutdown().await;
}

#[tokio::test]
async fn a_grpc_call_with_a_bad_signature_is_unauthenticated() {
    let server = server_behind(JwtAuthLayer::new(key())).await;
    let mut client = server.client();

    let forged = sign_with(
        OTHER_SECRET,
        &json!({ "sub": "mallory", "exp": now() + 600 }),
    );
    assert_status(
        client.who_am_i(Some(&forged)).await,
        Code::Unauthenticated,
        INVALID_TOKEN_MESSAGE,
    );

    server.shutdown().await;
}

#[tokio::test]
async fn a_grpc_call_with_an_expired_token_is_unauthenticated() {
    let server = server_behind(JwtAuthLayer::new(key())).await;
    let mut client = server.client();

    // Well past the default 60 s of leeway.
    let expired = sign(&json!({ "sub": "ada", "exp": now() - 3600 }));
    assert_status(
        client.who_am_i(Some(&expired)).await,
        Code::Unauthenticated,
        INVALID_TOKEN_MESSAGE,
    );

    server.shutdown().await;
}

#[tokio::test]
async fn a_grpc_call_with_a_token_for_another_audience_is_unauthenticated() {
    let server = server_behind(JwtAuthLayer::new(key()).audience("grpc-api")).await;
    let mut client = server.client();

    let elsewhere = sign(&json!({ "sub": "ada", "exp": now() + 600, "aud": "other-api" }));
    assert_status(
        client.who_am_i(Some(&elsewhere)).await,
        Code::Unauthenticated,
        INVALID_TOKEN_MESSAGE,
    );
    let here = sign(&json!({ "sub": "ada", "exp": now() + 600, "aud": "grpc-api" }));
    assert_eq!(
        client.who_am_i(Some(&here)).await.expect("right audience"),
        "ada"
    );

    server.shutdown().await;
}

#[tokio::test]
async fn a_grpc_call_with_a_malformed_credential_is_unauthenticated() {
    let server = server_behind(JwtAuthLayer::new(key())).await;
    let mut client = server.client();

    assert_status(
        client.who_am_i(Some("not a jwt")).await,
        Code::Unauthenticated,
        "the request's credential is malformed",
    );
    assert_status(
        client.who_am_i(Some("not.a.jwt")).await,
        Code::Unauthenticated,
        INVALID_TOKEN_MESSAGE,
    );

    server.shutdown().await;
}

#[tokio::test]
async fn rejections_of_grpc_calls_do_not_reveal_why_the_token_was_refused() {
    let server = server_behind(JwtAuthLayer::new(key())).await;
    let mut client = server.client();

    let expired = sign(&json!({ "sub": "ada", "exp": now() - 3600 }));
    let forged = sign_with(OTHER_SECRET, &json!({ "sub": "ada", "exp": now() + 600 }));
    let expired = client.who_am_i(Some(&expired)).await.unwrap_err();
    let forged = client.who_am_i(Some(&forged)).await.unwrap_err();

    assert_eq!(expired.message(), forged.message());
    for status in [&expired, &forged] {
        let message = status.message().to_lowercase();
        for detail in ["expire", "signature", "key", "exp"] {
            assert!(!message.contains(detail), "{message:?} reveals {detail:?}");
        }
        assert!(status.details().is_empty(), "no binary details");
        assert!(
            status.metadata().get("www-authenticate").is_none(),
            "no HTTP challenge on a gRPC rejection"
        );
    }

    server.shutdown().await;
}

#[tokio::test]
async fn a_grpc_call_lacking_a_required_scope_is_permission_denied() {
    let server = server_behind(JwtAuthLayer::new(key()).require_scopes(["admin"])).await;
    let mut client = server.client();

    assert_status(
        client.who_am_i(Some(&valid_token())).await,
        Code::PermissionDenied,
        INSUFFICIENT_SCOPE_MESSAGE,
    );
    let admin = sign(&json!({ "sub": "root", "exp": now() + 600, "scope": "read admin" }));
    assert_eq!(client.who_am_i(Some(&admin)).await.expect("admin"), "root");

    server.shutdown().await;
}

#[tokio::test]
async fn a_scope_required_on_one_service_denies_only_that_service() {
    let server = TestServer::start(|incoming, signal| {
        Server::builder()
            .layer(JwtAuthLayer::new(key()))
            .add_service(RequireScopeLayer::new(["admin"]).layer(Greeter))
            .add_service(Public)
            .serve_with_incoming_shutdown(incoming, signal)
    })
    .await;
    let mut client = server.client();
    let reader = valid_token();

    assert_status(
        client.who_am_i(Some(&reader)).await,
        Code::PermissionDenied,
        INSUFFICIENT_SCOPE_MESSAGE,
    );
    assert_status(
        client.countdown(Some(&reader)).await,
        Code::PermissionDenied,
        INSUFFICIENT_SCOPE_MESSAGE,
    );
    assert_eq!(
        client.ping(Some(&reader)).await.expect("no scope needed"),
        "pong (with claims)"
    );
    assert_status(
        client.who_am_i(None).await,
        Code::Unauthenticated,
        UNAUTHENTICATED_MESSAGE,
    );
    let admin = sign(&json!({ "sub": "root", "exp": now() + 600, "scope": "admin" }));
    assert_eq!(client.who_am_i(Some(&admin)).await.expect("admin"), "root");

    server.shutdown().await;
}

#[tokio::test]
async fn a_streaming_call_without_a_token_is_unauthenticated() {
    let server = server_behind(JwtAuthLayer::new(key())).await;
    let mut client = server.client();

    assert_status(
        client.countdown(None).await,
        Code::Unauthenticated,
        UNAUTHENTICATED_MESSAGE,
    );
    let expired = sign(&json!({ "sub": "ada", "exp": now() - 3600 }));
    assert_status(
        client.countdown(Some(&expired)).await,
        Code::Unauthenticated,
        INVALID_TOKEN_MESSAGE,
    );

    server.shutdown().await;
}

#[tokio::test]
async fn a_streaming_call_with_a_valid_token_streams_every_message() {
    let server = server_behind(JwtAuthLayer::new(key())).await;
    let mut client = server.client();

    let messages = client.countdown(Some(&valid_token())).await;
    assert_eq!(messages.expect("streamed"), ["3", "2", "1", "ada"]);

    server.shutdown().await;
}

#[tokio::test]
async fn a_service_wrapped_on_its_own_still_routes_while_another_stays_public() {
    let server = TestServer::start(|incoming, signal| {
        Server::builder()
            .add_service(JwtAuthLayer::new(key()).layer(Greeter))
            .add_service(Public)
            .serve_with_incoming_shutdown(incoming, signal)
    })
    .await;
    let mut client = server.client();

    assert_status(
        client.who_am_i(None).await,
        Code::Unauthenticated,
        UNAUTHENTICATED_MESSAGE,
    );
    assert_status(
        client.countdown(None).await,
        Code::Unauthenticated,
        UNAUTHENTICATED_MESSAGE,
    );
    let token = valid_token();
    assert_eq!(client.who_am_i(Some(&token)).await.expect("routed"), "ada");
    assert_eq!(
        client.countdown(Some(&token)).await.expect("routed"),
        ["3", "2", "1", "ada"]
    );
    assert_eq!(client.ping(None).await.expect("public"), "pong");

    server.shutdown().await;
}

#[tokio::test]
async fn an_optional_layer_lets_anonymous_calls_through_without_claims() {
    let server = TestServer::start(|incoming, signal| {
        Server::builder()
            .layer(JwtAuthLayer::new(key()).optional())
            .add_service(Public)
            .serve_with_incoming_shutdown(incoming, signal)
    })
    .await;
    let mut client = server.client();

    assert_eq!(client.ping(None).await.expect("anonymous"), "pong");
    assert_eq!(
        client.ping(Some(&valid_token())).await.expect("signed in"),
        "pong (with claims)"
    );
    assert_status(
        client.ping(Some("not.a.jwt")).await,
        Code::Unauthenticated,
        INVALID_TOKEN_MESSAGE,
    );

    server.shutdown().await;
}

/// The `testing` helpers against a real tonic server and client: minted tokens, valid and not.
#[cfg(feature = "testing")]
#[tokio::test]
async fn tokens_minted_by_the_test_helpers_are_judged_by_a_real_tonic_server() {
    use tower_jwt_auth::testing::TestKeys;

    let keys = TestKeys::es256();
    let server = server_behind(keys.layer().require_scopes(["greet"])).await;
    let mut client = server.client();

    let token = keys.token().sub("ada").scopes(["greet"]).sign();
    assert_eq!(
        client.who_am_i(Some(&token)).await.expect("let through"),
        "ada"
    );
    for token in [
        keys.token().scopes(["greet"]).expired().sign(),
        keys.token().scopes(["greet"]).wrong_audience().sign(),
        keys.token()
            .scopes(["greet"])
            .signed_with_another_key()
            .sign(),
    ] {
        assert_status(
            client.who_am_i(Some(&token)).await,
            Code::Unauthenticated,
            INVALID_TOKEN_MESSAGE,
        );
    }
    assert_status(
        client
            .who_am_i(Some(&keys.token().missing_scope().sign()))
            .await,
        Code::PermissionDenied,
        INSUFFICIENT_SCOPE_MESSAGE,
    );

    server.shutdown().await;
}

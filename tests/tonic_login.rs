//! The tonic example server on a loopback socket: per-method rules, gRPC and HTTP login on one
//! port, a tonic client with the `BearerToken` interceptor.
#![cfg(all(feature = "tonic", feature = "login"))]

#[path = "../examples/common/demo.rs"]
mod demo;
#[path = "../examples/common/greeter.rs"]
mod greeter;
mod support;
#[path = "../examples/common/tonic_app.rs"]
mod tonic_app;

use std::net::SocketAddr;
use std::time::Duration;

use greeter::GreeterClient;
use http_body_util::{BodyExt, Full};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tower_jwt_auth::login::password::PasswordPolicy;
use tower_jwt_auth::login::{DEFAULT_BODY_LIMIT, ThrottlePolicy};
use tower_jwt_auth::tonic::BearerToken;
use tower_jwt_auth::tonic::auth::{AuthClient, LoginRequest, retry_delay};
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};

const PASSWORD: &str = "correct horse battery staple";

fn issuer() -> TokenIssuer {
    TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, support::SECRET).unwrap())
        .issuer("https://auth.test")
        .audience("greeter")
}

struct TestServer {
    addr: SocketAddr,
    channel: Channel,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    async fn start(scopes: &[&str], throttle: ThrottlePolicy) -> Self {
        let issuer = issuer();
        let (auth, rules) = tonic_app::layers(&issuer);
        let routes = tonic_app::routes(tonic_app::Config {
            issuer,
            demo: demo::Demo {
                user: "demo".into(),
                password: PASSWORD.into(),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            },
            policy: PasswordPolicy::default().m_cost_kib(256).t_cost(1),
            throttle,
        })
        .await
        .unwrap();
        let incoming = TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let addr = incoming.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(
            Server::builder()
                .accept_http1(true)
                .layer(auth)
                .layer(rules)
                .add_routes(routes)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                }),
        );
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        Self {
            addr,
            channel,
            stop: Some(stop),
        }
    }

    fn greeter(
        &self,
        token: &BearerToken,
    ) -> GreeterClient<InterceptedService<Channel, BearerToken>> {
        GreeterClient::new(InterceptedService::new(self.channel.clone(), token.clone()))
    }

    fn auth(&self) -> AuthClient<Channel> {
        AuthClient::new(self.channel.clone())
    }

    async fn grpc_login(&self, password: &str) -> Result<String, tonic::Status> {
        let request = LoginRequest {
            username: "demo".into(),
            password: password.into(),
            scope: String::new(),
        };
        Ok(self.auth().login(request).await?.into_inner().access_token)
    }

    /// `POST /login` over HTTP/1.1 on the gRPC port.
    async fn http_login(&self) -> (http::StatusCode, serde_json::Value) {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<bytes::Bytes>>();
        let body = format!(
            "grant_type=password&username=demo&password={}",
            PASSWORD.replace(' ', "+")
        );
        let request = http::Request::post(format!("http://{}/login", self.addr))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(bytes::Bytes::from(body)))
            .unwrap();
        let response = client.request(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[tokio::test]
async fn a_grpc_login_yields_a_token_the_protected_methods_accept() {
    let server = TestServer::start(&["read"], ThrottlePolicy::default()).await;
    let token = BearerToken::new();
    let mut greeter = server.greeter(&token);
    assert_eq!(
        greeter.who_am_i().await.unwrap_err().code(),
        Code::Unauthenticated
    );
    token
        .set(&server.grpc_login(PASSWORD).await.unwrap())
        .unwrap();
    let reply = greeter.who_am_i().await.unwrap();
    assert_eq!(reply.message, "you are demo with scopes [read]");
    token.clear();
    assert_eq!(
        greeter.who_am_i().await.unwrap_err().code(),
        Code::Unauthenticated
    );
}

#[tokio::test]
async fn an_http_login_on_the_same_port_yields_a_token_that_works_over_grpc() {
    let server = TestServer::start(&["read"], ThrottlePolicy::default()).await;
    let (status, body) = server.http_login().await;
    assert_eq!(status, http::StatusCode::OK, "{body}");
    let token = BearerToken::new();
    token.set(body["access_token"].as_str().unwrap()).unwrap();
    assert!(server.greeter(&token).who_am_i().await.is_ok());
}

#[tokio::test]
async fn public_protected_admin_and_streaming_methods_each_follow_their_rule() {
    let server = TestServer::start(&["read"], ThrottlePolicy::default()).await;
    let anonymous = BearerToken::new();
    let mut greeter = server.greeter(&anonymous);
    assert!(greeter.say_hello("x").await.is_ok());
    assert_eq!(
        greeter.countdown(2).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert_eq!(
        greeter.admin_report().await.unwrap_err().code(),
        Code::Unauthenticated
    );

    let reader = BearerToken::new();
    reader
        .set(&server.grpc_login(PASSWORD).await.unwrap())
        .unwrap();
    let mut greeter = server.greeter(&reader);
    let streamed = greeter.countdown(2).await.unwrap();
    assert_eq!(streamed.len(), 3);
    assert_eq!(streamed[2].message, "liftoff for demo");
    let denied = greeter.admin_report().await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(
        denied.message(),
        "the access token lacks the required scope"
    );

    let admin_server = TestServer::start(&["read", "admin"], ThrottlePolicy::default()).await;
    let admin = BearerToken::new();
    admin
        .set(&admin_server.grpc_login(PASSWORD).await.unwrap())
        .unwrap();
    assert!(admin_server.greeter(&admin).admin_report().await.is_ok());
}

#[tokio::test]
async fn invalid_tokens_are_unauthenticated_with_a_generic_message() {
    let server = TestServer::start(&["read"], ThrottlePolicy::default()).await;
    let other_audience = issuer().audience("billing");
    let forged = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[1; 32]).unwrap())
        .issuer("https://auth.test")
        .audience("greeter");
    for issuer in [other_audience, forged] {
        let token = BearerToken::new();
        token
            .set(&issuer.issue("demo", ["read"]).unwrap().access_token)
            .unwrap();
        let err = server.greeter(&token).who_am_i().await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        assert_eq!(err.message(), "the access token is invalid");
        // A public method still refuses a bad token rather than ignoring it.
        let err = server.greeter(&token).say_hello("x").await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    let stale = support::hs256(&format!(
        r#"{{"sub":"demo","iss":"https://auth.test","aud":"greeter","exp":{}}}"#,
        support::now() - 600
    ));
    let token = BearerToken::new();
    token.set(&stale).unwrap();
    let err = server.greeter(&token).who_am_i().await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn grpc_login_failures_map_to_grpc_codes_with_retry_information() {
    let throttle = ThrottlePolicy::default()
        .free_failures(1)
        .delays(Duration::from_secs(2), Duration::from_secs(2));
    let server = TestServer::start(&["read"], throttle).await;
    for _ in 0..2 {
        let err = server.grpc_login("wrong").await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        assert_eq!(err.message(), "the username or password is incorrect");
    }
    let err = server.grpc_login(PASSWORD).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert_eq!(retry_delay(&err), Some(Duration::from_secs(2)));
    assert_eq!(err.metadata().get("retry-after").unwrap(), "2");

    let err = server
        .auth()
        .login(LoginRequest {
            username: String::new(),
            password: "x".into(),
            scope: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_grpc_login_message_over_the_http_body_cap_is_refused_unread() {
    let server = TestServer::start(&["read"], ThrottlePolicy::default()).await;
    let huge = LoginRequest {
        username: "demo".into(),
        password: "x".repeat(DEFAULT_BODY_LIMIT),
        scope: String::new(),
    };
    let err = server.auth().login(huge).await.unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    // Just under the cap, the message is read (and the password refused as too long).
    let fits = LoginRequest {
        username: "demo".into(),
        password: "x".repeat(DEFAULT_BODY_LIMIT - 64),
        scope: String::new(),
    };
    let err = server.auth().login(fits).await.unwrap_err();
    assert_ne!(err.code(), Code::OutOfRange, "{err:?}");
}

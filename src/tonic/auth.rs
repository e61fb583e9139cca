//! The gRPC `Login` method (`proto/tower_jwt_auth/v1/auth.proto`), over the same core as the
//! HTTP [`login_handler`](crate::login::login_handler): same throttling, same timing, same
//! tokens.
//!
//! The messages and the service are written by hand to match the `.proto` file, so the crate
//! builds without `protoc`.
//!
//! | outcome | gRPC status |
//! |---|---|
//! | token issued | `OK` |
//! | unknown user, wrong password, disabled account | `UNAUTHENTICATED` |
//! | malformed request, no requested scope held | `INVALID_ARGUMENT` |
//! | account throttled | `RESOURCE_EXHAUSTED`, a `google.rpc.RetryInfo` detail and a `retry-after` trailer (seconds) |
//! | hashing pool saturated, backend failing | `UNAVAILABLE` |

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Body;
use prost::Message as _;
use tonic::server::{Grpc, NamedService};
use tonic::{Code, Status};
use tonic_prost::ProstCodec;
use tower_service::Service;
use zeroize::Zeroizing;

use crate::login::password::PasswordHashing;
use crate::login::{LoginError, LoginService, UserStore, retry_after_secs};
use crate::verify::revocation::BoxError;

/// The full name of the service.
pub const SERVICE_NAME: &str = "tower_jwt_auth.v1.Auth";
impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("scope", &self.scope)
            .finish()
    }
}

impl fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginResponse")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The path of the `Login` method.
pub const LOGIN_PATH: &str = "/tower_jwt_auth.v1.Auth/Login";

/// `tower_jwt_auth.v1.LoginRequest`. Its `Debug` never shows the password.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub struct LoginRequest {
    /// The username.
    #[prost(string, tag = "1")]
    pub username: String,
    /// The password.
    #[prost(string, tag = "2")]
    pub password: String,
    /// Space-separated scopes; empty for all of the user's.
    #[prost(string, tag = "3")]
    pub scope: String,
}

/// `tower_jwt_auth.v1.LoginResponse`. Its `Debug` never shows the token.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub struct LoginResponse {
    /// The access token.
    #[prost(string, tag = "1")]
    pub access_token: String,
    /// Always `Bearer`.
    #[prost(string, tag = "2")]
    pub token_type: String,
    /// Seconds until the token expires.
    #[prost(uint64, tag = "3")]
    pub expires_in: u64,
    /// The space-separated scopes granted.
    #[prost(string, tag = "4")]
    pub scope: String,
}

/// `google.rpc.Status`, to carry error details.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// The gRPC status for a failed login.
#[must_use]
pub fn login_status(error: &LoginError) -> Status {
    let message = error.description();
    match error {
        LoginError::InvalidGrant => Status::unauthenticated(message),
        LoginError::InvalidRequest(_) | LoginError::InvalidScope => {
            Status::invalid_argument(message)
        }
        LoginError::Throttled { retry_after } => throttled(message, *retry_after),
        _ => Status::unavailable(message),
    }
}

fn throttled(message: &str, retry_after: Duration) -> Status {
    let secs = retry_after_secs(retry_after);
    let retry = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: i64::try_from(secs).unwrap_or(i64::MAX),
            nanos: 0,
        }),
    };
    let details = RpcStatus {
        code: Code::ResourceExhausted as i32,
        message: message.to_owned(),
        details: vec![Any {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: retry.encode_to_vec(),
        }],
    };
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert("retry-after", secs.into());
    Status::with_details_and_metadata(
        Code::ResourceExhausted,
        message,
        Bytes::from(details.encode_to_vec()),
        metadata,
    )
}

/// The retry delay carried by a `RESOURCE_EXHAUSTED` status from [`AuthServer`], if any.
#[must_use]
pub fn retry_delay(status: &Status) -> Option<Duration> {
    let details = RpcStatus::decode(status.details()).ok()?;
    details
        .details
        .iter()
        .filter(|any| any.type_url.ends_with("/google.rpc.RetryInfo"))
        .find_map(|any| RetryInfo::decode(any.value.as_slice()).ok()?.retry_delay)
        .map(|d| Duration::new(u64::try_from(d.seconds).unwrap_or(0), 0))
}

/// The `tower_jwt_auth.v1.Auth` service: serve it with `Server::builder().add_service(…)`.
pub struct AuthServer<U, H> {
    login: LoginService<U, H>,
}

impl<U, H> AuthServer<U, H> {
    /// A gRPC face for `login` (from [`login_handler`](crate::login::login_handler)).
    #[must_use]
    pub fn new(login: LoginService<U, H>) -> Self {
        Self { login }
    }
}

impl<U, H> Clone for AuthServer<U, H> {
    fn clone(&self) -> Self {
        Self {
            login: self.login.clone(),
        }
    }
}

impl<U, H> fmt::Debug for AuthServer<U, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthServer")
            .field("login", &self.login)
            .finish()
    }
}

impl<U, H> NamedService for AuthServer<U, H> {
    const NAME: &'static str = SERVICE_NAME;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<U, H, B> Service<http::Request<B>> for AuthServer<U, H>
where
    U: UserStore,
    H: PasswordHashing,
    B: Body + Send + 'static,
    B::Error: Into<BoxError> + Send,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let login = LoginMethod(self.login.clone());
        Box::pin(async move {
            if request.uri().path() != LOGIN_PATH {
                return Ok(Status::unimplemented("no such method").into_http());
            }
            // The same cap as the HTTP body, not tonic's 4 MiB default.
            let limit = login.0.max_body_len();
            let codec = ProstCodec::<LoginResponse, LoginRequest>::default();
            Ok(Grpc::new(codec)
                .max_decoding_message_size(limit)
                .unary(login, request)
                .await)
        })
    }
}

/// The unary `Login` handler.
struct LoginMethod<U, H>(LoginService<U, H>);

impl<U, H> Service<tonic::Request<LoginRequest>> for LoginMethod<U, H>
where
    U: UserStore,
    H: PasswordHashing,
{
    type Response = tonic::Response<LoginResponse>;
    type Error = Status;
    type Future = BoxFuture<Result<Self::Response, Status>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<LoginRequest>) -> Self::Future {
        let login = self.0.clone();
        Box::pin(async move {
            let LoginRequest {
                username,
                password,
                scope,
            } = request.into_inner();
            let password = Zeroizing::new(password);
            let scope = Some(scope.as_str()).filter(|s| !s.trim().is_empty());
            let answer = login.authenticate(&username, password, scope).await;
            #[cfg(feature = "metrics")]
            crate::metrics::login(
                crate::metrics::Grant::Password,
                crate::metrics::Transport::Grpc,
                answer.as_ref().map_or_else(LoginError::outcome, |_| {
                    crate::metrics::LoginOutcome::Success
                }),
            );
            match answer {
                Ok(token) => Ok(tonic::Response::new(LoginResponse {
                    access_token: token.access_token,
                    token_type: "Bearer".into(),
                    expires_in: token.expires_in,
                    scope: token.scope,
                })),
                Err(error) => Err(login_status(&error)),
            }
        })
    }
}

/// A client of the `Auth` service, for any tonic channel.
#[derive(Clone, Debug)]
pub struct AuthClient<T> {
    inner: tonic::client::Grpc<T>,
}

impl<T> AuthClient<T>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<BoxError>,
    T::ResponseBody: Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<BoxError> + Send,
{
    /// A client over `channel` (a `tonic::transport::Channel`, or a layered one).
    pub fn new(channel: T) -> Self {
        Self {
            inner: tonic::client::Grpc::new(channel),
        }
    }

    /// Calls `Login`.
    ///
    /// # Errors
    ///
    /// The call's [`Status`]; see the [module docs](self) for the codes, and [`retry_delay`]
    /// for a throttled account.
    pub async fn login(
        &mut self,
        request: impl tonic::IntoRequest<LoginRequest>,
    ) -> Result<tonic::Response<LoginResponse>, Status> {
        self.inner
            .ready()
            .await
            .map_err(|e| Status::unavailable(format!("the channel is not ready: {}", e.into())))?;
        let codec = ProstCodec::<LoginRequest, LoginResponse>::default();
        let path = http::uri::PathAndQuery::from_static(LOGIN_PATH);
        self.inner.unary(request.into_request(), path, codec).await
    }
}

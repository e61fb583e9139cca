//! `greeter.v1.Greeter` (examples/proto/greeter.proto), written by hand: messages with
//! `prost`'s derive, the server and client over tonic's `Grpc` — what `tonic-build` would
//! generate, without needing `protoc`.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::codegen::tokio_stream::{self, Stream};
use tonic::server::{Grpc, NamedService};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;
use tower_jwt_auth::Claims;
use tower_jwt_auth::tonic::RequestClaimsExt;

pub const SAY_HELLO: &str = "/greeter.v1.Greeter/SayHello";
pub const WHO_AM_I: &str = "/greeter.v1.Greeter/WhoAmI";
pub const ADMIN_REPORT: &str = "/greeter.v1.Greeter/AdminReport";
pub const COUNTDOWN: &str = "/greeter.v1.Greeter/Countdown";

#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HelloRequest {
    #[prost(string, tag = "1")]
    pub name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HelloReply {
    #[prost(string, tag = "1")]
    pub message: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CountdownRequest {
    #[prost(uint32, tag = "1")]
    pub from: u32,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type ReplyStream = Pin<Box<dyn Stream<Item = Result<HelloReply, Status>> + Send>>;

fn subject(claims: Option<&Claims>) -> String {
    claims
        .and_then(|c| c.sub.clone())
        .unwrap_or_else(|| "anonymous".into())
}

/// Wraps a closure as the tower service tonic's `Grpc` drives for one method.
#[derive(Clone)]
struct Method<F>(F);

impl<F, Req, Res> tower::Service<Request<Req>> for Method<F>
where
    F: Fn(Request<Req>) -> Result<Response<Res>, Status>,
{
    type Response = Response<Res>;
    type Error = Status;
    type Future = std::future::Ready<Result<Response<Res>, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Req>) -> Self::Future {
        std::future::ready((self.0)(request))
    }
}

fn say_hello(request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
    let caller = subject(request.claims::<Claims>());
    let name = request.into_inner().name;
    Ok(Response::new(HelloReply {
        message: format!("Hello, {name}! (called by {caller})"),
    }))
}

fn who_am_i(request: Request<Empty>) -> Result<Response<HelloReply>, Status> {
    let claims = request
        .claims::<Claims>()
        .ok_or_else(|| Status::unauthenticated("authentication is required"))?;
    Ok(Response::new(HelloReply {
        message: format!(
            "you are {} with scopes [{}]",
            subject(Some(claims)),
            claims.scope.as_deref().unwrap_or("")
        ),
    }))
}

fn admin_report(request: Request<Empty>) -> Result<Response<HelloReply>, Status> {
    let caller = subject(request.claims::<Claims>());
    Ok(Response::new(HelloReply {
        message: format!("admin report for {caller}: all systems nominal"),
    }))
}

fn countdown(request: Request<CountdownRequest>) -> Result<Response<ReplyStream>, Status> {
    let caller = subject(request.claims::<Claims>());
    let from = request.into_inner().from.min(100);
    let replies: Vec<_> = (1..=from)
        .rev()
        .map(|n| {
            Ok(HelloReply {
                message: format!("{n}…"),
            })
        })
        .chain(std::iter::once(Ok(HelloReply {
            message: format!("liftoff for {caller}"),
        })))
        .collect();
    Ok(Response::new(Box::pin(tokio_stream::iter(replies))))
}

/// The server side: `Server::builder().add_service(GreeterServer)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct GreeterServer;

impl NamedService for GreeterServer {
    const NAME: &'static str = "greeter.v1.Greeter";
}

impl tower::Service<http::Request<tonic::body::Body>> for GreeterServer {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            let response = match request.uri().path() {
                SAY_HELLO => {
                    let mut grpc = Grpc::new(ProstCodec::<HelloReply, HelloRequest>::default());
                    grpc.unary(Method(say_hello), request).await
                }
                WHO_AM_I => {
                    let mut grpc = Grpc::new(ProstCodec::<HelloReply, Empty>::default());
                    grpc.unary(Method(who_am_i), request).await
                }
                ADMIN_REPORT => {
                    let mut grpc = Grpc::new(ProstCodec::<HelloReply, Empty>::default());
                    grpc.unary(Method(admin_report), request).await
                }
                COUNTDOWN => {
                    let mut grpc = Grpc::new(ProstCodec::<HelloReply, CountdownRequest>::default());
                    grpc.server_streaming(Method(countdown), request).await
                }
                _ => Status::unimplemented("no such method").into_http(),
            };
            Ok(response)
        })
    }
}

/// The client side, over any channel (e.g. one with a `BearerToken` interceptor).
#[derive(Clone, Debug)]
pub struct GreeterClient<T> {
    inner: tonic::client::Grpc<T>,
}

impl<T> GreeterClient<T>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tower_jwt_auth::verify::BoxError>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<tower_jwt_auth::verify::BoxError> + Send,
{
    pub fn new(channel: T) -> Self {
        Self {
            inner: tonic::client::Grpc::new(channel),
        }
    }

    async fn ready(&mut self) -> Result<(), Status> {
        self.inner
            .ready()
            .await
            .map_err(|e| Status::unavailable(format!("channel not ready: {}", e.into())))
    }

    pub async fn say_hello(&mut self, name: &str) -> Result<HelloReply, Status> {
        self.ready().await?;
        let request = Request::new(HelloRequest { name: name.into() });
        let path = http::uri::PathAndQuery::from_static(SAY_HELLO);
        let codec = ProstCodec::<HelloRequest, HelloReply>::default();
        Ok(self.inner.unary(request, path, codec).await?.into_inner())
    }

    pub async fn who_am_i(&mut self) -> Result<HelloReply, Status> {
        self.empty(WHO_AM_I).await
    }

    pub async fn admin_report(&mut self) -> Result<HelloReply, Status> {
        self.empty(ADMIN_REPORT).await
    }

    async fn empty(&mut self, path: &'static str) -> Result<HelloReply, Status> {
        self.ready().await?;
        let path = http::uri::PathAndQuery::from_static(path);
        let codec = ProstCodec::<Empty, HelloReply>::default();
        Ok(self
            .inner
            .unary(Request::new(Empty {}), path, codec)
            .await?
            .into_inner())
    }

    /// Collects the whole stream.
    pub async fn countdown(&mut self, from: u32) -> Result<Vec<HelloReply>, Status> {
        self.ready().await?;
        let path = http::uri::PathAndQuery::from_static(COUNTDOWN);
        let codec = ProstCodec::<CountdownRequest, HelloReply>::default();
        let mut stream = self
            .inner
            .server_streaming(Request::new(CountdownRequest { from }), path, codec)
            .await?
            .into_inner();
        let mut replies = Vec::new();
        while let Some(reply) = stream.message().await? {
            replies.push(reply);
        }
        Ok(replies)
    }
}

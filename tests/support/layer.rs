//! The layer in front of a bare service that answers 200: `layer` verifies HS256 tokens signed
//! with `SECRET`, and `status` is what a layer stack answers for a request to `/orders`.

use std::convert::Infallible;

use http::header::AUTHORIZATION;
use http::{Request, Response, StatusCode};
use tower::{Layer, Service, ServiceExt};
use tower_jwt_auth::{Algorithm, DecodingKey, JwtAuthLayer};

use super::SECRET;

/// The layer verifying HS256 tokens signed with [`SECRET`], with every default.
pub fn layer() -> JwtAuthLayer {
    JwtAuthLayer::new(DecodingKey::from_secret(Algorithm::HS256, SECRET).unwrap())
}

/// The status `layer` answers for a request with `authorization`, if any.
pub async fn status<L, B>(layer: &L, authorization: Option<&str>) -> StatusCode
where
    L: Layer<
        tower::util::ServiceFn<
            fn(Request<()>) -> std::future::Ready<Result<Response<()>, Infallible>>,
        >,
    >,
    L::Service: Service<Request<()>, Response = Response<B>>,
    <L::Service as Service<Request<()>>>::Error: std::fmt::Debug,
{
    fn ok(_: Request<()>) -> std::future::Ready<Result<Response<()>, Infallible>> {
        std::future::ready(Ok(Response::new(())))
    }
    let inner = tower::service_fn(ok as fn(_) -> _);
    let mut request = Request::builder().uri("/orders");
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    let response = layer
        .layer(inner)
        .oneshot(request.body(()).unwrap())
        .await
        .unwrap();
    response.status()
}

/// An `Authorization` value carrying `token`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

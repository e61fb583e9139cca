//! [`JwksService`]: the public keys as a JWKS document.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use std::sync::Arc;

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use tower_service::Service;

/// Serves the issuer's JWKS document (`GET`/`HEAD`), cacheable for five minutes; it follows
/// key rotations (verifiers refetch on an unknown `kid`).
#[derive(Clone, Debug)]
pub struct JwksService {
    pub(super) keys: Arc<super::issuer::KeyRing>,
}

impl<B> Service<Request<B>> for JwksService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut response = if request.method() == Method::GET || request.method() == Method::HEAD {
            let mut response = Response::new(Full::new(self.keys.jwks_body()));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            );
            response.headers_mut().insert(
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            response
        } else {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
        };
        if request.method() == Method::HEAD {
            *response.body_mut() = Full::new(Bytes::new());
        }
        ready(Ok(response))
    }
}

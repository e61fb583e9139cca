//! The `JwtAuthLayer` middleware: verify the bearer token, put the claims in the request's
//! extensions, or answer with the standard rejection.

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::JwtAuthLayer;
pub use service::JwtAuth;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Response};

use crate::error::AuthError;
use crate::extract::TokenSource;
use crate::rejection::OnRejection;
use crate::revocation::Revocation;
use crate::verifier::Verifier;

/// Default cap on a token's length: 8 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// What every clone of a layer and its services shares.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) verifier: Verifier,
    pub(crate) sources: Vec<TokenSource>,
    pub(crate) max_token_len: usize,
    pub(crate) optional: bool,
    pub(crate) revocation: Option<Arc<dyn Revocation>>,
}

/// Builds a rejection response and attaches the error to it, for outer layers to see.
pub(crate) fn rejection<R: OnRejection>(
    on_rejection: &R,
    error: AuthError,
    request_headers: &HeaderMap,
) -> Response<Bytes> {
    tracing::debug!(reason = %error, kind = ?error.kind(), "request rejected");
    let mut response = on_rejection.on_rejection(&error, request_headers);
    response.extensions_mut().insert(error);
    response
}

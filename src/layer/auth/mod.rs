//! The `JwtAuthLayer` middleware: verify the bearer token, put the claims in the request's
//! extensions, or answer with the standard rejection.

mod layer;
// Without the `remote` feature nothing resolves keys per request: the hook stays unused.
#[cfg_attr(not(feature = "remote"), allow(dead_code))]
mod resolve;
mod service;

pub use layer::JwtAuthLayer;
#[cfg(feature = "remote")]
pub(crate) use resolve::{KeySource, KeysWait, Resolution, SourceWait};
pub(crate) use resolve::{PendingCheck, Resolve, Waited};
pub use service::JwtAuth;

use std::sync::Arc;

use crate::layer::extract::TokenSource;
use crate::verify::revocation::Revocation;
use crate::verify::verifier::Verifier;

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
    /// Keys chosen per request (remote key sets); `None` for the verifier's own keys.
    pub(crate) resolver: Option<Arc<dyn Resolve>>,
}

//! The tower and HTTP layer: the middleware that reads the credential, asks the
//! [verifying core](crate::verify), and answers a refused request as RFC 6750 and gRPC ask.
//!
//! | file | what it holds |
//! |---|---|
//! | `auth/` | [`JwtAuthLayer`] and its service [`JwtAuth`]: header → token → claims → extensions |
//! | `extract.rs` | reading the credential: the `Authorization` grammar, [`TokenSource`] |
//! | `rejection.rs` | the responses: `WWW-Authenticate` challenges, bodies, statuses, gRPC codes |
//! | `scope/` | [`RequireScopeLayer`], per route or per gRPC method ([`MethodScopes`]) |
//! | `future.rs`, `body.rs` | [`ResponseFuture`] and [`ResponseBody`], shared by both middlewares |
//! | `decision.rs` | each request's decision told to `tracing` (a DEBUG span) and, feature `metrics`, to `metrics` |
//! | `access.rs` | [`ClaimsExt`]: the verified claims, read from any `http` request |
//! | `metadata.rs` | [`ProtectedResourceMetadata`]: the RFC 9728 document and its well-known path |

mod access;
pub(crate) mod auth;
mod body;
mod decision;
pub(crate) mod extract;
mod future;
mod metadata;
mod rejection;
mod scope;

pub use access::ClaimsExt;
pub use auth::{DEFAULT_MAX_TOKEN_LEN, JwtAuth, JwtAuthLayer};
pub use body::ResponseBody;
pub use extract::{SameOrigin, TokenSource};
pub use future::ResponseFuture;
pub use metadata::{PROTECTED_RESOURCE_METADATA_PATH, ProtectedResourceMetadata};
pub use rejection::{DefaultRejection, OnRejection, grpc_code, grpc_status, http_status, is_grpc};
pub use scope::{MethodScopes, RequireScope, RequireScopeLayer};

pub(crate) use rejection::reject;

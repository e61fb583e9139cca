//! Rejection responses: RFC 6750 challenges for HTTP, trailers-only statuses for gRPC.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, Response, StatusCode};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::verify::error::{AuthError, ErrorCode};

/// Builds the response for a rejected request.
///
/// Implemented for closures `Fn(&AuthError, &HeaderMap) -> Response<Bytes>`, which get the error
/// and the request's headers (to answer gRPC calls, see [`is_grpc`]). Whatever the response,
/// the service attaches the [`AuthError`] to its extensions.
pub trait OnRejection: Clone + Send + Sync + 'static {
    /// The response for `error`.
    fn on_rejection(&self, error: &AuthError, request_headers: &HeaderMap) -> Response<Bytes>;
}

impl<F> OnRejection for F
where
    F: Fn(&AuthError, &HeaderMap) -> Response<Bytes> + Clone + Send + Sync + 'static,
{
    fn on_rejection(&self, error: &AuthError, request_headers: &HeaderMap) -> Response<Bytes> {
        self(error, request_headers)
    }
}

/// The HTTP status of the standard rejection for `error`: 401 for a missing or bad token, 400
/// for a malformed credential, 403 for a missing scope, 503 when the token could not be checked.
#[must_use]
pub const fn http_status(error: &AuthError) -> StatusCode {
    match error.code() {
        ErrorCode::None | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The gRPC status code of the standard rejection of a gRPC call for `error`:
/// `UNAUTHENTICATED` (16), `PERMISSION_DENIED` (7) for a missing scope, `UNAVAILABLE` (14) when
/// the token could not be checked.
#[must_use]
pub const fn grpc_code(error: &AuthError) -> u8 {
    match error.code() {
        ErrorCode::InsufficientScope => 7,
        ErrorCode::TemporarilyUnavailable => 14,
        _ => 16,
    }
}

/// Whether the request is a gRPC call (`content-type: application/grpc…`).
#[must_use]
pub fn is_grpc(request_headers: &HeaderMap) -> bool {
    request_headers
        .get(CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/grpc"))
}

/// The standard rejections.
///
/// HTTP (RFC 6750 §3): a `WWW-Authenticate: Bearer realm="…"` challenge, with `error`,
/// `error_description` (and `scope` for 403) when the request carried a bearer credential, and a
/// JSON body `{"error": …, "error_description": …}`; no body when there was no credential.
///
/// A 503 (the token could not be checked) carries no challenge, and `Retry-After` when the
/// error says when to retry ([`AuthError::retry_after`]). With
/// [`resource_metadata`](Self::resource_metadata), every challenge also names the protected
/// resource metadata (RFC 9728 §5.1), where clients find the authorization server.
///
/// gRPC: HTTP 200 with `grpc-status` (16 `UNAUTHENTICATED`, 7 `PERMISSION_DENIED`,
/// 14 `UNAVAILABLE`) and `grpc-message`, and no body: a trailers-only response.
#[derive(Clone)]
pub struct DefaultRejection {
    realm: Arc<str>,
    /// `, resource_metadata="…"`, ready to append to a challenge; empty when not set.
    resource_metadata: Arc<str>,
}

impl Default for DefaultRejection {
    fn default() -> Self {
        Self::new("api")
    }
}

impl DefaultRejection {
    /// Rejections naming `realm` in their challenge. Quotes and backslashes are escaped.
    #[must_use]
    pub fn new(realm: &str) -> Self {
        Self {
            realm: quote(realm).into(),
            resource_metadata: "".into(),
        }
    }

    /// The same rejections, naming `realm`.
    pub(crate) fn with_realm(mut self, realm: &str) -> Self {
        self.realm = quote(realm).into();
        self
    }

    /// Challenges name `url`, the resource's metadata document (RFC 9728 §5.1: typically
    /// `https://<resource>/.well-known/oauth-protected-resource`, see
    /// [`ProtectedResourceMetadata`](crate::layer::ProtectedResourceMetadata)), in a
    /// `resource_metadata` parameter.
    #[must_use]
    pub fn resource_metadata(mut self, url: &str) -> Self {
        self.resource_metadata = format!(", resource_metadata=\"{}\"", quote(url)).into();
        self
    }

    /// The HTTP response for `error`.
    #[must_use]
    pub fn http_response(&self, error: &AuthError) -> Response<Bytes> {
        let code = error.code();
        let mut challenge = format!("Bearer realm=\"{}\"{}", self.realm, self.resource_metadata);
        let body = match code.as_str() {
            None => Bytes::new(),
            Some(name) => {
                if code != ErrorCode::TemporarilyUnavailable {
                    challenge.push_str(&format!(
                        ", error=\"{name}\", error_description=\"{}\"",
                        error.description()
                    ));
                    if let Some(scope) = error.required_scope() {
                        challenge.push_str(&format!(", scope=\"{}\"", quote(scope)));
                    }
                }
                Bytes::from(format!(
                    r#"{{"error":"{name}","error_description":"{}"}}"#,
                    error.description()
                ))
            }
        };
        let mut response = Response::new(body);
        *response.status_mut() = http_status(error);
        let headers = response.headers_mut();
        if code != ErrorCode::TemporarilyUnavailable {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_str(&challenge)
                    .unwrap_or_else(|_| HeaderValue::from_static("Bearer")),
            );
        }
        if let Some(seconds) = error.retry_after() {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if code.as_str().is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// The gRPC (trailers-only) response for `error`.
    #[must_use]
    pub fn grpc_response(&self, error: &AuthError) -> Response<Bytes> {
        grpc_status(grpc_code(error), error.description())
    }
}

impl OnRejection for DefaultRejection {
    fn on_rejection(&self, error: &AuthError, request_headers: &HeaderMap) -> Response<Bytes> {
        if is_grpc(request_headers) {
            self.grpc_response(error)
        } else {
            self.http_response(error)
        }
    }
}

impl fmt::Debug for DefaultRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultRejection")
            .field("realm", &self.realm)
            .field("resource_metadata", &self.resource_metadata)
            .finish()
    }
}

/// Characters `grpc-message` must percent-encode (gRPC over HTTP/2 spec): everything outside
/// printable ASCII, and `%`.
const GRPC_MESSAGE: &AsciiSet = &CONTROLS.add(b'%');

/// A trailers-only gRPC response: HTTP 200, `grpc-status`, `grpc-message`, no body.
#[must_use]
pub fn grpc_status(code: u8, message: &str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(u16::from(code)));
    let message = utf8_percent_encode(message, GRPC_MESSAGE).to_string();
    if let Ok(value) = HeaderValue::from_str(&message) {
        headers.insert("grpc-message", value);
    }
    response
}

/// Escapes a quoted-string's content (RFC 7230 §3.2.6), dropping control characters.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            _ => {}
        }
    }
    out
}

/// Builds a rejection response and attaches the error to it, for outer layers to see.
pub(crate) fn reject<R: OnRejection>(
    on_rejection: &R,
    error: AuthError,
    request_headers: &HeaderMap,
) -> Response<Bytes> {
    tracing::debug!(reason = %error, kind = ?error.kind(), "request rejected");
    let mut response = on_rejection.on_rejection(&error, request_headers);
    response.extensions_mut().insert(error);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::error::ErrorKind;

    #[test]
    fn realms_are_escaped() {
        let r = DefaultRejection::new("a \"b\" \\c\n");
        let res = r.http_response(&ErrorKind::MissingCredential.into());
        assert_eq!(
            res.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="a \"b\" \\c""#
        );
    }

    #[test]
    fn grpc_messages_are_percent_encoded() {
        let res = grpc_status(16, "50% off\n");
        assert_eq!(res.headers()["grpc-message"], "50%25 off%0A");
        assert_eq!(res.headers()["grpc-status"], "16");
    }
}

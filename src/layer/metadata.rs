//! [`ProtectedResourceMetadata`]: the RFC 9728 document a protected resource publishes at
//! `/.well-known/oauth-protected-resource`, so that OAuth 2.1 clients (MCP clients among them)
//! find the authorization server that issues its tokens.

use std::fmt;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use serde::Serialize;

/// The path of the metadata document, for a resource identifier without a path.
pub const PROTECTED_RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// A protected resource's metadata (RFC 9728 §2): its identifier, the authorization servers
/// whose tokens it accepts, the scopes it understands and how it takes a bearer token.
///
/// Mount it as a tower service at [`well_known_path`](Self::well_known_path) (axum:
/// `Router::route_service(&metadata.well_known_path(), metadata.clone())`), or serve
/// [`http_response`](Self::http_response) yourself there,
/// and name [`well_known_url`](Self::well_known_url) in challenges with
/// [`DefaultRejection::resource_metadata`](crate::layer::DefaultRejection::resource_metadata)
/// (or [`JwtAuthLayer::resource_metadata`](crate::JwtAuthLayer::resource_metadata)).
///
/// ```
/// use tower_jwt_auth::layer::ProtectedResourceMetadata;
///
/// let metadata = ProtectedResourceMetadata::new("https://api.example.com")
///     .authorization_server("https://auth.example.com")
///     .scopes(["read", "admin"]);
/// assert_eq!(
///     metadata.well_known_url(),
///     "https://api.example.com/.well-known/oauth-protected-resource"
/// );
/// let response = metadata.http_response();
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// ```
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ProtectedResourceMetadata {
    resource: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authorization_servers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scopes_supported: Vec<String>,
    bearer_methods_supported: Vec<String>,
}

impl ProtectedResourceMetadata {
    /// The metadata of the resource identified by `resource` (an https URL, no fragment),
    /// taking bearer tokens in the `Authorization` header.
    #[must_use]
    pub fn new(resource: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            bearer_methods_supported: vec!["header".to_owned()],
        }
    }

    /// Adds an authorization server (its issuer identifier) whose tokens the resource accepts.
    #[must_use]
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// The scopes the resource understands.
    #[must_use]
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// How the resource takes a bearer token (`header`, `body`, `query`; default `header`).
    #[must_use]
    pub fn bearer_methods<S: Into<String>>(mut self, methods: impl IntoIterator<Item = S>) -> Self {
        self.bearer_methods_supported = methods.into_iter().map(Into::into).collect();
        self
    }

    /// The resource identifier.
    #[must_use]
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Where the document is served: the well-known path inserted between the host and the
    /// resource's path (RFC 9728 §3.1), `/.well-known/oauth-protected-resource{path}`.
    #[must_use]
    pub fn well_known_path(&self) -> String {
        let (_, path) = split_origin(&self.resource);
        format!(
            "{PROTECTED_RESOURCE_METADATA_PATH}{}",
            path.trim_end_matches('/')
        )
    }

    /// The document's URL, for the `resource_metadata` challenge parameter.
    #[must_use]
    pub fn well_known_url(&self) -> String {
        let (origin, _) = split_origin(&self.resource);
        format!("{origin}{}", self.well_known_path())
    }

    /// The document as JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The answer to `GET` on the well-known path: 200, `application/json`, cacheable for an
    /// hour.
    #[must_use]
    pub fn http_response(&self) -> Response<Bytes> {
        let mut response = Response::new(Bytes::from(self.to_json()));
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
        response
    }
}

/// The well-known document as a tower service: `GET` and `HEAD` answer it (`HEAD` without the
/// body), any other method 405 with `Allow: GET, HEAD`.
impl<B> tower_service::Service<http::Request<B>> for ProtectedResourceMetadata {
    type Response = Response<String>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Response<String>, std::convert::Infallible>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), std::convert::Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.method();
        let response = if method == http::Method::GET || method == http::Method::HEAD {
            let head = method == http::Method::HEAD;
            let (parts, body) = self.http_response().into_parts();
            let body = if head {
                String::new()
            } else {
                String::from_utf8_lossy(&body).into_owned()
            };
            Response::from_parts(parts, body)
        } else {
            let mut response = Response::new(String::new());
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
        };
        std::future::ready(Ok(response))
    }
}

/// `https://host:port` and the path after it.
fn split_origin(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    match url[after_scheme..].find('/') {
        Some(at) => url.split_at(after_scheme + at),
        None => (url, ""),
    }
}

impl fmt::Debug for ProtectedResourceMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtectedResourceMetadata")
            .field("resource", &self.resource)
            .field("authorization_servers", &self.authorization_servers)
            .field("scopes_supported", &self.scopes_supported)
            .field("bearer_methods_supported", &self.bearer_methods_supported)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_a_service_it_answers_get_and_head_and_refuses_other_methods() {
        use std::future::Future as _;
        use tower_service::Service as _;
        let mut metadata = ProtectedResourceMetadata::new("https://api.example.com")
            .authorization_server("https://auth.example.com");
        let mut call = |method: http::Method| {
            let request = http::Request::builder().method(method).body(()).unwrap();
            let mut future = std::pin::pin!(metadata.call(request));
            let waker = std::task::Waker::noop();
            match future
                .as_mut()
                .poll(&mut std::task::Context::from_waker(waker))
            {
                std::task::Poll::Ready(Ok(response)) => response,
                _ => panic!("the metadata service answers at once"),
            }
        };
        let get = call(http::Method::GET);
        assert_eq!(get.status(), StatusCode::OK);
        assert_eq!(get.headers()[CONTENT_TYPE], "application/json");
        let json: serde_json::Value = serde_json::from_str(get.body()).unwrap();
        assert_eq!(json["resource"], "https://api.example.com");
        assert_eq!(json["authorization_servers"][0], "https://auth.example.com");
        let head = call(http::Method::HEAD);
        assert_eq!(head.status(), StatusCode::OK);
        assert!(head.body().is_empty());
        let post = call(http::Method::POST);
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[http::header::ALLOW], "GET, HEAD");
    }

    #[test]
    fn the_well_known_path_goes_before_the_resource_path() {
        let m = ProtectedResourceMetadata::new("https://api.example.com/v1/");
        assert_eq!(
            m.well_known_path(),
            "/.well-known/oauth-protected-resource/v1"
        );
        assert_eq!(
            m.well_known_url(),
            "https://api.example.com/.well-known/oauth-protected-resource/v1"
        );
    }

    #[test]
    fn the_document_has_the_rfc_9728_members() {
        let m = ProtectedResourceMetadata::new("https://api.example.com")
            .authorization_server("https://auth.example.com")
            .scopes(["read", "admin"]);
        let json: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "resource": "https://api.example.com",
                "authorization_servers": ["https://auth.example.com"],
                "scopes_supported": ["read", "admin"],
                "bearer_methods_supported": ["header"],
            })
        );
    }
}

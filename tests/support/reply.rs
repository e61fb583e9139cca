//! A response of the layer as the tests read it: status, headers, body and the `AuthError` the
//! layer attached, with the assertions on each kind of answer (status, `WWW-Authenticate`
//! challenge and body together).

use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use tower_jwt_auth::{AuthError, Claims, ErrorKind};

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    pub error: Option<AuthError>,
}

/// Reads `response` whole.
pub async fn reply<B>(response: Response<B>) -> Reply
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        error: parts.extensions.get::<AuthError>().cloned(),
        headers: parts.headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

impl Reply {
    /// The `WWW-Authenticate` header, or `""`.
    pub fn challenge(&self) -> &str {
        self.headers
            .get(WWW_AUTHENTICATE)
            .map_or("", |v| v.to_str().unwrap())
    }

    pub fn kind(&self) -> Option<ErrorKind> {
        self.error.as_ref().map(AuthError::kind)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// 401 `invalid_token`: the challenge, the JSON body, and the error `kind`.
    #[track_caller]
    pub fn assert_invalid_token(&self, kind: ErrorKind) {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED, "{}", self.body);
        assert_eq!(
            self.challenge(),
            r#"Bearer realm="api", error="invalid_token", error_description="the access token is invalid""#
        );
        assert_eq!(
            self.json(),
            json!({"error": "invalid_token", "error_description": "the access token is invalid"})
        );
        assert_eq!(self.headers[CONTENT_TYPE], "application/json");
        assert_eq!(self.kind(), Some(kind));
    }

    /// 400 `invalid_request`: the challenge, the JSON body, and the error `kind`.
    #[track_caller]
    pub fn assert_invalid_request(&self, kind: ErrorKind) {
        assert_eq!(self.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            self.challenge(),
            r#"Bearer realm="api", error="invalid_request", error_description="the request's credential is malformed""#
        );
        assert_eq!(
            self.json(),
            json!({"error": "invalid_request", "error_description": "the request's credential is malformed"})
        );
        assert_eq!(self.kind(), Some(kind));
    }

    /// 401 with a bare `Bearer realm="api"` challenge and no body.
    #[track_caller]
    pub fn assert_bare_challenge(&self, kind: ErrorKind) {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED);
        assert_eq!(self.challenge(), r#"Bearer realm="api""#);
        assert_eq!(self.body, "");
        assert!(self.headers.get(CONTENT_TYPE).is_none());
        assert_eq!(self.kind(), Some(kind));
    }

    /// 403 `insufficient_scope` naming `scope` in the challenge, and the JSON body.
    #[track_caller]
    pub fn assert_insufficient_scope(&self, scope: &str) {
        assert_eq!(self.status, StatusCode::FORBIDDEN, "{}", self.body);
        assert_eq!(
            self.challenge(),
            format!(
                r#"Bearer realm="api", error="insufficient_scope", error_description="the access token lacks the required scope", scope="{scope}""#
            )
        );
        assert_eq!(
            self.json(),
            json!({"error": "insufficient_scope", "error_description": "the access token lacks the required scope"})
        );
        assert_eq!(self.kind(), Some(ErrorKind::InsufficientScope));
    }

    /// 200 with exactly `body`.
    #[track_caller]
    pub fn assert_ok(&self, body: &str) {
        self.assert_status_ok();
        assert_eq!(self.body, body);
    }

    /// 200, or a failure showing the body and the error.
    #[track_caller]
    fn assert_status_ok(&self) {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "{} {:?}",
            self.body,
            self.error
        );
    }

    /// 200, and the claims the handler answered with as JSON.
    #[track_caller]
    pub fn claims(&self) -> Claims {
        self.assert_status_ok();
        serde_json::from_str(&self.body).unwrap()
    }
}

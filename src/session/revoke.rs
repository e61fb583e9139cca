//! The revocation endpoint (RFC 7009) as a tower service: [`revocation_handler`].

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, PRAGMA, RETRY_AFTER};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tower_service::Service;
use zeroize::Zeroizing;

use super::{RefreshToken, Sessions};
use crate::login::{DEFAULT_BODY_LIMIT, json_response, media_type};
use crate::verify::claims::Claims;
use crate::verify::revocation::BoxError;

/// The revocation service (RFC 7009): `POST` a form with `token` (and optionally
/// `token_type_hint`) to end a session or an access token.
///
/// | request | status | body |
/// |---|---|---|
/// | a refresh token: its family and the family's access tokens are revoked | 200 | empty |
/// | an access token of the issuer: denylisted by (`iss`, `jti`) until its `exp` | 200 | empty |
/// | a token unknown, expired, or not ours (RFC 7009 §2.2: nothing to tell) | 200 | empty |
/// | `token` missing, a parameter repeated | 400 | `invalid_request` |
/// | another content type | 415 | `invalid_request` |
/// | body over 16 KiB | 413 | `invalid_request` |
/// | another method | 405, `Allow: POST` | `invalid_request` |
/// | the store failing | 503, `Retry-After` | `temporarily_unavailable`; nothing revoked |
///
/// Every answer carries `Cache-Control: no-store`. `token_type_hint` is only a hint (§2.1):
/// a refresh token (43 base64url characters) and a JWT (three dot-separated parts) are told
/// apart by their shape, whatever it says. Revoking an access token does not end its session;
/// revoking the refresh token does (logout).
///
/// The endpoint authenticates no client (the login side issues to public clients, as RFC 7009
/// §5 allows): whoever holds a token may revoke it. Put the same per-client rate limit in front
/// of it as in front of the token endpoint.
pub fn revocation_handler(sessions: Sessions) -> RevocationService {
    RevocationService { sessions }
}

/// The service made by [`revocation_handler`]. Cheap to clone.
#[derive(Clone)]
pub struct RevocationService {
    sessions: Sessions,
}

impl fmt::Debug for RevocationService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationService")
            .field("sessions", &self.sessions)
            .finish()
    }
}

impl<B> Service<Request<B>> for RevocationService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let sessions = self.sessions.clone();
        Box::pin(async move {
            let answer = revoke(&sessions, request).await;
            #[cfg(feature = "metrics")]
            {
                use crate::metrics::{RevocationOutcome, token_revocation};
                token_revocation(match &answer {
                    Ok(Revoked::RefreshToken) => RevocationOutcome::RefreshToken,
                    Ok(Revoked::AccessToken) => RevocationOutcome::AccessToken,
                    Ok(Revoked::Ignored) => RevocationOutcome::Ignored,
                    Err(Failure::Unavailable) => RevocationOutcome::Unavailable,
                    Err(_) => RevocationOutcome::InvalidRequest,
                });
            }
            Ok(match answer {
                Ok(_) => empty_ok(),
                Err(failure) => failure.into_response(),
            })
        })
    }
}

enum Failure {
    MethodNotAllowed,
    UnsupportedMediaType,
    TooLarge,
    Invalid(&'static str),
    Unavailable,
}

impl Failure {
    fn into_response(self) -> Response<Full<Bytes>> {
        let (status, error, description) = match self {
            Failure::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "the revocation endpoint accepts POST only",
            ),
            Failure::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                "send application/x-www-form-urlencoded",
            ),
            Failure::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "the request body is too large",
            ),
            Failure::Invalid(why) => (StatusCode::BAD_REQUEST, "invalid_request", why),
            Failure::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the revocation service is unavailable; retry shortly",
            ),
        };
        let body = serde_json::json!({ "error": error, "error_description": description });
        let mut response = json_response(status, &body);
        match status {
            StatusCode::METHOD_NOT_ALLOWED => {
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("POST"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

fn empty_ok() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// What a successful revocation request did (counted by the feature `metrics`).
enum Revoked {
    RefreshToken,
    AccessToken,
    Ignored,
}

async fn revoke<B>(sessions: &Sessions, request: Request<B>) -> Result<Revoked, Failure>
where
    B: Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    if request.method() != Method::POST {
        return Err(Failure::MethodNotAllowed);
    }
    match media_type(request.headers().get(CONTENT_TYPE)) {
        Some(m) if m.eq_ignore_ascii_case("application/x-www-form-urlencoded") => {}
        _ => return Err(Failure::UnsupportedMediaType),
    }
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > DEFAULT_BODY_LIMIT as u64) {
        return Err(Failure::TooLarge);
    }
    let body = Limited::new(request.into_body(), DEFAULT_BODY_LIMIT)
        .collect()
        .await
        .map_err(|err| {
            if err.downcast_ref::<LengthLimitError>().is_some() {
                Failure::TooLarge
            } else {
                Failure::Invalid("the request body could not be read")
            }
        })?
        .to_bytes();
    let body = Zeroizing::new(body.to_vec());
    let mut token: Option<Zeroizing<String>> = None;
    let mut hint: Option<String> = None;
    for (name, value) in form_urlencoded::parse(&body) {
        let repeated = match &*name {
            "token" => token.replace(Zeroizing::new(value.into_owned())).is_some(),
            "token_type_hint" => hint.replace(value.into_owned()).is_some(),
            _ => false,
        };
        if repeated {
            return Err(Failure::Invalid("a parameter is repeated"));
        }
    }
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or(Failure::Invalid("token is missing"))?;
    if let Some(refresh) = RefreshToken::parse(&token) {
        let found = sessions
            .revoke_refresh_token(&refresh)
            .await
            .map_err(unavailable)?;
        tracing::info!(found, hint = ?hint, "refresh token revoked (RFC 7009)");
        return Ok(Revoked::RefreshToken);
    }
    // An access token is revoked only if it is ours and still accepted: anything else has
    // nothing to revoke, and a forged one must not fill the denylist.
    match sessions.verifier().verify::<Claims>(&token) {
        Ok(claims) => match (claims.jti.as_deref(), claims.exp) {
            (Some(jti), exp) => {
                sessions
                    .revoke_access_token(claims.iss.as_deref(), jti, exp.unwrap_or(i64::MAX))
                    .await
                    .map_err(unavailable)?;
                tracing::info!(jti, "access token revoked (RFC 7009)");
                Ok(Revoked::AccessToken)
            }
            (None, _) => {
                tracing::info!("access token without jti: nothing to revoke");
                Ok(Revoked::Ignored)
            }
        },
        Err(err) => {
            tracing::debug!(reason = %err, "revocation of a token that is not ours");
            Ok(Revoked::Ignored)
        }
    }
}

fn unavailable(err: BoxError) -> Failure {
    tracing::error!(error = %err, "session store failed during a revocation");
    Failure::Unavailable
}

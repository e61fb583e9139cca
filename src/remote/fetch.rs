//! HTTP around any client: the deadline, no redirects, status 200 or 304 only, body caps,
//! `Cache-Control: max-age` and `ETag`.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, ETAG, HeaderValue, IF_NONE_MATCH};
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty};
use tower_service::Service;

use super::RemoteError;

/// An error of a user's HTTP client, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request body the HTTP client gets: requests are `GET`s without a body.
pub type RequestBody = Empty<Bytes>;

type ResponseFuture = Pin<
    Box<dyn Future<Output = Result<Response<UnsyncBoxBody<Bytes, BoxError>>, BoxError>> + Send>,
>;

/// Any tower HTTP client, its types erased.
#[derive(Clone)]
pub(crate) struct Client(Arc<dyn Fn(Request<RequestBody>) -> ResponseFuture + Send + Sync>);

impl Client {
    pub(crate) fn new<S, B>(service: S) -> Self
    where
        S: Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self(Arc::new(move |request| {
            // Each exchange gets its own clone, made ready before it is called (tower's contract).
            let mut service = service.clone();
            Box::pin(async move {
                poll_fn(|cx| service.poll_ready(cx))
                    .await
                    .map_err(Into::into)?;
                let response = service.call(request).await.map_err(Into::into)?;
                Ok(response.map(|body| body.map_err(Into::into).boxed_unsync()))
            })
        }))
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Client")
    }
}

/// A successful exchange.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The body, or `None` for 304 Not Modified.
    pub(crate) body: Option<Bytes>,
    pub(crate) etag: Option<HeaderValue>,
    /// `Cache-Control: max-age`, if the response said one.
    pub(crate) max_age: Option<Duration>,
}

/// `GET url`, within `deadline` for the whole exchange (headers and body), with
/// `If-None-Match: etag` when given. Only 200, or 304 after an `If-None-Match`, is a success.
pub(crate) async fn get(
    client: &Client,
    url: &str,
    etag: Option<&HeaderValue>,
    cap: usize,
    deadline: Duration,
) -> Result<Fetched, RemoteError> {
    let mut request = Request::get(url)
        .header(ACCEPT, "application/json")
        .body(Empty::new())
        .map_err(|_| RemoteError::InvalidUrl(url.to_owned()))?;
    if let Some(etag) = etag {
        request.headers_mut().insert(IF_NONE_MATCH, etag.clone());
    }
    let exchange = async {
        let response = (client.0)(request)
            .await
            .map_err(|e: BoxError| RemoteError::Transport(chain(&*e)))?;
        let status = response.status();
        let max_age = max_age(response.headers());
        let etag_out = response.headers().get(ETAG).cloned();
        if status == StatusCode::NOT_MODIFIED && etag.is_some() {
            return Ok(Fetched {
                body: None,
                etag: etag_out.or_else(|| etag.cloned()),
                max_age,
            });
        }
        if status.is_redirection() {
            return Err(RemoteError::Redirect(status.as_u16()));
        }
        if status != StatusCode::OK {
            return Err(RemoteError::Status(status.as_u16()));
        }
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > cap as u64) {
            return Err(RemoteError::TooLarge(cap));
        }
        let body = read_body(response.into_body(), cap).await?;
        Ok(Fetched {
            body: Some(body),
            etag: etag_out,
            max_age,
        })
    };
    tokio::time::timeout(deadline, exchange)
        .await
        .map_err(|_| RemoteError::Timeout(deadline))?
}

/// The body, refused as soon as it grows past `cap` bytes.
async fn read_body(
    mut body: UnsyncBoxBody<Bytes, BoxError>,
    cap: usize,
) -> Result<Bytes, RemoteError> {
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| RemoteError::Transport(chain(&*e)))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > cap {
                return Err(RemoteError::TooLarge(cap));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

/// `error` and its sources, `: `-separated: clients wrap the cause (hyper-util's "client error
/// (Connect)" holds the TLS or connection error that says what went wrong).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors repeat their source in their own message.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The `max-age` of `Cache-Control` (`no-cache` and `no-store` count as 0).
fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let mut found = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = directive.split_once('=').unwrap_or((directive, ""));
            if name.eq_ignore_ascii_case("max-age") {
                if let Ok(seconds) = arg.trim_matches('"').parse::<u64>() {
                    found = Some(Duration::from_secs(seconds));
                }
            } else if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store")
            {
                return Some(Duration::ZERO);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for v in values {
            map.append(CACHE_CONTROL, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn a_transport_error_names_its_causes() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("client error (Connect)")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let error = Outer(std::io::Error::other(
            "invalid peer certificate: UnknownIssuer",
        ));
        assert_eq!(
            chain(&error),
            "client error (Connect): invalid peer certificate: UnknownIssuer"
        );
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(max_age(&headers(&[])), None);
        assert_eq!(
            max_age(&headers(&["public, max-age=600"])),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            max_age(&headers(&["public", "Max-Age=\"90\""])),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            max_age(&headers(&["no-cache, max-age=600"])),
            Some(Duration::ZERO)
        );
        assert_eq!(max_age(&headers(&["max-age=soon"])), None);
    }
}

//! The remote key source's state machine, driven by a mock HTTP service and paused tokio time:
//! no network, no wall clock. Each test names what it shows.
#![cfg(all(feature = "remote", feature = "issue"))]

mod support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceExt, service_fn};
use tower_jwt_auth::remote::{IssuerConfig, RemoteError, RemoteKeys, RequestBody};
use tower_jwt_auth::{Algorithm, AuthError, ErrorKind, SigningKey, TokenIssuer};

const ISS: &str = "https://idp.example.com";
const JWKS: &str = "https://idp.example.com/jwks";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn signing(file: &str, kid: &str) -> SigningKey {
    SigningKey::from_private_pem(&fixture(file))
        .unwrap()
        .with_kid(kid)
}

fn issuer_with(key: SigningKey, iss: &str) -> TokenIssuer {
    TokenIssuer::new(key).issuer(iss).audience("api")
}

fn token(key: SigningKey) -> String {
    issuer_with(key, ISS)
        .issue("ada", ["read"])
        .unwrap()
        .access_token
}

fn jwk(key: &SigningKey) -> serde_json::Value {
    serde_json::to_value(key.public_jwk().unwrap()).unwrap()
}

fn jwks(keys: &[serde_json::Value]) -> String {
    serde_json::json!({ "keys": keys }).to_string()
}

/// What the mock answers for one URL.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
    delay: Duration,
}

impl Answer {
    fn json(body: impl Into<String>) -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body: Bytes::from(body.into()),
            delay: Duration::ZERO,
        }
    }

    fn status(status: u16) -> Self {
        Self {
            status,
            ..Self::json("")
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request the mock saw: its URL and `If-None-Match`.
type Seen = (String, Option<String>);

/// A scripted identity provider: an answer per URL, and a log of the requests.
#[derive(Clone, Default)]
struct Mock {
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Mock {
    fn answer(&self, url: &str, answer: Answer) {
        self.answers.lock().unwrap().insert(url.to_owned(), answer);
    }

    /// Requests made so far (URL, `If-None-Match`).
    fn requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Keys of the one issuer `config`, fetched through this mock.
    fn keys(&self, config: IssuerConfig) -> RemoteKeys {
        RemoteKeys::builder(self.client())
            .issuer(config)
            .build()
            .unwrap()
    }

    fn client(
        &self,
    ) -> BoxCloneSyncService<Request<RequestBody>, Response<Full<Bytes>>, Infallible> {
        let mock = self.clone();
        let service = service_fn(move |request: Request<RequestBody>| {
            let mock = mock.clone();
            async move {
                let url = request.uri().to_string();
                let etag = request
                    .headers()
                    .get("if-none-match")
                    .map(|v| v.to_str().unwrap().to_owned());
                mock.log.lock().unwrap().push((url.clone(), etag));
                let answer = mock
                    .answers
                    .lock()
                    .unwrap()
                    .get(&url)
                    .cloned()
                    .unwrap_or_else(|| Answer::status(404));
                tokio::time::sleep(answer.delay).await;
                let mut response = Response::new(Full::new(answer.body));
                *response.status_mut() = StatusCode::from_u16(answer.status).unwrap();
                for (name, value) in answer.headers {
                    response.headers_mut().insert(name, value.parse().unwrap());
                }
                Ok::<_, Infallible>(response)
            }
        });
        BoxCloneSyncService::new(service)
    }
}

fn config() -> IssuerConfig {
    IssuerConfig::jwks(ISS, JWKS)
        .unwrap()
        .audience("api")
        .require_type("at+jwt")
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
    error: Option<AuthError>,
}

impl Reply {
    fn kind(&self) -> Option<ErrorKind> {
        self.error.as_ref().map(AuthError::kind)
    }

    fn assert_ok(&self) {
        assert_eq!(self.status, 200, "{:?} {}", self.kind(), self.body);
        assert_eq!(self.body, "ok");
    }

    fn assert_invalid_token(&self, kind: ErrorKind) {
        assert_eq!(self.status, 401);
        assert_eq!(self.kind(), Some(kind));
        assert_eq!(
            self.headers["www-authenticate"],
            r#"Bearer realm="api", error="invalid_token", error_description="the access token is invalid""#
        );
        assert_eq!(
            self.body,
            r#"{"error":"invalid_token","error_description":"the access token is invalid"}"#
        );
    }

    /// 503, no challenge, `Retry-After`, the `temporarily_unavailable` body.
    fn assert_unavailable(&self) -> u32 {
        assert_eq!(self.status, 503, "{:?}", self.kind());
        assert_eq!(self.kind(), Some(ErrorKind::KeysUnavailable));
        assert!(!self.headers.contains_key("www-authenticate"));
        assert_eq!(
            self.body,
            r#"{"error":"temporarily_unavailable","error_description":"the token cannot be checked right now"}"#
        );
        let retry: u32 = self.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry >= 1);
        retry
    }
}

async fn call_with(keys: &RemoteKeys, token: &str, grpc: bool) -> Reply {
    let app = keys
        .layer()
        .layer(service_fn(|_request: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }));
    let mut request = Request::builder().header("authorization", format!("Bearer {token}"));
    if grpc {
        request = request.header("content-type", "application/grpc");
    }
    let response = app.oneshot(request.body(()).unwrap()).await.unwrap();
    let error = response.extensions().get::<AuthError>().cloned();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
        error,
    }
}

async fn call(keys: &RemoteKeys, token: &str) -> Reply {
    call_with(keys, token, false).await
}

/// Lets the background tasks run without moving the clock.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// Advances the paused clock by `by`, letting every task due in between run.
async fn advance(by: Duration) {
    tokio::time::sleep(by).await;
    settle().await;
}

fn stats(keys: &RemoteKeys) -> tower_jwt_auth::remote::IssuerStats {
    keys.stats().remove(0)
}

#[tokio::test(start_paused = true)]
async fn a_cold_start_waits_for_the_first_keys_then_verifies() {
    let mock = Mock::default();
    let a = signing("es256.pem", "a");
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a)])));
    let keys = mock.keys(config());
    assert!(!keys.is_ready());
    call(&keys, &token(a)).await.assert_ok();
    assert!(keys.is_ready());
    assert_eq!(mock.count(), 1);
    let stats = stats(&keys);
    assert_eq!((stats.keys, stats.fetches, stats.stale), (1, 1, false));
}

#[tokio::test(start_paused = true)]
async fn before_any_keys_a_request_waits_the_fetch_deadline_then_gets_503() {
    let mock = Mock::default();
    mock.answer(JWKS, Answer::status(500));
    let keys = mock.keys(config());
    let start = Instant::now();
    let reply = call(&keys, &token(signing("es256.pem", "a"))).await;
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    reply.assert_unavailable();
    assert!(!keys.is_ready());
    assert_eq!(stats(&keys).last_error, Some(RemoteError::Status(500)));
    // gRPC: trailers-only UNAVAILABLE.
    let grpc = call_with(&keys, &token(signing("es256.pem", "a")), true).await;
    assert_eq!(grpc.status, 200);
    assert_eq!(grpc.headers["grpc-status"], "14");
    assert_eq!(grpc.body, "");
}

#[tokio::test(start_paused = true)]
async fn eager_mode_fails_start_up_when_the_first_fetch_fails() {
    let mock = Mock::default();
    mock.answer(JWKS, Answer::status(503));
    let error = RemoteKeys::builder(mock.client())
        .issuer(config())
        .build_eager()
        .await
        .unwrap_err();
    assert_eq!(error, RemoteError::Status(503));
    let a = signing("es256.pem", "a");
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a)])));
    let keys = RemoteKeys::builder(mock.client())
        .issuer(config())
        .build_eager()
        .await
        .unwrap();
    assert!(keys.is_ready());
}

#[tokio::test(start_paused = true)]
async fn keys_are_refreshed_in_the_background_every_five_minutes_less_jitter() {
    let mock = Mock::default();
    let a = signing("es256.pem", "a");
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a)])));
    let keys = mock.keys(config());
    keys.ready().await;
    assert_eq!(mock.count(), 1);
    // Jitter takes at most a tenth off: nothing before 4.5 minutes, a fetch by 5.
    advance(Duration::from_secs(269)).await;
    assert_eq!(mock.count(), 1);
    advance(Duration::from_secs(31)).await;
    assert_eq!(mock.count(), 2);
    advance(Duration::from_secs(300)).await;
    assert_eq!(mock.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn max_age_sets_the_refresh_period_clamped_to_one_minute_and_one_hour() {
    for (max_age, fetched_by) in [(120, 120), (5, 60), (7200, 3600)] {
        let mock = Mock::default();
        let a = signing("es256.pem", "a");
        mock.answer(
            JWKS,
            Answer::json(jwks(&[jwk(&a)])).header("cache-control", &format!("max-age={max_age}")),
        );
        let keys = mock.keys(config());
        keys.ready().await;
        advance(Duration::from_secs(fetched_by * 9 / 10 - 1)).await;
        assert_eq!(mock.count(), 1, "max-age={max_age}: too early");
        advance(Duration::from_secs(fetched_by / 10 + 1)).await;
        assert_eq!(mock.count(), 2, "max-age={max_age}: not refreshed");
    }
}

/// A token the cache knows is answered without reading it (the layer's shortcut for a single
/// issuer), but never past the keys' limit: the same bytes are refused with 503 once the keys
/// are too old, and served again once fresh keys arrive.
#[tokio::test(start_paused = true)]
async fn a_cached_token_is_refused_once_the_keys_are_too_old() {
    let mock = Mock::default();
    let a = signing("es256.pem", "a");
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a)])));
    let keys = mock.keys(config());
    keys.ready().await;
    let token = token(a.clone());
    call(&keys, &token).await.assert_ok();
    call(&keys, &token).await.assert_ok();
    mock.answer(JWKS, Answer::status(500));
    // Expired after 5 minutes, served for 24 hours more: still a hit just before the limit.
    advance(Duration::from_secs(300 + 24 * 3600 - 60)).await;
    call(&keys, &token).await.assert_ok();
    advance(Duration::from_secs(61)).await;
    call(&keys, &token).await.assert_unavailable();
    assert!(!keys.is_ready());
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a)])));
    keys.refresh_now().await.unwrap();
    call(&keys, &token).await.assert_ok();
}

#[tokio::test(start_paused = true)]
async fn a_304_keeps_the_set_and_the_token_cache() {
    let mock = Mock::default();
    let a = signing("es256.pem", "a");
    mock.answer(
        JWKS,
        Answer::json(jwks(&[jwk(&a)])).header("etag", "\"v1\""),
    );
    let keys = mock.keys(config().cache_verified_tokens(100));
    keys.ready().await;
    let set = keys.verifier(ISS).unwrap().keys().load();
    mock.answer(JWKS, Answer::status(304));
    keys.refresh_now().await.unwrap();
    assert_eq!(mock.requests()[1].1.as_deref(), Some("\"v1\""));
    assert!(Arc::ptr_eq(
        &set,
        &keys.verifier(ISS).unwrap().keys().load()
    ));
    // The same keys in another order, with a key skipped: the same set again.
    let b = signing("ed25519.pem", "b");
    mock.answer(
        JWKS,
        Answer::json(jwks(&[
            serde_json::json!({"kty": "oct", "k": "c2VjcmV0", "kid": "s"}),
            jwk(&a),
        ])),
    );
    keys.refresh_now().await.unwrap();
    assert!(Arc::ptr_eq(
        &set,
        &keys.verifier(ISS).unwrap().keys().load()
    ));
    // New keys: a new set.
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a), jwk(&b)])));
    keys.refresh_now().await.unwrap();
    assert!(!Arc::ptr_eq(
        &set,
        &keys.verifier(ISS).unwrap().keys().load()
    ));
    assert_eq!(stats(&keys).keys, 2);
}

#[tokio::test(start_paused = true)]
async fn a_rotated_key_is_picked_up_on_its_first_token() {
    let mock = Mock::default();
    let a = signing("es256.pem", "a");
    let b = signing("ed25519.pem", "b");
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a)])));
    let keys = mock.keys(config());
    keys.ready().await;
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a), jwk(&b)])));
    call(&keys, &token(b)).await.assert_ok();
    let stats = stats(&keys);
    assert_eq!((stats.fetches, stats.unknown_kid_refreshes), (2, 1));
    call(&keys, &token(a)).await.assert_ok();
}

/// A request that waited for keys is counted as a cache hit or miss like any other: the cold
/// start's and the one whose key came with a refetch are misses, the same token again a hit.
#[cfg(feature = "metrics")]
#[tokio::test(start_paused = true)]
async fn requests_that_waited_for_keys_count_in_the_cache_metric() {
    use metrics_util::debugging::DebuggingRecorder;

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let mock = Mock::default();
    let a = signing("es256.pem", "a");
    let b = signing("ed25519.pem", "b");
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a)])));
    let keys = mock.keys(config());
    let first = token(a.clone());
    call(&keys, &first).await.assert_ok();
    call(&keys, &first).await.assert_ok();
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a), jwk(&b)])));
    call(&keys, &token(b)).await.assert_ok();
    assert_eq!(
        stats(&keys).unknown_kid_refreshes,
        1,
        "the third request waited"
    );

    let cache: Vec<_> = support::recorded::counters(&snapshotter)
        .into_iter()
        .filter(|(name, _)| name.starts_with("tower_jwt_auth_cache_total"))
        .collect();
    assert_eq!(
        cache,
        [
            (r#"tower_jwt_auth_cache_total{result="hit"}"#.to_owned(), 1),
            (r#"tower_jwt_auth_cache_total{result="miss"}"#.to_owned(), 2)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_random_kids_costs_the_issuer_at_most_the_budget() {
    let mock = Mock::default();
    let a = signing("es256.pem", "a");
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a)])));
    let keys = mock.keys(config());
    keys.ready().await;
    let start = Instant::now();
    let mut replies = Vec::new();
    for i in 0..1000 {
        let reply = call(&keys, &token(signing("es256.pem", &format!("random-{i}")))).await;
        replies.push(reply);
    }
    // The refused ones were answered at once: only the two refetches took (paused) time.
    assert_eq!(start.elapsed(), Duration::ZERO);
    for reply in &replies {
        reply.assert_invalid_token(ErrorKind::UnknownKey);
    }
    let stats = stats(&keys);
    println!(
        "1000 random kids: {} fetches (1 at start), {} unknown-kid refetches, {} refused",
        stats.fetches, stats.unknown_kid_refreshes, stats.refused_refreshes
    );
    assert_eq!(mock.count(), 1 + 2);
    assert_eq!(
        (stats.unknown_kid_refreshes, stats.refused_refreshes),
        (2, 998)
    );
    // The budget comes back after the window.
    advance(Duration::from_secs(30)).await;
    call(&keys, &token(signing("es256.pem", "random-x")))
        .await
        .assert_invalid_token(ErrorKind::UnknownKey);
    assert_eq!(stats_of(&keys).unknown_kid_refreshes, 3);
}

fn stats_of(keys: &RemoteKeys) -> tower_jwt_auth::remote::IssuerStats {
    stats(keys)
}

#[tokio::test(start_paused = true)]
async fn during_an_outage_the_last_good_keys_serve_until_the_limit_then_503() {
    let mock = Mock::default();
    let a = signing("es256.pem", "a");
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a)])));
    let keys = mock.keys(config());
    keys.ready().await;
    mock.answer(JWKS, Answer::status(500));
    // Expired after 5 minutes, served for 24 hours more.
    advance(Duration::from_secs(300 + 24 * 3600 - 60)).await;
    let stats = stats(&keys);
    assert!(stats.stale && stats.ready, "{stats:?}");
    assert!(stats.consecutive_failures > 10);
    call(&keys, &token(a.clone())).await.assert_ok();
    // An unknown kid while down stays 401.
    call(&keys, &token(signing("es256.pem", "new")))
        .await
        .assert_invalid_token(ErrorKind::UnknownKey);
    advance(Duration::from_secs(61)).await;
    let retry = call(&keys, &token(a.clone())).await.assert_unavailable();
    assert!(retry <= 64, "{retry}");
    assert!(!keys.is_ready());
    let grpc = call_with(&keys, &token(a.clone()), true).await;
    assert_eq!(grpc.headers["grpc-status"], "14");
    // Back up: served again.
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a)])));
    keys.refresh_now().await.unwrap();
    call(&keys, &token(a)).await.assert_ok();
}

#[tokio::test(start_paused = true)]
async fn a_redirect_is_refused() {
    let mock = Mock::default();
    mock.answer(
        JWKS,
        Answer::status(302).header("location", "https://elsewhere.example.com/jwks"),
    );
    let keys = mock.keys(config());
    assert_eq!(keys.refresh_now().await, Err(RemoteError::Redirect(302)));
    assert_eq!(
        mock.requests(),
        [(JWKS.to_owned(), None)],
        "the redirect was followed"
    );
    assert!(!keys.is_ready());
}

#[tokio::test(start_paused = true)]
async fn an_oversized_body_is_refused_declared_or_not() {
    let a = signing("es256.pem", "a");
    let mut padded = jwks(&[jwk(&a)]);
    padded.insert_str(1, &format!("\"pad\":\"{}\",", "x".repeat(256 * 1024)));
    for declared in [true, false] {
        let mock = Mock::default();
        let mut answer = Answer::json(padded.clone());
        if declared {
            answer = answer.header("content-length", &padded.len().to_string());
        }
        mock.answer(JWKS, answer);
        let keys = mock.keys(config());
        assert_eq!(
            keys.refresh_now().await,
            Err(RemoteError::TooLarge(256 * 1024))
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_server_hits_the_deadline() {
    let mock = Mock::default();
    let a = signing("es256.pem", "a");
    mock.answer(
        JWKS,
        Answer::json(jwks(&[jwk(&a)])).delay(Duration::from_secs(30)),
    );
    let keys = mock.keys(config().fetch_timeout(Duration::from_secs(3)));
    let start = Instant::now();
    assert_eq!(
        keys.refresh_now().await,
        Err(RemoteError::Timeout(Duration::from_secs(3)))
    );
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn unusable_keys_are_skipped_and_a_set_without_any_is_a_failed_fetch() {
    let mock = Mock::default();
    let a = signing("es256.pem", "a");
    let mut private = jwk(&signing("ed25519.pem", "p"));
    private["d"] = "AAAA".into();
    let mut enc = jwk(&signing("es384.pem", "e"));
    enc["use"] = "enc".into();
    let weak =
        serde_json::json!({"kty": "RSA", "kid": "w", "alg": "RS256", "n": "AQAB", "e": "AQAB"});
    let unknown =
        serde_json::json!({"kty": "EC", "kid": "u", "crv": "secp256k1", "x": "AA", "y": "AA"});
    let mut twin_1 = jwk(&signing("es384.pem", "twin"));
    let twin_2 = jwk(&signing("ed25519.pem", "twin"));
    twin_1["alg"] = "ES384".into();
    mock.answer(
        JWKS,
        Answer::json(jwks(&[
            private,
            enc.clone(),
            weak,
            unknown,
            jwk(&a),
            twin_1,
            twin_2,
        ])),
    );
    let keys = mock.keys(config());
    keys.refresh_now().await.unwrap();
    assert_eq!(stats(&keys).keys, 1);
    call(&keys, &token(a)).await.assert_ok();
    mock.answer(JWKS, Answer::json(jwks(&[enc])));
    assert_eq!(keys.refresh_now().await, Err(RemoteError::NoUsableKey));
}

#[tokio::test(start_paused = true)]
async fn an_rsa_key_without_alg_verifies_the_configured_algorithm_only() {
    let rsa = signing("rsa2048.pem", "r");
    let mut bare = jwk(&rsa);
    bare.as_object_mut().unwrap().remove("alg");
    for (configured, accepted) in [(None, true), (Some(Algorithm::PS256), false)] {
        let mock = Mock::default();
        mock.answer(JWKS, Answer::json(jwks(&[bare.clone()])));
        let mut config = config();
        if let Some(alg) = configured {
            config = config.rsa_algorithm_for_keys_without_alg(alg).unwrap();
        }
        let keys = mock.keys(config);
        keys.refresh_now().await.unwrap();
        let reply = call(&keys, &token(rsa.clone())).await;
        if accepted {
            reply.assert_ok();
        } else {
            reply.assert_invalid_token(ErrorKind::DisallowedAlgorithm);
        }
    }
}

fn discovery(iss: &str, jwks_uri: &str) -> Answer {
    Answer::json(serde_json::json!({"issuer": iss, "jwks_uri": jwks_uri}).to_string())
}

#[tokio::test(start_paused = true)]
async fn discovery_finds_the_keys_and_moves_on_only_on_404_or_410() {
    let iss = "https://idp.example.com/tenant";
    let a = signing("es256.pem", "a");
    let mock = Mock::default();
    mock.answer(
        "https://idp.example.com/tenant/.well-known/openid-configuration",
        Answer::status(410),
    );
    mock.answer(
        "https://idp.example.com/.well-known/oauth-authorization-server/tenant",
        discovery(iss, JWKS),
    );
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a)])));
    let keys = mock.keys(IssuerConfig::discovery(iss).unwrap().audience("api"));
    keys.refresh_now().await.unwrap();
    let urls: Vec<String> = mock.requests().into_iter().map(|(url, _)| url).collect();
    assert_eq!(
        urls,
        [
            "https://idp.example.com/tenant/.well-known/openid-configuration",
            "https://idp.example.com/.well-known/openid-configuration/tenant",
            "https://idp.example.com/.well-known/oauth-authorization-server/tenant",
            JWKS,
        ]
    );
    let token = issuer_with(a, iss)
        .issue("ada", ["read"])
        .unwrap()
        .access_token;
    call(&keys, &token).await.assert_ok();
    // A 500 on the first URL stops there.
    let mock = Mock::default();
    mock.answer(
        "https://idp.example.com/tenant/.well-known/openid-configuration",
        Answer::status(500),
    );
    let keys = mock.keys(IssuerConfig::discovery(iss).unwrap());
    assert_eq!(keys.refresh_now().await, Err(RemoteError::Status(500)));
    assert!(
        mock.requests()
            .iter()
            .all(|(url, _)| url.ends_with("/tenant/.well-known/openid-configuration"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_discovery_document_naming_another_issuer_or_an_http_jwks_is_refused() {
    let mock = Mock::default();
    let url = "https://idp.example.com/.well-known/openid-configuration";
    mock.answer(url, discovery("https://idp.example.com/", JWKS));
    let keys = mock.keys(IssuerConfig::discovery(ISS).unwrap());
    assert_eq!(
        keys.refresh_now().await,
        Err(RemoteError::IssuerMismatch {
            expected: ISS.into(),
            found: "https://idp.example.com/".into()
        })
    );
    mock.answer(url, discovery(ISS, "http://idp.example.com/jwks"));
    assert_eq!(
        keys.refresh_now().await,
        Err(RemoteError::InsecureUrl(
            "http://idp.example.com/jwks".into()
        ))
    );
    assert!(
        mock.requests().iter().all(|(u, _)| u == url),
        "the keys were fetched: {:?}",
        mock.requests()
    );
}

#[tokio::test(start_paused = true)]
async fn a_token_of_an_unknown_issuer_costs_no_request() {
    let mock = Mock::default();
    let a = signing("es256.pem", "a");
    let other_jwks = "https://other.example.com/jwks";
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a)])));
    mock.answer(
        other_jwks,
        Answer::json(jwks(&[jwk(&signing("ed25519.pem", "b"))])),
    );
    let keys = RemoteKeys::builder(mock.client())
        .issuer(config())
        .issuer(
            IssuerConfig::jwks("https://other.example.com", other_jwks)
                .unwrap()
                .audience("api"),
        )
        .build()
        .unwrap();
    keys.ready().await;
    let before = mock.count();
    assert_eq!(before, 2);
    let evil = issuer_with(signing("es256.pem", "unknown"), "https://evil.example.com")
        .issue("ada", ["read"])
        .unwrap()
        .access_token;
    call(&keys, &evil)
        .await
        .assert_invalid_token(ErrorKind::InvalidIssuer);
    // Each issuer's keys verify only its own tokens.
    call(&keys, &token(a.clone())).await.assert_ok();
    let b_token = issuer_with(signing("ed25519.pem", "b"), "https://other.example.com")
        .issue("ada", ["read"])
        .unwrap()
        .access_token;
    call(&keys, &b_token).await.assert_ok();
    let crossed = issuer_with(a, "https://other.example.com")
        .issue("ada", ["read"])
        .unwrap()
        .access_token;
    // Signed with an algorithm the other issuer's set lacks: refetched once, then refused.
    call(&keys, &crossed)
        .await
        .assert_invalid_token(ErrorKind::DisallowedAlgorithm);
    assert_eq!(mock.count(), before + 1, "only the crossed token's refetch");
    assert_eq!(keys.stats()[1].unknown_kid_refreshes, 1);

    // With one issuer, a token naming another and an unknown kid costs no request either.
    let single = mock.keys(config());
    single.ready().await;
    let before = mock.count();
    call(&single, &evil)
        .await
        .assert_invalid_token(ErrorKind::UnknownKey);
    assert_eq!(mock.count(), before);
}

#[tokio::test(start_paused = true)]
async fn challenges_name_the_resource_metadata_when_configured() {
    let mock = Mock::default();
    let a = signing("es256.pem", "a");
    mock.answer(JWKS, Answer::json(jwks(&[jwk(&a)])));
    let keys = mock.keys(config());
    keys.ready().await;
    let app = keys
        .layer()
        .resource_metadata("https://api.example.com/.well-known/oauth-protected-resource")
        .layer(service_fn(|_request: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }));
    let bare = app.clone().oneshot(Request::new(())).await.unwrap();
    assert_eq!(bare.status(), 401);
    assert_eq!(
        bare.headers()["www-authenticate"],
        r#"Bearer realm="api", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource""#
    );
    let bad = app
        .oneshot(
            Request::builder()
                .header("authorization", "Bearer a.b.c")
                .body(())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert_eq!(
        bad.headers()["www-authenticate"],
        r#"Bearer realm="api", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource", error="invalid_token", error_description="the access token is invalid""#
    );
}

#[test]
fn http_is_refused_for_hosts_other_than_loopback() {
    use tower_jwt_auth::remote::RemoteConfigError;
    assert!(matches!(
        IssuerConfig::discovery("http://idp.example.com"),
        Err(RemoteConfigError::InsecureUrl(_))
    ));
    assert!(matches!(
        IssuerConfig::jwks(ISS, "http://10.1.2.3/jwks"),
        Err(RemoteConfigError::InsecureUrl(_))
    ));
    assert!(IssuerConfig::discovery("http://127.0.0.1:3000").is_ok());
    assert!(IssuerConfig::jwks(ISS, "http://localhost:3000/jwks").is_ok());
}

//! The `metrics` feature: each decision of the layer and of the login side increments the
//! documented counter with the documented labels. The `tracing` decision span has its own test
//! binary, `tests/decision_span.rs`.
#![cfg(feature = "metrics")]

mod support;

// The example server's application and its `GET /metrics`, as `main.rs` mounts them.
#[cfg(all(feature = "login", feature = "axum"))]
#[allow(dead_code)]
#[path = "../examples/axum_server/app.rs"]
mod app;
#[cfg(all(feature = "login", feature = "axum"))]
#[path = "../examples/common/demo.rs"]
mod demo;
#[cfg(all(feature = "login", feature = "axum"))]
#[path = "support/example_config.rs"]
mod example_config;
#[cfg(all(feature = "login", feature = "axum"))]
#[path = "../examples/axum_server/metrics.rs"]
mod example_metrics;

use std::collections::BTreeMap;

use http::StatusCode;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use support::layer::{bearer, layer, status};
use support::recorded::counters;
use support::*;
use tower_jwt_auth::RequireScopeLayer;
use tower_jwt_auth::verify::{BoxError, InMemoryDenylist, RevocationCheck, TokenInfo};

/// The histogram samples recorded since the last call, by name.
fn samples(snapshotter: &Snapshotter, name: &str) -> usize {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == name)
        .map(|(.., value)| match value {
            DebugValue::Histogram(values) => values.len(),
            _ => 0,
        })
        .sum()
}

fn expect(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

const REQUESTS: &str = "tower_jwt_auth_requests_total";

#[tokio::test]
async fn each_decision_of_the_layer_is_counted_with_its_reason() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let good = bearer(&token(""));

    assert_eq!(status(&layer(), Some(&good)).await, StatusCode::OK);
    assert_eq!(
        counters(&snapshotter),
        expect(&[(
            r#"tower_jwt_auth_requests_total{outcome="accepted",reason="none"}"#,
            1
        )])
    );

    let forged = hs256_raw(
        br#"{"alg":"HS256","typ":"JWT"}"#,
        claims("").as_bytes(),
        b"another secret, of 32 bytes or more",
    );
    let expired = hs256(&format!(r#"{{"sub":"ada","exp":{}}}"#, now() - 3600));
    let cases = [
        (None, StatusCode::UNAUTHORIZED, "missing_credential"),
        (
            Some("Basic YWRhOnB3".to_owned()),
            StatusCode::UNAUTHORIZED,
            "unsupported_scheme",
        ),
        (
            Some("Bearer a=b".to_owned()),
            StatusCode::BAD_REQUEST,
            "malformed_credential",
        ),
        (
            Some(bearer("not.a.jwt")),
            StatusCode::UNAUTHORIZED,
            "malformed_token",
        ),
        (
            Some(bearer(&forged)),
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        ),
        (Some(bearer(&expired)), StatusCode::UNAUTHORIZED, "expired"),
    ];
    for (header, code, reason) in cases {
        assert_eq!(status(&layer(), header.as_deref()).await, code, "{reason}");
        let key = format!(r#"{REQUESTS}{{outcome="rejected",reason="{reason}"}}"#);
        assert_eq!(counters(&snapshotter), expect(&[(&key, 1)]), "{reason}");
    }

    let scoped = layer().require_scopes(["admin"]);
    assert_eq!(status(&scoped, Some(&good)).await, StatusCode::FORBIDDEN);
    assert_eq!(
        counters(&snapshotter),
        expect(&[(
            r#"tower_jwt_auth_requests_total{outcome="rejected",reason="insufficient_scope"}"#,
            1
        )])
    );

    let optional = layer().optional();
    assert_eq!(status(&optional, None).await, StatusCode::OK);
    assert_eq!(
        counters(&snapshotter),
        expect(&[(
            r#"tower_jwt_auth_requests_total{outcome="anonymous",reason="none"}"#,
            1
        )])
    );
}

#[tokio::test]
async fn revocations_and_revocation_failures_are_counted_on_both_paths() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);

    let denylist = InMemoryDenylist::new();
    denylist.revoke(None, "j1", now() + 600);
    let revoked = bearer(&token(r#","jti":"j1""#));
    assert_eq!(
        status(&layer().revocation(denylist), Some(&revoked)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        counters(&snapshotter),
        expect(&[(
            r#"tower_jwt_auth_requests_total{outcome="rejected",reason="revoked"}"#,
            1
        )])
    );

    // A failing backend, answering at once and after a wait: the request is refused (503)
    // and the failure has its own counter.
    let failing = |_: &TokenInfo<'_>| RevocationCheck::Ready(Err("backend down".into()));
    let failing_later = |_: &TokenInfo<'_>| {
        RevocationCheck::Pending(Box::pin(async {
            Err::<bool, BoxError>("backend down".into())
        }))
    };
    let good = bearer(&token(r#","jti":"j2""#));
    for layer in [
        layer().revocation(failing),
        layer().revocation(failing_later),
    ] {
        assert_eq!(
            status(&layer, Some(&good)).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            counters(&snapshotter),
            expect(&[
                (
                    r#"tower_jwt_auth_requests_total{outcome="rejected",reason="revocation_unavailable"}"#,
                    1
                ),
                ("tower_jwt_auth_revocation_errors_total{}", 1),
            ])
        );
    }

    // A hook that answers after a wait, favourably: accepted once the answer comes.
    let later = |_: &TokenInfo<'_>| {
        RevocationCheck::Pending(Box::pin(async { Ok::<bool, BoxError>(false) }))
    };
    assert_eq!(
        status(&layer().revocation(later), Some(&good)).await,
        StatusCode::OK
    );
    assert_eq!(
        counters(&snapshotter),
        expect(&[(
            r#"tower_jwt_auth_requests_total{outcome="accepted",reason="none"}"#,
            1
        )])
    );
}

#[tokio::test]
async fn cache_hits_and_misses_are_counted_and_verification_is_timed() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let cached = layer().cache_verified_tokens(16);
    let good = bearer(&token(""));

    for _ in 0..3 {
        assert_eq!(status(&cached, Some(&good)).await, StatusCode::OK);
    }
    // A bad token reaches the verifier and is not in the cache: a miss.
    let other = bearer(&hs256(&format!(
        r#"{{"sub":"ada","exp":{}}}"#,
        now() - 3600
    )));
    assert_eq!(
        status(&cached, Some(&other)).await,
        StatusCode::UNAUTHORIZED
    );
    // No credential: the cache is not asked, and nothing is timed.
    assert_eq!(status(&cached, None).await, StatusCode::UNAUTHORIZED);

    let snapshot = snapshotter.snapshot().into_vec();
    let mut found = BTreeMap::new();
    let mut timed = 0;
    for (key, _, _, value) in snapshot {
        let key = key.key();
        match value {
            DebugValue::Counter(n) if key.name() == "tower_jwt_auth_cache_total" => {
                let result = key.labels().next().unwrap().value().to_owned();
                found.insert(result, n);
            }
            DebugValue::Histogram(values) if key.name() == "tower_jwt_auth_verify_seconds" => {
                assert!(
                    values.iter().all(|v| v.0 >= 0.0 && v.0 < 60.0),
                    "{values:?}"
                );
                timed += values.len();
            }
            _ => {}
        }
    }
    assert_eq!(
        found,
        BTreeMap::from([("hit".to_owned(), 2), ("miss".to_owned(), 2)])
    );
    assert_eq!(
        timed, 4,
        "the four requests with a token, not the one without"
    );

    // Without the cache, no cache counter at all.
    assert_eq!(status(&layer(), Some(&good)).await, StatusCode::OK);
    let names: Vec<_> = counters(&snapshotter).into_keys().collect();
    assert_eq!(
        names,
        [r#"tower_jwt_auth_requests_total{outcome="accepted",reason="none"}"#]
    );
    assert_eq!(samples(&snapshotter, "tower_jwt_auth_verify_seconds"), 0);
}

#[tokio::test]
async fn require_scope_refusals_have_their_own_counter() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let stack = tower::layer::util::Stack::new(RequireScopeLayer::new(["admin"]), layer());
    assert_eq!(
        status(&stack, Some(&bearer(&token("")))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        counters(&snapshotter),
        expect(&[
            (
                r#"tower_jwt_auth_requests_total{outcome="accepted",reason="none"}"#,
                1
            ),
            (
                r#"tower_jwt_auth_scope_rejections_total{reason="insufficient_scope"}"#,
                1
            ),
        ])
    );
}

#[test]
fn describe_gives_every_metric_a_description() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tower_jwt_auth::metrics::describe();
        // Descriptions show in a snapshot once the metric exists.
        let names = [
            tower_jwt_auth::metrics::REQUESTS_TOTAL,
            tower_jwt_auth::metrics::CACHE_TOTAL,
            tower_jwt_auth::metrics::REVOCATION_ERRORS_TOTAL,
            tower_jwt_auth::metrics::SCOPE_REJECTIONS_TOTAL,
            tower_jwt_auth::metrics::LOGIN_TOTAL,
            tower_jwt_auth::metrics::TOKEN_REVOCATIONS_TOTAL,
        ];
        for name in names {
            metrics::counter!(name).increment(1);
        }
        metrics::histogram!(tower_jwt_auth::metrics::VERIFY_SECONDS).record(0.0);
    });
    let snapshot = snapshotter.snapshot().into_vec();
    assert_eq!(snapshot.len(), 7);
    for (key, unit, description, _) in snapshot {
        let name = key.key().name().to_owned();
        assert!(name.starts_with("tower_jwt_auth_"), "{name}");
        assert!(description.is_some_and(|d| !d.is_empty()), "{name}");
        if name == tower_jwt_auth::metrics::VERIFY_SECONDS {
            assert_eq!(unit, Some(metrics::Unit::Seconds));
        }
    }
}

#[cfg(all(feature = "login", feature = "axum"))]
mod login {
    use super::*;

    use crate::support::hashing::{Saturated, ada};
    use http::Request;
    use tower::ServiceExt;
    use tower_jwt_auth::issue::SigningKey;
    use tower_jwt_auth::login::{InMemoryUserStore, ThrottlePolicy, login_handler};
    use tower_jwt_auth::{Algorithm, TokenIssuer};

    fn issuer() -> TokenIssuer {
        TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, SECRET).unwrap())
    }

    fn form(body: &str) -> Request<String> {
        Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .unwrap()
    }

    fn password(user: &str, password: &str) -> Request<String> {
        form(&format!(
            "grant_type=password&username={user}&password={password}"
        ))
    }

    #[tokio::test]
    async fn login_outcomes_are_counted_by_grant_and_outcome() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let _local = metrics::set_default_local_recorder(&recorder);
        let (hasher, users) = ada().await;
        let service = login_handler(users, issuer(), hasher)
            .throttle(ThrottlePolicy::default().free_failures(1));

        let answer = service
            .clone()
            .oneshot(password("ada", "correct+horse"))
            .await;
        assert_eq!(answer.unwrap().status(), StatusCode::OK);
        // Wrong passwords until the account is throttled: each a failure, then one 429.
        let mut failures = 0;
        loop {
            let answer = service.clone().oneshot(password("ada", "wrong")).await;
            match answer.unwrap().status() {
                StatusCode::BAD_REQUEST => failures += 1,
                StatusCode::TOO_MANY_REQUESTS => break,
                other => panic!("{other}"),
            }
            assert!(failures <= 5, "never throttled");
        }
        let answer = service.clone().oneshot(password("", "pw")).await;
        assert_eq!(answer.unwrap().status(), StatusCode::BAD_REQUEST);
        // Refused before the grant is known: missing parameters, another method.
        let answer = service.clone().oneshot(form("grant_type=password")).await;
        assert_eq!(answer.unwrap().status(), StatusCode::BAD_REQUEST);
        // No sessions: the refresh grant is not offered.
        let answer = service
            .clone()
            .oneshot(form("grant_type=refresh_token&refresh_token=x"))
            .await;
        assert_eq!(answer.unwrap().status(), StatusCode::BAD_REQUEST);
        let answer = service
            .clone()
            .oneshot(Request::get("/login").body(String::new()).unwrap())
            .await;
        assert_eq!(answer.unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);

        let login = |grant: &str, outcome: &str| {
            format!(
                r#"tower_jwt_auth_login_total{{grant="{grant}",outcome="{outcome}",transport="http"}}"#
            )
        };
        assert_eq!(
            counters(&snapshotter),
            BTreeMap::from([
                (login("password", "success"), 1),
                (login("password", "failure"), failures),
                (login("password", "throttled"), 1),
                (login("password", "invalid_request"), 1),
                (login("refresh_token", "invalid_request"), 1),
                (login("unknown", "invalid_request"), 2),
            ])
        );
    }

    #[tokio::test]
    async fn token_revocations_are_counted_by_outcome() {
        use tower_jwt_auth::session::{InMemorySessionStore, Sessions, revocation_handler};

        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let _local = metrics::set_default_local_recorder(&recorder);
        let issuer = issuer();
        let access = issuer.issue("ada", ["read"]).unwrap().access_token;
        let sessions = Sessions::new(InMemorySessionStore::new(), issuer, InMemoryDenylist::new());
        let revoke = |body: String| {
            Request::post("/revoke")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .unwrap()
        };
        let service = revocation_handler(sessions);
        for (request, status) in [
            (revoke(format!("token={access}")), StatusCode::OK),
            (revoke("token=not-ours".into()), StatusCode::OK),
            (revoke(String::new()), StatusCode::BAD_REQUEST),
        ] {
            let answer = service.clone().oneshot(request).await.unwrap();
            assert_eq!(answer.status(), status);
        }
        assert_eq!(
            counters(&snapshotter),
            expect(&[
                (
                    r#"tower_jwt_auth_token_revocations_total{outcome="access_token"}"#,
                    1
                ),
                (
                    r#"tower_jwt_auth_token_revocations_total{outcome="ignored"}"#,
                    1
                ),
                (
                    r#"tower_jwt_auth_token_revocations_total{outcome="invalid_request"}"#,
                    1
                ),
            ])
        );
    }

    #[tokio::test]
    async fn a_saturated_hashing_pool_counts_as_busy() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let _local = metrics::set_default_local_recorder(&recorder);
        let service = login_handler(InMemoryUserStore::new(), issuer(), Saturated);
        let answer = service.oneshot(password("ada", "pw")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            counters(&snapshotter),
            expect(&[(
                r#"tower_jwt_auth_login_total{grant="password",outcome="busy",transport="http"}"#,
                1
            )])
        );
    }
}

/// The gRPC `Login` method counts its answers in the same counter as the HTTP token endpoint,
/// with `transport="grpc"`.
#[cfg(all(feature = "login", feature = "tonic"))]
mod grpc_login {
    use super::*;

    use crate::support::hashing::ada;
    use tonic::Code;
    use tower_jwt_auth::login::login_handler;
    use tower_jwt_auth::tonic::auth::{AuthClient, AuthServer, LoginRequest};
    use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};

    fn login(password: &str) -> LoginRequest {
        LoginRequest {
            username: "ada".into(),
            password: password.into(),
            scope: String::new(),
        }
    }

    fn counted(outcome: &str) -> String {
        format!(
            r#"tower_jwt_auth_login_total{{grant="password",outcome="{outcome}",transport="grpc"}}"#
        )
    }

    #[tokio::test]
    async fn grpc_logins_are_counted_with_the_grpc_transport() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let _local = metrics::set_default_local_recorder(&recorder);
        let (hasher, users) = ada().await;
        let issuer = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, SECRET).unwrap());
        // The tonic client straight over the gRPC service, no socket: the method runs in this
        // test's task, on the thread whose recorder this is.
        let mut client = AuthClient::new(AuthServer::new(login_handler(users, issuer, hasher)));

        let token = client.login(login("correct horse")).await.unwrap();
        assert!(!token.into_inner().access_token.is_empty());
        assert_eq!(
            counters(&snapshotter),
            BTreeMap::from([(counted("success"), 1)])
        );

        let refused = client.login(login("wrong")).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
        assert_eq!(
            counters(&snapshotter),
            BTreeMap::from([(counted("failure"), 1)])
        );
    }
}

/// The example server's `GET /metrics`: the Prometheus text format, with the crate's metrics
/// described and counted. The only test here that installs a global recorder (the others use
/// recorders local to their thread, which take precedence).
#[cfg(all(feature = "login", feature = "axum"))]
#[tokio::test]
async fn the_example_serves_its_metrics_in_the_prometheus_text_format() {
    use http::Request;
    use http::header::AUTHORIZATION;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    use tower_jwt_auth::issue::SigningKey;
    use tower_jwt_auth::{Algorithm, TokenIssuer};

    let config = example_config::config(TokenIssuer::new(
        SigningKey::from_secret(Algorithm::HS256, SECRET).unwrap(),
    ));
    let app = app::router(config)
        .await
        .unwrap()
        .merge(example_metrics::router().unwrap());
    let send = |request: Request<axum::body::Body>| {
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            let (parts, body) = response.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            (parts, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let (parts, body) = send(
        Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=password&username=demo&password=correct+horse+battery+staple".into())
            .unwrap(),
    )
    .await;
    assert_eq!(parts.status, StatusCode::OK, "{body}");
    let token: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = token["access_token"].as_str().unwrap();
    let me = |authorization: String| {
        Request::get("/me")
            .header(AUTHORIZATION, authorization)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    assert_eq!(send(me(bearer(token))).await.0.status, StatusCode::OK);
    assert_eq!(
        send(me(bearer("not.a.jwt"))).await.0.status,
        StatusCode::UNAUTHORIZED
    );

    let (parts, text) = send(
        Request::get(example_metrics::PATH)
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(parts.status, StatusCode::OK);
    assert!(
        parts.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
    );
    let has = |name: &str, labels: &[&str]| {
        text.lines().any(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
                && labels.iter().all(|label| line.contains(label))
        })
    };
    for (name, labels) in [
        (
            "tower_jwt_auth_login_total",
            &[
                r#"grant="password""#,
                r#"outcome="success""#,
                r#"transport="http""#,
            ][..],
        ),
        (
            "tower_jwt_auth_requests_total",
            &[r#"outcome="accepted""#, r#"reason="none""#],
        ),
        (
            "tower_jwt_auth_requests_total",
            &[r#"outcome="rejected""#, r#"reason="malformed_token""#],
        ),
        ("tower_jwt_auth_verify_seconds_count", &[]),
        ("tower_jwt_auth_verify_seconds_bucket", &[r#"le="0.001""#]),
    ] {
        assert!(has(name, labels), "{name} {labels:?} in:\n{text}");
    }
    assert!(
        text.contains("# HELP tower_jwt_auth_requests_total "),
        "{text}"
    );
    assert!(
        text.contains("# TYPE tower_jwt_auth_verify_seconds histogram"),
        "{text}"
    );
    assert!(!text.contains(token), "the token is not in the metrics");
}

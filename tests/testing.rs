//! The `testing` helpers against the real layer: every token minted valid reaches the handler,
//! and every token minted invalid is refused for the reason it was made for.
#![cfg(all(feature = "testing", feature = "axum"))]

mod support;

use std::sync::LazyLock;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use support::reply::{Reply, reply};
use tower::ServiceExt;
use tower_jwt_auth::axum::JwtClaims;
use tower_jwt_auth::testing::{DEFAULT_AUDIENCE, DEFAULT_ISSUER, DEFAULT_SUBJECT, TestKeys};
use tower_jwt_auth::{
    Algorithm, Claims, ErrorKind, JwtAuthLayer, KeySet, RequireScopeLayer, Verifier,
};

/// An RSA key takes a moment to generate: one for the file.
static RSA: LazyLock<TestKeys> = LazyLock::new(TestKeys::rs256);

/// Every kind of key the helpers generate.
fn all_keys() -> Vec<TestKeys> {
    vec![
        TestKeys::hs256(),
        TestKeys::es256(),
        TestKeys::es384(),
        RSA.clone(),
        TestKeys::eddsa(),
    ]
}

async fn me(JwtClaims(claims): JwtClaims) -> axum::Json<Claims> {
    axum::Json(Claims::clone(&claims))
}

fn app(layer: JwtAuthLayer) -> Router {
    Router::new().route("/me", get(me)).layer(layer)
}

/// `app`, with `RequireScopeLayer` requiring `scope` inside the auth layer.
fn scoped(layer: JwtAuthLayer, scope: &str) -> Router {
    Router::new()
        .route("/me", get(me))
        .route_layer(RequireScopeLayer::new([scope]))
        .layer(layer)
}

async fn call(app: Router, bearer: HeaderValue) -> Reply {
    let request = Request::get("/me")
        .header(AUTHORIZATION, bearer)
        .body(Body::empty())
        .unwrap();
    reply(app.oneshot(request).await.unwrap()).await
}

// --- Valid tokens ------------------------------------------------------------------------------

#[tokio::test]
async fn a_default_token_reaches_the_handler_with_the_default_claims() {
    for keys in all_keys() {
        let claims = call(app(keys.layer()), keys.token().bearer())
            .await
            .claims();
        assert_eq!(claims.sub.as_deref(), Some(DEFAULT_SUBJECT));
        assert_eq!(claims.iss.as_deref(), Some(DEFAULT_ISSUER));
        assert!(claims.aud.unwrap().contains(DEFAULT_AUDIENCE));
        assert_eq!(claims.exp.unwrap() - claims.iat.unwrap(), 300);
        assert_eq!(claims.jti.unwrap().len(), 22, "128 bits in base64url");
        assert_eq!(claims.scope, None);
        assert_eq!(claims.nbf, None);
    }
}

#[tokio::test]
async fn the_claims_set_on_the_builder_reach_the_handler() {
    let keys = TestKeys::es256();
    let token = keys
        .token()
        .sub("ada")
        .scopes(["orders:read", "orders:write"])
        .expires_in(Duration::from_secs(60))
        .claim("tenant", json!({"id": 7, "name": "acme"}))
        .claim("admin", true)
        .bearer();
    let claims = call(app(keys.layer()), token).await.claims();
    assert_eq!(claims.sub.as_deref(), Some("ada"));
    assert_eq!(claims.scope.as_deref(), Some("orders:read orders:write"));
    assert_eq!(claims.exp.unwrap() - claims.iat.unwrap(), 60);
    assert_eq!(claims.extra["tenant"], json!({"id": 7, "name": "acme"}));
    assert_eq!(claims.extra["admin"], json!(true));
}

#[tokio::test]
async fn each_token_gets_its_own_jti() {
    let keys = TestKeys::hs256();
    let first: Claims = keys.verifier().verify(&keys.token().sign()).unwrap();
    let second: Claims = keys.verifier().verify(&keys.token().sign()).unwrap();
    assert_ne!(first.jti, second.jti);
}

#[tokio::test]
async fn a_token_with_the_required_scopes_passes_the_scope_layers() {
    let keys = TestKeys::eddsa();
    let router = scoped(keys.layer().require_scopes(["read"]), "write");
    let claims = call(router, keys.token().scopes(["read", "write"]).bearer())
        .await
        .claims();
    assert_eq!(claims.scope.as_deref(), Some("read write"));
}

#[tokio::test]
async fn the_issuer_and_audience_set_on_the_keys_are_required_and_carried() {
    let keys = TestKeys::es256()
        .issuer("https://auth.example.com")
        .audience("orders-api");
    // The application's own layer, built from its configuration with the test keys.
    let own = || {
        JwtAuthLayer::new(keys.key_set())
            .issuer("https://auth.example.com")
            .audience("orders-api")
    };
    let claims = call(app(own()), keys.token().bearer()).await.claims();
    assert_eq!(claims.iss.as_deref(), Some("https://auth.example.com"));
    assert!(claims.aud.unwrap().contains("orders-api"));

    call(
        app(keys.layer()),
        keys.token().issuer(DEFAULT_ISSUER).bearer(),
    )
    .await
    .assert_invalid_token(ErrorKind::InvalidIssuer);
    call(app(own()), keys.token().audience(DEFAULT_AUDIENCE).bearer())
        .await
        .assert_invalid_token(ErrorKind::InvalidAudience);
}

#[tokio::test]
async fn several_audiences_pass_when_one_is_required() {
    let keys = TestKeys::hs256();
    let token = keys
        .token()
        .audiences(["other-api", DEFAULT_AUDIENCE])
        .bearer();
    let claims = call(app(keys.layer()), token).await.claims();
    assert!(claims.aud.unwrap().contains("other-api"));
}

// --- Invalid on purpose ------------------------------------------------------------------------

#[tokio::test]
async fn an_expired_token_is_refused_as_expired() {
    for keys in all_keys() {
        call(app(keys.layer()), keys.token().expired().bearer())
            .await
            .assert_invalid_token(ErrorKind::Expired);
    }
}

#[tokio::test]
async fn an_expired_token_is_expired_beyond_an_hour_of_leeway() {
    let keys = TestKeys::hs256();
    let lenient = keys.layer().leeway(Duration::from_secs(3600));
    call(app(lenient), keys.token().expired().bearer())
        .await
        .assert_invalid_token(ErrorKind::Expired);
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused_as_not_yet_valid() {
    for keys in all_keys() {
        call(app(keys.layer()), keys.token().not_yet_valid().bearer())
            .await
            .assert_invalid_token(ErrorKind::NotYetValid);
    }
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused_for_its_audience() {
    for keys in all_keys() {
        call(app(keys.layer()), keys.token().wrong_audience().bearer())
            .await
            .assert_invalid_token(ErrorKind::InvalidAudience);
    }
    // Also by a layer that requires no audience: the token is meant for someone else.
    let keys = TestKeys::hs256();
    let no_audience = JwtAuthLayer::new(keys.key_set());
    call(app(no_audience), keys.token().wrong_audience().bearer())
        .await
        .assert_invalid_token(ErrorKind::InvalidAudience);
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused_for_its_issuer() {
    for keys in all_keys() {
        call(app(keys.layer()), keys.token().wrong_issuer().bearer())
            .await
            .assert_invalid_token(ErrorKind::InvalidIssuer);
    }
}

#[tokio::test]
async fn a_token_signed_with_another_key_is_refused_for_its_signature() {
    for keys in all_keys() {
        let forged = keys.token().signed_with_another_key().sign();
        // The same kid as the real key's: the forgery is caught by the signature, not the kid.
        let header = forged.split('.').next().unwrap();
        let real = keys.token().sign();
        assert_eq!(header, real.split('.').next().unwrap());
        let bearer = HeaderValue::try_from(format!("Bearer {forged}")).unwrap();
        call(app(keys.layer()), bearer)
            .await
            .assert_invalid_token(ErrorKind::InvalidSignature);
    }
}

#[tokio::test]
async fn a_tampered_token_is_refused_for_its_signature() {
    for keys in all_keys() {
        call(
            app(keys.layer()),
            keys.token().sub("ada").tampered().bearer(),
        )
        .await
        .assert_invalid_token(ErrorKind::InvalidSignature);
    }
    // The tampering changed the claims, and only them.
    let keys = TestKeys::hs256();
    let honest = keys.token().sign();
    let tampered = keys.token().tampered().sign();
    let parts = |t: &str| t.split('.').map(str::to_owned).collect::<Vec<_>>();
    let (honest, tampered) = (parts(&honest), parts(&tampered));
    assert_eq!(honest[0], tampered[0]);
    assert_ne!(honest[1], tampered[1]);
}

#[tokio::test]
async fn an_unsecured_token_is_refused_for_its_empty_signature() {
    for keys in all_keys() {
        let token = keys.token().alg_none().sign();
        assert!(token.ends_with('.'), "an empty signature");
        let bearer = HeaderValue::try_from(format!("Bearer {token}")).unwrap();
        call(app(keys.layer()), bearer)
            .await
            .assert_invalid_token(ErrorKind::MalformedToken);
    }
}

#[tokio::test]
async fn a_token_missing_a_required_scope_gets_insufficient_scope() {
    let keys = TestKeys::es256();
    call(
        app(keys.layer().require_scopes(["admin"])),
        keys.token().missing_scope().bearer(),
    )
    .await
    .assert_insufficient_scope("admin");
    call(
        scoped(keys.layer(), "admin"),
        keys.token().scopes(["read"]).bearer(),
    )
    .await
    .assert_insufficient_scope("admin");
    // An empty list is no scope at all.
    call(
        app(keys.layer().require_scopes(["read"])),
        keys.token()
            .scopes(["read"])
            .scopes([] as [&str; 0])
            .bearer(),
    )
    .await
    .assert_insufficient_scope("read");
}

#[tokio::test]
async fn a_token_without_exp_is_refused_for_the_missing_claim() {
    let keys = TestKeys::hs256();
    call(
        app(keys.layer()),
        keys.token().without_claim("exp").bearer(),
    )
    .await
    .assert_invalid_token(ErrorKind::MissingClaim("exp"));
}

#[tokio::test]
async fn a_token_of_another_type_is_refused_for_its_type() {
    let keys = TestKeys::hs256();
    call(app(keys.layer()), keys.token().typ("JWT").bearer())
        .await
        .assert_invalid_token(ErrorKind::InvalidType);
    call(app(keys.layer()), keys.token().without_typ().bearer())
        .await
        .assert_invalid_token(ErrorKind::InvalidType);
}

#[test]
#[should_panic(expected = "invalid scope")]
fn a_scope_with_a_space_is_a_mistake_caught_at_once() {
    let _ = TestKeys::hs256().token().scopes(["read write"]);
}

#[test]
fn the_bearer_header_value_is_sensitive() {
    let keys = TestKeys::hs256();
    let value = keys.token().bearer();
    assert!(value.is_sensitive());
    assert!(value.to_str().unwrap().starts_with("Bearer ey"));
}

#[test]
fn debug_output_shows_no_key_material() {
    let keys = TestKeys::hs256();
    let text = format!("{keys:?} {:?}", keys.token());
    assert!(text.contains("HS256"), "{text}");
    assert!(!text.contains("secret"), "{text}");
}

// --- Keys as an identity provider publishes them -------------------------------------------

#[test]
fn the_jwks_of_an_asymmetric_key_verifies_its_tokens() {
    for keys in [TestKeys::es256(), RSA.clone(), TestKeys::eddsa()] {
        let set = KeySet::from_jwks_json(&keys.jwks_json().unwrap()).unwrap();
        let verifier = Verifier::new(set, keys.validation()).unwrap();
        let claims: Claims = verifier.verify(&keys.token().sub("ada").sign()).unwrap();
        assert_eq!(claims.sub.as_deref(), Some("ada"));
        let err = verifier
            .verify::<Claims>(&keys.token().signed_with_another_key().sign())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSignature);
        assert_eq!(keys.jwks().unwrap().keys.len(), 1);
    }
}

#[test]
fn a_shared_secret_is_never_published() {
    let keys = TestKeys::hs256();
    assert!(keys.jwks().is_none());
    assert!(keys.jwks_json().is_none());
    assert!(keys.jwks_service().is_none());
}

#[tokio::test]
async fn the_jwks_service_answers_get_with_the_document() {
    let keys = TestKeys::es256();
    let response = keys
        .jwks_service()
        .unwrap()
        .oneshot(Request::get("/jwks.json").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/jwk-set+json");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, keys.jwks_json().unwrap().as_bytes());
}

#[test]
fn a_key_of_ones_own_signs_the_tokens() {
    let key = tower_jwt_auth::SigningKey::from_secret(Algorithm::HS256, &[7; 32])
        .unwrap()
        .with_kid("fixed");
    let keys = TestKeys::from_key(key);
    let token = keys.token().sign();
    let verifier = Verifier::new(
        tower_jwt_auth::DecodingKey::from_secret(Algorithm::HS256, &[7; 32])
            .unwrap()
            .with_kid("fixed"),
        keys.validation(),
    )
    .unwrap();
    assert!(verifier.verify::<Claims>(&token).is_ok());
}

/// The JWKS served on a loopback port and fetched by `RemoteKeys`, as an identity provider's.
#[cfg(feature = "remote")]
#[tokio::test]
async fn keys_served_over_http_are_fetched_by_remote_keys() {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use tower_jwt_auth::remote::{IssuerConfig, RemoteKeys, RequestBody};

    let keys = TestKeys::es256();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    let provider =
        Router::new().route_service("/.well-known/jwks.json", keys.jwks_service().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, provider).await });

    let client = Client::builder(TokioExecutor::new()).build_http::<RequestBody>();
    let remote = RemoteKeys::builder(client)
        .issuer(
            IssuerConfig::jwks(keys.issuer_name(), url)
                .unwrap()
                .audience(keys.audience_name()),
        )
        .build_eager()
        .await
        .unwrap();

    let claims = call(app(remote.layer()), keys.token().sub("ada").bearer())
        .await
        .claims();
    assert_eq!(claims.sub.as_deref(), Some("ada"));
    call(
        app(remote.layer()),
        keys.token().signed_with_another_key().bearer(),
    )
    .await
    .assert_invalid_token(ErrorKind::InvalidSignature);
    call(app(remote.layer()), keys.token().expired().bearer())
        .await
        .assert_invalid_token(ErrorKind::Expired);
    call(app(remote.layer()), keys.token().wrong_audience().bearer())
        .await
        .assert_invalid_token(ErrorKind::InvalidAudience);
    server.abort();
}

// --- gRPC ---------------------------------------------------------------------------------------

#[cfg(feature = "tonic")]
mod grpc {
    use std::convert::Infallible;

    use tonic::body::Body;
    use tonic::{Code, Status};
    use tower::{Layer, ServiceExt, service_fn};
    use tower_jwt_auth::tonic::RequestClaimsExt;
    use tower_jwt_auth::{Claims, JwtAuthLayer, RequireScopeLayer};

    use super::*;

    /// A gRPC method answering with the `sub` it read from its `tonic::Request`.
    async fn call_grpc(layer: JwtAuthLayer, scopes: &[&str], bearer: String) -> Status {
        let method = service_fn(|request: http::Request<Body>| async move {
            let request = tonic::Request::from_http(request);
            let claims: &Claims = request.claims().expect("claims from the layer");
            let status = Status::new(Code::Ok, claims.sub.clone().unwrap_or_default());
            Ok::<_, Infallible>(status.into_http::<Body>())
        });
        let service = layer.layer(RequireScopeLayer::new(scopes).layer(method));
        let http = http::Request::post("/example.Greeter/WhoAmI")
            .header(CONTENT_TYPE, "application/grpc")
            .header(AUTHORIZATION, bearer)
            .body(Body::empty())
            .unwrap();
        let response = service.oneshot(http).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "gRPC answers over HTTP 200"
        );
        Status::from_header_map(response.headers()).expect("a grpc-status header")
    }

    #[tokio::test]
    async fn a_valid_token_reaches_the_grpc_method_with_its_claims() {
        let keys = TestKeys::eddsa();
        let status = call_grpc(keys.layer(), &[], keys.token().sub("ada").bearer_string()).await;
        assert_eq!((status.code(), status.message()), (Code::Ok, "ada"));
    }

    #[tokio::test]
    async fn invalid_tokens_are_unauthenticated_with_a_generic_message() {
        let keys = TestKeys::es256();
        for token in [
            keys.token().expired(),
            keys.token().not_yet_valid(),
            keys.token().wrong_audience(),
            keys.token().wrong_issuer(),
            keys.token().signed_with_another_key(),
            keys.token().tampered(),
            keys.token().alg_none(),
        ] {
            let status = call_grpc(keys.layer(), &[], token.bearer_string()).await;
            assert_eq!(status.code(), Code::Unauthenticated);
            assert_eq!(status.message(), "the access token is invalid");
        }
    }

    #[tokio::test]
    async fn a_missing_scope_is_permission_denied() {
        let keys = TestKeys::es256();
        let status = call_grpc(
            keys.layer(),
            &["admin"],
            keys.token().scopes(["read"]).bearer_string(),
        )
        .await;
        assert_eq!(status.code(), Code::PermissionDenied);
        let status = call_grpc(
            keys.layer(),
            &["admin"],
            keys.token().scopes(["admin"]).bearer_string(),
        )
        .await;
        assert_eq!(status.code(), Code::Ok);
    }
}

#[test]
fn the_builders_calls_apply_in_order() {
    let keys = TestKeys::hs256();
    let verifier = keys.verifier();
    let revived = keys
        .token()
        .expired()
        .expires_in(Duration::from_secs(60))
        .sign();
    assert!(verifier.verify::<Claims>(&revived).is_ok());
    let token = keys
        .token()
        .sub("ada")
        .sub("bob")
        .wrong_audience()
        .audience(DEFAULT_AUDIENCE);
    let claims: Claims = verifier.verify(&token.sign()).unwrap();
    assert_eq!(claims.sub.as_deref(), Some("bob"));
}

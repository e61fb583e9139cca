//! The example server's OpenAPI document and Swagger UI: what Swagger UI's "Authorize" dialog
//! sends is accepted by the login handler, the token opens `/me`, the document describes every
//! route as it answers, and the page loads nothing from elsewhere. The browser itself is driven
//! by `tests/browser/run.sh`.
#![cfg(all(feature = "login", feature = "axum", feature = "openapi"))]

#[path = "../examples/axum_server/app.rs"]
mod app;
#[path = "../examples/common/demo.rs"]
mod demo;
#[path = "support/example_config.rs"]
mod example_config;
#[path = "../examples/axum_server/openapi.rs"]
mod openapi;

use axum::Router;
use axum::body::Body;
use example_config::PASSWORD;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};

async fn server() -> Router {
    let config = example_config::config(
        TokenIssuer::new(SigningKey::generate(Algorithm::ES256).unwrap())
            .issuer("https://auth.test"),
    );
    let routes = openapi::Routes {
        jwks: true,
        discovery: true,
        metrics: false,
    };
    app::router(config)
        .await
        .unwrap()
        .merge(openapi::router(routes))
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

async fn send(
    app: &Router,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// `GET /me` with `token`: the claims' `sub`.
async fn me(app: &Router, token: &str) -> Reply {
    let bearer = format!("Bearer {token}");
    send(app, Method::GET, "/me", &[("authorization", &bearer)], "").await
}

/// The bodies Swagger UI 5 posts from the dialog (`authorizePassword`: `grant_type`, `scope`
/// (the ticked scopes, space-separated, empty when none), `username`, `password`, then
/// `client_id` and `client_secret` when non-empty and "Request body" is chosen; with the
/// default "Authorization header", a Basic header of `client_id:client_secret`, `Og==` when
/// both are empty).
#[tokio::test]
async fn what_swagger_ui_posts_logs_in_and_the_token_opens_me() {
    let app = server().await;
    let password = PASSWORD.replace(' ', "%20");
    let cases = [
        (
            format!("grant_type=password&scope=&username=demo&password={password}"),
            Some("Basic Og=="),
        ),
        (
            format!("grant_type=password&scope=read&username=demo&password={password}"),
            Some("Basic c3dhZ2dlcjpzZWNyZXQ="),
        ),
        (
            format!("grant_type=password&scope=&username=demo&password={password}"),
            None,
        ),
        (
            format!(
                "grant_type=password&scope=&username=demo&password={password}\
                 &client_id=swagger-ui&client_secret=s3cret"
            ),
            None,
        ),
        (
            // An empty client_id, as other clients send it, and an unknown parameter
            // (RFC 6749 §3.2: ignored).
            format!("grant_type=password&username=demo&password={password}&client_id=&audience=x"),
            None,
        ),
    ];
    for (body, basic) in cases {
        let mut headers = vec![FORM];
        if let Some(basic) = basic {
            headers.push(("authorization", basic));
        }
        let reply = send(&app, Method::POST, "/login", &headers, &body).await;
        assert_eq!(reply.status, StatusCode::OK, "{body}: {}", reply.text);
        let token = reply.json();
        assert_eq!(token["token_type"], "Bearer");
        assert_eq!(token["scope"], "read", "{body}");
        let access = token["access_token"].as_str().unwrap();
        let claims = me(&app, access).await;
        assert_eq!(claims.status, StatusCode::OK);
        assert_eq!(claims.json()["sub"], "demo");

        // The refresh grant with the same client parameters.
        let refresh = token["refresh_token"].as_str().unwrap();
        let mut body = format!("grant_type=refresh_token&refresh_token={refresh}&scope=");
        if basic.is_none() {
            body.push_str("&client_id=swagger-ui");
        }
        let reply = send(&app, Method::POST, "/login", &headers, &body).await;
        assert_eq!(reply.status, StatusCode::OK, "{body}: {}", reply.text);
        assert!(reply.json()["access_token"].is_string());
    }
    // A wrong password still gets the §5.2 answer the dialog shows.
    let reply = send(
        &app,
        Method::POST,
        "/login",
        &[FORM, ("authorization", "Basic Og==")],
        "grant_type=password&scope=&username=demo&password=wrong",
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "invalid_grant");
}

fn spec() -> Value {
    let routes = openapi::Routes {
        jwks: true,
        discovery: true,
        metrics: false,
    };
    serde_json::to_value(openapi::spec(routes)).unwrap()
}

#[tokio::test]
async fn the_document_served_is_the_one_built() {
    let app = server().await;
    let reply = send(&app, Method::GET, openapi::SPEC_PATH, &[], "").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), spec());
}

#[tokio::test]
async fn every_documented_route_answers_as_documented() {
    let app = server().await;
    let spec = spec();
    let paths = spec["paths"].as_object().unwrap();
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    documented.sort_unstable();
    assert_eq!(
        documented,
        [
            "/.well-known/jwks.json",
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
            "/admin",
            openapi::DOCS_PATH,
            "/health",
            "/login",
            "/me",
            openapi::SPEC_PATH,
            "/revoke",
        ]
    );
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let reply = send(&app, method.clone(), path, &[FORM], "").await;
            let status = reply.status.as_str().to_owned();
            let responses = operation["responses"].as_object().unwrap();
            let documented = responses.contains_key(&status)
                // `/docs` redirects to `/docs/`.
                || (path == openapi::DOCS_PATH && reply.status.is_redirection());
            assert!(
                documented,
                "{method} {path} answered {status}, documented: {:?}",
                responses.keys()
            );
            let secured = operation["security"]
                .as_array()
                .is_some_and(|requirements| !requirements.is_empty());
            assert_eq!(
                secured,
                path == "/me" || path == "/admin",
                "{method} {path}"
            );
        }
    }
}

/// The 401 and 403 the layer answers are the ones the document describes, headers included.
#[tokio::test]
async fn rejections_are_documented_with_their_challenge() {
    let app = server().await;
    let spec = spec();
    let response = |path: &str, status: &str| {
        let reference = spec["paths"][path]["get"]["responses"][status]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{path} {status} is not documented"))
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        spec["components"]["responses"][reference].clone()
    };

    let reply = send(
        &app,
        Method::GET,
        "/me",
        &[("authorization", "Bearer x.y.z")],
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let documented = response("/me", "401");
    assert!(documented["headers"]["WWW-Authenticate"].is_object());
    let error = documented["content"]["application/json"]["example"]["error"].clone();
    assert_eq!(reply.json()["error"], error);

    let login = send(
        &app,
        Method::POST,
        "/login",
        &[FORM],
        &format!(
            "grant_type=password&username=demo&password={}",
            PASSWORD.replace(' ', "+")
        ),
    )
    .await;
    let token = login.json()["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let reply = send(
        &app,
        Method::GET,
        "/admin",
        &[("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(
        reply.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("scope=\"admin\"")
    );
    let documented = response("/admin", "403");
    assert_eq!(
        reply.json()["error"],
        documented["content"]["application/json"]["example"]["error"]
    );
    assert_eq!(
        spec["paths"]["/admin"]["get"]["security"][0]["oauth2"][0],
        "admin"
    );
}

/// Every asset the page names is relative and served here; the configuration turns the online
/// validator off and points at this document.
#[tokio::test]
async fn the_docs_page_loads_nothing_from_elsewhere() {
    let app = server().await;
    let page = send(&app, Method::GET, "/docs/", &[], "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    let mut assets = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for part in page.text.split(attribute).skip(1) {
            let url = part.split('"').next().unwrap();
            if url.starts_with("data:") {
                continue;
            }
            assert!(!url.contains("//"), "the page names {url}");
            assets.push(url.trim_start_matches("./").to_owned());
        }
    }
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{assets:?}");
    for asset in &assets {
        let reply = send(&app, Method::GET, &format!("/docs/{asset}"), &[], "").await;
        assert_eq!(reply.status, StatusCode::OK, "{asset}");
    }
    let initializer = send(&app, Method::GET, "/docs/swagger-initializer.js", &[], "").await;
    assert_eq!(initializer.status, StatusCode::OK);
    assert!(
        initializer.text.contains(openapi::SPEC_PATH),
        "{}",
        initializer.text
    );
    let compact: String = initializer.text.split_whitespace().collect();
    assert!(
        compact.contains("\"validatorUrl\":\"none\""),
        "{}",
        initializer.text
    );
}

#[test]
fn the_metrics_route_is_documented_when_served() {
    let with = |metrics| {
        serde_json::to_value(openapi::spec(openapi::Routes {
            jwks: true,
            discovery: true,
            metrics,
        }))
        .unwrap()
    };
    let spec = with(true);
    let get = &spec["paths"]["/metrics"]["get"];
    assert!(get["responses"]["200"]["content"]["text/plain; version=0.0.4"].is_object());
    assert_eq!(get["security"], serde_json::json!([]), "/metrics is public");
    assert!(with(false)["paths"].get("/metrics").is_none());
}

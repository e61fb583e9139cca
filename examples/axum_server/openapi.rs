//! The example's OpenAPI document (`GET /openapi.json`) and Swagger UI over it (`GET /docs`),
//! whose "Authorize" dialog logs in through `POST /login` (the OAuth2 password flow).
//!
//! Swagger UI's assets are built into the binary (`utoipa-swagger-ui`, feature `vendored`): the
//! page loads nothing from outside this server, and the online validator is turned off.

use axum::Router;
use axum::http::Method;
use serde_json::json;
use tower_jwt_auth::openapi::JwtSecurity;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Response};
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the document and the page are served.
pub const SPEC_PATH: &str = "/openapi.json";
/// Swagger UI.
pub const DOCS_PATH: &str = "/docs";

/// Which of the optional routes this server has.
#[derive(Clone, Copy, Debug, Default)]
pub struct Routes {
    /// `GET /.well-known/jwks.json` (an asymmetric key).
    pub jwks: bool,
    /// The discovery documents (an asymmetric key and `JWT_ISSUER`).
    pub discovery: bool,
    /// `GET /metrics` (Prometheus text format).
    pub metrics: bool,
}

/// `GET /openapi.json` and `GET /docs` (with `/docs/…` for the page's own assets).
pub fn router(routes: Routes) -> Router {
    let config = Config::new([SPEC_PATH])
        // No request to validator.swagger.io: the page works offline.
        .validator_url("none")
        .persist_authorization(true)
        .display_request_duration(true);
    SwaggerUi::new(DOCS_PATH)
        .url(SPEC_PATH, spec(routes))
        .config(config)
        .into()
}

/// The document: every route of the example.
pub fn spec(routes: Routes) -> OpenApi {
    let mut paths = PathsBuilder::new()
        .path(
            "/me",
            get(
                "api",
                "Your token's claims",
                "The verified claims of the bearer token, as the `JwtClaims` extractor gives \
                 them to the handler.",
                json_ok(
                    "The claims.",
                    json!({
                        "sub": "demo",
                        "iss": "https://auth.example",
                        "iat": 1_767_225_600,
                        "exp": 1_767_226_500,
                        "jti": "8Zt0d1nSl6fWZ1gZ2QGmQw",
                        "scope": "read",
                        "sid": "Bq4x3Pj1fV0uZ0cW5yRrSg"
                    }),
                ),
            ),
        )
        .path(
            "/admin",
            get(
                "api",
                "The administrators' page",
                "Needs the scope `admin` (`RequireScopeLayer`).",
                json_ok("Welcome.", json!({ "admin": true, "sub": "demo" })),
            ),
        )
        .path(
            "/health",
            public(get(
                "operations",
                "Liveness",
                "Answers `ok` while the server runs.",
                text_ok("`ok`", "ok"),
            )),
        )
        .path(
            SPEC_PATH,
            public(get(
                "documentation",
                "This OpenAPI document",
                "The document Swagger UI at `/docs` reads.",
                ResponseBuilder::new()
                    .description("The OpenAPI 3.1 document.")
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                            .build(),
                    )
                    .build(),
            )),
        )
        .path(
            DOCS_PATH,
            public(get(
                "documentation",
                "Swagger UI",
                "An interactive page over this document: \"Authorize\" logs in with a \
                 username and password, and \"Try it out\" calls then carry the token. Its \
                 assets are served by this server (`/docs/…`).",
                ResponseBuilder::new()
                    .description("A redirection to `/docs/`, the page.")
                    .build(),
            )),
        );
    if routes.jwks {
        paths = paths.path(
            "/.well-known/jwks.json",
            public(get(
                "discovery",
                "The public keys",
                "The JWK set (RFC 7517) of the signing keys: the current one, and the previous \
                 one until its tokens expire after a rotation.",
                json_ok(
                    "The key set.",
                    json!({ "keys": [{
                        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
                        "kid": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
                        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
                    }]}),
                ),
            )),
        );
    }
    if routes.discovery {
        for (path, summary) in [
            (
                "/.well-known/oauth-authorization-server",
                "Authorization server metadata (RFC 8414)",
            ),
            (
                "/.well-known/openid-configuration",
                "The same document, at the OpenID Connect discovery path",
            ),
        ] {
            paths = paths.path(
                path,
                public(get(
                    "discovery",
                    summary,
                    "Where a resource server finds the keys (`jwks_uri`) and the endpoints \
                     from the issuer's name alone.",
                    json_ok(
                        "The metadata.",
                        json!({
                            "issuer": "https://auth.example",
                            "jwks_uri": "https://auth.example/.well-known/jwks.json",
                            "token_endpoint": "https://auth.example/login",
                            "revocation_endpoint": "https://auth.example/revoke",
                            "grant_types_supported": ["password", "refresh_token"],
                            "response_types_supported": [],
                            "token_endpoint_auth_methods_supported": ["none"],
                            "revocation_endpoint_auth_methods_supported": ["none"],
                            "access_token_signing_alg_values_supported": ["ES256"]
                        }),
                    ),
                )),
            );
        }
    }
    if routes.metrics {
        paths = paths.path(
            "/metrics",
            public(get(
                "operations",
                "Metrics",
                "The server's counters and histograms in the Prometheus text format.",
                ResponseBuilder::new()
                    .description("The metrics.")
                    .content(
                        "text/plain; version=0.0.4",
                        ContentBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                            .build(),
                    )
                    .build(),
            )),
        );
    }
    let mut spec = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("tower-jwt-auth example server")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Log in at `POST /login` (the OAuth2 password grant) and call the protected \
                     routes with the access token. In Swagger UI: \"Authorize\", enter the demo \
                     account (leave `client_id` and `client_secret` empty), then \"Try it out\".",
                ))
                .build(),
        )
        .paths(paths)
        .tags(Some([
            tag("authentication", "Tokens: log in, refresh, log out"),
            tag("api", "Routes that need a token"),
            tag("discovery", "Keys and metadata for resource servers"),
            tag("operations", "Health and metrics"),
            tag("documentation", "This document and Swagger UI"),
        ]))
        .build();
    let security = JwtSecurity::password_flow("/login")
        .scope("read", "read your own data (the demo account's default)")
        .scope("admin", "the administrators' page")
        .with_bearer()
        .authenticated(Method::GET, "/me")
        .protect(Method::GET, "/admin", ["admin"])
        .token_endpoint("/login")
        .revocation_endpoint("/revoke");
    // Every operation it names is in the document above: a failure is a bug of this file.
    security
        .apply(&mut spec)
        .expect("the protected routes are documented");
    // Both endpoints sit behind the per-client rate limit (tower_governor): 429 `slow_down`.
    for path in ["/login", "/revoke"] {
        if let Some(operation) = spec
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.post.as_mut())
        {
            let responses = &mut operation.responses.responses;
            match responses.get_mut("429") {
                Some(utoipa::openapi::RefOr::T(throttled)) => {
                    throttled.description.push_str(
                        " Or `slow_down` for too many requests from this client address.",
                    );
                }
                _ => {
                    responses.insert("429".to_owned(), rate_limited().into());
                }
            }
        }
    }
    spec
}

fn get(tag: &str, summary: &str, description: &str, ok: Response) -> PathItem {
    PathItem::new(
        HttpMethod::Get,
        OperationBuilder::new()
            .tag(tag)
            .summary(Some(summary))
            .description(Some(description))
            .response("200", ok)
            .build(),
    )
}

/// Marks every operation of `item` as needing no token.
fn public(mut item: PathItem) -> PathItem {
    if let Some(operation) = item.get.as_mut() {
        operation.security = Some(Vec::<SecurityRequirement>::new());
    }
    item
}

fn tag(name: &str, description: &str) -> utoipa::openapi::tag::Tag {
    TagBuilder::new()
        .name(name)
        .description(Some(description))
        .build()
}

fn json_ok(description: &str, example: serde_json::Value) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                .example(Some(example))
                .build(),
        )
        .build()
}

fn text_ok(description: &str, example: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "text/plain; charset=utf-8",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .example(Some(example.into()))
                .build(),
        )
        .build()
}

fn rate_limited() -> Response {
    ResponseBuilder::new()
        .description("`slow_down`: too many requests from this client address.")
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                .description(Some("seconds to wait"))
                .build(),
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("TokenError")))
                .example(Some(json!({
                    "error": "slow_down",
                    "error_description": "too many login requests from this client; retry later"
                })))
                .build(),
        )
        .build()
}

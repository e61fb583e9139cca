//! OpenAPI documentation of the crate's tokens and endpoints, for [utoipa] 6:
//! [`JwtSecurity`].
//!
//! [`JwtSecurity`] is a [`Modify`]: applied to a spec (yours, derived with
//! `#[derive(utoipa::OpenApi)]` or built by hand) it adds
//!
//! - the security schemes: an OAuth2 password flow (`oauth2`: token URL, refresh URL, scopes
//!   with their descriptions), which Swagger UI's "Authorize" dialog logs in with, and/or an
//!   HTTP bearer scheme for JWTs (`bearer`), where a token is pasted;
//! - `security` on the operations you [`protect`](JwtSecurity::protect), with their scopes;
//! - on every operation that requires one of its schemes (named by [`protect`], by
//!   `#[utoipa::path(security(("oauth2" = ["admin"])))]`, or by the spec's global `security`),
//!   the rejections [`JwtAuthLayer`](crate::JwtAuthLayer) and
//!   [`RequireScopeLayer`](crate::RequireScopeLayer) answer with: 400, 401, 403 (when scopes
//!   are required) and 503, each with its `WWW-Authenticate` or `Retry-After` header and the
//!   RFC 6750 error body; responses the operation documents already are left alone;
//! - optionally the token endpoint ([`login_handler`](crate::login::login_handler): its form
//!   and JSON bodies, its RFC 6749 §5.1 and §5.2 answers) and the revocation endpoint (RFC 7009).
//!
//! ```
//! use http::Method;
//! use tower_jwt_auth::openapi::JwtSecurity;
//! use utoipa::{Modify, OpenApi};
//!
//! /// The caller's claims.
//! #[utoipa::path(get, path = "/me", responses((status = 200, description = "the claims")))]
//! async fn me() {}
//!
//! /// The administration page.
//! #[utoipa::path(
//!     get,
//!     path = "/admin",
//!     responses((status = 200, description = "welcome")),
//!     security(("oauth2" = ["admin"]))
//! )]
//! async fn admin() {}
//!
//! #[derive(OpenApi)]
//! #[openapi(paths(me, admin))]
//! struct ApiDoc;
//!
//! let security = JwtSecurity::password_flow("/login")
//!     .scope("read", "read your own data")
//!     .scope("admin", "administration")
//!     .authenticated(Method::GET, "/me")
//!     .token_endpoint("/login");
//! let mut spec = ApiDoc::openapi();
//! security.modify(&mut spec);
//!
//! let json = serde_json::to_value(&spec).unwrap();
//! let admin = &json["paths"]["/admin"]["get"];
//! assert_eq!(admin["security"][0]["oauth2"][0], "admin");
//! assert!(admin["responses"]["403"].is_object());
//! let me = &json["paths"]["/me"]["get"];
//! assert_eq!(me["security"][0]["oauth2"], serde_json::json!([]));
//! assert!(me["responses"]["401"].is_object());
//! assert!(me["responses"].get("403").is_none());
//! let password = &json["components"]["securitySchemes"]["oauth2"]["flows"]["password"];
//! assert_eq!(password["tokenUrl"], "/login");
//! assert!(json["paths"]["/login"]["post"]["requestBody"].is_object());
//! ```
//!
//! Serve the spec, and Swagger UI over it, with `utoipa-swagger-ui` (its feature `vendored`
//! builds the page's assets into your binary: no download at build time, no CDN at run time);
//! the example `axum_server` does, at `GET /openapi.json` and `GET /docs`. Swagger UI's password
//! flow posts `grant_type=password&username=…&password=…&scope=…` (with `client_id`, and a
//! `Basic` client header, when the dialog has them) to the token URL: `login_handler` accepts
//! that as it is, ignoring the client parameters.
//!
//! [utoipa]: https://docs.rs/utoipa/6
//! [`protect`]: JwtSecurity::protect

use std::fmt;

use http::Method;
use utoipa::Modify;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, OperationBuilder, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityRequirement,
    SecurityScheme,
};
use utoipa::openapi::{Components, OpenApi, Ref, RefOr, Required, Response, Schema};

/// The default name of the OAuth2 password-flow security scheme.
pub const OAUTH2_SCHEME: &str = "oauth2";
/// The default name of the HTTP bearer (JWT) security scheme.
pub const BEARER_SCHEME: &str = "bearer";

/// Schema names under `components/schemas`.
const TOKEN_REQUEST: &str = "TokenRequest";
const TOKEN_RESPONSE: &str = "TokenResponse";
const TOKEN_ERROR: &str = "TokenError";
const BEARER_ERROR: &str = "BearerError";
const REVOCATION_REQUEST: &str = "RevocationRequest";
/// Response names under `components/responses`.
const BAD_REQUEST: &str = "BearerBadRequest";
const UNAUTHORIZED: &str = "BearerUnauthorized";
const FORBIDDEN: &str = "BearerForbidden";
const UNAVAILABLE: &str = "BearerUnavailable";

/// Adds this crate's security schemes, protected operations, rejection responses and
/// endpoints to an OpenAPI spec. See the [module docs](self).
///
/// Apply it with [`Modify::modify`] (which logs a configuration mistake with `tracing` and
/// applies the rest), or with [`JwtSecurity::apply`], which reports it.
#[derive(Clone)]
#[must_use]
pub struct JwtSecurity {
    oauth2: Option<PasswordFlow>,
    bearer: Option<String>,
    scopes: Vec<(String, String)>,
    protected: Vec<(Method, String, Vec<String>)>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
}

#[derive(Clone)]
struct PasswordFlow {
    name: String,
    token_url: String,
    refresh_url: Option<String>,
}

impl JwtSecurity {
    /// An OAuth2 password-flow scheme named [`OAUTH2_SCHEME`] whose token URL is `token_url`
    /// (a path such as `/login` is resolved against the spec's server). The refresh URL is the
    /// same URL: `login_handler` answers `grant_type=refresh_token` there when it keeps
    /// sessions.
    pub fn password_flow(token_url: impl Into<String>) -> Self {
        let token_url = token_url.into();
        Self {
            oauth2: Some(PasswordFlow {
                name: OAUTH2_SCHEME.to_owned(),
                refresh_url: Some(token_url.clone()),
                token_url,
            }),
            bearer: None,
            scopes: Vec::new(),
            protected: Vec::new(),
            token_endpoint: None,
            revocation_endpoint: None,
        }
    }

    /// An HTTP bearer scheme (`bearerFormat: JWT`) named [`BEARER_SCHEME`] only: for a resource
    /// server whose tokens come from elsewhere.
    pub fn bearer() -> Self {
        Self {
            oauth2: None,
            bearer: Some(BEARER_SCHEME.to_owned()),
            scopes: Vec::new(),
            protected: Vec::new(),
            token_endpoint: None,
            revocation_endpoint: None,
        }
    }

    /// Adds the HTTP bearer scheme (named [`BEARER_SCHEME`]) beside the password flow:
    /// protected operations then accept either, the bearer one for a pasted token.
    pub fn with_bearer(mut self) -> Self {
        self.bearer = Some(BEARER_SCHEME.to_owned());
        self
    }

    /// Renames the OAuth2 scheme (default [`OAUTH2_SCHEME`]), to match the name your
    /// `#[utoipa::path(security(…))]` attributes use.
    pub fn oauth2_scheme_name(mut self, name: impl Into<String>) -> Self {
        if let Some(flow) = &mut self.oauth2 {
            flow.name = name.into();
        }
        self
    }

    /// Renames the HTTP bearer scheme (default [`BEARER_SCHEME`]), when there is one.
    pub fn bearer_scheme_name(mut self, name: impl Into<String>) -> Self {
        if self.bearer.is_some() {
            self.bearer = Some(name.into());
        }
        self
    }

    /// The refresh URL of the password flow (default: the token URL); `None` leaves it out.
    pub fn refresh_url(mut self, url: Option<impl Into<String>>) -> Self {
        if let Some(flow) = &mut self.oauth2 {
            flow.refresh_url = url.map(Into::into);
        }
        self
    }

    /// A scope the password flow offers, with the description Swagger UI shows beside its
    /// checkbox.
    pub fn scope(mut self, name: impl Into<String>, description: impl Into<String>) -> Self {
        self.scopes.push((name.into(), description.into()));
        self
    }

    /// Marks the operation `method path` (as written in the spec, `/users/{id}`) as requiring a
    /// token with every one of `scopes` (none: any valid token), under each of this value's
    /// schemes. It replaces the operation's own `security`.
    pub fn protect<S>(mut self, method: Method, path: impl Into<String>, scopes: S) -> Self
    where
        S: IntoIterator,
        S::Item: Into<String>,
    {
        let scopes = scopes.into_iter().map(Into::into).collect();
        self.protected.push((method, path.into(), scopes));
        self
    }

    /// Marks the operation `method path` as requiring a valid token, whatever its scopes:
    /// [`protect`](Self::protect) with no scope.
    pub fn authenticated(self, method: Method, path: impl Into<String>) -> Self {
        self.protect(method, path, Vec::<String>::new())
    }

    /// Documents `POST path` as the token endpoint of
    /// [`login_handler`](crate::login::login_handler): the password and refresh grants as a
    /// form (or JSON), the token response, and each error it answers with.
    pub fn token_endpoint(mut self, path: impl Into<String>) -> Self {
        self.token_endpoint = Some(path.into());
        self
    }

    /// Documents `POST path` as the revocation endpoint (RFC 7009) of
    /// [`revocation_handler`](crate::session::revocation_handler).
    pub fn revocation_endpoint(mut self, path: impl Into<String>) -> Self {
        self.revocation_endpoint = Some(path.into());
        self
    }

    /// Applies everything to `spec`.
    ///
    /// # Errors
    ///
    /// [`OpenApiError`] when an operation given to [`protect`](Self::protect) is not in the
    /// spec; the rest is applied all the same.
    pub fn apply(&self, spec: &mut OpenApi) -> Result<(), OpenApiError> {
        let components = spec.components.get_or_insert_with(Components::new);
        self.add_components(components);
        if let Some(path) = &self.token_endpoint {
            set_operation(spec, &Method::POST, path, token_operation());
        }
        if let Some(path) = &self.revocation_endpoint {
            set_operation(spec, &Method::POST, path, revocation_operation());
        }
        let mut missing = Vec::new();
        for (method, path, scopes) in &self.protected {
            let requirement = self.requirement(scopes);
            match operation_mut(spec, method, path) {
                Some(operation) => operation.security = Some(requirement),
                None => missing.push(format!("{method} {path}")),
            }
        }
        let global = spec.security.clone();
        let names = self.scheme_names();
        for item in spec.paths.paths.values_mut() {
            for operation in operations_mut(item) {
                let required = operation.security.as_ref().or(global.as_ref());
                let Some(scopes) = required.and_then(|r| required_scopes(r, &names)) else {
                    continue;
                };
                add_rejections(operation, &scopes);
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(OpenApiError { missing })
        }
    }

    /// The names of the schemes this value adds.
    fn scheme_names(&self) -> Vec<&str> {
        let oauth2 = self.oauth2.as_ref().map(|flow| flow.name.as_str());
        oauth2.into_iter().chain(self.bearer.as_deref()).collect()
    }

    /// The operation's `security`: one alternative per scheme (the bearer scheme takes no
    /// scopes in OpenAPI 3.0; 3.1 allows them, and they say what the token must grant).
    fn requirement(&self, scopes: &[String]) -> Vec<SecurityRequirement> {
        self.scheme_names()
            .into_iter()
            .map(|name| SecurityRequirement::new(name, scopes.iter().map(String::as_str)))
            .collect()
    }

    fn add_components(&self, components: &mut Components) {
        if let Some(flow) = &self.oauth2 {
            let scopes = Scopes::from_iter(self.scopes.iter().cloned());
            let password = match &flow.refresh_url {
                Some(refresh) => {
                    Password::with_refresh_url(flow.token_url.clone(), scopes, refresh.clone())
                }
                None => Password::new(flow.token_url.clone(), scopes),
            };
            let scheme = OAuth2::with_description(
                [Flow::Password(password)],
                "OAuth2 password grant (RFC 6749 §4.3): the username and password are posted as \
                 a form to the token URL, which answers with a JWT access token sent as \
                 `Authorization: Bearer <token>`.",
            );
            components.add_security_scheme(&flow.name, SecurityScheme::OAuth2(scheme));
        }
        if let Some(name) = &self.bearer {
            let scheme = HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("A JWT access token: `Authorization: Bearer <token>`."))
                .build();
            components.add_security_scheme(name, SecurityScheme::Http(scheme));
        }
        components
            .schemas
            .insert(BEARER_ERROR.to_owned(), bearer_error_schema());
        components
            .responses
            .insert(BAD_REQUEST.to_owned(), rejection_response(400).into());
        components
            .responses
            .insert(UNAUTHORIZED.to_owned(), rejection_response(401).into());
        components
            .responses
            .insert(FORBIDDEN.to_owned(), rejection_response(403).into());
        components
            .responses
            .insert(UNAVAILABLE.to_owned(), rejection_response(503).into());
        if self.token_endpoint.is_some() {
            for (name, schema) in [
                (TOKEN_REQUEST, token_request_schema()),
                (TOKEN_RESPONSE, token_response_schema()),
                (TOKEN_ERROR, token_error_schema()),
            ] {
                components.schemas.insert(name.to_owned(), schema);
            }
        }
        if self.revocation_endpoint.is_some() {
            components
                .schemas
                .insert(REVOCATION_REQUEST.to_owned(), revocation_request_schema());
            components
                .schemas
                .insert(TOKEN_ERROR.to_owned(), token_error_schema());
        }
    }
}

impl Modify for JwtSecurity {
    /// [`JwtSecurity::apply`], logging (at error level) an operation it could not find.
    fn modify(&self, openapi: &mut OpenApi) {
        if let Err(error) = self.apply(openapi) {
            tracing::error!(%error, "OpenAPI: JwtSecurity not fully applied");
        }
    }
}

impl fmt::Debug for JwtSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protected: Vec<String> = self
            .protected
            .iter()
            .map(|(method, path, scopes)| format!("{method} {path} {scopes:?}"))
            .collect();
        f.debug_struct("JwtSecurity")
            .field("oauth2", &self.oauth2.as_ref().map(|flow| &flow.name))
            .field("token_url", &self.oauth2.as_ref().map(|f| &f.token_url))
            .field("bearer", &self.bearer)
            .field("scopes", &self.scopes)
            .field("protected", &protected)
            .field("token_endpoint", &self.token_endpoint)
            .field("revocation_endpoint", &self.revocation_endpoint)
            .finish()
    }
}

/// Operations given to [`JwtSecurity::protect`] that the spec does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenApiError {
    missing: Vec<String>,
}

impl OpenApiError {
    /// The missing operations, as `METHOD path`.
    #[must_use]
    pub fn missing(&self) -> &[String] {
        &self.missing
    }
}

impl fmt::Display for OpenApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "operations to protect are not in the spec: {}",
            self.missing.join(", ")
        )
    }
}

impl std::error::Error for OpenApiError {}

/// The scopes `requirements` ask of one of `names`' schemes (the union over the alternatives
/// naming them), or `None` when none names them. An empty alternative (`{}`) makes the token
/// optional: no rejection is documented then.
fn required_scopes(requirements: &[SecurityRequirement], names: &[&str]) -> Option<Vec<String>> {
    let mut found = false;
    let mut scopes = Vec::new();
    for requirement in requirements {
        // The requirement's map is private to utoipa: read it through its serialisation.
        let Ok(serde_json::Value::Object(map)) = serde_json::to_value(requirement) else {
            continue;
        };
        if map.is_empty() {
            return None;
        }
        for (name, value) in map {
            if !names.contains(&name.as_str()) {
                continue;
            }
            found = true;
            for scope in value.as_array().into_iter().flatten() {
                if let Some(scope) = scope.as_str().map(str::to_owned)
                    && !scopes.contains(&scope)
                {
                    scopes.push(scope);
                }
            }
        }
    }
    found.then_some(scopes)
}

/// The rejections of a protected operation, unless it documents those statuses itself.
fn add_rejections(operation: &mut Operation, scopes: &[String]) {
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str, name: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| Ref::from_response_name(name).into());
    };
    add("400", BAD_REQUEST);
    add("401", UNAUTHORIZED);
    if !scopes.is_empty() {
        add("403", FORBIDDEN);
    }
    add("503", UNAVAILABLE);
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
        &mut item.query,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn slot<'a>(item: &'a mut PathItem, method: &Method) -> Option<&'a mut Option<Operation>> {
    Some(match *method {
        Method::GET => &mut item.get,
        Method::PUT => &mut item.put,
        Method::POST => &mut item.post,
        Method::DELETE => &mut item.delete,
        Method::OPTIONS => &mut item.options,
        Method::HEAD => &mut item.head,
        Method::PATCH => &mut item.patch,
        Method::TRACE => &mut item.trace,
        _ if method.as_str() == "QUERY" => &mut item.query,
        _ => return None,
    })
}

fn operation_mut<'a>(
    spec: &'a mut OpenApi,
    method: &Method,
    path: &str,
) -> Option<&'a mut Operation> {
    slot(spec.paths.paths.get_mut(path)?, method)?.as_mut()
}

fn set_operation(spec: &mut OpenApi, method: &Method, path: &str, operation: Operation) {
    let item = spec.paths.paths.entry(path.to_owned()).or_default();
    if let Some(slot) = slot(item, method) {
        *slot = Some(operation);
    }
}

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

fn schema_ref(name: &str) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

fn json_content(schema: &str, example: serde_json::Value) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(schema_ref(schema)))
        .example(Some(example))
        .build()
}

/// The RFC 6750 §3 error body of the bearer rejections.
fn bearer_error_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .description(Some(
            "RFC 6750 §3.1 error: the code, and a generic description (the precise reason is \
             in the server's logs).",
        ))
        .property(
            "error",
            string("the error code").enum_values(Some([
                "invalid_request",
                "invalid_token",
                "insufficient_scope",
                "temporarily_unavailable",
            ])),
        )
        .required("error")
        .property(
            "error_description",
            string("a generic, human-readable reason"),
        )
        .required("error_description")
        .into()
}

/// The documented rejection for `status`, with its headers and body.
fn rejection_response(status: u16) -> Response {
    let challenge = |example: &str, description: &str| {
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some(description))
            .example(Some(example.into()))
            .build()
    };
    let body = |error: &str, description: &str| {
        json_content(
            BEARER_ERROR,
            serde_json::json!({ "error": error, "error_description": description }),
        )
    };
    match status {
        400 => ResponseBuilder::new()
            .description(
                "`invalid_request`: a malformed credential, several credentials, or a cookie \
                 token on an unsafe request not shown to come from this origin.",
            )
            .header(
                "WWW-Authenticate",
                challenge(
                    r#"Bearer realm="api", error="invalid_request", error_description="the credential is malformed""#,
                    "the RFC 6750 challenge, naming the error",
                ),
            )
            .content(
                "application/json",
                body("invalid_request", "the credential is malformed"),
            )
            .build(),
        401 => ResponseBuilder::new()
            .description(
                "No bearer token (the challenge alone, no body), or `invalid_token`: a bad, \
                 expired, revoked or unknown-key token.",
            )
            .header(
                "WWW-Authenticate",
                challenge(
                    r#"Bearer realm="api", error="invalid_token", error_description="the token is invalid""#,
                    "the RFC 6750 challenge: `Bearer realm=\"…\"`, with `error` and \
                     `error_description` when a token was sent",
                ),
            )
            .content(
                "application/json",
                body("invalid_token", "the token is invalid"),
            )
            .build(),
        403 => ResponseBuilder::new()
            .description("`insufficient_scope`: a valid token lacking a required scope.")
            .header(
                "WWW-Authenticate",
                challenge(
                    r#"Bearer realm="api", error="insufficient_scope", error_description="the token lacks a required scope", scope="admin""#,
                    "the RFC 6750 challenge, with the `scope` the operation requires",
                ),
            )
            .content(
                "application/json",
                body("insufficient_scope", "the token lacks a required scope"),
            )
            .build(),
        _ => ResponseBuilder::new()
            .description(
                "`temporarily_unavailable`: the token could not be checked (the revocation \
                 backend failed, or the issuer's keys are not fetched yet).",
            )
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                    .description(Some("seconds to wait, when the server knows"))
                    .build(),
            )
            .content(
                "application/json",
                body(
                    "temporarily_unavailable",
                    "the token cannot be checked right now",
                ),
            )
            .build(),
    }
}

/// The token request (RFC 6749 §4.3.2 and §6) as `login_handler` reads it.
fn token_request_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .description(Some(
            "RFC 6749 §4.3.2 (password) or §6 (refresh_token). No parameter may be repeated; \
             unknown ones (`client_id`, `client_secret`) are ignored.",
        ))
        .property(
            "grant_type",
            string("`password`, or `refresh_token` (when sessions are kept)")
                .enum_values(Some(["password", "refresh_token"])),
        )
        .required("grant_type")
        .property("username", string("the account's name (password grant)"))
        .property(
            "password",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Password,
                )))
                .description(Some("the account's password (password grant)")),
        )
        .property(
            "refresh_token",
            string("the refresh token (refresh_token grant)"),
        )
        .property(
            "scope",
            string(
                "space-separated scopes asked for: those the account holds are granted; \
                 empty or absent, all of them",
            ),
        )
        .into()
}

/// The token response (RFC 6749 §5.1).
fn token_response_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .description(Some("RFC 6749 §5.1 token response."))
        .property("access_token", string("a signed JWT (RFC 9068)"))
        .required("access_token")
        .property(
            "token_type",
            string("always `Bearer`").enum_values(Some(["Bearer"])),
        )
        .required("token_type")
        .property(
            "expires_in",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .description(Some("the access token's lifetime, in seconds")),
        )
        .required("expires_in")
        .property("scope", string("the space-separated scopes granted"))
        .required("scope")
        .property(
            "refresh_token",
            string("a refresh token, when the server keeps sessions; rotated on each use"),
        )
        .into()
}

/// The token endpoint's error body (RFC 6749 §5.2), the revocation endpoint's too.
fn token_error_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .description(Some("RFC 6749 §5.2 error response."))
        .property(
            "error",
            string("the error code").enum_values(Some([
                "invalid_request",
                "invalid_grant",
                "invalid_scope",
                "unsupported_grant_type",
                "slow_down",
                "temporarily_unavailable",
            ])),
        )
        .required("error")
        .property("error_description", string("a human-readable reason"))
        .required("error_description")
        .into()
}

fn revocation_request_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .description(Some("RFC 7009 §2.1 revocation request."))
        .property("token", string("a refresh token or an access token"))
        .required("token")
        .property(
            "token_type_hint",
            string("only a hint: the token's shape decides")
                .enum_values(Some(["refresh_token", "access_token"])),
        )
        .into()
}

fn error_response(description: &str, example: (&str, &str)) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            json_content(
                TOKEN_ERROR,
                serde_json::json!({ "error": example.0, "error_description": example.1 }),
            ),
        )
        .build()
}

fn retry_after(response: Response, description: &str) -> Response {
    let header = HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
        .description(Some(description))
        .build();
    let mut response = response;
    response
        .headers
        .insert("Retry-After".to_owned(), RefOr::T(header));
    response
}

/// The operations both endpoints share: a form body (and JSON for the token endpoint), no
/// security, the generic errors.
fn endpoint_operation(
    summary: &str,
    description: &str,
    form_schema: &str,
    json: bool,
) -> OperationBuilder {
    let body = ContentBuilder::new()
        .schema(Some(schema_ref(form_schema)))
        .build();
    let mut request = RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content("application/x-www-form-urlencoded", body);
    if json {
        request = request.content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(schema_ref(form_schema)))
                .build(),
        );
    }
    OperationBuilder::new()
        .tag("authentication")
        .summary(Some(summary))
        .description(Some(description))
        .request_body(Some(request.build()))
        // Public: no token needed, whatever the spec's global security says.
        .securities(Some(Vec::<SecurityRequirement>::new()))
        .response(
            "405",
            error_response(
                "Not `POST` (with `Allow: POST`).",
                (
                    "invalid_request",
                    if json {
                        "the token endpoint accepts POST only"
                    } else {
                        "the revocation endpoint accepts POST only"
                    },
                ),
            ),
        )
        .response(
            "413",
            error_response(
                "The body is over the limit (16 KiB by default).",
                ("invalid_request", "the request body is too large"),
            ),
        )
        .response(
            "415",
            error_response(
                "Another content type.",
                (
                    "invalid_request",
                    if json {
                        "send application/x-www-form-urlencoded or application/json"
                    } else {
                        "send application/x-www-form-urlencoded"
                    },
                ),
            ),
        )
        .response(
            "503",
            retry_after(
                error_response(
                    "A backend (store, hashing pool) is failing or saturated.",
                    (
                        "temporarily_unavailable",
                        "the login service is unavailable",
                    ),
                ),
                "seconds to wait",
            ),
        )
}

fn token_operation() -> Operation {
    endpoint_operation(
        "Log in: get an access token",
        "The token endpoint (RFC 6749 §3.2): the password grant (§4.3), and the refresh grant \
         (§6) when the server keeps sessions. Every answer carries `Cache-Control: no-store`.",
        TOKEN_REQUEST,
        true,
    )
    .operation_id(Some("token"))
    .response(
        "200",
        ResponseBuilder::new()
            .description("The token (RFC 6749 §5.1).")
            .content(
                "application/json",
                json_content(
                    TOKEN_RESPONSE,
                    serde_json::json!({
                        "access_token": "eyJhbGciOiJFUzI1NiIsImtpZCI6IjEiLCJ0eXAiOiJhdCtqd3QifQ.eyJzdWIiOiJkZW1vIn0.c2ln",
                        "token_type": "Bearer",
                        "expires_in": 900,
                        "scope": "read",
                        "refresh_token": "mF_9B5f-4.1JqM"
                    }),
                ),
            )
            .build(),
    )
    .response(
        "400",
        error_response(
            "RFC 6749 §5.2: `invalid_grant` (unknown user, wrong password or disabled account, \
             one answer for the three; or a bad refresh token), `invalid_request` (a missing or \
             repeated parameter), `invalid_scope`, `unsupported_grant_type`.",
            ("invalid_grant", "the username or password is incorrect"),
        ),
    )
    .response(
        "429",
        retry_after(
            error_response(
                "`slow_down`: too many failed attempts on the account.",
                ("slow_down", "too many failed attempts; retry later"),
            ),
            "seconds until the account accepts another attempt",
        ),
    )
    .build()
}

fn revocation_operation() -> Operation {
    endpoint_operation(
        "Log out: revoke a token",
        "The revocation endpoint (RFC 7009): a refresh token ends its session, an access token \
         is denylisted until it expires. A token unknown or not ours gets 200 as well (§2.2).",
        REVOCATION_REQUEST,
        false,
    )
    .operation_id(Some("revoke"))
    .response(
        "200",
        ResponseBuilder::new()
            .description("Revoked, or nothing to revoke (RFC 7009 §2.2); no body.")
            .build(),
    )
    .response(
        "400",
        error_response(
            "`invalid_request`: `token` missing, or a parameter repeated.",
            ("invalid_request", "token is missing"),
        ),
    )
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use utoipa::openapi::path::HttpMethod;
    use utoipa::openapi::{OpenApiBuilder, PathsBuilder};

    fn get(summary: &str) -> Operation {
        OperationBuilder::new()
            .summary(Some(summary))
            .response("200", ResponseBuilder::new().description("ok").build())
            .build()
    }

    fn spec() -> OpenApi {
        OpenApiBuilder::new()
            .paths(
                PathsBuilder::new()
                    .path("/me", PathItem::new(HttpMethod::Get, get("me")))
                    .path("/admin", PathItem::new(HttpMethod::Get, get("admin")))
                    .path("/health", PathItem::new(HttpMethod::Get, get("health"))),
            )
            .build()
    }

    fn applied(security: &JwtSecurity) -> Value {
        let mut spec = spec();
        security.apply(&mut spec).unwrap();
        serde_json::to_value(&spec).unwrap()
    }

    fn resolve<'a>(json: &'a Value, response: &'a Value) -> &'a Value {
        match response["$ref"].as_str() {
            Some(reference) => {
                let name = reference.rsplit('/').next().unwrap();
                &json["components"]["responses"][name]
            }
            None => response,
        }
    }

    #[test]
    fn protected_operations_carry_security_and_rejections() {
        let json = applied(
            &JwtSecurity::password_flow("/login")
                .scope("admin", "administration")
                .authenticated(Method::GET, "/me")
                .protect(Method::GET, "/admin", ["admin"]),
        );
        let me = &json["paths"]["/me"]["get"];
        assert_eq!(me["security"], json!([{ "oauth2": [] }]));
        for status in ["400", "401", "503"] {
            assert!(me["responses"][status].is_object(), "{status}");
        }
        assert!(me["responses"].get("403").is_none());
        let admin = &json["paths"]["/admin"]["get"];
        assert_eq!(admin["security"], json!([{ "oauth2": ["admin"] }]));
        let forbidden = resolve(&json, &admin["responses"]["403"]);
        assert!(
            forbidden["headers"]["WWW-Authenticate"]["example"]
                .as_str()
                .unwrap()
                .contains("insufficient_scope")
        );
        let unauthorized = resolve(&json, &admin["responses"]["401"]);
        assert!(unauthorized["headers"]["WWW-Authenticate"].is_object());
        assert_eq!(
            unauthorized["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/BearerError"
        );
        let unavailable = resolve(&json, &admin["responses"]["503"]);
        assert!(unavailable["headers"]["Retry-After"].is_object());
        // The documented 200 stays.
        assert_eq!(admin["responses"]["200"]["description"], "ok");
    }

    #[test]
    fn public_operations_are_left_alone() {
        let json = applied(&JwtSecurity::password_flow("/login").authenticated(Method::GET, "/me"));
        let health = &json["paths"]["/health"]["get"];
        assert!(health.get("security").is_none());
        assert_eq!(
            health["responses"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["200"]
        );
    }

    #[test]
    fn the_password_flow_names_its_urls_and_scopes() {
        let json = applied(
            &JwtSecurity::password_flow("/login")
                .scope("read", "read your data")
                .scope("admin", "administration")
                .with_bearer(),
        );
        let schemes = &json["components"]["securitySchemes"];
        assert_eq!(schemes["oauth2"]["type"], "oauth2");
        let password = &schemes["oauth2"]["flows"]["password"];
        assert_eq!(password["tokenUrl"], "/login");
        assert_eq!(password["refreshUrl"], "/login");
        assert_eq!(
            password["scopes"],
            json!({ "read": "read your data", "admin": "administration" })
        );
        assert_eq!(schemes["bearer"]["type"], "http");
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["bearer"]["bearerFormat"], "JWT");
    }

    #[test]
    fn with_both_schemes_either_opens_a_protected_operation() {
        let json = applied(&JwtSecurity::password_flow("/login").with_bearer().protect(
            Method::GET,
            "/admin",
            ["admin"],
        ));
        assert_eq!(
            json["paths"]["/admin"]["get"]["security"],
            json!([{ "oauth2": ["admin"] }, { "bearer": ["admin"] }])
        );
    }

    #[test]
    fn operations_secured_by_their_own_attribute_or_globally_get_the_rejections() {
        let mut spec = spec();
        spec.paths
            .paths
            .get_mut("/admin")
            .unwrap()
            .get
            .as_mut()
            .unwrap()
            .security = Some(vec![SecurityRequirement::new("oauth2", ["admin"])]);
        JwtSecurity::password_flow("/login")
            .apply(&mut spec)
            .unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        assert!(json["paths"]["/admin"]["get"]["responses"]["403"].is_object());
        assert!(
            json["paths"]["/me"]["get"]["responses"]
                .get("401")
                .is_none()
        );

        let mut spec = spec_with_global_security();
        JwtSecurity::bearer().apply(&mut spec).unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        assert!(json["paths"]["/me"]["get"]["responses"]["401"].is_object());
        assert!(
            json["paths"]["/me"]["get"]["responses"]
                .get("403")
                .is_none()
        );
    }

    fn spec_with_global_security() -> OpenApi {
        let mut spec = spec();
        spec.security = Some(vec![SecurityRequirement::new("bearer", [] as [&str; 0])]);
        spec
    }

    #[test]
    fn an_optional_token_documents_no_rejection() {
        let mut spec = spec();
        spec.paths
            .paths
            .get_mut("/me")
            .unwrap()
            .get
            .as_mut()
            .unwrap()
            .security = Some(vec![
            SecurityRequirement::new("oauth2", [] as [&str; 0]),
            SecurityRequirement::default(),
        ]);
        JwtSecurity::password_flow("/login")
            .apply(&mut spec)
            .unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        assert!(
            json["paths"]["/me"]["get"]["responses"]
                .get("401")
                .is_none()
        );
    }

    #[test]
    fn a_missing_operation_is_reported_and_the_rest_applied() {
        let mut spec = spec();
        let error = JwtSecurity::password_flow("/login")
            .authenticated(Method::GET, "/nowhere")
            .authenticated(Method::POST, "/me")
            .protect(Method::GET, "/me", ["read"])
            .apply(&mut spec)
            .unwrap_err();
        assert_eq!(error.missing(), ["GET /nowhere", "POST /me"]);
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            json["paths"]["/me"]["get"]["security"],
            json!([{ "oauth2": ["read"] }])
        );
    }

    #[test]
    fn the_token_endpoint_documents_its_form_and_answers() {
        let json = applied(
            &JwtSecurity::password_flow("/login")
                .token_endpoint("/login")
                .revocation_endpoint("/revoke"),
        );
        let login = &json["paths"]["/login"]["post"];
        assert_eq!(login["security"], json!([]));
        let body = &login["requestBody"]["content"];
        assert_eq!(
            body["application/x-www-form-urlencoded"]["schema"]["$ref"],
            "#/components/schemas/TokenRequest"
        );
        assert!(body["application/json"].is_object());
        for status in ["200", "400", "405", "413", "415", "429", "503"] {
            assert!(login["responses"][status].is_object(), "{status}");
        }
        assert!(login["responses"]["429"]["headers"]["Retry-After"].is_object());
        let schemas = &json["components"]["schemas"];
        assert_eq!(
            schemas["TokenRequest"]["properties"]["grant_type"]["enum"],
            json!(["password", "refresh_token"])
        );
        assert_eq!(schemas["TokenRequest"]["required"], json!(["grant_type"]));
        assert_eq!(
            schemas["TokenResponse"]["required"],
            json!(["access_token", "token_type", "expires_in", "scope"])
        );
        assert!(
            schemas["TokenError"]["properties"]["error"]["enum"]
                .as_array()
                .unwrap()
                .contains(&json!("invalid_grant"))
        );
        let revoke = &json["paths"]["/revoke"]["post"];
        assert_eq!(
            revoke["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["$ref"],
            "#/components/schemas/RevocationRequest"
        );
        assert!(revoke["responses"]["200"].is_object());
        assert!(
            revoke["requestBody"]["content"]
                .get("application/json")
                .is_none()
        );
    }
}

//! One axum 0.8 server per variant, all serving `GET /me` (and `GET /health`, public) on
//! `127.0.0.1:$PORT` with `$WORKERS` tokio worker threads (default 1). Keys and tokens come from
//! `$BENCH_KEYS` (written by `mint`).
//!
//! Usage: `server VARIANT` with VARIANT one of:
//!
//! | variant | `/me` |
//! |---|---|
//! | `bare-axum08` | no authentication |
//! | `ours-{hs256,es256,rs256,eddsa}` | `JwtAuthLayer`, `cache_verified_tokens(0)` |
//! | `ours-{hs256,es256,rs256,eddsa}-cache` | `JwtAuthLayer`, `cache_verified_tokens(1024)` |
//! | `ours-remote-{es256,rs256,eddsa}[-cache]` | the same, keys through `RemoteKeys` from a loopback JWKS |
//! | `ours-*-unread` | any `ours-*` above, its handler not taking the claims: the layer alone |
//! | `axum-jwt-auth-hs256`, `axum-jwt-auth-es256` | axum-jwt-auth 0.7 `Claims` extractor |
//! | `oauth2rs-hs256`, `oauth2rs-es256` | tower-oauth2-resource-server 0.12, static JWKS |
//! | `ours-*-lean` | any `ours-*` above, the layer deserializing a claims type holding `sub` alone |
//! | `tower-http-bearer` | tower-http 0.7 `ValidateRequestHeaderLayer::bearer` (static string compare) |
//! | `tower-http-bearer-ext` | the same, and tower-http's `AddExtensionLayer` handing the handler a fixed `Arc<Claims>`: the floor of any layer that passes claims on |
//!
//! The `ours-*` variants are in `src/ours.rs`, shared with `server-awslc` (bench/load/ours-aws-lc),
//! which serves them as `awslc-ours-*` with the crate's `aws-lc` backend.
//!
//! Every handler takes the library's verified claims, where the library hands them out, and
//! answers the same two-byte body.

use std::sync::Arc;

use axum::extract::FromRef;
use axum::routing::get;
use axum::{Extension, Router};
use tower_jwt_auth_load as bench;
use tower_jwt_auth_load::{AUDIENCE, BenchClaims, ISSUER, KeyDir, bind_addr, runtime};

#[path = "../ours.rs"]
mod ours;

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn health() -> &'static str {
    "ok"
}

// --- axum-jwt-auth 0.7: an extractor reading a `Decoder` from the state.
#[derive(Clone)]
struct AjaState {
    decoder: axum_jwt_auth::Decoder<BenchClaims>,
}

impl FromRef<AjaState> for axum_jwt_auth::Decoder<BenchClaims> {
    fn from_ref(state: &AjaState) -> Self {
        state.decoder.clone()
    }
}

fn axum_jwt_auth_router(keys: &KeyDir, es256: bool) -> Result<Router, Error> {
    use jsonwebtoken10 as jwt;
    let (key, alg) = if es256 {
        (
            jwt::DecodingKey::from_ec_pem(keys.es256_public_pem().as_bytes())?,
            jwt::Algorithm::ES256,
        )
    } else {
        (
            jwt::DecodingKey::from_secret(keys.hs256_secret().as_bytes()),
            jwt::Algorithm::HS256,
        )
    };
    let mut validation = jwt::Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let decoder = axum_jwt_auth::LocalDecoder::builder()
        .keys(vec![key])
        .validation(validation)
        .build()?;
    let state = AjaState {
        decoder: Arc::new(decoder),
    };
    Ok(Router::new()
        .route(
            "/me",
            get(|_claims: axum_jwt_auth::Claims<BenchClaims>| async { "ok" }),
        )
        .route("/health", get(health))
        .with_state(state))
}

// --- tower-oauth2-resource-server 0.12: a tower layer, keys from a static JWKS.
async fn oauth2rs_router(keys: &KeyDir, es256: bool) -> Result<Router, Error> {
    use tower_oauth2_resource_server::claims::DefaultClaims;
    use tower_oauth2_resource_server::server::OAuth2ResourceServer;
    use tower_oauth2_resource_server::tenant::TenantConfiguration;
    use tower_oauth2_resource_server::validation::ClaimsValidationSpec;
    let (jwks, alg) = if es256 {
        (keys.es256_jwks(), jsonwebtoken11::Algorithm::ES256)
    } else {
        (keys.hs256_jwks(), jsonwebtoken11::Algorithm::HS256)
    };
    let spec = ClaimsValidationSpec::new()
        .iss(ISSUER)
        .exp(true)
        .aud(&vec![AUDIENCE.to_owned()]);
    let tenant = TenantConfiguration::static_builder(jwks)
        .claims_validation(spec)
        .allowed_algorithms(&[alg])
        .build()?;
    let server = <OAuth2ResourceServer>::builder()
        .add_tenant(tenant)
        .build()
        .await?;
    Ok(Router::new()
        .route(
            "/me",
            get(|Extension(_claims): Extension<DefaultClaims>| async { "ok" }),
        )
        .layer(server.into_layer::<axum::body::Body>())
        .route("/health", get(health)))
}

async fn build(variant: &str, keys: &KeyDir) -> Result<Router, Error> {
    Ok(match variant {
        "bare-axum08" => Router::new()
            .route("/me", get(|| async { "ok" }))
            .route("/health", get(health)),
        ours if ours.starts_with("ours-") => ours::router(ours, keys).await?,
        "axum-jwt-auth-hs256" => axum_jwt_auth_router(keys, false)?,
        "axum-jwt-auth-es256" => axum_jwt_auth_router(keys, true)?,
        "oauth2rs-hs256" => oauth2rs_router(keys, false).await?,
        "oauth2rs-es256" => oauth2rs_router(keys, true).await?,
        "tower-http-bearer" => {
            #[allow(deprecated)]
            let layer = tower_http::validate_request::ValidateRequestHeaderLayer::bearer(
                &keys.hs256_token(),
            );
            Router::new()
                .route("/me", get(|| async { "ok" }))
                .layer(layer)
                .route("/health", get(health))
        }
        // What a layer that hands claims on cannot do without, with no token read at all: the
        // same string compare, one `Arc` of claims put in the request's extensions, and the
        // handler taking them. The claims are a default `Claims`, made once: what they hold does
        // not change the cost of handing on their `Arc`.
        "tower-http-bearer-ext" => {
            #[allow(deprecated)]
            let layer = tower_http::validate_request::ValidateRequestHeaderLayer::bearer(
                &keys.hs256_token(),
            );
            let claims = Arc::new(tower_jwt_auth::Claims::default());
            Router::new()
                .route(
                    "/me",
                    get(
                        |Extension(_claims): Extension<Arc<tower_jwt_auth::Claims>>| async { "ok" },
                    ),
                )
                // One layer for the router to wrap each route in, as `JwtAuthLayer` is.
                .layer(tower_layer::Stack::new(
                    tower_http::add_extension::AddExtensionLayer::new(claims),
                    layer,
                ))
                .route("/health", get(health))
        }
        other => return Err(format!("unknown variant {other:?}").into()),
    })
}

fn main() -> Result<(), Error> {
    let variant = std::env::args().nth(1).ok_or("usage: server VARIANT")?;
    let keys = KeyDir::from_env();
    let rt = runtime(Some(1));
    rt.block_on(async move {
        let app = build(&variant, &keys).await?;
        let listener = tokio::net::TcpListener::bind(bind_addr()).await?;
        eprintln!("{variant} listening on http://{}", listener.local_addr()?);
        // Accept loop and connections all on the runtime's worker thread(s).
        tokio::spawn(async move { axum::serve(listener, app).await }).await??;
        Ok(())
    })
}

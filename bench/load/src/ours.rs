//! The `ours-*` variants: `JwtAuthLayer` on axum 0.8, shared by `server` (the crate's default
//! RustCrypto backend) and `server-awslc` (bench/load/ours-aws-lc: the same code, with the
//! crate's `aws-lc` feature), which both include this file by path.
//!
//! A variant name is `ours-[remote-]{alg}[-cache]`:
//!
//! - `{alg}`: `hs256`, `es256`, `rs256` (2048-bit RSA) or `eddsa` (Ed25519), the key `mint`
//!   wrote, pinned to its algorithm; `iss` and `aud` required as well as `exp`;
//! - `remote-`: the keys come through `tower_jwt_auth::remote::RemoteKeys` from a JWKS this
//!   same process serves on a second loopback listener (plain http), fetched once before the
//!   first request (`build_eager`), so requests measure verifying through a remote key set,
//!   not fetching it (asymmetric algorithms only: a JWKS never publishes a shared secret);
//! - `-cache`: `cache_verified_tokens(1024)`, else `cache_verified_tokens(0)`. Both are set
//!   explicitly, so a variant means the same whatever the crate's default is.
//!
//! Suffixes after that: `-lean` (the layer deserializes the application's own claims type,
//! [`Subject`], holding `sub` alone, instead of the default `Claims`: what the default's five
//! strings cost), then `-unread` (the handler does not take the claims).

use axum::Router;
use axum::routing::get;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower_jwt_auth::axum::JwtClaims;
use tower_jwt_auth::remote::{IssuerConfig, RemoteKeys, RequestBody};
use tower_jwt_auth::{Algorithm, Claims, DecodingKey, JwtAuthLayer};

use crate::bench::{AUDIENCE, ISSUER, KID_EDDSA, KID_ES256, KID_HS256, KID_RS256, KeyDir};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Capacity of the verified-token cache of the `-cache` variants.
const CACHE_CAPACITY: usize = 1024;

/// The algorithm, and the `kid` mint gave the key, of a file name.
fn alg_of(name: &str) -> Result<(Algorithm, &'static str), Error> {
    Ok(match name {
        "hs256" => (Algorithm::HS256, KID_HS256),
        "es256" => (Algorithm::ES256, KID_ES256),
        "rs256" => (Algorithm::RS256, KID_RS256),
        "eddsa" => (Algorithm::EdDSA, KID_EDDSA),
        other => return Err(format!("unknown algorithm {other:?}").into()),
    })
}

fn local(name: &str, keys: &KeyDir, cache: usize) -> Result<JwtAuthLayer, Error> {
    let (alg, kid) = alg_of(name)?;
    let key = match alg {
        Algorithm::HS256 => DecodingKey::from_secret(alg, keys.hs256_secret().as_bytes())?,
        _ => DecodingKey::from_pem(alg, &keys.public_pem(name))?,
    };
    Ok(JwtAuthLayer::new(key.with_kid(kid))
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .cache_verified_tokens(cache))
}

/// Serves `{name}.jwks.json` at `http://127.0.0.1:<any port>/jwks.json` from this process, and
/// returns the layer verifying with the keys `RemoteKeys` fetched from there.
async fn remote(name: &str, keys: &KeyDir, cache: usize) -> Result<JwtAuthLayer, Error> {
    let (alg, _) = alg_of(name)?;
    if alg == Algorithm::HS256 {
        return Err("a JWKS never publishes a shared secret: no remote HS256 variant".into());
    }
    let jwks = keys.jwks(name);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/jwks.json", listener.local_addr()?);
    let issuer_app = Router::new().route(
        "/jwks.json",
        get(move || {
            let jwks = jwks.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    jwks,
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, issuer_app).await });
    let client = Client::builder(TokioExecutor::new()).build_http::<RequestBody>();
    let issuer = IssuerConfig::jwks(ISSUER, url)?
        .audience(AUDIENCE)
        .algorithms([alg])
        .cache_verified_tokens(cache);
    let keys = RemoteKeys::builder(client)
        .issuer(issuer)
        .build_eager()
        .await?;
    Ok(keys.layer())
}

/// The router of an `ours-*` variant: `GET /me` behind the layer, taking the verified claims;
/// `GET /health` public. With the suffix `-unread` (`ours-hs256-cache-unread`), the handler does
/// not take the claims: the layer's cost alone, without the extractor's (BENCHMARKS.md, "The
/// targets on another CPU").
pub(crate) async fn router(variant: &str, keys: &KeyDir) -> Result<Router, Error> {
    let unknown = || format!("unknown variant {variant:?}");
    let (variant, unread) = match variant.strip_suffix("-unread") {
        Some(variant) => (variant, true),
        None => (variant, false),
    };
    let (variant, lean) = match variant.strip_suffix("-lean") {
        Some(variant) => (variant, true),
        None => (variant, false),
    };
    let (name, cache) = match variant.strip_suffix("-cache") {
        Some(name) => (name, CACHE_CAPACITY),
        None => (variant, 0),
    };
    let name = name.strip_prefix("ours-").ok_or_else(unknown)?;
    let layer = match name.strip_prefix("remote-") {
        Some(alg) => remote(alg, keys, cache).await?,
        None => local(name, keys, cache)?,
    };
    let router = if lean {
        me::<Subject>(unread).layer(layer.claims::<Subject>())
    } else {
        me::<Claims>(unread).layer(layer)
    };
    Ok(router.route("/health", get(|| async { "ok" })))
}

/// `GET /me`, its handler taking the claims as `C` unless `unread`.
fn me<C: Send + Sync + 'static>(unread: bool) -> Router {
    let handler = if unread {
        get(|| async { "ok" })
    } else {
        get(|JwtClaims(_claims): JwtClaims<C>| async { "ok" })
    };
    Router::new().route("/me", handler)
}

/// An application's own claims type, as lean as it gets: the subject alone (the layer still
/// checks `exp`, `iss` and `aud`, which it reads on its own).
#[derive(serde::Deserialize)]
pub(crate) struct Subject {
    #[allow(dead_code)]
    sub: String,
}

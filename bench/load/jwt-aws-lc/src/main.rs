//! The `jwt-awslc-*` peers: what a user writes by hand in about 30 lines, a tower layer around
//! `jsonwebtoken::decode` (jsonwebtoken 12, aws-lc-rs backend), on axum 0.8. Serves `GET /me`
//! (protected, the verified claims handed to the handler) and `GET /health` (public) on
//! `127.0.0.1:$PORT` with `$WORKERS` tokio worker threads (default 1), like `server`.
//!
//! Usage: `jwt-awslc VARIANT` with VARIANT `jwt-awslc-es256`, `jwt-awslc-rs256`,
//! `jwt-awslc-eddsa` or `jwt-awslc-hs256`. Validation: the algorithm pinned to the key's, `iss`
//! and `aud` checked, `exp`, `iss` and `aud` required (jsonwebtoken's default leeway, 60 s).

use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::future::Either;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tower_layer::Layer;
use tower_service::Service;

#[allow(dead_code)] // the peers of the main bench workspace use more of it
#[path = "../../src/lib.rs"]
mod bench;

use bench::{AUDIENCE, BenchClaims, ISSUER, KeyDir, bind_addr, runtime};

type Error = Box<dyn std::error::Error + Send + Sync>;

// --- the layer ---------------------------------------------------------------------------------
#[derive(Clone)]
struct JwtLayer(Arc<(DecodingKey, Validation)>);

impl<S> Layer<S> for JwtLayer {
    type Service = Jwt<S>;
    fn layer(&self, inner: S) -> Jwt<S> {
        Jwt(inner, self.0.clone())
    }
}

#[derive(Clone)]
struct Jwt<S>(S, Arc<(DecodingKey, Validation)>);

impl<S: Service<Request<Body>, Response = Response<Body>>> Service<Request<Body>> for Jwt<S> {
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response<Body>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let (key, validation) = &*self.1;
        let claims = (req.headers().get(header::AUTHORIZATION))
            .and_then(|value| value.to_str().ok()?.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .and_then(|(_, token)| {
                jsonwebtoken::decode::<BenchClaims>(token, key, validation).ok()
            });
        match claims {
            Some(data) => {
                req.extensions_mut().insert(data.claims);
                Either::Right(self.0.call(req))
            }
            None => {
                let mut res = Response::new(Body::empty());
                *res.status_mut() = StatusCode::UNAUTHORIZED;
                (res.headers_mut())
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                Either::Left(ready(Ok(res)))
            }
        }
    }
}

// --- the server --------------------------------------------------------------------------------
fn layer(variant: &str, keys: &KeyDir) -> Result<JwtLayer, Error> {
    let (key, alg) = match variant {
        "jwt-awslc-es256" => (
            DecodingKey::from_ec_pem(keys.public_pem("es256").as_bytes())?,
            Algorithm::ES256,
        ),
        "jwt-awslc-rs256" => (
            DecodingKey::from_rsa_pem(keys.public_pem("rs256").as_bytes())?,
            Algorithm::RS256,
        ),
        "jwt-awslc-eddsa" => (
            DecodingKey::from_ed_pem(keys.public_pem("eddsa").as_bytes())?,
            Algorithm::EdDSA,
        ),
        "jwt-awslc-hs256" => (
            DecodingKey::from_secret(keys.hs256_secret().as_bytes())?,
            Algorithm::HS256,
        ),
        other => return Err(format!("unknown variant {other:?}").into()),
    };
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    Ok(JwtLayer(Arc::new((key, validation))))
}

fn main() -> Result<(), Error> {
    let variant = std::env::args().nth(1).ok_or("usage: jwt-awslc VARIANT")?;
    // Exactly one backend is compiled in, so jsonwebtoken picks it; say so if not.
    jsonwebtoken::crypto::CryptoProvider::try_get_default()
        .ok_or("jsonwebtoken has no default crypto provider (aws_lc_rs)")?;
    let keys = KeyDir::from_env();
    let auth = layer(&variant, &keys)?;
    let app = Router::new()
        .route(
            "/me",
            get(|Extension(_claims): Extension<BenchClaims>| async { "ok" }),
        )
        .layer(auth)
        .route("/health", get(|| async { "ok" }));
    let rt = runtime(Some(1));
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind_addr()).await?;
        eprintln!("{variant} listening on http://{}", listener.local_addr()?);
        // Accept loop and connections all on the runtime's worker thread(s).
        tokio::spawn(async move { axum::serve(listener, app).await }).await??;
        Ok::<_, Error>(())
    })
}

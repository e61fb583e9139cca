//! The example server's login flow, for the login benchmarks: the same composition as
//! `examples/axum_server` (`login_handler` over an `InMemoryUserStore` with the demo account,
//! `TokenIssuer::layer()` in front of `GET /me`, which answers the verified claims as JSON), on
//! `127.0.0.1:$PORT`, with the example's runtime (tokio's default: one worker thread per core)
//! and without its per-request stderr logging. Built here rather than `#[path]`-included so that
//! it does not break while the example files change; both variants go through the same router
//! and differ only in the `PasswordHashing` implementation.
//!
//! Usage: `login_server pool|inline`
//!
//! - `pool`: `Argon2Hasher::new(PasswordPolicy::default())`, as the example: argon2id on its own
//!   pool (one worker thread per core, 64 queued jobs per worker), never on the executor.
//! - `inline`: [`InlineArgon2`], a `PasswordHashing` implementation that runs argon2id directly
//!   inside the async fn, on the executor thread: the contrast the pool exists for.
//!
//! Environment: `JWT_SECRET` (HS256, ≥ 32 bytes), `DEMO_PASSWORD`, `PORT`, `WORKERS` (tokio
//! worker threads; default: one per core, as `#[tokio::main]`), `ARGON2_WORKERS` (the pool's
//! size; default one per core, as the example; for the investigation in BENCHMARKS.md only).
//!
//! Throttling: `ThrottlePolicy::default().free_failures(1_000_000)`, so that a storm of failed
//! attempts (were there any) could never short-circuit hashing with 429s. The storms log in with
//! the right password anyway, and each success clears the account's record.

use axum::routing::get;
use axum::{Json, Router};
use tower_jwt_auth::axum::JwtClaims;
use tower_jwt_auth::login::password::{
    Argon2Hasher, PasswordError, PasswordHashing, PasswordPolicy, PoolConfig, Verification,
    Zeroizing,
};
use tower_jwt_auth::login::{InMemoryUserStore, ThrottlePolicy, User, login_handler};
use tower_jwt_auth::{Algorithm, Claims, SigningKey, TokenIssuer};
use tower_jwt_auth_load::{AUDIENCE, ISSUER, bind_addr, runtime};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// argon2id run inline, on whatever thread polls the future: the executor's. Same engine and
/// parameters as `Argon2Hasher` (it calls its `*_blocking` methods, which bypass the pool).
#[derive(Clone)]
struct InlineArgon2(Argon2Hasher);

impl PasswordHashing for InlineArgon2 {
    async fn hash(&self, password: Zeroizing<String>) -> Result<String, PasswordError> {
        self.0.hash_blocking(&password)
    }

    async fn verify(
        &self,
        password: Zeroizing<String>,
        stored: Option<String>,
    ) -> Result<Verification, PasswordError> {
        self.0.verify_blocking(&password, stored.as_deref())
    }
}

fn throttle() -> ThrottlePolicy {
    ThrottlePolicy::default().free_failures(1_000_000)
}

fn signing_key() -> Result<SigningKey, Error> {
    let secret = std::env::var("JWT_SECRET").map_err(|_| "JWT_SECRET is required")?;
    Ok(SigningKey::from_secret(
        Algorithm::HS256,
        secret.as_bytes(),
    )?)
}

/// The example's routes over `hasher`.
async fn router<H: PasswordHashing>(hasher: H, password: String) -> Result<Router, Error> {
    let issuer = TokenIssuer::new(signing_key()?)
        .issuer(ISSUER)
        .audience(AUDIENCE);
    let users = InMemoryUserStore::new();
    let hash = hasher.hash(Zeroizing::new(password)).await?;
    users.insert("demo", User::new("demo", hash, ["read"]));
    let login = login_handler(users, issuer.clone(), hasher).throttle(throttle());
    let protected =
        Router::new()
            .route(
                "/me",
                get(|JwtClaims(claims): JwtClaims| async move {
                    Json::<std::sync::Arc<Claims>>(claims)
                }),
            )
            .layer(issuer.layer());
    Ok(Router::new()
        .merge(protected)
        .route_service("/login", login)
        .route("/health", get(|| async { "ok" })))
}

fn main() -> Result<(), Error> {
    let variant = std::env::args()
        .nth(1)
        .ok_or("usage: login_server pool|inline")?;
    let password = std::env::var("DEMO_PASSWORD").map_err(|_| "DEMO_PASSWORD is required")?;
    let rt = runtime(None);
    rt.block_on(async move {
        // `ARGON2_WORKERS` (investigation only; unset in run.sh): the pool's size instead of the
        // default one worker per core.
        let pool = match std::env::var("ARGON2_WORKERS")
            .ok()
            .and_then(|w| w.parse().ok())
        {
            Some(workers) => {
                Argon2Hasher::with_pool(PasswordPolicy::default(), PoolConfig::workers(workers))?
            }
            None => Argon2Hasher::new(PasswordPolicy::default())?,
        };
        let app = match variant.as_str() {
            "pool" => router(pool, password).await?,
            "inline" => router(InlineArgon2(pool), password).await?,
            other => return Err(format!("unknown variant {other:?}").into()),
        };
        let listener = tokio::net::TcpListener::bind(bind_addr()).await?;
        eprintln!(
            "login_server {variant} listening on http://{}",
            listener.local_addr()?
        );
        tokio::spawn(async move { axum::serve(listener, app).await }).await??;
        Ok(())
    })
}

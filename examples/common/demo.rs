//! What every example server reads from its environment, and the demo account they share.
#![allow(dead_code)]

use base64::Engine as _;
use tower_jwt_auth::login::password::{Argon2Hasher, PasswordHashing, PasswordPolicy, Zeroizing};
use tower_jwt_auth::login::{InMemoryUserStore, LoginService, ThrottlePolicy, User, login_handler};
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A non-empty environment variable.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Logs to stderr; `RUST_LOG` overrides the default (`info`, this crate at `debug`).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_jwt_auth=debug".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// `bytes` random bytes, base64url.
pub fn random_string(bytes: usize) -> Result<String, Error> {
    let mut raw = vec![0u8; bytes];
    getrandom::fill(&mut raw)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

/// An HS256 key from `JWT_SECRET`, or a random one with a warning. A weak secret is refused
/// here, at start-up.
pub fn secret_key() -> Result<SigningKey, Error> {
    let secret = match env("JWT_SECRET") {
        Some(secret) => secret.into_bytes(),
        None => {
            tracing::warn!(
                "JWT_SECRET is not set: using a random secret; tokens die with the process"
            );
            let mut secret = vec![0u8; 32];
            getrandom::fill(&mut secret)?;
            secret
        }
    };
    Ok(SigningKey::from_secret(Algorithm::HS256, &secret)
        .map_err(|e| format!("JWT_SECRET: {e}"))?)
}

/// An issuer signing with `key`, with `iss` and `aud` from `JWT_ISSUER` and `JWT_AUDIENCE`.
pub fn issuer(key: SigningKey) -> TokenIssuer {
    let mut issuer = TokenIssuer::new(key);
    if let Some(iss) = env("JWT_ISSUER") {
        issuer = issuer.issuer(iss);
    }
    if let Some(aud) = env("JWT_AUDIENCE") {
        issuer = issuer.audience(aud);
    }
    issuer
}

/// The demo account.
pub struct Demo {
    pub user: String,
    pub password: String,
    pub scopes: Vec<String>,
}

impl Demo {
    /// From `DEMO_USER` (default `demo`), `DEMO_PASSWORD` (random and printed when unset) and
    /// `DEMO_SCOPES` (default `read`).
    pub fn from_env() -> Result<Self, Error> {
        let user = env("DEMO_USER").unwrap_or_else(|| "demo".into());
        let password = match env("DEMO_PASSWORD") {
            Some(password) => password,
            None => {
                let password = random_string(18)?;
                println!("demo user {user:?} has the generated password {password:?}");
                password
            }
        };
        let scopes = env("DEMO_SCOPES")
            .unwrap_or_else(|| "read".into())
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect();
        Ok(Self {
            user,
            password,
            scopes,
        })
    }
}

/// The login service of every example: an in-memory store holding the demo account.
pub async fn login_service(
    demo: Demo,
    issuer: TokenIssuer,
    policy: PasswordPolicy,
    throttle: ThrottlePolicy,
) -> Result<LoginService<InMemoryUserStore, Argon2Hasher>, Error> {
    let hasher = Argon2Hasher::new(policy)?;
    let users = InMemoryUserStore::new();
    let hash = hasher.hash(Zeroizing::new(demo.password)).await?;
    users.insert(demo.user.clone(), User::new(demo.user, hash, demo.scopes));
    Ok(login_handler(users, issuer, hasher).throttle(throttle))
}

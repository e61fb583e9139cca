//! Shared pieces of the load-test binaries: the token shape, the key files written by `mint`,
//! and a tokio runtime of a given size.
//!
//! Every variant accepts exactly the tokens `mint` writes: `iss` = [`ISSUER`], `aud` =
//! [`AUDIENCE`], `exp` required, the algorithm pinned to the key's.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `iss` of the benchmark tokens, required by every variant that can check it.
pub const ISSUER: &str = "https://auth.bench.example";
/// `aud` of the benchmark tokens, required by every variant that can check it.
pub const AUDIENCE: &str = "bench-api";
/// `kid` of the HS256 key.
pub const KID_HS256: &str = "bench-hs256";
/// `kid` of the ES256 key.
pub const KID_ES256: &str = "bench-es256";
/// `kid` of the RS256 key (2048-bit RSA).
pub const KID_RS256: &str = "bench-rs256";
/// `kid` of the EdDSA key (Ed25519).
pub const KID_EDDSA: &str = "bench-eddsa";

/// The claims of the benchmark token (for the peers that need a user type).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchClaims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub scope: String,
}

/// The files `mint` writes into a directory.
#[derive(Clone, Debug)]
pub struct KeyDir(pub PathBuf);

impl KeyDir {
    pub fn from_env() -> Self {
        Self(PathBuf::from(
            std::env::var("BENCH_KEYS").unwrap_or_else(|_| "keys".into()),
        ))
    }

    /// The text of file `name`, without trailing white space; panics when it cannot be read.
    pub fn read(&self, name: &str) -> String {
        let path = self.0.join(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
            .trim_end()
            .to_owned()
    }

    /// The HS256 secret: 43 printable characters (jwt-authorizer takes a `&str`).
    pub fn hs256_secret(&self) -> String {
        self.read("hs256.secret")
    }
    /// The ES256 public key as SPKI PEM.
    pub fn es256_public_pem(&self) -> String {
        self.read("es256.pub.pem")
    }
    /// A JWKS holding the HS256 key as an `oct` JWK (for tower-oauth2-resource-server).
    pub fn hs256_jwks(&self) -> String {
        self.read("hs256.jwks.json")
    }
    /// A JWKS holding the ES256 public key.
    pub fn es256_jwks(&self) -> String {
        self.read("es256.jwks.json")
    }
    /// The public key (SPKI PEM) of `alg`: `es256`, `rs256` or `eddsa`.
    pub fn public_pem(&self, alg: &str) -> String {
        self.read(&format!("{alg}.pub.pem"))
    }
    /// A JWKS holding the key of `alg` (`hs256`: the secret as an `oct` JWK).
    pub fn jwks(&self, alg: &str) -> String {
        self.read(&format!("{alg}.jwks.json"))
    }
    /// The benchmark token signed with `alg`.
    pub fn token(&self, alg: &str) -> String {
        self.read(&format!("{alg}.token"))
    }
    /// The HS256 token.
    pub fn hs256_token(&self) -> String {
        self.read("hs256.token")
    }
    /// The ES256 token.
    pub fn es256_token(&self) -> String {
        self.read("es256.token")
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

/// A multi-threaded tokio runtime with `WORKERS` worker threads (default `default_workers`).
pub fn runtime(default_workers: Option<usize>) -> tokio::runtime::Runtime {
    let workers = std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .or(default_workers);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    builder.enable_all().build().expect("tokio runtime")
}

/// The listen address: `127.0.0.1:<PORT>` (default 3000). Loopback only.
pub fn bind_addr() -> String {
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    format!("127.0.0.1:{port}")
}

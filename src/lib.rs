//! Standards-correct JWT bearer authentication for any [tower] service: axum routers, hyper
//! services and tonic servers alike.
//!
//! [`JwtAuthLayer`] reads `Authorization: Bearer <jwt>`, verifies the token against keys that
//! were prepared (and checked for strength) once, and inserts the verified claims into the
//! request's extensions (as an `Arc<C>`, so that handlers share them rather than copy them). A request it refuses gets the response RFC 6750 asks for (or, for a gRPC
//! call, a trailers-only `grpc-status`), never a panic and never a 500.
//!
//! ```
//! use axum::{Json, Router, routing::get};
//! use tower_jwt_auth::{Algorithm, DecodingKey, JwtAuthLayer, axum::JwtClaims};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = DecodingKey::from_secret(Algorithm::HS256, b"a secret of at least 32 bytes!!!")?;
//! let app: Router = Router::new()
//!     .route("/me", get(|JwtClaims(claims): JwtClaims| async move { Json(claims) }))
//!     .layer(JwtAuthLayer::new(key).issuer("https://auth.example.com").audience("my-api"));
//! # Ok(()) }
//! ```
//!
//! # What is checked, by default
//!
//! - The credential follows RFC 6750 §2.1 (scheme case-insensitive, b64token grammar, one
//!   credential only) and is at most 8 KiB long, before any decoding.
//! - The token is a compact JWS in strict base64url, with JSON objects free of duplicate members.
//! - `alg` is in the allow-list (by default, the algorithms of the configured keys) and equals the
//!   algorithm the selected key is bound to; `none` is never accepted. `crit` is refused; `jwk`,
//!   `jku`, `x5u` and `x5c` are ignored, never fetched.
//! - `exp` is required and checked, `nbf` checked, both with 60 s of leeway; `iss` and `aud`
//!   match when configured, and a token lacking them is then refused.
//!
//! See [`Validation`] for the full list and the risk of changing each default.
//!
//! # Rejections
//!
//! | situation | HTTP | gRPC |
//! |---|---|---|
//! | no credential, or another scheme | 401, `WWW-Authenticate: Bearer realm="api"`, empty body | 16 |
//! | malformed credential, several credentials | 400 `invalid_request` | 16 |
//! | bad, expired or unknown-key token | 401 `invalid_token` | 16 |
//! | valid token lacking a required scope | 403 `insufficient_scope`, `scope="…"` | 7 |
//! | path no `MethodScopes` rule names (with a valid token) | 403 `insufficient_scope` | 7 |
//! | cookie token on an unsafe request not shown to come from this origin | 400 `invalid_request` | 16 |
//! | revocation backend failed | 503 `temporarily_unavailable` | 14 |
//! | issuer's keys not fetched yet, or too old (feature `remote`) | 503 `temporarily_unavailable`, `Retry-After` | 14 |
//!
//! The body is `{"error": …, "error_description": …}` with a generic description; the precise
//! reason is logged with `tracing` at debug level (in the request's DEBUG `decision` span,
//! target `tower_jwt_auth::decision`, with the fields `outcome`, `reason` and `cache`) and
//! attached to the response's extensions as an [`AuthError`]; with the feature `metrics`, it is
//! counted too. Replace the responses with [`JwtAuthLayer::on_rejection`].
//!
//! # How the crate is organised
//!
//! The path of a module tells its layer; each layer uses only those above it in this list.
//!
//! | module | layer | what it holds |
//! |---|---|---|
//! | [`verify`] | core: a token in, claims out | the compact JWS reader, the strict JSON readers, keys and key sets, [`Validation`], [`Verifier`], the verified-token cache, the revocation hook, [`AuthError`]; no HTTP, no framework, nothing of the issuing side |
//! | [`layer`] | tower and `http` | [`JwtAuthLayer`], reading the credential ([`TokenSource`]), the rejections (`WWW-Authenticate`, statuses, gRPC codes), [`RequireScopeLayer`] and [`MethodScopes`], [`ClaimsExt`] |
//! | `remote` (feature `remote`) | fetched keys | [`RemoteKeys`](crate::remote::RemoteKeys): per-issuer JWKS by URL or discovery, background refresh, unknown-`kid` refetch within a budget, outages; plugs into [`JwtAuthLayer`] through a hook of `layer/`, which never names it |
//! | `issue` (feature `issue`) | signing | `SigningKey`, `TokenIssuer`, JWKS publishing; no passwords |
//! | `login` (feature `login`) | the password grant | `login_handler`, throttling, the user store, and `login::password` (policy, stored hash, argon2 engine, worker pool) |
//! | `session` (feature `login`) | sessions | refresh-token families with rotation and reuse detection, the RFC 7009 revocation endpoint, the store contract (`RefreshStore`, `RevocationStore`) and its in-memory reference |
//! | `store` (features `sqlite`, `postgres`) | SQL storage | `SqliteStore`, `PostgresStore` and `SqlStore` (either, by URL): users, sessions and revocations through sqlx, versioned migrations |
//! | `shared` (feature `redis`) | several instances | the denylist (a Redis-fed in-memory mirror, failing closed when the feed is silent) and the login throttle (a Lua script on Redis's clock) shared by every instance |
//! | `testkit` (feature `testkit`) | conformance | the checks any session or user store must pass, the 50-task rotation race included |
//! | `testing` (feature `testing`) | application tests | `TestKeys`: valid tokens for the layer under test in one line, invalid ones on purpose, a JWKS to serve; signs through `issue` |
//! | `openapi` (feature `openapi`) | documentation | `JwtSecurity`, a utoipa `Modify`: the security schemes, protected operations with their scopes and rejections, the token and revocation endpoints |
//! | `axum`, `tonic` (features) | framework faces | the `JwtClaims` extractor; `NamedService`, claims from a `tonic::Request`, the gRPC `Login` |
//!
//! A request goes through them in this order: the `Authorization` header is read by
//! `layer/extract.rs` (the b64token grammar, the length cap), the token is split and decoded by
//! `verify/jws.rs`, its header read by `verify/json/` (unless the key set already knows those
//! exact header bytes from a token that verified: `verify/keys/set.rs`), its key chosen by
//! `verify/keys/` and its signature checked there, its claims checked by `verify/verifier/`
//! (the rules in `rules.rs`, the cache in `cached.rs`), and the claims put in the request's
//! extensions by `layer/auth/service.rs`; a refusal is answered by `layer/rejection.rs`. With
//! fetched keys, `remote/` chooses the issuer's verifier (through `layer/auth/resolve.rs`)
//! before the key is chosen, and may make the request wait for keys. The Redis-shared denylist
//! and throttle live in `shared/`.
//!
//! # Features
//!
//! Every example is a doctest; those marked "not run" are compiled only. The links go to
//! this build's pages for the features it has, and to docs.rs (every feature) for the others.
//!
//! | feature | enables | example | default |
//! |---|---|---|---|
//! | `axum` | the `axum::JwtClaims` extractor (`FromRequestParts` and `OptionalFromRequestParts`) | [a router with `JwtClaims`][ex-axum] | no |
//! | `tonic` | `NamedService` forwarding for `JwtAuth`/`RequireScope`, `tonic::RequestClaimsExt` to read claims from a `tonic::Request` | [the codes a client sees; claims in a handler][ex-tonic] | no |
//! | `issue` | token issuing: `SigningKey`, `TokenIssuer`, JWKS publishing (no argon2) | [issue, verify, publish the JWKS][ex-issue] | no |
//! | `login` | `issue`, plus the password grant: `login::password` (argon2id off the executor), `login::login_handler` | [log in, verify the token][ex-login] | no |
//! | `legacy-hashes` | `login`, plus verifying bcrypt hashes (`$2a$`, `$2b$`, `$2y$`) migrated from passlib or the Python `bcrypt` package, replaced by argon2id on the next login; `PasswordPolicy::max_stored_bcrypt_cost` | [a passlib bcrypt hash replaced on login][ex-legacy-hashes] | no |
//! | `sqlite` | `login`, plus `store::SqliteStore` (and `store::SqlStore`): the same in a SQLite file (WAL), with SQLite bundled (a C compile) | [in-memory SQLite behind a login][ex-sqlite] | no |
//! | `postgres` | `login`, plus `store::PostgresStore` (and `store::SqlStore`): users, sessions and revocations in PostgreSQL, through sqlx without TLS | [connect (needs a server, not run)][ex-postgres] | no |
//! | `redis` | `login`, plus `shared::RedisDenylist` and `shared::RedisThrottle`: the access-token denylist and the login throttle shared by every instance through Redis | [shared denylist and throttle (needs a server, not run)][ex-redis] | no |
//! | `redis-tls` | `redis`, plus `rediss://` through the platform's TLS (OpenSSL on Linux), trusting the system's roots or `RedisConfig::tls_root_ca`; no process-wide crypto provider is installed | [`rediss://` with a private CA (needs a server, not run)][ex-redis-tls] | no |
//! | `remote` | `remote`: keys fetched by JWKS URL or discovery, refreshed in the background, several issuers, over any tower HTTP client | [keys through a fake HTTP client][ex-remote] | no |
//! | `remote-client` | `remote`, plus its default HTTP client (`remote::default_client`, `RemoteKeys::with_default_client`): hyper-util over rustls (ring, never installed process-wide), the system's trust store or bundled roots, a 2 s connect deadline | [keys over loopback http][ex-remote-client] | no |
//! | `testing` | `issue`, plus `testing::TestKeys`: tokens for an application's own tests, valid in one line or invalid on purpose (expired, wrong audience, issuer or key, tampered, `alg: none`, missing scope), HS256 or a generated asymmetric key with its JWKS | [`TestKeys` with axum][ex-testing] | no |
//! | `testkit` | `login`, plus `testkit`: the conformance suite of session and user stores | [the in-memory stores pass, a broken one fails][ex-testkit] | no |
//! | `openapi` | `openapi::JwtSecurity`, a utoipa 6 `Modify`: the OAuth2 password flow and HTTP bearer (JWT) security schemes, protected operations with their scopes and documented rejections (`WWW-Authenticate`, the RFC 6750 body), the token and revocation endpoints; serves no Swagger UI | [security schemes, a protected route, the token endpoint][ex-openapi] | no |
//! | `metrics` | `metrics`: counters of every decision of the layer and of the login side, and a histogram of verification time, through the `metrics` facade; names and labels listed there | [a rejection counted and rendered][ex-metrics] | no |
//! | `aws-lc` | RSA (PKCS#1 v1.5, PSS), ECDSA (P-256, P-384, P-521) and Ed25519 signatures verified by aws-lc-rs instead of RustCrypto, with the same verdicts; builds AWS-LC from C (a C compiler; no cmake or bindgen on x86_64/aarch64 Linux) | [the same verdicts, faster][ex-aws-lc] | no |
//!
//! ## Signature backends
//!
//! RustCrypto (pure Rust) is the default: it needs no C toolchain and keeps builds light. The
//! feature `aws-lc` moves RSA, ECDSA and Ed25519 to aws-lc-rs, 4-5x faster on a first-sight
//! RS256 or ES256 token; HMAC stays on RustCrypto, which measured faster for HS256 and even for
//! HS384/HS512. Keys are parsed and checked by the same code for both, and both give the same
//! verdict on every signature. No process-wide crypto provider is ever installed (this crate
//! never calls rustls's `install_default`).
//!
//! The code is the same on either backend; the feature decides what checks the signature:
//!
//! ```
//! use tower_jwt_auth::{Algorithm, Claims, DecodingKey, Validation, Verifier};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let public_pem = include_str!("../tests/fixtures/es256.pub.pem");
//! let verifier = Verifier::new(
//!     DecodingKey::from_pem(Algorithm::ES256, public_pem)?,
//!     Validation::new(),
//! )?;
//! # let private_pem = include_str!("../tests/fixtures/es256.pem");
//! # let token = jsonwebtoken::encode(
//! #     &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
//! #     &serde_json::json!({ "sub": "ada", "exp": 4_102_444_800_i64 }),
//! #     &jsonwebtoken::EncodingKey::from_ec_pem(private_pem.as_bytes())?,
//! # )?;
//! let claims: Claims = verifier.verify(&token)?; // aws-lc-rs with `aws-lc`, else p256
//! assert_eq!(claims.sub.as_deref(), Some("ada"));
//!
//! // The signature's last byte changed: refused by either backend.
//! let (signed, signature) = token.rsplit_once('.').unwrap();
//! let last = if signature.ends_with('A') { 'Q' } else { 'A' };
//! let forged = format!("{signed}.{}{last}", &signature[..signature.len() - 1]);
//! assert!(verifier.verify::<Claims>(&forged).is_err());
//! # Ok(()) }
//! ```
//!
//! [tower]: https://docs.rs/tower

#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The feature table's example links: to this build's pages when the feature is on (docs.rs
// builds with every feature), else to docs.rs, so no build has a broken intra-doc link.
#![cfg_attr(feature = "axum", doc = "[ex-axum]: crate::axum#example")]
#![cfg_attr(
    not(feature = "axum"),
    doc = "[ex-axum]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/axum/index.html#example"
)]
#![cfg_attr(feature = "tonic", doc = "[ex-tonic]: crate::tonic#example")]
#![cfg_attr(
    not(feature = "tonic"),
    doc = "[ex-tonic]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/tonic/index.html#example"
)]
#![cfg_attr(feature = "issue", doc = "[ex-issue]: crate::issue#example")]
#![cfg_attr(
    not(feature = "issue"),
    doc = "[ex-issue]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/issue/index.html#example"
)]
#![cfg_attr(feature = "login", doc = "[ex-login]: crate::login")]
#![cfg_attr(
    not(feature = "login"),
    doc = "[ex-login]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/login/index.html"
)]
#![cfg_attr(
    feature = "legacy-hashes",
    doc = "[ex-legacy-hashes]: crate::login::password#legacy-hashes-feature-legacy-hashes"
)]
#![cfg_attr(
    not(feature = "legacy-hashes"),
    doc = "[ex-legacy-hashes]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/login/password/index.html#legacy-hashes-feature-legacy-hashes"
)]
#![cfg_attr(feature = "sqlite", doc = "[ex-sqlite]: crate::store#example")]
#![cfg_attr(
    not(feature = "sqlite"),
    doc = "[ex-sqlite]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/store/index.html#example"
)]
#![cfg_attr(feature = "postgres", doc = "[ex-postgres]: crate::store#postgresql")]
#![cfg_attr(
    not(feature = "postgres"),
    doc = "[ex-postgres]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/store/index.html#postgresql"
)]
#![cfg_attr(feature = "redis", doc = "[ex-redis]: crate::shared#example")]
#![cfg_attr(
    not(feature = "redis"),
    doc = "[ex-redis]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/shared/index.html#example"
)]
#![cfg_attr(
    feature = "redis-tls",
    doc = "[ex-redis-tls]: crate::shared#tls-feature-redis-tls"
)]
#![cfg_attr(
    not(feature = "redis-tls"),
    doc = "[ex-redis-tls]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/shared/index.html#tls-feature-redis-tls"
)]
#![cfg_attr(feature = "remote", doc = "[ex-remote]: crate::remote#example")]
#![cfg_attr(
    not(feature = "remote"),
    doc = "[ex-remote]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/remote/index.html#example"
)]
#![cfg_attr(
    feature = "remote-client",
    doc = "[ex-remote-client]: crate::remote::RemoteKeys::with_default_client"
)]
#![cfg_attr(
    not(feature = "remote-client"),
    doc = "[ex-remote-client]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/remote/struct.RemoteKeys.html#method.with_default_client"
)]
#![cfg_attr(feature = "testing", doc = "[ex-testing]: crate::testing#with-axum")]
#![cfg_attr(
    not(feature = "testing"),
    doc = "[ex-testing]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/testing/index.html#with-axum"
)]
#![cfg_attr(feature = "testkit", doc = "[ex-testkit]: crate::testkit#example")]
#![cfg_attr(
    not(feature = "testkit"),
    doc = "[ex-testkit]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/testkit/index.html#example"
)]
#![cfg_attr(feature = "openapi", doc = "[ex-openapi]: crate::openapi")]
#![cfg_attr(
    not(feature = "openapi"),
    doc = "[ex-openapi]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/openapi/index.html"
)]
#![doc = "[ex-aws-lc]: crate#signature-backends"]
#![cfg_attr(feature = "metrics", doc = "[ex-metrics]: crate::metrics")]
#![cfg_attr(
    not(feature = "metrics"),
    doc = "[ex-metrics]: https://docs.rs/tower-jwt-auth/latest/tower_jwt_auth/metrics/index.html"
)]

pub mod layer;
pub mod verify;

#[cfg(feature = "issue")]
#[cfg_attr(docsrs, doc(cfg(feature = "issue")))]
pub mod issue;
#[cfg(feature = "login")]
#[cfg_attr(docsrs, doc(cfg(feature = "login")))]
pub mod login;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
pub mod openapi;
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub mod remote;
#[cfg(feature = "login")]
pub mod session;
#[cfg(feature = "redis")]
pub mod shared;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub mod store;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
#[cfg(feature = "testkit")]
pub mod testkit;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub mod tonic;

// The types a user starts with; the rest live in their modules.
#[cfg(feature = "issue")]
pub use issue::{SigningKey, TokenIssuer};
pub use layer::{ClaimsExt, JwtAuthLayer, MethodScopes, RequireScopeLayer, TokenSource};
pub use verify::{
    Algorithm, AuthError, Claims, ConfigError, DecodingKey, ErrorKind, KeySet, KeyStore,
    Validation, Verifier,
};

// Compiles and runs the README's examples as doctests.
#[cfg(all(doctest, feature = "axum", feature = "login"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

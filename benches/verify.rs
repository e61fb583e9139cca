//! The verification path, side by side with its peers, in one run.
//!
//! For HS256, RS256, ES256 and EdDSA, on the same ~300-byte token with realistic claims
//! (`iss`, `sub`, `aud`, `exp`, `iat`, `jti`, `scope`):
//!
//! - `floor`: the irreducible work, written here: base64url-decode the three parts into stack
//!   buffers, `serde_json` parse the header and the claims once each into small structs, verify
//!   the signature with a prepared key (HMAC from a pre-keyed, cloned `Hmac<Sha256>` state).
//! - `jsonwebtoken`: `jsonwebtoken::decode::<Claims>` of the same token (pure-Rust backend).
//! - `verifier`: [`Verifier::verify::<Claims>`]: header parse, key pick, signature, claims
//!   validation.
//! - `verifier_custom`: the same, into the floor's own claims struct (no flattened `extra` map).
//! - `service`: a [`JwtAuthLayer`] around a trivial `service_fn`, called with a pre-built request
//!   and polled once with a no-op waker: credential extraction, verification and the claims put
//!   into the request's extensions.
//! - `verifier_cached` / `service_cached`: the same with the verified-token cache on, the token
//!   repeated (a hit on every iteration after the first). `verifier_shared_cached`:
//!   [`Verifier::verify_shared`] on a hit, the path the layer takes (the claims deserialized once
//!   and shared).
//! - `bare_service`: the same `service_fn` without the layer, called the same way (the request
//!   built, moved in and dropped). `service − bare` is then what the layer itself adds to a
//!   request, the figure to compare with the floor.
//!
//! Run with `cargo bench --bench verify`. After the measurements it prints every result as a
//! ratio to its algorithm's floor, read back from criterion's own estimates of this run.

use std::convert::Infallible;
use std::hint::black_box;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion};
use hmac::{Hmac, KeyInit, Mac};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tower::{Layer, Service};
use tower_jwt_auth::{Algorithm, Claims, DecodingKey, JwtAuthLayer, Validation, Verifier};

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "orders-api";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-bench-secret";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Realistic access-token claims: a ~300-byte HS256 token.
fn claims_json() -> serde_json::Value {
    let now = now();
    serde_json::json!({
        "iss": ISSUER,
        "sub": "user-4f1c2a9e",
        "aud": AUDIENCE,
        "exp": now + 3600,
        "iat": now,
        "jti": "0c6f3b8e-9a41-4d2b-8f0e-5b7c1d2e3f40",
        "scope": "orders:read orders:write profile",
    })
}

// ------------------------------------------------------------------------------------------------
// The floor
// ------------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct FloorHeader<'a> {
    alg: &'a str,
}

/// The floor's claims, and the custom claims type of `verifier_custom`.
#[derive(Clone, Deserialize)]
#[allow(dead_code)]
struct SmallClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    jti: String,
    scope: String,
}

/// The irreducible work of verifying a compact JWS with claims, given a signature check.
fn floor(token: &str, alg: &str, verify: impl Fn(&[u8], &[u8]) -> bool) -> Option<SmallClaims> {
    let mut parts = token.splitn(3, '.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    let mut header_buf = [0u8; 128];
    let n = URL_SAFE_NO_PAD.decode_slice(header, &mut header_buf).ok()?;
    let parsed: FloorHeader<'_> = serde_json::from_slice(&header_buf[..n]).ok()?;
    if parsed.alg != alg {
        return None;
    }
    let mut signature_buf = [0u8; 512];
    let n = URL_SAFE_NO_PAD
        .decode_slice(signature, &mut signature_buf)
        .ok()?;
    let signing_input = &token[..header.len() + 1 + payload.len()];
    if !verify(signing_input.as_bytes(), &signature_buf[..n]) {
        return None;
    }
    let mut payload_buf = [0u8; 512];
    let n = URL_SAFE_NO_PAD
        .decode_slice(payload, &mut payload_buf)
        .ok()?;
    let claims: SmallClaims = serde_json::from_slice(&payload_buf[..n]).ok()?;
    (claims.exp > now() && claims.iss == ISSUER && claims.aud == AUDIENCE).then_some(claims)
}

// ------------------------------------------------------------------------------------------------
// One algorithm's setup
// ------------------------------------------------------------------------------------------------

/// A prepared signature check: message, signature, verdict.
type SignatureCheck = Box<dyn Fn(&[u8], &[u8]) -> bool>;

struct Case {
    name: &'static str,
    alg: Algorithm,
    token: String,
    ours: DecodingKey,
    theirs: jsonwebtoken::DecodingKey,
    floor_verify: SignatureCheck,
}

fn sign(alg: jsonwebtoken::Algorithm, key: &jsonwebtoken::EncodingKey) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.typ = Some("JWT".into());
    jsonwebtoken::encode(&header, &claims_json(), key).unwrap()
}

fn cases() -> Vec<Case> {
    use jsonwebtoken::{Algorithm as J, DecodingKey as JD, EncodingKey as JE};
    let mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    let rsa_key = {
        use rsa::pkcs8::DecodePublicKey;
        rsa::PublicKey::from_public_key_pem(&fixture("rsa2048.pub.pem")).unwrap()
    };
    let es_key = {
        use p256::pkcs8::DecodePublicKey;
        p256::ecdsa::VerifyingKey::from_public_key_pem(&fixture("es256.pub.pem")).unwrap()
    };
    let ed_key = {
        use ed25519_dalek::pkcs8::DecodePublicKey;
        ed25519_dalek::VerifyingKey::from_public_key_pem(&fixture("ed25519.pub.pem")).unwrap()
    };
    vec![
        Case {
            name: "hs256",
            alg: Algorithm::HS256,
            token: sign(J::HS256, &JE::from_secret(SECRET).unwrap()),
            ours: DecodingKey::from_secret(Algorithm::HS256, SECRET).unwrap(),
            theirs: JD::from_secret(SECRET).unwrap(),
            floor_verify: Box::new(move |message, signature| {
                let mut mac = mac.clone();
                mac.update(message);
                mac.verify_slice(signature).is_ok()
            }),
        },
        Case {
            name: "rs256",
            alg: Algorithm::RS256,
            token: sign(
                J::RS256,
                &JE::from_rsa_pem(fixture("rsa2048.pem").as_bytes()).unwrap(),
            ),
            ours: DecodingKey::from_pem(Algorithm::RS256, &fixture("rsa2048.pub.pem")).unwrap(),
            theirs: JD::from_rsa_pem(fixture("rsa2048.pub.pem").as_bytes()).unwrap(),
            floor_verify: Box::new(move |message, signature| {
                rsa_key
                    .verify(
                        rsa::Pkcs1v15Sign::new::<Sha256>(),
                        &Sha256::digest(message),
                        signature,
                    )
                    .is_ok()
            }),
        },
        Case {
            name: "es256",
            alg: Algorithm::ES256,
            token: sign(
                J::ES256,
                &JE::from_ec_pem(fixture("es256.pem").as_bytes()).unwrap(),
            ),
            ours: DecodingKey::from_pem(Algorithm::ES256, &fixture("es256.pub.pem")).unwrap(),
            theirs: JD::from_ec_pem(fixture("es256.pub.pem").as_bytes()).unwrap(),
            floor_verify: Box::new(move |message, signature| {
                use p256::ecdsa::signature::Verifier as _;
                p256::ecdsa::Signature::from_slice(signature)
                    .is_ok_and(|sig| es_key.verify(message, &sig).is_ok())
            }),
        },
        Case {
            name: "eddsa",
            alg: Algorithm::EdDSA,
            token: sign(
                J::EdDSA,
                &JE::from_ed_pem(fixture("ed25519.pem").as_bytes()).unwrap(),
            ),
            ours: DecodingKey::from_pem(Algorithm::EdDSA, &fixture("ed25519.pub.pem")).unwrap(),
            theirs: JD::from_ed_pem(fixture("ed25519.pub.pem").as_bytes()).unwrap(),
            floor_verify: Box::new(move |message, signature| {
                ed25519_dalek::Signature::from_slice(signature)
                    .is_ok_and(|sig| ed_key.verify_strict(message, &sig).is_ok())
            }),
        },
    ]
}

fn validation() -> Validation {
    Validation::new().issuer(ISSUER).audience(AUDIENCE)
}

fn their_validation(alg: Algorithm) -> jsonwebtoken::Validation {
    let alg = match alg {
        Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        _ => jsonwebtoken::Algorithm::EdDSA,
    };
    let mut v = jsonwebtoken::Validation::new(alg);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v
}

/// Calls the service once, polling its future with a no-op waker: the inner service is ready
/// at once, so one poll completes it.
fn call<S>(service: &mut S, request: Request<()>) -> bool
where
    S: Service<Request<()>, Response = Response<tower_jwt_auth::layer::ResponseBody<bool>>>,
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    assert!(service.poll_ready(&mut cx).is_ready());
    let future = pin!(service.call(request));
    match future.poll(&mut cx) {
        Poll::Ready(Ok(response)) => response.status().is_success(),
        _ => false,
    }
}

/// [`call`] for the inner service alone.
fn call_bare<S>(service: &mut S, request: Request<()>) -> bool
where
    S: Service<Request<()>, Response = Response<bool>, Error = Infallible>,
{
    let mut cx = Context::from_waker(Waker::noop());
    assert!(service.poll_ready(&mut cx).is_ready());
    let future = pin!(service.call(request));
    match future.poll(&mut cx) {
        Poll::Ready(Ok(response)) => response.status().is_success(),
        _ => false,
    }
}

use std::future::Future as _;

fn inner_service()
-> impl Service<Request<()>, Response = Response<bool>, Error = Infallible> + Clone {
    tower::service_fn(|request: Request<()>| async move {
        let authenticated = request.extensions().get::<Arc<Claims>>().is_some();
        Ok::<_, Infallible>(Response::new(authenticated))
    })
}

fn request(header: &HeaderValue) -> Request<()> {
    Request::builder()
        .uri("/orders")
        .header(AUTHORIZATION, header.clone())
        .body(())
        .unwrap()
}

fn bench(c: &mut Criterion) {
    for case in cases() {
        let token = case.token.as_str();
        let alg_name = case.alg.as_str();
        // The uncached rows turn the cache off: it is on by default for public keys.
        let verifier = Verifier::new(case.ours.clone(), validation())
            .unwrap()
            .cache_verified_tokens(0);
        let cached = Verifier::new(case.ours.clone(), validation())
            .unwrap()
            .cache_verified_tokens(1024);
        let theirs = their_validation(case.alg);
        let header = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        let layer = JwtAuthLayer::new(case.ours.clone())
            .with_validation(validation())
            .unwrap()
            .cache_verified_tokens(0);
        let mut service = layer.layer(inner_service());
        let mut cached_service = layer.cache_verified_tokens(1024).layer(inner_service());
        let mut bare_service = inner_service();

        // Every contender accepts the token before it is timed.
        assert!(floor(token, alg_name, &case.floor_verify).is_some());
        assert!(jsonwebtoken::decode::<Claims>(token, &case.theirs, &theirs).is_ok());
        verifier.verify::<Claims>(token).unwrap();
        verifier.verify::<SmallClaims>(token).unwrap();
        cached.verify::<Claims>(token).unwrap();
        cached.verify_shared::<Claims>(token).unwrap();
        assert!(call(&mut service, request(&header)));
        assert!(call(&mut cached_service, request(&header)));

        let mut group = c.benchmark_group(case.name);
        group.bench_function("floor", |b| {
            b.iter(|| floor(black_box(token), alg_name, &case.floor_verify));
        });
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| jsonwebtoken::decode::<Claims>(black_box(token), &case.theirs, &theirs));
        });
        group.bench_function("verifier", |b| {
            b.iter(|| verifier.verify::<Claims>(black_box(token)));
        });
        if case.alg == Algorithm::HS256 {
            group.bench_function("verifier_custom", |b| {
                b.iter(|| verifier.verify::<SmallClaims>(black_box(token)));
            });
        }
        group.bench_function("service", |b| {
            b.iter_batched(
                || request(&header),
                |request| call(&mut service, request),
                BatchSize::SmallInput,
            );
        });
        group.bench_function("verifier_cached", |b| {
            b.iter(|| cached.verify::<Claims>(black_box(token)));
        });
        group.bench_function("verifier_shared_cached", |b| {
            b.iter(|| cached.verify_shared::<Claims>(black_box(token)));
        });
        group.bench_function("service_cached", |b| {
            b.iter_batched(
                || request(&header),
                |request| call(&mut cached_service, request),
                BatchSize::SmallInput,
            );
        });
        group.bench_function("bare_service", |b| {
            b.iter_batched(
                || request(&header),
                |request| call_bare(&mut bare_service, request),
                BatchSize::SmallInput,
            );
        });
        group.finish();
    }
}

// ------------------------------------------------------------------------------------------------
// The summary: ratios to the floor, from this run's estimates
// ------------------------------------------------------------------------------------------------

/// Criterion's output folder: `$CARGO_TARGET_DIR/criterion`, or `target/criterion` next to
/// the bench executable's profile folder.
fn criterion_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(home.into());
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(target).join("criterion"));
    }
    // .../target/release/deps/verify-<hash>
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

/// One benchmark's time per iteration, in nanoseconds: criterion's median estimate, and the
/// fastest of its samples (the least disturbed by other load on a shared machine).
fn times_ns(dir: &std::path::Path, group: &str, bench: &str) -> Option<(f64, f64)> {
    let read = |file: &str| -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(dir.join(group).join(bench).join("new").join(file));
        serde_json::from_str(&text.ok()?).ok()
    };
    let median = read("estimates.json")?
        .pointer("/median/point_estimate")?
        .as_f64()?;
    let sample = read("sample.json")?;
    let iters = sample.get("iters")?.as_array()?;
    let times = sample.get("times")?.as_array()?;
    let best = iters
        .iter()
        .zip(times)
        .filter_map(|(n, t)| Some(t.as_f64()? / n.as_f64()?))
        .fold(f64::INFINITY, f64::min);
    Some((median, best))
}

const GROUPS: [&str; 4] = ["hs256", "rs256", "es256", "eddsa"];

/// One cell of the summary: a time (median, fastest sample) and its ratios to the floor's.
fn print_cell(times: Option<((f64, f64), (f64, f64))>) {
    match times {
        Some(((median, best), (floor_median, floor_best))) => print!(
            "{:>11.0} ns {:>5.2}x {:>5.2}x",
            median,
            median / floor_median,
            best / floor_best
        ),
        None => print!("{:>27}", "-"),
    }
}

fn summary() {
    let Some(dir) = criterion_dir() else { return };
    const ROWS: [&str; 9] = [
        "floor",
        "jsonwebtoken",
        "verifier",
        "verifier_custom",
        "service",
        "verifier_cached",
        "verifier_shared_cached",
        "service_cached",
        "bare_service",
    ];
    println!(
        "\nTime per token (criterion's median) and ratio to the same algorithm's floor in this \
         run,\nby median and by fastest sample:"
    );
    print!("{:<24}", "");
    for group in GROUPS {
        print!("{group:>27}");
    }
    println!();
    for row in ROWS {
        print!("{row:<24}");
        for group in GROUPS {
            let floor = times_ns(&dir, group, "floor");
            print_cell(times_ns(&dir, group, row).zip(floor));
        }
        println!();
    }
    // What the layer adds to a request: the service path minus the same call without the layer.
    for row in ["service", "service_cached"] {
        print!("{:<24}", format!("{row} - bare"));
        for group in GROUPS {
            let with = times_ns(&dir, group, row);
            let bare = times_ns(&dir, group, "bare_service");
            let added = with.zip(bare).map(|(w, b)| (w.0 - b.0, w.1 - b.1));
            print_cell(added.zip(times_ns(&dir, group, "floor")));
        }
        println!();
    }
    for (what, cached, uncached) in [
        ("verifier", "verifier_cached", "verifier"),
        ("service", "service_cached", "service"),
    ] {
        if let (Some(es), Some(hs)) = (
            times_ns(&dir, "es256", cached),
            times_ns(&dir, "hs256", uncached),
        ) {
            println!(
                "cached ES256 / uncached HS256 ({what}): {:.2}x by median, {:.2}x by fastest sample",
                es.0 / hs.0,
                es.1 / hs.1
            );
        }
    }
}

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(40)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
    summary();
}

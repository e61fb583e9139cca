//! The signature backends side by side, in one run (feature `aws-lc`).
//!
//! For HS256, HS384, HS512, RS256, ES256 and EdDSA, on the same ~300-byte token and key:
//!
//! - `aws_lc`: aws-lc-rs's own verify call with the key prepared once (`ParsedPublicKey::verify_sig`,
//!   `hmac::verify` with a `hmac::Key`): the floor the backend is held to.
//! - `aws_lc_unparsed`: `UnparsedPublicKey::verify` (RS256, ES256, EdDSA), which parses the key on
//!   every call, and `RsaPublicKeyComponents::verify` (RS256): the other ways aws-lc-rs offers.
//! - `rustcrypto`: the RustCrypto crates' own call on their prepared key (`rsa`, `p256`,
//!   `ed25519-dalek`'s `verify_strict`, a pre-keyed `Hmac` state cloned per call): the default
//!   backend's floor.
//! - `jws_floor`: the irreducible work of a compact JWS around the `aws_lc` call: split the token,
//!   base64url-decode header, signature and payload into stack buffers, read the header's `alg`.
//! - `verify_jws`: [`Verifier::verify_jws`]: header parse, key pick, signature, payload decoded;
//!   no claims.
//! - `verify`: [`Verifier::verify::<Claims>`]: a first-sight token, claims validated.
//!
//! Run with `cargo bench --bench backends --features aws-lc`. After the measurements it prints
//! every result as a ratio to its algorithm's `aws_lc` floor, read back from criterion's own
//! estimates of this run.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::{hmac as lc_hmac, signature as lc};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::Criterion;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256, Sha384, Sha512};
use tower_jwt_auth::{Algorithm, Claims, DecodingKey, Validation, Verifier};

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "orders-api";
/// 64 bytes: long enough for HS512.
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef-bench-secret-64";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// Realistic access-token claims: a ~300-byte HS256 token.
fn claims_json() -> serde_json::Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
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

fn sign(alg: jsonwebtoken::Algorithm, key: &jsonwebtoken::EncodingKey) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.typ = Some("JWT".into());
    jsonwebtoken::encode(&header, &claims_json(), key).unwrap()
}

/// A signature check: message, signature, verdict.
type Check = dyn Fn(&[u8], &[u8]) -> bool;

/// A prepared signature check.
type SignatureCheck = Box<Check>;

struct Case {
    name: &'static str,
    alg: Algorithm,
    token: String,
    ours: DecodingKey,
    aws_lc: SignatureCheck,
    aws_lc_unparsed: Vec<(&'static str, SignatureCheck)>,
    rustcrypto: SignatureCheck,
}

fn hmac_case<M: Mac + Clone + 'static>(
    name: &'static str,
    alg: Algorithm,
    theirs: jsonwebtoken::Algorithm,
    lc_alg: lc_hmac::Algorithm,
    mac: M,
) -> Case {
    let key = lc_hmac::Key::new(lc_alg, SECRET);
    Case {
        name,
        alg,
        token: sign(
            theirs,
            &jsonwebtoken::EncodingKey::from_secret(SECRET).unwrap(),
        ),
        ours: DecodingKey::from_secret(alg, SECRET).unwrap(),
        aws_lc: Box::new(move |message, signature| {
            lc_hmac::verify(&key, message, signature).is_ok()
        }),
        aws_lc_unparsed: Vec::new(),
        rustcrypto: Box::new(move |message, signature| {
            let mut mac = mac.clone();
            mac.update(message);
            mac.verify_slice(signature).is_ok()
        }),
    }
}

fn cases() -> Vec<Case> {
    use jsonwebtoken::{Algorithm as J, EncodingKey as JE};
    let rsa_key = {
        use rsa::pkcs8::DecodePublicKey;
        rsa::PublicKey::from_public_key_pem(&fixture("rsa2048.pub.pem")).unwrap()
    };
    let rsa_spki = pem_der(&fixture("rsa2048.pub.pem"));
    let (rsa_n, rsa_e) = {
        use rsa::traits::PublicKeyParts;
        (rsa_key.n_bytes().to_vec(), rsa_key.e_bytes().to_vec())
    };
    let es_key = {
        use p256::pkcs8::DecodePublicKey;
        p256::ecdsa::VerifyingKey::from_public_key_pem(&fixture("es256.pub.pem")).unwrap()
    };
    let es_point = es_key.to_sec1_point(false).as_bytes().to_vec();
    let ed_key = {
        use ed25519_dalek::pkcs8::DecodePublicKey;
        ed25519_dalek::VerifyingKey::from_public_key_pem(&fixture("ed25519.pub.pem")).unwrap()
    };
    let ed_bytes = ed_key.to_bytes();

    let rs_parsed = lc::RsaPublicKeyComponents {
        n: rsa_n.as_slice(),
        e: rsa_e.as_slice(),
    }
    .to_parsed_public_key(&lc::RSA_PKCS1_2048_8192_SHA256)
    .unwrap();
    let es_parsed = lc::ParsedPublicKey::new(&lc::ECDSA_P256_SHA256_FIXED, &es_point).unwrap();
    let ed_parsed = lc::ParsedPublicKey::new(&lc::ED25519, ed_bytes).unwrap();
    let rs_spki = rsa_spki.clone();
    let (n, e) = (rsa_n.clone(), rsa_e.clone());
    let es_point_unparsed = es_point.clone();

    vec![
        hmac_case(
            "hs256",
            Algorithm::HS256,
            J::HS256,
            lc_hmac::HMAC_SHA256,
            Hmac::<Sha256>::new_from_slice(SECRET).unwrap(),
        ),
        hmac_case(
            "hs384",
            Algorithm::HS384,
            J::HS384,
            lc_hmac::HMAC_SHA384,
            Hmac::<Sha384>::new_from_slice(SECRET).unwrap(),
        ),
        hmac_case(
            "hs512",
            Algorithm::HS512,
            J::HS512,
            lc_hmac::HMAC_SHA512,
            Hmac::<Sha512>::new_from_slice(SECRET).unwrap(),
        ),
        Case {
            name: "rs256",
            alg: Algorithm::RS256,
            token: sign(
                J::RS256,
                &JE::from_rsa_pem(fixture("rsa2048.pem").as_bytes()).unwrap(),
            ),
            ours: DecodingKey::from_pem(Algorithm::RS256, &fixture("rsa2048.pub.pem")).unwrap(),
            aws_lc: Box::new(move |message, signature| {
                rs_parsed.verify_sig(message, signature).is_ok()
            }),
            aws_lc_unparsed: vec![
                (
                    "aws_lc_unparsed",
                    Box::new(move |message, signature| {
                        lc::UnparsedPublicKey::new(&lc::RSA_PKCS1_2048_8192_SHA256, &rs_spki)
                            .verify(message, signature)
                            .is_ok()
                    }),
                ),
                (
                    "aws_lc_components",
                    Box::new(move |message, signature| {
                        lc::RsaPublicKeyComponents {
                            n: n.as_slice(),
                            e: e.as_slice(),
                        }
                        .verify(&lc::RSA_PKCS1_2048_8192_SHA256, message, signature)
                        .is_ok()
                    }),
                ),
            ],
            rustcrypto: Box::new(move |message, signature| {
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
            aws_lc: Box::new(move |message, signature| {
                es_parsed.verify_sig(message, signature).is_ok()
            }),
            aws_lc_unparsed: vec![(
                "aws_lc_unparsed",
                Box::new(move |message, signature| {
                    lc::UnparsedPublicKey::new(&lc::ECDSA_P256_SHA256_FIXED, &es_point_unparsed)
                        .verify(message, signature)
                        .is_ok()
                }),
            )],
            rustcrypto: Box::new(move |message, signature| {
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
            aws_lc: Box::new(move |message, signature| {
                ed_parsed.verify_sig(message, signature).is_ok()
            }),
            aws_lc_unparsed: vec![(
                "aws_lc_unparsed",
                Box::new(move |message, signature| {
                    lc::UnparsedPublicKey::new(&lc::ED25519, ed_bytes)
                        .verify(message, signature)
                        .is_ok()
                }),
            )],
            rustcrypto: Box::new(move |message, signature| {
                ed25519_dalek::Signature::from_slice(signature)
                    .is_ok_and(|sig| ed_key.verify_strict(message, &sig).is_ok())
            }),
        },
    ]
}

#[derive(Deserialize)]
struct FloorHeader<'a> {
    alg: &'a str,
}

/// The irreducible work of checking a compact JWS, given a signature check: the payload's length.
fn jws_floor(token: &str, alg: &str, verify: &Check) -> Option<usize> {
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
    URL_SAFE_NO_PAD.decode_slice(payload, &mut payload_buf).ok()
}

fn bench(c: &mut Criterion) {
    for case in cases() {
        let token = case.token.as_str();
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let signing_input = signing_input.as_bytes();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        // First sight: the verified-token cache (on by default for public keys) would answer
        // every iteration after the first without a signature.
        let verifier = Verifier::new(
            case.ours.clone(),
            Validation::new().issuer(ISSUER).audience(AUDIENCE),
        )
        .unwrap()
        .cache_verified_tokens(0);

        // Every contender accepts the token, and refuses it with one bit of the signature
        // flipped, before it is timed.
        let mut flipped = signature.clone();
        flipped[0] ^= 1;
        let mut checks: Vec<(&str, &Check)> =
            vec![("aws_lc", &*case.aws_lc), ("rustcrypto", &*case.rustcrypto)];
        for (name, check) in &case.aws_lc_unparsed {
            checks.push((name, &**check));
        }
        for (name, check) in &checks {
            assert!(check(signing_input, &signature), "{}: {name}", case.name);
            assert!(!check(signing_input, &flipped), "{}: {name}", case.name);
        }
        assert!(jws_floor(token, case.alg.as_str(), &*case.aws_lc).is_some());
        verifier.verify_jws(token).unwrap();
        verifier.verify::<Claims>(token).unwrap();

        let mut group = c.benchmark_group(case.name);
        for (name, check) in &checks {
            group.bench_function(*name, |b| {
                b.iter(|| check(black_box(signing_input), black_box(&signature)));
            });
        }
        group.bench_function("jws_floor", |b| {
            b.iter(|| jws_floor(black_box(token), case.alg.as_str(), &*case.aws_lc));
        });
        group.bench_function("verify_jws", |b| {
            b.iter(|| verifier.verify_jws(black_box(token)));
        });
        group.bench_function("verify", |b| {
            b.iter(|| verifier.verify::<Claims>(black_box(token)));
        });
        group.finish();
    }
}

// ------------------------------------------------------------------------------------------------
// The summary: ratios to the aws-lc call, from this run's estimates
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
    // .../target/release/deps/backends-<hash>
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

fn summary() {
    const GROUPS: [&str; 6] = ["hs256", "hs384", "hs512", "rs256", "es256", "eddsa"];
    const ROWS: [&str; 7] = [
        "aws_lc",
        "aws_lc_unparsed",
        "aws_lc_components",
        "rustcrypto",
        "jws_floor",
        "verify_jws",
        "verify",
    ];
    let Some(dir) = criterion_dir() else { return };
    println!(
        "\nTime per call (criterion's median) and ratio to the same algorithm's aws_lc call in \
         this run,\nby median and by fastest sample:"
    );
    print!("{:<18}", "");
    for group in GROUPS {
        print!("{group:>27}");
    }
    println!();
    for row in ROWS {
        print!("{row:<18}");
        for group in GROUPS {
            let base = times_ns(&dir, group, "aws_lc");
            match times_ns(&dir, group, row).zip(base) {
                Some(((median, best), (base_median, base_best))) => print!(
                    "{:>11.0} ns {:>5.2}x {:>5.2}x",
                    median,
                    median / base_median,
                    best / base_best
                ),
                None => print!("{:>27}", "-"),
            }
        }
        println!();
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

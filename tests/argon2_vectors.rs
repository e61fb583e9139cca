//! The PHC reference implementation's Argon2 vectors (`tests/vectors/argon2/`, shipped with the
//! repository; source, revision and licence in `tests/vectors/README.md`), run through
//! `tower_jwt_auth::login::password` as a black box.
//!
//! Policy, case by case:
//!
//! - `verify_must_accept` (26: 8 argon2id v=19, 9 argon2i v=19, 9 argon2i without `v=`): every
//!   case verifies with a hasher at the default policy, and reports `needs_rehash` as the policy
//!   rules say (here always: argon2i, version 0x10 or an 8-byte salt). A string without `v=` is
//!   read as version 0x10, as the reference `argon2_verify` does; RustCrypto's `argon2` alone
//!   would read it as 0x13 and refuse it. The two `needs_large_ram` cases (m = 1 GiB) run in
//!   their own test: with argon2 built at opt-level 3 in the dev profile, as Cargo.toml asks,
//!   each takes about 2 s and 1 GiB.
//! - `verify_must_reject` (8): a decoding failure or an empty salt is `Err(MalformedHash)`, a
//!   wrong tag is `Ok` with `matches: false`; nothing panics.
//! - `raw_kats_with_secret_and_ad` (6): a secret and associated data are outside the PHC-string
//!   API, so these run against the `argon2` dependency directly; they pin down its version 0x10
//!   implementation, which the no-`v=` policy relies on.
//!
//! A missing or unreadable vectors file fails every test here, naming the file: the vectors are
//! part of the repository, so nothing is ever skipped. (`tests/vectors.rs` also checks the file
//! is present, for builds without the `login` feature, where this file compiles to nothing.)
#![cfg(feature = "login")]

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Deserialize;
use tower_jwt_auth::login::password::{
    Argon2Hasher, PasswordError, PasswordHashing, PasswordPolicy, Verification, Zeroizing,
};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/argon2/argon2_vectors.json"
);

#[derive(Deserialize)]
struct Vectors {
    verify_must_accept: Vec<Accept>,
    verify_must_reject: Vec<Reject>,
    raw_kats_with_secret_and_ad: Vec<Kat>,
}

#[derive(Clone, Deserialize)]
struct Accept {
    #[serde(rename = "type")]
    kind: String,
    version: u32,
    t_cost: u32,
    m_cost_kib: u32,
    p_cost: u32,
    password: String,
    salt: String,
    encoded: String,
    needs_large_ram: bool,
}

#[derive(Deserialize)]
struct Reject {
    encoded: String,
    password: String,
    reference_error: String,
}

#[derive(Deserialize)]
struct Kat {
    #[serde(rename = "type")]
    kind: String,
    version: u32,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
    tag_len: usize,
    password_hex: String,
    salt_hex: String,
    secret_hex: String,
    ad_hex: String,
    tag_hex: String,
}

/// Reads the vectors. A missing or unreadable file is a failure, never a skip.
fn load() -> Vectors {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|err| {
        panic!(
            "missing test vector {VECTORS} ({err}): the public test vectors are part of the \
             repository, in tests/vectors/ (sources and licences in tests/vectors/README.md); \
             restore the file, a vector test never passes or skips without its vectors"
        )
    });
    serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{VECTORS} is not in the documented layout: {err}"))
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// What the default policy's rehash rules say of a must-accept case.
fn expected_rehash(case: &Accept, policy: &PasswordPolicy) -> bool {
    case.kind != "argon2id"
        || case.version != 0x13
        || case.m_cost_kib < policy.m_cost_kib
        || case.t_cost < policy.t_cost
        || case.p_cost < policy.p_cost
        || case.salt.len() < 16
}

fn label(case: &Accept) -> String {
    let version = if case.encoded.contains("$v=") {
        format!("v={}", case.version)
    } else {
        "no v=".to_owned()
    };
    format!("{} {version}", case.kind)
}

/// Verifies the cases concurrently on the hasher's pool; returns the failures.
async fn verify_all(hasher: &Argon2Hasher, cases: &[Accept]) -> Vec<String> {
    let tasks: Vec<_> = cases
        .iter()
        .cloned()
        .map(|case| {
            let hasher = hasher.clone();
            tokio::spawn(async move {
                let password = Zeroizing::new(case.password.clone());
                let result = hasher.verify(password, Some(case.encoded.clone())).await;
                (case, result)
            })
        })
        .collect();
    let mut failures = Vec::new();
    for task in tasks {
        let (case, result) = task.await.expect("no panic");
        let expected = Verification::new(true, expected_rehash(&case, hasher.policy()));
        match result {
            Ok(got) if got == expected => {}
            other => failures.push(format!(
                "{}: {other:?}, expected {expected:?}",
                case.encoded
            )),
        }
    }
    failures
}

#[tokio::test]
async fn every_must_accept_vector_verifies_and_asks_for_a_rehash() {
    let vectors = load();
    let accept = &vectors.verify_must_accept;
    let mut by_label = BTreeMap::<String, usize>::new();
    for case in accept {
        *by_label.entry(label(case)).or_default() += 1;
    }
    println!("must-accept cases by kind: {by_label:?}");
    assert_eq!(accept.len(), 26);
    assert_eq!(by_label["argon2id v=19"], 8);
    assert_eq!(by_label["argon2i v=19"], 9);
    assert_eq!(by_label["argon2i no v="], 9);

    let hasher = Argon2Hasher::new(PasswordPolicy::default()).unwrap();
    let cases: Vec<Accept> = accept
        .iter()
        .filter(|c| !c.needs_large_ram)
        .cloned()
        .collect();
    let started = Instant::now();
    let failures = verify_all(&hasher, &cases).await;
    println!(
        "{} of {} must-accept cases verified in {:?} ({} workers); {} need 1 GiB and run apart",
        cases.len() - failures.len(),
        cases.len(),
        started.elapsed(),
        hasher.workers(),
        accept.len() - cases.len(),
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(cases.len(), 24);

    // The cheap cases do not verify with another password.
    for case in cases.iter().filter(|c| c.m_cost_kib <= 256) {
        let wrong = Zeroizing::new(format!("{}!", case.password));
        let check = hasher.verify(wrong, Some(case.encoded.clone())).await;
        assert!(!check.unwrap().matches, "{}", case.encoded);
    }
}

#[tokio::test]
async fn the_two_1_gib_vectors_verify_too() {
    let vectors = load();
    let cases: Vec<Accept> = vectors
        .verify_must_accept
        .into_iter()
        .filter(|c| c.needs_large_ram)
        .collect();
    assert_eq!(cases.len(), 2);
    assert!(cases.iter().all(|c| c.m_cost_kib == 1 << 20));
    let hasher = Argon2Hasher::new(PasswordPolicy::default()).unwrap();
    let started = Instant::now();
    let failures = verify_all(&hasher, &cases).await;
    println!(
        "{} of 2 large-RAM cases verified in {:?}",
        2 - failures.len(),
        started.elapsed()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn every_must_reject_vector_fails_cleanly() {
    let vectors = load();
    let hasher = Argon2Hasher::new(PasswordPolicy::default()).unwrap();
    let (mut errors, mut mismatches) = (0, 0);
    for case in &vectors.verify_must_reject {
        let password = Zeroizing::new(case.password.clone());
        let result = hasher.verify(password, Some(case.encoded.clone())).await;
        match (case.reference_error.as_str(), &result) {
            (
                "ARGON2_DECODING_FAIL" | "ARGON2_SALT_TOO_SHORT",
                Err(PasswordError::MalformedHash(_)),
            ) => {
                errors += 1;
            }
            ("ARGON2_VERIFY_MISMATCH", Ok(check)) if !check.matches && !check.needs_rehash => {
                mismatches += 1;
            }
            _ => panic!(
                "{} ({}): unexpected {result:?}",
                case.encoded, case.reference_error
            ),
        }
    }
    println!("must-reject: {errors} malformed-hash errors, {mismatches} mismatches");
    assert_eq!((errors, mismatches), (6, 2));
}

#[test]
fn the_raw_kats_match_the_argon2_dependency_including_version_0x10() {
    use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};

    let vectors = load();
    let mut passed = Vec::new();
    for kat in &vectors.raw_kats_with_secret_and_ad {
        let algorithm = Algorithm::new(&kat.kind).unwrap();
        let version = Version::try_from(kat.version).unwrap();
        let params = ParamsBuilder::new()
            .m_cost(kat.m_cost_kib)
            .t_cost(kat.t_cost)
            .p_cost(kat.p_cost)
            .data(AssociatedData::new(&hex(&kat.ad_hex)).unwrap())
            .output_len(kat.tag_len)
            .build()
            .unwrap();
        let secret = hex(&kat.secret_hex);
        let argon2 = Argon2::new_with_secret(&secret, algorithm, version, params).unwrap();
        let mut tag = vec![0; kat.tag_len];
        argon2
            .hash_password_into(&hex(&kat.password_hex), &hex(&kat.salt_hex), &mut tag)
            .unwrap();
        assert_eq!(tag, hex(&kat.tag_hex), "{} v={}", kat.kind, kat.version);
        passed.push(format!("{} v={}", kat.kind, kat.version));
    }
    println!("raw KATs passed: {passed:?}");
    assert_eq!(passed.len(), 6);
}

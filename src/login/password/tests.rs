use std::pin::pin;
use std::sync::mpsc;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use argon2::{PasswordHasher as _, PasswordVerifier as _};

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::engine::*;
use super::hasher::*;
use super::policy::*;
use super::pool::*;
use super::stored::*;
use super::*;

/// Cheap parameters, for tests where the costs do not matter.
fn cheap() -> PasswordPolicy {
    PasswordPolicy {
        m_cost_kib: 64,
        t_cost: 1,
        ..PasswordPolicy::default()
    }
}

fn hasher(policy: PasswordPolicy) -> Argon2Hasher {
    Argon2Hasher::with_pool(policy, PoolConfig::workers(2)).unwrap()
}

fn secret(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.to_owned())
}

/// A PHC string made directly with argon2, for legacy algorithms and versions.
fn legacy_hash(algorithm: Algorithm, version: Version, m: u32, t: u32, pw: &str) -> String {
    let params = Params::new(m, t, 1, None).unwrap();
    Argon2::new(algorithm, version, params)
        .hash_password(pw.as_bytes())
        .unwrap()
        .to_string()
}

#[test]
fn the_default_policy_is_owasps_argon2id_configuration() {
    let policy = PasswordPolicy::default();
    assert_eq!(
        (policy.m_cost_kib, policy.t_cost, policy.p_cost),
        (19_456, 2, 1)
    );
    assert_eq!(policy.max_password_len, 1024);
    let pool = PoolConfig::default();
    assert!(pool.workers >= 1);
    let hasher = Argon2Hasher::new(policy).unwrap();
    assert_eq!(hasher.queue_len(), 64 * hasher.workers());
}

#[test]
fn a_default_policy_hash_is_an_argon2id_phc_string_with_its_parameters() {
    let hasher = Argon2Hasher::new(PasswordPolicy::default()).unwrap();
    let stored = hasher.hash_blocking("hunter2").unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    let parsed = StoredHash::parse(&stored, hasher.policy()).unwrap();
    assert_eq!((parsed.salt_len, parsed.output_len), (16, 32));
    assert!(!hasher.policy().needs_rehash(&stored).unwrap());
}

#[tokio::test]
async fn a_password_matches_its_own_hash_and_needs_no_rehash() {
    let hasher = hasher(cheap());
    let stored = hasher.hash(secret("correct horse")).await.unwrap();
    let check = hasher
        .verify(secret("correct horse"), Some(stored))
        .await
        .unwrap();
    assert_eq!(
        check,
        Verification {
            matches: true,
            needs_rehash: false
        }
    );
}

#[tokio::test]
async fn a_wrong_password_does_not_match() {
    let hasher = hasher(cheap());
    let stored = hasher.hash(secret("correct horse")).await.unwrap();
    let check = hasher
        .verify(secret("correct horsf"), Some(stored))
        .await
        .unwrap();
    assert!(!check.matches);
    assert!(!check.needs_rehash);
}

#[tokio::test]
async fn a_password_longer_than_the_cap_is_refused_without_hashing() {
    let hasher = hasher(PasswordPolicy {
        max_password_len: 16,
        ..cheap()
    });
    let stored = hasher.hash_blocking("short").unwrap();
    let runs = hasher.engine().probe.runs();
    let long = "x".repeat(17);

    let hashed = hasher.hash(secret(&long)).await;
    assert!(matches!(hashed, Err(PasswordError::TooLong { max: 16 })));
    let verified = hasher.verify(secret(&long), Some(stored)).await;
    assert!(matches!(verified, Err(PasswordError::TooLong { max: 16 })));
    let unknown = hasher.verify(secret(&long), None).await;
    assert!(matches!(unknown, Err(PasswordError::TooLong { max: 16 })));
    assert!(hasher.hash_blocking(&long).is_err());

    assert_eq!(hasher.engine().probe.runs(), runs, "nothing was hashed");
}

#[tokio::test]
async fn a_password_at_the_cap_is_hashed_whole_whatever_its_characters() {
    let hasher = hasher(cheap());
    // 1024 bytes of three- and four-byte characters, ending in one that differs.
    let stem = "パスワード🔑".repeat(53); // 53 × 19 = 1007 bytes
    let a = format!("{stem}{}🔑", "a".repeat(13));
    let b = format!("{stem}{}🗝", "a".repeat(13));
    assert_eq!((a.len(), b.len()), (1024, 1024));

    let stored = hasher.hash(secret(&a)).await.unwrap();
    let same = hasher.verify(secret(&a), Some(stored.clone())).await;
    assert!(same.unwrap().matches);
    let last_differs = hasher.verify(secret(&b), Some(stored)).await;
    assert!(!last_differs.unwrap().matches, "no truncation");
}

#[tokio::test]
async fn a_unicode_password_round_trips_and_is_not_normalized() {
    let hasher = hasher(cheap());
    let composed = "pässwörd ñ 密码 🔐";
    let stored = hasher.hash(secret(composed)).await.unwrap();
    let check = hasher.verify(secret(composed), Some(stored.clone()));
    assert!(check.await.unwrap().matches);
    // NFD form: the same text to a reader, other bytes; normalization is the caller's call.
    let decomposed = "pa\u{308}sswo\u{308}rd n\u{303} 密码 🔐";
    let check = hasher.verify(secret(decomposed), Some(stored));
    assert!(!check.await.unwrap().matches);
}

#[tokio::test]
async fn a_hash_below_policy_asks_for_a_rehash() {
    let old = hasher(cheap());
    let stored = old.hash(secret("pw")).await.unwrap();
    for stronger in [
        PasswordPolicy {
            m_cost_kib: 128,
            ..cheap()
        },
        PasswordPolicy {
            t_cost: 2,
            ..cheap()
        },
        PasswordPolicy {
            p_cost: 2,
            ..cheap()
        },
    ] {
        let new = hasher(stronger.clone());
        let check = new.verify(secret("pw"), Some(stored.clone())).await;
        assert_eq!(
            check.unwrap(),
            Verification {
                matches: true,
                needs_rehash: true
            },
            "{stronger:?}"
        );
        // A wrong password never asks for a rehash.
        let check = new.verify(secret("wrong"), Some(stored.clone())).await;
        assert!(!check.unwrap().needs_rehash);
    }
    // A hash above the policy is replaced too (passlib and Django do the same): after one login,
    // every account costs the policy's verification, so timing tells none apart.
    let stronger = hasher(PasswordPolicy {
        m_cost_kib: 128,
        ..cheap()
    })
    .hash_blocking("pw")
    .unwrap();
    let check = old.verify(secret("pw"), Some(stronger)).await.unwrap();
    assert!(check.matches && check.needs_rehash);
    // Exactly the policy: kept.
    let same = old.hash_blocking("pw").unwrap();
    let check = old.verify(secret("pw"), Some(same)).await.unwrap();
    assert!(check.matches && !check.needs_rehash);
}

#[tokio::test]
async fn an_argon2i_argon2d_or_version_0x10_hash_verifies_and_asks_for_a_rehash() {
    let hasher = hasher(cheap());
    for (algorithm, version) in [
        (Algorithm::Argon2i, Version::V0x13),
        (Algorithm::Argon2d, Version::V0x13),
        (Algorithm::Argon2id, Version::V0x10),
    ] {
        let stored = legacy_hash(algorithm, version, 64, 1, "pw");
        let check = hasher.verify(secret("pw"), Some(stored.clone())).await;
        assert_eq!(
            check.unwrap(),
            Verification {
                matches: true,
                needs_rehash: true
            },
            "{stored}"
        );
    }
}

#[test]
fn a_hash_without_a_version_field_is_read_as_version_0x10() {
    let hasher = hasher(cheap());
    let with_v = legacy_hash(Algorithm::Argon2i, Version::V0x10, 64, 1, "pw");
    let without_v = with_v.replacen("$v=16", "", 1);
    assert_ne!(with_v, without_v);
    let check = hasher.verify_blocking("pw", Some(&without_v)).unwrap();
    assert!(check.matches && check.needs_rehash);
    // argon2 alone reads it as 0x13, hence a mismatch.
    let parsed = PasswordHash::new(&without_v).unwrap();
    assert!(Argon2::default().verify_password(b"pw", &parsed).is_err());
}

#[tokio::test]
async fn an_unknown_user_runs_a_full_verification_and_never_matches() {
    let hasher = hasher(cheap());
    let probe = &hasher.engine().probe;
    for round in 1..=3 {
        let before = probe.runs();
        let check = hasher.verify(secret("pw"), None).await.unwrap();
        assert_eq!(
            check,
            Verification {
                matches: false,
                needs_rehash: false
            }
        );
        assert_eq!(probe.runs(), before + 1, "one evaluation in round {round}");
    }
    let dummy = hasher.engine().dummy.get().expect("dummy computed once");
    assert!(dummy.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{dummy}");
}

#[tokio::test]
async fn the_work_runs_on_a_named_worker_thread_not_the_callers() {
    let hasher = hasher(cheap());
    let stored = hasher.hash(secret("pw")).await.unwrap();
    let worker = hasher.engine().probe.last_thread().unwrap_or_default();
    assert!(worker.starts_with("argon2-worker-"), "{worker:?}");
    assert_ne!(Some(worker.as_str()), thread::current().name());

    let check = hasher.verify(secret("pw"), Some(stored)).await.unwrap();
    assert!(check.matches);
    let worker = hasher.engine().probe.last_thread().unwrap_or_default();
    assert!(worker.starts_with("argon2-worker-"), "{worker:?}");

    // The blocking entry points stay on the caller's thread.
    let caller = thread::current().name().map(String::from);
    hasher.hash_blocking("pw").unwrap();
    assert_eq!(hasher.engine().probe.last_thread(), caller);
}

#[tokio::test]
async fn a_full_queue_answers_busy_at_once() {
    let hasher = Argon2Hasher::with_pool(cheap(), PoolConfig::workers(1).queue_len(2)).unwrap();
    // Hold the only worker.
    let (started, is_started) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    hasher
        .submit(Job::Run(Box::new(move || {
            started.send(()).unwrap();
            let _ = released.recv();
        })))
        .unwrap();
    is_started.recv().unwrap();

    // Two jobs wait in the queue (polling a future once submits its job); the third is
    // refused.
    let mut cx = Context::from_waker(Waker::noop());
    let mut first = pin!(hasher.hash(secret("a")));
    assert!(first.as_mut().poll(&mut cx).is_pending());
    let mut second = pin!(hasher.verify(secret("b"), None));
    assert!(second.as_mut().poll(&mut cx).is_pending());
    let runs = hasher.engine().probe.runs();
    let refused = hasher.hash(secret("c")).await;
    assert!(matches!(refused, Err(PasswordError::Busy)), "{refused:?}");
    let refused = hasher.verify(secret("c"), None).await;
    assert!(matches!(refused, Err(PasswordError::Busy)), "{refused:?}");
    assert_eq!(hasher.engine().probe.runs(), runs);

    release.send(()).unwrap();
    assert!(first.await.is_ok());
    assert!(second.await.is_ok());
    // The queue has room again.
    assert!(hasher.hash(secret("d")).await.is_ok());
}

#[tokio::test]
async fn a_panicking_job_does_not_kill_its_worker() {
    let hasher = Argon2Hasher::with_pool(cheap(), PoolConfig::workers(1).queue_len(4)).unwrap();
    hasher
        .submit(Job::Run(Box::new(|| panic!("test panic in a job"))))
        .unwrap();
    assert!(hasher.hash(secret("pw")).await.is_ok());
}

#[test]
fn the_workers_exit_when_the_last_handle_is_dropped() {
    let hasher = hasher(cheap());
    let clone = hasher.clone();
    let engine = Arc::downgrade(hasher.engine());
    drop(hasher);
    assert!(clone.hash_blocking("still usable").is_ok());
    drop(clone);
    // Each worker holds the engine until it exits.
    let deadline = Instant::now() + Duration::from_secs(10);
    while engine.strong_count() > 0 {
        assert!(Instant::now() < deadline, "the workers are still running");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn malformed_or_unsupported_hashes_are_errors_not_panics() {
    let hasher = hasher(cheap());
    let good = hasher.hash_blocking("pw").unwrap();
    let (head, tail) = good.rsplit_once('$').unwrap();
    let malformed = [
        String::new(),
        "argon2id".into(),
        "$argon2id".into(),
        "$argon2id$v=19$m=64,t=1,p=1".into(),
        head.to_owned(),
        format!("{head}$"),
        format!("{head}$!!!!"),
        format!("{head}${tail}$extra"),
        "$argon2id$v=19$m=64,t=1,p=1$$".into(),
        "$argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA".into(),
        "$argon2id$v=19$m=4,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA".into(),
        "$argon2id$v=19$m=64,t=1,p=1,x=3$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA".into(),
        "$argon2id$v=19$m=64,t=1,p=1$c29t$AAAAAAAAAAAAAAAAAAAAAA".into(),
    ];
    for stored in &malformed {
        let runs = hasher.engine().probe.runs();
        let result = hasher.verify_blocking("pw", Some(stored));
        assert!(
            matches!(result, Err(PasswordError::MalformedHash(_))),
            "{stored:?}: {result:?}"
        );
        // As long as an unknown user's: one evaluation against the dummy hash first.
        assert_eq!(hasher.engine().probe.runs(), runs + 1, "{stored:?}");
    }
    let unsupported = [
        // bcrypt, without the feature `legacy-hashes`; with it, a cost above the cap.
        #[cfg(not(feature = "legacy-hashes"))]
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        #[cfg(feature = "legacy-hashes")]
        "$2b$15$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$2x$04$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
        "$argon2id$v=18$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=64,t=4294967295,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
    ];
    for stored in unsupported {
        let runs = hasher.engine().probe.runs();
        let result = hasher.verify_blocking("pw", Some(stored));
        assert_eq!(hasher.engine().probe.runs(), runs + 1, "{stored:?}");
        assert!(
            matches!(result, Err(PasswordError::UnsupportedHash(_))),
            "{stored:?}: {result:?}"
        );
    }
    // The messages never repeat the stored string.
    let err = hasher
        .verify_blocking("pw", Some(&format!("{head}$")))
        .unwrap_err();
    assert!(!err.to_string().contains(head) && !format!("{err:?}").contains(head));
}

#[cfg(feature = "legacy-hashes")]
#[tokio::test]
async fn a_bcrypt_hash_is_verified_on_a_worker_in_one_job_and_always_rehashed() {
    let hasher = hasher(cheap());
    // `bcrypt.hashpw(b"pw", bcrypt.gensalt(4))`, Python bcrypt 4.0.1.
    let stored = "$2b$04$R.WWgUHJMjx0u6jGLP/uWubg/qMHlnjHk58gejH.mTMxN/GN5YTia";
    let probe = &hasher.engine().probe;
    let before = probe.runs();
    let check = hasher.verify(secret("pw"), Some(stored.into())).await;
    assert_eq!(
        check.unwrap(),
        Verification {
            matches: true,
            needs_rehash: true
        }
    );
    assert_eq!(probe.runs(), before + 1, "one evaluation, no dummy");
    let worker = probe.last_thread().unwrap_or_default();
    assert!(worker.starts_with("argon2-worker-"), "{worker:?}");
    let check = hasher.verify(secret("pW"), Some(stored.into())).await;
    assert_eq!(check.unwrap(), Verification::new(false, false));
    assert!(
        hasher.engine().dummy.get().is_none(),
        "no dummy needed so far"
    );

    // A malformed one costs the dummy verification first, on a worker too.
    let before = probe.runs();
    let result = hasher.verify(secret("pw"), Some(stored[..59].into())).await;
    assert!(
        matches!(result, Err(PasswordError::MalformedHash(_))),
        "{result:?}"
    );
    assert_eq!(probe.runs(), before + 1);
    assert!(hasher.engine().dummy.get().is_some());
    let worker = probe.last_thread().unwrap_or_default();
    assert!(worker.starts_with("argon2-worker-"), "{worker:?}");
}

#[test]
fn an_invalid_policy_or_pool_is_refused() {
    let invalid = [
        PasswordPolicy {
            m_cost_kib: 7,
            ..cheap()
        },
        PasswordPolicy {
            t_cost: 0,
            ..cheap()
        },
        PasswordPolicy {
            p_cost: 0,
            ..cheap()
        },
        PasswordPolicy {
            max_password_len: 0,
            ..cheap()
        },
        PasswordPolicy {
            max_stored_m_cost_kib: 63,
            ..cheap()
        },
        PasswordPolicy {
            t_cost: 17,
            ..cheap()
        },
    ];
    for policy in invalid {
        let result = Argon2Hasher::new(policy.clone());
        assert!(
            matches!(result, Err(PasswordError::InvalidPolicy(_))),
            "{policy:?}"
        );
    }
    let no_workers = Argon2Hasher::with_pool(cheap(), PoolConfig::workers(0));
    assert!(matches!(no_workers, Err(PasswordError::InvalidPolicy(_))));
}

/// A login service generic over `PasswordHashing` can be tested with a wrapper.
struct Counting<H> {
    inner: H,
    verifications: std::sync::atomic::AtomicUsize,
}

impl<H: PasswordHashing> PasswordHashing for Counting<H> {
    fn hash(
        &self,
        password: Zeroizing<String>,
    ) -> impl Future<Output = Result<String, PasswordError>> + Send {
        self.inner.hash(password)
    }

    fn verify(
        &self,
        password: Zeroizing<String>,
        stored: Option<String>,
    ) -> impl Future<Output = Result<Verification, PasswordError>> + Send {
        self.verifications
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.verify(password, stored)
    }
}

async fn login<H: PasswordHashing>(hasher: &H, stored: Option<&str>, pw: &str) -> bool {
    hasher
        .verify(secret(pw), stored.map(String::from))
        .await
        .is_ok_and(|v| v.matches)
}

#[tokio::test]
async fn the_trait_can_be_wrapped_to_count_verifications() {
    let counting = Counting {
        inner: hasher(cheap()),
        verifications: Default::default(),
    };
    let stored = counting.hash(secret("pw")).await.unwrap();
    assert!(login(&counting, Some(&stored), "pw").await);
    assert!(!login(&counting, None, "pw").await);
    assert_eq!(
        counting
            .verifications
            .load(std::sync::atomic::Ordering::SeqCst),
        2
    );
}

/// The PHC string `argon2`'s own `hash_password` would write for this password and salt.
fn argon2_alone(policy: &PasswordPolicy, pw: &str, salt: &[u8]) -> String {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        policy.params().unwrap(),
    )
    .hash_password_with_salt(pw.as_bytes(), salt)
    .unwrap()
    .to_string()
}

#[tokio::test]
async fn new_hashes_are_byte_for_byte_argon2s_and_verify_with_argon2_alone() {
    let policy = cheap();
    let hasher = hasher(policy.clone());
    let pooled = hasher.hash(secret("correct horse")).await.unwrap();
    let blocking = hasher.hash_blocking("correct horse").unwrap();
    assert_ne!(pooled, blocking, "a fresh salt each time");
    for stored in [pooled, blocking] {
        assert!(
            stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{stored}"
        );
        let parsed = PasswordHash::new(&stored).unwrap();
        let salt = parsed.salt.as_ref().unwrap();
        assert_eq!((salt.len(), parsed.hash.as_ref().unwrap().len()), (16, 32));
        // The same password and salt through `hash_password_with_salt`: the same string.
        assert_eq!(argon2_alone(&policy, "correct horse", salt), stored);
        assert_eq!(
            Argon2::default().verify_password(b"correct horse", &parsed),
            Ok(())
        );
        assert_eq!(
            Argon2::default().verify_password(b"correct horsf", &parsed),
            Err(argon2::password_hash::Error::PasswordInvalid)
        );
    }
}

#[tokio::test]
async fn hashes_written_by_argon2_alone_verify_here() {
    let hasher = hasher(cheap());
    let data = argon2::AssociatedData::new(b"associated data").unwrap();
    let with_data = argon2::ParamsBuilder::new()
        .m_cost(64)
        .t_cost(1)
        .p_cost(1)
        .data(data)
        .build()
        .unwrap();
    let written = [
        // `hash_password` itself, at the policy's parameters and at the default ones.
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            cheap().params().unwrap(),
        ),
        Argon2::default(),
        // Other output lengths, lanes and associated data.
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, Some(64)).unwrap(),
        ),
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, Some(16)).unwrap(),
        ),
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(100, 1, 3, None).unwrap(),
        ),
        Argon2::new(Algorithm::Argon2id, Version::V0x13, with_data),
    ]
    .map(|argon2| argon2.hash_password(b"pw").unwrap().to_string());
    for stored in written {
        let check = hasher.verify(secret("pw"), Some(stored.clone())).await;
        assert!(check.unwrap().matches, "{stored}");
        let check = hasher.verify_blocking("pw", Some(&stored)).unwrap();
        assert!(check.matches, "{stored}");
        let check = hasher.verify(secret("pW"), Some(stored.clone())).await;
        assert!(!check.unwrap().matches, "{stored}");
        // One bit off in the output: no match either.
        let (head, output) = stored.rsplit_once('$').unwrap();
        let mut output = output.to_owned();
        let flipped = if output.starts_with('A') { "B" } else { "A" };
        output.replace_range(..1, flipped);
        let tampered = format!("{head}${output}");
        let check = hasher.verify_blocking("pw", Some(&tampered)).unwrap();
        assert!(!check.matches, "{tampered}");
    }
}

#[tokio::test]
async fn a_stored_hash_with_more_memory_than_the_policy_verifies_in_a_buffer_of_its_own() {
    let hasher = hasher(cheap());
    let bigger = legacy_hash(Algorithm::Argon2id, Version::V0x13, 1024, 1, "pw");
    assert!(bigger.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
    for _ in 0..3 {
        let check = hasher
            .verify(secret("pw"), Some(bigger.clone()))
            .await
            .unwrap();
        // It verifies, and is replaced by one at the policy.
        assert_eq!(
            check,
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
        let check = hasher.verify(secret("wrong"), Some(bigger.clone())).await;
        assert!(!check.unwrap().matches);
    }
    // The workers still hash and verify at the policy's size afterwards.
    let stored = hasher.hash(secret("pw")).await.unwrap();
    assert!(
        hasher
            .verify(secret("pw"), Some(stored))
            .await
            .unwrap()
            .matches
    );

    // The worker's buffer keeps the policy's size, and was not touched.
    let engine = hasher.engine();
    let mut scratch = Scratch::keeping(engine.policy.m_cost_kib);
    let check = engine.verify("pw", Some(&bigger), &mut scratch).unwrap();
    assert!(check.matches);
    assert!(scratch.kept.is_empty());
    let smaller = legacy_hash(Algorithm::Argon2id, Version::V0x13, 32, 1, "pw");
    let check = engine.verify("pw", Some(&smaller), &mut scratch).unwrap();
    assert!(check.matches && check.needs_rehash);
    assert_eq!(scratch.kept.len(), 64);
}

fn all_zero(blocks: &[Block]) -> bool {
    blocks
        .iter()
        .all(|block| block.as_ref().iter().all(|&w| w == 0))
}

#[test]
fn a_worker_reuses_one_buffer_and_zeroes_it_after_each_job() {
    let engine = hasher(cheap()).engine().clone();
    let mut scratch = Scratch::keeping(engine.policy.m_cost_kib);
    assert!(scratch.kept.is_empty(), "allocated by the first job");

    let stored = engine.hash("pw", &mut scratch).unwrap();
    assert_eq!(scratch.kept.len(), 64);
    let address = scratch.kept.as_ptr();
    assert!(all_zero(&scratch.kept));

    // Reused, the buffer gives the same answers, and is zero after each job.
    for (pw, matches) in [("pw", true), ("wrong", false), ("pw", true)] {
        let check = engine.verify(pw, Some(&stored), &mut scratch).unwrap();
        assert_eq!(check.matches, matches);
        assert!(all_zero(&scratch.kept));
    }
    let check = engine.verify("pw", None, &mut scratch).unwrap();
    assert!(!check.matches);
    assert_eq!(scratch.kept.as_ptr(), address, "never reallocated");

    // Zeroed when the evaluation panics, too.
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        scratch.with_blocks(64, |blocks| {
            blocks[63].as_mut().fill(u64::MAX);
            panic!("test panic in an evaluation");
        })
    }));
    assert!(panicked.is_err());
    assert!(all_zero(&scratch.kept));
}

#[test]
fn debug_output_shows_the_configuration_only() {
    let hasher = hasher(cheap());
    let debug = format!("{hasher:?}");
    assert!(
        debug.starts_with("Argon2Hasher { policy: PasswordPolicy {"),
        "{debug}"
    );
    assert!(debug.ends_with(", .. }"), "{debug}");
    let err = PasswordError::TooLong { max: 1024 };
    assert_eq!(err.to_string(), "password longer than 1024 bytes");
}

//! The memory the argon2 pool holds under load, at the default policy (m = 19 MiB, t = 2, p = 1).
//!
//! `the_pool_stays_within_workers_times_m` checks the bound the module documentation promises;
//! `peak_rss_and_time_per_hash` (ignored) prints the figures:
//!
//! ```text
//! cargo test --features login --test argon2_memory -- --ignored --nocapture peak_rss
//! ```
//!
//! `VmHWM` is the peak resident set of the whole test process and never goes down: the lock
//! keeps the two tests apart, and the figures are only meaningful when the measurement runs
//! alone (filtered by name, as above).
#![cfg(all(feature = "login", target_os = "linux"))]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tower_jwt_auth::login::password::{
    Argon2Hasher, DEFAULT_M_COST_KIB, PasswordHashing, PasswordPolicy, PoolConfig, Zeroizing,
};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A field of `/proc/self/status`, in KiB (`VmHWM`: peak resident set; `VmRSS`: current).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

struct Storm {
    hash: Duration,
    verify: Duration,
}

/// `n` hashes, then `n` verifications, all submitted at once to the pool, from a runtime of
/// two threads.
fn storm(hasher: &Argon2Hasher, n: usize) -> Storm {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime")
        .block_on(storm_on(hasher, n))
}

async fn storm_on(hasher: &Argon2Hasher, n: usize) -> Storm {
    let start = Instant::now();
    let hashes: Vec<_> = (0..n)
        .map(|i| {
            let hasher = hasher.clone();
            tokio::spawn(async move {
                let password = Zeroizing::new(format!("password number {i}"));
                hasher.hash(password).await.expect("hash")
            })
        })
        .collect();
    let mut stored = Vec::with_capacity(n);
    for task in hashes {
        stored.push(task.await.expect("task"));
    }
    let hash = start.elapsed();

    let start = Instant::now();
    let checks: Vec<_> = stored
        .into_iter()
        .enumerate()
        .map(|(i, stored)| {
            let hasher = hasher.clone();
            tokio::spawn(async move {
                let password = Zeroizing::new(format!("password number {i}"));
                hasher.verify(password, Some(stored)).await.expect("verify")
            })
        })
        .collect();
    for task in checks {
        assert!(task.await.expect("task").matches);
    }
    Storm {
        hash,
        verify: start.elapsed(),
    }
}

#[test]
fn the_pool_stays_within_workers_times_m() {
    let _lock = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let workers = 2;
    let hasher =
        Argon2Hasher::with_pool(PasswordPolicy::default(), PoolConfig::workers(workers)).unwrap();
    let before = status_kib("VmHWM");
    storm(&hasher, 12);
    let grown = status_kib("VmHWM").saturating_sub(before);
    // `workers × m`, and 8 MiB for the tokio runtime, the strings and the allocator's slack.
    let bound = workers as u64 * u64::from(DEFAULT_M_COST_KIB) + 8 * 1024;
    assert!(
        grown <= bound,
        "the peak resident set grew by {grown} KiB, above {bound} KiB"
    );
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn peak_rss_and_time_per_hash() {
    let _lock = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let n: usize = std::env::var("ARGON2_STORM")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let workers = 2;
    let hasher =
        Argon2Hasher::with_pool(PasswordPolicy::default(), PoolConfig::workers(workers)).unwrap();
    let before = status_kib("VmHWM");
    let storm = storm(&hasher, n);
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / n as f64;
    println!(
        "workers={workers} n={n}: VmHWM {before} KiB before, {} KiB after ({} MiB); VmRSS now {} KiB",
        status_kib("VmHWM"),
        status_kib("VmHWM") / 1024,
        status_kib("VmRSS"),
    );
    println!(
        "hash: {:.1} ms per hash ({:.1} ms per hash per worker); verify: {:.1} ms ({:.1} per worker)",
        per(storm.hash),
        per(storm.hash) * workers as f64,
        per(storm.verify),
        per(storm.verify) * workers as f64,
    );

    // The blocking entry points, on this thread.
    let start = Instant::now();
    let stored: Vec<_> = (0..n)
        .map(|i| hasher.hash_blocking(&format!("blocking {i}")).unwrap())
        .collect();
    let hash = start.elapsed();
    let start = Instant::now();
    for (i, stored) in stored.iter().enumerate() {
        let check = hasher.verify_blocking(&format!("blocking {i}"), Some(stored));
        assert!(check.unwrap().matches);
    }
    println!(
        "hash_blocking: {:.1} ms per hash; verify_blocking: {:.1} ms; VmHWM {} MiB",
        per(hash),
        per(start.elapsed()),
        status_kib("VmHWM") / 1024,
    );
}

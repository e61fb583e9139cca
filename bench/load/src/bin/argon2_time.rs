//! Times one argon2id verification at the default policy (m = 19 MiB, t = 2, p = 1) on one
//! thread, with nothing else running: the unit of the login benchmark's ideal,
//! `cores ÷ time of one hash`.
//!
//! Usage: `argon2_time [N]` (default 15 timed verifications after 2 warm-ups). Prints
//! `argon2_verify_s median=… min=… max=… n=… cores=…`.

use std::time::Instant;

use tower_jwt_auth::login::password::{Argon2Hasher, PasswordPolicy, PoolConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(15);
    let hasher = Argon2Hasher::with_pool(
        PasswordPolicy::default(),
        PoolConfig::workers(1).queue_len(0),
    )?;
    let password = "correct horse battery staple";
    let stored = hasher.hash_blocking(password)?;
    for _ in 0..2 {
        assert!(hasher.verify_blocking(password, Some(&stored))?.matches);
    }
    let mut times: Vec<f64> = (0..n)
        .map(|_| {
            let start = Instant::now();
            let check = hasher
                .verify_blocking(password, Some(&stored))
                .expect("verify");
            assert!(check.matches);
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "argon2_verify_s median={:.6} min={:.6} max={:.6} n={} cores={}",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        n,
        cores
    );
    Ok(())
}

//! argon2id at the default policy (m = 19 MiB, t = 2, p = 1): hashing, verifying, the
//! unknown-user path, and the round trip through the worker pool.
//!
//! Run with `cargo bench --features login --bench password`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tower_jwt_auth::login::password::{
    Argon2Hasher, PasswordHashing, PasswordPolicy, PoolConfig, Zeroizing,
};

const PASSWORD: &str = "correct horse battery staple";

fn default_policy(c: &mut Criterion) {
    let hasher = Argon2Hasher::with_pool(
        PasswordPolicy::default(),
        PoolConfig::workers(1).queue_len(1),
    )
    .expect("the default policy is valid");
    let stored = hasher.hash_blocking(PASSWORD).expect("hash");
    // Compute the dummy hash before measuring the unknown-user path.
    let unknown = hasher.verify_blocking(PASSWORD, None).expect("dummy");
    assert!(!unknown.matches);

    let mut group = c.benchmark_group("argon2id_m19456_t2_p1");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    group.bench_function("hash_blocking", |b| {
        b.iter(|| hasher.hash_blocking(black_box(PASSWORD)).expect("hash"));
    });
    group.bench_function("verify_blocking", |b| {
        b.iter(|| {
            let check = hasher
                .verify_blocking(black_box(PASSWORD), Some(&stored))
                .expect("verify");
            assert!(check.matches);
        });
    });
    group.bench_function("verify_blocking_unknown_user", |b| {
        b.iter(|| {
            let check = hasher
                .verify_blocking(black_box(PASSWORD), None)
                .expect("verify");
            assert!(!check.matches);
        });
    });

    // The same work through the pool: the queue and the oneshot reply add next to nothing.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    group.bench_function("verify_via_pool", |b| {
        b.iter(|| {
            let password = Zeroizing::new(PASSWORD.to_owned());
            let check = runtime
                .block_on(hasher.verify(password, Some(stored.clone())))
                .expect("verify");
            assert!(check.matches);
        });
    });
    group.finish();
}

criterion_group!(benches, default_policy);
criterion_main!(benches);

//! Login timing: does a refused login take the same time whatever the reason? Times
//! `LoginService::authenticate` with the default password policy (argon2id m = 19456 KiB,
//! t = 2, p = 1) and the default hashing pool (`Argon2Hasher::new`: one worker per core, at the
//! lowest priority), for:
//!
//! - `unknown_user`: no such account (checked against the hasher's dummy hash);
//! - `wrong_password`: an existing account, a wrong password;
//! - `disabled`: a disabled account (`User::disabled(true)`), given its right password;
//! - `unusable_hash_empty`, `unusable_hash_bang`: accounts whose stored hash is `""` or `"!"`
//!   (SSO-only accounts; the stored hash is refused, then the dummy hash is checked).
//!
//! The cases are interleaved round-robin (a, b, c, d, e, a, b, …) so that machine noise falls
//! on all of them alike, after a warm-up in which the dummy hash is computed (first unknown
//! user). The throttle is `ThrottlePolicy::default().free_failures(1_000_000)`, so it never
//! answers 429 instead of checking a password.
//!
//! Usage: `login_timing [--rounds 200] [--warmup 5] [--tolerance-pct 5] [--normal-priority]
//! [--json FILE]` (`bench/login_timing.sh` builds and runs it). `--normal-priority` runs the pool
//! workers at normal priority (`PoolConfig::low_priority(false)`) instead of nice 19, for
//! a machine shared with CPU-bound jobs that would otherwise starve them.
//!
//! Prints, per case: median, p10, p90, min, max (ms), the ratio of its median to
//! `unknown_user`'s, and, as a diagnostic robust to intermittent noise, the paired ratio (the
//! median over rounds of its time ÷ `unknown_user`'s time in the same round).
//! Target: every median within `--tolerance-pct` (default 5%) of every other (max ÷ min − 1);
//! exit status 1 otherwise.

use std::time::Instant;

use tower_jwt_auth::login::password::{Argon2Hasher, PasswordPolicy, PoolConfig, Zeroizing};
use tower_jwt_auth::login::{InMemoryUserStore, LoginError, ThrottlePolicy, User, login_handler};
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};

type Error = Box<dyn std::error::Error + Send + Sync>;

const PASSWORD: &str = "correct horse battery staple";

/// (case, username, password)
const CASES: &[(&str, &str, &str)] = &[
    ("unknown_user", "nobody-here", PASSWORD),
    ("wrong_password", "alice", "wrong horse battery staple"),
    ("disabled", "dora", PASSWORD),
    ("unusable_hash_empty", "sso-empty", PASSWORD),
    ("unusable_hash_bang", "sso-bang", PASSWORD),
];

struct Args {
    rounds: usize,
    warmup: usize,
    tolerance_pct: f64,
    normal_priority: bool,
    json: Option<String>,
}

fn args() -> Result<Args, Error> {
    let mut args = Args {
        rounds: 200,
        warmup: 5,
        tolerance_pct: 5.0,
        normal_priority: false,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--rounds" => args.rounds = value()?.parse()?,
            "--warmup" => args.warmup = value()?.parse()?,
            "--tolerance-pct" => args.tolerance_pct = value()?.parse()?,
            "--json" => args.json = Some(value()?),
            "--normal-priority" => args.normal_priority = true,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if args.rounds == 0 {
        return Err("--rounds must be positive".into());
    }
    Ok(args)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    // Linear interpolation between the closest ranks.
    let pos = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() -> Result<(), Error> {
    let args = args()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let pass = runtime.block_on(run(args))?;
    std::process::exit(if pass { 0 } else { 1 });
}

async fn run(args: Args) -> Result<bool, Error> {
    let policy = PasswordPolicy::default();
    let hasher = if args.normal_priority {
        Argon2Hasher::with_pool(policy, PoolConfig::default().low_priority(false))?
    } else {
        Argon2Hasher::new(policy)?
    };
    let users = InMemoryUserStore::new();
    let hash = hasher.hash_blocking(PASSWORD)?;
    users.insert("alice", User::new("user-alice", hash.clone(), ["read"]));
    users.insert(
        "dora",
        User::new("user-dora", hash, ["read"]).disabled(true),
    );
    users.insert("sso-empty", User::new("user-sso-empty", "", ["read"]));
    users.insert("sso-bang", User::new("user-sso-bang", "!", ["read"]));
    let issuer = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[7; 32])?)
        .issuer("https://auth.timing.example")
        .audience("timing");
    let workers = hasher.workers();
    let login = login_handler(users, issuer, hasher)
        .throttle(ThrottlePolicy::default().free_failures(1_000_000));

    // Sanity: the right password logs alice in; every case is refused with invalid_grant.
    login
        .authenticate("alice", Zeroizing::new(PASSWORD.into()), None)
        .await
        .map_err(|e| format!("alice cannot log in: {e}"))?;

    let load_start = loadavg();
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(args.rounds); CASES.len()];
    let started = Instant::now();
    for round in 0..args.warmup + args.rounds {
        for (i, &(case, user, password)) in CASES.iter().enumerate() {
            let password = Zeroizing::new(password.to_owned());
            let t = Instant::now();
            let result = login.authenticate(user, password, None).await;
            let elapsed = t.elapsed();
            match result {
                Err(LoginError::InvalidGrant) => {}
                other => {
                    return Err(format!("{case}: expected InvalidGrant, got {other:?}").into());
                }
            }
            if round >= args.warmup {
                times[i].push(elapsed.as_secs_f64() * 1e3);
            }
        }
    }
    let wall = started.elapsed();
    let load_end = loadavg();

    let mut rows = Vec::new();
    for (i, &(case, ..)) in CASES.iter().enumerate() {
        let mut t = times[i].clone();
        t.sort_by(f64::total_cmp);
        rows.push((
            case,
            quantile(&t, 0.5),
            quantile(&t, 0.1),
            quantile(&t, 0.9),
            t[0],
            t[t.len() - 1],
        ));
    }
    let base = rows[0].1;
    // The median over rounds of (this case's time ÷ unknown_user's time in the same round):
    // robust to noise that comes and goes, since both times of a pair saw the same machine.
    let paired: Vec<f64> = times
        .iter()
        .map(|t| {
            let mut r: Vec<f64> = t.iter().zip(&times[0]).map(|(a, b)| a / b).collect();
            r.sort_by(f64::total_cmp);
            quantile(&r, 0.5)
        })
        .collect();
    let min = rows.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    let spread = (max / min - 1.0) * 100.0;
    let pass = spread <= args.tolerance_pct;

    println!(
        "login timing: {} rounds × {} cases interleaved (+{} warm-up rounds), argon2id m=19456 KiB t=2 p=1, \
         pool of {workers} worker(s) at {} priority; {:.0} s; loadavg {load_start} → {load_end}",
        args.rounds,
        CASES.len(),
        args.warmup,
        if args.normal_priority {
            "normal"
        } else {
            "the lowest"
        },
        wall.as_secs_f64(),
    );
    println!();
    println!(
        "| case | median ms | p10 ms | p90 ms | min ms | max ms | median ÷ unknown_user | paired ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (&(case, med, p10, p90, lo, hi), pair) in rows.iter().zip(&paired) {
        println!(
            "| {case} | {med:.2} | {p10:.2} | {p90:.2} | {lo:.2} | {hi:.2} | {:.3} | {pair:.3} |",
            med / base
        );
    }
    println!();
    println!(
        "paired ratio: the median over rounds of the case's time ÷ unknown_user's in the same round (diagnostic; the target is on the medians)."
    );
    println!();
    println!(
        "spread of the medians (max ÷ min − 1): {spread:.2}% (target ≤ {}%): {}",
        args.tolerance_pct,
        if pass { "PASS" } else { "FAIL" }
    );

    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "rounds": args.rounds,
            "warmup_rounds": args.warmup,
            "workers": workers,
            "normal_priority": args.normal_priority,
            "wall_s": wall.as_secs_f64(),
            "loadavg_start": load_start,
            "loadavg_end": load_end,
            "cases": rows.iter().zip(&paired).map(|(&(case, med, p10, p90, lo, hi), pair)| serde_json::json!({
                "case": case, "median_ms": med, "p10_ms": p10, "p90_ms": p90,
                "min_ms": lo, "max_ms": hi, "ratio_to_unknown_user": med / base,
                "paired_ratio_to_unknown_user": pair,
            })).collect::<Vec<_>>(),
            "spread_pct": spread,
            "tolerance_pct": args.tolerance_pct,
            "pass": pass,
            "samples_ms": CASES.iter().zip(&times).map(|(c, t)| (c.0, t.clone()))
                .collect::<std::collections::BTreeMap<_, _>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    }
    Ok(pass)
}

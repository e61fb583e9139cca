//! argon2id password hashing off the async executor (feature `login`), and bcrypt hashes
//! migrated from another application verified on the same workers (feature `legacy-hashes`).
//!
//! Passwords are hashed with argon2id (RFC 9106) into PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), with the parameters the OWASP Password
//! Storage Cheat Sheet recommends by default: 19 MiB of memory, 2 passes, 1 lane, a random
//! 16-byte salt and a 32-byte output.
//!
//! ```
//! use tower_jwt_auth::login::password::{Argon2Hasher, PasswordHashing, PasswordPolicy, Zeroizing};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_jwt_auth::login::password::PasswordError> {
//! let policy = PasswordPolicy::default();
//! # let policy = policy.m_cost_kib(64).t_cost(1); // a fast doctest
//! let hasher = Argon2Hasher::new(policy)?;
//!
//! // Registration: store the PHC string.
//! let stored = hasher.hash(Zeroizing::new("correct horse battery staple".into())).await?;
//!
//! // Login: `None` when the user does not exist, which costs the same as a real check.
//! let check = hasher
//!     .verify(Zeroizing::new("correct horse battery staple".into()), Some(stored))
//!     .await?;
//! assert!(check.matches);
//! if check.needs_rehash {
//!     // Hash the password again with `hasher.hash` and save the new PHC string.
//! }
//! # Ok(()) }
//! ```
//!
//! # Off the executor, with bounded concurrency
//!
//! One argon2id evaluation takes tens of milliseconds of CPU and 19 MiB of memory. It never runs
//! on the caller's thread: [`Argon2Hasher`] owns a small pool of worker threads (named
//! `argon2-worker-0`, `argon2-worker-1`, …; by default one per core) fed by a bounded queue, and
//! answers through a oneshot channel, so it works under any async runtime. At most
//! [`PoolConfig::workers`] evaluations run at once (see [Memory](#memory) for what they hold);
//! when the queue is full as well, the call fails at once with [`PasswordError::Busy`] (answer
//! it with a 503 and `Retry-After`) instead of queueing without bound. The workers exit once the
//! last clone of the hasher is dropped and the jobs already queued are done.
//!
//! # Memory
//!
//! Each worker owns one buffer of `m` KiB (the argon2 blocks), allocated by its first job and
//! reused by every later one until the worker exits. However many passwords it checks, the pool
//! holds at most `workers × m` of argon2 memory (38 MiB for two workers at the default policy),
//! and a worker that never ran a job holds none. Allocating and freeing the blocks for each
//! evaluation instead, as `argon2`'s `hash_password` and `verify_password` do, lets the
//! allocator keep the freed blocks in its per-thread arenas: 40 hashes then 40 verifications on
//! a two-worker pool at the default policy (`tests/argon2_memory.rs`) peaked at 365 MiB
//! resident that way, and at 42 MiB, the whole test process, this way.
//!
//! - A stored hash with a smaller `m` is verified in the front of the buffer. One with a larger
//!   `m` (up to [`PasswordPolicy::max_stored_m_cost_kib`]) gets a buffer of its own for that
//!   job, freed when the job ends, so it briefly holds its `m` on top of the worker's: such
//!   hashes are rare (written under a stronger policy), and growing the worker's buffer instead
//!   would keep up to `max_stored_m_cost_kib` per worker for good because of one odd row.
//! - The blocks are derived from the password: the part a job used is zeroed when the job
//!   ends, even if it panics, as the reference implementation clears its memory. At the
//!   default policy this costs about 1 ms of a 15 ms evaluation.
//! - [`Argon2Hasher::hash_blocking`] and [`Argon2Hasher::verify_blocking`] run on the caller's
//!   thread with a buffer allocated for the call, zeroed and freed when it returns: a
//!   thread-local buffer would keep `m` on every thread that ever called them.
//!
//! # Unknown users
//!
//! [`PasswordHashing::verify`] with `stored: None` verifies the password against a dummy hash
//! made with the policy's parameters (computed on first use, by that very call, so that call
//! costs one evaluation as well), and answers `matches: false`: the response time does not tell
//! whether the account exists.
//!
//! # Rehash on login
//!
//! [`Verification::needs_rehash`] is `true` when the password matched a stored hash that differs
//! from the current [`PasswordPolicy`]: see [`PasswordPolicy::needs_rehash`] for the rules. Save a
//! fresh hash then, as passlib's `deprecated="auto"` does.
//!
//! # Which stored hashes verify
//!
//! | stored hash | verifies | `needs_rehash` |
//! |---|---|---|
//! | `$argon2id$v=19$…` with exactly the policy's `m`, `t`, `p` and a 32-byte output | yes | no |
//! | `$argon2id$v=19$…` with any other `m`, `t`, `p` (stronger ones too, such as passlib's defaults `m=65536,t=3,p=4`), or a salt under 16 bytes, or another output length | yes | yes |
//! | `$argon2i$…`, `$argon2d$…`, `v=16` | yes | yes |
//! | no `v=` field (written by argon2 before version 1.3) | yes, as version 0x10, like the reference implementation's `argon2_verify` | yes |
//! | another version (`v=20`), another algorithm (`$scrypt$`, `$pbkdf2-sha256$`, bcrypt without the feature `legacy-hashes`, …) | no: [`PasswordError::UnsupportedHash`] | – |
//! | memory or passes above [`PasswordPolicy::max_stored_m_cost_kib`] / [`PasswordPolicy::max_stored_t_cost`] | no: [`PasswordError::UnsupportedHash`], so a corrupt row cannot pin a worker and gigabytes | – |
//! | not a PHC string, bad base64, salt or hash missing | no: [`PasswordError::MalformedHash`] | – |
//! | feature `legacy-hashes`: bcrypt `$2a$…`, `$2b$…`, `$2y$…` (passlib, Python's `bcrypt`, PHP), cost 4 up to `PasswordPolicy::max_stored_bcrypt_cost` (default 14) | yes, on the first 72 bytes of the password, as passlib does (see [Legacy hashes](#legacy-hashes-feature-legacy-hashes)) | yes, always |
//! | feature `legacy-hashes`: bcrypt above `PasswordPolicy::max_stored_bcrypt_cost`, crypt_blowfish's buggy `$2x$`, the original `$2$` | no: [`PasswordError::UnsupportedHash`] | – |
//! | feature `legacy-hashes`: `$2a$`/`$2b$`/`$2y$` not 60 characters, cost not two digits in 4..=31, a character outside bcrypt's base64 | no: [`PasswordError::MalformedHash`] | – |
//!
//! Every refusal costs one verification against the dummy hash first, as an unknown user does.
//!
//! RustCrypto's `argon2` alone would read a string without `v=` as version 0x13 and report a
//! mismatch; this module fills in version 0x10 before verifying, as the reference
//! implementation does, so hashes written before Argon2 1.3 (2016) added the field still let
//! their owners in, once, and are then rehashed.
//!
//! # Legacy hashes (feature `legacy-hashes`)
//!
//! An application migrated from Python keeps its users' hashes: passlib's
//! `CryptContext(schemes=["bcrypt"])` and the `bcrypt` package write bcrypt (`$2b$12$…`, or
//! `$2a$`/`$2y$` when asked), and `CryptContext(schemes=["argon2"])` writes argon2 PHC
//! strings through argon2-cffi (`$argon2id$v=19$m=65536,t=3,p=4$…`). With the feature on,
//! [`Argon2Hasher`] verifies both, on its worker threads, in the job that would have verified
//! an argon2 hash (one trip through the pool); `tests/legacy_hashes.rs` checks hashes written
//! by passlib itself (`tests/vectors/passlib/`).
//!
//! ```
//! # #[cfg(feature = "legacy-hashes")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use http::{Request, StatusCode, header};
//! use tower::ServiceExt as _;
//! use tower_jwt_auth::login::password::{Argon2Hasher, PasswordHashing as _, PasswordPolicy, Zeroizing};
//! use tower_jwt_auth::login::{InMemoryUserStore, User, login_handler};
//! use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};
//!
//! // A row imported from a passlib application: bcrypt of "correct horse battery staple"
//! // (cost 4 to keep this example fast; passlib's default is 12).
//! let bcrypt = "$2b$04$pLE9dxojE6ZWcZbQY/AOiuyFLmUSjgKNucWaSOzACzB5Bv7yK.gNe";
//! let users = InMemoryUserStore::new();
//! users.insert("ada", User::new("u-1", bcrypt, ["read"]));
//!
//! let hasher = Argon2Hasher::new(PasswordPolicy::default())?;
//! let check = hasher
//!     .verify(Zeroizing::new("correct horse battery staple".into()), Some(bcrypt.into()))
//!     .await?;
//! assert!(check.matches && check.needs_rehash);
//!
//! // The first login verifies it and stores an argon2id hash at the policy in its place.
//! let issuer = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[7; 32])?);
//! let login = login_handler(users.clone(), issuer, hasher);
//! let request = Request::post("/login")
//!     .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
//!     .body("grant_type=password&username=ada&password=correct+horse+battery+staple".to_owned())?;
//! assert_eq!(login.oneshot(request).await?.status(), StatusCode::OK);
//! let stored = users.get("ada").expect("ada").password_hash;
//! assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
//! # Ok(()) }
//! # #[cfg(not(feature = "legacy-hashes"))]
//! # fn main() {}
//! ```
//!
//! - bcrypt: a match always sets [`Verification::needs_rehash`], so the login service replaces
//!   the hash by argon2id at the current policy, as passlib's `deprecated="auto"` does. `$2a$`,
//!   `$2b$` and `$2y$` are verified alike, as passlib and the `bcrypt` package verify them.
//! - Passwords over 72 bytes: bcrypt uses the first 72 bytes of the UTF-8 password and
//!   ignores the rest. passlib's bcrypt handler truncates the same way by default
//!   (`truncate_error=False`), so its hashes were made from the first 72 bytes, and this
//!   module matches it: any password whose first 72 bytes are the user's opens the account,
//!   once, before the rehash stores an argon2id hash of the password as typed, all of it.
//!   (The `bcrypt` package from 5.0 refuses such passwords instead of truncating them; hashes
//!   it wrote never hold more than 72 bytes.)
//! - A password holding a NUL byte never matches a bcrypt hash: passlib and the `bcrypt`
//!   package refuse such passwords, and bcrypt's key schedule, which repeats `password` and a
//!   terminating NUL over 72 bytes, would otherwise let `"x\0x"` in where `"x"` is the
//!   password.
//! - A salt or checksum whose last character has its unused low bits set is read with those
//!   bits cleared, as passlib repairs it.
//! - passlib's argon2 hashes are PHC strings: they take the argon2 path and its rules. Those at
//!   passlib's defaults (argon2id, m = 64 MiB, t = 3, p = 4, 16-byte salt, 32-byte output) are
//!   stronger than the default policy on every count and are *kept*, as any hash above the
//!   policy is; verifying one costs 64 MiB and three passes. Those with a lower cost, argon2i
//!   or a shorter output are rehashed.
//!
//! Timing: a bcrypt account is verified at its own cost, not the policy's: at passlib's default
//! cost of 12, a few hundred milliseconds of a worker, an order of magnitude more than the
//! default argon2id; each step of the cost doubles it, up to
//! `PasswordPolicy::max_stored_bcrypt_cost`. Unknown users and wrong passwords on argon2
//! accounts cost one argon2 verification at the policy, so the time of an answer tells bcrypt
//! accounts (those not yet logged in since the migration) from the others, and a stream of
//! wrong passwords at one of them costs that much per attempt until the throttle blocks it.
//!
//! # Names
//!
//! The `argon2` crate has its own `PasswordHasher` trait (salt in, PHC string out, blocking).
//! To keep the two apart, the trait here is [`PasswordHashing`] (asynchronous, owned arguments,
//! what a login service is generic over) and the implementation is [`Argon2Hasher`].
//!
//! # Where things are
//!
//! `policy.rs` ([`PasswordPolicy`]), `stored.rs` (reading a stored PHC string), `engine.rs`
//! (argon2 in a reusable buffer), `pool.rs` (the worker threads, [`PoolConfig`]), `hasher.rs`
//! ([`Argon2Hasher`]), `legacy.rs` (bcrypt, feature `legacy-hashes`); the trait and the errors
//! are here.

mod engine;
mod hasher;
#[cfg(feature = "legacy-hashes")]
mod legacy;
mod policy;
mod pool;
mod stored;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;

pub use zeroize::Zeroizing;

pub use hasher::Argon2Hasher;
pub use policy::PasswordPolicy;
pub use pool::PoolConfig;

use engine::*;
#[cfg(feature = "legacy-hashes")]
use legacy::*;
use pool::*;
use stored::*;

/// Reads a stored PHC string under the default policy, for the fuzz targets.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_stored_hash(stored: &str) -> Result<(), PasswordError> {
    StoredHash::parse(stored, &PasswordPolicy::default()).map(drop)
}

/// Default memory cost: 19 MiB (19 456 KiB), OWASP's first argon2id configuration.
pub const DEFAULT_M_COST_KIB: u32 = 19_456;
/// Default number of passes over the memory.
pub const DEFAULT_T_COST: u32 = 2;
/// Default degree of parallelism (lanes).
pub const DEFAULT_P_COST: u32 = 1;
/// Default cap on a password's length, in bytes of UTF-8.
pub const DEFAULT_MAX_PASSWORD_LEN: usize = 1024;
/// Default cap on the memory cost of a stored hash this hasher agrees to verify: 1 GiB.
pub const DEFAULT_MAX_STORED_M_COST_KIB: u32 = 1 << 20;
/// Default cap on the number of passes of a stored hash this hasher agrees to verify.
pub const DEFAULT_MAX_STORED_T_COST: u32 = 16;
/// Default cap on the cost factor of a stored bcrypt hash this hasher agrees to verify
/// (feature `legacy-hashes`): 2¹⁴ rounds, four times passlib's default of 12.
#[cfg(feature = "legacy-hashes")]
#[cfg_attr(docsrs, doc(cfg(feature = "legacy-hashes")))]
pub const DEFAULT_MAX_STORED_BCRYPT_COST: u32 = 14;
/// Default queue length per worker: [`PoolConfig::queue_len`] defaults to this times the number
/// of workers.
pub const DEFAULT_QUEUE_LEN_PER_WORKER: usize = 64;

/// Length of the salt of new hashes, in bytes (RFC 9106 §3.1, OWASP).
const SALT_LEN: usize = 16;
/// Length of the output of new hashes, in bytes (RFC 9106 §4).
const OUTPUT_LEN: usize = 32;

/// The outcome of a password verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
#[non_exhaustive]
pub struct Verification {
    /// The password matches the stored hash. Always `false` for an unknown user.
    pub matches: bool,
    /// The password matched, but the stored hash differs from the current policy: hash the
    /// password again and store the new PHC string. Always `false` when the password did not
    /// match.
    pub needs_rehash: bool,
}

impl Verification {
    /// An outcome, for [`PasswordHashing`] implementations: `needs_rehash` is kept only when
    /// the password `matches`.
    pub const fn new(matches: bool, needs_rehash: bool) -> Self {
        Self {
            matches,
            needs_rehash: matches && needs_rehash,
        }
    }
}

/// Why a password could not be hashed or verified.
///
/// No variant carries a password or a stored hash.
#[derive(Debug)]
#[non_exhaustive]
pub enum PasswordError {
    /// The password is longer than [`PasswordPolicy::max_password_len`] bytes. Nothing was
    /// hashed.
    TooLong {
        /// The cap, in bytes.
        max: usize,
    },
    /// Every worker is busy and the queue is full. Nothing was hashed; the client may retry
    /// later (HTTP 503 with `Retry-After`).
    Busy,
    /// The stored string is not a well-formed argon2 PHC string (bad syntax or base64, salt or
    /// hash missing or of an impossible length), or, with the feature `legacy-hashes`, a
    /// `$2a$`/`$2b$`/`$2y$` string that is not well-formed bcrypt. The reason names the faulty
    /// part.
    MalformedHash(String),
    /// The stored string is a well-formed PHC string this hasher refuses to verify: another
    /// algorithm, an unknown argon2 version, or costs above the policy's `max_stored_*` limits
    /// (with the feature `legacy-hashes`, a bcrypt cost above
    /// `max_stored_bcrypt_cost`, or the `$2x$` and `$2$` variants).
    UnsupportedHash(String),
    /// The [`PasswordPolicy`] or [`PoolConfig`] is invalid.
    InvalidPolicy(String),
    /// A worker thread could not be started.
    Spawn(std::io::Error),
    /// The worker pool stopped answering (a worker panicked while handling this job).
    WorkerGone,
    /// argon2 failed for another reason: the system's random number generator failed, or the
    /// memory could not be allocated.
    Internal(String),
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordError::TooLong { max } => write!(f, "password longer than {max} bytes"),
            PasswordError::Busy => f.write_str("too many password checks in progress"),
            PasswordError::MalformedHash(why) => write!(f, "malformed password hash: {why}"),
            PasswordError::UnsupportedHash(why) => write!(f, "unsupported password hash: {why}"),
            PasswordError::InvalidPolicy(why) => write!(f, "invalid password policy: {why}"),
            PasswordError::Spawn(_) => f.write_str("cannot start an argon2 worker thread"),
            PasswordError::WorkerGone => f.write_str("the argon2 worker stopped"),
            PasswordError::Internal(why) => write!(f, "argon2 failed: {why}"),
        }
    }
}

impl std::error::Error for PasswordError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PasswordError::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

/// Password hashing and verification, as a login service needs them.
///
/// Implemented by [`Argon2Hasher`]; a test can wrap it to count calls or inject failures. The
/// arguments are owned because the work happens on another thread; implementations zeroize the
/// password once done. (Named so as not to be confused with `argon2::PasswordHasher`.)
pub trait PasswordHashing: Send + Sync + 'static {
    /// Hashes a new password into a PHC string.
    ///
    /// # Errors
    ///
    /// [`PasswordError::TooLong`], [`PasswordError::Busy`], or a failure of the implementation.
    fn hash(
        &self,
        password: Zeroizing<String>,
    ) -> impl Future<Output = Result<String, PasswordError>> + Send;

    /// Verifies a password against a stored PHC string, or, with `stored: None` (unknown user),
    /// does the same work against a dummy hash and answers `matches: false`.
    ///
    /// A stored hash the implementation cannot use must cost the same work (a verification
    /// against the dummy hash) before [`PasswordError::MalformedHash`] or
    /// [`PasswordError::UnsupportedHash`] is answered, or the answer's timing tells such
    /// accounts apart; [`Argon2Hasher`] does.
    ///
    /// # Errors
    ///
    /// [`PasswordError::TooLong`], [`PasswordError::Busy`], [`PasswordError::MalformedHash`],
    /// [`PasswordError::UnsupportedHash`], or a failure of the implementation. A wrong password
    /// is not an error: it is `Ok` with `matches: false`.
    fn verify(
        &self,
        password: Zeroizing<String>,
        stored: Option<String>,
    ) -> impl Future<Output = Result<Verification, PasswordError>> + Send;
}

#[cfg(test)]
mod test_probe {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Counts argon2 evaluations and remembers the thread of the last one.
    #[derive(Default)]
    pub(super) struct Probe {
        runs: AtomicU64,
        last_thread: Mutex<Option<String>>,
    }

    impl Probe {
        pub(super) fn record(&self) {
            self.runs.fetch_add(1, Ordering::SeqCst);
            *self.last_thread.lock().unwrap() = std::thread::current().name().map(String::from);
        }

        pub(super) fn runs(&self) -> u64 {
            self.runs.load(Ordering::SeqCst)
        }

        pub(super) fn last_thread(&self) -> Option<String> {
            self.last_thread.lock().unwrap().clone()
        }
    }
}

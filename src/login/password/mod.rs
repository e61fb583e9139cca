//! argon2id password hashing off the async executor (feature `login`).
//!
//! Passwords are hashed with argon2id (RFC 9106) into PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), with the parameters the OWASP Password
//! Storage Cheat Sheet recommends by default: 19 MiB of memory, 2 passes, 1 lane, a random
//! 16-byte salt and a 32-byte output.
//!
//! ```
//! use tower_jwt_auth::password::{Argon2Hasher, PasswordHashing, PasswordPolicy, Zeroizing};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_jwt_auth::password::PasswordError> {
//! let policy = PasswordPolicy::default();
//! # let policy = PasswordPolicy { m_cost_kib: 64, t_cost: 1, ..policy }; // a fast doctest
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
//! [`Verification::needs_rehash`] is `true` when the password matched a stored hash weaker than
//! the current [`PasswordPolicy`]: see [`PasswordPolicy::needs_rehash`] for the rules. Save a
//! fresh hash then, as passlib's `deprecated="auto"` does.
//!
//! # Which stored hashes verify
//!
//! | stored hash | verifies | `needs_rehash` |
//! |---|---|---|
//! | `$argon2id$v=19$…` at or above the policy | yes | no |
//! | `$argon2id$v=19$…` below the policy, or a salt under 16 bytes, or an output under 32 bytes | yes | yes |
//! | `$argon2i$…`, `$argon2d$…`, `v=16` | yes | yes |
//! | no `v=` field (written by argon2 before version 1.3) | yes, as version 0x10, like the reference implementation's `argon2_verify` | yes |
//! | another version (`v=20`), another algorithm (`$2b$`, `$scrypt$`, …) | no: [`PasswordError::UnsupportedHash`] | – |
//! | memory or passes above [`PasswordPolicy::max_stored_m_cost_kib`] / [`PasswordPolicy::max_stored_t_cost`] | no: [`PasswordError::UnsupportedHash`], so a corrupt row cannot pin a worker and gigabytes | – |
//! | not a PHC string, bad base64, salt or hash missing | no: [`PasswordError::MalformedHash`] | – |
//!
//! RustCrypto's `argon2` alone would read a string without `v=` as version 0x13 and report a
//! mismatch; this module fills in version 0x10 before verifying, as the reference
//! implementation does, so hashes written before Argon2 1.3 (2016) added the field still let
//! their owners in, once, and are then rehashed.
//!
//! # Names
//!
//! The `argon2` crate has its own `PasswordHasher` trait (salt in, PHC string out, blocking).
//! To keep the two apart, the trait here is [`PasswordHashing`] (asynchronous, owned arguments,
//! what a login service is generic over) and the implementation is [`Argon2Hasher`].

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use futures_channel::oneshot;
use zeroize::Zeroize as _;

pub use zeroize::Zeroizing;

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
/// Default queue length per worker: [`PoolConfig::queue_len`] defaults to this times the number
/// of workers.
pub const DEFAULT_QUEUE_LEN_PER_WORKER: usize = 64;

/// Length of the salt of new hashes, in bytes (RFC 9106 §3.1, OWASP).
const SALT_LEN: usize = 16;
/// Length of the output of new hashes, in bytes (RFC 9106 §4).
const OUTPUT_LEN: usize = 32;

/// The parameters of new hashes, and the limits applied to passwords and stored hashes.
///
/// Build one from [`PasswordPolicy::default`] and change the fields you need:
///
/// ```
/// use tower_jwt_auth::password::PasswordPolicy;
///
/// // OWASP's second configuration: 46 MiB, 1 pass.
/// let policy = PasswordPolicy { m_cost_kib: 47_104, t_cost: 1, ..PasswordPolicy::default() };
/// ```
///
/// Raising a cost does not invalidate stored hashes: they keep verifying, and report
/// [`Verification::needs_rehash`] until their owner logs in again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Memory cost `m` of new hashes, in KiB. Default 19 456 (19 MiB). Each worker holds this
    /// much memory from its first job on (see [Memory](self#memory)).
    pub m_cost_kib: u32,
    /// Number of passes `t` of new hashes. Default 2.
    pub t_cost: u32,
    /// Degree of parallelism `p` (lanes) of new hashes. Default 1. The lanes are computed one
    /// after the other on the worker's thread: a higher `p` does not use more cores.
    pub p_cost: u32,
    /// Longest accepted password, in bytes of UTF-8. Default 1024. Passwords up to the cap are
    /// hashed whole, whatever their characters; longer ones are refused with
    /// [`PasswordError::TooLong`] before any hashing. Must be at least 1.
    pub max_password_len: usize,
    /// Highest memory cost, in KiB, of a stored hash this hasher agrees to verify. Default
    /// 1 048 576 (1 GiB). A stored hash above it is refused with
    /// [`PasswordError::UnsupportedHash`] instead of tying up a worker. Verifying a stored hash
    /// with more memory than [`m_cost_kib`](Self::m_cost_kib) allocates that memory for the
    /// job, on top of the worker's own buffer. Must be at least
    /// [`m_cost_kib`](Self::m_cost_kib).
    pub max_stored_m_cost_kib: u32,
    /// Highest number of passes of a stored hash this hasher agrees to verify. Default 16. Must
    /// be at least [`t_cost`](Self::t_cost).
    pub max_stored_t_cost: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            m_cost_kib: DEFAULT_M_COST_KIB,
            t_cost: DEFAULT_T_COST,
            p_cost: DEFAULT_P_COST,
            max_password_len: DEFAULT_MAX_PASSWORD_LEN,
            max_stored_m_cost_kib: DEFAULT_MAX_STORED_M_COST_KIB,
            max_stored_t_cost: DEFAULT_MAX_STORED_T_COST,
        }
    }
}

impl PasswordPolicy {
    /// Whether a stored hash is weaker than this policy and should be replaced by a fresh hash
    /// the next time its owner logs in. Cheap: parses the string, computes nothing.
    ///
    /// A hash needs a rehash when any of these holds: its algorithm is not argon2id; its version
    /// is not 0x13 (19), a missing `v=` counting as 0x10; its `m`, `t` or `p` is lower than this
    /// policy's; its salt is shorter than 16 bytes; its output is shorter than 32 bytes. A hash
    /// with higher costs than the policy does not need one.
    ///
    /// # Errors
    ///
    /// [`PasswordError::MalformedHash`] or [`PasswordError::UnsupportedHash`] when the string is
    /// not one this policy would verify (see the [module documentation](self)).
    pub fn needs_rehash(&self, stored: &str) -> Result<bool, PasswordError> {
        Ok(StoredHash::parse(stored, self)?.needs_rehash(self))
    }

    fn params(&self) -> Result<Params, PasswordError> {
        Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(OUTPUT_LEN))
            .map_err(|e| PasswordError::InvalidPolicy(format!("argon2 parameters: {e}")))
    }

    fn validate(&self) -> Result<Params, PasswordError> {
        let params = self.params()?;
        if self.max_password_len == 0 {
            return Err(PasswordError::InvalidPolicy(
                "max_password_len must be at least 1".into(),
            ));
        }
        if self.max_stored_m_cost_kib < self.m_cost_kib {
            return Err(PasswordError::InvalidPolicy(
                "max_stored_m_cost_kib is below m_cost_kib: new hashes would not verify".into(),
            ));
        }
        if self.max_stored_t_cost < self.t_cost {
            return Err(PasswordError::InvalidPolicy(
                "max_stored_t_cost is below t_cost: new hashes would not verify".into(),
            ));
        }
        Ok(params)
    }

    fn check_len(&self, password: &str) -> Result<(), PasswordError> {
        if password.len() > self.max_password_len {
            Err(PasswordError::TooLong {
                max: self.max_password_len,
            })
        } else {
            Ok(())
        }
    }
}

/// The size and scheduling of the worker pool of an [`Argon2Hasher`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Number of worker threads, hence of argon2 evaluations that may run at once. Default:
    /// [`std::thread::available_parallelism`] (1 if unknown). Must be at least 1.
    pub workers: usize,
    /// Number of jobs that may wait for a free worker; one more is refused with
    /// [`PasswordError::Busy`]. `None` (the default) means
    /// [`DEFAULT_QUEUE_LEN_PER_WORKER`] × `workers`: with 19 MiB hashes taking ~15 ms in a
    /// release build, a full queue is drained in about a second. `Some(0)` accepts a job only
    /// when a worker is idle.
    pub queue_len: Option<usize>,
    /// Run the workers at the lowest scheduling priority of their policy (on Linux, nice 19),
    /// so that during a login storm the cores go to serving requests first and password checks
    /// get what is left. Default `true`. Best effort: where the platform refuses, the workers
    /// keep the default priority and a debug event is logged. With nothing else to do, the
    /// workers still run at full speed.
    pub low_priority: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            workers: thread::available_parallelism().map_or(1, NonZeroUsize::get),
            queue_len: None,
            low_priority: true,
        }
    }
}

impl PoolConfig {
    /// `workers` threads, the other settings by default.
    #[must_use]
    pub fn workers(workers: usize) -> Self {
        Self {
            workers,
            ..Self::default()
        }
    }

    /// Sets the queue length (see [`PoolConfig::queue_len`]).
    #[must_use]
    pub fn queue_len(mut self, queue_len: usize) -> Self {
        self.queue_len = Some(queue_len);
        self
    }

    /// Sets whether the workers run at low priority (see [`PoolConfig::low_priority`]).
    #[must_use]
    pub fn low_priority(mut self, low: bool) -> Self {
        self.low_priority = low;
        self
    }
}

/// The outcome of a password verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
pub struct Verification {
    /// The password matches the stored hash. Always `false` for an unknown user.
    pub matches: bool,
    /// The password matched, but the stored hash is weaker than the current policy: hash the
    /// password again and store the new PHC string. Always `false` when the password did not
    /// match.
    pub needs_rehash: bool,
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
    /// hash missing or of an impossible length). The reason names the faulty part.
    MalformedHash(String),
    /// The stored string is a well-formed PHC string this hasher refuses to verify: another
    /// algorithm, an unknown argon2 version, or costs above the policy's `max_stored_*` limits.
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

/// argon2id hashing on a bounded pool of worker threads. Cheap to clone: the clones share the
/// pool.
///
/// See the [module documentation](self) for the design.
#[derive(Clone)]
pub struct Argon2Hasher {
    inner: Arc<Pool>,
}

impl fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Argon2Hasher")
            .field("policy", &self.inner.engine.policy)
            .field("workers", &self.inner.workers)
            .field("queue_len", &self.inner.queue_len)
            .finish_non_exhaustive()
    }
}

impl Argon2Hasher {
    /// A hasher with this policy and the default pool (one worker per core).
    ///
    /// # Errors
    ///
    /// [`PasswordError::InvalidPolicy`] when argon2 refuses the parameters (`m_cost_kib`
    /// below 8 × `p_cost`, `t_cost` or `p_cost` of 0, …) or a limit is inconsistent;
    /// [`PasswordError::Spawn`] when a worker thread cannot be started.
    pub fn new(policy: PasswordPolicy) -> Result<Self, PasswordError> {
        Self::with_pool(policy, PoolConfig::default())
    }

    /// A hasher with this policy and pool size.
    ///
    /// # Errors
    ///
    /// As [`Argon2Hasher::new`], and [`PasswordError::InvalidPolicy`] when `pool.workers` is 0.
    pub fn with_pool(policy: PasswordPolicy, pool: PoolConfig) -> Result<Self, PasswordError> {
        let params = policy.validate()?;
        if pool.workers == 0 {
            return Err(PasswordError::InvalidPolicy(
                "the pool needs at least one worker".into(),
            ));
        }
        let queue_len = pool
            .queue_len
            .unwrap_or_else(|| DEFAULT_QUEUE_LEN_PER_WORKER.saturating_mul(pool.workers));
        let engine = Arc::new(Engine::new(policy, params));
        let (sender, receiver) = sync_channel(queue_len);
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..pool.workers {
            let engine = Arc::clone(&engine);
            let receiver = Arc::clone(&receiver);
            // On failure, `sender` is dropped on return and the workers already started exit.
            let low_priority = pool.low_priority;
            thread::Builder::new()
                .name(format!("argon2-worker-{index}"))
                .spawn(move || {
                    if low_priority {
                        lower_priority();
                    }
                    work(&engine, &receiver);
                })
                .map_err(PasswordError::Spawn)?;
        }
        Ok(Self {
            inner: Arc::new(Pool {
                engine,
                sender,
                workers: pool.workers,
                queue_len,
            }),
        })
    }

    /// The policy this hasher applies.
    #[must_use]
    pub fn policy(&self) -> &PasswordPolicy {
        &self.inner.engine.policy
    }

    /// The number of worker threads.
    #[must_use]
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// The number of jobs that may wait for a worker before [`PasswordError::Busy`].
    #[must_use]
    pub fn queue_len(&self) -> usize {
        self.inner.queue_len
    }

    /// Hashes a password on the calling thread, for command-line tools, scripts and tests.
    ///
    /// Blocks for the whole evaluation and bypasses the pool and its limits, with `m` of memory
    /// allocated for the call (see [Memory](self#memory)): never call it from async code. The
    /// caller keeps ownership of the password and should zeroize it.
    ///
    /// ```no_run
    /// use std::io::BufRead;
    /// use tower_jwt_auth::password::{Argon2Hasher, PasswordPolicy, Zeroizing};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut line = Zeroizing::new(String::new());
    /// std::io::stdin().lock().read_line(&mut line)?;
    /// let password = line.trim_end_matches(['\r', '\n']);
    /// let hasher = Argon2Hasher::new(PasswordPolicy::default())?;
    /// println!("{}", hasher.hash_blocking(password)?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`PasswordError::TooLong`]; [`PasswordError::Internal`] if the random number generator
    /// or the allocation fails.
    pub fn hash_blocking(&self, password: &str) -> Result<String, PasswordError> {
        self.inner.engine.policy.check_len(password)?;
        self.inner.engine.hash(password, &mut Scratch::one_off())
    }

    /// Verifies a password on the calling thread, with the semantics of
    /// [`PasswordHashing::verify`], with memory allocated for the call as
    /// [`hash_blocking`](Self::hash_blocking). Blocks; never call it from async code.
    ///
    /// # Errors
    ///
    /// As [`PasswordHashing::verify`], without [`PasswordError::Busy`].
    pub fn verify_blocking(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<Verification, PasswordError> {
        self.inner.engine.policy.check_len(password)?;
        self.inner
            .engine
            .verify(password, stored, &mut Scratch::one_off())
    }

    fn submit(&self, job: Job) -> Result<(), PasswordError> {
        match self.inner.sender.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                tracing::debug!(
                    workers = self.inner.workers,
                    queue_len = self.inner.queue_len,
                    "argon2 queue full, refusing the job"
                );
                Err(PasswordError::Busy)
            }
            Err(TrySendError::Disconnected(_)) => Err(PasswordError::WorkerGone),
        }
    }

    #[cfg(test)]
    fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
    }
}

impl PasswordHashing for Argon2Hasher {
    async fn hash(&self, password: Zeroizing<String>) -> Result<String, PasswordError> {
        self.inner.engine.policy.check_len(&password)?;
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        answer.await.unwrap_or(Err(PasswordError::WorkerGone))
    }

    async fn verify(
        &self,
        password: Zeroizing<String>,
        stored: Option<String>,
    ) -> Result<Verification, PasswordError> {
        self.inner.engine.policy.check_len(&password)?;
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password,
            stored,
            reply,
        })?;
        answer.await.unwrap_or(Err(PasswordError::WorkerGone))
    }
}

/// What the handles share; dropping the last handle drops `sender`, which stops the workers.
struct Pool {
    engine: Arc<Engine>,
    sender: SyncSender<Job>,
    workers: usize,
    queue_len: usize,
}

enum Job {
    Hash {
        password: Zeroizing<String>,
        reply: oneshot::Sender<Result<String, PasswordError>>,
    },
    Verify {
        password: Zeroizing<String>,
        stored: Option<String>,
        reply: oneshot::Sender<Result<Verification, PasswordError>>,
    },
    #[cfg(test)]
    Run(Box<dyn FnOnce() + Send>),
}

/// Moves the calling worker thread to the lowest priority of its scheduling policy.
fn lower_priority() {
    use thread_priority::{ThreadPriority, set_current_thread_priority};
    if let Err(err) = set_current_thread_priority(ThreadPriority::Min) {
        tracing::debug!(error = ?err, "cannot lower the argon2 worker's priority");
    }
}

/// A worker's loop: runs jobs until every handle is gone and the queue is drained.
fn work(engine: &Engine, receiver: &Mutex<Receiver<Job>>) {
    // The worker's argon2 memory, allocated by its first job and kept until it exits.
    let mut scratch = Scratch::keeping(engine.policy.m_cost_kib);
    loop {
        // Only one idle worker waits on the channel; the others wait for the lock.
        let job = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        match job {
            Ok(job) => run(engine, job, &mut scratch),
            Err(_disconnected) => break,
        }
    }
}

fn run(engine: &Engine, job: Job, scratch: &mut Scratch) {
    match job {
        Job::Hash { password, reply } => {
            // The caller gave up (its future was dropped): skip the work.
            if !reply.is_canceled() {
                let result = guarded(|| engine.hash(&password, scratch));
                let _ = reply.send(result);
            }
        }
        Job::Verify {
            password,
            stored,
            reply,
        } => {
            if !reply.is_canceled() {
                let result = guarded(|| engine.verify(&password, stored.as_deref(), scratch));
                let _ = reply.send(result);
            }
        }
        #[cfg(test)]
        Job::Run(f) => {
            let _ = catch_unwind(AssertUnwindSafe(f));
        }
    }
}

/// Runs `f`, turning a panic into [`PasswordError::WorkerGone`] so the worker survives it.
fn guarded<T>(f: impl FnOnce() -> Result<T, PasswordError>) -> Result<T, PasswordError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        tracing::error!("argon2 job panicked");
        Err(PasswordError::WorkerGone)
    })
}

/// The hashing itself, shared by the workers and the blocking entry points.
struct Engine {
    policy: PasswordPolicy,
    argon2: Argon2<'static>,
    /// A hash of a random password with the policy's parameters, for unknown users.
    dummy: OnceLock<String>,
    #[cfg(test)]
    probe: test_probe::Probe,
}

impl Engine {
    fn new(policy: PasswordPolicy, params: Params) -> Self {
        Self {
            policy,
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            dummy: OnceLock::new(),
            #[cfg(test)]
            probe: test_probe::Probe::default(),
        }
    }

    /// A new PHC string: a random 16-byte salt, the policy's parameters, argon2id v=19;
    /// byte for byte what `argon2`'s `hash_password` writes, computed in `scratch`.
    fn hash(&self, password: &str, scratch: &mut Scratch) -> Result<String, PasswordError> {
        #[cfg(test)]
        self.probe.record();
        let internal = |e: argon2::password_hash::Error| PasswordError::Internal(e.to_string());
        let salt = argon2::password_hash::try_generate_salt().map_err(|e| internal(e.into()))?;
        let mut output = [0u8; OUTPUT_LEN];
        let params = self.argon2.params();
        scratch
            .with_blocks(params.block_count(), |blocks| {
                self.argon2.hash_password_into_with_memory(
                    password.as_bytes(),
                    &salt,
                    &mut output,
                    blocks,
                )
            })?
            .map_err(|e| internal(e.into()))?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params).map_err(internal)?,
            salt: Some(Salt::new(&salt).map_err(|e| internal(e.into()))?),
            hash: Some(Output::new(&output).map_err(|e| internal(e.into()))?),
        };
        Ok(hash.to_string())
    }

    fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
        scratch: &mut Scratch,
    ) -> Result<Verification, PasswordError> {
        let Some(stored) = stored else {
            return self.verify_unknown_user(password, scratch);
        };
        let parsed = StoredHash::parse(stored, &self.policy)?;
        let matches = self.check(password, &parsed, scratch)?;
        Ok(Verification {
            matches,
            needs_rehash: matches && parsed.needs_rehash(&self.policy),
        })
    }

    /// One argon2 evaluation at the policy's parameters, whose answer is always "no".
    fn verify_unknown_user(
        &self,
        password: &str,
        scratch: &mut Scratch,
    ) -> Result<Verification, PasswordError> {
        match self.dummy.get() {
            Some(dummy) => {
                let parsed = StoredHash::parse(dummy, &self.policy)?;
                let _ = self.check(password, &parsed, scratch)?;
            }
            None => {
                // The first unknown user pays for the dummy hash instead: the same cost.
                let mut random = argon2::password_hash::try_generate_salt()
                    .map_err(|e| PasswordError::Internal(e.to_string()))?;
                let password = Zeroizing::new(hex(&random));
                zeroize::Zeroize::zeroize(&mut random);
                let _ = self.dummy.set(self.hash(&password, scratch)?);
            }
        }
        Ok(Verification {
            matches: false,
            needs_rehash: false,
        })
    }

    /// Recomputes the hash with the stored salt, algorithm, version and parameters (output
    /// length included), in `scratch`; compares in constant time. The errors are classified as
    /// `argon2`'s `verify_password` would have them.
    fn check(
        &self,
        password: &str,
        stored: &StoredHash,
        scratch: &mut Scratch,
    ) -> Result<bool, PasswordError> {
        use argon2::password_hash::Error;
        #[cfg(test)]
        self.probe.record();
        // `StoredHash::parse` makes sure both are there; `verify_password` says "no" otherwise.
        let (Some(salt), Some(expected)) = (&stored.hash.salt, &stored.hash.hash) else {
            return Ok(false);
        };
        let argon2 = Argon2::new(stored.algorithm, stored.version, stored.params.clone());
        // An `Output` is at most 64 bytes long.
        let mut computed = [0u8; Output::MAX_LENGTH];
        let computed = computed
            .get_mut(..expected.len())
            .ok_or_else(|| PasswordError::MalformedHash(Error::OutputSize.to_string()))?;
        let result = scratch
            .with_blocks(stored.params.block_count(), |blocks| {
                argon2.hash_password_into_with_memory(password.as_bytes(), salt, computed, blocks)
            })?
            .map_err(Error::from)
            .and_then(|()| Output::new(computed).map_err(Error::from));
        match result {
            // `Output`'s equality is constant-time (and false for another length).
            Ok(computed) => Ok(computed == *expected),
            Err(Error::PasswordInvalid) => Ok(false),
            Err(e @ (Error::OutOfMemory | Error::RngFailure | Error::Crypto | Error::Internal)) => {
                Err(PasswordError::Internal(e.to_string()))
            }
            Err(e) => Err(PasswordError::MalformedHash(e.to_string())),
        }
    }
}

/// The argon2 working memory of one thread: the 1 KiB blocks an evaluation fills, `m` of them
/// (see the module's "Memory" section for the design).
///
/// A worker's scratch keeps the policy's `m` blocks from its first job until it exits, and
/// runs every evaluation that fits (new hashes, stored hashes with `m` up to the policy's) in a
/// prefix of them: `argon2` fills exactly `Params::block_count` blocks from the front of the
/// slice it is given, and writes each block before reading it, so a used buffer needs no
/// clearing for correctness. An evaluation that does not fit gets blocks of its own, freed when
/// it ends. Whatever an evaluation used is zeroed when it ends, panics included, so the kept
/// blocks are all zero between jobs.
struct Scratch {
    /// Empty until the first evaluation that fits; then `keep` blocks.
    kept: Vec<Block>,
    /// Blocks to keep between evaluations: 0 for a one-off scratch.
    keep: usize,
}

impl Scratch {
    /// A worker's scratch: keeps `m_cost_kib` blocks once it has needed them.
    fn keeping(m_cost_kib: u32) -> Self {
        Self {
            kept: Vec::new(),
            keep: usize::try_from(m_cost_kib).unwrap_or(usize::MAX),
        }
    }

    /// A scratch for one evaluation on the caller's thread (the blocking entry points): its
    /// memory is freed with the evaluation. A thread-local buffer would pin `m` on every
    /// thread that ever called them.
    fn one_off() -> Self {
        Self {
            kept: Vec::new(),
            keep: 0,
        }
    }

    /// Runs `f` on `count` zeroed blocks, and zeroes them again once `f` returns or panics.
    fn with_blocks<T>(
        &mut self,
        count: usize,
        f: impl FnOnce(&mut [Block]) -> T,
    ) -> Result<T, PasswordError> {
        let mut own;
        let blocks = if count <= self.keep {
            if self.kept.len() < self.keep {
                self.kept = zeroed_blocks(self.keep)?;
            }
            &mut self.kept[..count]
        } else {
            own = zeroed_blocks(count)?;
            &mut own[..]
        };
        let wiped = Wiped(blocks);
        Ok(f(&mut *wiped.0))
    }
}

/// `count` zeroed blocks, or [`PasswordError::Internal`] when they cannot be allocated.
fn zeroed_blocks(count: usize) -> Result<Vec<Block>, PasswordError> {
    let mut blocks = Vec::new();
    blocks.try_reserve_exact(count).map_err(|_| {
        PasswordError::Internal(argon2::password_hash::Error::OutOfMemory.to_string())
    })?;
    blocks.resize(count, Block::new());
    Ok(blocks)
}

/// Zeroes the blocks when dropped.
struct Wiped<'a>(&'a mut [Block]);

impl Drop for Wiped<'_> {
    fn drop(&mut self) {
        // `Block::zeroize` (volatile writes, not optimized away) is compiled in `argon2`, at
        // its optimization level: this loop calls it once per KiB.
        for block in self.0.iter_mut() {
            block.zeroize();
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A stored PHC string, parsed and checked against the policy's limits.
struct StoredHash {
    /// With `version` filled in (0x10 when the string has no `v=`).
    hash: PasswordHash,
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt_len: usize,
    output_len: usize,
}

impl StoredHash {
    fn parse(stored: &str, policy: &PasswordPolicy) -> Result<Self, PasswordError> {
        // Name another scheme (`$2b$`, `$scrypt$`, …) before its fields fail to parse as argon2's.
        let ident = stored
            .strip_prefix('$')
            .and_then(|rest| rest.split('$').next())
            .unwrap_or_default();
        let Ok(algorithm) = Algorithm::new(ident) else {
            let plausible = (1..=32).contains(&ident.len())
                && ident
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            return Err(if plausible {
                PasswordError::UnsupportedHash(format!("algorithm `{ident}` is not argon2"))
            } else {
                PasswordError::MalformedHash("not a PHC string".into())
            });
        };
        let mut hash =
            PasswordHash::new(stored).map_err(|e| PasswordError::MalformedHash(e.to_string()))?;
        // The reference implementation reads a missing `v=` as version 0x10 (argon2 ≤ 1.2).
        let version = match hash.version {
            None => Version::V0x10,
            Some(v) => Version::try_from(v).map_err(|_| {
                PasswordError::UnsupportedHash(format!("argon2 version {v} is unknown"))
            })?,
        };
        hash.version = Some(version.into());
        let salt_len = hash.salt.as_ref().map(|salt| salt.len()).ok_or_else(|| {
            PasswordError::MalformedHash("the salt and the hash are missing".into())
        })?;
        let output_len = hash
            .hash
            .as_ref()
            .map(Output::len)
            .ok_or_else(|| PasswordError::MalformedHash("the hash is missing".into()))?;
        let params =
            Params::try_from(&hash).map_err(|e| PasswordError::MalformedHash(e.to_string()))?;
        if params.m_cost() > policy.max_stored_m_cost_kib {
            return Err(PasswordError::UnsupportedHash(format!(
                "m={} KiB is above the limit of {} KiB",
                params.m_cost(),
                policy.max_stored_m_cost_kib
            )));
        }
        if params.t_cost() > policy.max_stored_t_cost {
            return Err(PasswordError::UnsupportedHash(format!(
                "t={} is above the limit of {}",
                params.t_cost(),
                policy.max_stored_t_cost
            )));
        }
        Ok(Self {
            hash,
            algorithm,
            version,
            params,
            salt_len,
            output_len,
        })
    }

    fn needs_rehash(&self, policy: &PasswordPolicy) -> bool {
        self.algorithm != Algorithm::Argon2id
            || self.version != Version::V0x13
            || self.params.m_cost() < policy.m_cost_kib
            || self.params.t_cost() < policy.t_cost
            || self.params.p_cost() < policy.p_cost
            || self.salt_len < SALT_LEN
            || self.output_len < OUTPUT_LEN
    }
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

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::sync::mpsc;
    use std::task::{Context, Waker};
    use std::time::{Duration, Instant};

    use argon2::{PasswordHasher as _, PasswordVerifier as _};

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
        // A hash above the policy is kept.
        let stronger = hasher(PasswordPolicy {
            m_cost_kib: 128,
            ..cheap()
        })
        .hash_blocking("pw")
        .unwrap();
        let check = old.verify(secret("pw"), Some(stronger)).await.unwrap();
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
            let result = hasher.verify_blocking("pw", Some(stored));
            assert!(
                matches!(result, Err(PasswordError::MalformedHash(_))),
                "{stored:?}: {result:?}"
            );
        }
        let unsupported = [
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
            "$argon2id$v=18$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=64,t=4294967295,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
        ];
        for stored in unsupported {
            let result = hasher.verify_blocking("pw", Some(stored));
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
            assert_eq!(
                check,
                Verification {
                    matches: true,
                    needs_rehash: false
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
}

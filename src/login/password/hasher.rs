//! [`Argon2Hasher`]: the public face over the pool and the engine.

use std::fmt;
use std::sync::mpsc::{TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;

use futures_channel::oneshot;

use zeroize::Zeroizing;

use super::*;

/// argon2id hashing on a bounded pool of worker threads. Cheap to clone: the clones share the
/// pool.
///
/// See the [module documentation](super) for the design.
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
    /// allocated for the call (see [Memory](super#memory)): never call it from async code. The
    /// caller keeps ownership of the password and should zeroize it.
    ///
    /// ```no_run
    /// use std::io::BufRead;
    /// use tower_jwt_auth::login::password::{Argon2Hasher, PasswordPolicy, Zeroizing};
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

    pub(super) fn submit(&self, job: Job) -> Result<(), PasswordError> {
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
    pub(super) fn engine(&self) -> &Arc<Engine> {
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

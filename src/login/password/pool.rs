//! The worker pool: bounded queue, worker threads at the lowest priority, panics contained.

use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use futures_channel::oneshot;

use zeroize::Zeroizing;

use super::*;

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

/// What the handles share; dropping the last handle drops `sender`, which stops the workers.
pub(super) struct Pool {
    pub(super) engine: Arc<Engine>,
    pub(super) sender: SyncSender<Job>,
    pub(super) workers: usize,
    pub(super) queue_len: usize,
}

pub(super) enum Job {
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
pub(super) fn lower_priority() {
    use thread_priority::{ThreadPriority, set_current_thread_priority};
    if let Err(err) = set_current_thread_priority(ThreadPriority::Min) {
        tracing::debug!(error = ?err, "cannot lower the argon2 worker's priority");
    }
}

/// A worker's loop: runs jobs until every handle is gone and the queue is drained.
pub(super) fn work(engine: &Engine, receiver: &Mutex<Receiver<Job>>) {
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

pub(super) fn run(engine: &Engine, job: Job, scratch: &mut Scratch) {
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
pub(super) fn guarded<T>(f: impl FnOnce() -> Result<T, PasswordError>) -> Result<T, PasswordError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        tracing::error!("argon2 job panicked");
        Err(PasswordError::WorkerGone)
    })
}

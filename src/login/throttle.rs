//! Per-account throttling of failed logins: exponential back-off, capped, in bounded memory.
//!
//! Every attempt is counted *before* its password is checked (a reservation that a success
//! clears), so N parallel attempts on one account cannot all pass the check while the first
//! ones are still verifying: a burst costs at most `free_failures + 1` verifications.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use unicode_normalization::UnicodeNormalization as _;

use crate::verify::revocation::BoxError;

/// How failed logins slow an account down.
///
/// After [`free_failures`](Self::free_failures) failed attempts, each further failure blocks
/// the account for `base_delay × 2^(n − free_failures − 1)`, capped at
/// [`max_delay`](Self::max_delay); attempts during the block are answered 429 with
/// `Retry-After`, without checking the password. A success clears the account's record, and a
/// record is forgotten [`forget_after`](Self::forget_after) its last failure.
///
/// The cap is what keeps an attacker from locking a real user out for good: at worst the user
/// waits `max_delay`. Memory is bounded by [`capacity`](Self::capacity) records: past it, the
/// stalest record that blocks nothing is dropped, so a flood of random usernames cannot grow the
/// table; a record that still blocks is never dropped (when every record blocks, a new account's
/// attempt is refused until the soonest block ends).
///
/// Attempts are counted when they start, not when their password has been checked: a burst of
/// parallel wrong passwords on one account costs at most `free_failures + 1` verifications, the
/// rest are answered 429 at once. A success clears the account's record; an attempt that checked
/// no password (the store or the hashing pool was unavailable) is not counted.
///
/// Records are keyed by the account the user store found (its id), so every spelling the store
/// accepts for one account shares one record; for unknown users, by the typed name normalised
/// (Unicode NFKC, lower case, surrounding white space removed).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottlePolicy {
    /// The clock the delays are measured with. Default: [`Instant::now`]; tests replace it
    /// with [`ThrottlePolicy::clock`].
    pub clock: ThrottleClock,
    /// Failures allowed before any delay. Default 5.
    pub free_failures: u32,
    /// The first delay. Default 1 s.
    pub base_delay: Duration,
    /// The longest delay. Default 60 s.
    pub max_delay: Duration,
    /// How long a record is kept after its last failure. Default 15 minutes.
    pub forget_after: Duration,
    /// The most accounts tracked at once. Default 10 000 (about 1 MiB).
    pub capacity: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            clock: ThrottleClock::default(),
            free_failures: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            forget_after: Duration::from_secs(15 * 60),
            capacity: 10_000,
        }
    }
}

impl ThrottlePolicy {
    /// Sets the failures allowed before any delay.
    #[must_use]
    pub fn free_failures(mut self, n: u32) -> Self {
        self.free_failures = n;
        self
    }

    /// Sets the first and the longest delay, both capped at [`MAX_THROTTLE_DELAY`] (one day):
    /// a block end beyond any clock's range would otherwise overflow, and a longer block only
    /// lets an attacker lock a real user out for longer.
    #[must_use]
    pub fn delays(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base.min(MAX_THROTTLE_DELAY);
        self.max_delay = max.max(base).min(MAX_THROTTLE_DELAY);
        self
    }

    /// Sets how long a record is kept after its last failure.
    #[must_use]
    pub fn forget_after(mut self, after: Duration) -> Self {
        self.forget_after = after;
        self
    }

    /// Sets the most accounts tracked at once (at least 1).
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Measures the delays with `now` instead of [`Instant::now`]: tests advance a clock
    /// rather than sleep.
    #[must_use]
    pub fn clock(mut self, now: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        self.clock = ThrottleClock(Some(Arc::new(now)));
        self
    }

    fn delay(&self, failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(self.free_failures)?.checked_sub(1)?;
        let factor = 1u32.checked_shl(over.min(31)).unwrap_or(u32::MAX);
        // The fields are public: cap here too, whatever was written into them.
        let cap = self.max_delay.min(MAX_THROTTLE_DELAY);
        Some(self.base_delay.saturating_mul(factor).min(cap))
    }
}

/// The longest block [`ThrottlePolicy`] applies: one day.
pub const MAX_THROTTLE_DELAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The clock of a [`ThrottlePolicy`]: [`Instant::now`] unless replaced.
#[derive(Clone, Default)]
pub struct ThrottleClock(Option<Arc<dyn Fn() -> Instant + Send + Sync>>);

impl ThrottleClock {
    fn now(&self) -> Instant {
        self.0.as_ref().map_or_else(Instant::now, |clock| clock())
    }
}

impl fmt::Debug for ThrottleClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "custom"
        } else {
            "Instant::now"
        })
    }
}

impl PartialEq for ThrottleClock {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for ThrottleClock {}

/// What a throttling record is kept under.
pub(crate) fn account_key(user_id: &str) -> String {
    format!("id:{user_id}")
}

/// The key of a name no account answers to: NFKC, lower case, no surrounding white space, so
/// that `Ada`, `ada `, and `ａｄａ` (full width) share their free failures.
pub(crate) fn unknown_name_key(username: &str) -> String {
    let normalised: String = username.trim().nfkc().collect();
    format!("name:{}", normalised.to_lowercase().trim())
}

/// `now + delay`, or, where an `Instant` cannot hold that (a clock near its end), the longest
/// block it can: halved until it fits, never no block at all.
fn block_end(now: Instant, mut delay: Duration) -> Instant {
    loop {
        if let Some(end) = now.checked_add(delay) {
            return end;
        }
        delay /= 2;
    }
}

#[derive(Debug)]
struct Record {
    /// Attempts counted since the last success (or since the record was forgotten), including
    /// those still checking their password.
    failures: u32,
    blocked_until: Option<Instant>,
    last_attempt: Instant,
}

#[derive(Debug)]
pub(crate) struct Throttle {
    policy: ThrottlePolicy,
    records: Mutex<HashMap<Box<str>, Record>>,
}

/// Where failed-login records live: in each process ([`InMemoryThrottle`]), or shared between
/// instances (a Redis store), so that an attacker gets the free failures once, not once per
/// instance.
///
/// The contract: [`reserve`](Self::reserve) counts one attempt on every key at once, *as a
/// failure*, before the password is checked, or answers how long the keys stay blocked
/// (nothing counted then); the attempt that brings a count past the free failures sets the
/// block. A ticket dropped unsettled stays a failure; [`succeeded`](Self::succeeded) clears the
/// keys' records; [`cancel`](Self::cancel) uncounts an attempt that checked no password. So a
/// burst of N parallel wrong passwords costs at most `free_failures + 1` password checks: the
/// conformance suite (`testkit::check_throttle_store`) checks it.
///
/// An `Err` is a store failure: the login answers 503 and checks no password.
pub trait ThrottleStore: Send + Sync + 'static {
    /// What a reservation hands back to settle it.
    type Ticket: Send + 'static;

    /// Counts an attempt on every one of `keys`, or `Ok(Err(retry_after))` while any of them is
    /// blocked.
    fn reserve(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<Result<Self::Ticket, Duration>, BoxError>> + Send;

    /// The password matched: the records of the ticket's keys are cleared.
    fn succeeded(&self, ticket: Self::Ticket) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// No password was checked: the attempt is uncounted, and its block undone unless a later
    /// attempt has set another since.
    fn cancel(&self, ticket: Self::Ticket) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// An attempt counted by [`InMemoryThrottle`]: each key, with the block it had before and the
/// one it set.
#[derive(Debug)]
pub struct InMemoryTicket(Vec<(Box<str>, Option<Instant>, Option<Instant>)>);

/// The throttle of one process, in bounded memory (see [`ThrottlePolicy`]). Clones share the
/// records.
#[derive(Clone, Debug)]
pub struct InMemoryThrottle(Arc<Throttle>);

impl InMemoryThrottle {
    /// A throttle applying `policy`.
    #[must_use]
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self(Arc::new(Throttle::new(policy)))
    }
}

impl ThrottleStore for InMemoryThrottle {
    type Ticket = InMemoryTicket;

    async fn reserve(&self, keys: &[String]) -> Result<Result<InMemoryTicket, Duration>, BoxError> {
        Ok(self.0.reserve(keys.to_vec()))
    }

    async fn succeeded(&self, ticket: InMemoryTicket) -> Result<(), BoxError> {
        self.0.clear(ticket.0);
        Ok(())
    }

    async fn cancel(&self, ticket: InMemoryTicket) -> Result<(), BoxError> {
        self.0.uncount(ticket.0);
        Ok(())
    }
}

impl Throttle {
    pub(crate) fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            records: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Record>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn clear(&self, keys: Vec<(Box<str>, Option<Instant>, Option<Instant>)>) {
        let mut records = self.lock();
        for (key, ..) in &keys {
            records.remove(key);
        }
    }

    pub(crate) fn uncount(&self, keys: Vec<(Box<str>, Option<Instant>, Option<Instant>)>) {
        let mut records = self.lock();
        for (key, before, set) in &keys {
            if let Some(record) = records.get_mut(key) {
                record.failures = record.failures.saturating_sub(1);
                if record.blocked_until == *set {
                    record.blocked_until = *before;
                }
            }
        }
    }

    /// Counts an attempt on every one of `keys` at once, or `Err(retry_after)` while any of
    /// them is blocked (nothing is counted then).
    ///
    /// The attempt counts as a failure from now on: the attempt that brings a count past the
    /// free failures sets the block, and every attempt after it, parallel ones included, is
    /// refused until the block ends.
    pub(crate) fn reserve(&self, keys: Vec<String>) -> Result<InMemoryTicket, Duration> {
        let keys: Vec<Box<str>> = keys.into_iter().map(String::into_boxed_str).collect();
        let now = self.policy.clock.now();
        let mut records = self.lock();
        let blocked = keys
            .iter()
            .filter_map(|key| records.get(key)?.blocked_until)
            .filter(|until| *until > now)
            .max();
        if let Some(until) = blocked {
            return Err(until - now);
        }
        let new = keys
            .iter()
            .filter(|key| !records.contains_key(*key))
            .count();
        if records.len() + new > self.policy.capacity {
            self.make_room(&mut records, now, new)?;
        }
        let mut counted = Vec::with_capacity(keys.len());
        for key in keys {
            let record = records.entry(key.clone()).or_insert(Record {
                failures: 0,
                blocked_until: None,
                last_attempt: now,
            });
            if now.saturating_duration_since(record.last_attempt) >= self.policy.forget_after {
                record.failures = 0;
            }
            let before = record.blocked_until;
            record.failures = record.failures.saturating_add(1);
            record.last_attempt = now;
            // A delay is at most a day: `now + delay` cannot overflow where `now` is a real
            // clock; if it did, the block would be the longest one representable, never none.
            record.blocked_until = self
                .policy
                .delay(record.failures)
                .map(|delay| block_end(now, delay));
            counted.push((key, before, record.blocked_until));
        }
        Ok(InMemoryTicket(counted))
    }

    /// Frees `needed` slots: forgotten records first, then the stalest ones that block nothing.
    /// A record that still blocks is never dropped: when all do, `Err(until the soonest ends)`.
    fn make_room(
        &self,
        records: &mut HashMap<Box<str>, Record>,
        now: Instant,
        needed: usize,
    ) -> Result<(), Duration> {
        let forget = self.policy.forget_after;
        let blocking = |r: &Record| r.blocked_until.is_some_and(|until| until > now);
        // Forgotten records go first, but never one that still blocks (a block may outlast
        // `forget_after`).
        records
            .retain(|_, r| blocking(r) || now.saturating_duration_since(r.last_attempt) < forget);
        while records.len() + needed > self.policy.capacity {
            let stalest = records
                .iter()
                .filter(|(_, r)| !blocking(r))
                .min_by_key(|(_, r)| r.last_attempt)
                .map(|(k, _)| k.clone());
            let Some(key) = stalest else {
                let soonest = records
                    .values()
                    .filter_map(|r| r.blocked_until)
                    .min()
                    .map_or(Duration::from_secs(1), |until| until - now);
                tracing::warn!(
                    capacity = self.policy.capacity,
                    "login throttle full of blocked accounts; refusing a new account's attempt"
                );
                return Err(soonest);
            };
            records.remove(&key);
        }
        Ok(())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// A clock that moves only when told to, in milliseconds from a fixed start.
    fn manual_clock() -> (ThrottlePolicy, Arc<AtomicU64>) {
        let start = Instant::now();
        let offset = Arc::new(AtomicU64::new(0));
        let read = Arc::clone(&offset);
        let policy = ThrottlePolicy::default()
            .clock(move || start + Duration::from_millis(read.load(Ordering::SeqCst)));
        (policy, offset)
    }

    #[test]
    fn delays_double_after_the_free_failures_and_stop_at_the_cap() {
        let p = ThrottlePolicy::default()
            .free_failures(2)
            .delays(Duration::from_secs(1), Duration::from_secs(5));
        let delays: Vec<_> = (1..=7).map(|n| p.delay(n).map(|d| d.as_secs())).collect();
        assert_eq!(
            delays,
            [None, None, Some(1), Some(2), Some(4), Some(5), Some(5)]
        );
        assert_eq!(p.delay(u32::MAX), Some(Duration::from_secs(5)));
    }

    #[test]
    fn an_account_is_blocked_after_its_free_failures_and_cleared_by_success() {
        let (policy, clock) = manual_clock();
        let t = Throttle::new(policy.free_failures(1));
        let key = || account_key("u1");
        drop(t.reserve(vec![key()]).unwrap()); // a failure
        drop(t.reserve(vec![key()]).unwrap()); // the second: sets a 1 s block
        let wait = t.reserve(vec![key()]).map(drop).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert!(t.reserve(vec![account_key("u2")]).is_ok());
        clock.store(999, Ordering::SeqCst);
        assert_eq!(
            t.reserve(vec![key()]).map(drop).unwrap_err(),
            Duration::from_millis(1)
        );
        clock.store(1000, Ordering::SeqCst);
        t.clear(t.reserve(vec![key()]).unwrap().0);
        drop(t.reserve(vec![key()]).unwrap());
        assert!(
            t.reserve(vec![key()]).is_ok(),
            "the success cleared the record"
        );
    }

    #[test]
    fn huge_delays_are_capped_and_never_overflow_into_no_block() {
        let (policy, _clock) = manual_clock();
        let mut policy = policy.free_failures(0).delays(Duration::MAX, Duration::MAX);
        assert_eq!(policy.max_delay, MAX_THROTTLE_DELAY);
        // Written straight into the public fields, the cap still holds.
        policy.base_delay = Duration::MAX;
        policy.max_delay = Duration::MAX;
        let t = Throttle::new(policy);
        drop(t.reserve(vec![account_key("u1")]).unwrap());
        let wait = t.reserve(vec![account_key("u1")]).map(drop).unwrap_err();
        assert_eq!(wait, MAX_THROTTLE_DELAY);
        // Where the whole delay fits, it is the whole delay.
        let now = Instant::now();
        assert_eq!(block_end(now, MAX_THROTTLE_DELAY), now + MAX_THROTTLE_DELAY);
    }

    #[test]
    fn a_parallel_burst_gets_at_most_the_free_failures_plus_one() {
        let (policy, _clock) = manual_clock();
        let t = Throttle::new(policy.free_failures(5));
        // Fifty attempts start before any has finished checking its password.
        let admitted: Vec<_> = (0..50)
            .filter_map(|_| t.reserve(vec![account_key("u1")]).ok())
            .collect();
        assert_eq!(admitted.len(), 6);
    }

    #[test]
    fn an_attempt_that_checked_no_password_is_not_counted() {
        let (policy, _clock) = manual_clock();
        let t = Throttle::new(policy.free_failures(1));
        for _ in 0..10 {
            t.uncount(t.reserve(vec![account_key("u1")]).unwrap().0);
        }
        drop(t.reserve(vec![account_key("u1")]).unwrap());
        assert!(t.reserve(vec![account_key("u1")]).is_ok());
        // Cancelling the attempt that set a block undoes the block too.
        let t = Throttle::new(ThrottlePolicy::default().free_failures(1));
        drop(t.reserve(vec![account_key("u2")]).unwrap());
        t.uncount(t.reserve(vec![account_key("u2")]).unwrap().0);
        assert!(t.reserve(vec![account_key("u2")]).is_ok());
    }

    #[test]
    fn an_attempt_counts_on_every_key_and_any_blocked_key_refuses_it() {
        let (policy, _clock) = manual_clock();
        let t = Throttle::new(policy.free_failures(1));
        let both = || vec![unknown_name_key("Ada"), account_key("u1")];
        drop(t.reserve(both()).unwrap());
        drop(t.reserve(vec![unknown_name_key("ada")]).unwrap()); // the name alone: blocked now
        assert!(
            t.reserve(both()).is_err(),
            "the name's block refuses the account too"
        );
        assert!(t.reserve(vec![account_key("u1")]).is_ok());
    }

    #[test]
    fn a_block_longer_than_forget_after_survives_a_full_table() {
        let (policy, clock) = manual_clock();
        let t = Throttle::new(
            policy
                .capacity(2)
                .free_failures(0)
                .delays(Duration::from_secs(3600), Duration::from_secs(3600))
                .forget_after(Duration::from_secs(60)),
        );
        drop(t.reserve(vec![account_key("victim")]).unwrap()); // blocked an hour
        clock.store(120_000, Ordering::SeqCst); // past forget_after, still blocked
        for i in 0..10 {
            drop(t.reserve(vec![unknown_name_key(&format!("junk-{i}"))]));
        }
        assert!(t.reserve(vec![account_key("victim")]).is_err());
    }

    #[test]
    fn spellings_of_an_unknown_name_share_one_key() {
        let key = unknown_name_key("ada");
        for variant in ["Ada", "ADA", " ada ", "ada\t", "\u{ff41}\u{ff44}\u{ff41}"] {
            assert_eq!(unknown_name_key(variant), key, "{variant:?}");
        }
        assert_ne!(unknown_name_key("bob"), key);
        assert_ne!(account_key("ada"), key);
    }

    #[test]
    fn random_usernames_cannot_grow_the_table_past_its_capacity() {
        let (policy, _clock) = manual_clock();
        let t = Throttle::new(policy.capacity(100));
        for i in 0..10_000 {
            drop(t.reserve(vec![unknown_name_key(&format!("user-{i}"))]));
        }
        assert_eq!(t.len(), 100);
    }

    #[test]
    fn a_full_table_never_drops_a_record_that_still_blocks() {
        let (policy, clock) = manual_clock();
        let t = Throttle::new(
            policy
                .capacity(2)
                .free_failures(0)
                .delays(Duration::from_secs(10), Duration::from_secs(10)),
        );
        drop(t.reserve(vec![account_key("victim")]).unwrap()); // blocked 10 s
        drop(t.reserve(vec![account_key("other")]).unwrap()); // blocked 10 s
        // A flood of new names cannot push the blocking records out...
        for i in 0..100 {
            assert!(
                t.reserve(vec![unknown_name_key(&format!("flood-{i}"))])
                    .is_err()
            );
        }
        assert!(t.reserve(vec![account_key("victim")]).is_err());
        // ...until their blocks end.
        clock.store(10_000, Ordering::SeqCst);
        assert!(t.reserve(vec![unknown_name_key("flood-0")]).is_ok());
    }
}

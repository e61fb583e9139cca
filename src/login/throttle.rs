//! Per-account throttling of failed logins: exponential back-off, capped, in bounded memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
/// stalest record is dropped, so a flood of random usernames cannot grow the table.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottlePolicy {
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

    /// Sets the first and the longest delay.
    #[must_use]
    pub fn delays(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_delay = max.max(base);
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

    fn delay(&self, failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(self.free_failures)?.checked_sub(1)?;
        let factor = 1u32.checked_shl(over.min(31)).unwrap_or(u32::MAX);
        Some(self.base_delay.saturating_mul(factor).min(self.max_delay))
    }
}

#[derive(Debug)]
struct Record {
    failures: u32,
    blocked_until: Option<Instant>,
    last_failure: Instant,
}

#[derive(Debug)]
pub(crate) struct Throttle {
    policy: ThrottlePolicy,
    records: Mutex<HashMap<Box<str>, Record>>,
}

impl Throttle {
    pub(crate) fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            records: Mutex::new(HashMap::new()),
        }
    }

    fn key(username: &str) -> String {
        // Case variants of a name count as one account, whatever the store does with them.
        username.to_lowercase()
    }

    /// `Err(retry_after)` while the account is blocked.
    pub(crate) fn check(&self, username: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        match records.get(Self::key(username).as_str()) {
            Some(Record {
                blocked_until: Some(until),
                ..
            }) if *until > now => Err(*until - now),
            _ => Ok(()),
        }
    }

    pub(crate) fn failure(&self, username: &str) {
        let now = Instant::now();
        let key = Self::key(username);
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if !records.contains_key(key.as_str()) && records.len() >= self.policy.capacity {
            let forget = self.policy.forget_after;
            records.retain(|_, r| now.duration_since(r.last_failure) < forget);
            if records.len() >= self.policy.capacity
                && let Some(stalest) = records
                    .iter()
                    .min_by_key(|(_, r)| r.last_failure)
                    .map(|(k, _)| k.clone())
            {
                records.remove(&stalest);
            }
        }
        let record = records.entry(key.into()).or_insert(Record {
            failures: 0,
            blocked_until: None,
            last_failure: now,
        });
        if now.duration_since(record.last_failure) >= self.policy.forget_after {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.last_failure = now;
        record.blocked_until = self.policy.delay(record.failures).map(|d| now + d);
    }

    pub(crate) fn success(&self, username: &str) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.remove(Self::key(username).as_str());
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.records.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let t = Throttle::new(ThrottlePolicy::default().free_failures(1));
        t.failure("Ada");
        assert!(t.check("ada").is_ok());
        t.failure("ada");
        let wait = t.check("ADA").unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO);
        assert!(t.check("bob").is_ok());
        t.success("ada");
        assert!(t.check("ada").is_ok());
    }

    #[test]
    fn random_usernames_cannot_grow_the_table_past_its_capacity() {
        let t = Throttle::new(ThrottlePolicy::default().capacity(100));
        for i in 0..10_000 {
            t.failure(&format!("user-{i}"));
        }
        assert_eq!(t.len(), 100);
        // The newest records are the ones kept.
        t.failure("user-9999");
        assert!(t.len() <= 100);
    }
}

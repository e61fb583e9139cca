//! One issuer's keys: the state machine of fetching them.
//!
//! The request path reads two atomics (whether there are keys, and until when they may be
//! served) and the key store (an atomic load); it takes the state's mutex only on the rare
//! paths (an unknown `kid`, a refusal), and never across I/O. Fetches run in tasks of their
//! own, one at a time per issuer (single flight): a request that needs one joins it through a
//! watch channel, and a request that goes away does not cancel it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use http::HeaderValue;
use serde::Deserialize;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::time::Instant;

use super::config::{
    IssuerConfig, KeysFrom, MAX_DISCOVERY_BYTES, MAX_JWKS_BYTES, MAX_KEYS, MAX_REFRESH_INTERVAL,
    MIN_REFRESH_INTERVAL, check_url, discovery_urls,
};
use super::fetch::{Client, get};
use super::import::{Imported, import};
use super::{IssuerStats, RemoteError};
use crate::layer::auth::{KeySource, KeysWait, Resolution, SourceWait};
use crate::verify::error::{AuthError, ErrorKind};
use crate::verify::jws;
use crate::verify::keys::{KeySet, KeyStore};
use crate::verify::verifier::Verifier;

/// The longest back-off between failed fetches.
const MAX_BACKOFF: Duration = Duration::from_secs(64);

/// What the mutex guards: nothing the request path reads on its way.
struct State {
    /// Where the keys are: configured, or found by discovery (forgotten on a 404 or 410).
    jwks_uri: Option<Arc<str>>,
    etag: Option<HeaderValue>,
    fingerprint: Vec<String>,
    keys: usize,
    last_success: Option<Instant>,
    last_attempt: Option<Instant>,
    /// When the current keys are due for a refresh (`max-age`, or the refresh interval).
    expires: Option<Instant>,
    consecutive_failures: u32,
    last_error: Option<RemoteError>,
    /// When the background task fetches next.
    next_refresh: Instant,
    /// When the unknown-`kid` refetches of the current window started.
    budget: VecDeque<Instant>,
}

/// A successful fetch.
enum Outcome {
    NotModified {
        max_age: Option<Duration>,
    },
    Keys {
        imported: Imported,
        etag: Option<HeaderValue>,
        max_age: Option<Duration>,
    },
}

/// One issuer's keys and rules, and the state of fetching them.
pub(crate) struct Source {
    pub(crate) config: IssuerConfig,
    verifier: Verifier,
    client: Client,
    runtime: Handle,
    me: Weak<Source>,
    epoch: Instant,
    /// Milliseconds after `epoch` past which the keys are refused; 0 while there are none.
    refuse_after: AtomicU64,
    fetching: AtomicBool,
    /// The number of fetches completed: what waiting requests watch.
    done: watch::Sender<u64>,
    /// Tells the refresh task to read its schedule again; dropped with the source, which ends
    /// the task.
    wake: watch::Sender<()>,
    state: Mutex<State>,
    fetches: AtomicU64,
    unknown_kid_refreshes: AtomicU64,
    refused_refreshes: AtomicU64,
}

impl Source {
    /// A source for `config`, whose background refresh starts at once on `runtime`.
    pub(crate) fn start(config: IssuerConfig, client: Client, runtime: Handle) -> Arc<Self> {
        let now = Instant::now();
        let mut verifier =
            Verifier::from_parts(KeyStore::new(KeySet::empty()), config.validation.clone());
        if let Some(capacity) = config.cache_capacity {
            verifier = verifier.cache_verified_tokens(capacity);
        }
        let jwks_uri = match &config.from {
            KeysFrom::Jwks(url) => Some(Arc::clone(url)),
            KeysFrom::Discovery => None,
        };
        let source = Arc::new_cyclic(|me| Self {
            config,
            verifier,
            client,
            runtime: runtime.clone(),
            me: me.clone(),
            epoch: now,
            refuse_after: AtomicU64::new(0),
            fetching: AtomicBool::new(false),
            done: watch::Sender::new(0),
            wake: watch::Sender::new(()),
            state: Mutex::new(State {
                jwks_uri,
                etag: None,
                fingerprint: Vec::new(),
                keys: 0,
                last_success: None,
                last_attempt: None,
                expires: None,
                consecutive_failures: 0,
                last_error: None,
                next_refresh: now,
                budget: VecDeque::new(),
            }),
            fetches: AtomicU64::new(0),
            unknown_kid_refreshes: AtomicU64::new(0),
            refused_refreshes: AtomicU64::new(0),
        });
        runtime.spawn(refresh_task(
            Arc::downgrade(&source),
            source.wake.subscribe(),
        ));
        source
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held left plain data behind: keep using it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether there are keys that may be served now.
    pub(crate) fn is_ready(&self) -> bool {
        let refuse_after = self.refuse_after.load(Ordering::Acquire);
        refuse_after != 0 && self.millis(Instant::now()) <= refuse_after
    }

    /// What a request for this issuer does: verify now, wait for the first keys, or be refused.
    pub(crate) fn resolution(&self) -> Resolution<'_> {
        let refuse_after = self.refuse_after.load(Ordering::Acquire);
        if refuse_after == 0 {
            return Resolution::Wait(self.wait_for_first_keys());
        }
        if self.millis(Instant::now()) > refuse_after {
            return Resolution::Refused(self.unavailable());
        }
        Resolution::Ready(self)
    }

    /// 503, with the seconds until the next attempt as `Retry-After`.
    fn unavailable(&self) -> AuthError {
        let wait = self
            .state()
            .next_refresh
            .saturating_duration_since(Instant::now());
        AuthError::new(ErrorKind::KeysUnavailable)
            .with_retry_after(wait.as_secs_f64().ceil() as u64)
    }

    fn arc(&self) -> Arc<Self> {
        self.me
            .upgrade()
            .expect("a source is only used through its Arc")
    }

    /// Waits (at most the fetch deadline) for the first keys; starts no fetch of its own, so
    /// that requests arriving while the issuer is down do not add to the back-off's.
    fn wait_for_first_keys(&self) -> SourceWait {
        let me = self.arc();
        Box::pin(async move {
            let mut done = me.done.subscribe();
            let _ = tokio::time::timeout(me.config.fetch_timeout, async {
                while me.refuse_after.load(Ordering::Acquire) == 0 {
                    if done.changed().await.is_err() {
                        return;
                    }
                }
            })
            .await;
            if me.is_ready() {
                Ok(me as Arc<dyn KeySource>)
            } else {
                Err(me.unavailable())
            }
        })
    }

    /// Takes one unknown-`kid` refetch from the budget, if it has one left.
    fn take_budget(&self) -> bool {
        let now = Instant::now();
        let window = self.config.unknown_kid_window;
        let mut state = self.state();
        while state
            .budget
            .front()
            .is_some_and(|start| now.saturating_duration_since(*start) >= window)
        {
            state.budget.pop_front();
        }
        if state.budget.len() < self.config.unknown_kid_fetches as usize {
            state.budget.push_back(now);
            true
        } else {
            false
        }
    }

    /// Starts a fetch unless one is in flight.
    fn start_fetch(&self) {
        if self
            .fetching
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let me = self.arc();
            self.runtime.spawn(async move {
                let outcome = me.fetch_once().await;
                me.record(outcome);
                me.fetching.store(false, Ordering::Release);
                me.done.send_modify(|n| *n += 1);
                me.wake.send_replace(());
            });
        }
    }

    /// Starts a fetch unless one is in flight, and waits for the one in flight to end; its
    /// outcome.
    pub(crate) async fn fetch_now(&self) -> Result<(), RemoteError> {
        let mut done = self.done.subscribe();
        self.start_fetch();
        let _ = done.changed().await;
        self.last_outcome()
    }

    /// Waits for the first fetch to end (at once if one has); its outcome.
    pub(crate) async fn first_fetch(&self) -> Result<(), RemoteError> {
        let mut done = self.done.subscribe();
        while *done.borrow_and_update() == 0 {
            if done.changed().await.is_err() {
                break;
            }
        }
        self.last_outcome()
    }

    /// Waits until there are keys.
    pub(crate) async fn ready(&self) {
        let mut done = self.done.subscribe();
        while !self.is_ready() {
            if done.changed().await.is_err() {
                return;
            }
        }
    }

    fn last_outcome(&self) -> Result<(), RemoteError> {
        match &self.state().last_error {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// One fetch: discovery first if the JWKS URL is not known, then the JWKS.
    async fn fetch_once(&self) -> Result<Outcome, RemoteError> {
        let (known, etag) = {
            let state = self.state();
            (state.jwks_uri.clone(), state.etag.clone())
        };
        let url = match known {
            Some(url) => url,
            None => {
                let url = self.discover().await?;
                self.state().jwks_uri = Some(Arc::clone(&url));
                url
            }
        };
        self.fetches.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(issuer = %self.config.issuer, url = %url, "fetching the JWKS");
        let fetched = get(
            &self.client,
            &url,
            etag.as_ref(),
            MAX_JWKS_BYTES,
            self.config.fetch_timeout,
        )
        .await;
        let fetched = match fetched {
            Err(error @ RemoteError::Status(404 | 410))
                if self.config.from == KeysFrom::Discovery =>
            {
                // The document may have moved: discover it again next time.
                let mut state = self.state();
                state.jwks_uri = None;
                state.etag = None;
                return Err(error);
            }
            other => other?,
        };
        match fetched.body {
            None => Ok(Outcome::NotModified {
                max_age: fetched.max_age,
            }),
            Some(body) => Ok(Outcome::Keys {
                imported: import(
                    &self.config.issuer,
                    &body,
                    self.config.rsa_algorithm,
                    self.config.validation.algorithms,
                    MAX_KEYS,
                )?,
                etag: fetched.etag,
                max_age: fetched.max_age,
            }),
        }
    }

    /// The JWKS URL from the issuer's discovery document.
    async fn discover(&self) -> Result<Arc<str>, RemoteError> {
        #[derive(Deserialize)]
        struct Document {
            issuer: String,
            jwks_uri: String,
        }
        for url in discovery_urls(&self.config.issuer) {
            self.fetches.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(issuer = %self.config.issuer, url = %url, "fetching discovery");
            let fetched = get(
                &self.client,
                &url,
                None,
                MAX_DISCOVERY_BYTES,
                self.config.fetch_timeout,
            )
            .await;
            let body = match fetched {
                Err(RemoteError::Status(404 | 410)) => continue,
                Err(error) => return Err(error),
                Ok(fetched) => fetched.body.unwrap_or_default(),
            };
            let document: Document = serde_json::from_slice(&body)
                .map_err(|e| RemoteError::InvalidJson(e.to_string()))?;
            if document.issuer != *self.config.issuer {
                return Err(RemoteError::IssuerMismatch {
                    expected: self.config.issuer.to_string(),
                    found: document.issuer,
                });
            }
            check_url(&document.jwks_uri)
                .map_err(|_| RemoteError::InsecureUrl(document.jwks_uri.clone()))?;
            return Ok(document.jwks_uri.into());
        }
        Err(RemoteError::NoDiscoveryDocument)
    }

    /// Records a fetch's outcome: new keys (or the same kept), the schedule, the back-off.
    fn record(&self, outcome: Result<Outcome, RemoteError>) {
        let now = Instant::now();
        let issuer = &*self.config.issuer;
        let mut state = self.state();
        state.last_attempt = Some(now);
        match outcome {
            Ok(outcome) => {
                let max_age = match outcome {
                    Outcome::NotModified { max_age } => {
                        tracing::debug!(issuer, "the JWKS is not modified");
                        max_age
                    }
                    Outcome::Keys {
                        imported,
                        etag,
                        max_age,
                    } => {
                        if imported.fingerprint == state.fingerprint {
                            // The same keys: the same set, so the verified-token cache stays.
                            tracing::debug!(issuer, "the JWKS holds the same keys");
                        } else {
                            tracing::info!(
                                issuer,
                                keys = imported.fingerprint.len(),
                                "new keys from the JWKS"
                            );
                            state.keys = imported.fingerprint.len();
                            state.fingerprint = imported.fingerprint;
                            self.verifier.keys().replace(imported.set);
                        }
                        state.etag = etag;
                        max_age
                    }
                };
                let lifetime = max_age.map_or(self.config.refresh_interval, |age| {
                    age.clamp(MIN_REFRESH_INTERVAL, MAX_REFRESH_INTERVAL)
                });
                state.last_success = Some(now);
                state.consecutive_failures = 0;
                state.last_error = None;
                state.expires = Some(now + lifetime);
                state.next_refresh = now + jitter(lifetime);
                self.refuse_after.store(
                    self.millis(now + lifetime + self.config.max_stale).max(1),
                    Ordering::Release,
                );
            }
            Err(error) => {
                state.consecutive_failures += 1;
                let backoff = Duration::from_secs(1 << (state.consecutive_failures - 1).min(6))
                    .min(MAX_BACKOFF)
                    .min(self.config.refresh_interval);
                tracing::warn!(
                    issuer,
                    error = %error,
                    failures = state.consecutive_failures,
                    retry_in = ?backoff,
                    "fetching keys failed; serving the last good keys, if any"
                );
                state.last_error = Some(error);
                state.next_refresh = now + backoff;
            }
        }
    }

    /// A snapshot of the state and counters.
    pub(crate) fn stats(&self) -> IssuerStats {
        let now = Instant::now();
        let state = self.state();
        IssuerStats {
            issuer: Arc::clone(&self.config.issuer),
            since_last_success: state.last_success.map(|at| now - at),
            since_last_attempt: state.last_attempt.map(|at| now - at),
            consecutive_failures: state.consecutive_failures,
            keys: state.keys,
            stale: state.expires.is_some_and(|at| now > at),
            ready: self.is_ready(),
            fetches: self.fetches.load(Ordering::Relaxed),
            unknown_kid_refreshes: self.unknown_kid_refreshes.load(Ordering::Relaxed),
            refused_refreshes: self.refused_refreshes.load(Ordering::Relaxed),
            last_error: state.last_error.clone(),
        }
    }

    /// The verifier holding this issuer's keys and rules.
    pub(crate) fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

impl KeySource for Source {
    fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    fn refetch(&self, token: &[u8]) -> Option<KeysWait> {
        // Only for a token naming this issuer: no I/O is spent on another's.
        let ours = jws::with_unverified_issuer(token, |iss| iss == Some(&*self.config.issuer));
        if ours != Ok(true) {
            return None;
        }
        let mut done = self.done.subscribe();
        if !self.fetching.load(Ordering::Acquire) {
            if !self.take_budget() {
                self.refused_refreshes.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    issuer = %self.config.issuer,
                    "unknown kid, and the refetch budget is spent: refused at once"
                );
                return None;
            }
            self.unknown_kid_refreshes.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(issuer = %self.config.issuer, "unknown kid: refetching the JWKS");
            self.start_fetch();
        }
        // Discovery and the JWKS, each within the deadline.
        let deadline = self.config.fetch_timeout * 2;
        Some(Box::pin(async move {
            let _ = tokio::time::timeout(deadline, done.changed()).await;
        }))
    }
}

/// `delay`, less up to a tenth of it at random: issuers' refreshes do not fall in step.
fn jitter(delay: Duration) -> Duration {
    let mut bytes = [0; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return delay;
    }
    let fraction = u64::from_le_bytes(bytes) as f64 / u64::MAX as f64;
    delay.mul_f64(1.0 - fraction / 10.0)
}

/// The background refresh of one source: fetches when due, and ends when the source is
/// dropped (its `wake` sender with it). It holds the source only while fetching.
async fn refresh_task(source: Weak<Source>, mut wake: watch::Receiver<()>) {
    loop {
        let Some(due) = source.upgrade().map(|s| s.state().next_refresh) else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep_until(due) => {
                let Some(source) = source.upgrade() else { return };
                let _ = source.fetch_now().await;
            }
            changed = wake.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

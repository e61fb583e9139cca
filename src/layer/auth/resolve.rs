//! Keys chosen per request: the hook through which a source of keys that changes while serving
//! (the `remote` feature's fetched key sets) tells the layer which [`Verifier`] checks a token,
//! and lets a request wait for keys, never behind a lock.
//!
//! The layer knows nothing of where the keys come from: it asks [`Resolve::resolve`] once per
//! request, verifies, and asks [`KeySource::refetch`] once when the token names a key the set
//! lacks.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::verify::error::{AuthError, ErrorKind};
use crate::verify::revocation::Revocation;
use crate::verify::verifier::{Checked, Verifier};

/// A wait for keys that ends when a fetch is over, whatever its outcome.
pub(crate) type KeysWait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A wait for an issuer's first keys: its source, or the refusal (503 past the deadline).
pub(crate) type SourceWait =
    Pin<Box<dyn Future<Output = Result<Arc<dyn KeySource>, AuthError>> + Send>>;

/// One issuer's keys and rules.
pub(crate) trait KeySource: Send + Sync + 'static {
    /// The verifier holding the issuer's current keys and rules.
    fn verifier(&self) -> &Verifier;

    /// The token names a key (or an algorithm) the current set lacks: a wait for a fetch (joined, or started if
    /// the issuer's budget allows), or `None` when none may start (the request is refused at
    /// once, never made to wait for the budget).
    /// `token` is passed so that the source can make sure it names this issuer before it
    /// spends any I/O on it; nothing of it goes into a request.
    fn refetch(&self, token: &[u8]) -> Option<KeysWait>;
}

/// Where a request's keys come from.
pub(crate) trait Resolve: Send + Sync + 'static {
    /// The source for `token` (chosen by its unverified `iss` when there are several), a
    /// refusal that costs no I/O (an unknown issuer, keys too old), or a wait for first keys.
    fn resolve(&self, token: &[u8]) -> Resolution<'_>;

    /// The source of every token, when there is only one and it may serve now: what a
    /// verified-token cache hit is looked up in without reading the token. `None` otherwise
    /// (the request then goes through [`resolve`](Self::resolve)).
    fn only_ready(&self) -> Option<&dyn KeySource> {
        None
    }
}

/// What [`Resolve::resolve`] answers.
pub(crate) enum Resolution<'a> {
    /// Verify with this source's keys now.
    Ready(&'a dyn KeySource),
    /// Refuse the request.
    Refused(AuthError),
    /// The issuer has no keys yet: wait (at most the fetch deadline).
    Wait(SourceWait),
}

/// The claims of a request checked after a wait, ready to go into its extensions: the future
/// that waited knows the claims type, the response future does not.
pub(crate) type InsertClaims = Box<dyn FnOnce(&mut http::Extensions) + Send>;

/// A request's check that waits for keys first.
pub(crate) type PendingCheck = Pin<Box<dyn Future<Output = Waited> + Send>>;

/// What a check that waited for keys found.
pub(crate) struct Waited {
    /// The check's answer.
    pub(crate) answer: Result<Checked<InsertClaims>, AuthError>,
    /// Whether the verifier that answered keeps the verified-token cache: the decision then
    /// says `hit` or `miss`, as for a check made at once (`false` when no keys came, so no
    /// verifier was asked).
    pub(crate) cache_asked: bool,
}

/// Checks `token` with `source`, once more after a refetch if its key is unknown.
fn check_with<C>(
    source: &dyn KeySource,
    token: &[u8],
    revocation: Option<&dyn Revocation>,
) -> Result<Checked<Arc<C>>, (AuthError, Option<KeysWait>)>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    match source.verifier().check_shared::<C>(token, revocation) {
        // A key the set lacks, or of an algorithm none of its keys has (a rotation to a new
        // algorithm): the issuer may have published it since.
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::UnknownKey | ErrorKind::DisallowedAlgorithm
            ) =>
        {
            Err((error, source.refetch(token)))
        }
        Err(error) => Err((error, None)),
        Ok(checked) => Ok(checked),
    }
}

fn boxed<C: Send + Sync + 'static>(checked: Checked<Arc<C>>) -> Checked<InsertClaims> {
    let claims = checked.claims;
    Checked {
        claims: Box::new(move |extensions: &mut http::Extensions| {
            extensions.insert(claims);
        }),
        scope_error: checked.scope_error,
        pending: checked.pending,
        cache_hit: checked.cache_hit,
    }
}

/// The outcome of checking `token` against `source` now: the checked token, a refusal, or a
/// check that waits for a refetch first.
pub(crate) fn check_now<C>(
    source: &dyn KeySource,
    token: &[u8],
    revocation: Option<&Arc<dyn Revocation>>,
) -> Result<Result<Checked<Arc<C>>, AuthError>, PendingCheck>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    match check_with::<C>(source, token, revocation.map(|r| &**r)) {
        Ok(checked) => Ok(Ok(checked)),
        Err((error, None)) => Ok(Err(error)),
        Err((_, Some(wait))) => {
            let verifier = source.verifier().clone();
            let token = token.to_vec();
            let revocation = revocation.cloned();
            Err(Box::pin(async move {
                wait.await;
                let answer = verifier
                    .check_shared::<C>(&token, revocation.as_deref())
                    .map(boxed);
                Waited {
                    answer,
                    cache_asked: verifier.caches(),
                }
            }))
        }
    }
}

/// A check that waits for the issuer's first keys, then checks `token` (and, if its key is
/// still unknown, waits for one refetch more if the budget allows).
pub(crate) fn check_after<C>(
    wait: SourceWait,
    token: &[u8],
    revocation: Option<&Arc<dyn Revocation>>,
) -> PendingCheck
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    let token = token.to_vec();
    let revocation = revocation.cloned();
    Box::pin(async move {
        let source = match wait.await {
            Ok(source) => source,
            Err(error) => {
                return Waited {
                    answer: Err(error),
                    cache_asked: false,
                };
            }
        };
        let answer = match check_with::<C>(&*source, &token, revocation.as_deref()) {
            Ok(checked) => Ok(boxed(checked)),
            Err((error, None)) => Err(error),
            Err((_, Some(refetch))) => {
                refetch.await;
                source
                    .verifier()
                    .check_shared::<C>(&token, revocation.as_deref())
                    .map(boxed)
            }
        };
        Waited {
            answer,
            cache_asked: source.verifier().caches(),
        }
    })
}

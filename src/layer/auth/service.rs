use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::resolve::{self, Resolution, Resolve};
use super::{Config, PendingCheck};
use crate::layer::body::ResponseBody;
use crate::layer::decision::Decision;
use crate::layer::extract::{self, Credential};
use crate::layer::rejection::{DefaultRejection, OnRejection};
use crate::layer::{ResponseFuture, reject};
use crate::verify::claims::Claims;
use crate::verify::error::AuthError;
use crate::verify::verifier::{Checked, PendingRevocation};

/// Middleware that verifies bearer JWTs; made by [`JwtAuthLayer`](crate::JwtAuthLayer).
pub struct JwtAuth<S, C = Claims, R = DefaultRejection> {
    pub(super) inner: S,
    pub(super) config: Arc<Config>,
    pub(super) on_rejection: R,
    pub(super) _claims: PhantomData<fn() -> C>,
}

impl<S, C, R> JwtAuth<S, C, R> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAuth<S, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    C: DeserializeOwned + Send + Sync + 'static,
    R: OnRejection,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let decision = Decision::start();
        let _entered = decision.enter();
        // The check works on the request in place; the request then moves once, into the
        // future that answers it (each move copies it: 240 bytes with axum's body).
        match self.decide(&mut request, &decision) {
            Step::Inner => ResponseFuture::inner(self.inner.call(request)),
            Step::Rejected(response) => ResponseFuture::rejected(response),
            Step::Keys(check) => ResponseFuture::keys(
                check,
                self.take_ready(),
                request,
                self.on_rejection.clone(),
                decision.clone(),
            ),
            Step::Revocation(check, scope_error) => ResponseFuture::revocation(
                check,
                self.take_ready(),
                request,
                scope_error,
                self.on_rejection.clone(),
                decision.clone(),
            ),
        }
    }
}

/// What the check of a request decided; the request itself stays with the caller.
enum Step {
    /// Pass it on: with its claims inserted, or without any (optional layer, no credential).
    Inner,
    /// Refuse it with this response.
    Rejected(Response<Bytes>),
    /// Wait for the issuer's keys, then check it.
    Keys(PendingCheck),
    /// Wait for the revocation hook (its claims inserted); a scope refusal, if any, comes
    /// after the hook's answer.
    Revocation(PendingRevocation, Option<AuthError>),
}

impl<S, C, R> JwtAuth<S, C, R>
where
    C: DeserializeOwned + Send + Sync + 'static,
    R: OnRejection,
{
    /// The request's check, within its decision's span.
    fn decide<ReqBody>(&self, request: &mut Request<ReqBody>, decision: &Decision) -> Step {
        let config = &*self.config;
        let revocation = config.revocation.as_deref();
        // A token the cache knows: its bytes as sent are those of a token that passed every
        // check, the grammar included; only the clock and the revocation hook are asked again.
        // With keys chosen per request, only a single issuer whose keys may serve now answers
        // so (keys too old, or not there yet, go the full way, which refuses or waits).
        let shortcut = match &config.resolver {
            None => Some(&config.verifier),
            Some(resolver) => resolver.only_ready().map(|source| source.verifier()),
        };
        let candidate = extract::bearer_candidate(request.headers(), config.max_token_len);
        if let Some(candidate) = candidate
            && let Some(verifier) = shortcut
            && verifier.caches()
            && let Some(checked) = verifier.check_hit::<C>(candidate, revocation)
        {
            decision.cache(true);
            return self.proceed(checked, request, decision);
        }
        // With the layer's own keys, a bearer token is checked as it stands, and the b64token
        // grammar is asked only when the check fails, for the refusal it calls for. The answer
        // is the one the grammar first would give: a token that verifies passes the grammar
        // (its three parts decoded as strict base64url, whose alphabet and the two dots are
        // b64token characters, and the candidate leaves out only trailing separators), so a
        // token outside the grammar always fails the check. That is one pass fewer over every
        // token (BENCHMARKS.md, "The grammar after the check"). Keys chosen per request take
        // the grammar first: a malformed token must not get as far as a key fetch.
        if let Some(candidate) = candidate
            && config.resolver.is_none()
        {
            let checked = config.verifier.check_shared::<C>(candidate, revocation);
            if checked.is_err()
                && let Err(kind) = extract::credential(
                    request.method(),
                    request.headers(),
                    &config.sources,
                    config.max_token_len,
                )
            {
                let error = kind.into();
                decision.rejected(&error, false);
                return Step::Rejected(reject(&self.on_rejection, error, request.headers()));
            }
            if config.verifier.caches() {
                decision.note_cache(&checked);
            }
            return self.proceed(checked, request, decision);
        }
        let token = match extract::credential(
            request.method(),
            request.headers(),
            &config.sources,
            config.max_token_len,
        ) {
            Ok(Credential::Token(token)) => token,
            Ok(Credential::Absent(_)) if config.optional => {
                decision.anonymous();
                return Step::Inner;
            }
            Ok(Credential::Absent(kind)) | Err(kind) => {
                let error = kind.into();
                decision.rejected(&error, false);
                return Step::Rejected(reject(&self.on_rejection, error, request.headers()));
            }
        };
        if let Some(resolver) = &config.resolver {
            return match check_resolved::<C>(&**resolver, config, token) {
                Ok((checked, caches)) => {
                    if caches {
                        decision.note_cache(&checked);
                    }
                    self.proceed(checked, request, decision)
                }
                Err(check) => Step::Keys(check),
            };
        }
        let checked = config.verifier.check_shared::<C>(token, revocation);
        if config.verifier.caches() {
            decision.note_cache(&checked);
        }
        self.proceed(checked, request, decision)
    }
}

/// A check's answer, with the claims shared.
type Answer<C> = Result<Checked<Arc<C>>, AuthError>;

/// Checks `token` with the keys `resolver` chooses: at once when they are there (`Ok`, with
/// whether their verifier caches), else a check that waits for them first (first keys, or a
/// refetch for an unknown `kid`).
fn check_resolved<C>(
    resolver: &dyn Resolve,
    config: &Config,
    token: &[u8],
) -> Result<(Answer<C>, bool), PendingCheck>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    let revocation = config.revocation.as_ref();
    match resolver.resolve(token) {
        Resolution::Refused(error) => Ok((Err(error), false)),
        Resolution::Ready(source) => resolve::check_now::<C>(source, token, revocation)
            .map(|checked| (checked, source.verifier().caches())),
        Resolution::Wait(wait) => Err(resolve::check_after::<C>(wait, token, revocation)),
    }
}

impl<S, C, R> JwtAuth<S, C, R>
where
    C: Send + Sync + 'static,
    R: OnRejection,
{
    /// What a checked request gets: passed on with its claims, refused, or a wait for the
    /// revocation hook (its claims inserted already).
    fn proceed<ReqBody>(
        &self,
        checked: Answer<C>,
        request: &mut Request<ReqBody>,
        decision: &Decision,
    ) -> Step {
        match checked {
            Err(error)
            | Ok(Checked {
                scope_error: Some(error),
                pending: None,
                ..
            }) => {
                decision.rejected(&error, true);
                Step::Rejected(reject(&self.on_rejection, error, request.headers()))
            }
            Ok(Checked {
                claims,
                scope_error: None,
                pending: None,
                ..
            }) => {
                decision.accepted();
                request.extensions_mut().insert(claims);
                Step::Inner
            }
            Ok(Checked {
                claims,
                scope_error,
                pending: Some(check),
                ..
            }) => {
                request.extensions_mut().insert(claims);
                Step::Revocation(check, scope_error)
            }
        }
    }
}

impl<S: Clone, C, R> JwtAuth<S, C, R> {
    /// The service `poll_ready` made ready, for a future that calls it later; a clone takes
    /// its place.
    fn take_ready(&mut self) -> S {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}

// Hand-written: a derive would require `C: Clone`, which the marker does not need.
impl<S: Clone, C, R: Clone> Clone for JwtAuth<S, C, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
            on_rejection: self.on_rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<S: fmt::Debug, C, R> fmt::Debug for JwtAuth<S, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("inner", &self.inner)
            .field("verifier", &self.config.verifier)
            .finish_non_exhaustive()
    }
}

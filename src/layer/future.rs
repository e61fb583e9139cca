use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::layer::auth::{PendingCheck, Waited};
use crate::layer::body::ResponseBody;
use crate::layer::decision::Decision;
use crate::layer::reject;
use crate::layer::rejection::OnRejection;
use crate::verify::error::AuthError;
use crate::verify::verifier::{PendingRevocation, revocation_outcome};

pin_project! {
    /// Response future of [`JwtAuth`](super::JwtAuth) and
    /// [`RequireScope`](crate::layer::RequireScope).
    pub struct ResponseFuture<S, ReqBody, R>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody, R>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, R>
    where
        S: Service<Request<ReqBody>>,
    {
        Inner {
            #[pin]
            future: S::Future,
        },
        Rejected {
            response: Option<Response<Bytes>>,
        },
        // Boxed: only an asynchronous revocation hook gets here, and it allocated its future
        // already; unboxed, the service and the request would make every future larger.
        Revocation {
            waiting: Box<Waiting<S, ReqBody, R>>,
        },
        // Boxed likewise: only a request waiting for fetched keys gets here.
        Keys {
            waiting: Box<WaitingKeys<S, ReqBody, R>>,
        },
    }
}

/// A request waiting for its issuer's keys, then checked.
struct WaitingKeys<S, ReqBody, R> {
    check: PendingCheck,
    pending: Option<(S, Request<ReqBody>)>,
    on_rejection: R,
    decision: Decision,
}

/// A request waiting for the revocation hook's answer.
struct Waiting<S, ReqBody, R> {
    check: PendingRevocation,
    pending: Option<(S, Request<ReqBody>)>,
    scope_error: Option<AuthError>,
    on_rejection: R,
    decision: Decision,
}

impl<S, ReqBody, R> ResponseFuture<S, ReqBody, R>
where
    S: Service<Request<ReqBody>>,
{
    pub(crate) fn keys(
        check: PendingCheck,
        service: S,
        request: Request<ReqBody>,
        on_rejection: R,
        decision: Decision,
    ) -> Self {
        Self {
            state: State::Keys {
                waiting: Box::new(WaitingKeys {
                    check,
                    pending: Some((service, request)),
                    on_rejection,
                    decision,
                }),
            },
        }
    }

    pub(crate) fn inner(future: S::Future) -> Self {
        Self {
            state: State::Inner { future },
        }
    }

    pub(crate) fn rejected(response: Response<Bytes>) -> Self {
        Self {
            state: State::Rejected {
                response: Some(response),
            },
        }
    }

    pub(crate) fn revocation(
        check: PendingRevocation,
        service: S,
        request: Request<ReqBody>,
        scope_error: Option<AuthError>,
        on_rejection: R,
        decision: Decision,
    ) -> Self {
        Self {
            state: State::Revocation {
                waiting: Box::new(Waiting {
                    check,
                    pending: Some((service, request)),
                    scope_error,
                    on_rejection,
                    decision,
                }),
            },
        }
    }
}

impl<S, ReqBody, ResBody, R> Future for ResponseFuture<S, ReqBody, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    R: OnRejection,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Inner { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Rejected { response } => {
                    let response = response.take().expect("polled after completion");
                    return Poll::Ready(Ok(response.map(ResponseBody::full)));
                }
                StateProj::Revocation { waiting } => {
                    let Waiting {
                        check,
                        pending,
                        scope_error,
                        on_rejection,
                        decision,
                    } = &mut **waiting;
                    let _entered = decision.enter();
                    let answer = ready!(check.as_mut().poll(cx));
                    let (mut service, request) = pending.take().expect("polled after completion");
                    let outcome = revocation_outcome(answer)
                        .and_then(|()| scope_error.take().map_or(Ok(()), Err));
                    match outcome {
                        Ok(()) => {
                            decision.accepted();
                            State::Inner {
                                future: service.call(request),
                            }
                        }
                        Err(error) => {
                            decision.rejected(&error, true);
                            State::Rejected {
                                response: Some(reject(on_rejection, error, request.headers())),
                            }
                        }
                    }
                }
                StateProj::Keys { waiting } => {
                    let WaitingKeys {
                        check,
                        pending,
                        on_rejection,
                        decision,
                    } = &mut **waiting;
                    let _entered = decision.enter();
                    let Waited {
                        answer,
                        cache_asked,
                    } = ready!(check.as_mut().poll(cx));
                    if cache_asked {
                        decision.note_cache(&answer);
                    }
                    let (service, mut request) = pending.take().expect("polled after completion");
                    match answer {
                        Err(error) => {
                            decision.rejected(&error, true);
                            State::Rejected {
                                response: Some(reject(on_rejection, error, request.headers())),
                            }
                        }
                        Ok(checked) => {
                            (checked.claims)(request.extensions_mut());
                            Self::after_check(
                                service,
                                request,
                                checked.scope_error,
                                checked.pending,
                                on_rejection.clone(),
                                decision,
                            )
                        }
                    }
                }
            };
            state.set(next);
        }
    }
}

impl<S, ReqBody, ResBody, R> ResponseFuture<S, ReqBody, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    R: OnRejection,
{
    /// The state after a check: the revocation hook's wait, a refusal, or the inner service.
    fn after_check(
        mut service: S,
        request: Request<ReqBody>,
        scope_error: Option<AuthError>,
        revocation: Option<PendingRevocation>,
        on_rejection: R,
        decision: &Decision,
    ) -> State<S, ReqBody, R> {
        match (revocation, scope_error) {
            (Some(check), scope_error) => State::Revocation {
                waiting: Box::new(Waiting {
                    check,
                    pending: Some((service, request)),
                    scope_error,
                    on_rejection,
                    decision: decision.clone(),
                }),
            },
            (None, Some(error)) => {
                decision.rejected(&error, true);
                State::Rejected {
                    response: Some(reject(&on_rejection, error, request.headers())),
                }
            }
            (None, None) => {
                decision.accepted();
                State::Inner {
                    future: service.call(request),
                }
            }
        }
    }
}

impl<S, ReqBody, R> fmt::Debug for ResponseFuture<S, ReqBody, R>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::layer::body::ResponseBody;
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
    }
}

/// A request waiting for the revocation hook's answer.
struct Waiting<S, ReqBody, R> {
    check: PendingRevocation,
    pending: Option<(S, Request<ReqBody>)>,
    scope_error: Option<AuthError>,
    on_rejection: R,
}

impl<S, ReqBody, R> ResponseFuture<S, ReqBody, R>
where
    S: Service<Request<ReqBody>>,
{
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
    ) -> Self {
        Self {
            state: State::Revocation {
                waiting: Box::new(Waiting {
                    check,
                    pending: Some((service, request)),
                    scope_error,
                    on_rejection,
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
                    } = &mut **waiting;
                    let answer = ready!(check.as_mut().poll(cx));
                    let (mut service, request) = pending.take().expect("polled after completion");
                    let outcome = revocation_outcome(answer)
                        .and_then(|()| scope_error.take().map_or(Ok(()), Err));
                    match outcome {
                        Ok(()) => State::Inner {
                            future: service.call(request),
                        },
                        Err(error) => State::Rejected {
                            response: Some(reject(on_rejection, error, request.headers())),
                        },
                    }
                }
            };
            state.set(next);
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

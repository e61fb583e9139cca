//! Reading the verified claims from a request, whatever the framework.

use std::sync::Arc;

use http::Extensions;
use http::request::{Parts, Request};

/// Reads the claims a [`JwtAuthLayer`](crate::JwtAuthLayer) verified, from an
/// [`http::Request`], its [`Parts`] or its [`Extensions`].
///
/// The layer stores them as an `Arc<C>` (shared with the cache and every reader, never
/// copied); this reads them as `&C`, so that code does not depend on how they are stored. `C`
/// must be the layer's claims type (by default [`Claims`](crate::Claims)); `None` when the
/// request went through no layer, through an [optional](crate::JwtAuthLayer::optional) one
/// without a token, or when `C` is another type.
///
/// ```
/// use tower_jwt_auth::{Claims, ClaimsExt};
///
/// fn subject<B>(request: &http::Request<B>) -> Option<&str> {
///     request.claims::<Claims>()?.sub.as_deref()
/// }
/// # assert_eq!(subject(&http::Request::new(())), None);
/// ```
///
/// Sealed: implemented for the three types above only.
pub trait ClaimsExt: sealed::Sealed {
    /// The claims of type `C` the layer verified for this request, if any.
    fn claims<C: Send + Sync + 'static>(&self) -> Option<&C>;
}

impl ClaimsExt for Extensions {
    fn claims<C: Send + Sync + 'static>(&self) -> Option<&C> {
        self.get::<Arc<C>>().map(Arc::as_ref)
    }
}

impl ClaimsExt for Parts {
    fn claims<C: Send + Sync + 'static>(&self) -> Option<&C> {
        self.extensions.claims()
    }
}

impl<B> ClaimsExt for Request<B> {
    fn claims<C: Send + Sync + 'static>(&self) -> Option<&C> {
        self.extensions().claims()
    }
}

mod sealed {
    #[allow(unreachable_pub)] // Public in a private module: the usual sealed-trait pattern.
    pub trait Sealed {}

    impl Sealed for http::Extensions {}
    impl Sealed for http::request::Parts {}
    impl<B> Sealed for http::Request<B> {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Claims;

    #[test]
    fn claims_are_read_through_the_arc_the_layer_stores() {
        let mut request = Request::new(());
        assert!(request.claims::<Claims>().is_none());
        request.extensions_mut().insert(Arc::new(Claims {
            sub: Some("ada".into()),
            ..Claims::default()
        }));
        assert_eq!(
            request.claims::<Claims>().and_then(|c| c.sub.as_deref()),
            Some("ada")
        );
        assert!(request.claims::<String>().is_none());
        let (parts, ()) = request.into_parts();
        assert!(parts.claims::<Claims>().is_some());
        assert!(parts.extensions.claims::<Claims>().is_some());
    }
}

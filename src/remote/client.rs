//! The default HTTP client (feature `remote-client`): hyper-util over rustls.
//!
//! Certificates are checked against the operating system's trust store when it holds any
//! (`rustls-native-certs`: `/etc/ssl/certs`, the macOS keychain, the Windows store, or
//! `SSL_CERT_FILE`/`SSL_CERT_DIR`), else against the bundled Mozilla roots (`webpki-roots`), as
//! in a minimal container. The rustls configuration names its crypto provider (ring)
//! explicitly: the crate never installs a process-wide default, so it neither conflicts with
//! nor depends on the application's choice.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;

use super::{RemoteConfigError, RequestBody};

/// The connect deadline of the default client: 2 s. The crate's own total deadline
/// ([`DEFAULT_FETCH_TIMEOUT`](super::DEFAULT_FETCH_TIMEOUT)) bounds the rest of an exchange.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The default client's type: hyper-util's pooled client over an https-or-http connector.
/// http is only ever used for loopback hosts: the URL rules of [`IssuerConfig`](super::IssuerConfig)
/// refuse it elsewhere.
pub type DefaultClient = Client<HttpsConnector<HttpConnector>, RequestBody>;

/// Where the default client's trust anchors came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustAnchors {
    /// The operating system's trust store.
    Native,
    /// The bundled Mozilla roots (`webpki-roots`): the system store held no certificate.
    Bundled,
}

/// The trust anchors: the system's when it has any, else the bundled roots.
fn root_store() -> (RootCertStore, TrustAnchors) {
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::debug!(%error, "reading the system trust store");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    if added > 0 {
        tracing::debug!(added, ignored, "trusting the system's certificate store");
        return (roots, TrustAnchors::Native);
    }
    tracing::debug!("no system certificates: trusting the bundled webpki roots");
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    (roots, TrustAnchors::Bundled)
}

/// The default HTTP client: hyper-util (HTTP/1.1) over rustls with the ring provider, TLS 1.2
/// and 1.3, a [`DEFAULT_CONNECT_TIMEOUT`] connect deadline, no redirects followed (the crate
/// refuses them anyway), and the trust anchors of [`TrustAnchors`]. Must be called inside a
/// tokio runtime only to be used, not to be built.
///
/// # Errors
///
/// [`RemoteConfigError::Tls`] when rustls refuses the configuration (not expected with these
/// built-in settings).
pub fn default_client() -> Result<(DefaultClient, TrustAnchors), RemoteConfigError> {
    let (roots, anchors) = root_store();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RemoteConfigError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(DEFAULT_CONNECT_TIMEOUT));
    // The https connector below handles the scheme.
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let client = Client::builder(TokioExecutor::new()).build(connector);
    Ok((client, anchors))
}

//! The default client of feature `remote-client` against an https issuer on loopback: a
//! certificate no trust anchor vouches for is refused; once the system trust store holds it
//! (`SSL_CERT_FILE`, which `rustls-native-certs` reads), the same fetch succeeds.
//!
//! One test in its own binary: it changes the process environment.
#![cfg(all(feature = "remote-client", feature = "issue"))]

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tower_jwt_auth::remote::{IssuerConfig, RemoteError, RemoteKeys, TrustAnchors, default_client};
use tower_jwt_auth::{Algorithm, Claims, SigningKey, TokenIssuer};

const ISSUER: &str = "https://issuer.test";

/// An https server on loopback answering every request with `body`; its address.
async fn https_server(cert: &rcgen::CertifiedKey<rcgen::KeyPair>, body: Bytes) -> String {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |_| {
                    let body = body.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(body)))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    format!("https://{addr}/jwks")
}

#[tokio::test(flavor = "current_thread")]
async fn an_https_issuer_is_trusted_only_through_the_trust_store() {
    let issuer = TokenIssuer::new(SigningKey::generate(Algorithm::ES256).unwrap())
        .issuer(ISSUER)
        .audience("api");
    let jwks = Bytes::from(serde_json::to_vec(&issuer.jwks().unwrap()).unwrap());
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let url = https_server(&cert, jwks).await;
    let config = || {
        IssuerConfig::jwks(ISSUER, url.as_str())
            .unwrap()
            .audience("api")
    };

    // The system's store (or the bundled roots) knows nothing of this certificate.
    let refused = RemoteKeys::with_default_client()
        .unwrap()
        .issuer(config())
        .build_eager()
        .await;
    match refused {
        Err(RemoteError::Transport(why)) => {
            eprintln!("refused: {why}");
            assert!(why.contains("certificate"), "{why}");
        }
        other => panic!("expected the certificate to be refused, got {other:?}"),
    }

    // The trust store is this certificate alone: the same fetch succeeds over https.
    let file = std::env::temp_dir().join(format!("remote-client-tls-{}.pem", std::process::id()));
    std::fs::write(&file, cert.cert.pem()).unwrap();
    // SAFETY: this binary's only test, on a current-thread runtime: no other thread reads the
    // environment meanwhile.
    unsafe { std::env::set_var("SSL_CERT_FILE", &file) };
    let (_, anchors) = default_client().unwrap();
    assert_eq!(anchors, TrustAnchors::Native);
    let keys = RemoteKeys::with_default_client()
        .unwrap()
        .issuer(config())
        .build_eager()
        .await
        .unwrap();
    let token = issuer.issue("ada", ["read"]).unwrap();
    let claims: Claims = keys
        .verifier(ISSUER)
        .unwrap()
        .verify(&token.access_token)
        .unwrap();
    assert_eq!(claims.sub.as_deref(), Some("ada"));
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    let _ = std::fs::remove_file(&file);
}

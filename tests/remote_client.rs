//! The default HTTP client of feature `remote-client`, over real loopback sockets.
#![cfg(all(feature = "remote-client", feature = "issue"))]

use axum::Router;
use tower_jwt_auth::remote::{IssuerConfig, RemoteError, RemoteKeys, TrustAnchors, default_client};
use tower_jwt_auth::{Algorithm, Claims, SigningKey, TokenIssuer};

const ISSUER: &str = "https://issuer.test";

async fn serve(app: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn the_default_client_fetches_keys_over_loopback_http_without_a_global_provider() {
    let issuer = TokenIssuer::new(SigningKey::generate(Algorithm::ES256).unwrap())
        .issuer(ISSUER)
        .audience("api");
    let addr = serve(Router::new().route_service("/jwks", issuer.jwks_service().unwrap())).await;
    let keys = RemoteKeys::with_default_client()
        .unwrap()
        .issuer(
            IssuerConfig::jwks(ISSUER, format!("http://{addr}/jwks"))
                .unwrap()
                .audience("api"),
        )
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
    assert_eq!(keys.stats()[0].fetches, 1);
    // The provider was passed to rustls, never installed for the whole process.
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
}

#[tokio::test]
async fn https_goes_through_tls_and_a_server_that_does_not_speak_it_is_a_transport_error() {
    // A loopback server answering plain HTTP where TLS is expected.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            use tokio::io::AsyncWriteExt;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n{\"keys\":[]}\n")
                .await;
        }
    });
    let (_, anchors) = default_client().unwrap();
    assert!(matches!(
        anchors,
        TrustAnchors::Native | TrustAnchors::Bundled
    ));
    let result = RemoteKeys::with_default_client()
        .unwrap()
        .issuer(IssuerConfig::jwks(ISSUER, format!("https://{addr}/jwks")).unwrap())
        .build_eager()
        .await;
    match result {
        Err(RemoteError::Transport(why)) => assert!(!why.is_empty()),
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
}

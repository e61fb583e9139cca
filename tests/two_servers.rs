//! Over real sockets on loopback, as two processes: the example `axum_server` as issuer (a
//! generated ES256 key, `JWT_ISSUER` set, so JWKS and discovery are published) and the example
//! `resource_server` as verifier, finding the keys by discovery. A token from `POST /login` on
//! the first opens `/me` on the second; after SIGHUP (key rotation) on the issuer, new tokens
//! are accepted without a restart (unknown-`kid` refetch) and old ones keep working during the
//! overlap. Prints the latency the unknown-`kid` refetch adds (`-- --nocapture`).
#![cfg(all(
    unix,
    feature = "axum",
    feature = "login",
    feature = "sqlite",
    feature = "remote"
))]

#[path = "support/examples.rs"]
mod examples;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};

const PASSWORD: &str = "a long demo passphrase";
const AUDIENCE: &str = "my-api";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process, killed when dropped; its output goes to files, shown on failure.
struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn start(name: &'static str, dir: &Path, env: &[(&str, String)]) -> Self {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(examples::example(name));
        command
            .current_dir(dir)
            .env_remove("JWT_SECRET")
            .env_remove("JWT_PRIVATE_KEY_FILE")
            .env_remove("OIDC_ISSUER")
            .env_remove("JWKS_URL")
            .env_remove("JWT_ISSUER")
            .env("RUST_LOG", "info,tower_jwt_auth=debug")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().unwrap();
        Self { name, child, log }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- {} ----\n{}", self.name, self.output());
        }
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    text: String,
}

struct Http(Client<HttpConnector, Full<Bytes>>);

impl Http {
    async fn send(&self, method: Method, url: &str, token: Option<&str>, form: &str) -> Reply {
        let mut request = Request::builder().method(method).uri(url);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if !form.is_empty() {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        let request = request
            .body(Full::new(Bytes::from(form.to_owned())))
            .unwrap();
        let response = self.0.request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text,
        }
    }

    async fn get(&self, url: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, url, token, "").await
    }

    /// Polls `url` until it answers 200 (the server is up, or ready), for at most a minute.
    async fn wait_ok(&self, url: &str, process: &mut Process) {
        let started = Instant::now();
        loop {
            if let Some(status) = process.child.try_wait().unwrap() {
                panic!("{} exited ({status}):\n{}", process.name, process.output());
            }
            let request = Request::get(url).body(Full::new(Bytes::new())).unwrap();
            if let Ok(response) = self.0.request(request).await
                && response.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{url} never answered 200:\n{}",
                process.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn login(&self, issuer: &str) -> String {
        let reply = self
            .send(
                Method::POST,
                &format!("{issuer}/login"),
                None,
                &format!("grant_type=password&username=demo&password={PASSWORD}").replace(' ', "+"),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body["access_token"].as_str().unwrap().to_owned()
    }
}

fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// A 401 `invalid_token`: the challenge names the realm, the RFC 9728 metadata and the error;
/// the body is the RFC 6750 JSON.
#[track_caller]
fn assert_invalid_token(reply: &Reply, metadata: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    let challenge = reply.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with(&format!(
            "Bearer realm=\"api\", resource_metadata=\"{metadata}\", error=\"invalid_token\", error_description=\""
        )),
        "{challenge}"
    );
    assert_eq!(reply.body["error"], "invalid_token", "{}", reply.text);
    assert!(reply.body["error_description"].is_string());
    assert_eq!(reply.body.as_object().unwrap().len(), 2);
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_the_example_issuer_opens_the_resource_server_across_a_key_rotation() {
    let dir = std::env::temp_dir().join(format!(
        "tower-jwt-auth-two-servers-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (issuer_port, resource_port) = (free_port(), free_port());
    let issuer_url = format!("http://127.0.0.1:{issuer_port}");
    let resource_url = format!("http://127.0.0.1:{resource_port}");
    let metadata_url = format!("{resource_url}/.well-known/oauth-protected-resource");
    let http = Http(Client::builder(TokioExecutor::new()).build_http());

    let mut issuer = Process::start(
        "axum_server",
        &dir,
        &[
            ("JWT_ISSUER", issuer_url.clone()),
            ("JWT_AUDIENCE", AUDIENCE.into()),
            ("BIND_ADDR", format!("127.0.0.1:{issuer_port}")),
            ("DEMO_PASSWORD", PASSWORD.into()),
            ("LOGIN_RATE_PER_MINUTE", "0".into()),
            (
                "DATABASE_URL",
                format!("sqlite://{}", dir.join("issuer.db").display()),
            ),
        ],
    );
    http.wait_ok(&format!("{issuer_url}/health"), &mut issuer)
        .await;
    assert!(
        issuer
            .output()
            .contains("neither JWT_SECRET nor JWT_PRIVATE_KEY_FILE is set"),
        "{}",
        issuer.output()
    );
    let discovery = http
        .get(
            &format!("{issuer_url}/.well-known/openid-configuration"),
            None,
        )
        .await;
    assert_eq!(discovery.body["issuer"], issuer_url.as_str());
    assert_eq!(
        discovery.body["jwks_uri"],
        format!("{issuer_url}/.well-known/jwks.json")
    );

    let mut resource = Process::start(
        "resource_server",
        &dir,
        &[
            ("OIDC_ISSUER", issuer_url.clone()),
            ("JWT_AUDIENCE", AUDIENCE.into()),
            ("BIND_ADDR", format!("127.0.0.1:{resource_port}")),
            ("RESOURCE_URL", resource_url.clone()),
        ],
    );
    http.wait_ok(&format!("{resource_url}/health"), &mut resource)
        .await;
    http.wait_ok(&format!("{resource_url}/ready"), &mut resource)
        .await;

    // A token from the issuer's /login opens /me on the resource server.
    let old = http.login(&issuer_url).await;
    let old_kid = kid_of(&old);
    let me = http.get(&format!("{resource_url}/me"), Some(&old)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["sub"], "demo");
    assert_eq!(me.body["iss"], issuer_url.as_str());
    assert_eq!(me.body["aud"], AUDIENCE);
    // Without the admin scope: 403 insufficient_scope, with the scope in the challenge.
    let admin = http.get(&format!("{resource_url}/admin"), Some(&old)).await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN, "{}", admin.text);
    assert_eq!(admin.body["error"], "insufficient_scope");
    assert_eq!(admin.body.as_object().unwrap().len(), 2, "{}", admin.text);
    let challenge = admin.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with(&format!(
            "Bearer realm=\"api\", resource_metadata=\"{metadata_url}\", error=\"insufficient_scope\""
        )),
        "{challenge}"
    );
    assert!(challenge.ends_with(", scope=\"admin\""), "{challenge}");
    // No credential: 401, the challenge names the metadata, no body.
    let anonymous = http.get(&format!("{resource_url}/me"), None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.headers["www-authenticate"],
        format!("Bearer realm=\"api\", resource_metadata=\"{metadata_url}\"").as_str()
    );
    assert!(anonymous.text.is_empty());

    // Baselines: a token's first request with a known key (a full signature check), and the
    // next ones (the verification is cached).
    let mut first_known = Vec::new();
    for _ in 0..5 {
        let fresh = http.login(&issuer_url).await;
        let started = Instant::now();
        let reply = http.get(&format!("{resource_url}/me"), Some(&fresh)).await;
        first_known.push(started.elapsed());
        assert_eq!(reply.status, StatusCode::OK);
    }
    let mut known = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let reply = http.get(&format!("{resource_url}/me"), Some(&old)).await;
        known.push(started.elapsed());
        assert_eq!(reply.status, StatusCode::OK);
    }

    // SIGHUP: the issuer signs with a fresh key; the JWKS publishes both.
    let pid = issuer.child.id().to_string();
    let status = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    let new = loop {
        let token = http.login(&issuer_url).await;
        if kid_of(&token) != old_kid {
            break token;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no rotation");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let new_kid = kid_of(&new);
    let jwks = http
        .get(&format!("{issuer_url}/.well-known/jwks.json"), None)
        .await;
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [new_kid.as_str(), old_kid.as_str()]);
    assert!(issuer.output().contains("SIGHUP: signing key rotated"));

    // The new kid is unknown to the resource server: this request makes it refetch the JWKS,
    // and is accepted, without a restart.
    let started = Instant::now();
    let first = http.get(&format!("{resource_url}/me"), Some(&new)).await;
    let refetching = started.elapsed();
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["sub"], "demo");
    let mut after = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let reply = http.get(&format!("{resource_url}/me"), Some(&new)).await;
        after.push(started.elapsed());
        assert_eq!(reply.status, StatusCode::OK);
    }
    // The old token keeps working during the overlap, on both servers.
    let me = http.get(&format!("{resource_url}/me"), Some(&old)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    let me = http.get(&format!("{issuer_url}/me"), Some(&old)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert!(
        resource
            .output()
            .contains("unknown kid: refetching the JWKS"),
        "{}",
        resource.output()
    );

    // A token of the right issuer signed by a key it never published: the refetch (the
    // budget's second) finds no such key: 401 invalid_token.
    let forged = TokenIssuer::new(SigningKey::generate(Algorithm::ES256).unwrap())
        .issuer(issuer_url.as_str())
        .audience(AUDIENCE)
        .issue("demo", ["read"])
        .unwrap();
    let reply = http
        .get(&format!("{resource_url}/me"), Some(&forged.access_token))
        .await;
    assert_invalid_token(&reply, &metadata_url);
    // The budget (2 per 30 s) is spent: another unknown kid is refused at once, no fetch.
    let forged = TokenIssuer::new(SigningKey::generate(Algorithm::ES256).unwrap())
        .issuer(issuer_url.as_str())
        .audience(AUDIENCE)
        .issue("demo", ["read"])
        .unwrap();
    let reply = http
        .get(&format!("{resource_url}/me"), Some(&forged.access_token))
        .await;
    assert_invalid_token(&reply, &metadata_url);
    assert!(
        resource.output().contains("the refetch budget is spent"),
        "{}",
        resource.output()
    );
    // A token of another issuer: 401 invalid_token, and no refetch for it.
    let foreign = TokenIssuer::new(SigningKey::generate(Algorithm::ES256).unwrap())
        .issuer("http://127.0.0.1:1")
        .audience(AUDIENCE)
        .issue("demo", ["read"])
        .unwrap();
    let reply = http
        .get(&format!("{resource_url}/me"), Some(&foreign.access_token))
        .await;
    assert_invalid_token(&reply, &metadata_url);

    let (first_known, known, after) = (median(first_known), median(known), median(after));
    eprintln!(
        "unknown-kid refetch: the first request with the new kid took {refetching:?}; a token's \
         first request with a known kid {first_known:?} (median of 5), later requests \
         {known:?} before the rotation and {after:?} after it (medians of 20): the refetch \
         added about {:?}",
        refetching.saturating_sub(first_known)
    );
    // The verifier's own account of the refetch, with its timestamps.
    for line in resource.output().lines() {
        if line.contains("unknown kid: refetching") || line.contains("new keys from the JWKS") {
            eprintln!("resource_server: {line}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! Soak driver: mixed, bounded-concurrency load against the example server
//! (`examples/axum_server`) on loopback, while sampling the server's resident memory and open
//! file descriptors every second. Started by `bench/soak/run.sh`, which builds and starts the
//! server; see that script for the whole procedure and BENCHMARKS.md for the results.
//!
//! Usage:
//!
//! ```text
//! soak --addr 127.0.0.1:3900 --pid <server pid> [--duration 600] [--warmup 60]
//!      [--concurrency 32] [--login-concurrency 4] [--fast-rate 4000] [--rss-tolerance-pct 10]
//!      [--out DIR]
//! ```
//!
//! Environment: `DEMO_PASSWORD` (required), `DEMO_USER` (default `demo`), `JWT_SECRET`,
//! `JWT_ISSUER`, `JWT_AUDIENCE` (the server's; the secret mints the "invalid token" class,
//! tokens signed with the right key that break a rule).
//!
//! `--concurrency` requests are in flight at all times: `--login-concurrency` of them on the
//! login lane (argon2 work), the rest on the fast lane. Each lane picks a class per request by
//! the weights below, and each class cycles through its variants. The fast lane is paced at
//! `--fast-rate` requests per second (0: as fast as it goes): unpaced, it takes every cycle of a
//! small machine, and the argon2 workers, which run at the lowest priority by design, would
//! hash only a few logins a minute; paced, the login lane gets the idle time. The login lane is
//! never paced: its `--login-concurrency` requests queue on the hashing pool.
//!
//! Fast lane (weights out of 100):
//!
//! | class | weight | what | expected |
//! |---|---|---|---|
//! | `me_valid` | 30 | `GET /me`, a token from `/login` (every 8th: one minted with the server's key) | 200 |
//! | `admin_valid` | 10 | `GET /admin`, a token from `/login` (scope `read`) | 403 `insufficient_scope` |
//! | `conn_close` | 4 | `GET /me`, valid token, `Connection: close` (new connections) | 200 |
//! | `forged` | 20 | a login token altered, or signed without the key (12 variants) | 401 `invalid_token` |
//! | `invalid_token` | 8 | signed with the right key but breaking a rule (11 variants) | 401 `invalid_token` |
//! | `malformed` | 15 | malformed `Authorization` headers (15 variants) | 400 `invalid_request` or 401 |
//! | `health` | 3 | `GET /health` | 200 |
//! | `not_found` | 2 | `GET /nope` | 404 |
//! | `login_edge` | 5 | `/login` refused before any hashing (10 variants) | 400/405/413/415 per variant |
//! | `raw_abort` | 2 | raw TCP: a request cut off mid-header or mid-body, then closed | (none) |
//! | `raw_garbage` | 1 | raw TCP: bytes that are not HTTP | 400, or closed |
//!
//! Login lane:
//!
//! | class | weight | what | expected |
//! |---|---|---|---|
//! | `login_ok` | 40 | the demo account, right password (form and JSON alternately) | 200 (429 if throttled) |
//! | `login_scope_denied` | 10 | right password, `scope=admin` | 400 `invalid_scope` (or 429) |
//! | `login_wrong_password` | 10 | the demo account, wrong password | 400 `invalid_grant` or 429 |
//! | `login_unknown_fixed` | 20 | one of 16 fixed unknown names (these get throttled: 429) | 400 `invalid_grant` or 429 |
//! | `login_unknown_random` | 20 | a fresh unknown name each time (fills the throttle table) | 400 `invalid_grant` or 429 |
//!
//! Accepted forgeries: a `forged` request answered 2xx or 403 (a 403 means the signature was
//! accepted and only the scope check refused). Accepted invalid tokens: the same for
//! `invalid_token`. Targets (exit status 1 when one is missed): no 5xx, no accepted forgery or
//! invalid token, no unexpected status, no transport error, the server alive throughout, RSS at
//! the end and its maximum after warm-up within `--rss-tolerance-pct` of the RSS at warm-up,
//! open fds once idle again no more than before the load (the leak test; the files of a SQLite
//! `DATABASE_URL` in the environment are counted apart, `db_fds`: the store's connection pool
//! opens connections on demand and keeps them, each holding the database and its WAL open, which
//! is growth but no leak), and under load at
//! most `3 × --concurrency` above the idle count (a sanity bound: connections closed by the
//! client linger until the server reads their end while their successors are already open;
//! `conn_close` and the raw classes open a new connection per request; unpaced on 2 cores the
//! maximum seen was idle + 59).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Error = Box<dyn std::error::Error + Send + Sync>;
type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Longest wait for one request (a login behind a busy argon2 pool included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

// --- classes -----------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Class {
    MeValid,
    AdminValid,
    ConnClose,
    Forged,
    InvalidToken,
    Malformed,
    Health,
    NotFound,
    LoginEdge,
    RawAbort,
    RawGarbage,
    LoginOk,
    LoginScopeDenied,
    LoginWrongPassword,
    LoginUnknownFixed,
    LoginUnknownRandom,
}

const CLASSES: usize = 16;

impl Class {
    const fn name(self) -> &'static str {
        match self {
            Class::MeValid => "me_valid",
            Class::AdminValid => "admin_valid",
            Class::ConnClose => "conn_close",
            Class::Forged => "forged",
            Class::InvalidToken => "invalid_token",
            Class::Malformed => "malformed",
            Class::Health => "health",
            Class::NotFound => "not_found",
            Class::LoginEdge => "login_edge",
            Class::RawAbort => "raw_abort",
            Class::RawGarbage => "raw_garbage",
            Class::LoginOk => "login_ok",
            Class::LoginScopeDenied => "login_scope_denied",
            Class::LoginWrongPassword => "login_wrong_password",
            Class::LoginUnknownFixed => "login_unknown_fixed",
            Class::LoginUnknownRandom => "login_unknown_random",
        }
    }
}

const FAST_MIX: &[(Class, u32)] = &[
    (Class::MeValid, 30),
    (Class::AdminValid, 10),
    (Class::ConnClose, 4),
    (Class::Forged, 20),
    (Class::InvalidToken, 8),
    (Class::Malformed, 15),
    (Class::Health, 3),
    (Class::NotFound, 2),
    (Class::LoginEdge, 5),
    (Class::RawAbort, 2),
    (Class::RawGarbage, 1),
];

const LOGIN_MIX: &[(Class, u32)] = &[
    (Class::LoginOk, 40),
    (Class::LoginScopeDenied, 10),
    (Class::LoginWrongPassword, 10),
    (Class::LoginUnknownFixed, 20),
    (Class::LoginUnknownRandom, 20),
];

const FORGED: &[&str] = &[
    "sig_flip",
    "sig_truncated",
    "sig_swapped",
    "payload_scope_admin",
    "payload_sub",
    "payload_exp_extended",
    "alg_none",
    "alg_none_with_sig",
    "other_key",
    "jwk_header_other_key",
    "kid_traversal_empty_key",
    "alg_rs256_hmac_other_key",
];

const INVALID: &[&str] = &[
    "expired",
    "nbf_future",
    "wrong_iss",
    "wrong_aud",
    "missing_exp",
    "missing_sub",
    "typ_jwt",
    "alg_hs384_same_secret",
    "crit_unknown",
    "duplicate_member",
    "exp_as_string",
];

const MALFORMED: &[&str] = &[
    "none",
    "basic",
    "bearer_only",
    "bearer_space",
    "two_tokens",
    "bad_chars",
    "comma_list",
    "oversize_9k",
    "two_headers",
    "non_utf8",
    "two_parts",
    "empty_parts",
    "padding_inside",
    "nested_json_header",
    "lowercase_scheme_garbage",
];

const LOGIN_EDGE: &[(&str, &[&str])] = &[
    ("get_login", &["405 invalid_request"]),
    ("text_plain", &["415 invalid_request"]),
    ("client_credentials", &["400 unsupported_grant_type"]),
    ("missing_password", &["400 invalid_request"]),
    ("repeated_parameter", &["400 invalid_request"]),
    ("body_20k", &["413 invalid_request"]),
    ("empty_username", &["400 invalid_request"]),
    ("bad_json", &["400 invalid_request"]),
    ("no_grant_type", &["400 invalid_request"]),
    ("username_300", &["400 invalid_request"]),
];

const OK: &[&str] = &["200"];
const INVALID_TOKEN: &[&str] = &["401 invalid_token"];
const MALFORMED_OK: &[&str] = &["400 invalid_request", "401", "401 invalid_token"];
const THROTTLED: &str = "429 slow_down";

// --- configuration -----------------------------------------------------------------------------

struct Config {
    addr: SocketAddr,
    pid: u32,
    duration: Duration,
    warmup: Duration,
    concurrency: usize,
    login_concurrency: usize,
    fast_rate: u64,
    rss_tolerance_pct: f64,
    out: PathBuf,
    user: String,
    password: String,
    secret: Option<Vec<u8>>,
    issuer: Option<String>,
    audience: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Config {
    fn from_args() -> Result<Self, Error> {
        let mut args: HashMap<String, String> = HashMap::new();
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let Some(name) = flag.strip_prefix("--") else {
                return Err(format!("unexpected argument {flag:?}").into());
            };
            let value = it.next().ok_or(format!("{flag} needs a value"))?;
            args.insert(name.to_owned(), value);
        }
        let get = |name: &str| args.get(name).cloned();
        let secs = |name: &str, default: u64| -> Result<u64, Error> {
            Ok(match get(name) {
                Some(v) => v.parse().map_err(|e| format!("--{name}: {e}"))?,
                None => default,
            })
        };
        let addr: SocketAddr = get("addr")
            .unwrap_or_else(|| "127.0.0.1:3900".into())
            .parse()?;
        if !addr.ip().is_loopback() {
            return Err(format!("--addr {addr}: loopback addresses only").into());
        }
        let pid: u32 = get("pid").ok_or("--pid is required")?.parse()?;
        let duration = secs("duration", 600)?;
        let warmup = secs("warmup", 60.min(duration / 4))?;
        if warmup >= duration {
            return Err("--warmup must be shorter than --duration".into());
        }
        let concurrency = secs("concurrency", 32)? as usize;
        let login_concurrency = secs("login-concurrency", 4)? as usize;
        if login_concurrency == 0 || login_concurrency >= concurrency {
            return Err("need 0 < --login-concurrency < --concurrency".into());
        }
        let fast_rate = secs("fast-rate", 4000)?;
        let rss_tolerance_pct = match get("rss-tolerance-pct") {
            Some(v) => v.parse()?,
            None => 10.0,
        };
        Ok(Self {
            addr,
            pid,
            duration: Duration::from_secs(duration),
            warmup: Duration::from_secs(warmup),
            concurrency,
            login_concurrency,
            fast_rate,
            rss_tolerance_pct,
            out: PathBuf::from(get("out").unwrap_or_else(|| "soak-results".into())),
            user: env("DEMO_USER").unwrap_or_else(|| "demo".into()),
            password: env("DEMO_PASSWORD").ok_or("DEMO_PASSWORD is required")?,
            secret: env("JWT_SECRET").map(String::into_bytes),
            issuer: env("JWT_ISSUER"),
            audience: env("JWT_AUDIENCE"),
        })
    }
}

// --- small helpers -----------------------------------------------------------------------------

/// xorshift64*: enough for picking classes; seeded from the OS.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).expect("getrandom");
        Self(u64::from_le_bytes(seed) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn pick(mix: &[(Class, u32)], rng: &mut Rng) -> Class {
    let total: u32 = mix.iter().map(|(_, w)| w).sum();
    let mut roll = (rng.next() % u64::from(total)) as u32;
    for &(class, weight) in mix {
        if roll < weight {
            return class;
        }
        roll -= weight;
    }
    mix[0].0
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// `header.payload.signature` over the raw JSON texts given.
fn jws(header: &str, payload: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
    format!("{message}.{sig}")
}

/// The label a response is counted under: the status, and the OAuth error code from
/// `WWW-Authenticate` or the JSON body when there is one (`401 invalid_token`).
fn label(status: u16, headers: &HeaderMap, body: &[u8]) -> String {
    if let Some(value) = headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()) {
        if let Some(at) = value.find("error=\"") {
            let rest = &value[at + 7..];
            if let Some(end) = rest.find('"') {
                return format!("{status} {}", &rest[..end]);
            }
        }
        return status.to_string();
    }
    if status >= 400
        && let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some(code) = v.get("error").and_then(Value::as_str)
    {
        return format!("{status} {code}");
    }
    status.to_string()
}

// --- shared state ------------------------------------------------------------------------------

#[derive(Default)]
struct Stat {
    labels: BTreeMap<String, u64>,
    unexpected: u64,
    transport_errors: u64,
    accepted: u64,
    latencies_us: Vec<u32>,
}

/// Requests of one variant, and their count per label.
type VariantStat = (u64, BTreeMap<String, u64>);

struct Tokens {
    list: RwLock<Vec<(String, Instant)>>,
}

impl Tokens {
    const CAP: usize = 64;
    /// Tokens live 15 minutes; never hand out one older than 10.
    const MAX_AGE: Duration = Duration::from_secs(600);

    fn push(&self, token: String, rng: &mut Rng) {
        let mut list = self.list.write().unwrap();
        if list.len() < Self::CAP {
            list.push((token, Instant::now()));
        } else {
            let at = rng.below(list.len());
            list[at] = (token, Instant::now());
        }
    }

    fn pick(&self, rng: &mut Rng) -> Option<String> {
        let list = self.list.read().unwrap();
        let fresh: Vec<&String> = list
            .iter()
            .filter(|(_, at)| at.elapsed() < Self::MAX_AGE)
            .map(|(t, _)| t)
            .collect();
        if fresh.is_empty() {
            return None;
        }
        Some(fresh[rng.below(fresh.len())].clone())
    }
}

struct Ctx {
    cfg: Config,
    client: HttpClient,
    stop: AtomicBool,
    stats: Mutex<HashMap<(Class, &'static str), Stat>>,
    cursor: [AtomicU64; CLASSES],
    tokens: Tokens,
    random_names: AtomicU64,
    attacker_key: EncodingKey,
    attacker_secret: Vec<u8>,
    real_key: Option<EncodingKey>,
    errors: Mutex<Vec<String>>,
    requests: AtomicU64,
    five_xx: AtomicU64,
    accepted: AtomicU64,
    unexpected: AtomicU64,
    transport_errors: AtomicU64,
    server_died: AtomicBool,
    /// The fast lane's schedule: the next request's start, in ns after `pace_start`.
    pace_next: AtomicU64,
    pace_start: Instant,
}

impl Ctx {
    fn next_variant(&self, class: Class, n: usize) -> usize {
        (self.cursor[class as usize].fetch_add(1, Ordering::Relaxed) % n as u64) as usize
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.cfg.addr)
    }

    fn record(
        &self,
        class: Class,
        variant: &'static str,
        outcome: Result<String, String>,
        expected: &[&str],
        latency: Duration,
    ) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut stats = self.stats.lock().unwrap();
        let stat = stats.entry((class, variant)).or_default();
        stat.latencies_us
            .push(latency.as_micros().min(u128::from(u32::MAX)) as u32);
        match outcome {
            Ok(label) => {
                let code: u16 = label
                    .split(' ')
                    .next()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                if code >= 500 {
                    self.five_xx.fetch_add(1, Ordering::Relaxed);
                }
                let check_acceptance = matches!(class, Class::Forged | Class::InvalidToken);
                if check_acceptance && ((200..300).contains(&code) || code == 403) {
                    stat.accepted += 1;
                    self.accepted.fetch_add(1, Ordering::Relaxed);
                }
                if !expected.contains(&label.as_str()) {
                    stat.unexpected += 1;
                    self.unexpected.fetch_add(1, Ordering::Relaxed);
                    self.note_error(format!("{}/{variant}: unexpected {label}", class.name()));
                }
                *stat.labels.entry(label).or_default() += 1;
            }
            Err(err) => {
                stat.transport_errors += 1;
                self.transport_errors.fetch_add(1, Ordering::Relaxed);
                *stat.labels.entry("transport_error".into()).or_default() += 1;
                self.note_error(format!("{}/{variant}: {err}", class.name()));
            }
        }
    }

    fn note_error(&self, what: String) {
        let mut errors = self.errors.lock().unwrap();
        if errors.len() < 50 {
            errors.push(what);
        }
    }
}

// --- one request -------------------------------------------------------------------------------

#[allow(clippy::large_enum_variant)] // one per request, short-lived
enum Plan {
    Http {
        variant: &'static str,
        request: Request<Full<Bytes>>,
        expected: &'static [&'static str],
    },
    Raw {
        variant: &'static str,
        bytes: Vec<u8>,
        read_answer: bool,
        expected: &'static [&'static str],
    },
}

fn get(ctx: &Ctx, path: &str, authorization: Option<&[u8]>) -> Request<Full<Bytes>> {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(ctx.url(path))
        .body(Full::new(Bytes::new()))
        .expect("request");
    if let Some(value) = authorization {
        request.headers_mut().insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(value).expect("header value"),
        );
    }
    request
}

fn bearer(token: &str) -> Vec<u8> {
    format!("Bearer {token}").into_bytes()
}

fn post(ctx: &Ctx, content_type: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::builder()
        .method(Method::POST)
        .uri(ctx.url("/login"))
        .header(CONTENT_TYPE, content_type)
        .body(Full::new(body.into()))
        .expect("request")
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        for b in v.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(b as char);
            } else {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

fn login_form(
    ctx: &Ctx,
    username: &str,
    password: &str,
    scope: Option<&str>,
) -> Request<Full<Bytes>> {
    let mut pairs = vec![
        ("grant_type", "password"),
        ("username", username),
        ("password", password),
    ];
    if let Some(scope) = scope {
        pairs.push(("scope", scope));
    }
    post(ctx, "application/x-www-form-urlencoded", form(&pairs))
}

/// The claims of a token the server would accept, signed by whoever holds `key`.
fn good_claims(ctx: &Ctx) -> serde_json::Map<String, Value> {
    let now = now_secs();
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).expect("getrandom");
    let mut claims = serde_json::Map::new();
    if let Some(iss) = &ctx.cfg.issuer {
        claims.insert("iss".into(), json!(iss));
    }
    if let Some(aud) = &ctx.cfg.audience {
        claims.insert("aud".into(), json!(aud));
    }
    claims.insert("sub".into(), json!("user-soak"));
    claims.insert("iat".into(), json!(now));
    claims.insert("nbf".into(), json!(now));
    claims.insert("exp".into(), json!(now + 600));
    claims.insert("jti".into(), json!(b64(&jti)));
    claims.insert("scope".into(), json!("read"));
    claims
}

const AT_JWT_HS256: &str = r#"{"alg":"HS256","typ":"at+jwt"}"#;

fn forged(ctx: &Ctx, variant: &'static str, rng: &mut Rng) -> Option<(String, &'static str)> {
    let token = ctx.tokens.pick(rng)?;
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    let payload: Value = serde_json::from_slice(&B64.decode(p).ok()?).ok()?;
    let with = |key: &str, value: Value| {
        let mut v = payload.clone();
        v[key] = value;
        b64(v.to_string().as_bytes())
    };
    let admin_payload = with("scope", json!("read admin"));
    let admin_text = String::from_utf8(B64.decode(&admin_payload).ok()?).ok()?;
    let forged = match variant {
        "sig_flip" => {
            let mut sig = s.as_bytes().to_vec();
            let at = sig.len() / 2;
            sig[at] = if sig[at] == b'A' { b'B' } else { b'A' };
            format!("{h}.{p}.{}", String::from_utf8(sig).ok()?)
        }
        "sig_truncated" => format!("{h}.{p}.{}", &s[..s.len() - 2]),
        "sig_swapped" => {
            let other = ctx.tokens.pick(rng).filter(|o| *o != token);
            let sig = match &other {
                Some(o) => o.rsplit('.').next()?.to_owned(),
                None => {
                    jsonwebtoken::crypto::sign(b"x", &ctx.attacker_key, Algorithm::HS256).ok()?
                }
            };
            format!("{h}.{p}.{sig}")
        }
        "payload_scope_admin" => return Some((format!("{h}.{admin_payload}.{s}"), "/admin")),
        "payload_sub" => format!("{h}.{}.{s}", with("sub", json!("admin"))),
        "payload_exp_extended" => {
            let exp = payload.get("exp")?.as_i64()? + 86_400;
            format!("{h}.{}.{s}", with("exp", json!(exp)))
        }
        "alg_none" => {
            let none = b64(br#"{"alg":"none","typ":"at+jwt"}"#);
            return Some((format!("{none}.{admin_payload}."), "/admin"));
        }
        "alg_none_with_sig" => {
            let none = b64(br#"{"alg":"none","typ":"at+jwt"}"#);
            format!("{none}.{p}.{s}")
        }
        "other_key" => {
            let t = jws(
                AT_JWT_HS256,
                &admin_text,
                &ctx.attacker_key,
                Algorithm::HS256,
            );
            return Some((t, "/admin"));
        }
        "jwk_header_other_key" => {
            let header = json!({
                "alg": "HS256",
                "typ": "at+jwt",
                "jwk": { "kty": "oct", "k": b64(&ctx.attacker_secret) },
            })
            .to_string();
            let t = jws(&header, &admin_text, &ctx.attacker_key, Algorithm::HS256);
            return Some((t, "/admin"));
        }
        "kid_traversal_empty_key" => {
            let header = r#"{"alg":"HS256","typ":"at+jwt","kid":"../../../../../dev/null"}"#;
            let empty = EncodingKey::from_secret(&[0u8]).ok()?;
            let text = String::from_utf8(B64.decode(p).ok()?).ok()?;
            jws(header, &text, &empty, Algorithm::HS256)
        }
        "alg_rs256_hmac_other_key" => {
            let header = r#"{"alg":"RS256","typ":"at+jwt"}"#;
            let message = format!("{}.{admin_payload}", b64(header.as_bytes()));
            let sig =
                jsonwebtoken::crypto::sign(message.as_bytes(), &ctx.attacker_key, Algorithm::HS256)
                    .ok()?;
            return Some((format!("{message}.{sig}"), "/admin"));
        }
        _ => unreachable!("{variant}"),
    };
    Some((forged, "/me"))
}

fn invalid(ctx: &Ctx, variant: &'static str) -> Option<String> {
    let key = ctx.real_key.as_ref()?;
    let mut claims = good_claims(ctx);
    let now = now_secs();
    let mut header = AT_JWT_HS256.to_owned();
    let mut alg = Algorithm::HS256;
    match variant {
        "expired" => {
            claims.insert("iat".into(), json!(now - 7200));
            claims.insert("nbf".into(), json!(now - 7200));
            claims.insert("exp".into(), json!(now - 3600));
        }
        "nbf_future" => {
            claims.insert("nbf".into(), json!(now + 3600));
        }
        "wrong_iss" => {
            claims.insert("iss".into(), json!("https://evil.example"));
        }
        "wrong_aud" => {
            claims.insert("aud".into(), json!("someone-else"));
        }
        "missing_exp" => {
            claims.remove("exp");
        }
        "missing_sub" => {
            claims.remove("sub");
        }
        "typ_jwt" => header = r#"{"alg":"HS256","typ":"JWT"}"#.into(),
        "alg_hs384_same_secret" => {
            header = r#"{"alg":"HS384","typ":"at+jwt"}"#.into();
            alg = Algorithm::HS384;
        }
        "crit_unknown" => {
            header = r#"{"alg":"HS256","typ":"at+jwt","crit":["x-soak"],"x-soak":1}"#.into();
        }
        "duplicate_member" => {
            let text = Value::Object(claims).to_string();
            let dup = format!(r#"{{"sub":"admin",{}"#, &text[1..]);
            return Some(jws(&header, &dup, key, alg));
        }
        "exp_as_string" => {
            claims.insert("exp".into(), json!((now + 600).to_string()));
        }
        _ => unreachable!("{variant}"),
    }
    Some(jws(&header, &Value::Object(claims).to_string(), key, alg))
}

fn malformed(ctx: &Ctx, variant: &'static str) -> Request<Full<Bytes>> {
    let path = "/me";
    let value: Option<Vec<u8>> = match variant {
        "none" => None,
        "basic" => Some(b"Basic ZGVtbzpwYXNzd29yZA==".to_vec()),
        "bearer_only" => Some(b"Bearer".to_vec()),
        "bearer_space" => Some(b"Bearer ".to_vec()),
        "two_tokens" => Some(b"Bearer aaa.bbb.ccc ddd.eee.fff".to_vec()),
        "bad_chars" => Some(b"Bearer abc$def{}.x.y".to_vec()),
        "comma_list" => Some(b"Bearer aaa.bbb.ccc, Bearer ddd.eee.fff".to_vec()),
        "oversize_9k" => Some(bearer(&"a".repeat(9000))),
        "two_headers" => {
            let mut request = get(ctx, path, Some(b"Bearer aaa.bbb.ccc"));
            request.headers_mut().append(
                AUTHORIZATION,
                HeaderValue::from_static("Bearer ddd.eee.fff"),
            );
            return request;
        }
        "non_utf8" => Some(b"Bearer \xff\xfe\xfd.\x80.\x81".to_vec()),
        "two_parts" => Some(b"Bearer eyJhbGciOiJIUzI1NiJ9.e30".to_vec()),
        "empty_parts" => Some(b"Bearer ..".to_vec()),
        "padding_inside" => Some(b"Bearer aGVsbG8=.aGVsbG8=.aGVsbG8=".to_vec()),
        "nested_json_header" => {
            let deep = format!("{}{}", "[".repeat(2500), "]".repeat(2500));
            Some(bearer(&format!("{}.e30.c2ln", b64(deep.as_bytes()))))
        }
        "lowercase_scheme_garbage" => Some(b"bearer not-a-jwt".to_vec()),
        _ => unreachable!("{variant}"),
    };
    get(ctx, path, value.as_deref())
}

fn login_edge(ctx: &Ctx, variant: &'static str) -> Request<Full<Bytes>> {
    let user = ctx.cfg.user.as_str();
    match variant {
        "get_login" => get(ctx, "/login", None),
        "text_plain" => post(ctx, "text/plain", "grant_type=password"),
        "client_credentials" => post(
            ctx,
            "application/x-www-form-urlencoded",
            "grant_type=client_credentials",
        ),
        "missing_password" => post(
            ctx,
            "application/x-www-form-urlencoded",
            form(&[("grant_type", "password"), ("username", user)]),
        ),
        "repeated_parameter" => post(
            ctx,
            "application/x-www-form-urlencoded",
            form(&[
                ("grant_type", "password"),
                ("username", user),
                ("username", "other"),
                ("password", "x"),
            ]),
        ),
        "body_20k" => post(
            ctx,
            "application/x-www-form-urlencoded",
            format!(
                "grant_type=password&username=x&password={}",
                "p".repeat(20_480)
            ),
        ),
        "empty_username" => post(
            ctx,
            "application/x-www-form-urlencoded",
            "grant_type=password&username=&password=x",
        ),
        "bad_json" => post(ctx, "application/json", "{not json"),
        "no_grant_type" => post(
            ctx,
            "application/x-www-form-urlencoded",
            form(&[("username", user), ("password", "x")]),
        ),
        "username_300" => post(
            ctx,
            "application/x-www-form-urlencoded",
            form(&[
                ("grant_type", "password"),
                ("username", &"u".repeat(300)),
                ("password", "x"),
            ]),
        ),
        _ => unreachable!("{variant}"),
    }
}

/// What to send for one request of `class`; `None` when no login token is at hand yet.
fn plan(ctx: &Ctx, class: Class, rng: &mut Rng) -> Option<Plan> {
    let http = |variant, request, expected| Plan::Http {
        variant,
        request,
        expected,
    };
    Some(match class {
        Class::MeValid => {
            if ctx.next_variant(class, 8) == 7 && ctx.real_key.is_some() {
                let claims = Value::Object(good_claims(ctx)).to_string();
                let key = ctx.real_key.as_ref()?;
                let token = jws(AT_JWT_HS256, &claims, key, Algorithm::HS256);
                http("minted", get(ctx, "/me", Some(&bearer(&token))), OK)
            } else {
                let token = ctx.tokens.pick(rng)?;
                http("login_token", get(ctx, "/me", Some(&bearer(&token))), OK)
            }
        }
        Class::AdminValid => {
            let token = ctx.tokens.pick(rng)?;
            http(
                "login_token",
                get(ctx, "/admin", Some(&bearer(&token))),
                &["403 insufficient_scope"],
            )
        }
        Class::ConnClose => {
            let token = ctx.tokens.pick(rng)?;
            let mut request = get(ctx, "/me", Some(&bearer(&token)));
            request
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            http("connection_close", request, OK)
        }
        Class::Forged => {
            let variant = FORGED[ctx.next_variant(class, FORGED.len())];
            let (token, path) = forged(ctx, variant, rng)?;
            http(
                variant,
                get(ctx, path, Some(&bearer(&token))),
                INVALID_TOKEN,
            )
        }
        Class::InvalidToken => {
            ctx.real_key.as_ref()?;
            let mut variant = INVALID[ctx.next_variant(class, INVALID.len())];
            // Without a configured iss/aud there is nothing to get wrong.
            if (variant == "wrong_iss" && ctx.cfg.issuer.is_none())
                || (variant == "wrong_aud" && ctx.cfg.audience.is_none())
            {
                variant = "expired";
            }
            let token = invalid(ctx, variant)?;
            http(
                variant,
                get(ctx, "/me", Some(&bearer(&token))),
                INVALID_TOKEN,
            )
        }
        Class::Malformed => {
            let variant = MALFORMED[ctx.next_variant(class, MALFORMED.len())];
            http(variant, malformed(ctx, variant), MALFORMED_OK)
        }
        Class::Health => http("health", get(ctx, "/health", None), OK),
        Class::NotFound => http("nope", get(ctx, "/nope", None), &["404"]),
        Class::LoginEdge => {
            let (variant, expected) = LOGIN_EDGE[ctx.next_variant(class, LOGIN_EDGE.len())];
            http(variant, login_edge(ctx, variant), expected)
        }
        Class::RawAbort => {
            let (variant, bytes) = if ctx.next_variant(class, 2) == 0 {
                (
                    "cut_in_header",
                    b"GET /me HTTP/1.1\r\nHost: soak\r\nAuthoriz".to_vec(),
                )
            } else {
                (
                    "cut_in_body",
                    b"POST /login HTTP/1.1\r\nHost: soak\r\n\
                      Content-Type: application/x-www-form-urlencoded\r\n\
                      Content-Length: 100\r\n\r\ngrant_type=pass"
                        .to_vec(),
                )
            };
            Plan::Raw {
                variant,
                bytes,
                read_answer: false,
                expected: &["aborted"],
            }
        }
        Class::RawGarbage => Plan::Raw {
            variant: "not_http",
            bytes: b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1 garbage \x00\r\n\r\n".to_vec(),
            read_answer: true,
            expected: &["400", "closed"],
        },
        Class::LoginOk => {
            let (variant, request) = if ctx.next_variant(class, 2) == 0 {
                (
                    "form",
                    login_form(ctx, &ctx.cfg.user, &ctx.cfg.password, None),
                )
            } else {
                let body = json!({
                    "grant_type": "password",
                    "username": ctx.cfg.user,
                    "password": ctx.cfg.password,
                });
                ("json", post(ctx, "application/json", body.to_string()))
            };
            http(variant, request, &["200", THROTTLED])
        }
        Class::LoginScopeDenied => http(
            "scope_admin",
            login_form(ctx, &ctx.cfg.user, &ctx.cfg.password, Some("admin")),
            &["400 invalid_scope", THROTTLED],
        ),
        Class::LoginWrongPassword => {
            let wrong = format!("wrong-{}", rng.next());
            http(
                "demo_wrong_password",
                login_form(ctx, &ctx.cfg.user, &wrong, None),
                &["400 invalid_grant", THROTTLED],
            )
        }
        Class::LoginUnknownFixed => {
            let name = format!("soak-nobody-{:02}", rng.below(16));
            http(
                "fixed_16_names",
                login_form(ctx, &name, "whatever-password", None),
                &["400 invalid_grant", THROTTLED],
            )
        }
        Class::LoginUnknownRandom => {
            let n = ctx.random_names.fetch_add(1, Ordering::Relaxed);
            let name = format!("soak-random-{n}-{:x}", rng.next());
            http(
                "fresh_name",
                login_form(ctx, &name, "whatever-password", None),
                &["400 invalid_grant", THROTTLED],
            )
        }
    })
}

async fn send(ctx: &Ctx, request: Request<Full<Bytes>>) -> Result<(String, Bytes), String> {
    let response = ctx.client.request(request).await.map_err(|e| {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let _ = write!(msg, ": {s}");
            source = s.source();
        }
        msg
    })?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok((label(parts.status.as_u16(), &parts.headers, &body), body))
}

async fn raw(ctx: &Ctx, bytes: &[u8], read_answer: bool) -> Result<String, String> {
    let mut stream = tokio::net::TcpStream::connect(ctx.cfg.addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .write_all(bytes)
        .await
        .map_err(|e| format!("write: {e}"))?;
    if !read_answer {
        return Ok("aborted".into());
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.len() > 16 * 1024 {
                    break;
                }
            }
            // A reset after the server's answer is a close too.
            Err(_) if !answer.is_empty() => break,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&answer);
    Ok(match text.strip_prefix("HTTP/1.1 ") {
        Some(rest) => rest.chars().take(3).collect(),
        None if answer.is_empty() => "closed".into(),
        None => format!("garbled:{}", text.chars().take(20).collect::<String>()),
    })
}

async fn run_one(ctx: &Ctx, class: Class, rng: &mut Rng) {
    let Some(plan) = plan(ctx, class, rng) else {
        tokio::time::sleep(Duration::from_millis(10)).await;
        return;
    };
    let started = Instant::now();
    match plan {
        Plan::Http {
            variant,
            request,
            expected,
        } => {
            let outcome = match tokio::time::timeout(REQUEST_TIMEOUT, send(ctx, request)).await {
                Ok(Ok((label, body))) => {
                    if class == Class::LoginOk && label == "200" {
                        match serde_json::from_slice::<Value>(&body)
                            .ok()
                            .and_then(|v| v.get("access_token")?.as_str().map(str::to_owned))
                        {
                            Some(token) => ctx.tokens.push(token, rng),
                            None => ctx.note_error("login_ok: 200 without access_token".into()),
                        }
                    }
                    Ok(label)
                }
                Ok(Err(e)) => Err(e),
                Err(_) => Err(format!("timeout after {REQUEST_TIMEOUT:?}")),
            };
            ctx.record(class, variant, outcome, expected, started.elapsed());
        }
        Plan::Raw {
            variant,
            bytes,
            read_answer,
            expected,
        } => {
            let outcome =
                match tokio::time::timeout(REQUEST_TIMEOUT, raw(ctx, &bytes, read_answer)).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("timeout after {REQUEST_TIMEOUT:?}")),
                };
            ctx.record(class, variant, outcome, expected, started.elapsed());
        }
    }
}

async fn worker(ctx: Arc<Ctx>, mix: &'static [(Class, u32)], paced: bool) {
    let mut rng = Rng::new();
    let interval = match ctx.cfg.fast_rate {
        0 => None,
        rate => Some(1_000_000_000 / rate),
    };
    while !ctx.stop.load(Ordering::Relaxed) {
        if let Some(interval) = interval.filter(|_| paced) {
            let slot = ctx.pace_next.fetch_add(interval, Ordering::Relaxed);
            let now = ctx.pace_start.elapsed().as_nanos() as u64;
            if slot > now {
                tokio::time::sleep(Duration::from_nanos(slot - now)).await;
            } else if now - slot > 1_000_000_000 {
                // Over a second behind (the machine is busy): no burst to catch up.
                ctx.pace_next.fetch_max(now, Ordering::Relaxed);
            }
        }
        let class = pick(mix, &mut rng);
        run_one(&ctx, class, &mut rng).await;
    }
}

// --- the server's process ----------------------------------------------------------------------

#[derive(Clone, Debug, Default, serde::Serialize)]
struct Sample {
    t_s: f64,
    rss_kib: u64,
    hwm_kib: u64,
    fds: u64,
    /// Of `fds`, those open on the SQLite database of `DATABASE_URL` (the file, `-wal`, `-shm`).
    db_fds: u64,
    threads: u64,
    cpu_s: f64,
    requests: u64,
}

/// The path of the SQLite database the server uses, from `DATABASE_URL` (`sqlite://PATH` or
/// `sqlite:PATH`, query ignored), if it is one.
fn sqlite_path() -> Option<std::path::PathBuf> {
    let url = std::env::var("DATABASE_URL").ok()?;
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().filter(|p| !p.is_empty())?;
    Some(std::fs::canonicalize(path).unwrap_or_else(|_| path.into()))
}

fn sample(pid: u32, t: f64, requests: u64) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let (mut fds, mut db_fds) = (0, 0);
    let db = sqlite_path();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
        fds += 1;
        // The database itself, `-wal`, `-shm`, `-journal`.
        let on_db = db.as_ref().is_some_and(|db| {
            std::fs::read_link(entry.path()).is_ok_and(|target| {
                target
                    .as_os_str()
                    .as_encoded_bytes()
                    .starts_with(db.as_os_str().as_encoded_bytes())
            })
        });
        db_fds += u64::from(on_db);
    }
    // utime and stime, in clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Sample {
        t_s: t,
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
        fds,
        db_fds,
        threads: field("Threads:"),
        cpu_s: ticks as f64 / 100.0,
        requests,
    })
}

// --- report ------------------------------------------------------------------------------------

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[at]) / 1000.0
}

fn pct(from: u64, to: u64) -> f64 {
    if from == 0 {
        return 0.0;
    }
    (to as f64 - from as f64) / from as f64 * 100.0
}

struct Target {
    name: &'static str,
    value: String,
    goal: String,
    pass: bool,
}

fn main() -> Result<(), Error> {
    let cfg = Config::from_args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let pass = runtime.block_on(run(cfg))?;
    std::process::exit(if pass { 0 } else { 1 });
}

async fn run(cfg: Config) -> Result<bool, Error> {
    std::fs::create_dir_all(&cfg.out)?;
    let mut client = Client::builder(TokioExecutor::new());
    client
        .pool_max_idle_per_host(cfg.concurrency)
        .pool_idle_timeout(Duration::from_secs(30));
    let client: HttpClient = client.build_http();
    let mut attacker_secret = vec![0u8; 32];
    getrandom::fill(&mut attacker_secret)?;
    let real_key = match &cfg.secret {
        Some(s) => Some(EncodingKey::from_secret(s)?),
        None => None,
    };
    let ctx = Arc::new(Ctx {
        client,
        stop: AtomicBool::new(false),
        stats: Mutex::new(HashMap::new()),
        cursor: std::array::from_fn(|_| AtomicU64::new(0)),
        tokens: Tokens {
            list: RwLock::new(Vec::new()),
        },
        random_names: AtomicU64::new(0),
        attacker_key: EncodingKey::from_secret(&attacker_secret)?,
        attacker_secret,
        real_key,
        errors: Mutex::new(Vec::new()),
        requests: AtomicU64::new(0),
        five_xx: AtomicU64::new(0),
        accepted: AtomicU64::new(0),
        unexpected: AtomicU64::new(0),
        transport_errors: AtomicU64::new(0),
        server_died: AtomicBool::new(false),
        pace_next: AtomicU64::new(0),
        pace_start: Instant::now(),
        cfg,
    });
    let cfg = &ctx.cfg;
    let date = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%dT%H:%M:%SZ")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();

    let idle_start = sample(cfg.pid, 0.0, 0).ok_or("the server's process is not running")?;
    eprintln!(
        "soak: server pid {} idle: rss {} KiB, fds {}, threads {}",
        cfg.pid, idle_start.rss_kib, idle_start.fds, idle_start.threads
    );

    // A few tokens before the load starts (counted as login_ok).
    let mut rng = Rng::new();
    for _ in 0..4 {
        run_one(&ctx, Class::LoginOk, &mut rng).await;
    }
    if ctx.tokens.pick(&mut rng).is_none() {
        let errors = ctx.errors.lock().unwrap().join("\n");
        return Err(format!("no token from /login; errors:\n{errors}").into());
    }

    let started = Instant::now();
    ctx.pace_next.store(
        ctx.pace_start.elapsed().as_nanos() as u64,
        Ordering::Relaxed,
    );
    let mut workers = Vec::new();
    for i in 0..cfg.concurrency {
        let mix = if i < cfg.login_concurrency {
            LOGIN_MIX
        } else {
            FAST_MIX
        };
        let paced = i >= cfg.login_concurrency;
        workers.push(tokio::spawn(worker(Arc::clone(&ctx), mix, paced)));
    }

    // Sample once a second until the duration is over or the server dies.
    let mut samples = vec![];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let t = started.elapsed().as_secs_f64();
        let requests = ctx.requests.load(Ordering::Relaxed);
        match sample(cfg.pid, t, requests) {
            Some(s) => samples.push(s),
            None => {
                eprintln!("soak: the server's process {} is gone at {t:.0} s", cfg.pid);
                ctx.server_died.store(true, Ordering::Relaxed);
                break;
            }
        }
        let s = samples.last().unwrap();
        if samples.len() % 10 == 0 {
            let rate = if samples.len() >= 11 {
                let old = &samples[samples.len() - 11];
                (s.requests - old.requests) as f64 / (s.t_s - old.t_s)
            } else {
                0.0
            };
            eprintln!(
                "soak: {:>4.0} s  {:>9} req ({:>6.0}/s)  rss {:>7} KiB  fds {:>3}  thr {:>2}  5xx {}  accepted {}  unexpected {}  errors {}",
                t,
                s.requests,
                rate,
                s.rss_kib,
                s.fds,
                s.threads,
                ctx.five_xx.load(Ordering::Relaxed),
                ctx.accepted.load(Ordering::Relaxed),
                ctx.unexpected.load(Ordering::Relaxed),
                ctx.transport_errors.load(Ordering::Relaxed),
            );
        }
        if started.elapsed() >= cfg.duration {
            break;
        }
    }
    ctx.stop.store(true, Ordering::Relaxed);
    let load_secs = started.elapsed().as_secs_f64();
    let drain = Instant::now();
    for w in workers {
        let _ = tokio::time::timeout(REQUEST_TIMEOUT + Duration::from_secs(5), w).await;
    }
    let drain_secs = drain.elapsed().as_secs_f64();

    // Drop every pooled connection (`ctx.client` goes with the last handle of the context:
    // the workers are done, so only this one is left), let the server notice, then sample idle.
    let ctx = Arc::try_unwrap(ctx).map_err(|_| "a worker still holds the context")?;
    let Ctx {
        cfg,
        client,
        stats,
        errors,
        five_xx,
        accepted: _,
        unexpected,
        transport_errors,
        server_died,
        requests,
        ..
    } = ctx;
    drop(client);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_end = sample(cfg.pid, started.elapsed().as_secs_f64(), 0);
    if idle_end.is_none() {
        server_died.store(true, Ordering::Relaxed);
    }
    let server_died = server_died.load(Ordering::Relaxed);

    // --- figures ---
    let stats = stats.into_inner().unwrap();
    let errors = errors.into_inner().unwrap();
    let mut by_class: BTreeMap<Class, Stat> = BTreeMap::new();
    let mut by_variant: BTreeMap<(Class, &str), VariantStat> = BTreeMap::new();
    let mut by_code: BTreeMap<String, u64> = BTreeMap::new();
    for ((class, variant), stat) in stats {
        let total: u64 = stat.labels.values().sum();
        let entry = by_class.entry(class).or_default();
        for (label, n) in &stat.labels {
            *entry.labels.entry(label.clone()).or_default() += n;
            let code = label.split(' ').next().unwrap_or(label).to_owned();
            *by_code.entry(code).or_default() += n;
        }
        entry.unexpected += stat.unexpected;
        entry.transport_errors += stat.transport_errors;
        entry.accepted += stat.accepted;
        entry.latencies_us.extend_from_slice(&stat.latencies_us);
        by_variant.insert((class, variant), (total, stat.labels));
    }
    let accepted_forgeries = by_class.get(&Class::Forged).map_or(0, |s| s.accepted);
    let accepted_invalid = by_class.get(&Class::InvalidToken).map_or(0, |s| s.accepted);
    let five_xx = five_xx.load(Ordering::Relaxed);
    let unexpected = unexpected.load(Ordering::Relaxed);
    let transport_errors = transport_errors.load(Ordering::Relaxed);
    let total_requests = requests.load(Ordering::Relaxed);
    let me_ok = by_class
        .get(&Class::MeValid)
        .and_then(|s| s.labels.get("200").copied())
        .unwrap_or(0);

    let warm = samples
        .iter()
        .find(|s| s.t_s >= cfg.warmup.as_secs_f64())
        .cloned()
        .unwrap_or_default();
    let end = samples.last().cloned().unwrap_or_default();
    let after_warm: Vec<&Sample> = samples.iter().filter(|s| s.t_s >= warm.t_s).collect();
    let max_rss = after_warm.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let min_rss = after_warm.iter().map(|s| s.rss_kib).min().unwrap_or(0);
    let max_fds = samples.iter().map(|s| s.fds).max().unwrap_or(0);
    let end_change = pct(warm.rss_kib, end.rss_kib);
    let max_change = pct(warm.rss_kib, max_rss);
    let idle_end_fds = idle_end.as_ref().map_or(0, |s| s.fds);
    let idle_end_db_fds = idle_end.as_ref().map_or(0, |s| s.db_fds);
    let max_db_fds = samples.iter().map(|s| s.db_fds).max().unwrap_or(0);
    let tol = cfg.rss_tolerance_pct;

    let targets = vec![
        Target {
            name: "5xx responses",
            value: five_xx.to_string(),
            goal: "0".into(),
            pass: five_xx == 0,
        },
        Target {
            name: "accepted forgeries",
            value: accepted_forgeries.to_string(),
            goal: "0".into(),
            pass: accepted_forgeries == 0,
        },
        Target {
            name: "accepted invalid tokens",
            value: accepted_invalid.to_string(),
            goal: "0".into(),
            pass: accepted_invalid == 0,
        },
        Target {
            name: "unexpected statuses",
            value: unexpected.to_string(),
            goal: "0".into(),
            pass: unexpected == 0,
        },
        Target {
            name: "transport errors / timeouts",
            value: transport_errors.to_string(),
            goal: "0".into(),
            pass: transport_errors == 0,
        },
        Target {
            name: "server alive to the end",
            value: (!server_died).to_string(),
            goal: "true".into(),
            pass: !server_died,
        },
        Target {
            name: "valid /me answered 200",
            value: me_ok.to_string(),
            goal: "> 0".into(),
            pass: me_ok > 0,
        },
        Target {
            name: "RSS end vs warm-up",
            value: format!("{end_change:+.1}%"),
            goal: format!("within ±{tol}%"),
            pass: end_change.abs() <= tol,
        },
        Target {
            name: "RSS max after warm-up vs warm-up",
            value: format!("{max_change:+.1}%"),
            goal: format!("≤ +{tol}%"),
            pass: max_change <= tol,
        },
        Target {
            name: "fds idle after vs idle before (database files apart)",
            value: format!(
                "{} → {}",
                idle_start.fds - idle_start.db_fds,
                idle_end_fds - idle_end_db_fds
            ),
            goal: "no growth".into(),
            pass: idle_end.is_some()
                && idle_end_fds - idle_end_db_fds <= idle_start.fds - idle_start.db_fds,
        },
        Target {
            name: "fds under load (max)",
            value: max_fds.to_string(),
            goal: format!(
                "≤ idle + 3 × concurrency = {}",
                idle_start.fds + 3 * cfg.concurrency as u64
            ),
            pass: max_fds <= idle_start.fds + 3 * cfg.concurrency as u64,
        },
    ];
    let pass = targets.iter().all(|t| t.pass);

    // --- JSON ---
    let classes_json: serde_json::Map<String, Value> = by_class
        .iter_mut()
        .map(|(class, s)| {
            s.latencies_us.sort_unstable();
            let variants: serde_json::Map<String, Value> = by_variant
                .iter()
                .filter(|((c, _), _)| c == class)
                .map(|((_, v), (n, labels))| {
                    (
                        (*v).to_owned(),
                        json!({ "requests": n, "statuses": labels }),
                    )
                })
                .collect();
            (
                class.name().to_owned(),
                json!({
                    "requests": s.labels.values().sum::<u64>(),
                    "statuses": s.labels,
                    "unexpected": s.unexpected,
                    "transport_errors": s.transport_errors,
                    "accepted": s.accepted,
                    "latency_ms": {
                        "p50": percentile(&s.latencies_us, 0.5),
                        "p99": percentile(&s.latencies_us, 0.99),
                        "max": percentile(&s.latencies_us, 1.0),
                    },
                    "variants": variants,
                }),
            )
        })
        .collect();
    let report = json!({
        "date_utc": date,
        "config": {
            "addr": cfg.addr.to_string(),
            "duration_s": cfg.duration.as_secs(),
            "warmup_s": cfg.warmup.as_secs(),
            "concurrency": cfg.concurrency,
            "login_concurrency": cfg.login_concurrency,
            "fast_rate_per_s": cfg.fast_rate,
            "rss_tolerance_pct": tol,
        },
        "load_seconds": load_secs,
        "drain_seconds": drain_secs,
        "requests": total_requests,
        "requests_per_second": total_requests as f64 / load_secs,
        "status_counts": by_code,
        "five_xx": five_xx,
        "accepted_forgeries": accepted_forgeries,
        "accepted_invalid_tokens": accepted_invalid,
        "unexpected_statuses": unexpected,
        "transport_errors": transport_errors,
        "server_died": server_died,
        "classes": classes_json,
        "memory": {
            "rss_idle_before_kib": idle_start.rss_kib,
            "rss_warmup_kib": warm.rss_kib,
            "warmup_sample_t_s": warm.t_s,
            "rss_end_kib": end.rss_kib,
            "rss_max_after_warmup_kib": max_rss,
            "rss_min_after_warmup_kib": min_rss,
            "rss_end_change_pct": end_change,
            "rss_max_change_pct": max_change,
            "vmhwm_end_kib": end.hwm_kib,
            "rss_idle_after_kib": idle_end.as_ref().map(|s| s.rss_kib),
        },
        "fds": {
            "idle_before": idle_start.fds,
            "warmup": warm.fds,
            "end_under_load": end.fds,
            "max_under_load": max_fds,
            "idle_after": idle_end.as_ref().map(|s| s.fds),
            "db_idle_before": idle_start.db_fds,
            "db_max_under_load": max_db_fds,
            "db_idle_after": idle_end.as_ref().map(|s| s.db_fds),
        },
        "threads": {
            "idle_before": idle_start.threads,
            "end_under_load": end.threads,
            "idle_after": idle_end.as_ref().map(|s| s.threads),
        },
        "server_cpu_s": end.cpu_s - idle_start.cpu_s,
        "targets": targets.iter().map(|t| json!({
            "name": t.name, "value": t.value, "target": t.goal, "pass": t.pass,
        })).collect::<Vec<_>>(),
        "first_errors": errors,
        "pass": pass,
    });
    std::fs::write(
        cfg.out.join("soak.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    let mut csv = String::from("t_s,rss_kib,hwm_kib,fds,threads,cpu_s,requests\n");
    for s in &samples {
        let _ = writeln!(
            csv,
            "{:.1},{},{},{},{},{:.2},{}",
            s.t_s, s.rss_kib, s.hwm_kib, s.fds, s.threads, s.cpu_s, s.requests
        );
    }
    std::fs::write(cfg.out.join("samples.csv"), csv)?;

    // --- markdown ---
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Soak: {} s of load (warm-up {} s), {} in flight ({} on the login lane, unpaced; the fast lane {}), {date}.\n",
        cfg.duration.as_secs(),
        cfg.warmup.as_secs(),
        cfg.concurrency,
        cfg.login_concurrency,
        match cfg.fast_rate {
            0 => "unpaced".to_owned(),
            r => format!("paced at {r} requests/s"),
        },
    );
    let _ = writeln!(
        md,
        "{total_requests} requests in {load_secs:.0} s ({:.0}/s); drained in {drain_secs:.1} s; server CPU {:.0} s.\n",
        total_requests as f64 / load_secs,
        end.cpu_s - idle_start.cpu_s
    );
    let _ = writeln!(
        md,
        "| class | requests | statuses | p50 ms | p99 ms | max ms |"
    );
    let _ = writeln!(md, "|---|---:|---|---:|---:|---:|");
    for (class, s) in &by_class {
        let statuses: Vec<String> = s.labels.iter().map(|(l, n)| format!("{l}: {n}")).collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.2} | {:.2} | {:.1} |",
            class.name(),
            s.labels.values().sum::<u64>(),
            statuses.join(", "),
            percentile(&s.latencies_us, 0.5),
            percentile(&s.latencies_us, 0.99),
            percentile(&s.latencies_us, 1.0),
        );
    }
    let codes: Vec<String> = by_code.iter().map(|(c, n)| format!("{c}: {n}")).collect();
    let _ = writeln!(md, "\nStatus counts: {}.\n", codes.join(", "));
    let _ = writeln!(
        md,
        "Memory (VmRSS): idle before {} KiB; at warm-up ({:.0} s) {} KiB; end {} KiB ({end_change:+.1}%); max after warm-up {} KiB ({max_change:+.1}%); min after warm-up {} KiB; idle after {} KiB; VmHWM {} KiB.\n",
        idle_start.rss_kib,
        warm.t_s,
        warm.rss_kib,
        end.rss_kib,
        max_rss,
        min_rss,
        idle_end.as_ref().map_or(0, |s| s.rss_kib),
        end.hwm_kib,
    );
    let _ = writeln!(
        md,
        "File descriptors: idle before {}; warm-up {}; end under load {}; max under load {}; idle after {} (of which on the SQLite database: {} before, at most {} under load, {} after). Threads: {} → {} (idle after {}).\n",
        idle_start.fds,
        warm.fds,
        end.fds,
        max_fds,
        idle_end_fds,
        idle_start.db_fds,
        max_db_fds,
        idle_end_db_fds,
        idle_start.threads,
        end.threads,
        idle_end.as_ref().map_or(0, |s| s.threads),
    );
    let _ = writeln!(md, "| target | value | goal | |");
    let _ = writeln!(md, "|---|---|---|---|");
    for t in &targets {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            t.name,
            t.value,
            t.goal,
            if t.pass { "pass" } else { "**MISS**" }
        );
    }
    let _ = writeln!(md, "\nResult: {}.", if pass { "PASS" } else { "FAIL" });
    if !errors.is_empty() {
        let _ = writeln!(md, "\nFirst errors:\n");
        for e in &errors {
            let _ = writeln!(md, "- {e}");
        }
    }
    let _ = writeln!(md, "\n<details><summary>per variant</summary>\n");
    let _ = writeln!(md, "| class | variant | requests | statuses |");
    let _ = writeln!(md, "|---|---|---:|---|");
    for ((class, variant), (n, labels)) in &by_variant {
        let statuses: Vec<String> = labels.iter().map(|(l, n)| format!("{l}: {n}")).collect();
        let _ = writeln!(
            md,
            "| {} | {variant} | {n} | {} |",
            class.name(),
            statuses.join(", ")
        );
    }
    let _ = writeln!(md, "\n</details>");
    std::fs::write(cfg.out.join("soak.md"), &md)?;
    println!("{md}");
    println!(
        "written: {}/soak.json, soak.md, samples.csv",
        cfg.out.display()
    );
    Ok(pass)
}

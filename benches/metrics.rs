//! What the `metrics` feature and the decision span cost on the layer's path (HS256).
//!
//! ```sh
//! cargo bench --bench metrics                      # feature off: the recording is not compiled
//! cargo bench --bench metrics --features metrics   # feature on: no recorder, then Prometheus's
//! ```
//!
//! Each case is a request through `JwtAuth` (HS256, the inner service ready at once), timed
//! over a batch; the cases take turns, batch after batch, so that load from the rest of the
//! machine falls on all of them alike, and each is reported by its fastest batch (the least
//! disturbed by the rest of a shared machine) and its median batch. The whole measurement runs
//! twice ("pass 1", "pass 2"): the ratios of the two passes show the noise. Ratios are to `bare` (the inner service called without the layer) and, with the
//! feature, of each case with the Prometheus recorder to the same case without a recorder.

use std::convert::Infallible;
use std::future::Future as _;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use sha2::Sha256;
use tower::{Layer, Service};
use tower_jwt_auth::{Algorithm, Claims, DecodingKey, JwtAuthLayer};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-bench-secret";
/// Requests per batch, and batches per case and pass.
const BATCH: u32 = 2_000;
const BATCHES: usize = 151;

fn token() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = format!(
        r#"{{"iss":"https://auth.example.com","sub":"ada","aud":"api","exp":{},"scope":"read write"}}"#,
        now + 3600
    );
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn inner() -> impl Service<Request<()>, Response = Response<bool>, Error = Infallible> + Clone {
    tower::service_fn(|request: Request<()>| async move {
        let authenticated = request.extensions().get::<Arc<Claims>>().is_some();
        Ok::<_, Infallible>(Response::new(authenticated))
    })
}

/// One request through `service`, polled once (everything is ready at once).
fn call<S, B>(service: &mut S, header: &HeaderValue) -> bool
where
    S: Service<Request<()>, Response = Response<B>>,
{
    let request = Request::builder()
        .uri("/orders")
        .header(AUTHORIZATION, header.clone())
        .body(())
        .unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    assert!(service.poll_ready(&mut cx).is_ready());
    let future = pin!(service.call(request));
    match future.poll(&mut cx) {
        Poll::Ready(Ok(response)) => response.status().is_success(),
        _ => false,
    }
}

/// Nanoseconds per request over one batch.
fn batch<S, B>(service: &mut S, header: &HeaderValue) -> f64
where
    S: Service<Request<()>, Response = Response<B>>,
{
    let started = Instant::now();
    for _ in 0..BATCH {
        assert!(black_box(call(service, black_box(header))));
    }
    started.elapsed().as_nanos() as f64 / f64::from(BATCH)
}

/// The fastest and the median batch.
fn summarise(mut xs: Vec<f64>) -> (f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[0], xs[xs.len() / 2])
}

/// A case: its name, and a batch of it.
type Case<'a> = (&'static str, Box<dyn FnMut() -> f64 + 'a>);

fn layer() -> JwtAuthLayer {
    let key = DecodingKey::from_secret(Algorithm::HS256, SECRET).unwrap();
    JwtAuthLayer::new(key)
        .issuer("https://auth.example.com")
        .audience("api")
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs one short pass as a check.
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let header = HeaderValue::from_str(&format!("Bearer {}", token())).unwrap();
    let header = &header;
    // A subscriber as a service runs it: at INFO, the DEBUG decision span is not recorded.
    let info = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::sink)
        .finish();
    let info = &tracing::Dispatch::new(info);
    #[cfg(feature = "metrics")]
    let prometheus = &metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();

    let (mut bare, mut plain) = (inner(), layer().layer(inner()));
    let mut cached = layer().cache_verified_tokens(1024).layer(inner());
    let mut plain_info = layer().layer(inner());
    #[cfg_attr(not(feature = "metrics"), allow(unused_mut))]
    let mut cases: Vec<Case<'_>> = vec![
        ("bare", Box::new(move || batch(&mut bare, header))),
        ("layer", Box::new(move || batch(&mut plain, header))),
        ("layer_cached", Box::new(move || batch(&mut cached, header))),
        (
            "layer_info_subscriber",
            Box::new(move || {
                tracing::dispatcher::with_default(info, || batch(&mut plain_info, header))
            }),
        ),
    ];
    #[cfg(feature = "metrics")]
    {
        let mut plain = layer().layer(inner());
        let mut cached = layer().cache_verified_tokens(1024).layer(inner());
        cases.push((
            "layer_prometheus",
            Box::new(move || {
                metrics::with_local_recorder(prometheus, || batch(&mut plain, header))
            }),
        ));
        cases.push((
            "layer_cached_prometheus",
            Box::new(move || {
                metrics::with_local_recorder(prometheus, || batch(&mut cached, header))
            }),
        ));
    }

    println!(
        "metrics feature: {}",
        if cfg!(feature = "metrics") {
            "on"
        } else {
            "off"
        }
    );
    let (passes, batches) = if quick { (1, 1) } else { (2, BATCHES) };
    for pass in 1..=passes {
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
        for _ in 0..batches {
            for (i, (_, run)) in cases.iter_mut().enumerate() {
                times[i].push(run());
            }
        }
        let stats: Vec<(f64, f64)> = times.into_iter().map(summarise).collect();
        let by_name = |name: &str| {
            let i = cases.iter().position(|(n, _)| *n == name)?;
            Some(stats[i])
        };
        let (bare_min, bare_median) = stats[0];
        println!(
            "pass {pass}: ns per request, fastest and median of {batches} batches of {BATCH}; \
             ratios by fastest (by median)"
        );
        for ((name, _), &(min, median)) in cases.iter().zip(&stats) {
            print!(
                "  {name:<24} {min:>8.1} {median:>8.1} ns  {:>5.2}x ({:>5.2}x) bare",
                min / bare_min,
                median / bare_median
            );
            let base = name
                .strip_suffix("_prometheus")
                .or_else(|| name.strip_suffix("_info_subscriber"));
            if let Some((base, (base_min, base_median))) = base.and_then(|b| Some((b, by_name(b)?)))
            {
                print!(
                    "  {:>5.3}x ({:>5.3}x) {base}, {:+.1} ns",
                    min / base_min,
                    median / base_median,
                    min - base_min
                );
            }
            println!();
        }
    }
}

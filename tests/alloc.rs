//! Heap allocations per verified request, counted by a counting global allocator.
//!
//! Counts are deterministic (no clocks involved): each test warms the path up once, then counts
//! the allocations of N verifications made on its own thread. The request path should allocate
//! nothing beyond the claims it returns (and, through the service, the `Arc` and the extensions
//! map that hold them); a cache hit through the service, nothing but the extensions map.
//!
//! Each count is asserted as an upper bound, the sum of the allocations named in the constants
//! below: an allocation added on the path fails the test, while a dependency, std or allocator
//! change that removes one (say, an `http::Extensions` that stops boxing its map) does not. Such
//! a drop is printed, so the bound can be tightened. A bound of 0 is exact by nature.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use serde::Deserialize;
use support::*;
use tower::{Layer, Service};
use tower_jwt_auth::layer::ResponseBody;
use tower_jwt_auth::verify::InMemoryDenylist;
use tower_jwt_auth::{Algorithm, Claims, DecodingKey, JwtAuthLayer, Validation, Verifier};

/// Counts the allocations (and reallocations) made by the current thread.
struct Counting;

thread_local! {
    // `const` and without a destructor: reading it never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only a
// thread-local `Cell`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const N: u64 = 200;

/// Allocations per call of `f`, over `N` calls made after one warm-up call.
///
/// Rounded up: a single allocation more anywhere in the `N` calls (one a cache or pool makes
/// now and then, say) counts as one more per call and so breaks a bound that was met exactly,
/// while fewer allocations, on every call or only on some, never do.
fn per_call(mut f: impl FnMut()) -> u64 {
    f();
    let before = ALLOCATIONS.with(Cell::get);
    for _ in 0..N {
        f();
    }
    let total = ALLOCATIONS.with(Cell::get) - before;
    total.div_ceil(N)
}

/// Fails when `what` made more than `bound` allocations: a new allocation on the path. Fewer is
/// fine (a dependency or std change may remove one), and is printed so the bound can be
/// tightened.
#[track_caller]
fn assert_at_most(what: &str, allocations: u64, bound: u64) {
    assert!(
        allocations <= bound,
        "{what}: {allocations} allocations, more than the {bound} accounted for; if the new \
         allocation is intended, name it in a constant of tests/alloc.rs and raise the bound"
    );
    if allocations < bound {
        println!("{what}: {allocations} allocations, fewer than the bound of {bound}");
    }
}

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "orders-api";

/// Realistic access-token claims: `iss`, `sub`, `aud`, `exp`, `iat`, `jti`, `scope`.
fn realistic_claims() -> String {
    let now = now();
    format!(
        r#"{{"iss":"{ISSUER}","sub":"user-4f1c2a9e","aud":"{AUDIENCE}","exp":{},"iat":{now},"jti":"0c6f3b8e-9a41-4d2b-8f0e-5b7c1d2e3f40","scope":"orders:read orders:write profile"}}"#,
        now + 3600
    )
}

/// A realistic HS256 access token.
fn realistic_token() -> String {
    hs256(&realistic_claims())
}

/// The same claims, signed with ES256.
fn es256_token() -> String {
    let key = jsonwebtoken::EncodingKey::from_ec_pem(fixture("es256.pem").as_bytes()).unwrap();
    jwt_sign(
        jsonwebtoken::Algorithm::ES256,
        None,
        &realistic_claims(),
        &key,
    )
}

/// Another ES256 token (another `jti`), to make a cache allocate its slots before a count.
fn another_es256_token() -> String {
    let key = jsonwebtoken::EncodingKey::from_ec_pem(fixture("es256.pem").as_bytes()).unwrap();
    let claims = realistic_claims().replace("0c6f3b8e", "1d7a4c9f");
    jwt_sign(jsonwebtoken::Algorithm::ES256, None, &claims, &key)
}

fn es256_key() -> DecodingKey {
    DecodingKey::from_pem(Algorithm::ES256, &fixture("es256.pub.pem")).unwrap()
}

fn validation() -> Validation {
    Validation::new().issuer(ISSUER).audience(AUDIENCE)
}

fn key() -> DecodingKey {
    DecodingKey::from_secret(Algorithm::HS256, SECRET).unwrap()
}

/// Claims that own nothing on the heap.
#[derive(Clone, Deserialize)]
#[allow(dead_code)]
struct Times {
    exp: i64,
    iat: i64,
}

/// The owned strings `Claims` returns for the realistic token, one heap buffer each: `iss`,
/// `sub`, `aud` (a single string, `Audience::One`), `jti` and `scope`. `exp` and `iat` are
/// integers and `extra` stays an empty map, so neither allocates.
const CLAIMS_STRINGS: u64 = 5;

#[test]
fn verifying_into_claims_allocates_only_the_claims_strings() {
    let verifier = Verifier::new(key(), validation()).unwrap();
    let token = realistic_token();
    let per = per_call(|| {
        let claims = verifier.verify::<Claims>(&token).unwrap();
        assert_eq!(claims.sub.as_deref(), Some("user-4f1c2a9e"));
    });
    assert_at_most("Verifier::verify::<Claims>", per, CLAIMS_STRINGS);
}

#[test]
fn verifying_into_claims_that_own_nothing_allocates_nothing() {
    let verifier = Verifier::new(key(), validation()).unwrap();
    let token = realistic_token();
    let per = per_call(|| {
        verifier.verify::<Times>(&token).unwrap();
    });
    // Claims made of integers only: nothing to allocate.
    assert_at_most("Verifier::verify::<Times>", per, 0);
}

fn inner() -> impl Service<Request<()>, Response = Response<()>, Error = Infallible> + Clone {
    tower::service_fn(|request: Request<()>| async move {
        assert!(request.extensions().get::<Arc<Claims>>().is_some());
        Ok::<_, Infallible>(Response::new(()))
    })
}

fn call<S>(service: &mut S, request: Request<()>)
where
    S: Service<Request<()>, Response = Response<ResponseBody<()>>, Error = Infallible>,
{
    let mut cx = Context::from_waker(Waker::noop());
    assert!(service.poll_ready(&mut cx).is_ready());
    let future = pin!(service.call(request));
    match future.poll(&mut cx) {
        Poll::Ready(Ok(response)) => assert!(response.status().is_success()),
        _ => panic!("the service did not answer at once"),
    }
}

/// Allocations per request through the service; the requests are built before counting.
fn per_request<S>(service: &mut S, token: &str) -> u64
where
    S: Service<Request<()>, Response = Response<ResponseBody<()>>, Error = Infallible>,
{
    let header = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    let mut requests: Vec<Request<()>> = (0..=N)
        .map(|_| {
            Request::builder()
                .header(AUTHORIZATION, header.clone())
                .body(())
                .unwrap()
        })
        .collect();
    let mut requests = requests.drain(..);
    call(service, requests.next().unwrap());
    let before = ALLOCATIONS.with(Cell::get);
    for request in requests.by_ref() {
        call(service, request);
    }
    let total = ALLOCATIONS.with(Cell::get) - before;
    // Rounded up, as in `per_call`.
    total.div_ceil(N)
}

/// What putting the claims' `Arc` into a request's (empty) extensions costs: `http::Extensions`
/// boxes its map on the first insert (1), the map allocates its hash table (1), and the value is
/// stored boxed, as a `Box<dyn AnyClone>` (1).
const EXTENSIONS: u64 = 3;

/// The `Arc` the claims are shared through (its one `ArcInner` allocation): the layer's, so the
/// inner service and the response future see the same claims without a copy, and the one
/// `Verifier::verify_shared` returns and its cache keeps.
const SHARED: u64 = 1;

#[test]
fn the_service_allocates_only_the_claims_and_their_extensions_slot() {
    let layer = JwtAuthLayer::new(key())
        .with_validation(validation())
        .unwrap();
    let mut service = layer.layer(inner());
    let per = per_request(&mut service, &realistic_token());
    assert_at_most(
        "a request through JwtAuthLayer",
        per,
        CLAIMS_STRINGS + SHARED + EXTENSIONS,
    );
}

#[test]
fn a_ready_revocation_hook_adds_no_allocation() {
    let layer = JwtAuthLayer::new(key())
        .with_validation(validation())
        .unwrap()
        .revocation(InMemoryDenylist::new());
    let mut service = layer.layer(inner());
    let per = per_request(&mut service, &realistic_token());
    // The same as without the hook: asking an `InMemoryDenylist` that answers at once allocates
    // nothing.
    assert_at_most(
        "a request through JwtAuthLayer with a revocation hook",
        per,
        CLAIMS_STRINGS + SHARED + EXTENSIONS,
    );
}

#[test]
fn a_cache_hit_allocates_only_the_claims_strings() {
    // The first call (the warm-up) verifies and inserts; every counted call is a hit.
    let verifier = Verifier::new(es256_key(), validation())
        .unwrap()
        .cache_verified_tokens(64);
    let token = es256_token();
    let per = per_call(|| {
        verifier.verify::<Claims>(&token).unwrap();
    });
    // A hit skips the signature but still returns owned claims: their strings only.
    assert_at_most("a cache hit of verify::<Claims>", per, CLAIMS_STRINGS);
    let per = per_call(|| {
        verifier.verify::<Times>(&token).unwrap();
    });
    assert_at_most("a cache hit of verify::<Times>", per, 0);
}

#[test]
fn a_shared_cache_hit_allocates_nothing() {
    // The claims were deserialized once, when the token was verified; a hit shares them.
    let verifier = Verifier::new(es256_key(), validation())
        .unwrap()
        .cache_verified_tokens(64);
    let token = es256_token();
    let first = verifier.verify_shared::<Claims>(&token).unwrap();
    let per = per_call(|| {
        let claims = verifier.verify_shared::<Claims>(&token).unwrap();
        assert!(Arc::ptr_eq(&claims, &first));
    });
    // Cloning the cached `Arc` only bumps its count.
    assert_at_most("a cache hit of verify_shared::<Claims>", per, 0);
}

#[test]
fn a_cache_hit_through_the_service_allocates_only_the_extensions_slot() {
    let cached = || {
        JwtAuthLayer::new(es256_key())
            .with_validation(validation())
            .unwrap()
            .cache_verified_tokens(64)
    };
    // Without a revocation hook, and with one that answers at once.
    for layer in [cached(), cached().revocation(InMemoryDenylist::new())] {
        let mut service = layer.layer(inner());
        let per = per_request(&mut service, &es256_token());
        // The cached claims' `Arc` is shared as is (no `SHARED`, no `CLAIMS_STRINGS`): only
        // the extensions slot it goes into.
        assert_at_most("a cache hit through JwtAuthLayer", per, EXTENSIONS);
    }
}

/// A cache miss stores a new entry: the `Arc` that holds it (1).
const CACHE_ENTRY: u64 = 1;

/// The entry's own copy of the token bytes (a `Box<[u8]>`), compared on lookup (1).
const CACHED_TOKEN: u64 = 1;

/// A shared-claims miss also records, for later hits, the `iss`, `sub` and `jti` the revocation
/// hook is asked about, each as an owned `Box<str>` (3).
const REVOCATION_FACTS: u64 = 3;

#[test]
fn a_cache_miss_adds_the_entry_and_its_copy_of_the_token() {
    let verifier = Verifier::new(es256_key(), validation())
        .unwrap()
        .cache_verified_tokens(64);
    let token = es256_token();
    // Warm up the thread's allocator state and the verifier's statics with another verifier.
    let warm = Verifier::new(es256_key(), validation()).unwrap();
    warm.verify::<Times>(&token).unwrap();
    // The slots are allocated at the first insertion, once: that of another token.
    verifier.verify::<Times>(&another_es256_token()).unwrap();
    let before = ALLOCATIONS.with(Cell::get);
    verifier.verify::<Times>(&token).unwrap();
    assert_at_most(
        "a cache miss of verify::<Times>",
        ALLOCATIONS.with(Cell::get) - before,
        CACHE_ENTRY + CACHED_TOKEN,
    );
}

#[test]
fn a_shared_cache_miss_adds_the_entry_the_token_and_the_verdict() {
    let verifier = Verifier::new(es256_key(), validation())
        .unwrap()
        .cache_verified_tokens(64);
    let token = es256_token();
    let warm = Verifier::new(es256_key(), validation()).unwrap();
    warm.verify_shared::<Times>(&token).unwrap();
    verifier
        .verify_shared::<Times>(&another_es256_token())
        .unwrap();
    let before = ALLOCATIONS.with(Cell::get);
    verifier.verify_shared::<Times>(&token).unwrap();
    // The claims' `Arc`, the entry, its copy of the token, and the `iss`, `sub` and `jti` the
    // revocation hook is asked about on every hit.
    assert_at_most(
        "a cache miss of verify_shared::<Times>",
        ALLOCATIONS.with(Cell::get) - before,
        SHARED + CACHE_ENTRY + CACHED_TOKEN + REVOCATION_FACTS,
    );
}

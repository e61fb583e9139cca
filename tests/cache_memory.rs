//! The memory a verified-token cache entry takes, measured by a counting global allocator, and
//! checked against what the cache's byte budget charges for it (twice the token plus 512
//! bytes; see `Verifier::cache_byte_budget`).
//!
//! Each measurement verifies `N` distinct tokens through `Verifier::verify_shared::<Claims>`
//! (the path `JwtAuthLayer` takes: an entry keeps the token, the shared claims and the facts
//! its hits check again) and divides the growth of the bytes live on the test's thread by
//! their number. The slots are allocated before (by a first token), and the cache is 64 times
//! larger than `N`, so the rare token that evicts another (both of its slots taken) changes the
//! average by less than a byte. Run with `-- --nocapture` to see the figures.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use support::*;
use tower_jwt_auth::{Algorithm, Claims, DecodingKey, Validation, Verifier};

/// Counts the bytes allocated minus those freed by the current thread.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn add(bytes: usize, sign: isize) {
    #[allow(clippy::cast_possible_wrap)]
    let _ = LIVE.try_with(|live| live.set(live.get() + sign * bytes as isize));
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only a
// thread-local `Cell`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size(), 1);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size(), 1);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(layout.size(), -1);
        add(new_size, 1);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(layout.size(), -1);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const N: usize = 1000;

/// `N` distinct HS256 tokens with realistic claims and a `scope` of `scope_len` bytes.
fn tokens(scope_len: usize) -> Vec<String> {
    let now = now();
    let scope = "orders:read profile ".repeat(scope_len / 20 + 1);
    (0..N)
        .map(|i| {
            hs256(&format!(
                r#"{{"iss":"https://auth.example.com","sub":"user-{i:08}","aud":"orders-api","exp":{},"iat":{now},"jti":"0c6f3b8e-9a41-4d2b-8f0e-{i:012}","scope":"{}"}}"#,
                now + 3600,
                &scope[..scope_len]
            ))
        })
        .collect()
}

/// The bytes one cache entry takes, on average over `N` entries of `tokens`.
fn bytes_per_entry(tokens: &[String]) -> usize {
    let key = || DecodingKey::from_secret(Algorithm::HS256, SECRET).unwrap();
    let validation = || Validation::new().audience("orders-api");
    // Warm up statics and the thread's allocator state on another verifier.
    let warm = Verifier::new(key(), validation())
        .unwrap()
        .cache_verified_tokens(4);
    warm.verify_shared::<Claims>(&tokens[0]).unwrap();
    let verifier = Verifier::new(key(), validation())
        .unwrap()
        .cache_verified_tokens(64 * N)
        .cache_byte_budget(usize::MAX / 2);
    // The first insertion allocates the slots: not part of an entry.
    verifier.verify_shared::<Claims>(&tokens[0]).unwrap();
    let before = LIVE.with(Cell::get);
    for token in &tokens[1..] {
        verifier.verify_shared::<Claims>(token).unwrap();
    }
    let grown = LIVE.with(Cell::get) - before;
    usize::try_from(grown).unwrap() / (tokens.len() - 1)
}

#[test]
fn an_entry_takes_less_than_the_budget_charges_for_it() {
    for scope_len in [40, 200, 500] {
        let tokens = tokens(scope_len);
        let len = tokens[0].len();
        assert!(tokens.iter().all(|t| t.len() == len));
        let per_entry = bytes_per_entry(&tokens);
        println!("{len}-byte token: {per_entry} bytes per cache entry");
        // More than the token it copies (the measurement sees the entry at all)...
        assert!(per_entry > len, "{per_entry} bytes for a {len}-byte token");
        // ...and no more than the budget charges for it, with room for the allocator's own
        // overhead (about 16 bytes for each of the dozen allocations an entry makes).
        let charged = 2 * len + 512;
        assert!(
            per_entry + 200 <= charged,
            "{per_entry} bytes for a {len}-byte token, charged {charged}"
        );
    }
}

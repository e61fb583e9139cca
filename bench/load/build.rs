//! Detects whether the crate under test has the opt-in verified-token cache
//! (`JwtAuthLayer::cache_verified_tokens`), and sets `cfg(has_token_cache)` when it does, so
//! that the `ours-es256-cache` variant is built exactly when the method exists.

use std::path::Path;

fn scan(dir: &Path, needle: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            scan(&path, needle)
        } else {
            path.extension().is_some_and(|e| e == "rs")
                && std::fs::read_to_string(&path).is_ok_and(|text| text.contains(needle))
        }
    })
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_token_cache)");
    println!("cargo::rerun-if-changed=../../src");
    if scan(Path::new("../../src"), "fn cache_verified_tokens(") {
        println!("cargo::rustc-cfg=has_token_cache");
    }
}

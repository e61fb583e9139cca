//! The example binaries, for the tests that run them as a user does.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The example binary `name`, built with every feature. `cargo test` builds the examples, but
/// `cargo test --test <name>` alone does not, and a stale binary would test old code:
/// cargo is asked every time (a no-op when the binary is up to date).
pub fn example(name: &str) -> PathBuf {
    // target/debug/deps/<test>-… → target/debug/examples/NAME
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().and_then(Path::parent).unwrap();
    let path = debug.join("examples").join(name);
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--example", name, "--all-features"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // The variables cargo set for this test (CARGO_PKG_NAME, CARGO_MANIFEST_DIR, …) would be
    // seen by build scripts that track them (ring's), rebuilding them here and again in the
    // next `cargo test`; the user's own settings stay.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || key.starts_with("CARGO_CRATE_")
            || key.starts_with("CARGO_BIN_")
            || key == "CARGO_PRIMARY_PACKAGE"
            || key == "CARGO_TARGET_TMPDIR"
        {
            cargo.env_remove(&*key);
        }
    }
    let status = cargo.status().unwrap();
    assert!(status.success(), "cargo build --example {name}");
    assert!(path.exists(), "{} is missing", path.display());
    path
}

//! Detects what the crate under test (`../..`) offers, so that the bench builds against it
//! before and after a feature lands:
//!
//! - `cfg(has_aws_lc)`: its Cargo.toml has an `aws-lc` feature (the aws-lc-rs signature
//!   backend). The `awslc-ours-*` variants are then served by `server-awslc`
//!   (bench/load/ours-aws-lc, built by run.sh only in that case); `report` says why they are
//!   missing when the cfg is unset. run.sh makes the same test (`has_aws_lc` in machine.txt).

/// Whether the `[features]` table of the manifest `text` has a line `aws-lc = ...`.
fn has_feature(text: &str, feature: &str) -> bool {
    let mut in_features = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_features = line == "[features]";
        } else if in_features
            && let Some(rest) = line.strip_prefix(feature)
            && rest.trim_start().starts_with('=')
        {
            return true;
        }
    }
    false
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_aws_lc)");
    println!("cargo::rerun-if-changed=../../Cargo.toml");
    let manifest = std::fs::read_to_string("../../Cargo.toml").unwrap_or_default();
    if has_feature(&manifest, "aws-lc") {
        println!("cargo::rustc-cfg=has_aws_lc");
    }
}

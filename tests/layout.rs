//! The walls between the crate's layers, checked on the source: the verifying core (`verify/`)
//! knows no HTTP, no tower and nothing of the issuing side; the tower layer (`layer/`) knows no
//! framework face and nothing of the issuing side, nor where fetched keys come from (`remote/`
//! plugs into it, not the other way round); fetched keys (`remote/`) know no framework and
//! nothing of the issuing side; token issuing (`issue/`) knows no passwords; the test helpers
//! (`testing/`) know no passwords and no framework face.

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// The lines of code (comments and unit tests left out) under `src/<dir>` that name any of
/// `forbidden`.
fn offending_lines(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let files = sources(&root);
    assert!(!files.is_empty(), "no sources under {}", root.display());
    let mut found = Vec::new();
    // Unit tests may use dev-dependencies (jsonwebtoken mints test tokens): leave them out.
    for file in files.iter().filter(|file| !file.ends_with("tests.rs")) {
        let text = fs::read_to_string(file).unwrap();
        let code_end = text.find("#[cfg(test)]\nmod tests {").unwrap_or(text.len());
        for (n, line) in text[..code_end].lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                if code.contains(word) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn the_verifying_core_imports_no_framework_and_nothing_of_the_issuing_side() {
    let found = offending_lines(
        "verify",
        &[
            "crate::layer",
            "crate::issue",
            "crate::login",
            "crate::axum",
            "crate::tonic",
            "crate::remote",
            "http::",
            "tower_layer",
            "tower_service",
            "axum",
            "tonic",
            "argon2",
            "jsonwebtoken",
            // The same, reached through the crate root's re-exports.
            "crate::JwtAuthLayer",
            "crate::RequireScopeLayer",
            "crate::MethodScopes",
            "crate::ClaimsExt",
            "crate::TokenSource",
            "crate::TokenIssuer",
            "crate::SigningKey",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

/// The names imported from the crate root in grouped form (`use crate::{A, B};`), in the code
/// under `src/<dir>`: the groups the plain word search cannot see through.
fn root_group_imports(dir: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut names = Vec::new();
    for file in sources(&root) {
        let text = fs::read_to_string(&file).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("use crate::{") {
            let group = &rest[at + "use crate::{".len()..];
            let end = group.find('}').unwrap_or(group.len());
            for name in group[..end].split(',') {
                let name = name.trim();
                if !name.is_empty() {
                    names.push(format!("{}: {name}", file.display()));
                }
            }
            rest = &group[end..];
        }
    }
    names
}

#[test]
fn the_core_imports_from_the_crate_root_only_what_the_core_defines() {
    let core = [
        "Algorithm",
        "AuthError",
        "Claims",
        "ConfigError",
        "DecodingKey",
        "ErrorKind",
        "KeySet",
        "KeyStore",
        "Validation",
        "Verifier",
    ];
    let foreign: Vec<_> = root_group_imports("verify")
        .into_iter()
        .filter(|line| {
            let name = line.rsplit(": ").next().unwrap_or("");
            !core.contains(&name)
        })
        .collect();
    assert!(foreign.is_empty(), "{foreign:#?}");
}

#[test]
fn the_layer_imports_no_framework_face_and_nothing_of_the_issuing_side() {
    let found = offending_lines(
        "layer",
        &[
            "crate::issue",
            "crate::login",
            "crate::axum",
            "crate::tonic",
            "crate::remote",
            "axum_core",
            "tonic::",
            "argon2",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn fetched_keys_know_no_framework_and_nothing_of_the_issuing_side() {
    let found = offending_lines(
        "remote",
        &[
            "crate::issue",
            "crate::login",
            "crate::session",
            "crate::axum",
            "crate::tonic",
            "axum",
            "tonic",
            "argon2",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn token_issuing_knows_no_passwords() {
    let found = offending_lines("issue", &["crate::login", "argon2", "password"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_test_helpers_know_no_passwords_and_no_framework() {
    let found = offending_lines(
        "testing",
        &[
            "crate::login",
            "crate::axum",
            "crate::tonic",
            "argon2",
            "axum",
            "tonic::",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

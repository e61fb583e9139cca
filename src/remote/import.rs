//! The lenient JWKS import of fetched sets: an unusable key is skipped with a warning, and
//! the set is taken if one key at least is usable.
//!
//! A configured set ([`KeySet::from_jwks_json`](crate::KeySet::from_jwks_json)) refuses any
//! bad key: its author can mend it. A fetched set is an identity provider's, which publishes
//! keys for others too (encryption keys, algorithms we do not verify): refusing the whole set
//! for one of them would stop every token.

use serde::Deserialize;

use super::RemoteError;
use crate::verify::algorithm::{Algorithm, AlgorithmSet, KeyFamily};
use crate::verify::keys::{DecodingKey, Jwk, KeySet};

/// Members that only private or symmetric keys carry: a published key with any of them is a
/// leak or a mistake, never used.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A fetched set, ready to use.
pub(crate) struct Imported {
    pub(crate) set: KeySet,
    /// What identifies the usable keys (`kid`, algorithm, RFC 7638 thumbprint), sorted: equal
    /// for two fetches of the same keys, whatever their order or the skipped keys.
    pub(crate) fingerprint: Vec<String>,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// The usable keys of a JWKS document.
///
/// Skipped, each with a `tracing` warning: keys of unknown `kty` or `crv`, `oct` keys, keys
/// carrying private members, `use` other than `sig`, `key_ops` without `verify`, `alg` not
/// supported or outside `allowed`, weak RSA keys, every key of a `kid` used twice, and, when
/// more than one key is usable, keys without `kid`. An RSA key without `alg` takes
/// `rsa_algorithm`.
pub(crate) fn import(
    issuer: &str,
    body: &[u8],
    rsa_algorithm: Algorithm,
    allowed: Option<AlgorithmSet>,
    max_keys: usize,
) -> Result<Imported, RemoteError> {
    let document: Document =
        serde_json::from_slice(body).map_err(|e| RemoteError::InvalidJson(e.to_string()))?;
    if document.keys.len() > max_keys {
        return Err(RemoteError::TooManyKeys(document.keys.len()));
    }
    let skip = |kid: Option<&str>, why: &dyn std::fmt::Display| {
        tracing::warn!(issuer, kid, reason = %why, "skipping an unusable key of a fetched JWKS");
    };
    let mut usable: Vec<(DecodingKey, String)> = Vec::new();
    for members in document.keys {
        let kid = members
            .get("kid")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        if let Some(private) = PRIVATE_MEMBERS.iter().find(|m| members.contains_key(**m)) {
            skip(
                kid.as_deref(),
                &format_args!("private or symmetric member {private:?}"),
            );
            continue;
        }
        let jwk: Jwk = match serde_json::from_value(serde_json::Value::Object(members)) {
            Ok(jwk) => jwk,
            Err(e) => {
                skip(kid.as_deref(), &e);
                continue;
            }
        };
        if !matches!(jwk.kty.as_str(), "RSA" | "EC" | "OKP") {
            skip(kid.as_deref(), &format_args!("key type {:?}", jwk.kty));
            continue;
        }
        let wanted = (jwk.alg.is_none() && jwk.kty == "RSA").then_some(rsa_algorithm);
        let key = match DecodingKey::from_jwk(&jwk, wanted) {
            Ok(key) => key,
            Err(e) => {
                skip(kid.as_deref(), &e);
                continue;
            }
        };
        debug_assert!(key.algorithm().family() != KeyFamily::Hmac);
        if allowed.is_some_and(|allowed| !allowed.contains(key.algorithm())) {
            skip(
                kid.as_deref(),
                &format_args!("{} is not an accepted algorithm", key.algorithm()),
            );
            continue;
        }
        let thumbprint = jwk.thumbprint().unwrap_or_default();
        let id = format!(
            "{}|{}|{thumbprint}",
            kid.as_deref().unwrap_or(""),
            key.algorithm()
        );
        usable.push((key, id));
    }
    // A `kid` used twice names no key for sure: drop every key that has it.
    let duplicated: Vec<String> = usable
        .iter()
        .enumerate()
        .filter_map(|(i, (key, _))| {
            let kid = key.kid()?;
            usable[..i]
                .iter()
                .any(|(other, _)| other.kid() == Some(kid))
                .then(|| kid.to_owned())
        })
        .collect();
    usable.retain(|(key, _)| match key.kid() {
        Some(kid) if duplicated.iter().any(|d| d == kid) => {
            skip(Some(kid), &"the kid is used by another key too");
            false
        }
        _ => true,
    });
    if usable.len() > 1 {
        usable.retain(|(key, _)| {
            if key.kid().is_none() {
                skip(None, &"no kid, in a set of several keys");
            }
            key.kid().is_some()
        });
    }
    if usable.is_empty() {
        return Err(RemoteError::NoUsableKey);
    }
    let mut fingerprint: Vec<String> = usable.iter().map(|(_, id)| id.clone()).collect();
    fingerprint.sort_unstable();
    let set = KeySet::new(usable.into_iter().map(|(key, _)| key))
        .map_err(|e| RemoteError::InvalidJson(e.to_string()))?;
    Ok(Imported { set, fingerprint })
}

//! Reference checks shared by the fuzz targets.
//!
//! Each is written the plain way, independently of the crate's readers: a base64url codec that
//! looks every character up, a JSON tree that keeps every member in order (duplicates included),
//! and the rules of the README spelled out over that tree. A target runs the crate's parser and
//! one of these on the same input and asserts that they agree.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

// ---------------------------------------------------------------------------------------------
// Known findings.

/// Whether to let an input through that breaks a property only because of `finding`, a finding
/// already reported and awaiting its fix in src/ (fuzz/README.md, "Findings"; each has a test in
/// tests/fuzz_regressions.rs). Tolerated so that a campaign explores past it, and said once on
/// stderr; `FUZZ_STRICT=1` makes every finding fatal again. Delete the call once it is fixed.
pub fn tolerate(finding: &'static str) -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    static SEEN: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    if *STRICT.get_or_init(|| std::env::var_os("FUZZ_STRICT").is_some_and(|v| v != "0")) {
        return false;
    }
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen.get_or_insert_with(HashSet::new).insert(finding) {
        eprintln!("known finding {finding} tolerated (FUZZ_STRICT=1 to stop on it)");
    }
    true
}

// ---------------------------------------------------------------------------------------------
// base64url (RFC 4648 §5), strict: no padding, no other alphabet, zero trailing bits.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn sextet(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|a| *a == c).map(|i| i as u32)
}

/// Decodes unpadded base64url, refusing anything that is not its one canonical encoding.
pub fn b64url_decode(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= sextet(*c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&bytes[1..4]),
            3 => {
                if bytes[3] != 0 {
                    return None;
                }
                out.extend_from_slice(&bytes[1..3]);
            }
            2 => {
                if bytes[2] != 0 || bytes[3] != 0 {
                    return None;
                }
                out.push(bytes[1]);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Encodes base64url without padding.
pub fn b64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut acc = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            acc |= u32::from(*b) << (16 - 8 * i);
        }
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(acc >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// A JSON tree that keeps every member, in order, duplicates included.

/// A JSON number as serde_json reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    U(u64),
    I(i64),
    F(f64),
}

impl Num {
    /// RFC 7519 §2 NumericDate in whole seconds: fractions floored, out-of-range saturated.
    pub fn seconds(self) -> i64 {
        match self {
            Num::U(u) => i64::try_from(u).unwrap_or(i64::MAX),
            Num::I(i) => i,
            #[allow(clippy::cast_possible_truncation)]
            Num::F(f) => f.floor() as i64,
        }
    }
}

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(Num),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// Parses one JSON text (trailing white space only), or `None`.
    pub fn parse(bytes: &[u8]) -> Option<Json> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = de::Deserialize::deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(value)
    }

    /// Whether any object, at any depth, names a member twice.
    pub fn has_duplicate_member(&self) -> bool {
        match self {
            Json::Arr(items) => items.iter().any(Json::has_duplicate_member),
            Json::Obj(members) => {
                let mut seen = HashSet::new();
                members.iter().any(|(name, value)| {
                    !seen.insert(name.as_str()) || value.has_duplicate_member()
                })
            }
            _ => false,
        }
    }

    /// The members of an object.
    pub fn members(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Obj(members) => Some(members),
            _ => None,
        }
    }

    /// The (last) value of the member `name` of an object.
    pub fn get(&self, name: &str) -> Option<&Json> {
        self.members()?
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_num(&self) -> Option<Num> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }
}

impl<'de> de::Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
                Ok(Json::Bool(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
                Ok(Json::Num(Num::U(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
                Ok(Json::Num(Num::I(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
                Ok(Json::Num(Num::F(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
                Ok(Json::Str(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
                Ok(Json::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Arr(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut members = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    members.push((name, map.next_value()?));
                }
                Ok(Json::Obj(members))
            }
        }
        d.deserialize_any(V)
    }
}

/// A strict JSON object: parses, is an object, repeats no member name at any depth, and
/// `serde_json::Value` reads it as an object too.
pub fn strict_object(bytes: &[u8]) -> Option<Json> {
    let tree = Json::parse(bytes)?;
    if tree.members().is_none() || tree.has_duplicate_member() {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    value.is_object().then_some(tree)
}

// ---------------------------------------------------------------------------------------------
// The JOSE header and the registered claims, by the README's rules.

pub use tower_jwt_auth::fuzzing::{ClaimsSummary, HeaderSummary};

/// The JOSE header as the rules read it: a strict object, `alg` a string, `kid` and `typ`
/// strings when present; `crit`/`b64` flagged.
pub fn reference_header(json: &[u8]) -> Option<HeaderSummary> {
    let tree = strict_object(json)?;
    let alg = tree.get("alg")?.as_str()?.to_owned();
    let string = |name| match tree.get(name) {
        None => Some(None),
        Some(v) => v.as_str().map(|s| Some(s.to_owned())),
    };
    let kid = string("kid")?;
    let typ = string("typ")?;
    let crit = tree.get("crit").is_some() || tree.get("b64").is_some();
    Some((alg, kid, typ, crit))
}

/// The registered claims as the rules read them: a strict object; `exp`, `nbf`, `iat` numbers;
/// `iss`, `sub`, `jti`, `scope` strings; `aud` a string or an array of strings, compared with
/// `audience`.
pub fn reference_claims(json: &[u8], audience: &str) -> Option<ClaimsSummary> {
    let tree = strict_object(json)?;
    let date = |name| match tree.get(name) {
        None => Some(None),
        Some(v) => v.as_num().map(|n| Some(n.seconds())),
    };
    let string = |name| match tree.get(name) {
        None => Some(None),
        Some(v) => v.as_str().map(|s| Some(s.to_owned())),
    };
    let aud = match tree.get("aud") {
        None => None,
        Some(Json::Str(s)) => Some(s == audience),
        Some(Json::Arr(items)) => {
            let mut matched = false;
            for item in items {
                matched |= item.as_str()? == audience;
            }
            Some(matched)
        }
        Some(_) => return None,
    };
    Some((
        date("exp")?,
        date("nbf")?,
        date("iat")?,
        string("iss")?,
        string("sub")?,
        string("jti")?,
        string("sid")?,
        string("scope")?,
        aud,
    ))
}

/// RFC 6750's b64token, written out again: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
/// "/" ) *"="`.
pub fn b64token(token: &[u8]) -> bool {
    let body = token.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
    body > 0
        && token[..body]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(b))
}

/// Hex, for messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codec_round_trips_and_is_strict() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = b64url_encode(&bytes);
            assert_eq!(b64url_decode(text.as_bytes()).unwrap(), bytes);
        }
        for bad in ["Zm9vYg==", "+/+/", "Zm9v Yg", "Zm9vYh", "AB", "A"] {
            assert!(b64url_decode(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_tree_sees_duplicates_at_any_depth() {
        assert!(
            !Json::parse(br#"{"a":1,"b":{"a":2}}"#)
                .unwrap()
                .has_duplicate_member()
        );
        assert!(
            Json::parse(br#"{"a":1,"a":2}"#)
                .unwrap()
                .has_duplicate_member()
        );
        assert!(
            Json::parse(br#"[{"x":{"a":1,"\u0061":2}}]"#)
                .unwrap()
                .has_duplicate_member()
        );
    }
}

//! Strict JSON readers for the JOSE header and the registered claims.
//!
//! Each reads its object in one pass straight from the decoded bytes, borrowing strings where
//! they need no unescaping, and refuses what RFC 7515 §4 and RFC 7519 §4 leave to the verifier:
//! duplicate member names (at any depth), registered members of the wrong JSON type, trailing
//! data, and invalid UTF-8 (serde_json checks it as it reads).
//!
//! - `members.rs`: duplicate tracking (the rule that refuses a repeated member name), and
//!   [`Strict`], which reads any value only to apply that rule;
//! - `registered.rs`: the typed readers of the JOSE [`Header`] and the [`RegisteredClaims`];
//! - `one_pass/`: [`read_claims`], which reads the registered claims and the application's
//!   claims type from the same pass over the bytes.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::verify::error::ErrorKind;

mod members;
mod one_pass;
mod registered;
#[cfg(test)]
mod tests;

use members::*;

pub(crate) use members::Strict;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use one_pass::read_claims;
pub(crate) use one_pass::read_claims_into;
pub(crate) use registered::{AudienceMatch, Header, RegisteredClaims};

const DUPLICATE: &str = "tjwt-duplicate-member";
const TYPE_PREFIX: &str = "tjwt-type:";

/// Maps a serde_json error from these readers to the reason it stands for.
pub(crate) fn classify(err: &serde_json::Error) -> ErrorKind {
    let message = err.to_string();
    if message.contains(DUPLICATE) {
        return ErrorKind::DuplicateMember;
    }
    if let Some(at) = message.find(TYPE_PREFIX) {
        let name = &message[at + TYPE_PREFIX.len()..];
        for claim in [
            "exp", "nbf", "iat", "iss", "sub", "aud", "jti", "sid", "scope",
        ] {
            if name.starts_with(claim) {
                return ErrorKind::InvalidClaimType(claim);
            }
        }
    }
    ErrorKind::MalformedToken
}

/// A JSON string, borrowed from the input unless it had escapes.
pub(super) struct Str<'de>(Cow<'de, str>);

/// Reads a string; anything else is a type error naming `claim`.
pub(super) struct StrSeed(pub(in crate::verify::json) &'static str);

impl<'de> DeserializeSeed<'de> for StrSeed {
    type Value = Str<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(StrVisitor(self.0))
    }
}

pub(super) struct StrVisitor(&'static str);

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Str<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{TYPE_PREFIX}{}", self.0)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Str(Cow::Owned(v)))
    }
}

/// A JSON number as serde_json reports it.
#[derive(Clone, Copy)]
pub(in crate::verify::json) enum Number {
    U(u64),
    I(i64),
    F(f64),
}

impl Number {
    /// As `NumericDate` reads it: fractions floored, saturating.
    pub(in crate::verify::json) fn numeric_date(self) -> i64 {
        match self {
            Number::U(v) => i64::try_from(v).unwrap_or(i64::MAX),
            Number::I(v) => v,
            // `as` saturates, which is what an out-of-range date should do.
            #[allow(clippy::cast_possible_truncation)]
            Number::F(v) => v.floor() as i64,
        }
    }
}

/// The member name under which serde_json, built with its `arbitrary_precision` feature (which
/// any crate in a build can turn on), hands a number to `deserialize_any` as a one-member map.
const PRIVATE_NUMBER: &str = "$serde_json::private::Number";

/// Reads the number serde_json's `arbitrary_precision` representation carries, as it reads
/// any number without that feature: an integer that fits, saturated when it does not, or a
/// float. Anything else is a type error.
///
/// Without that feature in the build, a map is no number: a claim written as
/// `{"$serde_json::private::Number": "5"}` in the token itself is a type error, as any object.
pub(in crate::verify::json) fn private_number<'de, A: MapAccess<'de>>(
    mut map: A,
    claim: &'static str,
) -> Result<Number, A::Error> {
    let type_error = || de::Error::custom(format_args!("{TYPE_PREFIX}{claim}"));
    if !arbitrary_precision() {
        return Err(type_error());
    }
    let name: Option<Cow<'de, str>> = map.next_key_seed(StrSeed("number"))?.map(|s| s.0);
    if name.as_deref() != Some(PRIVATE_NUMBER) {
        return Err(type_error());
    }
    let digits: Str<'de> = map.next_value_seed(StrSeed("number"))?;
    let digits = &*digits.0;
    // Read as serde_json reads the same text without the feature: an integer that fits, a
    // float otherwise (an integer too large for 64 bits included), and an infinite float is
    // an error ("number out of range"), never a date that saturates.
    if !is_json_number(digits) {
        return Err(type_error());
    }
    let number = if let Ok(v) = digits.parse::<u64>() {
        Number::U(v)
    } else if let Ok(v) = digits.parse::<i64>() {
        Number::I(v)
    } else {
        match digits.parse::<f64>() {
            Ok(v) if v.is_finite() => Number::F(v),
            // serde_json's own words for it, read as a malformed token.
            _ => return Err(de::Error::custom("number out of range")),
        }
    };
    if map.next_key_seed(StrSeed("number"))?.is_some() {
        return Err(type_error());
    }
    Ok(number)
}

/// Whether `text` follows RFC 8259's number grammar:
/// `[ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "-" / "+" ] 1*DIGIT ]`.
fn is_json_number(text: &str) -> bool {
    fn digits(bytes: &[u8]) -> usize {
        bytes.iter().take_while(|b| b.is_ascii_digit()).count()
    }
    let bytes = text.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    match bytes.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i += digits(&bytes[i..]),
        _ => return false,
    }
    if bytes.get(i) == Some(&b'.') {
        let n = digits(&bytes[i + 1..]);
        if n == 0 {
            return false;
        }
        i += 1 + n;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let n = digits(&bytes[i..]);
        if n == 0 {
            return false;
        }
        i += n;
    }
    i == bytes.len()
}

/// Whether the serde_json in this build has its `arbitrary_precision` feature: asked once, by
/// reading `0.5` and seeing whether it comes as a number or as the feature's map (integers that
/// fit come as numbers either way).
fn arbitrary_precision() -> bool {
    use std::sync::OnceLock;

    struct Probe;

    impl<'de> Visitor<'de> for Probe {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number")
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            while map
                .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                .is_some()
            {}
            Ok(true)
        }
    }

    static FEATURE: OnceLock<bool> = OnceLock::new();
    *FEATURE.get_or_init(|| {
        let mut de = serde_json::Deserializer::from_str("0.5");
        de.deserialize_any(Probe).unwrap_or(false)
    })
}

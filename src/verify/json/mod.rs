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
pub(crate) use one_pass::read_claims;
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
        for claim in ["exp", "nbf", "iat", "iss", "sub", "aud", "jti", "scope"] {
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

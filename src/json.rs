//! Strict JSON readers for the JOSE header and the registered claims.
//!
//! Each reads its object in one pass straight from the decoded bytes, borrowing strings where
//! they need no unescaping, and refuses what RFC 7515 §4 and RFC 7519 §4 leave to the verifier:
//! duplicate member names (at any depth), registered members of the wrong JSON type, trailing
//! data, and invalid UTF-8 (serde_json checks it as it reads).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::ErrorKind;

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
struct Str<'de>(Cow<'de, str>);

/// Reads a string; anything else is a type error naming `claim`.
struct StrSeed(&'static str);

impl<'de> DeserializeSeed<'de> for StrSeed {
    type Value = Str<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(StrVisitor(self.0))
    }
}

struct StrVisitor(&'static str);

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

/// Member names seen in one object; the first sixteen without allocating.
struct Seen<'de> {
    inline: [Option<Cow<'de, str>>; 16],
    len: usize,
    spill: Vec<Cow<'de, str>>,
}

impl<'de> Seen<'de> {
    fn new() -> Self {
        Self {
            inline: [const { None }; 16],
            len: 0,
            spill: Vec::new(),
        }
    }

    /// Records `name`; false if it was already there.
    fn insert<E: de::Error>(&mut self, name: Cow<'de, str>) -> Result<(), E> {
        let seen = self.inline[..self.len]
            .iter()
            .flatten()
            .chain(self.spill.iter());
        if seen.into_iter().any(|n| *n == name) {
            return Err(E::custom(DUPLICATE));
        }
        if self.len < self.inline.len() {
            self.inline[self.len] = Some(name);
            self.len += 1;
        } else {
            self.spill.push(name);
        }
        Ok(())
    }
}

fn next_name<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Cow<'de, str>>, A::Error> {
    Ok(map.next_key_seed(StrSeed("member name"))?.map(|s| s.0))
}

/// Any JSON value, read only to check that no object inside it repeats a member name.
pub(crate) struct Strict;

impl<'de> de::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut seen = Seen::new();
        while let Some(name) = next_name(&mut map)? {
            seen.insert(name)?;
            map.next_value::<Strict>()?;
        }
        Ok(Strict)
    }
}

/// The JOSE header members a verifier acts on.
#[derive(Debug)]
pub(crate) struct Header<'de> {
    pub(crate) alg: Cow<'de, str>,
    pub(crate) kid: Option<Cow<'de, str>>,
    pub(crate) typ: Option<Cow<'de, str>>,
    /// `crit` or `b64` present: extensions this verifier does not implement.
    pub(crate) has_unsupported_extension: bool,
}

impl<'de> Header<'de> {
    pub(crate) fn parse(json: &'de [u8]) -> Result<Self, ErrorKind> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let header = de
            .deserialize_map(HeaderVisitor)
            .map_err(|e| classify(&e))?;
        de.end().map_err(|_| ErrorKind::MalformedToken)?;
        header.ok_or(ErrorKind::MalformedToken)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    /// `None` when `alg` is missing.
    type Value = Option<Header<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = Seen::new();
        let (mut alg, mut kid, mut typ) = (None, None, None);
        let mut has_unsupported_extension = false;
        while let Some(name) = next_name(&mut map)? {
            match &*name {
                "alg" => alg = Some(map.next_value_seed(StrSeed("alg"))?.0),
                "kid" => kid = Some(map.next_value_seed(StrSeed("kid"))?.0),
                "typ" => typ = Some(map.next_value_seed(StrSeed("typ"))?.0),
                // RFC 7515 §4.1.11: we understand no extension, so any `crit` is fatal; `b64`
                // (RFC 7797) changes what is signed and is refused with it.
                "crit" | "b64" => {
                    has_unsupported_extension = true;
                    map.next_value::<Strict>()?;
                }
                // `jwk`, `jku`, `x5u`, `x5c` and the rest are read for well-formedness only:
                // keys come from configuration, never from the token.
                _ => {
                    map.next_value::<Strict>()?;
                }
            }
            seen.insert(name)?;
        }
        Ok(alg.map(|alg| Header {
            alg,
            kid,
            typ,
            has_unsupported_extension,
        }))
    }
}

/// How the token's `aud` compared with the configured audiences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AudienceMatch {
    Absent,
    Matched,
    Unmatched,
}

/// The registered claims, read and type-checked in one pass.
#[derive(Debug)]
pub(crate) struct RegisteredClaims<'de> {
    pub(crate) exp: Option<i64>,
    pub(crate) nbf: Option<i64>,
    pub(crate) iat: Option<i64>,
    pub(crate) iss: Option<Cow<'de, str>>,
    pub(crate) sub: Option<Cow<'de, str>>,
    pub(crate) jti: Option<Cow<'de, str>>,
    pub(crate) scope: Option<Cow<'de, str>>,
    pub(crate) aud: AudienceMatch,
}

impl<'de> RegisteredClaims<'de> {
    /// Reads the claims set, comparing `aud` with `audiences` as it goes.
    pub(crate) fn parse(
        json: &'de [u8],
        audiences: &[std::sync::Arc<str>],
    ) -> Result<Self, ErrorKind> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let claims = de
            .deserialize_map(ClaimsVisitor { audiences })
            .map_err(|e| classify(&e))?;
        de.end().map_err(|_| ErrorKind::MalformedToken)?;
        Ok(claims)
    }
}

struct ClaimsVisitor<'a> {
    audiences: &'a [std::sync::Arc<str>],
}

impl<'de> Visitor<'de> for ClaimsVisitor<'_> {
    type Value = RegisteredClaims<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims set object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = Seen::new();
        let mut claims = RegisteredClaims {
            exp: None,
            nbf: None,
            iat: None,
            iss: None,
            sub: None,
            jti: None,
            scope: None,
            aud: AudienceMatch::Absent,
        };
        while let Some(name) = next_name(&mut map)? {
            match &*name {
                "exp" => claims.exp = Some(map.next_value_seed(NumericDate("exp"))?),
                "nbf" => claims.nbf = Some(map.next_value_seed(NumericDate("nbf"))?),
                "iat" => claims.iat = Some(map.next_value_seed(NumericDate("iat"))?),
                "iss" => claims.iss = Some(map.next_value_seed(StrSeed("iss"))?.0),
                "sub" => claims.sub = Some(map.next_value_seed(StrSeed("sub"))?.0),
                "jti" => claims.jti = Some(map.next_value_seed(StrSeed("jti"))?.0),
                "scope" => claims.scope = Some(map.next_value_seed(StrSeed("scope"))?.0),
                "aud" => {
                    claims.aud = map.next_value_seed(AudienceSeed {
                        audiences: self.audiences,
                    })?;
                }
                _ => {
                    map.next_value::<Strict>()?;
                }
            }
            seen.insert(name)?;
        }
        Ok(claims)
    }
}

/// A NumericDate (RFC 7519 §2): a JSON number of seconds, fractions floored.
struct NumericDate(&'static str);

impl<'de> DeserializeSeed<'de> for NumericDate {
    type Value = i64;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<i64, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for NumericDate {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{TYPE_PREFIX}{}", self.0)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        Ok(i64::try_from(v).unwrap_or(i64::MAX))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        // `as` saturates, which is what an out-of-range date should do.
        #[allow(clippy::cast_possible_truncation)]
        Ok(v.floor() as i64)
    }
}

struct AudienceSeed<'a> {
    audiences: &'a [std::sync::Arc<str>],
}

impl<'de> DeserializeSeed<'de> for AudienceSeed<'_> {
    type Value = AudienceMatch;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<AudienceMatch, D::Error> {
        d.deserialize_any(self)
    }
}

impl AudienceSeed<'_> {
    fn matches(&self, aud: &str) -> bool {
        self.audiences.iter().any(|ours| **ours == *aud)
    }
}

impl<'de> Visitor<'de> for AudienceSeed<'_> {
    type Value = AudienceMatch;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{TYPE_PREFIX}aud")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<AudienceMatch, E> {
        Ok(if self.matches(v) {
            AudienceMatch::Matched
        } else {
            AudienceMatch::Unmatched
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AudienceMatch, A::Error> {
        let mut result = AudienceMatch::Unmatched;
        while let Some(aud) = seq.next_element_seed(StrSeed("aud"))? {
            if self.matches(&aud.0) {
                result = AudienceMatch::Matched;
            }
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_members_are_refused_at_any_depth() {
        assert_eq!(
            Header::parse(br#"{"alg":"HS256","alg":"none"}"#).unwrap_err(),
            ErrorKind::DuplicateMember
        );
        assert_eq!(
            RegisteredClaims::parse(br#"{"a":{"b":1,"b":2}}"#, &[]).unwrap_err(),
            ErrorKind::DuplicateMember
        );
        // An escaped spelling of the same name is the same name.
        assert_eq!(
            RegisteredClaims::parse(br#"{"sub":"a","s\u0075b":"b"}"#, &[]).unwrap_err(),
            ErrorKind::DuplicateMember
        );
    }

    #[test]
    fn registered_claims_of_the_wrong_type_are_named() {
        assert_eq!(
            RegisteredClaims::parse(br#"{"exp":"1700000000"}"#, &[]).unwrap_err(),
            ErrorKind::InvalidClaimType("exp")
        );
        assert_eq!(
            RegisteredClaims::parse(br#"{"iss":42}"#, &[]).unwrap_err(),
            ErrorKind::InvalidClaimType("iss")
        );
        assert_eq!(
            RegisteredClaims::parse(br#"{"aud":["a",1]}"#, &[]).unwrap_err(),
            ErrorKind::InvalidClaimType("aud")
        );
        assert_eq!(
            RegisteredClaims::parse(br#"{"nbf":null}"#, &[]).unwrap_err(),
            ErrorKind::InvalidClaimType("nbf")
        );
    }

    #[test]
    fn non_objects_and_trailing_data_are_malformed() {
        for json in [
            &b"[]"[..],
            b"\"x\"",
            b"{} {}",
            b"{",
            b"",
            b"{\"a\":\"\xff\"}",
        ] {
            assert_eq!(
                RegisteredClaims::parse(json, &[]).unwrap_err(),
                ErrorKind::MalformedToken,
                "{json:?}"
            );
        }
    }

    #[test]
    fn fractional_dates_are_floored_and_audiences_matched() {
        let ours: Vec<std::sync::Arc<str>> = vec!["api".into()];
        let claims = RegisteredClaims::parse(br#"{"exp":1.9e1,"aud":["x","api"]}"#, &ours).unwrap();
        assert_eq!(claims.exp, Some(19));
        assert_eq!(claims.aud, AudienceMatch::Matched);
        let claims = RegisteredClaims::parse(br#"{"aud":"x"}"#, &ours).unwrap();
        assert_eq!(claims.aud, AudienceMatch::Unmatched);
    }
}

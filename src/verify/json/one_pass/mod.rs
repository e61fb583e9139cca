//! One pass: the registered claims and the application's claims type from the same read.
//!
//! `read_claims` hands the application's `Deserialize` impl a deserializer that wraps serde_json's
//! and watches everything that goes through it:
//!
//! - every object, at any depth, has its member names recorded and a repeat refused;
//! - a registered member's value is read and type-checked here (a NumericDate, a string, or
//!   `aud`'s string or array of strings), then handed on to the application as the very value
//!   serde_json would have produced;
//! - every other value is passed through untouched, except that a value the application ignores
//!   is still read in full (with [`Strict`]), so nothing escapes the duplicate check.
//!
//! Whatever the wrapper cannot mirror exactly (a key read as a number, serde_json's private
//! `RawValue`, a claims set read as an enum) is an error, and any error sends the caller back to
//! the two-pass reader, which classifies it precisely. So the one pass either yields exactly what
//! `RegisteredClaims::parse` followed by `serde_json::from_slice::<C>` would, or nothing.
use std::marker::PhantomData;

use super::*;

mod aud;
mod strict;
mod values;

use aud::*;
use strict::*;
use values::*;

/// The error of a value the wrapper refuses; its text is never shown (the caller re-reads).
pub(super) const UNMIRRORED: &str = "tjwt-unmirrored";

/// Reads the claims set once, into the registered claims (compared with `audiences`) and `C`.
///
/// `None` on any error, including the duplicate members and type errors the two-pass reader
/// names: the caller then runs [`RegisteredClaims::parse`] and `serde_json` separately.
/// `registered` is written as the members go by (and is meaningless after `None`); taking it
/// by reference rather than returning it with `C` saves moving both around.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn read_claims<'de, C: de::Deserialize<'de>>(
    json: &'de [u8],
    audiences: &[std::sync::Arc<str>],
    registered: &mut RegisteredClaims<'de>,
) -> Option<C> {
    let mut claims = None;
    read_claims_into(json, audiences, registered, &mut claims).then_some(claims)?
}

/// [`read_claims`], writing the claims into `slot` (left `None` on any error) rather than
/// returning them: a claims type of a few hundred bytes is then written once, where the caller
/// keeps it, instead of being copied out through each layer (BENCHMARKS.md, "Code-generation
/// notes"). Whether the one pass succeeded.
pub(crate) fn read_claims_into<'de, C: de::Deserialize<'de>>(
    json: &'de [u8],
    audiences: &[std::sync::Arc<str>],
    registered: &mut RegisteredClaims<'de>,
    slot: &mut Option<C>,
) -> bool {
    // One UTF-8 check of the whole claims set, then serde_json's `str` reader, which checks no
    // string again. Its slice reader checks each string and member name by itself, a dozen
    // short `from_utf8` calls per token, about five times the cost of this one
    // (BENCHMARKS.md, "The targets on another CPU"). Bytes that are not UTF-8 go to the
    // two-pass reader, which names the error as before.
    let Ok(json) = std::str::from_utf8(json) else {
        return false;
    };
    let mut de = serde_json::Deserializer::from_str(json);
    match C::deserialize(Root {
        de: &mut de,
        registered,
        audiences,
    }) {
        Ok(claims) => *slot = Some(claims),
        Err(_) => return false,
    }
    if de.end().is_err() {
        *slot = None;
        return false;
    }
    true
}

impl RegisteredClaims<'_> {
    /// No claims yet: what [`read_claims`] fills in.
    pub(crate) fn empty() -> Self {
        Self {
            exp: None,
            nbf: None,
            iat: None,
            iss: None,
            sub: None,
            jti: None,
            sid: None,
            scope: None,
            aud: AudienceMatch::Absent,
        }
    }
}

/// A root member's meaning.
#[derive(Clone, Copy)]
pub(in crate::verify::json) enum Member {
    Exp,
    Nbf,
    Iat,
    Iss,
    Sub,
    Jti,
    Sid,
    Scope,
    Aud,
    Other,
}

impl Member {
    /// The member a name of fingerprint `print` is: registered names are short enough that
    /// the fingerprint alone tells them.
    pub(in crate::verify::json) fn of(print: u64) -> Self {
        const EXP: u64 = fingerprint("exp");
        const NBF: u64 = fingerprint("nbf");
        const IAT: u64 = fingerprint("iat");
        const ISS: u64 = fingerprint("iss");
        const SUB: u64 = fingerprint("sub");
        const JTI: u64 = fingerprint("jti");
        const SID: u64 = fingerprint("sid");
        const SCOPE: u64 = fingerprint("scope");
        const AUD: u64 = fingerprint("aud");
        match print {
            EXP => Member::Exp,
            NBF => Member::Nbf,
            IAT => Member::Iat,
            ISS => Member::Iss,
            SUB => Member::Sub,
            JTI => Member::Jti,
            SID => Member::Sid,
            SCOPE => Member::Scope,
            AUD => Member::Aud,
            _ => Member::Other,
        }
    }
}

pub(super) fn unmirrored<E: de::Error>() -> E {
    E::custom(UNMIRRORED)
}

/// serde_json's private marker names (`RawValue`, arbitrary-precision numbers): not mirrored.
pub(super) fn is_private(name: &str) -> bool {
    name.starts_with("$serde_json::")
}

/// The claims set: an object, whatever the application asks for.
pub(super) struct Root<'a, 'r, 'de> {
    de: &'a mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
    registered: &'r mut RegisteredClaims<'de>,
    audiences: &'r [std::sync::Arc<str>],
}

impl<'de> Deserializer<'de> for Root<'_, '_, 'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.de.deserialize_map(RootVisitor {
            inner: visitor,
            registered: self.registered,
            audiences: self.audiences,
        })
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        // An object is never `null`.
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        if is_private(name) {
            return Err(unmirrored());
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        Err(unmirrored())
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

pub(super) struct RootVisitor<'r, 'de, V> {
    inner: V,
    registered: &'r mut RegisteredClaims<'de>,
    audiences: &'r [std::sync::Arc<str>],
}

impl<'de, V: Visitor<'de>> Visitor<'de> for RootVisitor<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims set object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let mut seen = Seen::new();
        self.inner.visit_map(RootMap {
            map,
            registered: self.registered,
            audiences: self.audiences,
            seen: &mut seen,
            member: None,
        })
    }
}

pub(super) struct RootMap<'r, 'de, A> {
    map: A,
    registered: &'r mut RegisteredClaims<'de>,
    audiences: &'r [std::sync::Arc<str>],
    seen: &'r mut Seen<'de>,
    /// What the next value is.
    member: Option<Member>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for RootMap<'_, 'de, A> {
    type Error = A::Error;

    // Inlined into the application's visitor: BENCHMARKS.md, "Code-generation notes".
    #[inline(always)]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(name) = next_name(&mut self.map)? else {
            return Ok(None);
        };
        let print = fingerprint(&name);
        self.member = Some(Member::of(print));
        let key = seed.deserialize(NameDe(&name, PhantomData));
        self.seen.insert_printed(print, name)?;
        key.map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        match self.member.take().ok_or_else(unmirrored)? {
            Member::Other => self.map.next_value_seed(StrictSeed(seed)),
            member => self.map.next_value_seed(ClaimSeed {
                inner: seed,
                member,
                registered: &mut *self.registered,
                audiences: self.audiences,
            }),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// A member name already read, handed to the application's key seed as serde_json's key
/// deserializer hands it: as a string, borrowed when it had no escapes, whatever is asked for.
///
/// Reading the name first and replaying it (rather than wrapping serde_json's key deserializer)
/// keeps the application's key value from being moved through serde_json's layers as well.
/// serde_json also reads a key as a number or a bool when asked for one; those requests get a
/// string here and end as type errors, never as a different value.
pub(super) struct NameDe<'n, 'de, E>(&'n Cow<'de, str>, PhantomData<E>);

impl<'de, E: de::Error> Deserializer<'de> for NameDe<'_, 'de, E> {
    type Error = E;

    #[inline(always)]
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Cow::Borrowed(name) => visitor.visit_borrowed_str(name),
            Cow::Owned(name) => visitor.visit_str(name),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

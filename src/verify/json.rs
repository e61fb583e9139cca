//! Strict JSON readers for the JOSE header and the registered claims.
//!
//! Each reads its object in one pass straight from the decoded bytes, borrowing strings where
//! they need no unescaping, and refuses what RFC 7515 §4 and RFC 7519 §4 leave to the verifier:
//! duplicate member names (at any depth), registered members of the wrong JSON type, trailing
//! data, and invalid UTF-8 (serde_json checks it as it reads).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::verify::error::ErrorKind;

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

/// A member name's fingerprint: its first seven bytes and its length (saturated at 255).
///
/// Different fingerprints mean different names; equal ones mean equal names when the names are
/// at most [`EXACT`] bytes long (as every registered claim name is), and otherwise call for a
/// full comparison. Comparing fingerprints first keeps duplicate detection to one integer
/// comparison per pair of names, and lets short names go unstored.
const fn fingerprint(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut print = 0;
    let mut i = 0;
    while i < EXACT && i < bytes.len() {
        print |= (bytes[i] as u64) << (8 * i);
        i += 1;
    }
    let len = if bytes.len() > 255 {
        255
    } else {
        bytes.len() as u64
    };
    print | len << 56
}

/// Names up to this long are told apart by their fingerprint alone.
const EXACT: usize = 7;

/// Member names seen in one object: the first sixteen without allocating, and without storing
/// short names at all (their fingerprint is the name).
///
/// Small and zero-initialized, so that making one costs a few vector stores; it lives in the
/// frame of the visitor that reads the object and is lent to what needs it, never moved.
struct Seen<'de> {
    prints: [u64; INLINE],
    /// Long names that borrow from the input; `None` for short ones.
    names: [Option<&'de str>; INLINE],
    len: usize,
    /// Names beyond the sixteenth, and long names that had escapes.
    spill: Vec<(u64, Cow<'de, str>)>,
}

const INLINE: usize = 16;

impl<'de> Seen<'de> {
    fn new() -> Self {
        Self {
            prints: [0; INLINE],
            names: [None; INLINE],
            len: 0,
            spill: Vec::new(),
        }
    }

    /// Records `name`; an error if it was already there.
    fn insert<E: de::Error>(&mut self, name: Cow<'de, str>) -> Result<(), E> {
        self.insert_printed(fingerprint(&name), name)
    }

    /// Records `name`, whose fingerprint is `print`; an error if it was already there.
    #[inline]
    fn insert_printed<E: de::Error>(&mut self, print: u64, name: Cow<'de, str>) -> Result<(), E> {
        // The usual case: a borrowed name, room inline, no fingerprint seen before.
        if self.len < INLINE
            && self.spill.is_empty()
            && !self.prints[..self.len].contains(&print)
            && let Cow::Borrowed(borrowed) = name
        {
            self.prints[self.len] = print;
            self.names[self.len] = (borrowed.len() > EXACT).then_some(borrowed);
            self.len += 1;
            return Ok(());
        }
        self.insert_slow(print, name)
    }

    #[cold]
    fn insert_slow<E: de::Error>(&mut self, print: u64, name: Cow<'de, str>) -> Result<(), E> {
        let short = name.len() <= EXACT;
        let inline = self.prints[..self.len]
            .iter()
            .zip(&self.names[..self.len])
            .any(|(p, n)| *p == print && (short || n.is_some_and(|n| n == name)));
        if inline
            || self
                .spill
                .iter()
                .any(|(p, n)| *p == print && (short || *n == name))
        {
            return Err(E::custom(DUPLICATE));
        }
        match name {
            Cow::Borrowed(name) if self.len < INLINE => {
                self.prints[self.len] = print;
                self.names[self.len] = (!short).then_some(name);
                self.len += 1;
            }
            Cow::Owned(_) if short && self.len < INLINE => {
                self.prints[self.len] = print;
                self.len += 1;
            }
            name => self.spill.push((print, name)),
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
    /// An empty header, for [`Header::parse_into`] to fill.
    pub(crate) const fn empty() -> Self {
        Self {
            alg: Cow::Borrowed(""),
            kid: None,
            typ: None,
            has_unsupported_extension: false,
        }
    }

    #[cfg(test)]
    pub(crate) fn parse(json: &'de [u8]) -> Result<Self, ErrorKind> {
        let mut header = Self::empty();
        header.parse_into(json)?;
        Ok(header)
    }

    /// Reads the header into `self` (written in place: the caller's frame holds it, and it is
    /// not moved through the layers of the reader).
    pub(crate) fn parse_into(&mut self, json: &'de [u8]) -> Result<(), ErrorKind> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let has_alg = de
            .deserialize_map(HeaderVisitor(self))
            .map_err(|e| classify(&e))?;
        de.end().map_err(|_| ErrorKind::MalformedToken)?;
        if has_alg {
            Ok(())
        } else {
            Err(ErrorKind::MalformedToken)
        }
    }
}

/// Fills a header; its value says whether `alg` was there.
struct HeaderVisitor<'h, 'de>(&'h mut Header<'de>);

impl<'de> Visitor<'de> for HeaderVisitor<'_, 'de> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        const ALG: u64 = fingerprint("alg");
        const KID: u64 = fingerprint("kid");
        const TYP: u64 = fingerprint("typ");
        const CRIT: u64 = fingerprint("crit");
        const B64: u64 = fingerprint("b64");
        let header = self.0;
        let mut seen = Seen::new();
        let mut has_alg = false;
        while let Some(name) = next_name(&mut map)? {
            // Fingerprints of names this short are the names (see `fingerprint`).
            let print = fingerprint(&name);
            match print {
                ALG => {
                    header.alg = map.next_value_seed(StrSeed("alg"))?.0;
                    has_alg = true;
                }
                KID => header.kid = Some(map.next_value_seed(StrSeed("kid"))?.0),
                TYP => header.typ = Some(map.next_value_seed(StrSeed("typ"))?.0),
                // RFC 7515 §4.1.11: we understand no extension, so any `crit` is fatal; `b64`
                // (RFC 7797) changes what is signed and is refused with it.
                CRIT | B64 => {
                    header.has_unsupported_extension = true;
                    map.next_value::<Strict>()?;
                }
                // `jwk`, `jku`, `x5u`, `x5c` and the rest are read for well-formedness only:
                // keys come from configuration, never from the token.
                _ => {
                    map.next_value::<Strict>()?;
                }
            }
            seen.insert_printed(print, name)?;
        }
        Ok(has_alg)
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
#[derive(Debug, PartialEq)]
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

// ------------------------------------------------------------------------------------------------
// One pass: the registered claims and the application's claims type from the same read
// ------------------------------------------------------------------------------------------------
//
// `read_claims` hands the application's `Deserialize` impl a deserializer that wraps serde_json's
// and watches everything that goes through it:
//
// - every object, at any depth, has its member names recorded and a repeat refused;
// - a registered member's value is read and type-checked here (a NumericDate, a string, or
//   `aud`'s string or array of strings), then handed on to the application as the very value
//   serde_json would have produced;
// - every other value is passed through untouched, except that a value the application ignores
//   is still read in full (with [`Strict`]), so nothing escapes the duplicate check.
//
// Whatever the wrapper cannot mirror exactly (a key read as a number, serde_json's private
// `RawValue`, a claims set read as an enum) is an error, and any error sends the caller back to
// the two-pass reader, which classifies it precisely. So the one pass either yields exactly what
// `RegisteredClaims::parse` followed by `serde_json::from_slice::<C>` would, or nothing.

use std::marker::PhantomData;

/// The error of a value the wrapper refuses; its text is never shown (the caller re-reads).
const UNMIRRORED: &str = "tjwt-unmirrored";

/// Reads the claims set once, into the registered claims (compared with `audiences`) and `C`.
///
/// `None` on any error, including the duplicate members and type errors the two-pass reader
/// names: the caller then runs [`RegisteredClaims::parse`] and `serde_json` separately.
/// `registered` is written as the members go by (and is meaningless after `None`); taking it
/// by reference rather than returning it with `C` saves moving both around.
pub(crate) fn read_claims<'de, C: de::Deserialize<'de>>(
    json: &'de [u8],
    audiences: &[std::sync::Arc<str>],
    registered: &mut RegisteredClaims<'de>,
) -> Option<C> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let claims = match C::deserialize(Root {
        de: &mut de,
        registered,
        audiences,
    }) {
        Ok(claims) => claims,
        Err(_) => return None,
    };
    de.end().ok()?;
    Some(claims)
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
            scope: None,
            aud: AudienceMatch::Absent,
        }
    }
}

/// A root member's meaning.
#[derive(Clone, Copy)]
enum Member {
    Exp,
    Nbf,
    Iat,
    Iss,
    Sub,
    Jti,
    Scope,
    Aud,
    Other,
}

impl Member {
    /// The member a name of fingerprint `print` is: registered names are short enough that
    /// the fingerprint alone tells them.
    fn of(print: u64) -> Self {
        const EXP: u64 = fingerprint("exp");
        const NBF: u64 = fingerprint("nbf");
        const IAT: u64 = fingerprint("iat");
        const ISS: u64 = fingerprint("iss");
        const SUB: u64 = fingerprint("sub");
        const JTI: u64 = fingerprint("jti");
        const SCOPE: u64 = fingerprint("scope");
        const AUD: u64 = fingerprint("aud");
        match print {
            EXP => Member::Exp,
            NBF => Member::Nbf,
            IAT => Member::Iat,
            ISS => Member::Iss,
            SUB => Member::Sub,
            JTI => Member::Jti,
            SCOPE => Member::Scope,
            AUD => Member::Aud,
            _ => Member::Other,
        }
    }
}

fn unmirrored<E: de::Error>() -> E {
    E::custom(UNMIRRORED)
}

/// serde_json's private marker names (`RawValue`, arbitrary-precision numbers): not mirrored.
fn is_private(name: &str) -> bool {
    name.starts_with("$serde_json::")
}

/// The claims set: an object, whatever the application asks for.
struct Root<'a, 'r, 'de> {
    de: &'a mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
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

struct RootVisitor<'r, 'de, V> {
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

struct RootMap<'r, 'de, A> {
    map: A,
    registered: &'r mut RegisteredClaims<'de>,
    audiences: &'r [std::sync::Arc<str>],
    seen: &'r mut Seen<'de>,
    /// What the next value is.
    member: Option<Member>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for RootMap<'_, 'de, A> {
    type Error = A::Error;

    // Inlined into the application's visitor, so its key value stays in registers rather
    // than being stored by one function and reloaded, at another width, by the next.
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
struct NameDe<'n, 'de, E>(&'n Cow<'de, str>, PhantomData<E>);

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

// ---- values nobody reads as a registered claim: passed through, duplicate-checked ----

/// Wraps a value's deserializer so that every object inside it is duplicate-checked.
struct StrictSeed<T>(T);

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for StrictSeed<T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T::Value, D::Error> {
        self.0.deserialize(StrictDe(d))
    }
}

struct StrictDe<D>(D);

/// Forwards each request to the same request of the wrapped deserializer, so the application
/// sees exactly the visits serde_json makes.
macro_rules! forward_strict {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                self.0.$method(StrictVisitorTee(visitor))
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for StrictDe<D> {
    type Error = D::Error;

    forward_strict! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_unit_struct(name, StrictVisitorTee(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        if is_private(name) {
            return Err(unmirrored());
        }
        self.0
            .deserialize_newtype_struct(name, StrictVisitorTee(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, StrictVisitorTee(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_tuple_struct(name, len, StrictVisitorTee(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_struct(name, fields, StrictVisitorTee(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_enum(name, variants, StrictVisitorTee(visitor))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        // serde_json would skip the value unread: read it, so it is checked too.
        de::Deserialize::deserialize(self.0).map(|Strict| ())?;
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// Passes every visit on, wrapping what holds further values.
struct StrictVisitorTee<V>(V);

macro_rules! forward_visits {
    ($($method:ident($ty:ty))*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
                self.0.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for StrictVisitorTee<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    forward_visits! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64)
        visit_i128(i128) visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64)
        visit_u128(u128) visit_f32(f32) visit_f64(f64) visit_char(char) visit_str(&str)
        visit_borrowed_str(&'de str) visit_string(String) visit_bytes(&[u8])
        visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(StrictDe(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(StrictDe(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(StrictSeq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let mut seen = Seen::new();
        self.0.visit_map(StrictMap {
            map,
            seen: &mut seen,
        })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(StrictEnum(data))
    }
}

struct StrictSeq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for StrictSeq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(StrictSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct StrictMap<'s, 'de, A> {
    map: A,
    seen: &'s mut Seen<'de>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for StrictMap<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(name) = next_name(&mut self.map)? else {
            return Ok(None);
        };
        let key = seed.deserialize(NameDe(&name, PhantomData));
        self.seen.insert(name)?;
        key.map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.map.next_value_seed(StrictSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// An externally tagged enum (`{"Variant": value}`): the value is wrapped.
struct StrictEnum<A>(A);

impl<'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for StrictEnum<A> {
    type Error = A::Error;
    type Variant = StrictVariant<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(seed)?;
        Ok((value, StrictVariant(variant)))
    }
}

struct StrictVariant<A>(A);

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for StrictVariant<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(StrictSeed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, StrictVisitorTee(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, StrictVisitorTee(visitor))
    }
}

// ---- registered claims: read and checked here, then handed on ----

struct ClaimSeed<'r, 'de, T> {
    inner: T,
    member: Member,
    registered: &'r mut RegisteredClaims<'de>,
    audiences: &'r [std::sync::Arc<str>],
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for ClaimSeed<'_, 'de, T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T::Value, D::Error> {
        let r = self.registered;
        match self.member {
            Member::Exp | Member::Nbf | Member::Iat => {
                let number = d.deserialize_any(NumberVisitor)?;
                let slot = match self.member {
                    Member::Exp => &mut r.exp,
                    Member::Nbf => &mut r.nbf,
                    _ => &mut r.iat,
                };
                *slot = Some(number.numeric_date());
                self.inner.deserialize(NumberDe(number, PhantomData))
            }
            Member::Iss | Member::Sub | Member::Jti | Member::Scope => {
                let value = d.deserialize_str(StrVisitor("string claim"))?.0;
                let claims = self.inner.deserialize(StrDe(&value, PhantomData));
                let slot = match self.member {
                    Member::Iss => &mut r.iss,
                    Member::Sub => &mut r.sub,
                    Member::Jti => &mut r.jti,
                    _ => &mut r.scope,
                };
                *slot = Some(value);
                claims
            }
            Member::Aud => self.inner.deserialize(AudDe {
                de: d,
                aud: &mut r.aud,
                audiences: self.audiences,
            }),
            Member::Other => Err(unmirrored()),
        }
    }
}

/// A JSON number as serde_json reports it.
#[derive(Clone, Copy)]
enum Number {
    U(u64),
    I(i64),
    F(f64),
}

impl Number {
    /// As [`NumericDate`] reads it: fractions floored, saturating.
    fn numeric_date(self) -> i64 {
        match self {
            Number::U(v) => i64::try_from(v).unwrap_or(i64::MAX),
            Number::I(v) => v,
            // `as` saturates, which is what an out-of-range date should do.
            #[allow(clippy::cast_possible_truncation)]
            Number::F(v) => v.floor() as i64,
        }
    }
}

struct NumberVisitor;

impl Visitor<'_> for NumberVisitor {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a NumericDate")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
        Ok(Number::U(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
        Ok(Number::I(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
        Ok(Number::F(v))
    }
}

/// A number already read, handed on as serde_json hands on a number: numeric requests get
/// it, `Option` gets `Some`, anything else is a type error.
struct NumberDe<E>(Number, PhantomData<E>);

impl<E> NumberDe<E> {
    fn unexpected(&self) -> de::Unexpected<'static> {
        match self.0 {
            Number::U(v) => de::Unexpected::Unsigned(v),
            Number::I(v) => de::Unexpected::Signed(v),
            Number::F(v) => de::Unexpected::Float(v),
        }
    }
}

macro_rules! refuse {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
                Err(E::invalid_type(self.unexpected(), &visitor))
            }
        )*
    };
}

/// The compound `deserialize_*` methods, refused as [`refuse!`] does the simple ones.
macro_rules! refuse_compound {
    () => {
        fn deserialize_unit_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            visitor: V,
        ) -> Result<V::Value, E> {
            Err(E::invalid_type(self.unexpected(), &visitor))
        }

        fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, E> {
            Err(E::invalid_type(self.unexpected(), &visitor))
        }

        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: usize,
            visitor: V,
        ) -> Result<V::Value, E> {
            Err(E::invalid_type(self.unexpected(), &visitor))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, E> {
            Err(E::invalid_type(self.unexpected(), &visitor))
        }
    };
}

impl<'de, E: de::Error> Deserializer<'de> for NumberDe<E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Number::U(v) => visitor.visit_u64(v),
            Number::I(v) => visitor.visit_i64(v),
            Number::F(v) => visitor.visit_f64(v),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64
    }

    refuse! {
        deserialize_bool deserialize_char deserialize_str deserialize_string deserialize_bytes
        deserialize_byte_buf deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier
    }

    refuse_compound!();

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        Err(E::invalid_type(self.unexpected(), &visitor))
    }
}

/// A string already read, handed on as serde_json hands on a string: borrowed when it had no
/// escapes, as bytes when bytes are asked for, as a unit variant to an enum.
struct StrDe<'s, 'de, E>(&'s Cow<'de, str>, PhantomData<E>);

impl<'de, E: de::Error> StrDe<'_, 'de, E> {
    fn unexpected(&self) -> de::Unexpected<'_> {
        de::Unexpected::Str(self.0)
    }
}

impl<'de, E: de::Error> Deserializer<'de> for StrDe<'_, 'de, E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Cow::Borrowed(v) => visitor.visit_borrowed_str(v),
            Cow::Owned(v) => visitor.visit_str(v),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Cow::Borrowed(v) => visitor.visit_borrowed_bytes((*v).as_bytes()),
            Cow::Owned(v) => visitor.visit_bytes(v.as_bytes()),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        match self.0 {
            Cow::Borrowed(v) => visitor.visit_enum(de::value::BorrowedStrDeserializer::new(v)),
            Cow::Owned(v) => visitor.visit_enum(de::value::StrDeserializer::new(v)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        char str string identifier
    }

    refuse! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_unit deserialize_seq
        deserialize_map
    }

    refuse_compound!();
}

/// `aud`: passed through to the application, each string compared as it goes by; anything
/// but a string or an array of strings is refused.
struct AudDe<'r, D> {
    de: D,
    aud: &'r mut AudienceMatch,
    audiences: &'r [std::sync::Arc<str>],
}

macro_rules! forward_aud {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                self.de.$method(AudVisitor {
                    inner: visitor,
                    aud: self.aud,
                    audiences: self.audiences,
                })
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for AudDe<'_, D> {
    type Error = D::Error;

    forward_aud! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        // serde_json would skip it unread: read it, so it is checked and compared.
        self.deserialize_any(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: V,
    ) -> Result<V::Value, D::Error> {
        Err(unmirrored())
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        if is_private(name) {
            return Err(unmirrored());
        }
        let aud = AudVisitor {
            inner: visitor,
            aud: self.aud,
            audiences: self.audiences,
        };
        self.de.deserialize_newtype_struct(name, aud)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let aud = AudVisitor {
            inner: visitor,
            aud: self.aud,
            audiences: self.audiences,
        };
        self.de.deserialize_tuple(len, aud)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        _: V,
    ) -> Result<V::Value, D::Error> {
        Err(unmirrored())
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, D::Error> {
        Err(unmirrored())
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, D::Error> {
        Err(unmirrored())
    }
}

struct AudVisitor<'r, V> {
    inner: V,
    aud: &'r mut AudienceMatch,
    audiences: &'r [std::sync::Arc<str>],
}

impl<V> AudVisitor<'_, V> {
    fn saw(&mut self, aud: &str) {
        if self.audiences.iter().any(|ours| **ours == *aud) {
            *self.aud = AudienceMatch::Matched;
        } else if *self.aud == AudienceMatch::Absent {
            *self.aud = AudienceMatch::Unmatched;
        }
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for AudVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<V::Value, E> {
        self.saw(v);
        self.inner.visit_borrowed_str(v)
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<V::Value, E> {
        self.saw(v);
        self.inner.visit_str(v)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(AudDe {
            de: d,
            aud: self.aud,
            audiences: self.audiences,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(AudDe {
            de: d,
            aud: self.aud,
            audiences: self.audiences,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if *self.aud == AudienceMatch::Absent {
            *self.aud = AudienceMatch::Unmatched;
        }
        self.inner.visit_seq(AudSeq {
            seq,
            aud: self.aud,
            audiences: self.audiences,
        })
    }
}

struct AudSeq<'r, A> {
    seq: A,
    aud: &'r mut AudienceMatch,
    audiences: &'r [std::sync::Arc<str>],
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for AudSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.seq.next_element_seed(AudElement {
            inner: seed,
            aud: &mut *self.aud,
            audiences: self.audiences,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

/// One element of an `aud` array: a string, compared, and handed on.
struct AudElement<'r, T> {
    inner: T,
    aud: &'r mut AudienceMatch,
    audiences: &'r [std::sync::Arc<str>],
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for AudElement<'_, T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T::Value, D::Error> {
        let value = d.deserialize_str(StrVisitor("aud"))?.0;
        if self.audiences.iter().any(|ours| **ours == *value) {
            *self.aud = AudienceMatch::Matched;
        }
        self.inner.deserialize(StrDe(&value, PhantomData))
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
    fn fingerprints_tell_short_names_apart_exactly() {
        assert_eq!(fingerprint("exp"), fingerprint("exp"));
        assert_ne!(fingerprint("exp"), fingerprint("exp\0"));
        assert_ne!(fingerprint("abcdefg"), fingerprint("abcdefgh"));
        // Long names sharing seven bytes and a length share a fingerprint: compared in full.
        assert_eq!(fingerprint("abcdefgh"), fingerprint("abcdefgX"));
        let long = format!("exp{}", "\0".repeat(256));
        assert_ne!(fingerprint(&long), fingerprint("exp"));
        assert!(matches!(Member::of(fingerprint(&long)), Member::Other));
        assert!(matches!(Member::of(fingerprint("scope")), Member::Scope));
        let mut seen = Seen::new();
        for name in ["abcdefgh", "abcdefgX", "a", "b"] {
            seen.insert::<serde_json::Error>(name.into()).unwrap();
        }
        assert!(seen.insert::<serde_json::Error>("abcdefgX".into()).is_err());
        assert!(seen.insert::<serde_json::Error>("a".into()).is_err());
        for i in 0..40 {
            seen.insert::<serde_json::Error>(format!("n{i}").into())
                .unwrap();
        }
        assert!(seen.insert::<serde_json::Error>("n39".into()).is_err());
        assert!(seen.insert::<serde_json::Error>("n3".into()).is_err());
        // Escaped (owned) names, short and long, against borrowed spellings of the same.
        let mut seen = Seen::new();
        seen.insert::<serde_json::Error>(Cow::Owned("zz".into()))
            .unwrap();
        seen.insert::<serde_json::Error>(Cow::Owned("long name".into()))
            .unwrap();
        assert!(seen.insert::<serde_json::Error>("zz".into()).is_err());
        assert!(
            seen.insert::<serde_json::Error>("long name".into())
                .is_err()
        );
        assert!(
            seen.insert::<serde_json::Error>(Cow::Owned("long name".into()))
                .is_err()
        );
        seen.insert::<serde_json::Error>("long namf".into())
            .unwrap();
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

    // ---- the one pass against the two passes it replaces ----

    use proptest::prelude::*;
    use serde::de::DeserializeOwned;

    /// A claims type that reads a few members its own way and ignores the rest.
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Custom {
        sub: Option<String>,
        exp: Option<f64>,
        aud: Option<serde_json::Value>,
        #[serde(default)]
        tenant: Option<serde_json::Value>,
        #[serde(default)]
        roles: Vec<String>,
    }

    /// Deserializes only `exp`; everything else is ignored (but must still be checked).
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Minimal {
        exp: i64,
    }

    fn audiences() -> Vec<std::sync::Arc<str>> {
        vec!["api".into()]
    }

    /// What the two passes make of `json`, if they accept it.
    fn two_passes<C: DeserializeOwned>(json: &str) -> Option<(RegisteredClaims<'_>, C)> {
        let registered = RegisteredClaims::parse(json.as_bytes(), &audiences()).ok()?;
        Some((registered, serde_json::from_str(json).ok()?))
    }

    /// The one pass yields what the two passes yield, or nothing.
    fn one_pass<C: DeserializeOwned>(json: &str) -> Option<(RegisteredClaims<'_>, C)> {
        let mut registered = RegisteredClaims::empty();
        let claims = read_claims::<C>(json.as_bytes(), &audiences(), &mut registered)?;
        Some((registered, claims))
    }

    fn agrees<C: DeserializeOwned + PartialEq + fmt::Debug>(json: &str) -> Option<()> {
        let one = one_pass::<C>(json);
        let two = two_passes::<C>(json);
        match (one, two) {
            (Some(one), Some(two)) => {
                assert_eq!(one, two, "{json}");
                Some(())
            }
            (Some(_), None) => panic!("one pass accepted what two refuse: {json}"),
            (None, _) => None,
        }
    }

    #[test]
    fn one_pass_reads_what_two_passes_read() {
        let now = 1_700_000_000;
        for json in [
            format!(
                r#"{{"iss":"https://auth.example.com","sub":"user-1","aud":"api","exp":{now},"iat":{now},"jti":"j","scope":"a b"}}"#
            ),
            format!(
                r#"{{"sub":"a","aud":["x","api"],"exp":{now}.75,"nbf":1e3,"tenant":{{"id":[1,{{"k":null}}]}}}}"#
            ),
            format!(
                r#"{{"s\u0075b":"\u00e9\n","exp":{now},"roles":["a","b"],"extra":[true,false,-1,18446744073709551615]}}"#
            ),
            format!(r#"{{"exp":{now},"aud":[]}}"#),
            format!(r#"{{"exp":{now},"aud":"other","tenant":"t"}}"#),
            r#"{"exp":-5}"#.to_owned(),
            r#"{"exp":18446744073709551615}"#.to_owned(),
        ] {
            assert!(agrees::<crate::Claims>(&json).is_some(), "{json}");
            assert!(agrees::<serde_json::Value>(&json).is_some(), "{json}");
            assert!(agrees::<Custom>(&json).is_some(), "{json}");
            // `Minimal` refuses a fractional `exp` (as serde_json does): agreement only.
            let minimal = two_passes::<Minimal>(&json).is_some();
            assert_eq!(agrees::<Minimal>(&json).is_some(), minimal, "{json}");
        }
    }

    #[test]
    fn one_pass_refuses_what_the_registered_reader_refuses() {
        for json in [
            // Duplicates at the root, deep inside, and in members the claims type ignores.
            r#"{"exp":1,"exp":2}"#,
            r#"{"exp":1,"e\u0078p":2}"#,
            r#"{"exp":1,"x":{"a":1,"a":2}}"#,
            r#"{"exp":1,"x":[{"a":1},{"b":1,"b":1}]}"#,
            r#"{"exp":1,"tenant":{"a":1,"a":2}}"#,
            // Registered claims of the wrong type, whether or not the claims type reads them.
            r#"{"exp":"1"}"#,
            r#"{"exp":1,"iss":42}"#,
            r#"{"exp":1,"jti":null}"#,
            r#"{"exp":1,"aud":["api",1]}"#,
            r#"{"exp":1,"aud":{"a":"api"}}"#,
            r#"{"exp":1,"aud":null}"#,
            // Not an object, trailing data, broken JSON.
            r#"[1]"#,
            r#"{"exp":1} {}"#,
            r#"{"exp":1"#,
        ] {
            assert!(one_pass::<crate::Claims>(json).is_none(), "{json}");
            assert!(one_pass::<serde_json::Value>(json).is_none(), "{json}");
            assert!(one_pass::<Minimal>(json).is_none(), "{json}");
            assert!(one_pass::<serde::de::IgnoredAny>(json).is_none(), "{json}");
        }
    }

    fn json_string() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(r#""api""#.to_owned()),
            Just(r#""x""#.to_owned()),
            Just(r#""a\u0070i""#.to_owned()),
            Just(r#""\n\"""#.to_owned()),
            "[a-z ]{0,6}".prop_map(|s| format!("\"{s}\"")),
        ]
    }

    fn json_value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            (-1e12f64..1e12).prop_map(|f| format!("{f:e}")),
            json_string(),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                prop::collection::vec((member_name(), inner), 0..4).prop_map(|members| {
                    let members: Vec<String> = members
                        .into_iter()
                        .map(|(k, v)| format!("{k}:{v}"))
                        .collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }

    fn member_name() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "exp",
            "nbf",
            "iat",
            "iss",
            "sub",
            "jti",
            "scope",
            "aud",
            r"e\u0078p",
            "a",
            "b",
            "tenant",
            "roles",
            r"\u0061",
        ])
        .prop_map(|name| format!("\"{name}\""))
    }

    /// A registered member's value: mostly of the right type, sometimes not.
    fn member_value(name: &str) -> BoxedStrategy<String> {
        match name {
            "\"exp\"" | "\"nbf\"" | "\"iat\"" | r#""e\u0078p""# => prop_oneof![
                4 => (0u64..4_000_000_000).prop_map(|n| n.to_string()),
                1 => (-1e10f64..1e10).prop_map(|f| f.to_string()),
                1 => json_value(),
            ]
            .boxed(),
            "\"iss\"" | "\"sub\"" | "\"jti\"" | "\"scope\"" => {
                prop_oneof![4 => json_string(), 1 => json_value()].boxed()
            }
            "\"aud\"" => prop_oneof![
                2 => json_string(),
                2 => prop::collection::vec(json_string(), 0..3)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                1 => json_value(),
            ]
            .boxed(),
            _ => json_value().boxed(),
        }
    }

    fn claims_set() -> impl Strategy<Value = String> {
        prop::collection::vec(member_name(), 0..8)
            .prop_flat_map(|names| {
                let values: Vec<_> = names.iter().map(|n| member_value(n)).collect();
                (Just(names), values)
            })
            .prop_map(|(names, values)| {
                let members: Vec<String> = names
                    .iter()
                    .zip(values)
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn one_pass_agrees_with_two_passes_on_any_claims_set(json in claims_set()) {
            // Whatever the one pass accepts, the two passes accept with the same result; and
            // for these claims types, it accepts whatever they accept.
            let both = two_passes::<crate::Claims>(&json).is_some();
            prop_assert_eq!(agrees::<crate::Claims>(&json).is_some(), both, "{}", json);
            let both = two_passes::<serde_json::Value>(&json).is_some();
            prop_assert_eq!(agrees::<serde_json::Value>(&json).is_some(), both, "{}", json);
            let both = two_passes::<Minimal>(&json).is_some();
            prop_assert_eq!(agrees::<Minimal>(&json).is_some(), both, "{}", json);
            let both = two_passes::<Custom>(&json).is_some();
            prop_assert_eq!(agrees::<Custom>(&json).is_some(), both, "{}", json);
        }
    }
}

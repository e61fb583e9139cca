//! The typed readers: the JOSE header and the registered claims, each in one pass.

use super::*;

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

/// The most members a JOSE header may have at its root; a real one has a handful (`alg`,
/// `typ`, `kid`, perhaps `cty`, `x5t`, `jku`), and the header is read before any signature.
pub(crate) const MAX_HEADER_MEMBERS: usize = 16;

/// Fills a header; its value says whether `alg` was there.
pub(super) struct HeaderVisitor<'h, 'de>(&'h mut Header<'de>);

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
        let mut members = 0;
        while let Some(name) = next_name(&mut map)? {
            // Real headers have a handful of members; refuse a flood before reading it.
            members += 1;
            if members > MAX_HEADER_MEMBERS {
                return Err(de::Error::custom("tjwt-too-many-header-members"));
            }
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
    /// `sid`: the session (refresh-token family) the token was issued in.
    pub(crate) sid: Option<Cow<'de, str>>,
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

pub(super) struct ClaimsVisitor<'a> {
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
            sid: None,
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
                "sid" => claims.sid = Some(map.next_value_seed(StrSeed("sid"))?.0),
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
pub(super) struct NumericDate(&'static str);

impl<'de> DeserializeSeed<'de> for NumericDate {
    type Value = i64;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<i64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NumericDate {
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

    /// A number under serde_json's `arbitrary_precision` feature.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<i64, A::Error> {
        private_number(map, self.0).map(Number::numeric_date)
    }
}

pub(super) struct AudienceSeed<'a> {
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

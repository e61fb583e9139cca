//! A ready claims type, and the scope helpers shared by every claims type.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The claims of a typical access token (RFC 7519 §4.1, RFC 9068 §2.2): the registered claims,
/// `scope`, and every other member kept in [`Claims::extra`].
///
/// Use it as is, or give the layer your own `C: DeserializeOwned` (see
/// [`JwtAuthLayer::claims`](crate::JwtAuthLayer::claims)).
// `Deserialize` is written by hand below: the derive's `flatten` buffers every member into an
// intermediate value before sorting them out, which was the largest cost left on the HS256 path.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Claims {
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience: one or several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Expiration time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Not-before time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Issued-at time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// JWT id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Space-separated scopes (RFC 8693 §4.2, RFC 9068 §2.2.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Every other member.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Claims {
    /// The scopes in `scope`.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.as_deref().unwrap_or("").split_ascii_whitespace()
    }
}

/// The `aud` claim: a single string or an array of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "api"`.
    One(String),
    /// `"aud": ["api", "other"]`.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` is (or contains) `audience`.
    #[must_use]
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(one) => one == audience,
            Audience::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

/// A NumericDate, fractions floored; `null` is `None`.
fn numeric_date<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<i64>, A::Error> {
    #[allow(clippy::cast_possible_truncation)]
    Ok(map.next_value::<Option<f64>>()?.map(|v| v.floor() as i64))
}

/// A member name of [`Claims`]: the registered ones without allocating.
enum Field<'de> {
    Iss,
    Sub,
    Aud,
    Exp,
    Nbf,
    Iat,
    Jti,
    Scope,
    Other(Cow<'de, str>),
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;

        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = Field<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Field<'de>, E> {
                Ok(Field::new(v).unwrap_or(Field::Other(Cow::Borrowed(v))))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field<'de>, E> {
                Ok(Field::new(v).unwrap_or_else(|| Field::Other(Cow::Owned(v.to_owned()))))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Field<'de>, E> {
                Ok(Field::new(&v).unwrap_or(Field::Other(Cow::Owned(v))))
            }
        }

        d.deserialize_str(FieldVisitor)
    }
}

impl Field<'_> {
    fn new(name: &str) -> Option<Self> {
        Some(match name {
            "iss" => Field::Iss,
            "sub" => Field::Sub,
            "aud" => Field::Aud,
            "exp" => Field::Exp,
            "nbf" => Field::Nbf,
            "iat" => Field::Iat,
            "jti" => Field::Jti,
            "scope" => Field::Scope,
            _ => return None,
        })
    }
}

impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ClaimsVisitor;

        impl<'de> Visitor<'de> for ClaimsVisitor {
            type Value = Claims;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JWT claims set")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claims, A::Error> {
                let mut claims = Claims::default();
                // A repeated member keeps its last value, as the derive did; the verifier has
                // refused repeated members before the claims type is read.
                while let Some(field) = map.next_key::<Field<'de>>()? {
                    match field {
                        Field::Iss => claims.iss = map.next_value()?,
                        Field::Sub => claims.sub = map.next_value()?,
                        Field::Aud => claims.aud = map.next_value()?,
                        Field::Exp => claims.exp = numeric_date(&mut map)?,
                        Field::Nbf => claims.nbf = numeric_date(&mut map)?,
                        Field::Iat => claims.iat = numeric_date(&mut map)?,
                        Field::Jti => claims.jti = map.next_value()?,
                        Field::Scope => claims.scope = map.next_value()?,
                        Field::Other(name) => {
                            claims.extra.insert(name.into_owned(), map.next_value()?);
                        }
                    }
                }
                Ok(claims)
            }
        }

        d.deserialize_map(ClaimsVisitor)
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AudienceVisitor;

        impl<'de> Visitor<'de> for AudienceVisitor {
            type Value = Audience;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience::One(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Audience, E> {
                Ok(Audience::One(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
                let mut many = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
                while let Some(aud) = seq.next_element::<String>()? {
                    many.push(aud);
                }
                Ok(Audience::Many(many))
            }
        }

        d.deserialize_any(AudienceVisitor)
    }
}

/// Claims types that carry scopes, for [`RequireScope`](crate::layer::RequireScope).
pub trait ScopeClaims {
    /// Whether the claims grant `scope`.
    fn has_scope(&self, scope: &str) -> bool;
}

impl ScopeClaims for Claims {
    fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }
}

/// Checks one scope named in a configuration against RFC 6749 §3.3's `scope-token` grammar
/// (`1*( %x21 / %x23-5B / %x5D-7E )`: printable ASCII but space, `"` and `\`).
///
/// # Panics
///
/// When `scope` is empty or breaks the grammar: `"read write"` is two scopes, to be named as
/// two items, and no token could ever carry such a scope.
pub(crate) fn scope_token(scope: &str) -> Box<str> {
    assert!(
        is_scope_token(scope),
        "invalid scope {scope:?}: a scope is one RFC 6749 scope-token (printable ASCII without \
         space, '\"' or '\\'); name several scopes as several items, e.g. [\"read\", \"write\"]"
    );
    scope.into()
}

/// Whether `scope` is one RFC 6749 `scope-token`.
pub(crate) fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Checks every scope of `scopes` with [`scope_token`].
pub(crate) fn scope_tokens<S: AsRef<str>>(scopes: impl IntoIterator<Item = S>) -> Vec<Box<str>> {
    scopes
        .into_iter()
        .map(|scope| scope_token(scope.as_ref()))
        .collect()
}

/// Whether a space-separated scope string grants every scope in `required`.
pub(crate) fn grants_all(granted: &str, required: &[Box<str>]) -> bool {
    required
        .iter()
        .all(|want| granted.split_ascii_whitespace().any(|have| have == &**want))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_keep_unknown_members_and_read_scopes() {
        let claims: Claims = serde_json::from_str(
            r#"{"sub":"ada","aud":["a","b"],"exp":1.5,"scope":"read  write","tenant":"x"}"#,
        )
        .unwrap();
        assert_eq!(claims.exp, Some(1));
        assert!(claims.aud.as_ref().unwrap().contains("b"));
        assert_eq!(claims.scopes().collect::<Vec<_>>(), ["read", "write"]);
        assert!(claims.has_scope("write"));
        assert!(!claims.has_scope("admin"));
        assert_eq!(claims.extra["tenant"], "x");
    }

    #[test]
    fn every_required_scope_must_be_granted() {
        let required: Vec<Box<str>> = vec!["read".into(), "write".into()];
        assert!(grants_all("write read", &required));
        assert!(!grants_all("read", &required));
        assert!(grants_all("", &[]));
    }

    #[test]
    fn configured_scopes_are_single_scope_tokens() {
        assert_eq!(
            scope_tokens(["read", "write:all"]),
            [Box::from("read"), "write:all".into()]
        );
        for bad in ["read write", "", "a\"b", "a\\b", "caf\u{e9}", "tab\t"] {
            let caught = std::panic::catch_unwind(|| scope_token(bad));
            assert!(caught.is_err(), "{bad:?} was accepted");
        }
    }
}

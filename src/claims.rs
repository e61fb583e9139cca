//! A ready claims type, and the scope helpers shared by every claims type.

use serde::{Deserialize, Deserializer, Serialize};

/// The claims of a typical access token (RFC 7519 §4.1, RFC 9068 §2.2): the registered claims,
/// `scope`, and every other member kept in [`Claims::extra`].
///
/// Use it as is, or give the layer your own `C: DeserializeOwned` (see
/// [`JwtAuthLayer::claims`](crate::JwtAuthLayer::claims)).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "numeric_date"
    )]
    pub exp: Option<i64>,
    /// Not-before time, seconds since the epoch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "numeric_date"
    )]
    pub nbf: Option<i64>,
    /// Issued-at time, seconds since the epoch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "numeric_date"
    )]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[allow(clippy::cast_possible_truncation)]
    Ok(Option::<f64>::deserialize(d)?.map(|v| v.floor() as i64))
}

/// Claims types that carry scopes, for [`RequireScope`](crate::RequireScope).
pub trait ScopeClaims {
    /// Whether the claims grant `scope`.
    fn has_scope(&self, scope: &str) -> bool;
}

impl ScopeClaims for Claims {
    fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }
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
}

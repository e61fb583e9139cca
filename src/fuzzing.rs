//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`). Not a public API: no
//! stability, no semver; each function runs one parser that reads untrusted input, and returns
//! a plain summary the target compares with a simple reference check.

use http::{HeaderMap, HeaderValue};

use crate::layer::extract::{self, Credential, TokenSource};
use crate::verify::claims::Claims;
use crate::verify::error::ErrorKind;
use crate::verify::json::{AudienceMatch, Header, RegisteredClaims, read_claims};
use crate::verify::jws::Compact;

/// The request's credential from `Authorization` values (in order) and, when `cookie` is given,
/// a `Cookie` header with it, read by the layer's extraction with the default sources: the
/// token's bytes, `Ok(None)` when there is no bearer credential, or the rejection.
///
/// # Errors
///
/// The [`ErrorKind`] the layer would reject the request with.
pub fn credential(
    authorization: &[&[u8]],
    cookie: Option<&[u8]>,
    max_len: usize,
) -> Result<Option<Vec<u8>>, ErrorKind> {
    let mut headers = HeaderMap::new();
    for value in authorization {
        let Ok(value) = HeaderValue::from_bytes(value) else {
            // http refuses it before any layer could see it.
            return Ok(None);
        };
        headers.append(http::header::AUTHORIZATION, value);
    }
    let mut sources = Vec::new();
    if let Some(cookie) = cookie {
        let Ok(value) = HeaderValue::from_bytes(cookie) else {
            return Ok(None);
        };
        headers.append(http::header::COOKIE, value);
        sources.push(TokenSource::cookie("token"));
    }
    match extract::credential(&http::Method::GET, &headers, &sources, max_len)? {
        Credential::Absent(_) => Ok(None),
        Credential::Token(token) => {
            // The cache's shortcut reads the Authorization header only: whenever its candidate
            // is a valid b64token, the full reader must have read that very token.
            if let Some(candidate) = extract::bearer_candidate(&headers, max_len)
                && is_b64token(candidate)
            {
                assert_eq!(
                    candidate, token,
                    "bearer_candidate and the full reader read different tokens"
                );
            }
            Ok(Some(token.to_vec()))
        }
    }
}

/// RFC 6750's b64token, written the plain way: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
/// "+" / "/" ) *"="`.
#[must_use]
pub fn is_b64token(token: &[u8]) -> bool {
    let body = token.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
    body > 0
        && token[..body]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(b))
}

/// What [`header`] and [`compact_header`] return: `(alg, kid, typ, crit or b64 seen)`.
pub type HeaderSummary = (String, Option<String>, Option<String>, bool);

/// What [`registered_claims`] returns: `(exp, nbf, iat, iss, sub, jti, sid, scope, aud matched)`.
pub type ClaimsSummary = (
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
);

/// A compact JWS split into its parts and its header read: `(alg, kid, typ, crit seen)`.
///
/// # Errors
///
/// Why the token's shape or header is refused.
pub fn compact_header(token: &str) -> Result<HeaderSummary, ErrorKind> {
    let compact = Compact::split(token.as_bytes())?;
    crate::verify::jws::with_decoded::<512, 4096, _, ErrorKind>(compact.header, header)
}

/// A JOSE header read by the strict reader: `(alg, kid, typ, crit seen)`.
///
/// # Errors
///
/// Why the header is refused (duplicate member, wrong type, not an object …).
pub fn header(json: &[u8]) -> Result<HeaderSummary, ErrorKind> {
    let mut header = Header::empty();
    header.parse_into(json)?;
    Ok((
        header.alg.into_owned(),
        header.kid.map(|k| k.into_owned()),
        header.typ.map(|t| t.into_owned()),
        header.has_unsupported_extension,
    ))
}

/// The registered claims of a claims set, read by the two-pass reader (`aud` compared with
/// `audience`), as a [`ClaimsSummary`].
///
/// # Errors
///
/// Why the claims set is refused.
pub fn registered_claims(json: &[u8], audience: &str) -> Result<ClaimsSummary, ErrorKind> {
    let audiences = [std::sync::Arc::from(audience)];
    let claims = RegisteredClaims::parse(json, &audiences)?;
    let own = |s: Option<std::borrow::Cow<'_, str>>| s.map(|s| s.into_owned());
    let aud = match claims.aud {
        AudienceMatch::Absent => None,
        AudienceMatch::Matched => Some(true),
        AudienceMatch::Unmatched => Some(false),
    };
    Ok((
        claims.exp,
        claims.nbf,
        claims.iat,
        own(claims.iss),
        own(claims.sub),
        own(claims.jti),
        own(claims.sid),
        own(claims.scope),
        aud,
    ))
}

/// Whether the one-pass reader agrees with the two-pass one on `json`: when it yields claims,
/// they and the registered claims must equal what `RegisteredClaims::parse` followed by
/// `serde_json::from_slice::<Claims>` yields. Returns whether the one pass accepted.
///
/// # Panics
///
/// When the two readers disagree: that is the finding.
#[must_use]
pub fn one_pass_agrees(json: &[u8], audience: &str) -> bool {
    let audiences = [std::sync::Arc::from(audience)];
    let mut registered = RegisteredClaims::empty();
    let Some(one) = read_claims::<Claims>(json, &audiences, &mut registered) else {
        return false;
    };
    let two = RegisteredClaims::parse(json, &audiences)
        .expect("the one pass accepted what the registered reader refuses");
    assert_eq!(registered, two, "the registered claims differ");
    let claims: Claims =
        serde_json::from_slice(json).expect("the one pass accepted what serde_json refuses");
    assert_eq!(one, claims, "the claims differ");
    true
}

/// A login request body read as the token endpoint reads it: `(username, password, scope)`.
///
/// # Errors
///
/// `Err(())` when the endpoint would refuse the body.
#[cfg(feature = "login")]
#[allow(clippy::type_complexity, clippy::result_unit_err)]
pub fn login_body(body: &[u8], json: bool) -> Result<(String, String, Option<String>), ()> {
    crate::login::fuzz_grant(body, json)
}

/// A stored PHC string read as the hasher reads it, under the default policy.
///
/// # Errors
///
/// Why the hasher would refuse to verify against it.
#[cfg(feature = "login")]
pub fn phc(stored: &str) -> Result<(), crate::login::password::PasswordError> {
    crate::login::password::fuzz_stored_hash(stored)
}

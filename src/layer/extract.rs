//! Finding the bearer token in a request (RFC 6750 §2, RFC 7235 §2.1).

use std::sync::Arc;

use http::header::{AUTHORIZATION, COOKIE, HeaderName};
use http::{HeaderMap, Method};

use crate::verify::error::ErrorKind;

/// Where a token may be read from, besides the `Authorization` header.
///
/// The `Authorization: Bearer` header is always read first. Other sources are opt-in; the query
/// string is deliberately not one (RFC 6750 §5.3: URLs end up in logs and `Referer` headers).
///
/// # A cookie is ambient authority
///
/// A browser attaches cookies to every request to the site, including those another site's
/// page makes it send: a token in a cookie turns cross-site request forgery (CSRF) into a risk
/// the `Authorization` header never has. And a cookie planted by a sibling subdomain
/// (`evil.example.com` setting a cookie for `.example.com`) with the same name makes the
/// request carry two, which is refused: the user is locked out. So:
///
/// - name the cookie with the `__Host-` prefix (`__Host-access_token`), which browsers accept
///   only when set by this very host with `Secure`, `Path=/` and no `Domain`, so no sibling can
///   plant or shadow it;
/// - set it `SameSite=Strict; Secure; HttpOnly`;
/// - keep the same-origin check [`TokenSource::cookie`] turns on: a request with an unsafe
///   method (anything but `GET`, `HEAD`, `OPTIONS`, `TRACE`) whose token came from the cookie
///   must show it was sent by this origin's own pages, or it is refused with 400
///   `invalid_request` ([`ErrorKind::CrossSiteRequest`](crate::ErrorKind::CrossSiteRequest)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// A cookie holding the bare token, and the same-origin rule for unsafe methods.
    Cookie(Arc<str>, SameOrigin),
    /// A header holding the bare token (no scheme).
    Header(HeaderName),
}

/// How a request whose token came from a cookie shows, for an unsafe method, that this
/// origin's own pages sent it (see [`TokenSource`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SameOrigin {
    /// `Sec-Fetch-Site: same-origin`, which every current browser sends and no page can forge
    /// (the default). A request without the header (an old browser, a script outside a
    /// browser) is refused: such clients should send `Authorization: Bearer`.
    FetchMetadata,
    /// A header of this name, with any value: a cross-site page cannot add a custom header
    /// without a CORS preflight, which this server would not grant. For clients that cannot
    /// rely on Fetch Metadata; the application's own scripts add the header. It must not be a
    /// header a cross-site form or `fetch` may send without a preflight (`accept`,
    /// `accept-language`, `content-language`, `content-type`, `range`):
    /// [`TokenSource::cookie_with`] refuses those.
    Header(HeaderName),
    /// No check: only if something else stops cross-site requests (and you know why).
    Unchecked,
}

impl SameOrigin {
    /// Whether a request whose token came from a cookie may proceed.
    fn allows(&self, method: &Method, headers: &HeaderMap) -> bool {
        // A protocol upgrade (a WebSocket handshake) is a GET that opens a channel another
        // site's page may drive: checked like an unsafe method.
        let upgrade = headers.contains_key(http::header::UPGRADE);
        if !upgrade
            && matches!(
                *method,
                Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
            )
        {
            return true;
        }
        match self {
            SameOrigin::FetchMetadata => headers
                .get("sec-fetch-site")
                .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"same-origin")),
            SameOrigin::Header(name) => headers.contains_key(name),
            SameOrigin::Unchecked => true,
        }
    }
}

impl TokenSource {
    /// A cookie named `name`, with the [`SameOrigin::FetchMetadata`] check for unsafe methods.
    /// Read [`TokenSource`] first: prefer a `__Host-` name and `SameSite=Strict`.
    #[must_use]
    pub fn cookie(name: impl Into<Arc<str>>) -> Self {
        TokenSource::Cookie(name.into(), SameOrigin::FetchMetadata)
    }

    /// A cookie named `name`, with another same-origin rule for unsafe methods.
    ///
    /// # Panics
    ///
    /// With [`SameOrigin::Header`] naming a CORS-safelisted request header (`accept`,
    /// `accept-language`, `content-language`, `content-type`, `range`): any cross-site form
    /// sends those, so they prove nothing.
    #[must_use]
    pub fn cookie_with(name: impl Into<Arc<str>>, same_origin: SameOrigin) -> Self {
        if let SameOrigin::Header(header) = &same_origin {
            assert!(
                !matches!(
                    header.as_str(),
                    "accept" | "accept-language" | "content-language" | "content-type" | "range"
                ),
                "{header} is a CORS-safelisted header that any cross-site request may carry: \
                 choose a custom header such as x-requested-with"
            );
        }
        TokenSource::Cookie(name.into(), same_origin)
    }

    /// A header named `name`.
    #[must_use]
    pub fn header(name: HeaderName) -> Self {
        TokenSource::Header(name)
    }
}

/// What the request carried.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Credential<'a> {
    /// No bearer credential (none at all, or only another scheme).
    Absent(ErrorKind),
    /// A token that follows the b64token grammar (so it is ASCII) and fits the cap.
    Token(&'a [u8]),
}

/// Reads the credential: the `Authorization` header, then each extra source in turn.
pub(crate) fn credential<'a>(
    method: &Method,
    headers: &'a HeaderMap,
    sources: &[TokenSource],
    max_len: usize,
) -> Result<Credential<'a>, ErrorKind> {
    let found = authorization(headers, max_len)?;
    if let Credential::Token(_) = found {
        return Ok(found);
    }
    for source in sources {
        let token = match source {
            TokenSource::Cookie(name, same_origin) => {
                let token = cookie(headers, name)?;
                if token.is_some() && !same_origin.allows(method, headers) {
                    return Err(ErrorKind::CrossSiteRequest);
                }
                token
            }
            TokenSource::Header(name) => single_header(headers, name)?,
        };
        if let Some(token) = token {
            return checked_token(token, max_len).map(Credential::Token);
        }
    }
    Ok(found)
}

/// What follows the scheme and its spaces in the request's single `Authorization: Bearer`
/// header (possibly nothing), or why there is no such credential.
fn bearer_value(headers: &HeaderMap) -> Result<Result<&[u8], ErrorKind>, ErrorKind> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(Err(ErrorKind::MissingCredential));
    };
    if values.next().is_some() {
        return Err(ErrorKind::MultipleCredentials);
    }
    Ok(after_bearer(value.as_bytes()))
}

/// What follows `Bearer` and its spaces in an `Authorization` value, or why it is no bearer
/// credential.
fn after_bearer(bytes: &[u8]) -> Result<&[u8], ErrorKind> {
    // The usual value, `Bearer` in any case and one space: one comparison of six bytes, each
    // with its lowercase bit set (only `B` and `b` give `b`, and so on; a space never matches a
    // letter so), where the general path below costs five times as much.
    if let [b0, b1, b2, b3, b4, b5, b' ', next, ..] = *bytes
        && next != b' '
        && u64::from_le_bytes([b0, b1, b2, b3, b4, b5, 0, 0]) | 0x2020_2020_2020
            == u64::from_le_bytes(*b"bearer\0\0")
    {
        return Ok(&bytes[7..]);
    }
    after_scheme(bytes)
}

/// [`after_bearer`] for any value: the scheme is the token before the first space (RFC 7235
/// §2.1), compared case-insensitively; one or more spaces separate it from the credential.
fn after_scheme(bytes: &[u8]) -> Result<&[u8], ErrorKind> {
    let scheme_end = bytes.iter().position(|b| *b == b' ').unwrap_or(bytes.len());
    if !bytes[..scheme_end].eq_ignore_ascii_case(b"bearer") {
        return Err(ErrorKind::UnsupportedScheme);
    }
    let start = bytes[scheme_end..]
        .iter()
        .position(|b| *b != b' ')
        .map_or(bytes.len(), |n| scheme_end + n);
    Ok(&bytes[start..])
}

/// What may follow a bearer token in its header: white space and commas.
fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b',' | b'\t')
}

fn authorization(headers: &HeaderMap, max_len: usize) -> Result<Credential<'_>, ErrorKind> {
    let value = match bearer_value(headers)? {
        Ok(value) => value,
        Err(absent) => return Ok(Credential::Absent(absent)),
    };
    // The cap applies before any parsing, to the credential and whatever follows it.
    if value.len() > max_len {
        return Err(ErrorKind::TokenTooLarge);
    }
    let (token, rest, padded) = scan_token(value);
    if token.is_empty() {
        return Err(ErrorKind::MalformedCredential);
    }
    match rest.first() {
        None => {}
        // `Bearer a b` or `Bearer a, Bearer b`: more than one token. Trailing white space only
        // is tolerated.
        Some(b) if is_separator(*b) && !rest.iter().all(|b| is_separator(*b)) => {
            return Err(ErrorKind::MultipleCredentials);
        }
        Some(b) if is_separator(*b) => {}
        Some(_) => return Err(ErrorKind::MalformedCredential),
    }
    checked_token_bytes(token, padded).map(Credential::Token)
}

/// The credential of the request's single `Authorization: Bearer` header, as it stands (trailing
/// spaces, tabs and commas aside), without the b64token grammar check: `None` when there is no
/// such header, several, or a credential over `max_len`.
///
/// For the verified-token cache only: a candidate that is byte for byte a cached token passed
/// the grammar when it was first verified, so a hit skips the scan. Anything else goes through
/// [`credential`], which refuses what it must.
pub(crate) fn bearer_candidate(headers: &HeaderMap, max_len: usize) -> Option<&[u8]> {
    let value = bearer_value(headers).ok()?.ok()?;
    if value.len() > max_len {
        return None;
    }
    let end = value.iter().rposition(|b| !is_separator(*b))? + 1;
    Some(&value[..end])
}

/// Whether `b` is in the b64token alphabet (RFC 6750 §2.1) or is `=`.
///
/// Comparisons rather than a table, applied a 32-byte chunk at a time: this scan runs over
/// every token of every request (BENCHMARKS.md, "Code-generation notes", says why).
#[inline(always)]
fn is_token_byte(b: u8) -> bool {
    // `-` `.` `/` and the digits are one run, 0x2D..=0x39: one range test for the four.
    (b | 0x20).wrapping_sub(b'a') < 26
        || b.wrapping_sub(b'-') <= b'9' - b'-'
        || matches!(b, b'_' | b'~' | b'+' | b'=')
}

/// Splits `bytes` after its leading run of b64token characters and `=`; also says whether that
/// run holds any `=`.
fn scan_token(bytes: &[u8]) -> (&[u8], &[u8], bool) {
    const CHUNK: usize = 32;
    // Whether a chunk holds a byte outside the alphabet, and whether it holds `=`.
    let flags = |chunk: &[u8; CHUNK]| {
        let (mut stray, mut eq) = (false, false);
        for &b in chunk {
            stray |= !is_token_byte(b);
            eq |= b == b'=';
        }
        (stray, eq)
    };
    let mut end = 0;
    let mut padded = false;
    // Whole chunks while every byte belongs; the first chunk that does not is scanned below.
    let (chunks, _) = bytes.as_chunks::<CHUNK>();
    for chunk in chunks {
        let (stray, eq) = flags(chunk);
        if stray {
            break;
        }
        padded |= eq;
        end += CHUNK;
    }
    // The last, partial chunk, filled up with a byte of the alphabet: a token that ends the
    // value (the usual case) is then done without a byte-at-a-time pass.
    let rest = &bytes[end..];
    if rest.len() < CHUNK {
        let mut last = [b'A'; CHUNK];
        last[..rest.len()].copy_from_slice(rest);
        let (stray, eq) = flags(&last);
        if !stray {
            return (bytes, &[], padded | eq);
        }
    }
    let tail = rest
        .iter()
        .position(|b| !is_token_byte(*b))
        .map_or(bytes.len(), |n| end + n);
    padded |= bytes[end..tail].contains(&b'=');
    let (token, rest) = bytes.split_at(tail);
    (token, rest, padded)
}

/// The b64token grammar: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`, over
/// bytes already limited to that alphabet and `=`.
///
/// Bytes rather than `&str`: a cache hit compares bytes and never needs the text, so the UTF-8
/// check (a second pass over the token) is left to the verifier, which runs it only on a miss.
fn checked_token_bytes(token: &[u8], padded: bool) -> Result<&[u8], ErrorKind> {
    if padded {
        let body_len = token.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
        if body_len == 0 || token[..body_len].contains(&b'=') {
            return Err(ErrorKind::MalformedCredential);
        }
    } else if token.is_empty() {
        return Err(ErrorKind::MalformedCredential);
    }
    Ok(token)
}

/// Applies the size cap, then the b64token grammar, to a token from another source.
fn checked_token(token: &str, max_len: usize) -> Result<&[u8], ErrorKind> {
    if token.len() > max_len {
        return Err(ErrorKind::TokenTooLarge);
    }
    let (scanned, rest, padded) = scan_token(token.as_bytes());
    if !rest.is_empty() {
        return Err(ErrorKind::MalformedCredential);
    }
    checked_token_bytes(scanned, padded)
}

fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a str>, ErrorKind> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ErrorKind::MultipleCredentials);
    }
    value
        .to_str()
        .map(|v| Some(v.trim()))
        .map_err(|_| ErrorKind::MalformedCredential)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ErrorKind> {
    let mut found = None;
    for value in headers.get_all(COOKIE).iter() {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for pair in value.split(';') {
            let Some((key, val)) = pair.trim().split_once('=') else {
                continue;
            };
            if key == name {
                if found.is_some() {
                    return Err(ErrorKind::MultipleCredentials);
                }
                found = Some(val.trim_matches('"'));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with_auth(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    fn read(values: &[&str]) -> Result<Credential<'static>, ErrorKind> {
        let headers = Box::leak(Box::new(with_auth(values)));
        credential(&Method::GET, headers, &[], 8192)
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_spaces_may_repeat() {
        assert_eq!(read(&["Bearer abc"]), Ok(Credential::Token(b"abc")));
        assert_eq!(read(&["bearer abc"]), Ok(Credential::Token(b"abc")));
        assert_eq!(
            read(&["BEARER    a.b-c_d~e+f/g=="]),
            Ok(Credential::Token(b"a.b-c_d~e+f/g=="))
        );
    }

    #[test]
    fn other_schemes_and_no_header_are_absent_credentials() {
        assert_eq!(
            read(&[]),
            Ok(Credential::Absent(ErrorKind::MissingCredential))
        );
        assert_eq!(
            read(&["Basic dXNlcjpwYXNz"]),
            Ok(Credential::Absent(ErrorKind::UnsupportedScheme))
        );
        assert_eq!(
            read(&["Token abc"]),
            Ok(Credential::Absent(ErrorKind::UnsupportedScheme))
        );
        assert_eq!(
            read(&["Bearerabc"]),
            Ok(Credential::Absent(ErrorKind::UnsupportedScheme))
        );
    }

    #[test]
    fn malformed_and_multiple_credentials_are_invalid_requests() {
        assert_eq!(read(&["Bearer"]), Err(ErrorKind::MalformedCredential));
        assert_eq!(read(&["Bearer "]), Err(ErrorKind::MalformedCredential));
        assert_eq!(read(&["Bearer a*b"]), Err(ErrorKind::MalformedCredential));
        assert_eq!(read(&["Bearer =abc"]), Err(ErrorKind::MalformedCredential));
        assert_eq!(read(&["Bearer ab=c"]), Err(ErrorKind::MalformedCredential));
        assert_eq!(read(&["Bearer a b"]), Err(ErrorKind::MultipleCredentials));
        assert_eq!(
            read(&["Bearer a, Bearer b"]),
            Err(ErrorKind::MultipleCredentials)
        );
        assert_eq!(
            read(&["Bearer a", "Bearer b"]),
            Err(ErrorKind::MultipleCredentials)
        );
    }

    #[test]
    fn non_ascii_bytes_and_stray_characters_are_malformed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer ab\xffcd").unwrap(),
        );
        assert_eq!(
            credential(&Method::GET, &headers, &[], 8192),
            Err(ErrorKind::MalformedCredential)
        );
        assert_eq!(
            read(&["Bearer abc;def"]),
            Err(ErrorKind::MalformedCredential)
        );
        assert_eq!(read(&["Bearer abc  "]), Ok(Credential::Token(b"abc")));
        assert_eq!(read(&["Bearer abc==  "]), Ok(Credential::Token(b"abc==")));
    }

    #[test]
    fn the_size_cap_applies_before_the_grammar() {
        let headers = with_auth(&[&format!("Bearer {}", "*".repeat(20))]);
        assert_eq!(
            credential(&Method::GET, &headers, &[], 10),
            Err(ErrorKind::TokenTooLarge)
        );
    }

    #[test]
    fn cookies_and_custom_headers_are_read_only_when_configured() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("theme=dark; at=abc.def.ghi"),
        );
        assert_eq!(
            credential(&Method::GET, &headers, &[], 8192),
            Ok(Credential::Absent(ErrorKind::MissingCredential))
        );
        assert_eq!(
            credential(&Method::GET, &headers, &[TokenSource::cookie("at")], 8192),
            Ok(Credential::Token(b"abc.def.ghi"))
        );
        headers.append(COOKIE, HeaderValue::from_static("at=x.y.z"));
        assert_eq!(
            credential(&Method::GET, &headers, &[TokenSource::cookie("at")], 8192),
            Err(ErrorKind::MultipleCredentials)
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-token", HeaderValue::from_static("a.b.c"));
        let source = TokenSource::header(HeaderName::from_static("x-token"));
        assert_eq!(
            credential(&Method::GET, &headers, &[source], 8192),
            Ok(Credential::Token(b"a.b.c"))
        );
    }

    /// The chunked scan against the grammar written plainly, for every byte value at every
    /// position of tokens that straddle the chunk boundaries.
    #[test]
    fn the_chunked_scan_agrees_with_the_plain_grammar() {
        fn plain(bytes: &[u8]) -> Option<&[u8]> {
            let end = bytes
                .iter()
                .position(|b| {
                    !(b.is_ascii_alphanumeric()
                        || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'='))
                })
                .unwrap_or(bytes.len());
            let token = &bytes[..end];
            let body = token.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
            (body > 0 && !token[..body].contains(&b'=')).then_some(token)
        }
        let base: Vec<u8> = b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl-_~+/"
            .iter()
            .copied()
            .cycle()
            .take(100)
            .collect();
        for len in [1, 2, 16, 30, 31, 32, 33, 48, 63, 64, 65, 100] {
            for pos in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = base[..len].to_vec();
                    bytes[pos] = b;
                    let (token, rest, padded) = scan_token(&bytes);
                    assert_eq!(token.len() + rest.len(), bytes.len());
                    assert_eq!(padded, token.contains(&b'='));
                    let ours = checked_token_bytes(token, padded).ok();
                    assert_eq!(ours, plain(&bytes), "len {len}, byte {b:#04x} at {pos}");
                }
            }
        }
    }

    /// The one-comparison path for `Bearer <token>` answers as the general one
    /// ([`after_scheme`]), for every byte value at each of the first positions (bytes a header
    /// value may not hold included).
    #[test]
    fn the_usual_bearer_prefix_reads_as_the_general_path() {
        for value in [&b"Bearer abc"[..], b"bEaReR  abc", b"Bearer a", b"Bearer "] {
            for at in 0..value.len().min(9) {
                for b in 0..=255u8 {
                    let mut bytes = value.to_vec();
                    bytes[at] = b;
                    assert_eq!(
                        after_bearer(&bytes),
                        after_scheme(&bytes),
                        "{:?}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
            }
        }
    }

    /// The cache's shortcut never reads a token `credential` would not: whenever the candidate is
    /// itself a valid token (the only kind a cache holds), `credential` reads the same one.
    #[test]
    fn a_bearer_candidate_that_is_a_valid_token_is_the_credential() {
        let values = [
            "Bearer abc",
            "bearer abc",
            "BEARER   abc",
            "Bearer abc  ",
            "Bearer abc,",
            "Bearer abc , ,",
            "Bearer abc\t",
            "Bearer abc==",
            "Bearer abc def",
            "Bearer abc, Bearer def",
            "Bearer a=bc",
            "Bearer abc!",
            "Bearer ",
            "Bearer",
            "Bearerabc",
            "Basic abc",
            "Bearer\tabc",
            " Bearer abc",
        ];
        for value in values {
            let headers = with_auth(&[value]);
            let candidate = bearer_candidate(&headers, 8192);
            let read = credential(&Method::GET, &headers, &[], 8192);
            if let Some(candidate) = candidate
                && checked_token(std::str::from_utf8(candidate).unwrap(), 8192).is_ok()
            {
                assert_eq!(read, Ok(Credential::Token(candidate)), "{value:?}");
            }
        }
        // Several headers, or over the cap: no candidate at all.
        assert_eq!(
            bearer_candidate(&with_auth(&["Bearer a", "Bearer a"]), 8192),
            None
        );
        assert_eq!(bearer_candidate(&with_auth(&["Bearer abcd"]), 3), None);
        assert_eq!(
            bearer_candidate(&with_auth(&["Bearer abc"]), 3),
            Some(&b"abc"[..])
        );
    }
}

//! `Authorization` and `Cookie` extraction (`fuzzing::credential`).
//!
//! Input: one control byte, then the rest.
//! - bits 0-1: how many `Authorization` values (0-3); bit 2: a `Cookie` header follows them;
//!   bit 3: structure-aware mode; bits 4-7: the length cap (see `CAPS`).
//! - raw mode: the rest split at `\n` (never valid inside a header value) into the values, then
//!   the cookie. Property: the crate agrees exactly with a plain reader of RFC 6750 §2.1 (below),
//!   and any token it returns is a b64token within the cap.
//! - structure-aware mode: bytes 1-4 shape a `Bearer <token>` value (scheme case, spaces,
//!   padding, trailing separators), the rest is the token's body mapped into the b64token
//!   alphabet. Property: the token comes back unchanged (or `TokenTooLarge` when over the cap).
#![no_main]

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use tower_jwt_auth::ErrorKind;
use tower_jwt_auth::fuzzing::{credential, is_b64token};
use tower_jwt_auth_fuzz::{b64token, hex};

const CAPS: [usize; 16] = [
    8192, 8192, 8192, 8192, 0, 1, 2, 5, 16, 40, 64, 100, 300, 1000, 4096, 8192,
];
const TOKEN_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let cap = CAPS[usize::from(control >> 4)];
    let with_cookie = control & 4 != 0;
    if control & 8 != 0 {
        built(rest, cap, with_cookie);
    } else {
        raw(rest, usize::from(control & 3), with_cookie, cap);
    }
});

fn raw(rest: &[u8], count: usize, with_cookie: bool, cap: usize) {
    let mut parts = rest.split(|b| *b == b'\n');
    let values: Vec<&[u8]> = parts.by_ref().take(count).collect();
    let cookie = if with_cookie { parts.next() } else { None };
    let ours = credential(&values, cookie, cap);
    if let Ok(Some(token)) = &ours {
        assert!(is_b64token(token), "not a b64token: {}", hex(token));
        assert!(b64token(token), "not a b64token: {}", hex(token));
        assert!(token.len() <= cap, "over the cap of {cap}: {}", hex(token));
    }
    let expected = reference(&values, cookie, cap);
    match (&ours, &expected) {
        (Ok(a), Ok(b)) if a == b => {}
        (Err(_), Err(())) => {}
        _ => panic!(
            "credential disagrees with the reference: ours {ours:?}, reference {expected:?}, \
             values {:?}, cookie {:?}, cap {cap}",
            values.iter().map(|v| hex(v)).collect::<Vec<_>>(),
            cookie.map(hex)
        ),
    }
}

/// The credential by RFC 6750 §2.1 and the README, read the plain way: `Ok(None)` when there
/// is none, `Err(())` when the request must be refused.
fn reference(values: &[&[u8]], cookie: Option<&[u8]>, cap: usize) -> Result<Option<Vec<u8>>, ()> {
    // What http refuses never reaches a layer (the entry point says `Ok(None)`).
    if values.iter().any(|v| HeaderValue::from_bytes(v).is_err())
        || cookie.is_some_and(|c| HeaderValue::from_bytes(c).is_err())
    {
        return Ok(None);
    }
    match values {
        [] => {}
        [value] => {
            let scheme_end = value.iter().position(|b| *b == b' ').unwrap_or(value.len());
            if value[..scheme_end].eq_ignore_ascii_case(b"bearer") {
                let mut rest = &value[scheme_end..];
                while let [b' ', tail @ ..] = rest {
                    rest = tail;
                }
                if rest.len() > cap {
                    return Err(());
                }
                let end = rest
                    .iter()
                    .position(|b| !(TOKEN_ALPHABET.contains(b) || *b == b'='))
                    .unwrap_or(rest.len());
                let (token, after) = rest.split_at(end);
                let only_separators = after.iter().all(|b| matches!(b, b' ' | b',' | b'\t'));
                return if only_separators && b64token(token) {
                    Ok(Some(token.to_vec()))
                } else {
                    Err(())
                };
            }
        }
        _ => return Err(()),
    }
    // No bearer credential: the cookie named `token`, once.
    let Some(cookie) = cookie else {
        return Ok(None);
    };
    // `HeaderValue::to_str`: visible ASCII and tabs only, else the header is skipped.
    if !cookie
        .iter()
        .all(|b| *b == b'\t' || (0x20..0x7f).contains(b))
    {
        return Ok(None);
    }
    let cookie = std::str::from_utf8(cookie).expect("ASCII");
    let mut found = Vec::new();
    for pair in cookie.split(';') {
        if let Some((name, value)) = pair.trim().split_once('=')
            && name == "token"
        {
            found.push(value.trim_matches('"'));
        }
    }
    match found[..] {
        [] => Ok(None),
        [token] if token.len() <= cap && b64token(token.as_bytes()) => {
            Ok(Some(token.as_bytes().to_vec()))
        }
        _ => Err(()),
    }
}

fn built(rest: &[u8], cap: usize, with_cookie: bool) {
    let (shape, body) = rest.split_at(rest.len().min(4));
    let byte = |i: usize| shape.get(i).copied().unwrap_or(0);
    let mut token: Vec<u8> = body
        .iter()
        .map(|b| {
            if TOKEN_ALPHABET.contains(b) {
                *b
            } else {
                TOKEN_ALPHABET[usize::from(*b) % TOKEN_ALPHABET.len()]
            }
        })
        .collect();
    if token.is_empty() {
        token.push(b'a');
    }
    token.extend(std::iter::repeat_n(b'=', usize::from(byte(2) % 3)));
    let scheme: Vec<u8> = b"Bearer"
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if byte(0) >> i & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let trailing: Vec<u8> = (0..usize::from(byte(3) & 3))
        .map(|i| b" ,\t "[usize::from(byte(3) >> (2 + 2 * i) & 3)])
        .collect();
    let mut value = scheme;
    value.extend(std::iter::repeat_n(b' ', 1 + usize::from(byte(1) % 4)));
    value.extend_from_slice(&token);
    value.extend_from_slice(&trailing);
    let cookie: &[u8] = b"theme=dark; token=another.token";
    let got = credential(&[&value], with_cookie.then_some(cookie), cap);
    if token.len() + trailing.len() <= cap {
        assert_eq!(
            got,
            Ok(Some(token.clone())),
            "a valid bearer credential was not read back unchanged: {}",
            hex(&value)
        );
    } else {
        assert_eq!(
            got,
            Err(ErrorKind::TokenTooLarge),
            "over the cap: {}",
            hex(&value)
        );
    }
}

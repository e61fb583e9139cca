//! Compact JWS (RFC 7515 §7.1): split, strict base64url, header, key choice, signature.

use std::mem::MaybeUninit;

use base64_simd::Out;

use crate::verify::algorithm::{Algorithm, AlgorithmSet};
use crate::verify::error::ErrorKind;
use crate::verify::json::Header;
use crate::verify::keys::{DecodingKey, KeySet};

/// Decodes strict base64url into `out`, which holds at least the decoded length: no padding,
/// only the URL-safe alphabet, zero trailing bits. The buffer need not be initialized.
fn decode_into<'b>(input: &[u8], out: &'b mut [MaybeUninit<u8>]) -> Result<&'b [u8], ErrorKind> {
    let decoded = base64_simd::URL_SAFE_NO_PAD
        .decode(input, Out::from_uninit_slice(out))
        .map_err(|_| ErrorKind::MalformedToken)?;
    Ok(decoded)
}

/// Decodes strict base64url and hands the bytes to `then`.
///
/// The bytes live in a buffer of `SMALL` bytes on the stack when they fit, else in one of
/// `LARGE` bytes (also on the stack), else on the heap. The buffers are not initialized
/// beforehand (the decoder writes every byte it hands on), and never moved: the caller's work
/// runs inside.
pub(crate) fn with_decoded<const SMALL: usize, const LARGE: usize, R, E: From<ErrorKind>>(
    input: &[u8],
    then: impl FnOnce(&[u8]) -> Result<R, E>,
) -> Result<R, E> {
    let len = base64_simd::URL_SAFE_NO_PAD
        .decoded_length(input)
        .map_err(|_| ErrorKind::MalformedToken)?;
    let mut small = [MaybeUninit::<u8>::uninit(); SMALL];
    let mut large;
    let mut heap = Vec::new();
    let out: &mut [MaybeUninit<u8>] = if len <= SMALL {
        &mut small[..len]
    } else if len <= LARGE {
        large = [MaybeUninit::<u8>::uninit(); LARGE];
        &mut large[..len]
    } else {
        heap.reserve_exact(len);
        &mut heap.spare_capacity_mut()[..len]
    };
    then(decode_into(input, out)?)
}

/// Decodes a payload: on the stack up to [`PAYLOAD_STACK`] bytes.
pub(crate) fn with_payload<R, E: From<ErrorKind>>(
    payload: &[u8],
    then: impl FnOnce(&[u8]) -> Result<R, E>,
) -> Result<R, E> {
    with_decoded::<PAYLOAD_SMALL, PAYLOAD_STACK, R, E>(payload, then)
}

/// The three parts of a compact JWS, still encoded.
///
/// Bytes, not text: every part is decoded as strict base64url, which refuses any byte outside
/// its ASCII alphabet, so a UTF-8 check of the token first (a pass over every byte) would add
/// nothing. The layer hands on the token's bytes as the request carried them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Compact<'t> {
    pub(crate) header: &'t [u8],
    pub(crate) payload: &'t [u8],
    pub(crate) signature: &'t [u8],
    /// `header '.' payload`: what the signature covers.
    pub(crate) signing_input: &'t [u8],
}

impl<'t> Compact<'t> {
    pub(crate) fn split(token: &'t [u8]) -> Result<Self, ErrorKind> {
        // The first dot from the start (through the short header), the last from the end
        // (through the short signature), then no dot in between: exactly two dots, each byte
        // looked at once, all by the `memchr` crate's vectorized search.
        let (Some(first), Some(second)) =
            (memchr::memchr(b'.', token), memchr::memrchr(b'.', token))
        else {
            return Err(ErrorKind::MalformedToken);
        };
        if first == second || memchr::memchr(b'.', &token[first + 1..second]).is_some() {
            return Err(ErrorKind::MalformedToken);
        }
        let compact = Self {
            header: &token[..first],
            payload: &token[first + 1..second],
            signature: &token[second + 1..],
            signing_input: &token[..second],
        };
        // An empty payload is a valid JWS (RFC 7515 allows it); an empty header or signature
        // is not (unsigned tokens are never accepted).
        if compact.header.is_empty() || compact.signature.is_empty() {
            return Err(ErrorKind::MalformedToken);
        }
        Ok(compact)
    }
}

/// The largest signature we decode: RSA 8192.
const MAX_SIGNATURE: usize = 1024;
/// Signatures of HMAC, ECDSA, EdDSA and RSA up to 2048 bits fit here.
const SIGNATURE_SMALL: usize = 256;
/// The usual header fits here; this buffer is the only one zeroed for it.
const HEADER_SMALL: usize = 256;
/// Headers up to this size are decoded on the stack (larger ones, with `x5c` chains, on the heap).
const HEADER_STACK: usize = 1024;
/// The usual payload fits here; this buffer is the only one zeroed for it.
const PAYLOAD_SMALL: usize = 512;
/// Payloads up to this size are decoded on the stack; the default token cap (8 KiB) fits.
const PAYLOAD_STACK: usize = 6 * 1024;

/// What a verified JWS hands on besides its payload bytes: its header's `typ`, the only member
/// the rules after the signature read.
pub(crate) struct VerifiedJws<'h> {
    pub(crate) typ: Option<&'h str>,
}

/// Verifies a compact JWS and passes its header and payload to `then`.
///
/// Order matters (RFC 8725 §3.1): the header is read and the algorithm matched against the
/// allow-list and the key before any signature work; the payload is decoded only once the
/// signature has verified.
///
/// A header the key set knows byte for byte (one that came with a valid signature before:
/// `KnownHeaders` in `keys/set.rs`) is not read again: what reading it gave is taken from the
/// set, and the allow-list and the signature are checked as for any other.
pub(crate) fn verify<R, E: From<ErrorKind>>(
    token: &[u8],
    keys: &KeySet,
    allowed: AlgorithmSet,
    then: impl FnOnce(VerifiedJws<'_>, &[u8]) -> Result<R, E>,
) -> Result<R, E> {
    let compact = Compact::split(token)?;
    if let Some(known) = keys.known_header(compact.header) {
        if !allowed.contains(known.alg) {
            return Err(ErrorKind::DisallowedAlgorithm.into());
        }
        check_signature(&compact, &keys.keys()[known.key])?;
        let typ = known.typ.as_deref();
        return with_payload(compact.payload, |payload| {
            then(VerifiedJws { typ }, payload)
        });
    }
    with_decoded::<HEADER_SMALL, HEADER_STACK, R, E>(compact.header, |header_json| {
        let mut header = Header::empty();
        header.parse_into(header_json)?;
        let alg = Algorithm::from_name(&header.alg)
            .filter(|alg| allowed.contains(*alg))
            .ok_or(ErrorKind::DisallowedAlgorithm)?;
        if header.has_unsupported_extension {
            return Err(ErrorKind::UnsupportedCriticalHeader.into());
        }
        let index = keys
            .select_index(header.kid.as_deref(), alg)
            .ok_or(ErrorKind::UnknownKey)?;
        check_signature(&compact, &keys.keys()[index])?;
        let typ = header.typ.as_deref();
        keys.learn_header(compact.header, alg, index, typ);
        with_payload(compact.payload, |payload| {
            then(VerifiedJws { typ }, payload)
        })
    })
}

/// Decodes the signature (refusing one longer than any key's) and checks it with `key`.
fn check_signature(compact: &Compact<'_>, key: &DecodingKey) -> Result<(), ErrorKind> {
    if compact.signature.len() > MAX_SIGNATURE / 3 * 4 + 4 {
        return Err(ErrorKind::InvalidSignature);
    }
    let verified = with_decoded::<SIGNATURE_SMALL, MAX_SIGNATURE, bool, ErrorKind>(
        compact.signature,
        |signature| Ok(key.verify(compact.signing_input, signature)),
    )?;
    if verified {
        Ok(())
    } else {
        Err(ErrorKind::InvalidSignature)
    }
}

/// Hands the `iss` of a token not verified yet to `then`: what chooses whose keys verify it,
/// and nothing more. Never trusted: the chosen verifier checks `iss` again after the signature.
/// The payload is read in strict base64url as a JSON object; other members are not looked at.
#[cfg(feature = "remote")]
pub(crate) fn with_unverified_issuer<R>(
    token: &[u8],
    then: impl FnOnce(Option<&str>) -> R,
) -> Result<R, ErrorKind> {
    #[derive(serde::Deserialize)]
    struct Issuer<'a> {
        #[serde(borrow, default)]
        iss: Option<std::borrow::Cow<'a, str>>,
    }
    let compact = Compact::split(token)?;
    with_payload(compact.payload, |payload| {
        let claims: Issuer<'_> =
            serde_json::from_slice(payload).map_err(|_| ErrorKind::MalformedToken)?;
        Ok(then(claims.iss.as_deref()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn splitting_needs_exactly_three_parts() {
        assert!(Compact::split(b"a.b.c").is_ok());
        assert!(Compact::split(b"a..c").is_ok());
        for bad in ["", "a", "a.b", "a.b.c.d", ".b.c", "a.b.", "a.b.c."] {
            assert_eq!(
                Compact::split(bad.as_bytes()).unwrap_err(),
                ErrorKind::MalformedToken,
                "{bad}"
            );
        }
    }

    fn decode<const SMALL: usize, const LARGE: usize>(input: &str) -> Result<Vec<u8>, ErrorKind> {
        with_decoded::<SMALL, LARGE, _, ErrorKind>(input.as_bytes(), |bytes| Ok(bytes.to_vec()))
    }

    #[test]
    fn base64url_is_strict() {
        assert_eq!(decode::<8, 8>("Zm9v").unwrap(), b"foo");
        assert_eq!(decode::<1, 1>("Zm9vYg").unwrap(), b"foob");
        assert_eq!(decode::<1, 4>("Zm9vYg").unwrap(), b"foob");
        assert_eq!(decode::<4, 4>("Zm9vYg").unwrap(), b"foob");
        // Padding, the standard alphabet, stray characters and non-zero trailing bits.
        for bad in ["Zm9vYg==", "+/+/", "Zm9v Yg", "Zm9vYh", "AB", "A"] {
            assert!(decode::<8, 8>(bad).is_err(), "{bad}");
            assert!(decode::<1, 1>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exact_buffers_of_every_length_decode() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..bytes.len() {
            let encoded = URL_SAFE_NO_PAD.encode(&bytes[..len]);
            // Each buffer in turn: the small one, the large one, the heap.
            assert_eq!(decode::<256, 256>(&encoded).unwrap(), &bytes[..len]);
            assert_eq!(decode::<0, 256>(&encoded).unwrap(), &bytes[..len]);
            assert_eq!(decode::<0, 0>(&encoded).unwrap(), &bytes[..len]);
        }
    }

    /// The vectorized decoder against the `base64` crate's strict URL-safe, unpadded engine, on
    /// strings of every length to 130 (so every vector width and every tail), drawn mostly from
    /// the alphabet with a sprinkling of padding, the standard alphabet's `+/`, dots and spaces,
    /// and with the last character varied over the whole alphabet (the trailing bits).
    #[test]
    fn base64url_decodes_exactly_as_the_base64_crate() {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const STRAYS: &[u8] = b"=+/. \0\x80";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut accepted, mut refused) = (0, 0);
        for round in 0..3000 {
            let len = round % 131;
            let mut text: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 97 == 0 {
                        STRAYS[(r >> 8) as usize % STRAYS.len()]
                    } else {
                        ALPHABET[(r >> 8) as usize % 64]
                    }
                })
                .collect();
            for last in ALPHABET.iter().step_by(if len % 4 == 0 { 64 } else { 1 }) {
                if let Some(end) = text.last_mut() {
                    *end = *last;
                }
                let Ok(text) = std::str::from_utf8(&text) else {
                    continue;
                };
                let ours = decode::<64, 128>(text).ok();
                assert_eq!(ours, URL_SAFE_NO_PAD.decode(text).ok(), "{text:?}");
                if ours.is_some() {
                    accepted += 1;
                } else {
                    refused += 1;
                }
            }
        }
        // Both outcomes were exercised, many times.
        assert!(accepted > 5_000 && refused > 5_000, "{accepted} {refused}");
    }

    // --------------------------------------------------------------------------------------------
    // Known headers
    // --------------------------------------------------------------------------------------------

    use crate::verify::algorithm::AlgorithmSet;
    use crate::verify::keys::{DecodingKey, KeySet};
    use hmac::{Hmac, KeyInit, Mac};

    const A: &[u8] = b"known-headers-secret-a-0123456789abcdef";
    const B: &[u8] = b"known-headers-secret-b-0123456789abcdef";

    /// A token with exactly this header and payload JSON, signed HS256 with `secret`.
    fn token(secret: &[u8], header: &str, payload: &str) -> String {
        signed(
            secret,
            &format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(payload)
            ),
        )
    }

    /// `input` (encoded header and payload, taken as they are) with its HS256 signature.
    fn signed(secret: &[u8], input: &str) -> String {
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).unwrap();
        mac.update(input.as_bytes());
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    fn key(secret: &[u8], kid: &str) -> DecodingKey {
        DecodingKey::from_secret(Algorithm::HS256, secret)
            .unwrap()
            .with_kid(kid)
    }

    fn hs256() -> AlgorithmSet {
        AlgorithmSet::empty().with(Algorithm::HS256)
    }

    /// Verifies `token` and returns its payload and the `typ` handed on.
    fn run(
        token: &str,
        keys: &KeySet,
        allowed: AlgorithmSet,
    ) -> Result<(String, Option<String>), ErrorKind> {
        verify(token.as_bytes(), keys, allowed, |verified, payload| {
            Ok::<_, ErrorKind>((
                String::from_utf8(payload.to_vec()).unwrap(),
                verified.typ.map(str::to_owned),
            ))
        })
    }

    fn header_of(token: &str) -> &[u8] {
        Compact::split(token.as_bytes()).unwrap().header
    }

    #[test]
    fn a_known_header_is_not_read_again_but_its_signature_is_checked() {
        let keys = KeySet::new([key(A, "a")]).unwrap();
        let header = r#"{"alg":"HS256","kid":"a","typ":"at\u002bjwt"}"#;
        let first = token(A, header, r#"{"n":1}"#);
        assert!(keys.known_header(header_of(&first)).is_none());
        assert_eq!(
            run(&first, &keys, hs256()).unwrap(),
            (r#"{"n":1}"#.into(), Some("at+jwt".into()))
        );
        let known = keys.known_header(header_of(&first)).unwrap();
        assert_eq!((known.alg, known.key), (Algorithm::HS256, 0));

        // The same header: the payload and `typ` (unescaped, as read) come through.
        let second = token(A, header, r#"{"n":2}"#);
        assert_eq!(
            run(&second, &keys, hs256()).unwrap(),
            (r#"{"n":2}"#.into(), Some("at+jwt".into()))
        );
        // The same header with another key's signature, a tampered one, a truncated one.
        assert_eq!(
            run(&token(B, header, "{}"), &keys, hs256()),
            Err(ErrorKind::InvalidSignature)
        );
        let (input, _) = second.rsplit_once('.').unwrap();
        let flipped = format!("{input}.{}", URL_SAFE_NO_PAD.encode([0u8; 32]));
        assert_eq!(
            run(&flipped, &keys, hs256()),
            Err(ErrorKind::InvalidSignature)
        );
        assert_eq!(
            run(&second[..second.len() - 3], &keys, hs256()),
            Err(ErrorKind::InvalidSignature)
        );
        // A payload that is not base64url (padded), validly signed, is refused after a known
        // header when it is decoded.
        let padded = signed(
            A,
            &format!("{}.e30=", std::str::from_utf8(header_of(&second)).unwrap()),
        );
        assert_eq!(run(&padded, &keys, hs256()), Err(ErrorKind::MalformedToken));
    }

    #[test]
    fn only_a_header_that_came_with_a_valid_signature_is_learned() {
        let keys = KeySet::new([key(A, "a")]).unwrap();
        let header = r#"{"alg":"HS256","kid":"a"}"#;
        // A forgery, a disallowed algorithm, an unknown key, `crit`: nothing is learned.
        assert_eq!(
            run(&token(B, header, "{}"), &keys, hs256()),
            Err(ErrorKind::InvalidSignature)
        );
        assert_eq!(
            run(&token(A, header, "{}"), &keys, AlgorithmSet::empty()),
            Err(ErrorKind::DisallowedAlgorithm)
        );
        let unknown = r#"{"alg":"HS256","kid":"z"}"#;
        assert_eq!(
            run(&token(A, unknown, "{}"), &keys, hs256()),
            Err(ErrorKind::UnknownKey)
        );
        let crit = r#"{"alg":"HS256","kid":"a","crit":["exp"],"exp":1}"#;
        assert_eq!(
            run(&token(A, crit, "{}"), &keys, hs256()),
            Err(ErrorKind::UnsupportedCriticalHeader)
        );
        for refused in [header, unknown, crit] {
            let encoded = URL_SAFE_NO_PAD.encode(refused);
            assert!(keys.known_header(encoded.as_bytes()).is_none(), "{refused}");
        }
        // A header longer than 512 bytes verifies, and is not remembered.
        let long = format!(r#"{{"alg":"HS256","kid":"a","x":"{}"}}"#, "x".repeat(400));
        let long_token = token(A, &long, "{}");
        assert!(run(&long_token, &keys, hs256()).is_ok());
        assert!(keys.known_header(header_of(&long_token)).is_none());
    }

    #[test]
    fn a_known_header_still_meets_the_verifiers_allow_list() {
        let keys = KeySet::new([key(A, "a")]).unwrap();
        let token = token(A, r#"{"alg":"HS256","kid":"a"}"#, "{}");
        assert!(run(&token, &keys, hs256()).is_ok());
        assert!(keys.known_header(header_of(&token)).is_some());
        // Another verifier of the same key set, whose allow-list excludes HS256.
        let hs384 = AlgorithmSet::empty().with(Algorithm::HS384);
        assert_eq!(
            run(&token, &keys, hs384),
            Err(ErrorKind::DisallowedAlgorithm)
        );
    }

    #[test]
    fn a_known_header_keeps_the_key_it_selected() {
        let keys = KeySet::new([key(A, "a"), key(B, "b")]).unwrap();
        let with_a = r#"{"alg":"HS256","kid":"a"}"#;
        let with_b = r#"{"alg":"HS256","kid":"b"}"#;
        assert!(run(&token(A, with_a, "{}"), &keys, hs256()).is_ok());
        assert!(run(&token(B, with_b, "{}"), &keys, hs256()).is_ok());
        assert_eq!(
            keys.known_header(URL_SAFE_NO_PAD.encode(with_a).as_bytes())
                .unwrap()
                .key,
            0
        );
        assert_eq!(
            keys.known_header(URL_SAFE_NO_PAD.encode(with_b).as_bytes())
                .unwrap()
                .key,
            1
        );
        // A token naming one key and signed with the other is refused on the known path.
        assert_eq!(
            run(&token(B, with_a, "{}"), &keys, hs256()),
            Err(ErrorKind::InvalidSignature)
        );
        assert_eq!(
            run(&token(A, with_b, "{}"), &keys, hs256()),
            Err(ErrorKind::InvalidSignature)
        );
    }

    #[test]
    fn at_most_four_headers_are_remembered_and_the_others_still_verify() {
        let keys = KeySet::new([key(A, "a")]).unwrap();
        let headers: Vec<String> = (0..6)
            .map(|n| format!(r#"{{"alg":"HS256","kid":"a","n":{n}}}"#))
            .collect();
        for round in 0..2 {
            for header in &headers {
                let token = token(A, header, "{}");
                assert!(run(&token, &keys, hs256()).is_ok(), "{round} {header}");
            }
        }
        let known = headers
            .iter()
            .filter(|h| {
                keys.known_header(URL_SAFE_NO_PAD.encode(h).as_bytes())
                    .is_some()
            })
            .count();
        assert_eq!(known, 4);
        // The first four, in the order they verified.
        assert!(
            keys.known_header(URL_SAFE_NO_PAD.encode(&headers[3]).as_bytes())
                .is_some()
        );
        assert!(
            keys.known_header(URL_SAFE_NO_PAD.encode(&headers[4]).as_bytes())
                .is_none()
        );
        // Clones share what the set learned; a new set of the same keys starts empty.
        let clone = keys.clone();
        assert!(
            clone
                .known_header(URL_SAFE_NO_PAD.encode(&headers[0]).as_bytes())
                .is_some()
        );
        let fresh = KeySet::new([key(A, "a")]).unwrap();
        assert!(
            fresh
                .known_header(URL_SAFE_NO_PAD.encode(&headers[0]).as_bytes())
                .is_none()
        );
    }
}

//! Compact JWS (RFC 7515 §7.1): split, strict base64url, header, key choice, signature.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::error::ErrorKind;
use crate::json::Header;
use crate::keys::KeySet;

/// Decoded bytes, on the stack when they fit.
pub(crate) struct Decoded<const N: usize> {
    stack: [u8; N],
    heap: Vec<u8>,
    len: usize,
    on_heap: bool,
}

impl<const N: usize> Decoded<N> {
    /// Decodes strict base64url: no padding, only the URL-safe alphabet, zero trailing bits.
    pub(crate) fn decode(input: &str) -> Result<Self, ErrorKind> {
        let mut out = Self {
            stack: [0; N],
            heap: Vec::new(),
            len: 0,
            on_heap: false,
        };
        // The exact decoded length of unpadded base64: 3 bytes per 4 characters.
        let exact = input.len() / 4 * 3 + (input.len() % 4).saturating_sub(1);
        if exact <= N {
            out.len = URL_SAFE_NO_PAD
                .decode_slice(input, &mut out.stack)
                .map_err(|_| ErrorKind::MalformedToken)?;
        } else {
            out.heap = URL_SAFE_NO_PAD
                .decode(input)
                .map_err(|_| ErrorKind::MalformedToken)?;
            out.on_heap = true;
        }
        Ok(out)
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        if self.on_heap {
            &self.heap
        } else {
            &self.stack[..self.len]
        }
    }
}

/// The three parts of a compact JWS, still encoded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Compact<'t> {
    pub(crate) header: &'t str,
    pub(crate) payload: &'t str,
    pub(crate) signature: &'t str,
    /// `header '.' payload`: what the signature covers.
    pub(crate) signing_input: &'t str,
}

impl<'t> Compact<'t> {
    pub(crate) fn split(token: &'t str) -> Result<Self, ErrorKind> {
        let mut dots = token.match_indices('.').map(|(i, _)| i);
        let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
            return Err(ErrorKind::MalformedToken);
        };
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
const HEADER_STACK: usize = 512;
/// Payloads up to this size are decoded on the stack; the default token cap (8 KiB) fits.
pub(crate) const PAYLOAD_STACK: usize = 6 * 1024;

/// What a verified JWS hands on: its header and payload bytes.
pub(crate) struct VerifiedJws<'h> {
    pub(crate) header: Header<'h>,
}

/// Verifies a compact JWS and passes its header and payload to `then`.
///
/// Order matters (RFC 8725 §3.1): the header is read and the algorithm matched against the
/// allow-list and the key before any signature work; the payload is decoded only once the
/// signature has verified.
pub(crate) fn verify<R, E: From<ErrorKind>>(
    token: &str,
    keys: &KeySet,
    allowed: AlgorithmSet,
    then: impl FnOnce(VerifiedJws<'_>, &[u8]) -> Result<R, E>,
) -> Result<R, E> {
    let compact = Compact::split(token)?;
    let header_json = Decoded::<HEADER_STACK>::decode(compact.header)?;
    let header = Header::parse(header_json.as_slice())?;
    let alg = Algorithm::from_name(&header.alg)
        .filter(|alg| allowed.contains(*alg))
        .ok_or(ErrorKind::DisallowedAlgorithm)?;
    if header.has_unsupported_extension {
        return Err(ErrorKind::UnsupportedCriticalHeader.into());
    }
    let key = keys
        .select(header.kid.as_deref(), alg)
        .ok_or(ErrorKind::UnknownKey)?;
    if compact.signature.len() > MAX_SIGNATURE / 3 * 4 + 4 {
        return Err(ErrorKind::InvalidSignature.into());
    }
    let signature = Decoded::<MAX_SIGNATURE>::decode(compact.signature)?;
    if !key.verify(compact.signing_input.as_bytes(), signature.as_slice()) {
        return Err(ErrorKind::InvalidSignature.into());
    }
    let payload = Decoded::<PAYLOAD_STACK>::decode(compact.payload)?;
    then(VerifiedJws { header }, payload.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_needs_exactly_three_parts() {
        assert!(Compact::split("a.b.c").is_ok());
        assert!(Compact::split("a..c").is_ok());
        for bad in ["", "a", "a.b", "a.b.c.d", ".b.c", "a.b.", "a.b.c."] {
            assert_eq!(
                Compact::split(bad).unwrap_err(),
                ErrorKind::MalformedToken,
                "{bad}"
            );
        }
    }

    #[test]
    fn base64url_is_strict() {
        assert_eq!(Decoded::<8>::decode("Zm9v").unwrap().as_slice(), b"foo");
        assert_eq!(Decoded::<1>::decode("Zm9vYg").unwrap().as_slice(), b"foob");
        // Padding, the standard alphabet, stray characters and non-zero trailing bits.
        for bad in ["Zm9vYg==", "+/+/", "Zm9v Yg", "Zm9vYh", "AB", "A"] {
            assert!(Decoded::<8>::decode(bad).is_err(), "{bad}");
        }
    }
}

//! A compact JWS's shape and header (`fuzzing::compact_header`) on arbitrary strings.
//!
//! Property: it accepts exactly when the reference does: exactly three parts separated by two
//! dots, header and signature parts non-empty, the header part strict base64url (decoded by a
//! plain decoder) of a header `reference_header` accepts; and it returns what that header says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth::fuzzing::compact_header;
use tower_jwt_auth_fuzz::{HeaderSummary, b64url_decode, hex, reference_header};

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let ours = compact_header(token);
    let expected = reference(token);
    match (&ours, &expected) {
        (Ok(a), Some(b)) => assert_eq!(a, b, "header read differently: {}", hex(data)),
        (Err(_), None) => {}
        (Ok(_), None) => panic!(
            "compact_header accepted what the reference refuses: {ours:?}, input {}",
            hex(data)
        ),
        (Err(e), Some(_)) => panic!(
            "compact_header refused ({e:?}) what the reference accepts: {expected:?}, input {}",
            hex(data)
        ),
    }
});

fn reference(token: &str) -> Option<HeaderSummary> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, _payload, signature] = parts[..] else {
        return None;
    };
    if header.is_empty() || signature.is_empty() {
        return None;
    }
    reference_header(&b64url_decode(header.as_bytes())?)
}

//! The registered-claims readers (`fuzzing::registered_claims`, `fuzzing::one_pass_agrees`)
//! on arbitrary bytes, with the audience `api`.
//!
//! Properties: the two-pass reader accepts exactly what the reference accepts (a strict JSON
//! object; `exp`/`nbf`/`iat` numbers, floored; `iss`/`sub`/`jti`/`scope` strings; `aud` a
//! string or an array of strings) and returns the same values; the one-pass reader never
//! disagrees with it (`one_pass_agrees` panics when it does), and accepts only what the
//! reference accepts and `serde_json` reads as `Claims`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth::Claims;
use tower_jwt_auth::fuzzing::{one_pass_agrees, registered_claims};
use tower_jwt_auth_fuzz::{hex, reference_claims};

const AUDIENCE: &str = "api";

fuzz_target!(|data: &[u8]| {
    let ours = registered_claims(data, AUDIENCE);
    let expected = reference_claims(data, AUDIENCE);
    match (&ours, &expected) {
        (Ok(a), Some(b)) => assert_eq!(a, b, "claims read differently: {}", hex(data)),
        (Err(_), None) => {}
        (Ok(_), None) => panic!(
            "registered_claims accepted what the reference refuses: {ours:?}, input {}",
            hex(data)
        ),
        (Err(e), Some(_)) => panic!(
            "registered_claims refused ({e:?}) what the reference accepts: {expected:?}, \
             input {}",
            hex(data)
        ),
    }
    if one_pass_agrees(data, AUDIENCE) {
        assert!(
            expected.is_some(),
            "the one pass accepted what the reference refuses: {}",
            hex(data)
        );
        assert!(
            serde_json::from_slice::<Claims>(data).is_ok(),
            "the one pass accepted what serde_json refuses as Claims: {}",
            hex(data)
        );
    }
});

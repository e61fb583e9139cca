//! The JOSE header reader (`fuzzing::header`) on arbitrary bytes.
//!
//! Property: it accepts exactly what the reference accepts (`serde_json` reads a JSON object,
//! no member name repeats at any depth, `alg` is a string, `kid` and `typ` strings when
//! present), and returns the same `alg`, `kid`, `typ` and `crit`/`b64` flag.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth::fuzzing::header;
use tower_jwt_auth_fuzz::{hex, reference_header};

fuzz_target!(|data: &[u8]| {
    let ours = header(data);
    let expected = reference_header(data);
    match (&ours, &expected) {
        (Ok(a), Some(b)) => assert_eq!(a, b, "header read differently: {}", hex(data)),
        (Err(_), None) => {}
        (Ok(_), None) => panic!(
            "header accepted what the reference refuses: {ours:?}, input {}",
            hex(data)
        ),
        (Err(e), Some(_)) => panic!(
            "header refused ({e:?}) what the reference accepts: {expected:?}, input {}",
            hex(data)
        ),
    }
});

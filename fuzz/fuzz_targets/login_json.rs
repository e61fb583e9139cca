//! The token endpoint's JSON body reader (`fuzzing::login_body(body, true)`).
//!
//! Property: when it accepts, `serde_json::Value` reads the body as an object whose `username`
//! and `password` are strings equal to what was returned, `grant_type` is absent, `null` or
//! `"password"`, `scope` absent, `null` or the string returned, and none of these four members
//! is repeated. Conversely every such body is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower_jwt_auth::fuzzing::login_body;
use tower_jwt_auth_fuzz::{Json, hex};

fuzz_target!(|data: &[u8]| {
    let ours = login_body(data, true);
    let expected = reference(data);
    // F2: the strings of members the reader ignores are skipped unchecked (serde_json's
    // `IgnoredAny`): bytes that are not UTF-8, or a lone surrogate escape, get through there.
    // F2 is fixed: the body is read strictly first, so no tolerance remains here.
    assert_eq!(
        ours.ok(),
        expected,
        "the JSON body is read differently from the reference: {}",
        hex(data)
    );
});

fn reference(body: &[u8]) -> Option<(String, String, Option<String>)> {
    let tree = Json::parse(body)?;
    let members = tree.members()?;
    for name in ["grant_type", "username", "password", "scope"] {
        if members.iter().filter(|(n, _)| n == name).count() > 1 {
            return None;
        }
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    let optional = |name: &str| match object.get(name) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(_) => None,
    };
    match optional("grant_type")?.as_deref() {
        None | Some("password") => {}
        Some(_) => return None,
    }
    let username = optional("username")??;
    let password = optional("password")??;
    Some((username, password, optional("scope")?))
}

//! The token endpoint's form body reader (`fuzzing::login_body(body, false)`).
//!
//! Property: it accepts exactly the bodies in which `form_urlencoded::parse` finds one
//! `grant_type`, equal to `password`, one `username`, one `password` and at most one `scope`,
//! and returns those values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth::fuzzing::login_body;
use tower_jwt_auth_fuzz::hex;

fuzz_target!(|data: &[u8]| {
    let ours = login_body(data, false);
    let expected = reference(data);
    assert_eq!(
        ours.ok(),
        expected,
        "the form is read differently from the reference: {}",
        hex(data)
    );
});

fn reference(body: &[u8]) -> Option<(String, String, Option<String>)> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let all = |name: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let [grant_type] = &all("grant_type")[..] else {
        return None;
    };
    let [username] = &all("username")[..] else {
        return None;
    };
    let [password] = &all("password")[..] else {
        return None;
    };
    let scope = match &all("scope")[..] {
        [] => None,
        [scope] => Some(scope.clone()),
        _ => return None,
    };
    (grant_type == "password").then(|| (username.clone(), password.clone(), scope))
}

//! Stored PHC strings (`fuzzing::phc`), as the hasher reads them under the default policy.
//!
//! Property: no panic; a string is accepted only when a plain reading of the PHC format says
//! it may be: `$argon2d$`, `$argon2i$` or `$argon2id$`, an optional `v=16` or `v=19`, an
//! optional parameter field naming each parameter once, whose `m` is at most 1 GiB
//! (1 048 576 KiB) and `t` at most 16, then a salt and a hash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth::fuzzing::phc;
use tower_jwt_auth_fuzz::hex;

fuzz_target!(|data: &[u8]| {
    let Ok(stored) = std::str::from_utf8(data) else {
        return;
    };
    if phc(stored).is_ok()
        && let Err(why) = reference(stored)
    {
        panic!(
            "accepted a PHC string the reference refuses ({why}): {stored:?} (hex {})",
            hex(data)
        );
    }
});

fn reference(stored: &str) -> Result<(), &'static str> {
    if !stored.starts_with("$argon2") {
        return Err("not $argon2");
    }
    let mut fields = stored.split('$').skip(1).peekable();
    if !matches!(fields.next(), Some("argon2d" | "argon2i" | "argon2id")) {
        return Err("not an argon2 variant");
    }
    if let Some(version) = fields.peek().and_then(|f| f.strip_prefix("v=")) {
        if !matches!(version, "16" | "19") {
            return Err("unknown version");
        }
        fields.next();
    }
    // The parameter field is optional (the PHC format): a field with `=` is one.
    let params = match fields.peek() {
        Some(field) if field.contains('=') => fields.next().unwrap_or_default(),
        _ => "",
    };
    let mut names = Vec::new();
    for param in params.split(',').filter(|p| !p.is_empty()) {
        let (name, value) = param.split_once('=').ok_or("a parameter without =")?;
        // PHC string format: "a parameter name may appear at most once".
        if names.contains(&name) {
            return Err("a parameter repeated");
        }
        names.push(name);
        let limit = match name {
            "m" => 1 << 20,
            "t" => 16,
            _ => continue,
        };
        // Under F1 the last occurrence is the one read: check the value of each occurrence
        // only when it is the last.
        if params
            .split(',')
            .filter_map(|p| p.split_once('='))
            .rev()
            .find(|(n, _)| *n == name)
            != Some((name, value))
        {
            continue;
        }
        let value: u64 = value.parse().map_err(|_| "m or t not a number")?;
        if value > limit {
            return Err("m or t above the policy's limit");
        }
    }
    let rest: Vec<&str> = fields.collect();
    if rest.len() != 2 || rest.iter().any(|f| f.is_empty()) {
        return Err("no salt and hash");
    }
    Ok(())
}

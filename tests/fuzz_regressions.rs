//! Regressions from the fuzzing campaign (fuzz/README.md): every finding of the fuzz targets,
//! and one input per parser that the fuzzer found near a rejection path, with the behaviour it
//! must keep.
//!
//! A finding not yet fixed in the crate has its test `#[ignore]`d with the finding's name; the
//! fix removes the `#[ignore]` (and the matching `tolerate(...)` call in the fuzz target).
#![cfg(feature = "fuzzing")]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tower_jwt_auth::fuzzing::{
    compact_header, credential, header, is_b64token, one_pass_agrees, registered_claims,
};
use tower_jwt_auth::verify::Jwk;
use tower_jwt_auth::{Algorithm, Claims, DecodingKey, ErrorKind, KeySet, Validation, Verifier};

#[cfg(feature = "login")]
fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Findings.

/// F1 (`phc` target): a stored PHC string that names a parameter twice is accepted, and the last
/// value wins: `$argon2i$t=256,t=2,…` verifies with t=2, while `phc::ParamsString::get("t")`
/// (the first value) says 256. `phc` refuses to write a repeated name, and the argon2 reference
/// implementation refuses to read one.
#[cfg(feature = "login")]
#[test]
fn f1_a_phc_string_naming_a_parameter_twice_is_refused() {
    use tower_jwt_auth::fuzzing::phc;
    // The fuzzer's input, as found.
    let found = unhex(
        "246172676f6e326924743d3235362c743d322c703d3124633239745a584e68624851242f5533595058597353\
         623371395878487663304d4c7875722b47503936306b4e396a37656d5858387a7759",
    );
    let found = std::str::from_utf8(&found).unwrap();
    assert!(phc(found).is_err(), "{found}");
    for params in [
        "t=2,t=2,m=19456,p=1",
        "m=19456,t=2,p=1,p=1",
        "m=65536,m=19456,t=2,p=1",
    ] {
        let stored = format!(
            "$argon2id$v=19${params}$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ"
        );
        assert!(phc(&stored).is_err(), "{stored}");
    }
}

/// F1, what holds today: the limits are checked on the very values the hasher then uses (the
/// last ones), so a repeated parameter cannot smuggle a cost above the policy's limits.
#[cfg(feature = "login")]
#[test]
fn f1_the_policy_limits_apply_to_the_parameter_values_used() {
    use tower_jwt_auth::fuzzing::phc;
    let salt_and_hash = "$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";
    for params in ["t=2,t=17,m=19456,p=1", "m=19456,m=2097152,t=2,p=1"] {
        let stored = format!("$argon2id$v=19${params}{salt_and_hash}");
        assert!(phc(&stored).is_err(), "{stored}");
    }
}

/// F2 (`login_json` target): a JSON login body whose ignored members hold strings that are not
/// text is accepted: bytes that are not UTF-8, or a lone surrogate escape (serde_json skips the
/// strings of ignored members without checking them), though such a body is not JSON (RFC 8259
/// §8.1, §8.2) and `serde_json::Value` refuses it.
#[cfg(feature = "login")]
#[test]
fn f2_a_json_login_body_that_is_not_utf8_is_refused() {
    use tower_jwt_auth::fuzzing::login_body;
    // The fuzzer's input, as found: `{"grait_type":"pass\x96ord","username":"a",…}`.
    let found = unhex(
        "7b2267726169745f74797065223a2270617373966f7264222c22757365726e616d65223a2261222c227061\
         7373776f7264223a2278222c2273776f7065223a2272656164227d",
    );
    assert_eq!(login_body(&found, true), Err(()));
    assert_eq!(
        login_body(
            b"{\"x\":\"\xff\",\"username\":\"a\",\"password\":\"b\"}",
            true
        ),
        Err(())
    );
    // The second input found: not UTF-8, and `\ud66d\ude00` (a low surrogate alone).
    let found = unhex(
        "7b226772616e745f79747065223a2270617373776f7264222c22757365726e616d65223a2261222c227061\
         7373776f7264223a22222c227065223a227264c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c95c75\
         643636645c7564653030c9c9c9c9c9c9227d",
    );
    assert_eq!(login_body(&found, true), Err(()));
    assert_eq!(
        login_body(br#"{"x":"\udc00","username":"a","password":"b"}"#, true),
        Err(())
    );
}

/// F2, what holds today: text that is not UTF-8, or a lone surrogate, in a member the reader
/// keeps is refused.
#[cfg(feature = "login")]
#[test]
fn f2_invalid_utf8_in_the_username_or_password_is_refused() {
    use tower_jwt_auth::fuzzing::login_body;
    assert_eq!(
        login_body(b"{\"username\":\"\xff\",\"password\":\"b\"}", true),
        Err(())
    );
    assert_eq!(
        login_body(b"{\"username\":\"a\",\"password\":\"\x96\"}", true),
        Err(())
    );
    assert_eq!(
        login_body(br#"{"username":"a","password":"\udc00"}"#, true),
        Err(())
    );
}

// ---------------------------------------------------------------------------------------------
// One input per parser, found by the fuzzer near a rejection path, and the behaviour it keeps.

/// `authorization`: long runs of `=` are padding only at the end (a token with `=` inside and
/// more after a space reads as two credentials), a cookie that is only padding is no token, and
/// trailing separators count towards the cap.
#[test]
fn authorization_padding_runs_and_the_cap() {
    let read = |values: &[&[u8]], cookie: Option<&[u8]>, cap| credential(values, cookie, cap);
    assert_eq!(
        read(&[b"BEARER a================"], None, 8192),
        Ok(Some(b"a================".to_vec()))
    );
    assert!(is_b64token(b"a================"));
    assert_eq!(
        read(&[b"Bearer e0JhbGci==OiJQUz1BE   abc"], None, 8192),
        Err(ErrorKind::MultipleCredentials)
    );
    assert_eq!(
        read(&[], Some(b"token================="), 8192),
        Err(ErrorKind::MalformedCredential)
    );
    assert_eq!(
        read(&[b"BEARER ,,\t"], None, 8192),
        Err(ErrorKind::MalformedCredential)
    );
    // The token fits, its trailing spaces do not.
    assert_eq!(
        read(&[b"Bearer abcde"], None, 5),
        Ok(Some(b"abcde".to_vec()))
    );
    assert_eq!(
        read(&[b"Bearer abcde "], None, 5),
        Err(ErrorKind::TokenTooLarge)
    );
    // Another scheme falls through to the cookie; a malformed bearer credential does not.
    assert_eq!(
        read(&[b"Basic x"], Some(b"token=y"), 8192),
        Ok(Some(b"y".to_vec()))
    );
    assert_eq!(
        read(&[b"Bearer a*"], Some(b"token=y"), 8192),
        Err(ErrorKind::MalformedCredential)
    );
}

/// `jws_header`: a header whose `b64` is a number is still flagged as an extension, nested
/// objects are duplicate-checked, and a header without `alg` is refused.
#[test]
fn jws_header_extensions_nesting_and_missing_alg() {
    assert_eq!(
        header(br#"{"alg":"HS256","a":{",x5ca":1,"a":2},"b64":1.5}"#),
        Ok(("HS256".into(), None, None, true))
    );
    assert_eq!(
        header(br#"{"alg":"HS256","a":{",x5ca":1,"a":2,"a":3}}"#),
        Err(ErrorKind::DuplicateMember)
    );
    assert_eq!(
        header(b"{\"al\":\"IS256999999999999\",\"b64\"\n\n:999999999999999991.5}"),
        Err(ErrorKind::MalformedToken)
    );
    assert_eq!(
        header(br#"{"alg":"HS256","alg":"none"}"#),
        Err(ErrorKind::DuplicateMember)
    );
}

/// `compact`: only the header is decoded at this stage; a payload that is not base64url (here
/// with a line feed) passes the split and is refused when the payload is decoded.
#[test]
fn compact_splits_without_decoding_the_payload() {
    assert_eq!(
        compact_header("eyJhbGciOiJFZERTQSJ9.R\n.bAg"),
        Ok(("EdDSA".into(), None, None, false))
    );
    assert_eq!(
        compact_header("eyJhbGciOiJFZERTQSJ9..bAg"),
        Ok(("EdDSA".into(), None, None, false))
    );
    // Non-zero trailing bits in the header part, and an extra dot.
    assert_eq!(
        compact_header("eyJhbGciOiJFZERTQSJ8.e30.bAg"),
        Err(ErrorKind::MalformedToken)
    );
    assert_eq!(
        compact_header("eyJhbGciOiJFZERTQSJ9.e.30.bAg"),
        Err(ErrorKind::MalformedToken)
    );
}

/// `claims`: out-of-range NumericDates saturate, escaped long member names are compared in
/// full, and `aud` arrays must hold strings only; the one pass agrees throughout.
#[test]
fn claims_saturation_escaped_names_and_aud_arrays() {
    let found = br#"{"exp":18446744073709551685.7}"#;
    assert_eq!(
        registered_claims(found, "api").map(|c| c.0),
        Ok(Some(i64::MAX))
    );
    let found = br#"{"exp":18446744078709551615,"nbf":-922337685477}"#;
    assert_eq!(
        registered_claims(found, "api").map(|c| (c.0, c.1)),
        Ok((Some(i64::MAX), Some(-922_337_685_477)))
    );
    let repeated = br#"{"exp":1,"\u0060xAAAAAp":1,"\u0060xAAAAAp":1}"#;
    assert_eq!(
        registered_claims(repeated, "api"),
        Err(ErrorKind::DuplicateMember)
    );
    let distinct = br#"{"exp":1,"\u0060xAAAAAp":1,"\u0060xAAAAAq":1}"#;
    assert!(registered_claims(distinct, "api").is_ok());
    assert_eq!(
        registered_claims(br#"{"aud":["",0]}"#, "api"),
        Err(ErrorKind::InvalidClaimType("aud"))
    );
    assert_eq!(
        registered_claims(br#"{"aud":[]}"#, "api").map(|c| c.8),
        Ok(Some(false))
    );
    // `sid` (a session, issue 11) is read and type-checked like `jti`.
    assert_eq!(
        registered_claims(br#"{"sid":"s1"}"#, "api").map(|c| c.6),
        Ok(Some("s1".to_owned()))
    );
    assert_eq!(
        registered_claims(br#"{"sid":1}"#, "api"),
        Err(ErrorKind::InvalidClaimType("sid"))
    );
    assert!(one_pass_agrees(br#"{"sid":"s1","sub":"a"}"#, "api"));
    for json in [
        &br#"{"exp":18446744073709551685.7}"#[..],
        br#"{"exp":1,"\u0060xAAAAAp":1,"\u0060xAAAAAq":1}"#,
        br#"{"aud":["x","api"],"scope":"a b","nested":{"a":[{"b":null}]}}"#,
        br#"{"exp":1,"\u0060xAAAAAp":1,"\u0060xAAAAAp":1}"#,
        br#"{"aud":["",0]}"#,
    ] {
        let _ = one_pass_agrees(json, "api");
    }
}

const NOW: i64 = 1_750_000_000;
const SECRET: &[u8; 32] = b"fuzzing: a 32-byte HS256 secret!";

fn hs256_token(header: &str, payload: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn verifier(key: DecodingKey) -> Verifier {
    Verifier::new(key, Validation::new().clock(|| NOW)).unwrap()
}

/// `token`: the leeway edge of `exp`, a duplicate `exp` spelled with an escape, padding on
/// the payload, and the malleable twin (`S + ℓ`) of a valid Ed25519 signature.
#[test]
fn token_expiry_edge_escaped_duplicates_padding_and_malleability() {
    let hs = verifier(DecodingKey::from_secret(Algorithm::HS256, SECRET).unwrap());
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    let with_exp = |exp: i64| hs256_token(header, &format!(r#"{{"sub":"ada","exp":{exp}}}"#));
    // 60 s of leeway: accepted up to `exp + 59`.
    assert!(hs.verify::<Claims>(&with_exp(NOW - 59)).is_ok());
    assert_eq!(
        hs.verify::<Claims>(&with_exp(NOW - 60)).unwrap_err().kind(),
        ErrorKind::Expired
    );
    let escaped = hs256_token(header, r#"{"exp":4102444800,"\u0065xp":1}"#);
    assert_eq!(
        hs.verify::<Claims>(&escaped).unwrap_err().kind(),
        ErrorKind::DuplicateMember
    );
    let token = with_exp(NOW + 600);
    let (input, signature) = token.rsplit_once('.').unwrap();
    let (head, payload) = input.split_once('.').unwrap();
    let padded = format!("{head}.{payload}=.{signature}");
    assert!(hs.verify::<Claims>(&padded).is_err());

    use ed25519_dalek::Signer as _;
    let signing = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let ed = verifier(DecodingKey::from_ed25519(signing.verifying_key().as_bytes()).unwrap());
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA"}"#),
        URL_SAFE_NO_PAD.encode(r#"{"exp":4102444800}"#)
    );
    let mut signature = signing.sign(input.as_bytes()).to_bytes();
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
    assert!(ed.verify::<Claims>(&token).is_ok());
    // ℓ, little-endian, added to S.
    let ell: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (s, l) in signature[32..].iter_mut().zip(ell) {
        let sum = u16::from(*s) + u16::from(l) + carry;
        *s = sum.to_le_bytes()[0];
        carry = sum >> 8;
    }
    let twin = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
    assert_eq!(
        ed.verify::<Claims>(&twin).unwrap_err().kind(),
        ErrorKind::InvalidSignature
    );
}

/// `jwk`: an EC coordinate one byte too long (a leading zero) is refused, as is a 31-byte
/// secret, a padded `k`, and a key set mixing a secret with a public key.
#[test]
fn jwk_coordinate_sizes_weak_and_padded_secrets_mixed_sets() {
    let jwk = |json: &str| serde_json::from_str::<Jwk>(json).unwrap();
    let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    let ec = |x: &str| format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}}"#);
    assert_eq!(
        DecodingKey::from_jwk(&jwk(&ec(x)), None).map(|k| k.algorithm()),
        Ok(Algorithm::ES256)
    );
    let mut long_x = vec![0];
    long_x.extend(URL_SAFE_NO_PAD.decode(x).unwrap());
    assert!(DecodingKey::from_jwk(&jwk(&ec(&URL_SAFE_NO_PAD.encode(long_x))), None).is_err());
    let oct = |k: &str| format!(r#"{{"kty":"oct","alg":"HS256","k":"{k}"}}"#);
    assert!(DecodingKey::from_jwk(&jwk(&oct(&URL_SAFE_NO_PAD.encode([1; 32]))), None).is_ok());
    assert!(DecodingKey::from_jwk(&jwk(&oct(&URL_SAFE_NO_PAD.encode([1; 31]))), None).is_err());
    let padded = format!("{}=", URL_SAFE_NO_PAD.encode([1; 32]));
    assert!(DecodingKey::from_jwk(&jwk(&oct(&padded)), None).is_err());
    let mixed = format!(
        r#"{{"keys":[{},{}]}}"#,
        oct(&URL_SAFE_NO_PAD.encode([1; 32])),
        ec(x)
    );
    assert!(KeySet::from_jwks_json(&mixed).is_err());
}

/// `login_form`: a repeated `scope` is refused like any repeated parameter; unknown names may
/// repeat; a missing `grant_type` is refused.
#[cfg(feature = "login")]
#[test]
fn login_form_repeats_and_missing_grant_type() {
    use tower_jwt_auth::fuzzing::login_body;
    assert_eq!(
        login_body(
            b"&&grant_type=password&&username=u&&password=p&&scope=&scope=",
            false
        ),
        Err(())
    );
    assert_eq!(
        login_body(
            b"grant_type=password&x=1&x=2&username=u&password=p&scope=",
            false
        ),
        Ok(("u".into(), "p".into(), Some(String::new())))
    );
    assert_eq!(login_body(b"gr&us+a&pass:word=%E3%82%AC", false), Err(()));
    assert_eq!(
        login_body(
            b"grant_type=password&username=a+b&password=%E2%82%AC",
            false
        ),
        Ok(("a b".into(), "\u{20ac}".into(), None))
    );
}

/// `login_json`: `null` reads as absent for `grant_type` and `scope`, not for the credentials;
/// repeated credentials are refused.
#[cfg(feature = "login")]
#[test]
fn login_json_nulls_and_repeats() {
    use tower_jwt_auth::fuzzing::login_body;
    assert_eq!(
        login_body(
            br#"{"grant_type":null,"username":"a","password":"x","scope":null}"#,
            true
        ),
        Ok(("a".into(), "x".into(), None))
    );
    assert_eq!(
        login_body(br#"{"username":null,"password":"x"}"#, true),
        Err(())
    );
    assert_eq!(
        login_body(br#"{"username":"a","password":"x","password":"y"}"#, true),
        Err(())
    );
    assert_eq!(
        login_body(br#"{"user\u006eame":"a","password":"\ud83d\ude00"}"#, true),
        Ok(("a".into(), "\u{1f600}".into(), None))
    );
}

/// `phc`: the parameter field may be absent (argon2's defaults then apply); a `v=` inside it is
/// an unknown parameter; costs above the policy are refused.
#[cfg(feature = "login")]
#[test]
fn phc_optional_parameters_and_limits() {
    use tower_jwt_auth::fuzzing::phc;
    let hash = "$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";
    assert!(phc(&format!("$argon2id$v=19{hash}")).is_ok());
    assert!(phc(&format!("$argon2id$v=19$m=19456,t=2,p=1{hash}")).is_ok());
    assert!(phc(&format!("$argon2i$v=19$m=1,v=1{hash}")).is_err());
    assert!(phc(&format!("$argon2id$v=19$m=1048577,t=2,p=1{hash}")).is_err());
    assert!(phc(&format!("$argon2id$v=19$m=19456,t=17,p=1{hash}")).is_err());
    assert!(phc("$argon2id$v=18$m=1945").is_err());
    assert!(phc("$2b$12$R9h/cIPz0gi.UJ2mRNNX3kh2OPST9/P.Ss5KIUgO2t0jWMUW").is_err());
}

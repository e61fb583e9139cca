use super::one_pass::Member;
use super::*;

#[test]
fn duplicate_members_are_refused_at_any_depth() {
    assert_eq!(
        Header::parse(br#"{"alg":"HS256","alg":"none"}"#).unwrap_err(),
        ErrorKind::DuplicateMember
    );
    assert_eq!(
        RegisteredClaims::parse(br#"{"a":{"b":1,"b":2}}"#, &[]).unwrap_err(),
        ErrorKind::DuplicateMember
    );
    // An escaped spelling of the same name is the same name.
    assert_eq!(
        RegisteredClaims::parse(br#"{"sub":"a","s\u0075b":"b"}"#, &[]).unwrap_err(),
        ErrorKind::DuplicateMember
    );
}

#[test]
fn fingerprints_tell_short_names_apart_exactly() {
    assert_eq!(fingerprint("exp"), fingerprint("exp"));
    assert_ne!(fingerprint("exp"), fingerprint("exp\0"));
    assert_ne!(fingerprint("abcdefg"), fingerprint("abcdefgh"));
    // Long names sharing seven bytes and a length share a fingerprint: compared in full.
    assert_eq!(fingerprint("abcdefgh"), fingerprint("abcdefgX"));
    let long = format!("exp{}", "\0".repeat(256));
    assert_ne!(fingerprint(&long), fingerprint("exp"));
    assert!(matches!(Member::of(fingerprint(&long)), Member::Other));
    assert!(matches!(Member::of(fingerprint("scope")), Member::Scope));
    let mut seen = Seen::new();
    for name in ["abcdefgh", "abcdefgX", "a", "b"] {
        seen.insert::<serde_json::Error>(name.into()).unwrap();
    }
    assert!(seen.insert::<serde_json::Error>("abcdefgX".into()).is_err());
    assert!(seen.insert::<serde_json::Error>("a".into()).is_err());
    for i in 0..40 {
        seen.insert::<serde_json::Error>(format!("n{i}").into())
            .unwrap();
    }
    assert!(seen.insert::<serde_json::Error>("n39".into()).is_err());
    assert!(seen.insert::<serde_json::Error>("n3".into()).is_err());
    // Escaped (owned) names, short and long, against borrowed spellings of the same.
    let mut seen = Seen::new();
    seen.insert::<serde_json::Error>(Cow::Owned("zz".into()))
        .unwrap();
    seen.insert::<serde_json::Error>(Cow::Owned("long name".into()))
        .unwrap();
    assert!(seen.insert::<serde_json::Error>("zz".into()).is_err());
    assert!(
        seen.insert::<serde_json::Error>("long name".into())
            .is_err()
    );
    assert!(
        seen.insert::<serde_json::Error>(Cow::Owned("long name".into()))
            .is_err()
    );
    seen.insert::<serde_json::Error>("long namf".into())
        .unwrap();
}

#[test]
fn registered_claims_of_the_wrong_type_are_named() {
    assert_eq!(
        RegisteredClaims::parse(br#"{"exp":"1700000000"}"#, &[]).unwrap_err(),
        ErrorKind::InvalidClaimType("exp")
    );
    assert_eq!(
        RegisteredClaims::parse(br#"{"iss":42}"#, &[]).unwrap_err(),
        ErrorKind::InvalidClaimType("iss")
    );
    assert_eq!(
        RegisteredClaims::parse(br#"{"aud":["a",1]}"#, &[]).unwrap_err(),
        ErrorKind::InvalidClaimType("aud")
    );
    assert_eq!(
        RegisteredClaims::parse(br#"{"nbf":null}"#, &[]).unwrap_err(),
        ErrorKind::InvalidClaimType("nbf")
    );
}

#[test]
fn non_objects_and_trailing_data_are_malformed() {
    for json in [
        &b"[]"[..],
        b"\"x\"",
        b"{} {}",
        b"{",
        b"",
        b"{\"a\":\"\xff\"}",
    ] {
        assert_eq!(
            RegisteredClaims::parse(json, &[]).unwrap_err(),
            ErrorKind::MalformedToken,
            "{json:?}"
        );
    }
}

#[test]
fn fractional_dates_are_floored_and_audiences_matched() {
    let ours: Vec<std::sync::Arc<str>> = vec!["api".into()];
    let claims = RegisteredClaims::parse(br#"{"exp":1.9e1,"aud":["x","api"]}"#, &ours).unwrap();
    assert_eq!(claims.exp, Some(19));
    assert_eq!(claims.aud, AudienceMatch::Matched);
    let claims = RegisteredClaims::parse(br#"{"aud":"x"}"#, &ours).unwrap();
    assert_eq!(claims.aud, AudienceMatch::Unmatched);
}

// ---- the one pass against the two passes it replaces ----

use proptest::prelude::*;
use serde::de::DeserializeOwned;

/// A claims type that reads a few members its own way and ignores the rest.
#[derive(Debug, PartialEq, serde::Deserialize)]
struct Custom {
    sub: Option<String>,
    exp: Option<f64>,
    aud: Option<serde_json::Value>,
    #[serde(default)]
    tenant: Option<serde_json::Value>,
    #[serde(default)]
    roles: Vec<String>,
}

/// Deserializes only `exp`; everything else is ignored (but must still be checked).
#[derive(Debug, PartialEq, serde::Deserialize)]
struct Minimal {
    exp: i64,
}

fn audiences() -> Vec<std::sync::Arc<str>> {
    vec!["api".into()]
}

/// What the two passes make of `json`, if they accept it.
fn two_passes<C: DeserializeOwned>(json: &str) -> Option<(RegisteredClaims<'_>, C)> {
    let registered = RegisteredClaims::parse(json.as_bytes(), &audiences()).ok()?;
    Some((registered, serde_json::from_str(json).ok()?))
}

/// The one pass yields what the two passes yield, or nothing.
fn one_pass<C: DeserializeOwned>(json: &str) -> Option<(RegisteredClaims<'_>, C)> {
    let mut registered = RegisteredClaims::empty();
    let claims = read_claims::<C>(json.as_bytes(), &audiences(), &mut registered)?;
    Some((registered, claims))
}

fn agrees<C: DeserializeOwned + PartialEq + fmt::Debug>(json: &str) -> Option<()> {
    let one = one_pass::<C>(json);
    let two = two_passes::<C>(json);
    match (one, two) {
        (Some(one), Some(two)) => {
            assert_eq!(one, two, "{json}");
            Some(())
        }
        (Some(_), None) => panic!("one pass accepted what two refuse: {json}"),
        (None, _) => None,
    }
}

#[test]
fn one_pass_reads_what_two_passes_read() {
    let now = 1_700_000_000;
    for json in [
        format!(
            r#"{{"iss":"https://auth.example.com","sub":"user-1","aud":"api","exp":{now},"iat":{now},"jti":"j","scope":"a b"}}"#
        ),
        format!(
            r#"{{"sub":"a","aud":["x","api"],"exp":{now}.75,"nbf":1e3,"tenant":{{"id":[1,{{"k":null}}]}}}}"#
        ),
        format!(
            r#"{{"s\u0075b":"\u00e9\n","exp":{now},"roles":["a","b"],"extra":[true,false,-1,18446744073709551615]}}"#
        ),
        format!(r#"{{"exp":{now},"aud":[]}}"#),
        format!(r#"{{"exp":{now},"aud":"other","tenant":"t"}}"#),
        r#"{"exp":-5}"#.to_owned(),
        r#"{"exp":18446744073709551615}"#.to_owned(),
    ] {
        // With serde_json's `arbitrary_precision`, a fractional date sends the one pass back to
        // the two passes: agreement is still required, the one pass itself is not.
        let one_pass_required = !super::arbitrary_precision();
        for ok in [
            agrees::<crate::Claims>(&json).is_some(),
            agrees::<serde_json::Value>(&json).is_some(),
            agrees::<Custom>(&json).is_some(),
        ] {
            assert!(ok || !one_pass_required, "{json}");
        }
        // `Minimal` refuses a fractional `exp` (as serde_json does): agreement only.
        let minimal = two_passes::<Minimal>(&json).is_some();
        assert_eq!(agrees::<Minimal>(&json).is_some(), minimal, "{json}");
    }
}

#[test]
fn one_pass_refuses_what_the_registered_reader_refuses() {
    for json in [
        // Duplicates at the root, deep inside, and in members the claims type ignores.
        r#"{"exp":1,"exp":2}"#,
        r#"{"exp":1,"e\u0078p":2}"#,
        r#"{"exp":1,"x":{"a":1,"a":2}}"#,
        r#"{"exp":1,"x":[{"a":1},{"b":1,"b":1}]}"#,
        r#"{"exp":1,"tenant":{"a":1,"a":2}}"#,
        // Registered claims of the wrong type, whether or not the claims type reads them.
        r#"{"exp":"1"}"#,
        r#"{"exp":1,"iss":42}"#,
        r#"{"exp":1,"jti":null}"#,
        r#"{"exp":1,"aud":["api",1]}"#,
        r#"{"exp":1,"aud":{"a":"api"}}"#,
        r#"{"exp":1,"aud":null}"#,
        // Not an object, trailing data, broken JSON.
        r#"[1]"#,
        r#"{"exp":1} {}"#,
        r#"{"exp":1"#,
    ] {
        assert!(one_pass::<crate::Claims>(json).is_none(), "{json}");
        assert!(one_pass::<serde_json::Value>(json).is_none(), "{json}");
        assert!(one_pass::<Minimal>(json).is_none(), "{json}");
        assert!(one_pass::<serde::de::IgnoredAny>(json).is_none(), "{json}");
    }
}

fn json_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#""api""#.to_owned()),
        Just(r#""x""#.to_owned()),
        Just(r#""a\u0070i""#.to_owned()),
        Just(r#""\n\"""#.to_owned()),
        "[a-z ]{0,6}".prop_map(|s| format!("\"{s}\"")),
    ]
}

fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (-1e12f64..1e12).prop_map(|f| format!("{f:e}")),
        json_string(),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((member_name(), inner), 0..4).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

fn member_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "exp",
        "nbf",
        "iat",
        "iss",
        "sub",
        "jti",
        "scope",
        "aud",
        r"e\u0078p",
        "a",
        "b",
        "tenant",
        "roles",
        r"\u0061",
    ])
    .prop_map(|name| format!("\"{name}\""))
}

/// A registered member's value: mostly of the right type, sometimes not.
fn member_value(name: &str) -> BoxedStrategy<String> {
    match name {
        "\"exp\"" | "\"nbf\"" | "\"iat\"" | r#""e\u0078p""# => prop_oneof![
            4 => (0u64..4_000_000_000).prop_map(|n| n.to_string()),
            1 => (-1e10f64..1e10).prop_map(|f| f.to_string()),
            1 => json_value(),
        ]
        .boxed(),
        "\"iss\"" | "\"sub\"" | "\"jti\"" | "\"scope\"" => {
            prop_oneof![4 => json_string(), 1 => json_value()].boxed()
        }
        "\"aud\"" => prop_oneof![
            2 => json_string(),
            2 => prop::collection::vec(json_string(), 0..3)
                .prop_map(|items| format!("[{}]", items.join(","))),
            1 => json_value(),
        ]
        .boxed(),
        _ => json_value().boxed(),
    }
}

fn claims_set() -> impl Strategy<Value = String> {
    prop::collection::vec(member_name(), 0..8)
        .prop_flat_map(|names| {
            let values: Vec<_> = names.iter().map(|n| member_value(n)).collect();
            (Just(names), values)
        })
        .prop_map(|(names, values)| {
            let members: Vec<String> = names
                .iter()
                .zip(values)
                .map(|(k, v)| format!("{k}:{v}"))
                .collect();
            format!("{{{}}}", members.join(","))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn one_pass_agrees_with_two_passes_on_any_claims_set(json in claims_set()) {
        // Whatever the one pass accepts, the two passes accept with the same result; and
        // for these claims types, it accepts whatever they accept.
        // (With serde_json's `arbitrary_precision`, a fractional date sends the one pass back to
        // the two passes: then only agreement is required.)
        let exact = !super::arbitrary_precision();
        let both = two_passes::<crate::Claims>(&json).is_some();
        let one = agrees::<crate::Claims>(&json).is_some();
        prop_assert!(one == both || (!exact && !one), "{}", json);
        let both = two_passes::<serde_json::Value>(&json).is_some();
        let one = agrees::<serde_json::Value>(&json).is_some();
        prop_assert!(one == both || (!exact && !one), "{}", json);
        let both = two_passes::<Minimal>(&json).is_some();
        let one = agrees::<Minimal>(&json).is_some();
        prop_assert!(one == both || (!exact && !one), "{}", json);
        let both = two_passes::<Custom>(&json).is_some();
        let one = agrees::<Custom>(&json).is_some();
        prop_assert!(one == both || (!exact && !one), "{}", json);
    }
}

#[test]
fn numeric_dates_read_the_same_with_or_without_arbitrary_precision() {
    // serde_json's `arbitrary_precision` (which any crate in a build may turn on) hands floats
    // and out-of-range integers to `deserialize_any` as a map; `.ci/run` runs these tests with
    // the feature on as well.
    let ours: Vec<std::sync::Arc<str>> = vec!["api".into()];
    for (json, exp) in [
        (r#"{"exp":1.9e1}"#, 19),
        (r#"{"exp":1700000000.75}"#, 1_700_000_000),
        (r#"{"exp":-0.5}"#, -1),
        (r#"{"exp":1e300}"#, i64::MAX),
        (r#"{"exp":99999999999999999999999}"#, i64::MAX),
        (r#"{"exp":-99999999999999999999999}"#, i64::MIN),
        (r#"{"exp":18446744073709551615}"#, i64::MAX),
        (r#"{"exp":-9223372036854775808}"#, i64::MIN),
    ] {
        let claims = RegisteredClaims::parse(json.as_bytes(), &ours).unwrap();
        assert_eq!(claims.exp, Some(exp), "{json}");
    }
    // Out of a float's range: an error, never a date that does not expire.
    for json in [r#"{"exp":1e999}"#, r#"{"exp":-1e999}"#] {
        assert_eq!(
            RegisteredClaims::parse(json.as_bytes(), &ours).unwrap_err(),
            ErrorKind::MalformedToken,
            "{json}"
        );
    }
    // The feature's map written into a token: without the feature, an object, so a type error;
    // with it, serde_json itself reads such an object as the number (its `Value` does too), so
    // it is that number. What is no JSON number, or out of a float's range, is never a date.
    let spelled = br#"{"exp":{"$serde_json::private::Number":"5"}}"#;
    match RegisteredClaims::parse(spelled, &ours) {
        Ok(claims) => {
            assert!(super::arbitrary_precision());
            assert_eq!(claims.exp, Some(5));
        }
        Err(kind) => {
            assert!(!super::arbitrary_precision());
            assert_eq!(kind, ErrorKind::InvalidClaimType("exp"));
        }
    }
    for json in [
        r#"{"exp":{"$serde_json::private::Number":"zz"}}"#,
        r#"{"exp":{"$serde_json::private::Number":"1e999"}}"#,
        r#"{"exp":{"$serde_json::private::Number":"5","x":1}}"#,
    ] {
        assert!(
            RegisteredClaims::parse(json.as_bytes(), &ours).is_err(),
            "{json}"
        );
    }
    for text in ["0", "-0", "1.5", "-1e5", "2E+3", "10"] {
        assert!(super::is_json_number(text), "{text}");
    }
    for text in [
        "", "-", "01", "1.", ".5", "1e", "1e+", "zz", "+1", "1 ", "0x10", "NaN", "inf",
    ] {
        assert!(!super::is_json_number(text), "{text}");
    }
}

#[test]
fn a_header_with_more_members_than_the_cap_is_refused_before_anything_else() {
    let header = |members: usize| {
        let mut json = String::from(r#"{"alg":"HS256""#);
        for i in 1..members {
            json.push_str(&format!(r#","m{i}":0"#));
        }
        json.push('}');
        json
    };
    assert!(Header::parse(header(registered::MAX_HEADER_MEMBERS).as_bytes()).is_ok());
    assert_eq!(
        Header::parse(header(registered::MAX_HEADER_MEMBERS + 1).as_bytes()).unwrap_err(),
        ErrorKind::MalformedToken
    );
    assert_eq!(
        Header::parse(header(5_000).as_bytes()).unwrap_err(),
        ErrorKind::MalformedToken
    );
}

#[test]
fn duplicates_are_found_among_thousands_of_members_in_any_spelling() {
    // Past the inline names and the scanned spill, names are hashed: still exact.
    let object = |extra: &str| {
        let mut json = String::from("{");
        for i in 0..2_000 {
            json.push_str(&format!(r#""member-name-{i}":0,"#));
        }
        json.push_str(extra);
        json.push_str(r#""exp":1}"#);
        json
    };
    assert!(RegisteredClaims::parse(object("").as_bytes(), &[]).is_ok());
    for repeat in [
        r#""member-name-1500":1,"#,
        r#""member-name-3":1,"#,
        // The same name with an escape: the same name.
        r#""member-n\u0061me-1999":1,"#,
    ] {
        assert_eq!(
            RegisteredClaims::parse(object(repeat).as_bytes(), &[]).unwrap_err(),
            ErrorKind::DuplicateMember,
            "{repeat}"
        );
    }
    // Escaped long names first, their plain spelling after the spill moved to the hash set.
    let mut json = String::from("{");
    for i in 0..40 {
        json.push_str(&format!(r#""long-n\u0061me-{i}":0,"#));
    }
    json.push_str(r#""long-name-7":1,"exp":1}"#);
    assert_eq!(
        RegisteredClaims::parse(json.as_bytes(), &[]).unwrap_err(),
        ErrorKind::DuplicateMember
    );
}

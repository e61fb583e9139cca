//! No single-byte change to a valid token is accepted.

mod support;

use proptest::prelude::*;
use support::*;
use tower_jwt_auth::{Algorithm, Claims, DecodingKey, Validation, Verifier};

fn hs256_verifier() -> Verifier {
    let key = DecodingKey::from_secret(Algorithm::HS256, SECRET).unwrap();
    Verifier::new(key, Validation::new()).unwrap()
}

fn accepted(verifier: &Verifier, token: &[u8]) -> bool {
    std::str::from_utf8(token).is_ok_and(|t| verifier.verify::<Claims>(t).is_ok())
}

#[test]
fn every_single_byte_mutation_of_an_hs256_token_is_rejected() {
    let verifier = hs256_verifier();
    let token = token(r#","iss":"https://issuer.example","scope":"read write""#);
    assert!(accepted(&verifier, token.as_bytes()));
    let mut checked = 0;
    for position in 0..token.len() {
        for value in 0..=255u8 {
            let mut mutated = token.clone().into_bytes();
            if mutated[position] == value {
                continue;
            }
            mutated[position] = value;
            assert!(
                !accepted(&verifier, &mutated),
                "byte {position} set to {value:#04x} was accepted"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, token.len() * 255);
}

fn asymmetric_cases() -> Vec<(Verifier, String)> {
    [
        (Algorithm::ES256, jsonwebtoken::Algorithm::ES256, "es256"),
        (Algorithm::EdDSA, jsonwebtoken::Algorithm::EdDSA, "ed25519"),
    ]
    .into_iter()
    .map(|(ours, theirs, name)| {
        let private = fixture(&format!("{name}.pem"));
        let encoding = match ours {
            Algorithm::ES256 => jsonwebtoken::EncodingKey::from_ec_pem(private.as_bytes()),
            _ => jsonwebtoken::EncodingKey::from_ed_pem(private.as_bytes()),
        }
        .unwrap();
        let token = jwt_sign(theirs, None, &claims(""), &encoding);
        let key = DecodingKey::from_pem(ours, &fixture(&format!("{name}.pub.pem"))).unwrap();
        (Verifier::new(key, Validation::new()).unwrap(), token)
    })
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_single_byte_mutation_of_an_es256_or_eddsa_token_is_accepted(
        which in 0usize..2,
        position in any::<prop::sample::Index>(),
        value in any::<u8>(),
    ) {
        thread_local! {
            static CASES: Vec<(Verifier, String)> = asymmetric_cases();
        }
        CASES.with(|cases| {
            let (verifier, token) = &cases[which];
            prop_assert!(accepted(verifier, token.as_bytes()));
            let mut mutated = token.clone().into_bytes();
            let at = position.index(mutated.len());
            prop_assume!(mutated[at] != value);
            mutated[at] = value;
            prop_assert!(!accepted(verifier, &mutated), "byte {} set to {:#04x} was accepted", at, value);
            Ok(())
        })?;
    }
}

use super::*;
use crate::verify::algorithm::Algorithm;
use crate::verify::error::ConfigError;

#[test]
fn hmac_secrets_shorter_than_the_hash_are_refused() {
    assert!(matches!(
        DecodingKey::from_secret(Algorithm::HS256, &[7; 31]),
        Err(ConfigError::WeakSecret { min: 32, .. })
    ));
    assert!(DecodingKey::from_secret(Algorithm::HS256, &[7; 32]).is_ok());
    assert!(matches!(
        DecodingKey::from_secret(Algorithm::HS384, &[7; 47]),
        Err(ConfigError::WeakSecret { min: 48, .. })
    ));
    assert!(matches!(
        DecodingKey::from_secret(Algorithm::HS512, &[7; 63]),
        Err(ConfigError::WeakSecret { min: 64, .. })
    ));
}

#[test]
fn a_secret_cannot_be_bound_to_an_asymmetric_algorithm() {
    assert!(matches!(
        DecodingKey::from_secret(Algorithm::RS256, &[7; 64]),
        Err(ConfigError::KeyAlgorithmMismatch { .. })
    ));
}

#[test]
fn key_sets_refuse_duplicate_kids_and_mixed_families() {
    let a = DecodingKey::from_secret(Algorithm::HS256, &[1; 32])
        .unwrap()
        .with_kid("a");
    let b = DecodingKey::from_secret(Algorithm::HS256, &[2; 32])
        .unwrap()
        .with_kid("a");
    assert!(matches!(
        KeySet::new([a.clone(), b]),
        Err(ConfigError::DuplicateKid(_))
    ));
    assert!(matches!(KeySet::new([]), Err(ConfigError::NoKeys)));
    let ed = DecodingKey::from_ed25519(
        ed25519_dalek::SigningKey::from_bytes(&[9; 32])
            .verifying_key()
            .as_bytes(),
    )
    .unwrap();
    assert!(matches!(
        KeySet::new([a, ed]),
        Err(ConfigError::MixedKeySet)
    ));
}

#[test]
fn selection_requires_the_keys_own_algorithm() {
    let a = DecodingKey::from_secret(Algorithm::HS256, &[1; 32])
        .unwrap()
        .with_kid("a");
    let set = KeySet::new([a]).unwrap();
    assert!(set.select(Some("a"), Algorithm::HS256).is_some());
    assert!(set.select(Some("a"), Algorithm::HS384).is_none());
    assert!(set.select(Some("b"), Algorithm::HS256).is_none());
    // A token without kid may use a set's only key, never with another algorithm.
    assert!(set.select(None, Algorithm::HS256).is_some());
    assert!(set.select(None, Algorithm::HS384).is_none());
    let b = DecodingKey::from_secret(Algorithm::HS256, &[2; 32])
        .unwrap()
        .with_kid("b");
    let two = KeySet::new([set.keys()[0].clone(), b]).unwrap();
    assert!(two.select(None, Algorithm::HS256).is_none());
}

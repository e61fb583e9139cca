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

// ------------------------------------------------------------------------------------------------
// The signature backends: strict verdicts, and the same verdicts from both
// ------------------------------------------------------------------------------------------------

mod backends {
    use ed25519_dalek::{Signer as _, Verifier as _};
    use rsa::traits::PublicKeyParts;
    use sha2::{Digest, Sha256, Sha512};

    use super::*;

    const MESSAGE: &[u8] = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0";

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
    }

    /// The key `build` makes, on every backend this build has: RustCrypto first, then (with
    /// the feature `aws-lc`) aws-lc-rs.
    fn on_each_backend(build: impl Fn() -> DecodingKey) -> Vec<DecodingKey> {
        #[cfg(feature = "aws-lc")]
        {
            use crate::verify::keys::decoding::RUSTCRYPTO_ONLY;
            RUSTCRYPTO_ONLY.with(|only| only.set(true));
            let rustcrypto = build();
            RUSTCRYPTO_ONLY.with(|only| only.set(false));
            vec![rustcrypto, build()]
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            vec![build()]
        }
    }

    /// Asserts that every backend gives `expected` for `signature` over `message`.
    fn verdict(keys: &[DecodingKey], message: &[u8], signature: &[u8], expected: bool, what: &str) {
        for (backend, key) in keys.iter().enumerate() {
            assert_eq!(
                key.verify(message, signature),
                expected,
                "{what}: backend {backend} ({:?})",
                key.alg
            );
        }
    }

    /// Every single-bit flip (or, with `every_bit` false, the lowest and highest bit of the
    /// first and last byte of each half), every truncation by one byte and one extra byte: the
    /// backends agree on each (and reject each).
    fn mutations_agree(keys: &[DecodingKey], message: &[u8], signature: &[u8], every_bit: bool) {
        verdict(keys, message, signature, true, "the valid signature");
        let half = signature.len() / 2;
        let bits: Vec<usize> = if every_bit {
            (0..signature.len() * 8).collect()
        } else {
            [0, half - 1, half, signature.len() - 1]
                .into_iter()
                .flat_map(|at| [at * 8, at * 8 + 7])
                .collect()
        };
        for bit in bits {
            let mut flipped = signature.to_vec();
            flipped[bit / 8] ^= 1 << (bit % 8);
            verdict(
                keys,
                message,
                &flipped,
                false,
                &format!("bit {bit} flipped"),
            );
        }
        verdict(keys, message, &signature[1..], false, "first byte dropped");
        verdict(
            keys,
            message,
            &signature[..signature.len() - 1],
            false,
            "last byte dropped",
        );
        let mut zero_first = vec![0];
        zero_first.extend_from_slice(signature);
        verdict(keys, message, &zero_first, false, "a leading zero added");
        let mut longer = signature.to_vec();
        longer.push(0);
        verdict(keys, message, &longer, false, "a trailing zero added");
        verdict(keys, message, &[], false, "empty");
    }

    #[test]
    fn this_build_tests_each_of_its_backends() {
        let keys =
            on_each_backend(|| DecodingKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap());
        assert_eq!(keys.len(), if cfg!(feature = "aws-lc") { 2 } else { 1 });
    }

    #[test]
    fn hmac_tags_verify_only_whole_on_each_backend() {
        use hmac::{Hmac, KeyInit, Mac};
        let keys =
            on_each_backend(|| DecodingKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap());
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[7; 32]).unwrap();
        mac.update(MESSAGE);
        let tag = mac.finalize().into_bytes();
        mutations_agree(&keys, MESSAGE, &tag, true);
        verdict(&keys, MESSAGE, &tag[..16], false, "a truncated tag");
    }

    #[test]
    fn ecdsa_verdicts_agree_high_s_included_and_zero_or_oversized_scalars_refused() {
        use p256::ecdsa::signature::Signer as _;
        let signing = p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap();
        let point = signing.verifying_key().to_sec1_point(false);
        let keys = on_each_backend(|| {
            DecodingKey::from_ec_point(Algorithm::ES256, point.as_bytes()).unwrap()
        });
        let signature: p256::ecdsa::Signature = signing.sign(MESSAGE);
        mutations_agree(&keys, MESSAGE, &signature.to_bytes(), true);

        // s and n - s both verify, on both backends (neither p256 nor aws-lc normalizes s).
        let (r, s) = signature.split_scalars();
        let other_s = p256::ecdsa::Signature::from_scalars(r, -s).unwrap();
        verdict(&keys, MESSAGE, &signature.to_bytes(), true, "s");
        verdict(&keys, MESSAGE, &other_s.to_bytes(), true, "n - s");

        let bytes = signature.to_bytes();
        let mut zero_r = bytes.to_vec();
        zero_r[..32].fill(0);
        verdict(&keys, MESSAGE, &zero_r, false, "r = 0");
        let mut zero_s = bytes.to_vec();
        zero_s[32..].fill(0);
        verdict(&keys, MESSAGE, &zero_s, false, "s = 0");
        let mut big_s = bytes.to_vec();
        big_s[32..].fill(0xff);
        verdict(&keys, MESSAGE, &big_s, false, "s >= n");
        // RFC 7518 §3.4: the fixed-length form only, never ASN.1 DER.
        verdict(&keys, MESSAGE, signature.to_der().as_bytes(), false, "DER");
    }

    #[test]
    fn p384_and_p521_verdicts_agree() {
        use p256::ecdsa::signature::Signer as _;
        let p384_signing = p384::ecdsa::SigningKey::from_slice(&[0x42; 48]).unwrap();
        let p384_point = p384_signing.verifying_key().to_sec1_point(false);
        let keys = on_each_backend(|| {
            DecodingKey::from_ec_point(Algorithm::ES384, p384_point.as_bytes()).unwrap()
        });
        let signature: p384::ecdsa::Signature = p384_signing.sign(MESSAGE);
        mutations_agree(&keys, MESSAGE, &signature.to_bytes(), false);
        let (r, s) = signature.split_scalars();
        let other_s = p384::ecdsa::Signature::from_scalars(r, -s).unwrap();
        verdict(&keys, MESSAGE, &other_s.to_bytes(), true, "P-384 n - s");

        let mut secret = [0x42; 66];
        secret[0] = 1;
        let p521_signing = p521::ecdsa::SigningKey::from_slice(&secret).unwrap();
        let p521_point = p521::ecdsa::VerifyingKey::from(&p521_signing).to_sec1_point(false);
        let keys = on_each_backend(|| {
            DecodingKey::from_ec_point(Algorithm::ES512, p521_point.as_bytes()).unwrap()
        });
        let signature: p521::ecdsa::Signature = p521_signing.sign(MESSAGE);
        assert_eq!(signature.to_bytes().len(), 132);
        mutations_agree(&keys, MESSAGE, &signature.to_bytes(), false);
    }

    /// The Ed25519 key of the tests, and its secret scalar.
    fn ed25519_key() -> (ed25519_dalek::SigningKey, curve25519_dalek::Scalar) {
        let seed = [9; 32];
        let expanded = Sha512::digest(seed);
        let mut a = [0; 32];
        a.copy_from_slice(&expanded[..32]);
        a[0] &= 248;
        a[31] &= 127;
        a[31] |= 64;
        (
            ed25519_dalek::SigningKey::from_bytes(&seed),
            curve25519_dalek::Scalar::from_bytes_mod_order(a),
        )
    }

    #[test]
    fn ed25519_verdicts_agree_and_follow_verify_strict() {
        let (signing, a) = ed25519_key();
        let public = signing.verifying_key();
        let keys = on_each_backend(|| DecodingKey::from_ed25519(public.as_bytes()).unwrap());
        let signature = signing.sign(MESSAGE).to_bytes();
        mutations_agree(&keys, MESSAGE, &signature, true);

        // S + L: the same scalar, not canonical (RFC 8032 §5.1.7 requires S < L).
        let s = curve25519_dalek::Scalar::from_canonical_bytes(signature[32..].try_into().unwrap())
            .unwrap();
        let mut s_plus_l = s.to_bytes();
        // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
        let mut l = [0; 32];
        l[..16].copy_from_slice(&[
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14,
        ]);
        l[31] = 0x10;
        assert_eq!(
            curve25519_dalek::Scalar::from_bytes_mod_order(l),
            curve25519_dalek::Scalar::ZERO
        );
        let mut carry = 0u16;
        for (byte, l_byte) in s_plus_l.iter_mut().zip(l) {
            let sum = u16::from(*byte) + u16::from(l_byte) + carry;
            *byte = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0);
        let mut non_canonical = signature;
        non_canonical[32..].copy_from_slice(&s_plus_l);
        verdict(&keys, MESSAGE, &non_canonical, false, "S + L");

        // R the identity (small order), S = k·a: [S]B = R + [k]A holds, so a cofactorless
        // verification accepts it; `verify_strict` refuses R of small order, and so must aws-lc.
        let mut r = [0; 32];
        r[0] = 1;
        let identity = curve25519_dalek::edwards::CompressedEdwardsY(r);
        assert!(identity.decompress().unwrap().is_small_order());
        let k = Sha512::new()
            .chain_update(r)
            .chain_update(public.as_bytes())
            .chain_update(MESSAGE)
            .finalize();
        let k = curve25519_dalek::Scalar::from_bytes_mod_order_wide(&k.into());
        let mut small_order_r = [0; 64];
        small_order_r[..32].copy_from_slice(&r);
        small_order_r[32..].copy_from_slice(&(k * a).to_bytes());
        let forged = ed25519_dalek::Signature::from_bytes(&small_order_r);
        assert!(
            public.verify(MESSAGE, &forged).is_ok(),
            "the equation holds"
        );
        verdict(&keys, MESSAGE, &small_order_r, false, "R of small order");
    }

    fn rsa_private() -> rsa::PrivateKey {
        use rsa::pkcs8::DecodePrivateKey;
        rsa::PrivateKey::from_pkcs8_pem(&fixture("rsa2048.pem")).unwrap()
    }

    fn rsa_keys(alg: Algorithm, private: &rsa::PrivateKey) -> Vec<DecodingKey> {
        let public = rsa::PublicKey::from(private);
        on_each_backend(|| {
            DecodingKey::from_rsa_components(alg, &public.n_bytes(), &public.e_bytes()).unwrap()
        })
    }

    #[test]
    fn rsa_pkcs1_verdicts_agree_and_the_length_is_the_modulus() {
        let private = rsa_private();
        let keys = rsa_keys(Algorithm::RS256, &private);
        let digest = Sha256::digest(MESSAGE);
        let signature = private
            .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
            .unwrap();
        assert_eq!(signature.len(), 256);
        mutations_agree(&keys, MESSAGE, &signature, true);
        // The modulus itself: the right length, but not below the modulus.
        let n = rsa::PublicKey::from(&private).n_bytes();
        verdict(&keys, MESSAGE, &n, false, "s = n");
    }

    #[test]
    fn rsa_pss_verdicts_agree_and_the_salt_is_as_long_as_the_hash() {
        let private = rsa_private();
        let keys = rsa_keys(Algorithm::PS256, &private);
        let digest = Sha256::digest(MESSAGE);
        let signature = private.sign(rsa::Pss::<Sha256>::new(), &digest).unwrap();
        mutations_agree(&keys, MESSAGE, &signature, true);
        for salt in [0, 20, 64] {
            let other = private
                .sign(rsa::Pss::<Sha256>::new_with_salt(salt), &digest)
                .unwrap();
            verdict(
                &keys,
                MESSAGE,
                &other,
                false,
                &format!("a salt of {salt} bytes"),
            );
        }
        // A PKCS#1 v1.5 signature is no PSS signature, and the reverse.
        let pkcs1 = private
            .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
            .unwrap();
        verdict(&keys, MESSAGE, &pkcs1, false, "PKCS#1 v1.5 for PS256");
        let rs256 = rsa_keys(Algorithm::RS256, &private);
        verdict(&rs256, MESSAGE, &signature, false, "PSS for RS256");
    }
}

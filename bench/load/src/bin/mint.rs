//! Writes the benchmark keys and tokens into a directory (default `keys`):
//!
//! - `hs256.secret` (43 printable characters), `hs256.jwks.json` (an `oct` JWK);
//! - `es256.pem` (PKCS#8), `es256.pub.pem` (SPKI), `es256.jwks.json`: a P-256 key;
//! - `rs256.pem`, `rs256.pub.pem`, `rs256.jwks.json`: a 2048-bit RSA key (exponent 65537);
//! - `eddsa.pem`, `eddsa.pub.pem`, `eddsa.jwks.json`: an Ed25519 key;
//! - for each `{alg}` of `hs256`, `es256`, `rs256`, `eddsa`: `{alg}.token`, and the tokens
//!   every variant must refuse, one rule broken at a time: `{alg}.bad-sig.token`,
//!   `{alg}.bad-iss.token`, `{alg}.bad-aud.token`, `{alg}.expired.token`, `{alg}.no-exp.token`.
//!
//! Every token carries the same claims: `sub`, `iss`, `aud`, `exp` (year 2100), `iat`, `jti`,
//! `scope`, and a `kid` header. Keys are fresh random ones on every run.
//!
//! Usage: `mint [DIR]`

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use tower_jwt_auth::SigningKey;
use tower_jwt_auth_load::{
    AUDIENCE, BenchClaims, ISSUER, KID_EDDSA, KID_ES256, KID_HS256, KID_RS256,
};

type Error = Box<dyn std::error::Error>;

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("getrandom");
    bytes
}

/// One signing key: its file name, `kid`, algorithm and jsonwebtoken encoding key.
struct Key {
    name: &'static str,
    kid: &'static str,
    alg: Algorithm,
    encoding: EncodingKey,
}

impl Key {
    fn sign(&self, claims: &impl serde::Serialize) -> Result<String, Error> {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.into());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

fn main() -> Result<(), Error> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "keys".into()));
    std::fs::create_dir_all(&dir)?;
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text);
    // PEMs, and the JWKS of the public key as the crate publishes it (with `kid`, `alg`, `use`).
    let write_pair = |name: &str, kid: &str, alg, private_pem: &str, public_pem: &str| {
        write(&format!("{name}.pem"), private_pem)?;
        write(&format!("{name}.pub.pem"), public_pem)?;
        let signing = SigningKey::from_pem(alg, private_pem)?.with_kid(kid);
        let jwk = signing.public_jwk().ok_or("no public JWK")?;
        write(
            &format!("{name}.jwks.json"),
            &serde_json::json!({ "keys": [jwk] }).to_string(),
        )?;
        Ok::<_, Error>(())
    };
    let mut keys = Vec::new();

    // HS256: 32 random bytes, base64url: 43 printable bytes used as the secret itself.
    let secret = URL_SAFE_NO_PAD.encode(random::<32>());
    write("hs256.secret", &secret)?;
    let oct = serde_json::json!({ "keys": [{
        "kty": "oct", "kid": KID_HS256, "alg": "HS256", "use": "sig",
        "k": URL_SAFE_NO_PAD.encode(secret.as_bytes()),
    }]});
    write("hs256.jwks.json", &oct.to_string())?;
    keys.push(Key {
        name: "hs256",
        kid: KID_HS256,
        alg: Algorithm::HS256,
        encoding: EncodingKey::from_secret(secret.as_bytes())?,
    });

    // ES256: a random P-256 scalar (retry on the rare out-of-range value).
    let key = loop {
        if let Ok(key) = p256::SecretKey::from_slice(&random::<32>()) {
            break key;
        }
    };
    let private_pem = key.to_pkcs8_pem(LineEnding::LF)?;
    let public_pem = key.public_key().to_public_key_pem(LineEnding::LF)?;
    write_pair(
        "es256",
        KID_ES256,
        tower_jwt_auth::Algorithm::ES256,
        &private_pem,
        &public_pem,
    )?;
    keys.push(Key {
        name: "es256",
        kid: KID_ES256,
        alg: Algorithm::ES256,
        encoding: EncodingKey::from_ec_pem(private_pem.as_bytes())?,
    });

    // RS256: a fresh 2048-bit RSA key, the size most identity providers publish.
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048)?;
    let private_pem = key.to_pkcs8_pem(LineEnding::LF)?;
    let public_pem = rsa::PublicKey::from(&key).to_public_key_pem(LineEnding::LF)?;
    write_pair(
        "rs256",
        KID_RS256,
        tower_jwt_auth::Algorithm::RS256,
        &private_pem,
        &public_pem,
    )?;
    keys.push(Key {
        name: "rs256",
        kid: KID_RS256,
        alg: Algorithm::RS256,
        encoding: EncodingKey::from_rsa_pem(private_pem.as_bytes())?,
    });

    // EdDSA: an Ed25519 key from 32 random bytes.
    let key = ed25519_dalek::SigningKey::from_bytes(&random::<32>());
    let private_pem = key.to_pkcs8_pem(LineEnding::LF)?;
    let public_pem = key.verifying_key().to_public_key_pem(LineEnding::LF)?;
    write_pair(
        "eddsa",
        KID_EDDSA,
        tower_jwt_auth::Algorithm::EdDSA,
        &private_pem,
        &public_pem,
    )?;
    keys.push(Key {
        name: "eddsa",
        kid: KID_EDDSA,
        alg: Algorithm::EdDSA,
        encoding: EncodingKey::from_ed_pem(private_pem.as_bytes())?,
    });

    let iat = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let claims = BenchClaims {
        sub: "user-7f3c2a91-5e4b-4c1d-9a8e-2b6f0d4c8e17".into(),
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        exp: 4_102_444_800, // 2100-01-01
        iat,
        jti: URL_SAFE_NO_PAD.encode(random::<16>()),
        scope: "read write profile email".into(),
    };
    let payload = serde_json::to_string(&claims)?;

    // Tokens every variant must refuse (the script checks each one answers non-2xx): same keys,
    // one rule broken at a time.
    let base = serde_json::to_value(&claims)?;
    type Edit = fn(&mut serde_json::Value);
    let broken: [(&str, Edit); 4] = [
        ("bad-iss", |c| c["iss"] = "https://evil.example".into()),
        ("bad-aud", |c| c["aud"] = "another-api".into()),
        ("expired", |c| c["exp"] = 1_000_000_000.into()),
        ("no-exp", |c| {
            c.as_object_mut().unwrap().remove("exp");
        }),
    ];
    let mut sizes = Vec::new();
    for key in &keys {
        let token = key.sign(&claims)?;
        write(&format!("{}.token", key.name), &token)?;
        sizes.push(format!("{} token {} bytes", key.name, token.len()));
        for (name, edit) in broken {
            let mut c = base.clone();
            edit(&mut c);
            write(&format!("{}.{name}.token", key.name), &key.sign(&c)?)?;
        }
        // A signature that does not verify: one character of the signature changed (its
        // fifth, so the change stays inside the signature bytes, never in base64 padding bits).
        let (head, sig) = token.rsplit_once('.').ok_or("no signature")?;
        let mut sig = sig.as_bytes().to_vec();
        sig[4] = if sig[4] == b'A' { b'B' } else { b'A' };
        write(
            &format!("{}.bad-sig.token", key.name),
            &format!("{head}.{}", String::from_utf8(sig)?),
        )?;
    }

    println!(
        "minted into {}: claims {} bytes, {}",
        dir.display(),
        payload.len(),
        sizes.join(", ")
    );
    Ok(())
}

//! Writes the benchmark keys and tokens into a directory (default `keys`):
//!
//! - `hs256.secret` (43 printable characters), `hs256.jwks.json` (an `oct` JWK), `hs256.token`;
//! - `es256.pem` (PKCS#8), `es256.pub.pem` (SPKI), `es256.jwks.json`, `es256.token`.
//!
//! Both tokens carry the same claims: `sub`, `iss`, `aud`, `exp` (year 2100), `iat`, `jti`,
//! `scope`, and a `kid` header.
//!
//! Usage: `mint [DIR]`

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use tower_jwt_auth::SigningKey;
use tower_jwt_auth_load::{AUDIENCE, BenchClaims, ISSUER, KID_ES256, KID_HS256};

type Error = Box<dyn std::error::Error>;

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("getrandom");
    bytes
}

fn main() -> Result<(), Error> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "keys".into()));
    std::fs::create_dir_all(&dir)?;
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text);

    // HS256: 32 random bytes, base64url: 43 printable bytes used as the secret itself.
    let secret = URL_SAFE_NO_PAD.encode(random::<32>());
    write("hs256.secret", &secret)?;
    let oct = serde_json::json!({ "keys": [{
        "kty": "oct", "kid": KID_HS256, "alg": "HS256", "use": "sig",
        "k": URL_SAFE_NO_PAD.encode(secret.as_bytes()),
    }]});
    write("hs256.jwks.json", &oct.to_string())?;

    // ES256: a random P-256 scalar (retry on the rare out-of-range value).
    let key = loop {
        if let Ok(key) = p256::SecretKey::from_slice(&random::<32>()) {
            break key;
        }
    };
    let private_pem = key.to_pkcs8_pem(LineEnding::LF)?;
    let public_pem = key.public_key().to_public_key_pem(LineEnding::LF)?;
    write("es256.pem", &private_pem)?;
    write("es256.pub.pem", &public_pem)?;
    let signing = SigningKey::from_private_pem(&private_pem)?.with_kid(KID_ES256);
    let jwk = signing.public_jwk().ok_or("no public JWK")?;
    write(
        "es256.jwks.json",
        &serde_json::json!({ "keys": [jwk] }).to_string(),
    )?;

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

    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(KID_HS256.into());
    let hs = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(secret.as_bytes())?,
    )?;
    write("hs256.token", &hs)?;

    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(KID_ES256.into());
    let es = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ec_pem(private_pem.as_bytes())?,
    )?;
    write("es256.token", &es)?;

    // Tokens every variant must refuse (the script checks each one answers non-2xx): same keys,
    // one rule broken at a time.
    let base = serde_json::to_value(&claims)?;
    let broken: [(&str, fn(&mut serde_json::Value)); 4] = [
        ("bad-iss", |c| c["iss"] = "https://evil.example".into()),
        ("bad-aud", |c| c["aud"] = "another-api".into()),
        ("expired", |c| c["exp"] = 1_000_000_000.into()),
        ("no-exp", |c| {
            c.as_object_mut().unwrap().remove("exp");
        }),
    ];
    for (name, edit) in broken {
        let mut c = base.clone();
        edit(&mut c);
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KID_HS256.into());
        let hs = jsonwebtoken::encode(&header, &c, &EncodingKey::from_secret(secret.as_bytes())?)?;
        write(&format!("hs256.{name}.token"), &hs)?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(KID_ES256.into());
        let es = jsonwebtoken::encode(
            &header,
            &c,
            &EncodingKey::from_ec_pem(private_pem.as_bytes())?,
        )?;
        write(&format!("es256.{name}.token"), &es)?;
    }
    // A signature that does not verify: one byte of the signature changed.
    for (alg, token) in [("hs256", &hs), ("es256", &es)] {
        let (head, sig) = token.rsplit_once('.').ok_or("no signature")?;
        let mut sig = sig.as_bytes().to_vec();
        sig[4] = if sig[4] == b'A' { b'B' } else { b'A' };
        write(
            &format!("{alg}.bad-sig.token"),
            &format!("{head}.{}", String::from_utf8(sig)?),
        )?;
    }

    println!(
        "minted into {}: claims {} bytes, HS256 token {} bytes, ES256 token {} bytes",
        dir.display(),
        payload.len(),
        hs.len(),
        es.len()
    );
    Ok(())
}

//! Whole-token verification (`Verifier::verify::<Claims>`), structure-aware.
//!
//! The input (read with `arbitrary`) picks an algorithm (HS256 with a 32-byte secret, or EdDSA
//! with a fixed Ed25519 key), a rule set, and mutations of a valid token minted here: member
//! edits and raw splices of the header and payload JSON, edits of each part's base64url,
//! a signature (recomputed over the final signing input, the original one, edited, raw …) and
//! edits of the separators and the whole text.
//!
//! Property: the verifier accepts exactly the tokens an independent check accepts: three parts,
//! each strict base64url (plain decoder); header and payload strict JSON objects (no repeated
//! member at any depth, `serde_json` reads them); `alg` the key's, no `crit`/`b64`; the HMAC
//! recomputed over the exact signing input equal to the signature (or Ed25519 `verify_strict`
//! with a canonical `S`); `exp` a number with `exp + 60 > now`, `nbf` ≤ `now + 60`, registered
//! claims of the right types, `aud` absent (or matching, with the strict rules), and
//! `serde_json` reads the payload as `Claims`. When it accepts, the claims are what `serde_json`
//! reads, `verify_jws` returns the same payload, and a cached verifier answers the same twice.
#![no_main]

use std::sync::OnceLock;

use ed25519_dalek::{Signer as _, SigningKey};
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use tower_jwt_auth::{Claims, DecodingKey, Validation, Verifier};
use tower_jwt_auth_fuzz::{Json, b64url_decode, b64url_encode, hex, strict_object};

/// The verifiers' clock: fixed, so that every finding replays.
const NOW: i64 = 1_750_000_000;
const LEEWAY: i64 = 60;
const SECRET: &[u8; 32] = b"fuzzing: a 32-byte HS256 secret!";
const ED25519_SEED: [u8; 32] = [7; 32];
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api";

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Alg {
    Hs256,
    EdDsa,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Rules {
    /// `Validation::new()`.
    Default,
    /// `iss`, `aud`, `typ: at+jwt` and `sub` required.
    Strict,
    /// The default rules, through the verified-token cache.
    Cached,
}

const REGISTERED: [&str; 14] = [
    "alg", "kid", "typ", "crit", "b64", "jwk", "exp", "nbf", "iat", "iss", "sub", "aud", "jti",
    "scope",
];

#[derive(Arbitrary, Debug)]
enum Name {
    Registered(u8),
    /// A registered name with its first character escaped (`"\u0065xp"`).
    Escaped(u8),
    Other(String),
}

impl Name {
    fn render(&self) -> String {
        match self {
            Name::Registered(i) => {
                format!("\"{}\"", REGISTERED[usize::from(*i) % REGISTERED.len()])
            }
            Name::Escaped(i) => {
                let name = REGISTERED[usize::from(*i) % REGISTERED.len()];
                format!("\"\\u{:04x}{}\"", name.as_bytes()[0], &name[1..])
            }
            Name::Other(s) => serde_json::to_string(s).expect("a string"),
        }
    }
}

const ALGS: [&str; 9] = [
    "HS256", "EdDSA", "none", "RS256", "hs256", "HS256 ", "ES256", "HS384", "",
];

#[derive(Arbitrary, Debug)]
enum Val {
    Int(i64),
    Uint(u64),
    Float(f64),
    /// `NOW + 30 * n`: around the clock, where `exp` and `nbf` decide.
    Around(i8),
    Str(String),
    Alg(u8),
    Issuer,
    Audience,
    Audiences(bool),
    Typ(u8),
    Null,
    Bool(bool),
    Numbers(Vec<i8>),
    Object {
        repeat: bool,
    },
    Raw(Vec<u8>),
}

const TYPES: [&str; 6] = [
    "JWT",
    "at+jwt",
    "application/AT+JWT",
    "application/jwt",
    "AT+JWT",
    "",
];

impl Val {
    fn render(&self) -> Vec<u8> {
        let text = match self {
            Val::Int(v) => v.to_string(),
            Val::Uint(v) => v.to_string(),
            Val::Float(v) if v.is_finite() => format!("{v:?}"),
            Val::Float(_) => "1e999".to_owned(),
            Val::Around(n) => (NOW + 30 * i64::from(*n)).to_string(),
            Val::Str(s) => serde_json::to_string(s).expect("a string"),
            Val::Alg(i) => format!("\"{}\"", ALGS[usize::from(*i) % ALGS.len()]),
            Val::Issuer => format!("\"{ISSUER}\""),
            Val::Audience => format!("\"{AUDIENCE}\""),
            Val::Audiences(ours) => {
                format!("[\"other\",\"{}\"]", if *ours { AUDIENCE } else { "x" })
            }
            Val::Typ(i) => format!("\"{}\"", TYPES[usize::from(*i) % TYPES.len()]),
            Val::Null => "null".to_owned(),
            Val::Bool(b) => b.to_string(),
            Val::Numbers(items) => {
                let items: Vec<String> = items.iter().map(i8::to_string).collect();
                format!("[{}]", items.join(","))
            }
            Val::Object { repeat } => {
                if *repeat {
                    r#"{"a":1,"a":2}"#.to_owned()
                } else {
                    r#"{"a":1,"b":[{"c":null}]}"#.to_owned()
                }
            }
            Val::Raw(bytes) => return bytes.clone(),
        };
        text.into_bytes()
    }
}

#[derive(Arbitrary, Debug)]
enum Edit {
    /// Replaces the member's value (or adds the member).
    Set {
        name: Name,
        value: Val,
    },
    /// Adds a member, even one already there.
    Add {
        name: Name,
        value: Val,
    },
    Remove(Name),
    /// Raw bytes spliced into the JSON text.
    Splice {
        at: u16,
        remove: u8,
        insert: Vec<u8>,
    },
    Replace(Vec<u8>),
}

/// A JSON object being edited: members while only members are edited, then text.
enum Doc {
    Members(Vec<(String, Vec<u8>)>),
    Text(Vec<u8>),
}

impl Doc {
    fn new(members: &[(&str, String)]) -> Self {
        Doc::Members(
            members
                .iter()
                .map(|(n, v)| (format!("\"{n}\""), v.clone().into_bytes()))
                .collect(),
        )
    }

    fn text(&self) -> Vec<u8> {
        match self {
            Doc::Text(text) => text.clone(),
            Doc::Members(members) => {
                let mut out = b"{".to_vec();
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(name.as_bytes());
                    out.push(b':');
                    out.extend_from_slice(value);
                }
                out.push(b'}');
                out
            }
        }
    }

    fn apply(&mut self, edit: &Edit) {
        match (&mut *self, edit) {
            (Doc::Members(members), Edit::Set { name, value }) => {
                let name = name.render();
                match members.iter_mut().find(|(n, _)| *n == name) {
                    Some(member) => member.1 = value.render(),
                    None => members.push((name, value.render())),
                }
            }
            (Doc::Members(members), Edit::Add { name, value }) => {
                members.push((name.render(), value.render()));
            }
            (Doc::Members(members), Edit::Remove(name)) => {
                let name = name.render();
                members.retain(|(n, _)| *n != name);
            }
            (Doc::Text(text), Edit::Set { name, value } | Edit::Add { name, value }) => {
                let at = text.iter().rposition(|b| *b == b'}').unwrap_or(text.len());
                let mut member = b",".to_vec();
                member.extend_from_slice(name.render().as_bytes());
                member.push(b':');
                member.extend_from_slice(&value.render());
                text.splice(at..at, member);
            }
            (Doc::Text(_), Edit::Remove(_)) => {}
            (_, Edit::Splice { at, remove, insert }) => {
                let mut text = self.text();
                let at = usize::from(*at) % (text.len() + 1);
                let end = (at + usize::from(*remove)).min(text.len());
                text.splice(at..end, insert.iter().copied());
                *self = Doc::Text(text);
            }
            (_, Edit::Replace(bytes)) => *self = Doc::Text(bytes.clone()),
        }
    }
}

/// An edit of one part's base64url text.
#[derive(Arbitrary, Debug)]
enum Enc {
    Plain,
    Padded(bool),
    /// The standard alphabet (`+`, `/`) instead of the URL-safe one.
    Standard,
    Insert {
        at: u16,
        byte: u8,
    },
    Remove(u16),
    /// The last character replaced: other trailing bits, or another last sextet.
    Last(u8),
    Raw(String),
}

impl Enc {
    fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let mut text = b64url_encode(bytes).into_bytes();
        match self {
            Enc::Plain => {}
            Enc::Padded(two) => {
                text.push(b'=');
                if *two {
                    text.push(b'=');
                }
            }
            Enc::Standard => {
                for b in &mut text {
                    *b = match *b {
                        b'-' => b'+',
                        b'_' => b'/',
                        other => other,
                    };
                }
            }
            Enc::Insert { at, byte } => {
                let at = usize::from(*at) % (text.len() + 1);
                text.insert(at, *byte);
            }
            Enc::Remove(at) => {
                if !text.is_empty() {
                    let at = usize::from(*at) % text.len();
                    text.remove(at);
                }
            }
            Enc::Last(c) => {
                if let Some(last) = text.last_mut() {
                    *last = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                        [usize::from(*c) % 64];
                }
            }
            Enc::Raw(s) => return s.clone().into_bytes(),
        }
        text
    }
}

#[derive(Arbitrary, Debug)]
enum Sig {
    /// Over the final signing input.
    Correct,
    /// The unmutated token's signature.
    Original,
    Flip {
        at: u8,
        xor: u8,
    },
    Truncate(u8),
    Extend(Vec<u8>),
    /// EdDSA: `S + ℓ`, the malleable twin of a valid signature.
    Malleate,
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Shape {
    Prefix(Vec<u8>),
    Suffix(Vec<u8>),
    ReplaceDot { second: bool, with: u8 },
    InsertDot(u16),
    Insert { at: u16, bytes: Vec<u8> },
}

#[derive(Arbitrary, Debug)]
struct Input {
    alg: Alg,
    rules: Rules,
    header: Vec<Edit>,
    payload: Vec<Edit>,
    encodings: [Enc; 3],
    signature: Sig,
    shape: Vec<Shape>,
}

struct Keys {
    ed25519: SigningKey,
    /// `[alg][rules]`.
    verifiers: [[Verifier; 3]; 2],
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ed25519 = SigningKey::from_bytes(&ED25519_SEED);
        let verifiers = [Alg::Hs256, Alg::EdDsa].map(|alg| {
            [Rules::Default, Rules::Strict, Rules::Cached].map(|rules| {
                let key = match alg {
                    Alg::Hs256 => {
                        DecodingKey::from_secret(tower_jwt_auth::Algorithm::HS256, SECRET)
                    }
                    Alg::EdDsa => DecodingKey::from_ed25519(ed25519.verifying_key().as_bytes()),
                }
                .expect("a valid key");
                let mut validation = Validation::new().clock(|| NOW);
                if rules == Rules::Strict {
                    validation = validation
                        .issuer(ISSUER)
                        .audience(AUDIENCE)
                        .require_type("at+jwt")
                        .require_sub();
                }
                let verifier = Verifier::new(key, validation).expect("a usable verifier");
                if rules == Rules::Cached {
                    verifier.cache_verified_tokens(64)
                } else {
                    verifier
                }
            })
        });
        Keys { ed25519, verifiers }
    })
}

fn sign(alg: Alg, message: &[u8]) -> Vec<u8> {
    match alg {
        Alg::Hs256 => {
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Alg::EdDsa => keys().ed25519.sign(message).to_bytes().to_vec(),
    }
}

/// ℓ, the order of the Ed25519 base point, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn scalar_is_canonical(s: &[u8]) -> bool {
    for i in (0..32).rev() {
        if s[i] != ELL[i] {
            return s[i] < ELL[i];
        }
    }
    false
}

fn base_members(alg: Alg, rules: Rules) -> (Doc, Doc) {
    let alg = match alg {
        Alg::Hs256 => "HS256",
        Alg::EdDsa => "EdDSA",
    };
    let typ = if rules == Rules::Strict {
        "at+jwt"
    } else {
        "JWT"
    };
    let header = Doc::new(&[("alg", format!("\"{alg}\"")), ("typ", format!("\"{typ}\""))]);
    let mut payload = vec![
        ("sub", "\"ada\"".to_owned()),
        ("iat", (NOW - 10).to_string()),
        ("nbf", (NOW - 10).to_string()),
        ("exp", (NOW + 600).to_string()),
        ("scope", "\"read write\"".to_owned()),
        ("jti", "\"j-1\"".to_owned()),
    ];
    if rules == Rules::Strict {
        payload.push(("iss", format!("\"{ISSUER}\"")));
        payload.push(("aud", format!("\"{AUDIENCE}\"")));
    }
    (header, Doc::new(&payload))
}

fn build(input: &Input) -> String {
    let (mut header, mut payload) = base_members(input.alg, input.rules);
    let original_input = format!(
        "{}.{}",
        b64url_encode(&header.text()),
        b64url_encode(&payload.text())
    );
    for edit in input.header.iter().take(8) {
        header.apply(edit);
    }
    for edit in input.payload.iter().take(8) {
        payload.apply(edit);
    }
    let mut token = input.encodings[0].apply(&header.text());
    token.push(b'.');
    token.extend(input.encodings[1].apply(&payload.text()));
    let correct = || sign(input.alg, &token);
    let signature = match &input.signature {
        Sig::Correct => correct(),
        Sig::Original => sign(input.alg, original_input.as_bytes()),
        Sig::Flip { at, xor } => {
            let mut sig = correct();
            let at = usize::from(*at) % sig.len();
            sig[at] ^= xor;
            sig
        }
        Sig::Truncate(n) => {
            let mut sig = correct();
            sig.truncate(usize::from(*n) % sig.len());
            sig
        }
        Sig::Extend(more) => {
            let mut sig = correct();
            sig.extend_from_slice(more);
            sig
        }
        Sig::Malleate => {
            let mut sig = correct();
            if sig.len() == 64 {
                let mut carry = 0u16;
                for (s, l) in sig[32..].iter_mut().zip(ELL) {
                    let sum = u16::from(*s) + u16::from(l) + carry;
                    *s = sum as u8;
                    carry = sum >> 8;
                }
            }
            sig
        }
        Sig::Raw(bytes) => bytes.clone(),
    };
    let mut token = token.clone();
    token.push(b'.');
    token.extend(input.encodings[2].apply(&signature));
    for shape in input.shape.iter().take(3) {
        match shape {
            Shape::Prefix(bytes) => {
                token.splice(0..0, bytes.iter().copied());
            }
            Shape::Suffix(bytes) => token.extend_from_slice(bytes),
            Shape::ReplaceDot { second, with } => {
                let dots: Vec<usize> = (0..token.len()).filter(|i| token[*i] == b'.').collect();
                if let Some(at) = if *second { dots.get(1) } else { dots.first() } {
                    token[*at] = *with;
                }
            }
            Shape::InsertDot(at) => {
                let at = usize::from(*at) % (token.len() + 1);
                token.insert(at, b'.');
            }
            Shape::Insert { at, bytes } => {
                let at = usize::from(*at) % (token.len() + 1);
                token.splice(at..at, bytes.iter().copied());
            }
        }
    }
    String::from_utf8_lossy(&token).into_owned()
}

/// The independent check: the decoded payload when the token must be accepted, else why not.
fn reference(token: &str, alg: Alg, rules: Rules) -> Result<Vec<u8>, &'static str> {
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, s] = parts[..] else {
        return Err("not three parts");
    };
    if h.is_empty() || s.is_empty() {
        return Err("empty header or signature");
    }
    let header = b64url_decode(h.as_bytes()).ok_or("header not base64url")?;
    let payload = b64url_decode(p.as_bytes()).ok_or("payload not base64url")?;
    let signature = b64url_decode(s.as_bytes()).ok_or("signature not base64url")?;

    let header = strict_object(&header).ok_or("header not a strict object")?;
    let want = match alg {
        Alg::Hs256 => "HS256",
        Alg::EdDsa => "EdDSA",
    };
    if header.get("alg").and_then(Json::as_str) != Some(want) {
        return Err("alg");
    }
    if header.get("crit").is_some() || header.get("b64").is_some() {
        return Err("crit or b64");
    }
    for name in ["kid", "typ"] {
        if header.get(name).is_some_and(|v| v.as_str().is_none()) {
            return Err("kid or typ not a string");
        }
    }
    if rules == Rules::Strict {
        let typ = header
            .get("typ")
            .and_then(Json::as_str)
            .ok_or("typ missing")?
            .to_ascii_lowercase();
        if typ != "at+jwt" && typ != "application/at+jwt" {
            return Err("typ");
        }
    }

    let signing_input = &token.as_bytes()[..h.len() + 1 + p.len()];
    let signed = match alg {
        Alg::Hs256 => {
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");
            mac.update(signing_input);
            mac.finalize().into_bytes()[..] == signature[..]
        }
        Alg::EdDsa => {
            signature.len() == 64
                && scalar_is_canonical(&signature[32..])
                && keys()
                    .ed25519
                    .verifying_key()
                    .verify_strict(
                        signing_input,
                        &ed25519_dalek::Signature::from_slice(&signature).expect("64 bytes"),
                    )
                    .is_ok()
        }
    };
    if !signed {
        return Err("signature");
    }

    let claims = strict_object(&payload).ok_or("payload not a strict object")?;
    let date = |name| match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_num()
            .map(|n| Some(n.seconds()))
            .ok_or("a date is not a number"),
    };
    let exp = date("exp")?.ok_or("exp missing")?;
    if i128::from(exp) + i128::from(LEEWAY) <= i128::from(NOW) {
        return Err("expired");
    }
    if let Some(nbf) = date("nbf")?
        && i128::from(nbf) > i128::from(NOW) + i128::from(LEEWAY)
    {
        return Err("not yet valid");
    }
    date("iat")?;
    for name in ["iss", "sub", "jti", "scope"] {
        if claims.get(name).is_some_and(|v| v.as_str().is_none()) {
            return Err("a string claim is not a string");
        }
    }
    match (rules, claims.get("aud")) {
        (Rules::Strict, Some(Json::Str(aud))) if aud == AUDIENCE => {}
        (Rules::Strict, Some(Json::Arr(items)))
            if items.iter().all(|i| i.as_str().is_some())
                && items.iter().any(|i| i.as_str() == Some(AUDIENCE)) => {}
        (Rules::Strict, _) => return Err("aud"),
        (_, Some(_)) => return Err("aud present while none is configured"),
        (_, None) => {}
    }
    if rules == Rules::Strict {
        if claims.get("iss").and_then(Json::as_str) != Some(ISSUER) {
            return Err("iss");
        }
        if claims.get("sub").is_none() {
            return Err("sub missing");
        }
    }
    serde_json::from_slice::<Claims>(&payload).map_err(|_| "not Claims")?;
    Ok(payload)
}

fuzz_target!(|input: Input| {
    let token = build(&input);
    let verifier = &keys().verifiers[input.alg as usize][input.rules as usize];
    let ours = verifier.verify::<Claims>(&token);
    if input.rules == Rules::Cached {
        // A second time: through the cache when the first one passed.
        let again = verifier.verify::<Claims>(&token);
        match (&ours, &again) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "the cache changed the claims: {token:?}"),
            (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "{token:?}"),
            _ => panic!("the cache changed the outcome: {ours:?} then {again:?}, {token:?}"),
        }
    }
    let expected = reference(&token, input.alg, input.rules);
    match (&ours, &expected) {
        (Ok(claims), Ok(payload)) => {
            let plain: Claims = serde_json::from_slice(payload).expect("checked");
            assert_eq!(claims, &plain, "claims differ from serde_json's: {token:?}");
            let jws = verifier.verify_jws(&token);
            assert_eq!(
                jws.as_deref().ok(),
                Some(&payload[..]),
                "verify_jws disagrees: {token:?}"
            );
        }
        (Err(_), Err(_)) => {}
        (Ok(claims), Err(why)) => panic!(
            "accepted a token the reference refuses ({why}): {token:?} (hex {}), claims {claims:?}",
            hex(token.as_bytes())
        ),
        (Err(e), Ok(_)) => panic!(
            "refused ({:?}) a token the reference accepts: {token:?} (hex {})",
            e.kind(),
            hex(token.as_bytes())
        ),
    }
});

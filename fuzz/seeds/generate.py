#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, one folder per target, from the repository's test
vectors (tests/vectors/) and a few hand-written cases.

    python3 fuzz/seeds/generate.py        # from anywhere; rewrites fuzz/seeds/<target>/

Each seed is a small file in the format its target reads (see the target's header comment).
The output is deterministic: running it again changes nothing unless the vectors change.
"""

import base64
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
VECTORS = os.path.join(ROOT, "tests", "vectors")
MAX_SEED = 1024  # bytes: keep the corpora small


def load(path):
    with open(os.path.join(VECTORS, path), encoding="utf-8") as f:
        return json.load(f)


def b64url_decode(text):
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except Exception:  # noqa: BLE001 - a seed we skip
        return None


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Seeds:
    def __init__(self, target):
        self.dir = os.path.join(HERE, target)
        self.seen = set()
        self.count = 0

    def add(self, name, data, limit=MAX_SEED):
        if isinstance(data, str):
            data = data.encode()
        if len(data) > limit or data in self.seen:
            return
        self.seen.add(data)
        self.count += 1
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:60]
        with open(os.path.join(self.dir, f"{self.count:03}-{safe}"), "wb") as f:
            f.write(data)


def tokens():
    """(name, compact token) pairs from every vector file that has compact tokens."""
    out = []
    for group in load("wycheproof/json_web_signature_test.json")["testGroups"]:
        for test in group["tests"]:
            if isinstance(test["jws"], str):
                out.append((f"wycheproof-{group['comment']}-{test['tcId']}", test["jws"]))
    cookbook = [
        "jws/4_1.rsa_v15_signature.json",
        "jws/4_2.rsa-pss_signature.json",
        "jws/4_3.ecdsa_signature.json",
        "jws/4_4.hmac-sha2_integrity_protection.json",
        "jws/4_5.signature_with_detached_content.json",
        "jws/4_6.protecting_specific_header_fields.json",
        "jws/4_7.protecting_content_only.json",
        "curve25519/jws.json",
        "rfc7797/hmac-sha2_b64_false.json",
    ]
    for path in cookbook:
        compact = load("jose-cookbook/" + path).get("output", {}).get("compact")
        if compact:
            out.append(("cookbook-" + os.path.basename(path), compact))
    for case in load("rfc7515/appendix_a.json")["cases"]:
        out.append((case["id"], case["compact"]))
    return out


def pick(items, n):
    """Up to `n` items spread over the list (the vectors group similar cases together)."""
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


HAND_CLAIMS = [
    '{"sub":"ada","exp":4102444800}',
    '{"exp":1.5,"nbf":-1,"iat":0}',
    '{"exp":18446744073709551615,"nbf":-9223372036854775808}',
    '{"exp":1e300,"iat":-1e300}',
    '{"exp":"1700000000"}',
    '{"exp":null}',
    '{"aud":"api","iss":"https://issuer.example","sub":"s","jti":"j","scope":"read write"}',
    '{"aud":["x","api"],"exp":4102444800}',
    '{"aud":[],"exp":1}',
    '{"aud":["api",1]}',
    '{"aud":{"api":true}}',
    '{"exp":1,"exp":2}',
    '{"exp":1,"\\u0065xp":2}',
    '{"a":{"b":1,"b":2},"exp":1}',
    '{"nested":[{"x":[{"y":null}]}],"exp":4102444800}',
    '{"scope":["read"]}',
    '{"iss":"a\\u00e9\\ud83d\\ude00"}',
    '{"aaaaaaaa1":1,"aaaaaaaa2":2,"aaaaaaaa1":3}',
    "{" + ",".join(f'"m{i}":{i}' for i in range(20)) + "}",
    "{" + ",".join(f'"m{i}":{i}' for i in range(17)) + ',"m3":0}',
    '{"exp":4102444800}  ',
    '{"exp":4102444800} x',
    "[]",
    '"exp"',
    "",
]

HAND_HEADERS = [
    '{"alg":"HS256","typ":"JWT"}',
    '{"alg":"HS256","kid":"k1","typ":"at+jwt"}',
    '{"alg":"none"}',
    '{"alg":"HS256","alg":"none"}',
    '{"alg":"HS256","\\u0061lg":"none"}',
    '{"alg":"EdDSA","crit":["exp"]}',
    '{"alg":"HS256","b64":false,"crit":["b64"]}',
    '{"alg":"RS256","jwk":{"kty":"oct","k":"AAAA"},"jku":"https://x"}',
    '{"alg":"HS256","x5c":["MIIB"],"kid":null}',
    '{"alg":1}',
    '{"typ":"JWT"}',
    '{"alg":"HS256","kid":"a\\"b"}',
    '{"alg":"HS256","extension":{"a":1,"a":2}}',
]


def main():
    targets = [
        "authorization", "jws_header", "compact", "claims", "token", "jwk",
        "login_form", "login_json", "phc",
    ]
    seeds = {}
    for target in targets:
        path = os.path.join(HERE, target)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        seeds[target] = Seeds(target)

    all_tokens = tokens()
    short = [(n, t) for n, t in all_tokens if len(t) <= 700]
    chosen = pick(short, 40) + [(n, t) for n, t in all_tokens if not n.startswith("wycheproof")]

    # compact: the tokens as they are.
    for name, token in chosen:
        seeds["compact"].add(name, token)

    # jws_header: the decoded protected headers, and hand-written ones.
    for name, token in all_tokens:
        header = b64url_decode(token.split(".")[0])
        if header:
            seeds["jws_header"].add(name, header)
    for i, header in enumerate(HAND_HEADERS):
        seeds["jws_header"].add(f"hand-{i}", header)
        seeds["compact"].add(f"hand-{i}", b64url(header.encode()) + ".e30.c2ln")

    # claims: the payloads that are JSON, and hand-written ones.
    payloads = [(c["id"], c["payload"]) for c in load("rfc7515/appendix_a.json")["cases"]]
    for name, token in all_tokens:
        parts = token.split(".")
        if len(parts) == 3:
            payload = b64url_decode(parts[1])
            if payload and payload[:1] in (b"{", b"["):
                payloads.append((name, payload))
    for name, payload in payloads:
        seeds["claims"].add(name, payload)
    for i, claims in enumerate(HAND_CLAIMS):
        seeds["claims"].add(f"hand-{i}", claims)

    # authorization: control byte (see the target), then values separated by newlines.
    auth = seeds["authorization"]
    for name, token in pick(short, 12):
        auth.add(name, b"1Bearer " + token.encode())
    auth.add("lowercase", b"1bearer abc.def.ghi")
    auth.add("spaces-trailing", b"1BEARER   abc.def==  , \t")
    auth.add("two-tokens", b"1Bearer a b")
    auth.add("comma", b"1Bearer a, Bearer b")
    auth.add("two-headers", b"2Bearer a\nBearer a")
    auth.add("three-headers", b"3Basic x\nBearer a\nBearer b")
    auth.add("basic-then-cookie", b"5Basic dXNlcjpwYXNz\ntheme=dark; token=abc.def.ghi")
    auth.add("cookie-only", b"4theme=dark; token=\"abc.def.ghi\"")
    auth.add("cookie-twice", b"4token=a; token=b")
    auth.add("bearer-and-cookie", b"5Bearer abc\ntoken=xyz")
    auth.add("padding-inside", b"1Bearer ab=c")
    auth.add("only-padding", b"1Bearer ===")
    auth.add("no-credential", b"1Bearer")
    auth.add("tab", b"1Bearer\tabc")
    auth.add("obs-text", b"1Bearer ab\xffcd")
    auth.add("cookie-obs-text", b"4token=abc; x=\xff")
    auth.add("small-cap", b"\x41Bearer abcdefghijk")
    auth.add("cap-exact", b"\x71Bearer abcde")
    auth.add("built", b"\x38\x2a\x01\x02\x35eyJhbGciOiJIUzI1NiJ9.e30.sig")
    auth.add("built-cookie", b"\x3c\x00\x03\x00\x00abc")
    auth.add("built-small-cap", b"\x98\xff\x00\x01\x07a.b.c")

    # jwk: each key of the JWK vectors alone, and the key sets.
    jwk = seeds["jwk"]
    for group in load("wycheproof/json_web_key_test.json")["testGroups"]:
        for kind in ("private", "public"):
            if kind in group:
                doc = group[kind]
                jwk.add(f"wycheproof-{group['comment']}-{kind}", json.dumps(doc, separators=(",", ":")))
                for i, key in enumerate(doc.get("keys", [doc])):
                    jwk.add(f"wycheproof-{group['comment']}-{kind}-{i}", json.dumps(key, separators=(",", ":")))
    for group in load("wycheproof/json_web_signature_test.json")["testGroups"]:
        for kind in ("private", "public"):
            if kind in group:
                jwk.add(f"wycheproof-jws-{group['comment']}-{kind}", json.dumps(group[kind], separators=(",", ":")))
    for path in ["3_1.ec_public_key.json", "3_3.rsa_public_key.json", "3_5.symmetric_key_mac_computation.json"]:
        key = load("jose-cookbook/jwk/" + path)
        text = json.dumps(key, separators=(",", ":"))
        jwk.add("cookbook-" + path, text)
        jwk.add("cookbook-set-" + path, '{"keys":[' + text + "]}")
    ed = load("jose-cookbook/curve25519/jws.json")["input"]["key"]
    jwk.add("cookbook-ed25519", json.dumps(ed, separators=(",", ":")))
    for case in load("rfc7515/appendix_a.json")["cases"]:
        if isinstance(case["jwk"], dict):
            jwk.add(case["id"], json.dumps(case["jwk"], separators=(",", ":")))
    jwk.add("hand-oct-short", '{"kty":"oct","alg":"HS256","k":"c2hvcnQ"}')
    jwk.add("hand-oct-pem", '{"kty":"oct","alg":"HS256","k":"' + b64url(b"-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA") + '"}')
    jwk.add("hand-oct-padded", '{"kty":"oct","alg":"HS256","k":"' + b64url(bytes(range(32))) + '=="}')
    jwk.add("hand-oct-no-alg", '{"kty":"oct","k":"' + b64url(bytes(range(64))) + '"}')
    jwk.add("hand-oct-key-ops", '{"kty":"oct","alg":"HS512","key_ops":["sign"],"k":"' + b64url(bytes(range(64))) + '"}')
    jwk.add("hand-empty-set", '{"keys":[]}')
    jwk.add("hand-dup-kid", '{"keys":[{"kty":"oct","alg":"HS256","kid":"a","k":"' + b64url(bytes(32)) + '"},{"kty":"oct","alg":"HS384","kid":"a","k":"' + b64url(bytes(48)) + '"}]}')
    jwk.add("hand-two-kidless", '{"keys":[{"kty":"oct","alg":"HS256","k":"' + b64url(bytes(32)) + '"},{"kty":"oct","alg":"HS256","k":"' + b64url(bytes(33)) + '"}]}')

    # login_form / login_json: hand-written bodies, with the argon2 vectors' passwords.
    passwords = [v["password"] for v in load("argon2/argon2_vectors.json")["verify_must_accept"]][:4]
    form, js = seeds["login_form"], seeds["login_json"]
    form.add("ok", "grant_type=password&username=ada&password=p%20w&scope=read")
    form.add("plus", "grant_type=password&username=a+b&password=%E2%82%AC")
    form.add("repeat-user", "grant_type=password&username=a&username=b&password=x")
    form.add("repeat-grant", "grant_type=password&grant_type=password&username=a&password=x")
    form.add("missing-grant", "username=a&password=x")
    form.add("other-grant", "grant_type=client_credentials&username=a&password=x")
    form.add("empty-values", "grant_type=password&username=&password=")
    form.add("no-equals", "grant_type=password&username&password")
    form.add("bad-percent", "grant_type=password&username=%zz&password=%")
    form.add("ampersands", "&&grant_type=password&&username=u&&password=p&&scope=&scope=")
    form.add("invalid-utf8", b"grant_type=password&username=\xff&password=%ff")
    js.add("ok", '{"username":"a","password":"x"}')
    js.add("grant", '{"grant_type":"password","username":"a","password":"x","scope":"read"}')
    js.add("repeat", '{"username":"a","username":"b","password":"x"}')
    js.add("number", '{"username":"a","password":1}')
    js.add("other-grant", '{"grant_type":"implicit","username":"a","password":"x"}')
    js.add("nulls", '{"grant_type":null,"username":"a","password":"x","scope":null}')
    js.add("escaped", '{"user\\u006eame":"a","password":"\\ud83d\\ude00"}')
    js.add("unknown-repeat", '{"x":1,"x":2,"username":"a","password":"b"}')
    js.add("array", '[{"username":"a","password":"x"}]')
    js.add("trailing", '{"username":"a","password":"x"} {}')
    for i, password in enumerate(passwords):
        form.add(f"argon2-password-{i}", "grant_type=password&username=u&password=" + password)
        js.add(f"argon2-password-{i}", json.dumps({"username": "u", "password": password}))

    # phc: every encoded string of the argon2 vectors, and hand-written ones.
    argon2 = load("argon2/argon2_vectors.json")
    for i, v in enumerate(argon2["verify_must_accept"]):
        seeds["phc"].add(f"accept-{i}", v["encoded"])
    for i, v in enumerate(argon2["verify_must_reject"]):
        seeds["phc"].add(f"reject-{i}", v["encoded"])
    for i, s in enumerate([
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
        "$argon2id$v=19$m=2097152,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
        "$argon2id$v=19$m=19456,t=17,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
        "$argon2id$v=18$m=19456,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
        "$argon2id$m=19456,t=2,p=1$c29tZXNhbHQ",
        "$argon2id$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
        "$argon2id$v=19$m=19456,t=2,p=1,keyid=abc,data=ZGF0YQ$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
    ]):
        seeds["phc"].add(f"hand-{i}", s)

    # token: inputs for the target's `arbitrary` layout (see TokenSeed below).
    token_seeds(seeds["token"], payloads)

    for target in targets:
        print(f"{target}: {seeds[target].count} seeds")


class TokenSeed:
    """Encodes an input of fuzz_targets/token.rs's `Input` as `arbitrary` 1.x reads it: enum
    variants as a little-endian u32 (variant i of n: ceil(i * 2^32 / n)), integers
    little-endian, each element of a `Vec` after a `1` byte and the list closed by a `0` byte.
    Strings (read with a length from the end of the data) are never written here."""

    def __init__(self):
        self.data = bytearray()

    def variant(self, i, n):
        self.data += struct.pack("<I", -(-(i << 32) // n))
        return self

    def u8(self, v):
        self.data += struct.pack("<B", v)
        return self

    def u16(self, v):
        self.data += struct.pack("<H", v)
        return self

    def i64(self, v):
        self.data += struct.pack("<q", v)
        return self

    def bytes(self, data):
        for b in data:
            self.data += bytes([1, b])
        self.data += b"\x00"
        return self


# Variant counts and indices of token.rs's enums.
ALG, RULES, EDIT, NAME, VAL, ENC, SIG, SHAPE = 2, 3, 5, 3, 15, 7, 7, 5
REGISTERED = ["alg", "kid", "typ", "crit", "b64", "jwk", "exp", "nbf", "iat", "iss", "sub", "aud", "jti", "scope"]


def token_seed(alg=0, rules=0, header=(), payload=(), encodings=(0, 0, 0), sig=(0,), shape=()):
    s = TokenSeed().variant(alg, ALG).variant(rules, RULES)
    for edits in (header, payload):
        for edit in edits:
            s.u8(1)
            edit(s)
        s.u8(0)
    for enc in encodings:
        if isinstance(enc, tuple):
            s.variant(enc[0], ENC)
            for f in enc[1:]:
                f(s)
        else:
            s.variant(enc, ENC)
    s.variant(sig[0], SIG)
    for f in sig[1:]:
        f(s)
    for part in shape:
        s.u8(1)
        part(s)
    s.u8(0)
    return bytes(s.data)


def set_member(name, value, add=False):
    def edit(s):
        s.variant(1 if add else 0, EDIT).variant(0, NAME).u8(REGISTERED.index(name))
        value(s)
    return edit


def escaped_member(name, value):
    def edit(s):
        s.variant(1, EDIT).variant(1, NAME).u8(REGISTERED.index(name))
        value(s)
    return edit


def remove(name):
    return lambda s: s.variant(2, EDIT).variant(0, NAME).u8(REGISTERED.index(name))


def replace(data):
    return lambda s: s.variant(4, EDIT).bytes(data)


def splice(at, remove_n, insert):
    return lambda s: s.variant(3, EDIT).u16(at).u8(remove_n).bytes(insert)


def around(n):
    return lambda s: s.variant(3, VAL).u8(n & 0xFF)


def int_val(v):
    return lambda s: s.variant(0, VAL).i64(v)


def alg_val(i):
    return lambda s: s.variant(5, VAL).u8(i)


def raw_val(data):
    return lambda s: s.variant(14, VAL).bytes(data)


def plain(i):
    return lambda s: s.variant(i, VAL)


def token_seeds(out, payloads):
    out.add("hs256-valid", token_seed())
    out.add("eddsa-valid", token_seed(alg=1))
    out.add("hs256-strict", token_seed(rules=1))
    out.add("eddsa-strict", token_seed(alg=1, rules=1))
    out.add("hs256-cached", token_seed(rules=2))
    out.add("expired", token_seed(payload=[set_member("exp", around(-3))]))
    out.add("leeway-edge", token_seed(payload=[set_member("exp", around(-2))]))
    out.add("not-yet-valid", token_seed(payload=[set_member("nbf", around(3))]))
    out.add("no-exp", token_seed(payload=[remove("exp")]))
    out.add("exp-string", token_seed(payload=[set_member("exp", lambda s: s.variant(4, VAL))]))
    out.add("exp-twice", token_seed(payload=[set_member("exp", around(20), add=True)]))
    out.add("exp-escaped-twice", token_seed(payload=[escaped_member("exp", around(20))]))
    out.add("alg-twice", token_seed(header=[set_member("alg", alg_val(2), add=True)]))
    out.add("alg-none", token_seed(header=[set_member("alg", alg_val(2))]))
    out.add("alg-lowercase", token_seed(header=[set_member("alg", alg_val(4))]))
    out.add("alg-other-key", token_seed(alg=1, header=[set_member("alg", alg_val(0))]))
    out.add("crit", token_seed(header=[set_member("crit", lambda s: s.variant(12, VAL).u8(1).u8(1).u8(0))]))
    out.add("kid-number", token_seed(header=[set_member("kid", int_val(1))]))
    out.add("typ-strict", token_seed(rules=1, header=[set_member("typ", plain(9))]))
    out.add("aud-default", token_seed(payload=[set_member("aud", plain(7))]))
    out.add("aud-strict-array", token_seed(rules=1, payload=[set_member("aud", lambda s: s.variant(8, VAL).u8(1))]))
    out.add("iss-strict-wrong", token_seed(rules=1, payload=[set_member("iss", plain(7))]))
    out.add("nested-repeat", token_seed(payload=[set_member("jwk", lambda s: s.variant(13, VAL).u8(1))]))
    out.add("splice-space", token_seed(payload=[splice(1, 0, b" \n")]))
    out.add("original-sig", token_seed(payload=[set_member("sub", raw_val(b'"eve"'))], sig=(1,)))
    out.add("flipped-sig", token_seed(sig=(2, lambda s: s.u8(5), lambda s: s.u8(1))))
    out.add("truncated-sig", token_seed(sig=(3, lambda s: s.u8(31))))
    out.add("malleated-eddsa", token_seed(alg=1, sig=(5,)))
    out.add("padded-payload", token_seed(encodings=(0, (1, lambda s: s.u8(0)), 0)))
    out.add("standard-alphabet", token_seed(encodings=(2, 2, 2)))
    out.add("trailing-bits", token_seed(encodings=(0, 0, (5, lambda s: s.u8(1)))))
    out.add("extra-dot", token_seed(shape=[lambda s: s.variant(3, SHAPE).u16(7)]))
    out.add("dot-replaced", token_seed(shape=[lambda s: s.variant(2, SHAPE).u8(1).u8(ord("~"))]))
    out.add("suffix-space", token_seed(shape=[lambda s: s.variant(1, SHAPE).bytes(b" ")]))
    for name, payload in payloads:
        if isinstance(payload, str):
            payload = payload.encode()
        if len(payload) <= 200:
            out.add("payload-" + name, token_seed(payload=[replace(payload)]))
    for i, header in enumerate(HAND_HEADERS):
        out.add(f"header-hand-{i}", token_seed(header=[replace(header.encode())]))


if __name__ == "__main__":
    main()

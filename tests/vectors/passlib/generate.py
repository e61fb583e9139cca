#!/usr/bin/env python3
"""Writes hashes.json: password hashes as a Python/FastAPI app stores them, for
tests/legacy_hashes.rs.

Every hash is made by the real Python libraries, never by this crate:

- passlib's ``CryptContext(schemes=["bcrypt"])`` with the idents ``2a``, ``2b`` and ``2y``,
  small costs (4 to 6) and one at passlib's default cost (12);
- the ``bcrypt`` package directly (``bcrypt.hashpw`` with ``gensalt(prefix=...)``);
- passlib's ``CryptContext(schemes=["argon2"])`` (argon2-cffi underneath) at its defaults
  and with small memory costs, argon2id, argon2i and a 16-byte digest.

For each hash the script also records which other passwords passlib (or ``bcrypt.checkpw``)
accepts and rejects, asking the library itself: a password over 72 bytes is truncated by
passlib's bcrypt handler (``truncate_error=False``, its default), so any password with the
same first 72 bytes is accepted. ``passlib_refuses`` lists passwords passlib raises on
instead of answering (bcrypt refuses NUL bytes).

Run it in a virtual environment with the pinned versions (passlib 1.7.4 reads
``bcrypt.__about__``, gone since bcrypt 4.1, and calls its backend with a password over
72 bytes, which bcrypt 5 refuses):

    python3 -m venv /tmp/passlib-venv
    /tmp/passlib-venv/bin/pip install passlib==1.7.4 bcrypt==4.0.1 argon2-cffi==25.1.0
    /tmp/passlib-venv/bin/python tests/vectors/passlib/generate.py

The salts are random: every run writes other hashes. The versions used are recorded in the
file; the tests do not depend on them.
"""

import json
import platform
import sys
from importlib.metadata import version
from pathlib import Path

import bcrypt
from passlib.context import CryptContext
from passlib.exc import PasswordValueError
from passlib.hash import argon2 as passlib_argon2
from passlib.hash import bcrypt as passlib_bcrypt

ASCII = "correct horse battery staple"
UNICODE = "pässwörd ñ 密码 🔐"
ONE_CHAR = "x"
# 94 bytes: passlib hashes the first 72 ("A" * 72) only.
LONG_ASCII = "A" * 72 + "this tail is past byte 72"
# 75 bytes; byte 72 falls after the 36th "é" (2 bytes each).
LONG_UNICODE = "é" * 37 + "x"

PASSWORDS = [ASCII, UNICODE, ONE_CHAR, LONG_ASCII, LONG_UNICODE]


def others(password):
    """Candidate passwords to ask the library about, besides the password itself."""
    candidates = [
        password + "!",
        password[:-1] if len(password) > 1 else "y",
        password.upper() if password.upper() != password else password.lower(),
        "",
    ]
    if len(password.encode()) > 72:
        prefix = password.encode()[:72].decode("utf-8", errors="strict")
        candidates += [
            prefix,  # exactly the 72 bytes bcrypt keeps
            prefix + "a different tail",
            prefix[:-1],  # one character short of the 72 bytes
            "B" + prefix[1:] + password[len(prefix):],  # differs in the first byte
        ]
    seen = []
    for c in candidates:
        if c != password and c not in seen:
            seen.append(c)
    return seen


def judge(verify, password):
    accepts, rejects = [password], []
    for other in others(password):
        (accepts if verify(other) else rejects).append(other)
    assert verify(password)
    return accepts, rejects


def refused(verify, candidates):
    out = []
    for c in candidates:
        try:
            verify(c)
        except PasswordValueError:
            out.append(c)
    return out


def passlib_case(source, context, password, nul_probe=False):
    stored = context.hash(password)
    accepts, rejects = judge(lambda p: context.verify(p, stored), password)
    case = {
        "source": source,
        "scheme": stored.split("$")[1],
        "password": password,
        "hash": stored,
        "accepts": accepts,
        "rejects": rejects,
    }
    if nul_probe:
        # "x\0x" + bcrypt's terminating NUL repeats "x\0": the same Blowfish key as "x".
        case["passlib_refuses"] = refused(
            lambda p: context.verify(p, stored), [password + "\0" + password, password + "\0"]
        )
    return case


def bcrypt_package_case(prefix, rounds, password):
    stored = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds, prefix=prefix)).decode()
    accepts, rejects = judge(lambda p: bcrypt.checkpw(p.encode(), stored.encode()), password)
    return {
        "source": f"bcrypt.hashpw(password, bcrypt.gensalt(rounds={rounds}, prefix=b\"{prefix.decode()}\"))",
        "scheme": stored.split("$")[1],
        "password": password,
        "hash": stored,
        "accepts": accepts,
        "rejects": rejects,
    }


def main():
    cases = []
    for ident in ["2a", "2b", "2y"]:
        context = CryptContext(schemes=["bcrypt"], bcrypt__ident=ident, bcrypt__rounds=4)
        for password in PASSWORDS:
            cases.append(
                passlib_case(
                    f'CryptContext(schemes=["bcrypt"], bcrypt__ident="{ident}", bcrypt__rounds=4)',
                    context,
                    password,
                    nul_probe=password == ONE_CHAR,
                )
            )
    for rounds in [5, 6]:
        context = CryptContext(schemes=["bcrypt"], bcrypt__rounds=rounds)
        cases.append(passlib_case(f'CryptContext(schemes=["bcrypt"], bcrypt__rounds={rounds})', context, ASCII))
    # passlib's defaults: ident 2b, cost 12.
    cases.append(passlib_case('CryptContext(schemes=["bcrypt"])', CryptContext(schemes=["bcrypt"]), ASCII))

    for prefix in [b"2a", b"2b"]:
        for password in [ASCII, UNICODE, LONG_ASCII]:
            cases.append(bcrypt_package_case(prefix, 4, password))

    # passlib's argon2 defaults (argon2-cffi's): argon2id, m=65536, t=3, p=4, 32-byte digest.
    cases.append(passlib_case('CryptContext(schemes=["argon2"])', CryptContext(schemes=["argon2"]), ASCII))
    small = [
        ('CryptContext(schemes=["argon2"], argon2__memory_cost=256, argon2__rounds=1, argon2__parallelism=1)',
         dict(argon2__memory_cost=256, argon2__rounds=1, argon2__parallelism=1)),
        ('CryptContext(schemes=["argon2"], argon2__memory_cost=512, argon2__rounds=2, argon2__parallelism=2)',
         dict(argon2__memory_cost=512, argon2__rounds=2, argon2__parallelism=2)),
        ('CryptContext(schemes=["argon2"], argon2__type="i", argon2__memory_cost=256, argon2__rounds=2, argon2__parallelism=1)',
         dict(argon2__type="i", argon2__memory_cost=256, argon2__rounds=2, argon2__parallelism=1)),
        ('CryptContext(schemes=["argon2"], argon2__digest_size=16, argon2__memory_cost=256, argon2__rounds=1, argon2__parallelism=1)',
         dict(argon2__digest_size=16, argon2__memory_cost=256, argon2__rounds=1, argon2__parallelism=1)),
    ]
    for source, settings in small:
        context = CryptContext(schemes=["argon2"], **settings)
        for password in [ASCII, UNICODE, ONE_CHAR, LONG_ASCII]:
            cases.append(passlib_case(source, context, password))

    out = {
        "about": "Password hashes written by passlib, the bcrypt package and argon2-cffi "
        "(see generate.py, which wrote this file, and README.md beside it). accepts and "
        "rejects are the library's own answers for each password.",
        "generator": {
            "script": "tests/vectors/passlib/generate.py",
            "python": platform.python_version(),
            "passlib": version("passlib"),
            "bcrypt": version("bcrypt"),
            "argon2-cffi": version("argon2-cffi"),
            "argon2-cffi-bindings": version("argon2-cffi-bindings"),
            "argon2 backend": passlib_argon2.get_backend(),
            "bcrypt backend": passlib_bcrypt.get_backend(),
        },
        "cases": cases,
    }
    path = Path(__file__).with_name("hashes.json")
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()

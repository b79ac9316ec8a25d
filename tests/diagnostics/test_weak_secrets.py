"""The shipped weak-secret list and the offline guess."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest

from tokensmith.diagnostics.jwt_parts import decode_unverified
from tokensmith.diagnostics.weak_secrets import find_weak_secret, load_weak_secrets


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_list_has_a_few_hundred_entries_including_the_classics() -> None:
    """300-500 unique entries, the empty secret first, and the well-known defaults present."""
    secrets = load_weak_secrets()
    assert 300 <= len(secrets) <= 500
    assert secrets[0] == ""
    assert len(set(secrets)) == len(secrets)
    for classic in (
        "secret",
        "changeme",
        "your-256-bit-secret",
        "jwt_secret",
        "supersecret",
        "password",
        "qwerty",
        "1qaz2wsx",
        "keyboard cat",
    ):
        assert classic in secrets
    assert not any(s.startswith("#") for s in secrets)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("secret", ["your-256-bit-secret", "supersecret", ""])
def test_weak_secret_is_found_for_every_hs_alg(alg: str, secret: str) -> None:
    """A token signed with a listed secret (or none at all) gives that secret back."""
    # Signed by hand: PyJWT refuses an empty key and warns about short ones.
    head = b64(json.dumps({"alg": alg}).encode())
    body = b64(b'{"sub": "1"}')
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    mac = hmac.digest(secret.encode(), f"{head}.{body}".encode(), digest)
    token = f"{head}.{body}.{b64(mac)}"
    assert find_weak_secret(decode_unverified(token)) == secret


def test_strong_secret_is_not_found() -> None:
    """A random 64-byte secret is not in the list."""
    token = jwt.encode({"sub": "1"}, "x7Qp" * 16, algorithm="HS256")
    assert find_weak_secret(decode_unverified(token)) is None


def test_asymmetric_tokens_are_not_tried() -> None:
    """Only HS* tokens have a shared secret to guess."""
    decoded = decode_unverified("eyJhbGciOiJFUzI1NiJ9.e30.c2ln")
    assert find_weak_secret(decoded) is None

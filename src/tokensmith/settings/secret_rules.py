"""The rules every configured secret is held to, with the variable that holds it.

In every mode: a secret is valid UTF-8 (the environment may hold undecodable bytes), the signing
keys are distinct, and no other secret equals a signing key (a previous access-token secret equal
to the refresh secret, or a service client holding a signing key, could mint tokens).

In production, additionally, each secret is at least :data:`MIN_SECRET_BYTES` long, is not one
character repeated, and is not on the shipped list of published weak secrets
(``tokensmith/data/weak_secrets.txt``, the list ``tokensmith inspect`` tries against a token).
Secrets are compared as bytes with :func:`hmac.compare_digest` (it refuses non-ASCII ``str``).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from functools import cache
from importlib import resources

from pydantic import SecretStr

from tokensmith.errors import ConfigError

__all__ = ["MIN_SECRET_BYTES", "NamedSecret", "check_secrets", "secret_bytes"]

MIN_SECRET_BYTES = 32
"""Production refuses shorter secrets: RFC 7518 section 3.2 wants a key at least as long as the
HS256 output (256 bits)."""

NamedSecret = tuple[str, SecretStr]
"""A secret and the variable that holds it."""


def secret_bytes(name: str, value: SecretStr) -> bytes:
    """The secret as UTF-8 bytes; a value that is not text (undecodable bytes in the
    environment arrive as surrogates) is a :class:`ConfigError` naming the variable."""
    try:
        return value.get_secret_value().encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(name, "must be valid UTF-8 text") from None


def check_secrets(
    keys: Sequence[NamedSecret], others: Sequence[NamedSecret], *, production: bool
) -> None:
    """``keys``: the signing keys (current and previous); ``others``: every other secret.

    Raises :class:`ConfigError` naming the first variable that breaks a rule.
    """
    encoded_keys = [(name, secret_bytes(name, value)) for name, value in keys]
    encoded_others = [(name, secret_bytes(name, value)) for name, value in others]
    for index, (name, value) in enumerate(encoded_keys):
        for other_name, other in encoded_keys[:index]:
            if hmac.compare_digest(value, other):
                raise ConfigError(name, f"must differ from {other_name}")
    for name, value in encoded_others:
        for key_name, key in encoded_keys:
            if hmac.compare_digest(value, key):
                raise ConfigError(name, f"must differ from {key_name}")
    if production:
        for name, value in [*encoded_keys, *encoded_others]:
            problem = _weakness(value)
            if problem is not None:
                raise ConfigError(name, f"{problem} (TOKENSMITH_ENV=production)")


def _weakness(value: bytes) -> str | None:
    if len(value) < MIN_SECRET_BYTES:
        return f"must be at least {MIN_SECRET_BYTES} bytes"
    if len(set(value)) == 1:
        return "must not be one character repeated"
    if value.lower() in _weak_secrets():
        return "is a published weak secret; generate one with 'tokensmith gen-secret'"
    return None


@cache
def _weak_secrets() -> frozenset[bytes]:
    text = resources.files("tokensmith").joinpath("data/weak_secrets.txt").read_text("utf-8")
    return frozenset(
        line.encode("utf-8").lower()
        for line in text.splitlines()
        if line and not line.startswith("#")
    )

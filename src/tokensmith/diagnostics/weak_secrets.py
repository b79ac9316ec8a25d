"""Try the shipped list of weak secrets against an HS256/384/512 token, offline.

Each guess costs one HMAC (a few microseconds), so the whole list takes about a millisecond.
Signatures are compared with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from importlib import resources

from tokensmith.diagnostics.jwt_parts import DecodedJwt

__all__ = ["find_weak_secret", "load_weak_secrets"]

_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def load_weak_secrets() -> list[str]:
    """The entries of ``tokensmith/data/weak_secrets.txt``, plus the empty secret first."""
    text = resources.files("tokensmith").joinpath("data/weak_secrets.txt").read_text("utf-8")
    entries = [line for line in text.splitlines() if line and not line.startswith("#")]
    return ["", *dict.fromkeys(entries)]


def find_weak_secret(decoded: DecodedJwt, candidates: Iterable[str] | None = None) -> str | None:
    """The candidate that produced ``decoded``'s signature, or ``None``.

    Only HS256/384/512 tokens can be tried (asymmetric tokens have no shared secret); for any
    other ``alg`` this returns ``None``.
    """
    alg = decoded.alg
    digest = _HASHES.get(alg) if alg is not None else None
    if digest is None:
        return None
    for secret in load_weak_secrets() if candidates is None else candidates:
        mac = hmac.new(secret.encode("utf-8"), decoded.signing_input, digest).digest()
        if hmac.compare_digest(mac, decoded.signature):
            return secret
    return None

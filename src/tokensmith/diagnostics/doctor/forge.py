"""Build tokens for the expiry probe (check 3): re-signed with a found secret, or with a random key.

Signing is done with PyJWT's algorithm objects on bytes we assemble ourselves, so the header is
kept exactly as the server wrote it (``typ``, ``kid``) and a short found secret does not trip
PyJWT's key-length warning.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

from tokensmith.diagnostics.signature import HMAC_ALGORITHMS

__all__ = ["sign_with", "sign_with_random_key"]

_EC_CURVES: dict[str, ec.EllipticCurve] = {
    "ES256": ec.SECP256R1(),
    "ES256K": ec.SECP256K1(),
    "ES384": ec.SECP384R1(),
    "ES512": ec.SECP521R1(),
    "ES521": ec.SECP521R1(),
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_with(header: dict[str, Any], claims: dict[str, Any], key: Any) -> str:
    """A compact JWS of ``claims`` under ``header`` (whose ``alg`` says how) signed by ``key``."""
    algorithm = get_default_algorithms()[header["alg"]]
    head = _b64(json.dumps(header, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{head}.{body}".encode("ascii")
    signature = algorithm.sign(signing_input, algorithm.prepare_key(key))
    return f"{head}.{body}.{_b64(signature)}"


def _random_key(alg: str) -> Any:
    if alg in HMAC_ALGORITHMS:
        return secrets.token_bytes(64)
    if alg.startswith(("RS", "PS")):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg in _EC_CURVES:
        return ec.generate_private_key(_EC_CURVES[alg])
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"no random key for alg {alg!r}")


def sign_with_random_key(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """Same ``alg`` as the server's, but a key nobody has: the server must reject it."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in get_default_algorithms() or alg == "none":
        header = {**header, "alg": "HS256"}
        alg = "HS256"
    return sign_with(header, claims, _random_key(alg))

"""Build arbitrary JWS compact tokens byte by byte, for attacks the real signer would never make.

Nothing here goes through tokensmith or PyJWT's encoder: headers, payloads and signatures are
whatever bytes the test says, so malformed, duplicated and mis-typed inputs are all expressible.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "P256_ORDER",
    "Jws",
    "b64url",
    "b64url_decode",
    "flip_s",
    "forge",
    "hs256",
    "low_s",
    "split",
]

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
"""The order n of P-256 (FIPS 186-4 D.1.2.3): (r, s) and (r, n - s) are both valid ECDSA."""


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _segment(part: dict[str, Any] | list[Any] | bytes | str) -> str:
    if isinstance(part, bytes):
        return b64url(part)
    if isinstance(part, str):  # already a segment
        return part
    return b64url(json.dumps(part, separators=(",", ":")).encode())


def forge(
    header: dict[str, Any] | list[Any] | bytes | str,
    payload: dict[str, Any] | list[Any] | bytes | str,
    signature: bytes | str = b"",
) -> str:
    """``header.payload.signature``; dicts/lists are JSON-encoded, bytes base64url-encoded, str
    used verbatim as the segment."""
    return f"{_segment(header)}.{_segment(payload)}.{_segment(signature)}"


def flip_s(signature: bytes, order: int = P256_ORDER) -> bytes:
    """The other spelling of an ECDSA signature in JWS form (r || s): (r, n - s)."""
    half = len(signature) // 2
    s = int.from_bytes(signature[half:], "big")
    return signature[:half] + (order - s).to_bytes(half, "big")


def low_s(signature: bytes, order: int = P256_ORDER) -> bytes:
    """The low-S spelling (s <= n/2) of an ECDSA signature in JWS form."""
    s = int.from_bytes(signature[len(signature) // 2 :], "big")
    return signature if s <= order // 2 else flip_s(signature, order)


def hs256(
    header: dict[str, Any] | bytes | str,
    payload: dict[str, Any] | bytes | str,
    secret: bytes,
) -> str:
    """Sign ``header.payload`` with HMAC-SHA256 under ``secret``, with no check on the key (PyJWT
    refuses PEM-looking HMAC keys; an attacker's HMAC does not)."""
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


@dataclass(frozen=True)
class Jws:
    header_b64: str
    payload_b64: str
    signature_b64: str

    @property
    def header(self) -> dict[str, Any]:
        return dict(json.loads(b64url_decode(self.header_b64)))

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(b64url_decode(self.payload_b64)))

    @property
    def signature(self) -> bytes:
        return b64url_decode(self.signature_b64)

    @property
    def signing_input(self) -> bytes:
        return f"{self.header_b64}.{self.payload_b64}".encode()


def split(token: str) -> Jws:
    header, payload, signature = token.split(".")
    return Jws(header, payload, signature)

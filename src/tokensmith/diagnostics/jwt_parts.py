"""Split and decode a compact JWS (RFC 7515 §7.1) without trusting anything in it.

Nothing here verifies a signature: :mod:`.signature` does that with the parts decoded here.
Every way a string can fail to be a JWT ends in :class:`NotAJwt` with a one-line message.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["DecodedJwt", "NotAJwt", "clean_token_text", "decode_unverified"]

# RFC 7515 §2: base64url without padding. Trailing "=" is tolerated because some encoders emit it.
_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_BEARER = re.compile(r"bearer\s+", re.IGNORECASE)


class NotAJwt(ValueError):
    """The input is not a compact JWS; the message is one line saying why."""


@dataclass(frozen=True)
class DecodedJwt:
    """The parts of a compact JWS, decoded but not verified."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    """``base64url(header) "." base64url(payload)``: the bytes the signature covers."""
    signature: bytes
    duplicate_members: tuple[str, ...] = ()
    """Member names that appeared twice in the header or claims (RFC 7515 §4: must be unique)."""

    @property
    def alg(self) -> str | None:
        alg = self.header.get("alg")
        return alg if isinstance(alg, str) else None


def clean_token_text(text: str) -> str:
    """Strip surrounding whitespace and a leading ``Bearer `` (as copied from a header)."""
    text = text.strip()
    match = _BEARER.match(text)
    if match is not None:
        text = text[match.end() :].strip()
    return text


def _b64url_decode(segment: str, name: str) -> bytes:
    if not _B64URL.fullmatch(segment):
        raise NotAJwt(f"the {name} is not base64url (it has characters outside A-Z a-z 0-9 - _)")
    body = segment.rstrip("=")
    if len(body) % 4 == 1:
        raise NotAJwt(f"the {name} is not valid base64url (its length is impossible)")
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - the regex rules these out
        raise NotAJwt(f"the {name} is not valid base64url") from exc


def _reject_constant(name: str) -> Any:
    # json accepts NaN and Infinity by default; RFC 8259 JSON does not.
    raise ValueError(f"{name} is not JSON")


def _json_object(raw: bytes, name: str, duplicates: list[str]) -> dict[str, Any]:
    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    try:
        text = raw.decode("utf-8")
        value = json.loads(text, object_pairs_hook=pairs_hook, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise NotAJwt(f"the {name} is not UTF-8 text") from exc
    except (ValueError, RecursionError) as exc:
        raise NotAJwt(f"the {name} is not JSON") from exc
    if not isinstance(value, dict):
        raise NotAJwt(f"the {name} is JSON but not an object ({type(value).__name__})")
    return value


def decode_unverified(text: str) -> DecodedJwt:
    """Decode ``header.payload.signature`` into its parts; raise :class:`NotAJwt` otherwise."""
    token = clean_token_text(text)
    if not token:
        raise NotAJwt("no token given (the input is empty)")
    if any(ch.isspace() for ch in token):
        raise NotAJwt("a JWT has no whitespace inside it (was more than one value pasted?)")
    segments = token.split(".")
    if len(segments) == 5:
        raise NotAJwt("this has 5 segments: an encrypted JWE, which cannot be inspected")
    if len(segments) != 3:
        raise NotAJwt(
            f"a JWT has 3 dot-separated segments (header.payload.signature); this has "
            f"{len(segments)}"
        )
    header_b64, payload_b64, signature_b64 = segments
    if not header_b64:
        raise NotAJwt("the header segment is empty")
    duplicates: list[str] = []
    header = _json_object(_b64url_decode(header_b64, "header"), "header", duplicates)
    claims = _json_object(_b64url_decode(payload_b64, "payload"), "payload", duplicates)
    signature = _b64url_decode(signature_b64, "signature")
    return DecodedJwt(
        header=header,
        claims=claims,
        signing_input=f"{header_b64}.{payload_b64}".encode("ascii"),
        signature=signature,
        duplicate_members=tuple(duplicates),
    )

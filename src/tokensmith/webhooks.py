"""Webhook signatures (contract 9), for tokensmith and for the apps that receive its events.

Every webhook carries ``Tokensmith-Signature: t=<unix seconds>,v1=<hex>``, where ``v1`` is the
HMAC-SHA256, keyed with ``WEBHOOK_SECRET``, of ``"<t>.<raw body>"``. A receiver checks it with
:func:`verify_signature` before trusting the body::

    from tokensmith.webhooks import verify_signature

    @app.post("/hooks/tokensmith")
    async def hook(request: Request) -> Response:
        body = await request.body()                      # the raw bytes, before any JSON parsing
        if not verify_signature(SECRET, request.headers.get("Tokensmith-Signature"), body):
            return Response(status_code=400)
        event = json.loads(body)                         # {"id", "type", "createdAt", "data"}
        ...                                              # de-duplicate on event["id"]
        return Response(status_code=204)

This module needs nothing beyond the standard library: it works with the base distribution.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "sign", "signature_header", "verify_signature"]

SIGNATURE_HEADER = "Tokensmith-Signature"


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    return hmac.new(_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str | bytes, body: bytes, *, timestamp: int | None = None) -> str:
    """The ``Tokensmith-Signature`` value for ``body`` at ``timestamp`` (default: now)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},v1={sign(secret, t, body)}"


def verify_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes | str,
    tolerance: int = 300,
    *,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its timestamp is within
    ``tolerance`` seconds of ``now`` (replays of an old delivery fail). Any ``v1`` entry may
    match (a header may carry several while a secret is rotated). Never raises on a malformed
    header: it is simply not valid."""
    if not header:
        return False
    raw = body.encode() if isinstance(body, str) else bytes(body)
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif name == "v1" and value:
            candidates.append(value.strip())
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, raw)
    # hmac.compare_digest: the comparison takes the same time wherever the strings differ.
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)

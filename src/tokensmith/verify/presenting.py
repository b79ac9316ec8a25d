"""How the adapters answer a refused token: the status, body and challenge of contract 4, with
no web framework (each adapter wraps these three values in its own response type)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tokensmith.errors import (
    InsufficientScope,
    InvalidRequest,
    NoToken,
    ServiceUnavailable,
    TokensmithError,
)

__all__ = ["Refusal", "refusal"]

REALM = "tokensmith"


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    body: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


def refusal(error: TokensmithError) -> Refusal:
    """RFC 6750 section 3: no ``error`` attribute without a token, ``invalid_request`` (400) for
    several ``Authorization`` headers, ``invalid_token`` for a bad,
    expired or revoked one, ``insufficient_scope`` (403) with the scope needed; 503 with
    ``Retry-After`` when the revocation feed has been silent too long."""
    body = {"error": error.message, "code": error.code}
    if isinstance(error, ServiceUnavailable):
        return Refusal(503, body, {"Retry-After": "5"})
    if isinstance(error, InsufficientScope):
        scope = " ".join(error.scopes)
        challenge = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'
        return Refusal(403, body, {"WWW-Authenticate": challenge})
    if isinstance(error, InvalidRequest):
        description = error.message.replace("\\", "").replace('"', "'")
        challenge = (
            f'Bearer realm="{REALM}", error="invalid_request", error_description="{description}"'
        )
        return Refusal(400, body, {"WWW-Authenticate": challenge})
    if isinstance(error, NoToken):
        return Refusal(401, body, {"WWW-Authenticate": f'Bearer realm="{REALM}"'})
    description = error.message.replace("\\", "").replace('"', "'")
    challenge = f'Bearer realm="{REALM}", error="invalid_token", error_description="{description}"'
    return Refusal(401, body, {"WWW-Authenticate": challenge})

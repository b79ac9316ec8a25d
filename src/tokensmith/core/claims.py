"""Claims an app adds to access tokens (contract 8): the rules they must follow.

The claims hook (``Tokensmith(..., claims=hook)``) and a service client's ``claims`` add claims to
access tokens. They may not set a claim tokensmith sets itself (the reserved names below: a hook
that could change ``sub`` or ``exp`` could forge anything), every value must be JSON, ``scope``
must be the space-separated string of RFC 8693 section 4.2, and the signed token must stay within
8 KiB (the size the verifier accepts at all). Breaking a rule is a programming error: a
:class:`~tokensmith.errors.ClaimsError` naming the claim, never a claim silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from tokensmith.core.directory import Subject
from tokensmith.errors import ClaimsError

__all__ = ["RESERVED_CLAIMS", "ClaimsHook", "check_claims", "check_room", "largest_claim"]

RESERVED_CLAIMS: Final = frozenset(
    {"iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "typ", "auth_time", "amr", "email"}
)
"""Claims tokensmith sets itself; a hook or a service client may not."""

TOKEN_LIMIT_BYTES: Final = 8192
"""The largest token the verifier accepts (``tokensmith.core.tokens.MAX_TOKEN_BYTES``)."""

REGISTERED_BUDGET_BYTES: Final = 1024
"""Room kept for the header, the registered claims and the signature (an RS256 signature alone
is 342 characters) when judging an app's claims before a token is signed."""

ClaimsHook = Callable[[Subject], Awaitable[Mapping[str, Any]]]
"""``async def claims(subject) -> dict``: extra claims for the subject's access tokens, asked at
login and at every refresh."""


def check_claims(claims: object, source: str) -> dict[str, Any]:
    """A copy of ``claims`` fit for an access token; :class:`ClaimsError` naming the first claim
    that is not. ``source`` says who gave them ("the claims hook", ...)."""
    if not isinstance(claims, Mapping):
        raise ClaimsError(f"{source} returned {type(claims).__name__}, not a dict of claims")
    checked: dict[str, Any] = {}
    for name, value in claims.items():
        if not isinstance(name, str) or not name:
            raise ClaimsError(f"{source} returned a claim whose name is not a string: {name!r}")
        if name in RESERVED_CLAIMS:
            raise ClaimsError(
                f"{source} returned the reserved claim {name!r}; tokensmith sets "
                f"{', '.join(sorted(RESERVED_CLAIMS))} itself"
            )
        if name == "scope" and not isinstance(value, str):
            raise ClaimsError(
                f"{source} returned the claim 'scope' as {type(value).__name__}: it is one "
                "string of space-separated scopes (RFC 8693 section 4.2)"
            )
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            raise ClaimsError(
                f"{source} returned the claim {name!r} with a value JSON cannot carry "
                f"({type(value).__name__})"
            ) from None
        checked[name] = value
    return checked


def check_room(claims: Mapping[str, Any], source: str) -> None:
    """Refuse claims that cannot fit in an access token whatever else it holds, before anything
    is written (the signed token is measured exactly as well, when it is made)."""
    if not claims:
        return
    size = len(json.dumps(claims, separators=(",", ":")).encode())
    # base64url makes 4 characters of every 3 bytes.
    if -(-size * 4 // 3) + REGISTERED_BUDGET_BYTES > TOKEN_LIMIT_BYTES:
        name, largest = largest_claim(claims)
        raise ClaimsError(
            f"{source} returned {size} bytes of claims: the access token would exceed "
            f"{TOKEN_LIMIT_BYTES} bytes; its largest claim is {name!r} ({largest} bytes of JSON)"
        )


def largest_claim(claims: Mapping[str, Any]) -> tuple[str, int]:
    """The claim taking the most room in a token, and its size in bytes of JSON."""
    sizes = {name: len(json.dumps({name: value}).encode()) for name, value in claims.items()}
    name = max(sizes, key=lambda n: sizes[n])
    return name, sizes[name]

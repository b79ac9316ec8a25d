"""The token of an ``Authorization: Bearer`` header, parsed one way for tokensmith's own routes
and for the services that verify its tokens (``tokensmith.verify``): no web framework here."""

from __future__ import annotations

import re

from tokensmith.errors import InvalidToken, NoToken

__all__ = ["bearer_token"]

# RFC 7235 section 2.1: credentials = auth-scheme 1*SP token68; the scheme is case-insensitive.
_BEARER = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr] +(\S*)$")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header.

    No header, another scheme or an empty token: :class:`NoToken` (RFC 6750 section 3.1: no
    ``error`` attribute). A token that is not token68: :class:`InvalidToken`.
    """
    if not authorization:
        raise NoToken()
    # Nearly every request spells it "Bearer <token>": one check, one scan of the token.
    if authorization.startswith("Bearer "):
        token = authorization[7:].lstrip(" ").rstrip()
        if token and _TOKEN68.fullmatch(token):
            return token
    match = _BEARER.match(authorization.strip())
    if match is None:
        if authorization.strip().lower() == "bearer":
            raise NoToken()
        if authorization.split(" ", 1)[0].lower() == "bearer":
            raise InvalidToken("The Authorization header is malformed")
        raise NoToken()
    token = match.group(1)
    if not token:
        raise NoToken()
    if not _TOKEN68.fullmatch(token):
        raise InvalidToken("The Authorization header is malformed")
    return token

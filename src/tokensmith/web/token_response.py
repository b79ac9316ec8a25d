"""The answer that hands out tokens: login, session start, refresh, reauthentication.

With the cookie transport (contract 5.5) the refresh token goes in the HttpOnly cookie and stays
out of the body; a ``remember: false`` session's cookies get no ``Max-Age``, so they end with the
browser.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse

from tokensmith.core.models import IssuedTokens
from tokensmith.web.schemas import user_body
from tokensmith.web.transport import CSRF_COOKIE, ClientAddress, CookieTransport

__all__ = ["FastJSONResponse", "TokenResponder"]


class FastJSONResponse(JSONResponse):
    """A :class:`JSONResponse` rendered by orjson: the same compact UTF-8 JSON as Starlette's
    ``json.dumps(ensure_ascii=False, separators=(",", ":"))``, in a fraction of the time."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class TokenResponder:
    def __init__(self, cookies: CookieTransport, addresses: ClientAddress) -> None:
        self._cookies = cookies
        self._addresses = addresses

    def __repr__(self) -> str:
        return f"TokenResponder({self._cookies!r})"

    def uses_cookie(self, request: Request, *, from_cookie: bool = False) -> bool:
        """Cookie transport: asked for with ``X-Token-Transport: cookie``, or the refresh token
        came in the cookie."""
        return from_cookie or self._cookies.wanted(request)

    def __call__(
        self,
        request: Request,
        tokens: IssuedTokens,
        *,
        status_code: int = 200,
        from_cookie: bool = False,
    ) -> JSONResponse:
        """The body of contract 5.1/5.2; ``user`` appears when ``tokens`` started a session."""
        body: dict[str, Any] = {}
        if tokens.user is not None:
            body["user"] = user_body(tokens.user)
        body["accessToken"] = tokens.access_token
        use_cookie = self.uses_cookie(request, from_cookie=from_cookie)
        if not use_cookie and tokens.refresh_token is not None:
            body["refreshToken"] = tokens.refresh_token
        body.update(
            tokenType="Bearer",
            expiresIn=tokens.expires_in_s,
            refreshExpiresIn=tokens.refresh_expires_in_s,
        )
        response = FastJSONResponse(
            body,
            status_code=status_code,
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )
        if use_cookie and tokens.refresh_token is not None:
            self._cookies.set(
                response,
                tokens.refresh_token,
                tokens.refresh_expires_in_s if tokens.persistent else None,
                secure=self._addresses.is_https(request),
                # A new session starts a new CSRF token; a refresh keeps the one tabs read.
                csrf=request.cookies.get(CSRF_COOKIE) if tokens.user is None else None,
            )
        return response

"""OpenAPI descriptions of the error answers each route can give (contract section 4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse

from tokensmith.core.models import IssuedTokens, User
from tokensmith.web.schemas import ErrorBody, UserOut
from tokensmith.web.transport import CSRF_COOKIE

if TYPE_CHECKING:
    from tokensmith.web.integration import Tokensmith

__all__ = ["errors", "token_response"]

_DESCRIPTIONS = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    422: "Validation error",
    429: "Rate limited (see Retry-After)",
    503: "Database unavailable",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
        for status in (*statuses, 413, 422, 503)
    }


def token_response(
    ts: Tokensmith, request: Request, tokens: IssuedTokens, *, user: User | None = None
) -> JSONResponse:
    """The body of login and refresh; with cookie transport the refresh token goes in the
    HttpOnly cookie and stays out of the body (contract 5.5)."""
    body: dict[str, Any] = {}
    if user is not None:
        body["user"] = UserOut.of(user).model_dump(mode="json", by_alias=True)
    body["accessToken"] = tokens.access_token
    use_cookie = ts.cookies.wanted(request) or (
        "refresh_token_from_cookie" in request.scope.get("state", {})
    )
    if not use_cookie:
        body["refreshToken"] = tokens.refresh_token
    body.update(
        tokenType="Bearer",
        expiresIn=tokens.expires_in_s,
        refreshExpiresIn=tokens.refresh_expires_in_s,
    )
    response = JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
    if use_cookie:
        ts.cookies.set(
            response,
            tokens.refresh_token,
            tokens.refresh_expires_in_s,
            secure=ts.addresses.is_https(request),
            # A login starts a new CSRF token; a refresh keeps the one the tabs already read.
            csrf=request.cookies.get(CSRF_COOKIE) if user is None else None,
        )
    return response

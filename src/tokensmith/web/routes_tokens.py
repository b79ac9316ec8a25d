"""``/auth/refresh``, ``/auth/logout``, ``/auth/logout-all`` (contract 5.2, 5.3, 5.5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from tokensmith.core.models import AccessClaims, RefreshClaims
from tokensmith.errors import NoToken, RefreshTokenRequired
from tokensmith.web.errors import error_response
from tokensmith.web.responses import errors, token_response
from tokensmith.web.schemas import (
    LogoutBody,
    LogoutResponse,
    RefreshBody,
    RevokedCount,
    TokenResponse,
)
from tokensmith.web.transport import bearer_token

if TYPE_CHECKING:
    from tokensmith.web.integration import Tokensmith

__all__ = ["token_routes"]


def token_routes(ts: Tokensmith) -> APIRouter:
    router = APIRouter()

    def refresh_token_of(request: Request, body_token: str | None) -> str | None:
        """The refresh token from the body, else from the cookie (then CSRF-checked)."""
        if body_token:
            return body_token
        cookie = ts.cookies.refresh_cookie(request)
        if cookie is None:
            return None
        ts.cookies.check_csrf(request)
        request.state.refresh_token_from_cookie = True
        return cookie

    @router.post("/refresh", response_model=TokenResponse, responses=errors(401, 403, 429))
    async def refresh(request: Request, body: RefreshBody | None = None) -> Response:
        """Rotate a refresh token: the presented one is spent, a new one comes back.

        Presented again within the reuse grace, it returns the same successor; later, the whole
        session is revoked (``TOKEN_REUSE_DETECTED``)."""
        ctx = ts.context(request)
        await ts.rate_limits.hit("refresh", ctx.ip or "-")
        token = refresh_token_of(request, body.refresh_token if body else None)
        if token is None:
            raise RefreshTokenRequired()
        tokens = await ts.services.sessions.refresh(token, ts.services.accounts.email_of, ctx)
        return token_response(ts, request, tokens)

    @router.post("/logout", response_model=LogoutResponse, responses=errors(400, 401, 403))
    async def logout(request: Request, body: LogoutBody | None = None) -> Response:
        """End the session of the Bearer token and/or the refresh token, on every instance at
        once. Logging out twice is fine."""
        codec = ts.services.codec
        authorization = request.headers.get("authorization")
        access: AccessClaims | None = None
        if authorization:
            # An expired access token still names its session well enough to end it.
            access = codec.verify_access(bearer_token(authorization), check_expiry=False)
        refresh_raw = refresh_token_of(request, body.refresh_token if body else None)
        refresh: RefreshClaims | None = None
        if refresh_raw is not None:
            refresh = codec.verify_refresh(refresh_raw, check_expiry=False)
        if access is None and refresh is None:
            no_token = NoToken("Send the access token (Bearer) or the refresh token to log out")
            return error_response(no_token, status=400)
        await ts.services.sessions.logout(access, refresh, ts.context(request))
        response = JSONResponse({"message": "Logged out successfully"})
        if ts.cookies.refresh_cookie(request) is not None or ts.cookies.wanted(request):
            ts.cookies.clear(response, secure=ts.addresses.is_https(request))
        return response

    @router.post("/logout-all", response_model=RevokedCount, responses=errors(401))
    async def logout_all(
        request: Request, claims: AccessClaims = Depends(ts.principal)
    ) -> RevokedCount:
        """End every session of the user."""
        revoked = await ts.services.sessions.logout_all(claims.sub, ts.context(request))
        return RevokedCount(revoked=revoked)

    return router

"""``/auth/refresh``, ``/auth/logout``, ``/auth/logout-all`` (contract 5.2, 5.3, 5.5)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from tokensmith.core.models import AccessClaims
from tokensmith.core.sessions import SessionService
from tokensmith.errors import RefreshTokenRequired
from tokensmith.web.context import request_context
from tokensmith.web.guards import Guards
from tokensmith.web.ratelimit import RateLimits
from tokensmith.web.responses import errors
from tokensmith.web.schemas import (
    LogoutBody,
    LogoutResponse,
    RefreshBody,
    RevokedCount,
    TokenResponse,
)
from tokensmith.web.token_response import TokenResponder
from tokensmith.web.transport import ClientAddress, CookieTransport, authorization_of, bearer_token

__all__ = ["token_routes"]


def token_routes(
    sessions: SessionService,
    guards: Guards,
    limits: RateLimits,
    addresses: ClientAddress,
    cookies: CookieTransport,
    respond: TokenResponder,
) -> APIRouter:
    router = APIRouter()

    def refresh_token_of(request: Request, body_token: str | None) -> tuple[str | None, bool]:
        """The refresh token from the body, else from the cookie (then CSRF-checked); and
        whether it came from the cookie."""
        if body_token:
            return body_token, False
        cookie = cookies.refresh_cookie(request)
        if cookie is None:
            return None, False
        cookies.check_csrf(request)
        return cookie, True

    @router.post("/refresh", response_model=TokenResponse, responses=errors(401, 403, 429))
    async def refresh(request: Request, body: RefreshBody | None = None) -> Response:
        """Rotate a refresh token: the presented one is spent, a new one comes back.

        Presented again within the reuse grace, it returns the same successor; later, the whole
        session is revoked (``TOKEN_REUSE_DETECTED``)."""
        ctx = request_context(addresses, request)
        await limits.hit("refresh", ctx.ip or "-")
        token, from_cookie = refresh_token_of(request, body.refresh_token if body else None)
        if token is None:
            raise RefreshTokenRequired()
        tokens = await sessions.refresh(token, ctx)
        return respond(request, tokens, from_cookie=from_cookie)

    @router.post("/logout", response_model=LogoutResponse, responses=errors(400, 401, 403))
    async def logout(request: Request, body: LogoutBody | None = None) -> Response:
        """End the session of the Bearer token and/or the refresh token, on every instance at
        once. Logging out twice is fine."""
        authorization = authorization_of(request)
        access = bearer_token(authorization) if authorization else None
        refresh, _ = refresh_token_of(request, body.refresh_token if body else None)
        await sessions.logout_with(access, refresh, request_context(addresses, request))
        response = JSONResponse({"message": "Logged out successfully"})
        if cookies.refresh_cookie(request) is not None or cookies.wanted(request):
            cookies.clear(response, secure=addresses.is_https(request))
        return response

    @router.post("/logout-all", response_model=RevokedCount, responses=errors(401))
    async def logout_all(
        request: Request, claims: AccessClaims = Depends(guards.principal)
    ) -> RevokedCount:
        """End every session of the user."""
        revoked = await sessions.logout_all(claims.sub, request_context(addresses, request))
        return RevokedCount(revoked=revoked)

    return router

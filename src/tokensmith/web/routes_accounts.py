"""``/auth/register``, ``/auth/login``, ``/auth/me``, ``/auth/password`` (contract 5.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Request, Response

from tokensmith.core.models import AccessClaims, User
from tokensmith.errors import InvalidCredentials
from tokensmith.web.errors import error_response
from tokensmith.web.responses import errors, token_response
from tokensmith.web.schemas import (
    ChangePasswordBody,
    LoginBody,
    LoginResponse,
    RegisterBody,
    RegisterResponse,
    UserOut,
)

if TYPE_CHECKING:
    from tokensmith.web.integration import Tokensmith

__all__ = ["account_routes"]


def account_routes(ts: Tokensmith) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/register", status_code=201, response_model=RegisterResponse, responses=errors(409, 429)
    )
    async def register(body: RegisterBody, request: Request) -> RegisterResponse:
        """Create an account. The email is compared case-insensitively."""
        ctx = ts.context(request)
        await ts.rate_limits.hit("register", ctx.ip or "-")
        user = await ts.services.accounts.register(body.email, body.password, body.name, ctx)
        return RegisterResponse(user=UserOut.of(user))

    @router.post("/login", response_model=LoginResponse, responses=errors(401, 429))
    async def login(body: LoginBody, request: Request) -> Response:
        """Log in: a new session with an access token and a refresh token.

        With ``X-Token-Transport: cookie`` the refresh token goes in an HttpOnly cookie instead
        of the body (contract 5.5)."""
        ctx = ts.context(request)
        await ts.rate_limits.hit("login", ctx.ip or "-", body.email.lower())
        result = await ts.services.accounts.login(body.email, body.password, ctx)
        return token_response(ts, request, result.tokens, user=result.user)

    @router.get("/me", response_model=UserOut, responses=errors(401))
    async def me(user: User = Depends(ts.current_user)) -> UserOut:
        """The current user. Served from memory: no database query per request."""
        return UserOut.of(user)

    @router.post("/password", status_code=204, responses=errors(401, 403))
    async def change_password(
        body: ChangePasswordBody,
        request: Request,
        claims: AccessClaims = Depends(ts.principal),
    ) -> Response:
        """Change the password; every *other* session of the user ends at once."""
        try:
            await ts.services.accounts.change_password(
                claims.sub,
                claims.sid,
                body.current_password,
                body.new_password,
                ts.context(request),
            )
        except InvalidCredentials as exc:
            return error_response(exc, status=403)
        return Response(status_code=204)

    return router

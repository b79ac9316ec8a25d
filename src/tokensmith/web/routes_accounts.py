"""``/auth/register``, ``/auth/login``, ``/auth/me``, ``/auth/password`` (contract 5.1) and
``/auth/reauthenticate`` (contract 8).

The password routes exist when tokensmith's own user table is the directory; with the app's own
directory (``users=``) the app authenticates its users and only ``/auth/me`` is here.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from tokensmith.core.accounts import AccountService
from tokensmith.core.models import AccessClaims
from tokensmith.core.subjects import Subjects
from tokensmith.errors import TokenRevoked
from tokensmith.web.context import request_context
from tokensmith.web.guards import Guards
from tokensmith.web.password_attempts import PasswordAttempts
from tokensmith.web.ratelimit import RateLimits
from tokensmith.web.responses import errors
from tokensmith.web.schemas import (
    ChangePasswordBody,
    LoginBody,
    LoginResponse,
    ReauthenticateBody,
    RegisterBody,
    RegisterResponse,
    TokenResponse,
    UserOut,
    user_body,
)
from tokensmith.web.token_response import TokenResponder
from tokensmith.web.transport import ClientAddress, CookieTransport

__all__ = ["account_routes", "log_in"]


async def log_in(
    accounts: AccountService,
    limits: RateLimits,
    addresses: ClientAddress,
    respond: TokenResponder,
    request: Request,
    body: LoginBody,
) -> Response:
    """``POST /auth/login`` once its body is read: the FastAPI route below and the lean path
    (:class:`tokensmith.web.lean.LeanLogin`) both answer with this."""
    ctx = request_context(addresses, request)
    email = body.email.strip().lower()
    # Per IP (one address spraying many emails, each costing an argon2 hash), per IP and
    # email, and per account (many addresses guessing one account).
    await limits.hit("login_ip", ctx.ip or "-")
    await limits.hit("login", ctx.ip or "-", email)
    await limits.hit("login_account", email)
    result = await accounts.login(body.email, body.password, ctx, remember=body.remember)
    return respond(request, result.tokens)


def account_routes(
    accounts: AccountService,
    subjects: Subjects,
    guards: Guards,
    limits: RateLimits,
    addresses: ClientAddress,
    cookies: CookieTransport,
    respond: TokenResponder,
) -> APIRouter:
    router = APIRouter()
    passwords = PasswordAttempts(limits, accounts)

    @router.get("/me", response_model=UserOut, responses=errors(401))
    async def me(claims: AccessClaims = Depends(guards.principal)) -> JSONResponse:
        """The current user: from memory for tokensmith's own users (no database query per
        request); from the app's directory otherwise."""
        user = await subjects.current(claims.sub)
        if user is None:
            raise TokenRevoked("This account no longer exists or is disabled")
        return JSONResponse(user_body(user))

    if not subjects.is_own_table:
        return router

    @router.post(
        "/register",
        status_code=201,
        response_model=RegisterResponse,
        responses=errors(403, 409, 429),
    )
    async def register(body: RegisterBody, request: Request) -> JSONResponse:
        """Create an account (403 ``REGISTRATION_CLOSED`` under ``REGISTRATION=closed``). The
        email is compared case-insensitively."""
        ctx = request_context(addresses, request)
        await limits.hit("register", ctx.ip or "-")
        user = await accounts.register(body.email, body.password, body.name, ctx)
        return JSONResponse({"user": user_body(user)}, status_code=201)

    @router.post("/login", response_model=LoginResponse, responses=errors(401, 429))
    async def login(body: LoginBody, request: Request) -> Response:
        """Log in: a new session with an access token and a refresh token.

        With ``X-Token-Transport: cookie`` the refresh token goes in an HttpOnly cookie instead
        of the body (contract 5.5). ``remember: false`` opens a short session whose cookie
        ends with the browser."""
        return await log_in(accounts, limits, addresses, respond, request, body)

    @router.post("/password", status_code=204, responses=errors(401, 403, 429))
    async def change_password(
        body: ChangePasswordBody,
        request: Request,
        claims: AccessClaims = Depends(guards.principal),
    ) -> Response:
        """Change the password; every *other* session of the user ends at once. A wrong
        ``currentPassword`` is 403; attempts are limited per user and per IP (429), and the
        session's fifth wrong password in an hour ends it (401 ``TOKEN_REVOKED``)."""
        ctx = request_context(addresses, request)
        await passwords.attempt(
            claims,
            ctx,
            lambda: accounts.change_password(
                claims.sub, claims.sid, body.current_password, body.new_password, ctx
            ),
        )
        return Response(status_code=204)

    @router.post("/reauthenticate", response_model=TokenResponse, responses=errors(401, 403, 429))
    async def reauthenticate(
        body: ReauthenticateBody,
        request: Request,
        claims: AccessClaims = Depends(guards.principal),
    ) -> Response:
        """The password again renews the session's ``auth_time`` (for routes behind
        ``require_recent_login``) and returns new tokens. The session's refresh token (the
        cookie, or ``refreshToken``) is rotated as refresh does; without it only the access token
        is new. A wrong password is 403, limited as ``/auth/password`` is."""
        from_cookie = body.refresh_token is None and cookies.refresh_cookie(request) is not None
        refresh_token = body.refresh_token or cookies.refresh_cookie(request)
        ctx = request_context(addresses, request)
        tokens = await passwords.attempt(
            claims,
            ctx,
            lambda: accounts.reauthenticate(
                claims, body.password, ctx, refresh_token=refresh_token
            ),
        )
        return respond(request, tokens, from_cookie=from_cookie)

    return router

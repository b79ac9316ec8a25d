"""``/auth/password/forgot``, ``/auth/password/reset``, ``/auth/email/verify/request`` and
``/auth/email/verify`` (contract 9).

Each is rate limited per client IP and, where there is one, per email or user (the
``RATE_LIMIT_RECOVERY`` bucket). With ``REDIS_URL`` set and Redis down they answer 503 rather
than count in memory: a flood of mail must not get as many allowances as there are instances.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from tokensmith.core.models import AccessClaims
from tokensmith.core.recovery import RecoveryService
from tokensmith.web.context import request_context
from tokensmith.web.guards import Guards
from tokensmith.web.ratelimit import RateLimits
from tokensmith.web.responses import errors
from tokensmith.web.schemas import (
    ForgotPasswordBody,
    MessageOut,
    ResetPasswordBody,
    UserOut,
    VerifyEmailBody,
    user_body,
)
from tokensmith.web.transport import ClientAddress

__all__ = ["recovery_routes"]

FORGOT_MESSAGE = "If an account uses this email, a link to reset its password is on its way"
VERIFY_MESSAGE = "If the email is not verified yet, a verification link is on its way"


def recovery_routes(
    recovery: RecoveryService, guards: Guards, limits: RateLimits, addresses: ClientAddress
) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/password/forgot",
        status_code=202,
        response_model=MessageOut,
        responses=errors(429, 503),
    )
    async def forgot_password(body: ForgotPasswordBody, request: Request) -> JSONResponse:
        """Mail a single-use reset link (``PASSWORD_RESET_EXPIRES_IN``). The same answer, after
        the same work, whether or not an account uses the email."""
        ctx = request_context(addresses, request)
        await limits.hit("recovery", ctx.ip or "-", strict=True)
        await limits.hit("recovery", "email", body.email.lower(), strict=True)
        await recovery.forgot(body.email, ctx)
        return JSONResponse({"message": FORGOT_MESSAGE}, status_code=202)

    @router.post("/password/reset", status_code=204, responses=errors(400, 429, 503))
    async def reset_password(body: ResetPasswordBody, request: Request) -> Response:
        """Set a new password with the mailed token; every session of the user ends. A used,
        expired or unknown token (or one of a disabled user) is 400 ``INVALID_RESET_TOKEN``."""
        ctx = request_context(addresses, request)
        await limits.hit("recovery", ctx.ip or "-", strict=True)
        await recovery.reset(body.token, body.new_password, ctx)
        return Response(status_code=204)

    @router.post(
        "/email/verify/request",
        status_code=202,
        response_model=MessageOut,
        responses=errors(401, 429, 503),
    )
    async def request_verification(
        request: Request, claims: AccessClaims = Depends(guards.principal)
    ) -> JSONResponse:
        """Mail a link that verifies the signed-in user's email (nothing when it is verified)."""
        ctx = request_context(addresses, request)
        await limits.hit("recovery", ctx.ip or "-", strict=True)
        await limits.hit("recovery", "user", claims.sub, strict=True)
        await recovery.request_verification(claims.sub, ctx)
        return JSONResponse({"message": VERIFY_MESSAGE}, status_code=202)

    @router.post("/email/verify", response_model=UserOut, responses=errors(400, 429, 503))
    async def verify_email(body: VerifyEmailBody, request: Request) -> JSONResponse:
        """Verify the email with the mailed token; answers the ``User``, now verified."""
        ctx = request_context(addresses, request)
        await limits.hit("recovery", ctx.ip or "-", strict=True)
        user = await recovery.verify(body.token, ctx)
        return JSONResponse(user_body(user))

    return router

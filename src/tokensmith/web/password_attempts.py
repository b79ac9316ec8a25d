"""Passwords typed by a signed-in user (``POST /auth/password``, ``/auth/reauthenticate``).

A thief holding only an access token must not be able to guess the password online and then
change it. So every attempt counts against the user (``RATE_LIMIT_PASSWORD``) and the client IP
(``RATE_LIMIT_PASSWORD_IP``) before argon2 runs (429 past either), each wrong password is audited
(``password_failed``, by the core), and the session's fifth wrong password within an hour ends
the session: 401 ``TOKEN_REVOKED``, its tokens stop working at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tokensmith.core.accounts import AccountService
from tokensmith.core.audit import RequestContext
from tokensmith.core.models import AccessClaims
from tokensmith.errors import PasswordMismatch, TokenRevoked
from tokensmith.web.ratelimit import RateLimits

__all__ = ["PasswordAttempts"]

T = TypeVar("T")


class PasswordAttempts:
    def __init__(self, limits: RateLimits, accounts: AccountService) -> None:
        self._limits = limits
        self._accounts = accounts

    def __repr__(self) -> str:
        return "PasswordAttempts()"

    async def attempt(
        self, claims: AccessClaims, ctx: RequestContext, check: Callable[[], Awaitable[T]]
    ) -> T:
        """Run ``check`` (which verifies the password) under the limits above."""
        await self._limits.hit("password_ip", ctx.ip or "-")
        await self._limits.hit("password", claims.sub)
        try:
            return await check()
        except PasswordMismatch:
            if not await self._limits.fail("password_failures", claims.sid):
                raise
        await self._accounts.end_session_after_wrong_passwords(claims.sub, claims.sid, ctx)
        raise TokenRevoked("Too many wrong passwords: this session has ended; log in again")

"""The dependencies that guard a route: ``Depends(auth.principal)``, ``auth.require_scopes(...)``
and ``auth.require_recent_login(max_age=...)`` (contract 8).

Each costs one signature check (skipped for a token already verified) and one set lookup, whatever
the claims hook or the directory are; with SQLite and several workers, also a ``data_version``
check (a few microseconds) and a read of the revocation log when another worker has written since
(:meth:`~tokensmith.core.sessions.SessionService.authenticate_current`). No network.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import Request

from tokensmith.core.clock import Clock
from tokensmith.core.models import AccessClaims
from tokensmith.core.sessions import SessionService
from tokensmith.errors import InsufficientScope, StepUpRequired
from tokensmith.web.transport import authorization_of, bearer_token

__all__ = ["Guard", "Guards", "Principal"]

Principal = AccessClaims
"""What a guarded route receives: the verified claims as attributes (``.sub``, ``.sid``,
``.email``, ``.scopes``, ``.auth_time``, and any claim the hook added: ``.tenant``)."""

Guard = Callable[[Request], Awaitable[Principal]]

# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")


class Guards:
    def __init__(self, sessions: SessionService, clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def __repr__(self) -> str:
        return "Guards()"

    async def principal(self, request: Request) -> Principal:
        """The verified claims of the request's Bearer token, or a 401 with WWW-Authenticate."""
        return await self._sessions.authenticate_current(bearer_token(authorization_of(request)))

    def require_scopes(self, *scopes: str) -> Guard:
        """A guard passing when the token's ``scope`` claim holds every one of ``scopes``; else
        403 ``INSUFFICIENT_SCOPE`` naming them (RFC 6750 section 3.1)."""
        if not scopes:
            raise ValueError("require_scopes() needs at least one scope")
        for scope in scopes:
            if not isinstance(scope, str) or not _SCOPE_TOKEN.match(scope):
                raise ValueError(f"{scope!r} is not a scope (RFC 6749 section 3.3)")
        required = frozenset(scopes)
        named = tuple(dict.fromkeys(scopes))
        authenticate = self._sessions.authenticate_current

        async def scoped(request: Request) -> Principal:
            claims = await authenticate(bearer_token(authorization_of(request)))
            if not required <= claims.scopes:
                missing = " ".join(s for s in named if s not in claims.scopes)
                raise InsufficientScope(
                    f"The access token lacks the scope this needs: {missing}", scopes=named
                )
            return claims

        scoped.__name__ = f"require_scopes({' '.join(named)})"
        return scoped

    def require_recent_login(self, max_age: int | timedelta = 300) -> Guard:
        """A guard passing when the user authenticated (``auth_time``) at most ``max_age``
        seconds ago; else 401 ``STEP_UP_REQUIRED`` with ``max_age`` (RFC 9470 section 3)."""
        seconds = max_age.total_seconds() if isinstance(max_age, timedelta) else max_age
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise ValueError("max_age must be a positive number of seconds")
        max_age_s = int(seconds)
        authenticate = self._sessions.authenticate_current
        clock = self._clock

        async def recent(request: Request) -> Principal:
            claims = await authenticate(bearer_token(authorization_of(request)))
            now = int(clock.now().timestamp())
            if claims.auth_time is None or now - claims.auth_time > max_age_s:
                raise StepUpRequired(
                    f"This needs a login in the last {max_age_s} seconds: authenticate again",
                    max_age_s=max_age_s,
                )
            return claims

        recent.__name__ = f"require_recent_login({max_age_s})"
        return recent

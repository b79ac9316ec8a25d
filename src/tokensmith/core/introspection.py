"""What a token is, for other services: RFC 7662 introspection and RFC 7009 revocation.

Both accept either kind of token; ``token_type_hint`` only says which to try first (RFC 7662
section 2.1, RFC 7009 section 2.1), and an answer never depends on guessing right.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from tokensmith.core.audit import RequestContext
from tokensmith.core.models import AccessClaims, RefreshClaims
from tokensmith.core.sessions import SessionService
from tokensmith.core.subjects import Subjects
from tokensmith.core.tokens import TokenCodec, TokenPolicy
from tokensmith.errors import (
    InvalidRefreshToken,
    InvalidToken,
    RefreshTokenExpired,
    TokenExpired,
    TokenRevoked,
)

__all__ = ["INACTIVE", "Introspector"]

INACTIVE: Final = {"active": False}
_NOT_OURS = (InvalidToken, TokenExpired, TokenRevoked, InvalidRefreshToken, RefreshTokenExpired)


class Introspector:
    def __init__(self, codec: TokenCodec, sessions: SessionService, subjects: Subjects) -> None:
        self._codec = codec
        self._sessions = sessions
        self._subjects = subjects

    def __repr__(self) -> str:
        return "Introspector()"

    @property
    def _policy(self) -> TokenPolicy:
        return self._codec.policy

    async def describe(self, token: str, hint: str | None) -> dict[str, Any]:
        """RFC 7662 section 2.2: the token's claims with ``active: true`` when it is valid,
        unexpired, not revoked and its user still active; else ``{"active": false}``."""
        kinds: tuple[Callable[[str], Awaitable[dict[str, Any]]], ...] = (
            (self._refresh_info, self._access_info)
            if hint == "refresh_token"
            else (self._access_info, self._refresh_info)
        )
        for describe in kinds:
            try:
                return await describe(token)
            except _NOT_OURS:
                continue
        return dict(INACTIVE)

    async def revoke(self, token: str, hint: str | None, ctx: RequestContext) -> bool:
        """RFC 7009: end the session of ``token``, whichever kind it is; an expired token still
        names its session, as on logout, for the refresh lifetime past its ``exp`` (an older
        one ends nothing, and the answer is the same 200, RFC 7009 section 2.2). Returns
        whether the token was one of ours."""
        access: AccessClaims | None = None
        refresh: RefreshClaims | None = None
        if hint == "refresh_token":
            refresh = self._try_refresh(token)
        if refresh is None:
            access = self._try_access(token)
        if access is None and refresh is None and hint != "refresh_token":
            refresh = self._try_refresh(token)
        if access is None and refresh is None:
            return False
        await self._sessions.logout(access, refresh, ctx)
        return True

    def _try_access(self, token: str) -> AccessClaims | None:
        try:
            return self._codec.verify_access(token, check_expiry=False)
        except (InvalidToken, TokenExpired):  # expired too long ago to end anything
            return None

    def _try_refresh(self, token: str) -> RefreshClaims | None:
        try:
            return self._codec.verify_refresh(token, check_expiry=False)
        except (InvalidRefreshToken, RefreshTokenExpired):
            return None

    async def _access_info(self, token: str) -> dict[str, Any]:
        claims = await self._sessions.authenticate_current(token)  # signature, expiry, revocation
        info = {
            "active": True,
            "token_type": "Bearer",  # RFC 7662 section 2.2 / RFC 6749 section 7.1
            "token_use": "access",
            **self._common(claims.raw),
        }
        if claims.raw.get("scope"):
            info["scope"] = claims.raw["scope"]
        if claims.auth_time is not None:
            info["auth_time"] = claims.auth_time
        return await self._with_user(info, claims.sub)

    async def _refresh_info(self, token: str) -> dict[str, Any]:
        claims = self._codec.verify_refresh(token)
        if await self._sessions.live_refresh_session(claims) is None:
            raise InvalidRefreshToken()
        raw = {
            "sub": claims.sub,
            "sid": claims.sid,
            "jti": claims.jti,
            "iat": claims.iat,
            "exp": claims.exp,
        }
        return await self._with_user(
            {"active": True, "token_use": "refresh", **self._common(raw)}, claims.sub
        )

    async def _with_user(self, info: dict[str, Any], subject_id: str) -> dict[str, Any]:
        """Active only while the directory still has the user; ``username`` is the email."""
        subject = await self._subjects.get_for_refresh(subject_id)
        if subject is None or not subject.active:
            raise TokenRevoked("This account no longer exists or is disabled")
        if subject.email is not None:
            info["username"] = subject.email
            info["email"] = subject.email
        return info

    def _common(self, claims: dict[str, Any]) -> dict[str, Any]:
        return {
            "sub": claims["sub"],
            "sid": claims["sid"],
            "jti": claims["jti"],
            "iat": claims["iat"],
            "exp": claims["exp"],
            "iss": self._policy.issuer,
            "aud": self._policy.audience,
        }

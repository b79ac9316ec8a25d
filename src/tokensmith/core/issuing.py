"""Minting the tokens of a session: the one place an access token's claims are put together.

An access token carries the session's ``auth_time`` and ``amr``, the subject's email (when the
directory knows one), the claims hook's claims and the claims the session was started with (these
last win over the hook's: a service client named them for this session). Refresh tokens carry only
what rotation needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tokensmith.core.clock import aware
from tokensmith.core.directory import Subject
from tokensmith.core.models import IssuedTokens, SessionRecord
from tokensmith.core.tokens import TokenCodec

__all__ = ["Issuer"]


class Issuer:
    def __init__(self, codec: TokenCodec) -> None:
        self._codec = codec
        self._access_ttl_s = int(codec.policy.access_ttl.total_seconds())

    def __repr__(self) -> str:
        return "Issuer()"

    def refresh_token(self, session: SessionRecord, jti: str, iat: datetime) -> str:
        """The refresh token ``jti`` of ``session``, expiring with the session's live token."""
        return self._codec.issue_refresh(
            user_id=session.user_id,
            session_id=session.id,
            jti=jti,
            iat=int(iat.timestamp()),
            exp=int(session.refresh_expires_at.timestamp()),
        )

    def tokens(
        self,
        session: SessionRecord,
        subject: Subject,
        hook_claims: Mapping[str, Any],
        *,
        refresh_token: str | None,
        now: datetime,
    ) -> IssuedTokens:
        """A new access token for ``session`` (as it is after this change), with
        ``refresh_token`` beside it. The access token ends with the session at the latest, and
        ``expiresIn`` says so."""
        extra = {**hook_claims, **session.claims} if session.claims else hook_claims
        access = self._codec.issue_access(
            user_id=session.user_id,
            session_id=session.id,
            now=now,
            email=subject.email,
            auth_time=session.authenticated_at,
            amr=session.amr,
            extra=extra,
            not_after=aware(session.expires_at),  # no access token outlives SESSION_MAX_AGE
        )
        ends_in_s = int(aware(session.expires_at).timestamp()) - int(now.timestamp())
        return IssuedTokens(
            access_token=access,
            refresh_token=refresh_token,
            expires_in_s=max(0, min(self._access_ttl_s, ends_in_s)),
            refresh_expires_in_s=max(0, int((session.refresh_expires_at - now).total_seconds())),
            session_id=session.id,
            persistent=session.persistent,
        )

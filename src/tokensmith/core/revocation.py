"""The in-process revocation set: the protected-route check costs one dictionary lookup.

It holds the ids of revoked sessions until their last access token expires (``until``), so it
stays bounded: a session revoked an hour ago with 15-minute tokens is no longer here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tokensmith.core.models import Revocation

__all__ = ["RevocationSet"]


class RevocationSet:
    def __init__(self) -> None:
        self._until_s: dict[str, float] = {}

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._until_s

    def __len__(self) -> int:
        return len(self._until_s)

    def add(self, revocations: Iterable[Revocation]) -> None:
        for revocation in revocations:
            until_s = revocation.until.timestamp()
            if until_s > self._until_s.get(revocation.session_id, 0.0):
                self._until_s[revocation.session_id] = until_s

    def prune(self, now: datetime) -> int:
        """Forget revocations whose tokens have all expired; returns how many went."""
        now_s = now.timestamp()
        expired = [sid for sid, until_s in self._until_s.items() if until_s <= now_s]
        for sid in expired:
            del self._until_s[sid]
        return len(expired)

    def __repr__(self) -> str:
        return f"RevocationSet(size={len(self._until_s)})"

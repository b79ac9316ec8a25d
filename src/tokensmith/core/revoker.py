"""Revocation across processes: the local set answers, the database remembers, a feed spreads.

Order matters: the revoking transaction commits first (so a restart forgets nothing), then the
local set learns it (so this process refuses the token at once), then the feed tells the others.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from tokensmith.core.clock import Clock
from tokensmith.core.models import Revocation
from tokensmith.core.ports import CatchingUpFeed, Database, RevocationFeed, RevocationHandler
from tokensmith.core.revocation import RevocationSet

__all__ = ["Revoker"]

log = logging.getLogger("tokensmith.revocation")


class Revoker:
    def __init__(
        self,
        clock: Clock,
        *,
        access_ttl: timedelta,
        leeway: timedelta,
        feed: RevocationFeed | None = None,
    ) -> None:
        self.revoked = RevocationSet()
        self._clock = clock
        self._horizon = access_ttl + leeway
        self._feed = feed
        self._catching_up = feed if isinstance(feed, CatchingUpFeed) else None
        self.listeners: list[RevocationHandler] = []
        """Told of every revocation this process learns (the stream for other services)."""

    def __repr__(self) -> str:
        return f"Revoker({self.revoked!r})"

    @property
    def horizon(self) -> timedelta:
        """How long after its refresh token expired a session can still have a live access
        token (the access lifetime plus the clock tolerance)."""
        return self._horizon

    def is_revoked(self, session_id: str) -> bool:
        return session_id in self.revoked

    async def catch_up(self) -> None:
        """Before the local set is trusted on the request path: add what the feed can tell of
        revocations committed elsewhere since it last looked, so a session ended by another
        worker is refused here at once, not at the next poll. With SQLite's polling feed this
        is a ``data_version`` check (microseconds) and a log read only when another connection
        committed; other feeds have nothing to add."""
        if self._catching_up is None:
            return
        found = await self._catching_up.catch_up()
        if found:
            self.apply(found)

    def revocations_for(self, session_ids: Sequence[str], at: datetime) -> list[Revocation]:
        """The revocation records of sessions ended at ``at``: they matter until the last access
        token such a session could have had is past its ``exp`` and the tolerance."""
        until = at + self._horizon
        return [Revocation(sid, until) for sid in session_ids]

    async def announce(self, revocations: Sequence[Revocation]) -> None:
        """Apply committed revocations here, then tell the other processes."""
        if not revocations:
            return
        self.revoked.add(revocations)
        self._tell(revocations)
        if self._feed is not None:
            try:
                await self._feed.publish(revocations)
            except Exception:  # the database has it; the others catch up on resync
                log.warning("could not publish %d revocation(s); peers resync", len(revocations))

    def apply(self, revocations: Sequence[Revocation]) -> None:
        """Revocations that arrived from another process."""
        self.revoked.add(revocations)
        self._tell(revocations)

    def _tell(self, revocations: Sequence[Revocation]) -> None:
        for listener in self.listeners:
            listener(revocations)

    async def load(self, database: Database) -> int:
        """Replace nothing, add everything still live in the database; returns the cursor."""
        async with database.transaction() as uow:
            live, cursor = await uow.revocations.live(self._clock.now())
        self.revoked.add(live)
        return cursor

    def prune(self) -> int:
        return self.revoked.prune(self._clock.now())

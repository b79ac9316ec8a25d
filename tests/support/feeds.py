"""A revocation feed that starts late: another instance's logout lands before it listens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tokensmith.core.models import Revocation
from tokensmith.core.ports import RevocationFeed
from tokensmith.storage.sql.database import SqlDatabase


class PeerRevokesFirst:
    """Wraps a feed so that, when its ``run`` starts, another instance has just committed a
    logout: after this process loaded the revocations, before its feed listens, so pub/sub would
    never deliver it. A server that takes requests before its feed listens accepts the session."""

    def __init__(self, feed: RevocationFeed, database: SqlDatabase, session_id: str) -> None:
        self.feed = feed
        self.database = database
        self.session_id = session_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.feed, name)

    async def run(self, *args: Any, **kwargs: Any) -> None:
        until = datetime.now(UTC) + timedelta(hours=1)
        async with self.database.transaction(write=True) as uow:
            await uow.revocations.add([Revocation(self.session_id, until)])
        await self.feed.run(*args, **kwargs)

"""The cursor a service resumes from never skips a revocation, even when PostgreSQL commits a
lower sequence number after a higher one (the stream's watermark)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tokensmith.core.broadcast import RevocationBroadcaster
from tokensmith.core.clock import SystemClock
from tokensmith.core.feed_cursor import CursorCodec
from tokensmith.core.models import Revocation
from tokensmith.storage.sql.database import SqlDatabase
from tokensmith.storage.sql.feed import SqlRevocationLog

UNTIL = datetime.now(UTC) + timedelta(hours=1)


async def _revoke(db: SqlDatabase, *sids: str) -> None:
    async with db.transaction(write=True) as uow:
        await uow.revocations.add([Revocation(sid, UNTIL) for sid in sids])


@pytest.mark.postgres
async def test_a_late_commit_is_served_to_a_caller_resuming_from_its_cursor(
    postgres_url: str,
) -> None:
    """ "fast" commits while "slow" (a lower number) is still in flight: the cursor handed out
    then stays below "slow", so resuming from it returns "slow" once it commits."""
    db = SqlDatabase(postgres_url)
    try:
        hub = RevocationBroadcaster(SqlRevocationLog(db), CursorCodec(b"k" * 32), SystemClock())
        await hub.log.reset(0)
        slow = db.transaction(write=True)
        uow = await slow.__aenter__()
        await uow.revocations.add([Revocation("slow", UNTIL)])  # draws the lower number
        await _revoke(db, "fast")  # the next number, committed first
        found, cursor = await hub.current(None)
        assert [r.session_id for r in found] == ["fast"]
        await slow.__aexit__(None, None, None)  # "slow" commits now
        resumed, _ = await hub.current(cursor)
        assert "slow" in [r.session_id for r in resumed]
    finally:
        await db.close()


async def test_cursors_round_trip_and_refuse_tampering() -> None:
    """A cursor decodes to its number; another MAC, a number past the log, or junk do not."""
    from tokensmith.errors import InvalidCursor

    codec = CursorCodec(b"k" * 32)
    assert codec.decode(codec.encode(7), newest=7) == 7
    for bad in (codec.encode(8), "7." + "A" * 22, "07." + codec.encode(7).split(".")[1], "x"):
        with pytest.raises(InvalidCursor):
            codec.decode(bad, newest=7)
    with pytest.raises(InvalidCursor):
        CursorCodec(b"other" * 8).decode(codec.encode(7), newest=7)

"""The revocation log's incremental read on PostgreSQL, on the rotation's asyncpg pool.

Every process reads the log every poll interval (``feed.py``: 20 ms), busy or idle. Through
SQLAlchemy a read was a pooled transaction: ``BEGIN``, the ``SELECT``, ``COMMIT``, three round
trips and ~1 ms of CPU in the process, ~100 times a second for two workers. Here it is the one
statement, compiled by SQLAlchemy for the dialect (:class:`~tokensmith.storage.sql.direct.Prepared`)
and run on :class:`~tokensmith.storage.sql.direct.PostgresPool`: one round trip, no transaction
(a single ``SELECT`` sees one snapshot either way). SQLite reads the log through the feed's own
connection (``feed.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from tokensmith.core.models import Revocation
from tokensmith.storage.sql.direct import PostgresPool, Prepared
from tokensmith.storage.sql.tables import revocations

__all__ = ["DirectLogRead"]

_COLUMNS = [revocations.c.seq, revocations.c.session_id, revocations.c.until]

REVOCATIONS_AFTER = (
    select(*_COLUMNS)
    .where(
        or_(
            revocations.c.seq > bindparam("cursor", type_=BigInteger),
            revocations.c.seq == any_(bindparam("gaps", type_=ARRAY(BigInteger))),
        )
    )
    .order_by(revocations.c.seq)
)
"""The rows past the cursor and the numbers still missing below it, ascending (the query of
``SqlRevocationRepository.after``, with the gaps as one array parameter so its text is fixed)."""


class DirectLogRead:
    """``SqlRevocationRepository.after`` on the asyncpg pool (PostgreSQL only)."""

    def __init__(self, pool: PostgresPool, dialect: Any) -> None:
        self._pool = pool
        self._after = Prepared(REVOCATIONS_AFTER, dialect, _COLUMNS)

    def __repr__(self) -> str:
        return f"DirectLogRead({self._pool!r})"

    async def after(self, cursor: int, gaps: Sequence[int]) -> list[tuple[int, Revocation]]:
        arguments = self._after.arguments({"cursor": cursor, "gaps": list(gaps)})
        found = []
        for row in await self._pool.fetch(self._after.sql, arguments):
            values = self._after.mapping(row)
            found.append((int(values["seq"]), Revocation(values["session_id"], values["until"])))
        return found

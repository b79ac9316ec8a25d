"""The repositories of contract 9: one-time tokens (by hash) and the outbox."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tokensmith.core.models import Channel, OneTimeToken, OutboxEntry
from tokensmith.storage.sql.tables import one_time_tokens, outbox

__all__ = ["SqlOneTimeTokenRepository", "SqlOutboxRepository"]


def _token(row: RowMapping) -> OneTimeToken:
    return OneTimeToken(
        token_hash=row["token_hash"],
        purpose=row["purpose"],
        user_id=row["user_id"],
        email=row["email"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
    )


class SqlOneTimeTokenRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, token: OneTimeToken) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(one_time_tokens).values(
                        token_hash=token.token_hash,
                        purpose=token.purpose,
                        user_id=token.user_id,
                        email=token.email,
                        created_at=token.created_at,
                        expires_at=token.expires_at,
                    )
                )
        except IntegrityError:
            pass  # the same token again (a retried mail): the stored one stands, used or not

    async def take(self, token_hash: str, purpose: str, now: datetime) -> OneTimeToken | None:
        # One conditional UPDATE: of two concurrent takes, the second matches no row.
        result = await self._conn.execute(
            update(one_time_tokens)
            .where(
                one_time_tokens.c.token_hash == token_hash,
                one_time_tokens.c.purpose == purpose,
                one_time_tokens.c.used_at.is_(None),
                one_time_tokens.c.expires_at > now,
            )
            .values(used_at=now)
        )
        if not result.rowcount:
            return None
        row = (
            await self._conn.execute(
                select(one_time_tokens).where(one_time_tokens.c.token_hash == token_hash)
            )
        ).mappings()
        found = row.first()
        return _token(found) if found else None

    async def spend_all(self, user_id: str, purpose: str, now: datetime) -> int:
        result = await self._conn.execute(
            update(one_time_tokens)
            .where(
                one_time_tokens.c.user_id == user_id,
                one_time_tokens.c.purpose == purpose,
                one_time_tokens.c.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return int(result.rowcount or 0)

    async def delete_expired(self, before: datetime) -> int:
        result = await self._conn.execute(
            delete(one_time_tokens).where(one_time_tokens.c.expires_at < before)
        )
        return int(result.rowcount or 0)


def _entry(row: RowMapping) -> OutboxEntry:
    return OutboxEntry(
        id=row["id"],
        event_id=row["event_id"],
        channel=Channel(row["channel"]),
        type=row["type"],
        payload=json.loads(row["payload"]),
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        sent_at=row["sent_at"],
    )


class SqlOutboxRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, entry: OutboxEntry) -> None:
        await self._conn.execute(
            insert(outbox).values(
                event_id=entry.event_id,
                channel=entry.channel.value,
                type=entry.type,
                payload=json.dumps(entry.payload, separators=(",", ":")),
                created_at=entry.created_at,
                next_attempt_at=entry.next_attempt_at,
                attempts=0,
            )
        )

    async def has_due(self, now: datetime) -> bool:
        due = (
            select(outbox.c.id)
            .where(outbox.c.sent_at.is_(None), outbox.c.next_attempt_at <= now)
            .limit(1)
        )
        return (await self._conn.execute(due)).first() is not None

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxEntry]:
        # PostgreSQL: rows another worker has locked are skipped, not waited for, so workers of
        # several processes and instances claim disjoint batches. SQLite renders no FOR UPDATE;
        # its write transaction (BEGIN IMMEDIATE) already admits one claimer at a time.
        due = (
            select(outbox)
            .where(outbox.c.sent_at.is_(None), outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (await self._conn.execute(due)).mappings().all()
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        await self._conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids))
            .values(next_attempt_at=lease_until, attempts=outbox.c.attempts + 1)
        )
        return [
            _entry({**row, "attempts": row["attempts"] + 1, "next_attempt_at": lease_until})  # type: ignore[arg-type]
            for row in rows
        ]

    async def mark_sent(self, entry_id: int, at: datetime) -> None:
        await self._conn.execute(
            update(outbox).where(outbox.c.id == entry_id).values(sent_at=at, last_error=None)
        )

    async def reschedule(self, entry_id: int, at: datetime, error: str) -> None:
        await self._conn.execute(
            update(outbox)
            .where(outbox.c.id == entry_id, outbox.c.sent_at.is_(None))
            .values(next_attempt_at=at, last_error=error[:500])
        )

    async def list(self, *, pending_only: bool = True, limit: int = 100) -> list[OutboxEntry]:
        query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
        if pending_only:
            query = query.where(outbox.c.sent_at.is_(None))
        rows = (await self._conn.execute(query)).mappings().all()
        return [_entry(row) for row in reversed(rows)]

    async def retry(self, now: datetime, entry_ids: Sequence[int] | None = None) -> int:
        statement = update(outbox).where(outbox.c.sent_at.is_(None))
        if entry_ids is not None:
            statement = statement.where(outbox.c.id.in_(list(entry_ids)))
        result = await self._conn.execute(statement.values(next_attempt_at=now))
        return int(result.rowcount or 0)

    async def delete_sent(self, before: datetime) -> int:
        result = await self._conn.execute(
            delete(outbox).where(outbox.c.sent_at.is_not(None), outbox.c.sent_at < before)
        )
        return int(result.rowcount or 0)

"""The standalone server's app as the previous release talked to PostgreSQL: the rotation's
``UPDATE ... RETURNING`` and its audit ``INSERT`` as two statements (two round trips), and
``pool_pre_ping`` (one more round trip per checkout), through SQLAlchemy's execution path: the
"before" of the ``roundtrips`` workload.

Served with ``uvicorn bench.apps.two_trips:create_app --factory --workers 2``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.apps.via_sqlalchemy import through_sqlalchemy
from tokensmith.core.models import AuditEvent
from tokensmith.server.app import create_app_from_env
from tokensmith.storage.sql import database, repositories


async def _two_statements(
    conn: AsyncConnection, rotate: Any, params: dict[str, Any], event: AuditEvent
) -> RowMapping | None:
    row = (await conn.execute(rotate, params)).mappings().first()
    if row is not None:
        detail = {"generation": row["generation"]}
        await repositories.SqlAuditRepository(conn).add(replace(event, detail=detail))
    return row


def _pre_ping(engine: AsyncEngine) -> None:
    engine.sync_engine.pool._pre_ping = True


def create_app() -> FastAPI:
    through_sqlalchemy()
    repositories.rotate_and_audit = _two_statements  # type: ignore[assignment]
    database._replace_closed_connections = _pre_ping
    return create_app_from_env()

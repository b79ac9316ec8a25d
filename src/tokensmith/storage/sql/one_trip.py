"""A refresh in one round trip on PostgreSQL: the conditional rotation and its audit row as one
statement (a data-modifying CTE).

::

    WITH rotated AS (UPDATE sessions SET ... WHERE id = :sid AND current_hash = :presented ...
                     RETURNING sessions.*),
         logged AS (INSERT INTO audit_log (...) SELECT ..., '{"generation":' || generation || '}'
                    FROM rotated)
    SELECT * FROM rotated

Both parts see the same snapshot and commit together; when the UPDATE matches no row, the INSERT
inserts none. The audit row is the one :meth:`AuditTrail.event` plus ``generation`` would write
(``detail`` is the same compact JSON). SQLite has no data-modifying CTEs: there the two
statements run one after the other on the same connection, which costs no round trip.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import String, bindparam, cast, insert, literal, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from tokensmith.core.models import AuditEvent
from tokensmith.storage.sql.tables import UtcDateTime, audit_log

__all__ = ["audit_parameters", "one_trip", "rotate_and_audit"]


def one_trip(rotate: Any) -> Any:
    """``rotate`` with the audit INSERT joined to it as a data-modifying CTE."""
    rotated = rotate.cte("rotated")
    prefix = json.dumps({"generation": 0}, separators=(",", ":")).removesuffix("0}")
    logged = insert(audit_log).from_select(
        ["at", "kind", "user_id", "session_id", "ip", "user_agent", "detail"],
        select(
            bindparam("audit_at", type_=UtcDateTime),
            bindparam("audit_kind", type_=String),
            bindparam("audit_user_id", type_=String),
            bindparam("audit_session_id", type_=String),
            bindparam("audit_ip", type_=String),
            bindparam("audit_ua", type_=String),
            literal(prefix) + cast(rotated.c.generation, String) + literal("}"),
        ).select_from(rotated),
    )
    return select(rotated).add_cte(logged.cte("logged"))


_CACHE: dict[int, Any] = {}


async def rotate_and_audit(
    conn: AsyncConnection, rotate: Any, params: dict[str, Any], event: AuditEvent
) -> RowMapping | None:
    """Run ``rotate`` (the conditional ``UPDATE ... RETURNING``) with ``params`` and, when it
    rotated, write ``event`` with the new ``generation``: one statement on PostgreSQL."""
    statement = _CACHE.get(id(rotate))
    if statement is None:
        statement = _CACHE[id(rotate)] = one_trip(rotate)
    result = await conn.execute(statement, {**params, **audit_parameters(event)})
    return result.mappings().first()


def audit_parameters(event: AuditEvent) -> dict[str, Any]:
    """The audit row's parameters of :func:`one_trip`'s statement."""
    if event.detail:
        raise ValueError("the one-trip audit row carries only the generation")
    return {
        "audit_at": event.at,
        "audit_kind": event.kind.value,
        "audit_user_id": event.user_id,
        "audit_session_id": event.session_id,
        "audit_ip": event.ip,
        "audit_ua": event.user_agent,
    }

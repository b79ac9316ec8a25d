"""The SQLite rotation waits for another process's write lock without blocking the event loop
(storage/sql/direct.py), and gives up with a 503 after its bound."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import BindParameter, Select, bindparam, literal_column, select
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from tests.storage.conftest import hold_write_lock, make_services
from tests.support.databases import migrate
from tokensmith.core.clock import ManualClock
from tokensmith.core.models import IssuedTokens
from tokensmith.core.sessions import RequestContext
from tokensmith.errors import ServiceUnavailable
from tokensmith.runtime import Services
from tokensmith.storage.sql.direct import Prepared
from tokensmith.storage.sql.tables import UtcDateTime, sessions

CTX = RequestContext("10.0.0.1", "pytest")


async def _login(services: Services) -> str:
    await services.accounts.register("ada@example.com", "correct horse battery", "Ada", CTX)
    tokens = (await services.accounts.login("ada@example.com", "correct horse battery", CTX)).tokens
    assert tokens.refresh_token is not None
    return tokens.refresh_token


async def test_a_rotation_waits_for_another_writer_without_blocking_the_loop(
    sqlite_services: tuple[Services, Path],
) -> None:
    services, path = sqlite_services
    token = await _login(services)
    other = hold_write_lock(path)
    rotation = asyncio.create_task(services.sessions.refresh(token, CTX))
    try:
        # While the rotation waits for the lock, the loop keeps running other work: SQLite's
        # busy handler would have held the loop for the whole wait and then failed.
        for _ in range(20):
            await asyncio.sleep(0.001)
        assert not rotation.done()
    finally:
        other.rollback()
        other.close()
    tokens = await asyncio.wait_for(rotation, 5)
    assert isinstance(tokens, IssuedTokens)


async def test_a_rotation_gives_up_after_its_bound_with_a_503(
    sqlite_services: tuple[Services, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    services, path = sqlite_services
    token = await _login(services)
    sqlite = services.database._rotation._sqlite
    assert sqlite is not None
    monkeypatch.setattr(sqlite, "WAIT_S", 0.05)
    other = hold_write_lock(path)
    try:
        with pytest.raises(ServiceUnavailable):
            await services.sessions.refresh(token, CTX)
    finally:
        other.rollback()
        other.close()
    # The token was not spent: once the writer is gone it rotates.
    assert isinstance(await services.sessions.refresh(token, CTX), IssuedTokens)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 5, 12, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 30, 0, 5, tzinfo=timezone(timedelta(hours=-7, minutes=-30))),
        datetime(999, 1, 1, tzinfo=UTC),
    ],
)
def test_a_time_is_bound_as_sqlalchemy_binds_it(value: datetime) -> None:
    """The rotation's own time conversion writes the text SQLAlchemy writes (the repositories
    read what the direct path wrote, and the other way round)."""
    dialect = sqlite_dialect()
    at: BindParameter[Any] = bindparam("at")
    statement: Select[Any] = select(literal_column("1")).where(sessions.c.expires_at > at)
    ((name, _, fast),) = Prepared(statement, dialect)._arguments
    assert name == "at" and fast is not None
    sqlalchemy = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert sqlalchemy is not None
    assert fast(value) == sqlalchemy(value)
    with pytest.raises(ValueError, match="naive"):
        fast(value.replace(tzinfo=None))


async def test_a_uri_database_rotates_through_the_pool(tmp_path: Path) -> None:
    """A ``file:`` URI database has no file the rotation's own connection may open
    (``SqlDatabase.sqlite_file`` is None): logins and refreshes write through the pool's
    connection, in one ``BEGIN IMMEDIATE`` each, and the chain rotates."""
    url = f"sqlite:///file:{tmp_path / 'uri.db'}?mode=rwc&uri=true"
    migrate(url)
    services = make_services(url, tmp_path, ManualClock(datetime(2026, 1, 5, 12, tzinfo=UTC)))
    await services.start()
    try:
        assert services.database.sqlite_file is None
        assert services.database._rotation._sqlite is None  # the pool's path, not the inline one
        token = await _login(services)
        first = await services.sessions.refresh(token, CTX)
        assert first.refresh_token is not None and first.refresh_token != token
        second = await services.sessions.refresh(first.refresh_token, CTX)
        assert second.refresh_token not in (None, token, first.refresh_token)
    finally:
        await services.stop()

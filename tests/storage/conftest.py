"""The storage suite runs once per backend: SQLite and PostgreSQL (a fresh database per test)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.databases import migrate
from tokensmith.core.clock import ManualClock
from tokensmith.core.passwords import TESTING
from tokensmith.runtime import Services, build_services
from tokensmith.settings import load_settings


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))


def make_services(url: str, tmp_path: Path, clock: ManualClock, **env: str) -> Services:
    settings = load_settings(
        {"DATABASE_URL": url, "TOKENSMITH_DATA_DIR": str(tmp_path / "data"), **env}
    )
    return build_services(settings, clock=clock, argon2=TESTING)


@pytest.fixture
async def services(
    database_url: str,
    tmp_path: Path,
    clock: ManualClock,
) -> AsyncIterator[Services]:
    """Started services over the backend under test (no Redis)."""
    built = make_services(database_url, tmp_path, clock)
    await built.start()
    try:
        yield built
    finally:
        await built.stop()


@pytest.fixture
async def sqlite_services(tmp_path: Path) -> AsyncIterator[tuple[Services, Path]]:
    """Started services over a migrated SQLite file (whatever backend the suite runs), and the
    file's path."""
    path = tmp_path / "tokensmith.db"
    url = f"sqlite:///{path}"
    migrate(url)
    services = make_services(url, tmp_path, ManualClock(datetime(2026, 1, 5, 12, tzinfo=UTC)))
    await services.start()
    try:
        yield services, path
    finally:
        await services.stop()


def hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another writer (as another process would be): holds the write lock until rolled back."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other

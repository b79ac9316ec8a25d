"""Files on disk (issue 11, item 9): the data dir is ``0700`` and the SQLite database with its
``-wal`` and ``-shm`` files ``0600``. They were ``0755`` and ``0644``: every local user could
read the password hashes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.inprocess import PASSWORD
from tokensmith.core.audit import RequestContext
from tokensmith.core.passwords import TESTING
from tokensmith.runtime import build_services
from tokensmith.settings import load_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The usual umask 022: whatever the process would create is world-readable."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


async def use(data_dir: Path, email: str = "ada@example.com") -> None:
    """Start the services on the default SQLite database and write through them."""
    services = build_services(load_settings({"TOKENSMITH_DATA_DIR": str(data_dir)}), argon2=TESTING)
    await services.start()
    try:
        await services.accounts.register(email, PASSWORD, None, RequestContext())
    finally:
        await services.stop()


@pytest.mark.usefixtures("permissive_umask")
async def test_a_new_data_dir_and_database_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    await use(data_dir)
    assert mode(data_dir) == 0o700
    files = [p for p in data_dir.iterdir() if p.name.startswith("tokensmith.db")]
    assert files, list(data_dir.iterdir())
    for path in [*files, data_dir / "secrets.json"]:
        assert mode(path) == 0o600, path


@pytest.mark.usefixtures("permissive_umask")
async def test_an_older_world_readable_database_is_tightened(tmp_path: Path) -> None:
    """A database an older version created ``0644`` is ``0600`` after the next start."""
    data_dir = tmp_path / "data"
    await use(data_dir)
    database = data_dir / "tokensmith.db"
    database.chmod(0o644)
    await use(data_dir, "bob@example.com")
    assert mode(database) == 0o600

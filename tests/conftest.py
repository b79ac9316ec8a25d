"""Shared fixtures: an in-process app over ``httpx.ASGITransport`` with an injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.inprocess import Api, ApiFactory, base_env
from tokensmith.core.clock import ManualClock
from tokensmith.core.passwords import TESTING
from tokensmith.server.app import create_app
from tokensmith.settings import load_settings

# Fixtures shared by every suite (database_url, postgres_url, redis_server) come in as a plugin,
# not as star imports: pytest registers them once and linters see no unused names.
pytest_plugins = ["tests.support.databases", "tests.support.logs"]


@pytest.fixture
def make_api(tmp_path: Path, database_url: str) -> ApiFactory:
    """``async with make_api(JWT_EXPIRES_IN="30s") as api:`` a fresh server on a fresh database;
    every test using it runs once on SQLite and once on PostgreSQL."""

    @asynccontextmanager
    async def factory(
        clock: ManualClock | None = None, client_ip: str = "127.0.0.1", **env: str
    ) -> AsyncIterator[Api]:
        clock = clock or ManualClock(datetime.now(UTC).replace(microsecond=0))
        settings = load_settings({**base_env(tmp_path), "DATABASE_URL": database_url, **env})
        app = create_app(settings, clock=clock, argon2=TESTING)
        transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        ):
            yield Api(client, clock, app)

    return factory


@pytest.fixture
async def api(make_api: ApiFactory) -> AsyncIterator[Api]:
    async with make_api() as instance:
        yield instance

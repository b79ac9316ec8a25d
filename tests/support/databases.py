"""Real backing services for tests: fresh PostgreSQL databases, private Redis and PostgreSQL
servers, and the ``database_url`` fixture that runs a suite on SQLite and PostgreSQL.

Every test that needs PostgreSQL gets a database of its own (``CREATE DATABASE ts_<random>``,
dropped afterwards), so test modules running in parallel never see each other's rows. Tests that
stop a service start a private one on a free port instead of touching the shared one.

Under ``CI=true`` a missing service fails the test; elsewhere the test is skipped.

The root conftest loads this module as a plugin (``pytest_plugins``), so its fixtures
(``database_url``, ``postgres_url``, ``redis_server``) are available to every test.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.servers import free_port

__all__ = [
    "PostgresCluster",
    "RedisServer",
    "admin_url",
    "database_url",
    "fresh_postgres_database",
    "migrate",
    "postgres_url",
    "redis_server",
    "require_postgres",
    "require_redis_server",
    "service_missing",
]

T = TypeVar("T")

ADMIN_URL_VARIABLE = "TOKENSMITH_TEST_POSTGRES_URL"
"""Overrides the server tests create their databases on (a superuser or CREATEDB role)."""


def admin_url() -> str:
    return os.environ.get(ADMIN_URL_VARIABLE, "postgresql://postgres@127.0.0.1:5432/test")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_missing(what: str) -> None:
    """Fail under CI (the service is part of the contract there), skip elsewhere."""
    message = f"{what} is not available"
    if in_ci():
        pytest.fail(f"{message} (CI=true: the service must be running)", pytrace=False)
    pytest.skip(message)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync or async code (in a thread with its own loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _admin_execute(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_dsn(url), timeout=3)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _dsn(url: str) -> str:
    """asyncpg wants ``postgresql://``, without SQLAlchemy's ``+driver``."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@functools.cache
def _postgres_answers(url: str) -> bool:
    try:
        run_async(_admin_execute(url, "SELECT 1"))
    except Exception:
        return False
    return True


def require_postgres() -> str:
    """The admin URL, or fail/skip the test when PostgreSQL does not answer."""
    url = admin_url()
    if not _postgres_answers(url):
        service_missing(f"PostgreSQL at {url}")
    return url


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def migrate(url: str) -> None:
    """Bring the schema of ``url`` to head, as ``tokensmith db upgrade`` does."""
    from tokensmith.storage.sql import migrate as migrations
    from tokensmith.storage.sql.database import SqlDatabase

    async def run() -> None:
        database = SqlDatabase(url)
        try:
            await migrations.upgrade(database)
        finally:
            await database.close()

    run_async(run())


_templates: dict[str, str] = {}


def _migrated_template(server: str) -> str:
    """A database migrated to head once per test process; fresh databases are copied from it
    (``CREATE DATABASE ... TEMPLATE``), which is much faster than running the migrations."""
    if server not in _templates:
        name = f"ts_template_{os.getpid()}_{secrets.token_hex(3)}"
        run_async(_admin_execute(server, f'CREATE DATABASE "{name}"'))
        atexit.register(_drop_at_exit, server, name)
        migrate(_with_database(server, name))
        _templates[server] = name
    return _templates[server]


def _drop_quietly(server: str, name: str) -> None:
    with contextlib.suppress(Exception):
        run_async(_admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _drop_at_exit(server: str, name: str) -> None:
    # No new threads at interpreter exit: run the loop here (nothing else is running).
    with contextlib.suppress(Exception):
        asyncio.run(_admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def fresh_postgres_database(*, migrated: bool = True, server: str | None = None) -> Iterator[str]:
    """A new database (schema at head when ``migrated``, else empty), dropped on exit."""
    server = server or require_postgres()
    name = f"ts_{secrets.token_hex(6)}"
    template = f' TEMPLATE "{_migrated_template(server)}"' if migrated else ""
    run_async(_admin_execute(server, f'CREATE DATABASE "{name}"{template}'))
    try:
        yield _with_database(server, name)
    finally:
        _drop_quietly(server, name)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database of this test alone, schema at head."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL, once per backend: a SQLite file, then a PostgreSQL database.
    Both have the schema at head (set ``DATABASE_URL`` to it)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tokensmith.db'}"
        migrate(url)
        yield url
        return
    with fresh_postgres_database() as url:
        yield url


# -- private servers (for fault tests) ---------------------------------------------------------


def _wait_for(check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within {timeout_s}s")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def require_redis_server() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        service_missing("redis-server")
    assert binary is not None
    return binary


@dataclass
class RedisServer:
    """A private ``redis-server`` on a free port, without persistence: stop and start at will."""

    binary: str
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(lambda: _port_open(self.port), 10, "redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private Redis of this test alone (real Redis, no fakes)."""
    server = RedisServer(require_redis_server(), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresCluster:
    """A private PostgreSQL cluster in a temp dir on a free port (``initdb`` + ``pg_ctl``), run
    as the ``postgres`` user when the tests run as root (PostgreSQL refuses to run as root)."""

    bin_dir: Path
    directory: Path
    port: int

    @classmethod
    def create(cls) -> PostgresCluster:
        bin_dir = _postgres_bin()
        if bin_dir is None:
            service_missing("PostgreSQL binaries (initdb)")
        assert bin_dir is not None
        directory = Path(tempfile.mkdtemp(prefix="ts-pg-"))
        cluster = cls(bin_dir, directory, free_port())
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres")
        cluster._run("initdb", "-D", str(cluster.data), "-A", "trust", "-U", "postgres",
                     "--no-sync", "-E", "UTF8")  # fmt: skip
        return cluster

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.directory / "log"), "-w", "-t", "30", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

"""The PostgreSQL and Redis the bench uses: scratch databases, availability, call counters."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os

__all__ = [
    "POSTGRES_ADMIN_URL",
    "REDIS_URL",
    "create_scratch_database",
    "postgres_available",
    "redis_available",
    "redis_command_calls",
]

POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def _loopback(url: str) -> None:
    if "@127.0.0.1" not in url and "//127.0.0.1" not in url and "localhost" not in url:
        raise ValueError(f"the bench only talks to loopback services, not {url}")


def postgres_available() -> bool:
    import asyncpg

    async def ping() -> bool:
        try:
            conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=2)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    _loopback(POSTGRES_ADMIN_URL)
    return asyncio.run(ping())


def create_scratch_database(name: str) -> str:
    """Create database ``<name>_<pid>`` (dropped when this process exits, so two runs never share
    one); returns its ``postgresql://`` URL."""
    import asyncpg

    if not name.replace("_", "").isalnum():
        raise ValueError(name)
    name = f"{name}_{os.getpid()}"

    async def create() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()

    _loopback(POSTGRES_ADMIN_URL)
    asyncio.run(create())
    atexit.register(_drop_quietly, name)
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


def drop_scratch_database(name: str) -> None:
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await conn.close()

    asyncio.run(drop())


def _drop_quietly(name: str) -> None:
    with contextlib.suppress(Exception):
        drop_scratch_database(name)


def redis_available() -> bool:
    import redis

    _loopback(REDIS_URL)
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except (redis.RedisError, OSError):
        return False


def redis_command_calls() -> int:
    """Commands the Redis server has executed so far (``INFO commandstats``), leaving out the
    ``info`` calls this counter itself makes. Server-wide: anything else using this Redis at the
    same time is counted too."""
    import redis

    stats = redis.Redis.from_url(REDIS_URL, socket_timeout=2).info("commandstats")
    return sum(
        int(v["calls"])
        for k, v in stats.items()
        if isinstance(v, dict) and k not in ("cmdstat_info", "cmdstat_ping")
    )

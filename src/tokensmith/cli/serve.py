"""``tokensmith serve``: the standalone server under uvicorn."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import click

from tokensmith.errors import ConfigError
from tokensmith.settings import Settings, load_settings

__all__ = ["WORKER_HEALTHCHECK_S", "preflight", "serve", "uvicorn_options"]

WORKER_HEALTHCHECK_S = 30


async def preflight(settings: Settings) -> None:
    """Before any worker starts: the database answers and its schema is current (an embedded
    database is upgraded here, once, so workers never race to migrate)."""
    from tokensmith.errors import ServiceUnavailable
    from tokensmith.storage.sql import migrate
    from tokensmith.storage.sql.database import SqlDatabase

    database = SqlDatabase(settings.resolved_database_url)
    # A failure here becomes the one-line ConfigError below; the driver's own warning would be a
    # second line.
    quiet = logging.getLogger("tokensmith.database")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        try:
            await database.ping()
        except ServiceUnavailable:
            raise ConfigError("DATABASE_URL", "the database cannot be reached") from None
        if database.is_sqlite:
            await migrate.upgrade(database)
        elif await migrate.current_revision(database) != migrate.head_revision():
            raise ConfigError(
                "DATABASE_URL", "the schema is not current: run 'tokensmith db upgrade'"
            )
    finally:
        quiet.setLevel(level)
        await database.close()


def uvicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """What ``tokensmith serve`` passes to ``uvicorn.run`` besides the app and the workers."""
    from tokensmith.server.http_protocol import CoalescingHttpTools

    return {
        "host": host,
        "port": port,
        # No "log_level": uvicorn would set its loggers' levels itself, after ours
        # (configure_logging owns them, and lets a worker's death through at WARNING).
        "access_log": settings.tokensmith_log_level == "debug",
        "proxy_headers": False,  # X-Forwarded-For is trusted only from TRUSTED_PROXIES, by us
        "server_header": False,
        "timeout_graceful_shutdown": 5,
        "log_config": None,  # uvicorn's own lines go through our JSON formatter too
        "http": CoalescingHttpTools,  # httptools, a response's head and body in one write
        # uvicorn kills a worker that does not answer its supervisor's ping within this many
        # seconds. At its default (5) a healthy worker starting on a loaded machine was killed
        # with requests in flight (clients saw "Server disconnected"); a hung one is still found.
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_S,
    }


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (revocations reach every worker within 100 ms).",
)
def serve(host: str, port: int, workers: int) -> None:
    """Run the server (configuration from the environment and .env)."""
    import uvicorn

    from tokensmith.server.logging import configure_logging

    settings = load_settings()  # generates development secrets once, before workers start
    configure_logging(settings.tokensmith_log_level)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter, every start
    asyncio.run(preflight(settings))
    options = uvicorn_options(settings, host, port)
    click.echo(
        f"tokensmith {settings.tokensmith_env} server on http://{host}:{port} "
        f"({workers} worker{'s' if workers > 1 else ''}, "
        f"{'SQLite' if settings.database_url is None else 'database from DATABASE_URL'})",
        err=True,
    )
    if workers > 1:
        # The workers share the CPUs for argon2 (HashingPool.size): one hashing process each
        # on a 2-CPU machine with 2 workers, not 2 each taking turns on the same cores.
        os.environ["WEB_CONCURRENCY"] = str(workers)
        uvicorn.run(
            "tokensmith.server.app:create_app_from_env", factory=True, workers=workers, **options
        )
    else:
        from tokensmith.server.app import create_app

        uvicorn.run(create_app(settings, freeze_startup_heap=True), **options)

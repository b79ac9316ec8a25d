"""Backends and faults: real PostgreSQL and Redis, private instances where a test stops them."""

from __future__ import annotations

from tests.support.databases import (  # noqa: F401  (fixtures)
    database_url,
    postgres_url,
    redis_server,
)

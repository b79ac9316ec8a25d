"""The ``log_lines`` fixture: what the ``tokensmith`` loggers write, as JSON lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from tokensmith.server.logging import JsonFormatter

__all__ = ["entries", "log_lines"]


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything the ``tokensmith`` loggers write, as JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tokensmith")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)  # access lines are written at debug level
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def entries(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]

"""The standalone server freezes its startup heap (gc.freeze) so full collections under load
walk only what requests allocate; an app built for embedding or tests leaves the heap alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.inprocess import base_env
from tokensmith.core.passwords import TESTING
from tokensmith.server.app import create_app
from tokensmith.settings import load_settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()  # the test process keeps collecting everything it allocates


@pytest.mark.usefixtures("unfrozen")
@pytest.mark.parametrize("freeze", [True, False])
async def test_startup_heap_is_frozen_only_when_asked(tmp_path: Path, freeze: bool) -> None:
    settings = load_settings(base_env(tmp_path))
    app = create_app(settings, argon2=TESTING, freeze_startup_heap=freeze)

    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()

    if freeze:
        # everything imported by then: modules, routes, schemas (tens of thousands of objects)
        assert frozen > 10_000
    else:
        assert frozen == 0

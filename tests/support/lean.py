"""Comparing a lean path (tokensmith.web.lean) with the FastAPI route behind it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.inprocess import Api
from tokensmith.web.lean import LeanLogin, LeanMe, LeanRefresh

__all__ = ["fastapi_route_only", "same_answer"]


@contextmanager
def fastapi_route_only(api: Api) -> Iterator[None]:
    """The lean paths stand aside (their paths match nothing) while the block runs."""
    layers = []
    layer = api.app.middleware_stack
    while layer is not None:
        if isinstance(layer, LeanRefresh | LeanMe | LeanLogin):
            layers.append((layer, layer.path))
        layer = getattr(layer, "app", None)
    assert len(layers) == 3, "the lean paths are installed"
    for lean, _ in layers:
        lean.path = "//nowhere"
    try:
        yield
    finally:
        for lean, path in layers:
            lean.path = path


def same_answer(lean: Any, plain: Any) -> None:
    """Status, JSON body and the headers that matter are the same."""
    assert lean.status_code == plain.status_code, (lean.text, plain.text)
    assert lean.json() == plain.json()
    for header in ("content-type", "cache-control", "www-authenticate", "x-content-type-options"):
        assert lean.headers.get(header) == plain.headers.get(header), header

"""The standalone server's app with the lean paths taken out (``/auth/refresh`` and
``/auth/me`` through FastAPI's routes only): the "before" of the lean-path measurement.

Served with ``uvicorn bench.apps.fastapi_only:create_app --factory --workers 2``.
"""

from __future__ import annotations

from fastapi import FastAPI

from tokensmith.server.app import create_app_from_env
from tokensmith.web.lean import LeanMe, LeanRefresh


def create_app() -> FastAPI:
    app = create_app_from_env()
    app.user_middleware = [m for m in app.user_middleware if m.cls not in (LeanMe, LeanRefresh)]
    return app

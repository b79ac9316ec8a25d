"""A user's own FastAPI app with tokensmith mounted, as the ``tokensmith.web`` docstring shows.

``/orders`` is guarded by ``Depends(auth.principal)``; ``/orders-scoped`` by
``Depends(auth.require_scopes("orders:read"))`` (the claims hook below puts the scope in every
access token); ``/orders-open`` is the same route without a guard, in the same app and server, so
their ratios are the price of authentication and of the scope check.

``/_bench/*`` exist only in this bench app: a counter of SQL statements this worker sent to the
database (a SQLAlchemy ``before_cursor_execute`` listener on the engine), the size of the
revocation set, and a way to run the same prune the housekeeping loop runs every minute.

Served with ``uvicorn bench.apps.user_app:create_app --factory --workers 2``.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import Depends, FastAPI
from sqlalchemy import event

from tokensmith import Subject
from tokensmith.settings import load_settings
from tokensmith.web import Principal, Tokensmith


async def claims(subject: Subject) -> dict[str, Any]:
    """Runs at login and refresh only, never on the measured routes."""
    return {"scope": "orders:read profile", "tenant": "bench"}


def create_app() -> FastAPI:
    auth = Tokensmith(load_settings(), claims=claims)
    readers = auth.require_scopes("orders:read")
    app = FastAPI(lifespan=auth.lifespan)
    auth.install(app)

    statements: dict[str, int] = {}

    @event.listens_for(auth.services.database.engine.sync_engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        kind = " ".join(statement.split())[:90]
        statements[kind] = statements.get(kind, 0) + 1

    @app.get("/orders")
    async def orders(principal: Principal = Depends(auth.principal)) -> dict[str, str]:
        return {"user": principal.sub}

    @app.get("/orders-scoped")
    async def orders_scoped(principal: Principal = Depends(readers)) -> dict[str, str]:
        return {"user": principal.sub}

    @app.get("/orders-open")
    async def orders_open() -> dict[str, str]:
        return {"user": "anyone"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/_bench/state")
    async def state() -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "sql_statements": dict(statements),
            "revoked": len(auth.services.revoker.revoked),
        }

    @app.post("/_bench/prune")
    async def prune() -> dict[str, int]:
        pruned = auth.services.revoker.prune()
        return {"pid": os.getpid(), "pruned": pruned, "revoked": len(auth.services.revoker.revoked)}

    return app

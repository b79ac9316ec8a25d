"""A user's own app with its own directory and claims hook (contract 8), in process.

:class:`People` is a dict-backed :class:`~tokensmith.UserDirectory` and :class:`Roles` a claims
hook; both count their calls and can be told to fail, so tests see exactly when tokensmith asks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from tests.support.inprocess import Api, base_env
from tokensmith import Subject, Tokensmith
from tokensmith.core.clock import ManualClock
from tokensmith.core.passwords import TESTING
from tokensmith.server.logging import RequestLogMiddleware
from tokensmith.settings import load_settings
from tokensmith.web import Principal

__all__ = ["OwnAppFactory", "People", "Roles", "own_app"]


class People:
    """The app's user table, as a directory."""

    def __init__(self, *subjects: Subject) -> None:
        self.subjects = {s.id: s for s in subjects}
        self.calls = 0
        self.fail: BaseException | None = None
        self.answer: Any = None
        """When set, answered instead of the subject (a directory answering nonsense)."""

    async def get(self, subject_id: str) -> Subject | None:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        if self.answer is not None:
            return self.answer
        return self.subjects.get(subject_id)


class Roles:
    """A claims hook: ``claims_of[subject_id]`` (default: reader scope)."""

    def __init__(self) -> None:
        self.claims_of: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.fail: BaseException | None = None

    async def __call__(self, subject: Subject) -> dict[str, Any]:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return self.claims_of.get(subject.id, {"scope": "orders:read", "tenant": "acme"})


OwnAppFactory = Callable[..., AbstractAsyncContextManager[Api]]


@asynccontextmanager
async def own_app(
    tmp_path: Path,
    database_url: str,
    *,
    users: Any = None,
    claims: Any = None,
    clock: ManualClock | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Api]:
    """The app: ``POST /login/{subject}`` starts a session as the app's own login would (after
    checking the user itself), ``/orders`` needs ``orders:read`` (``POST``: ``orders:write``),
    ``/settings`` a login in the last 300 s, ``/whoami`` any token."""
    clock = clock or ManualClock(datetime.now(UTC).replace(microsecond=0))
    settings = load_settings({**base_env(tmp_path), "DATABASE_URL": database_url, **(env or {})})
    auth = Tokensmith(settings, users=users, claims=claims, clock=clock, argon2=TESTING)
    app = FastAPI(lifespan=auth.lifespan)
    app.state.tokensmith = auth
    auth.install(app)
    app.add_middleware(RequestLogMiddleware)  # request ids in the log, as the server has

    @app.post("/login/{subject_id}")
    async def login(subject_id: str, request: Request, remember: bool = True) -> JSONResponse:
        tokens = await auth.start_session(subject_id, request, amr=("otp",), remember=remember)
        return auth.token_response(tokens, request)

    @app.post("/confirm")
    async def confirm(request: Request, p: Principal = Depends(auth.principal)) -> JSONResponse:
        tokens = await auth.renew_login(p, request, amr=("otp",))
        return auth.token_response(tokens, request)

    readers = auth.require_scopes("orders:read")
    writers = auth.require_scopes("orders:write")
    recently = auth.require_recent_login(max_age=300)

    @app.get("/orders")
    async def orders(p: Principal = Depends(readers)) -> dict[str, Any]:
        return {"user": p.sub, "tenant": p.get("tenant")}

    @app.post("/orders")
    async def place(p: Principal = Depends(writers)) -> dict[str, str]:
        return {"user": p.sub}

    @app.get("/settings")
    async def settings_page(p: Principal = Depends(recently)) -> dict[str, Any]:
        return {"user": p.sub, "auth_time": p.auth_time}

    @app.get("/whoami")
    async def whoami(p: Principal = Depends(auth.principal)) -> dict[str, Any]:
        return dict(p.raw)

    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://app") as client,
    ):
        yield Api(client, clock, app)

"""The composition root of the standalone server."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from importlib.resources import files
from types import FrameType
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.middleware.cors import CORSMiddleware

from tokensmith.core.clock import Clock
from tokensmith.core.passwords import OWASP_2023, Argon2Parameters
from tokensmith.server.logging import RequestLogMiddleware
from tokensmith.server.metrics import CONTENT_TYPE_LATEST, Metrics
from tokensmith.server.pages import ContentSecurityPolicy, install_docs
from tokensmith.settings import Settings, load_settings
from tokensmith.web import Tokensmith

__all__ = ["create_app", "create_app_from_env"]

log = logging.getLogger("tokensmith.server")

STATIC = files("tokensmith.server") / "static"


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    argon2: Argon2Parameters = OWASP_2023,
    freeze_startup_heap: bool = False,
) -> FastAPI:
    """The standalone server. ``freeze_startup_heap`` is for the process that is nothing but
    this server (``tokensmith serve``): see :func:`_freeze_startup_heap`."""
    auth = Tokensmith(settings, clock=clock, argon2=argon2)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with auth.lifespan(app):
            if freeze_startup_heap:
                _freeze_startup_heap()
            with _streams_end_on_exit(auth):
                yield

    app = FastAPI(
        title="tokensmith",
        version=_version(),
        summary="JWT sessions that behave",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's /docs and /redoc load from a CDN: ours is pinned, local
        redoc_url=None,
    )
    app.state.tokensmith = auth
    auth.install(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,  # exact origins only, never "*"
            allow_credentials=True,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token", "X-Token-Transport"],
            max_age=600,
        )
    metrics = Metrics(auth.services, prefix=auth.prefix)
    metrics.install(app, auth.errors)
    app.state.metrics = metrics
    app.add_middleware(ContentSecurityPolicy)
    # Outermost, so every answer (413s and CORS preflights included) has a request id.
    app.add_middleware(RequestLogMiddleware)
    install_docs(app, STATIC)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "not ready"}})
    async def readyz() -> JSONResponse:
        """Ready to serve: the database (and Redis, when configured) answers."""
        checks = await auth.services.readiness()
        ready = all(v == "ok" for v in checks.values())
        body: dict[str, Any] = {"status": "ok" if ready else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
    )
    async def prometheus_metrics() -> Response:
        """Prometheus text exposition: logins, refreshes, 401s by code, sessions, latency."""
        return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/.well-known/jwks.json", tags=["operations"])
    async def jwks() -> JSONResponse:
        """Public keys of access tokens, with ``kid`` (empty for HS256: its key is secret)."""
        return JSONResponse(
            {"keys": auth.services.access_keys.public_jwks()},
            headers={"Cache-Control": "public, max-age=300"},
        )

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def web_app() -> Response:
        return _static("index.html", "text/html; charset=utf-8")

    @app.api_route("/tokensmith.js", methods=["GET", "HEAD"], include_in_schema=False)
    async def browser_client() -> Response:
        return _static("tokensmith.js", "text/javascript; charset=utf-8")

    @app.api_route("/static/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    async def static_file(name: str) -> Response:
        return _static(name, None)

    return app


def _freeze_startup_heap() -> None:
    """Move everything alive after startup out of the collector's sight.

    A worker holds ~140k long-lived objects after startup, all from imports (modules, functions,
    pydantic schemas, SQLAlchemy's tables). Every full (gen-2) collection walked all of them:
    45-130 ms under load on 2 cores, a stall for every request in flight, and the p99 of the
    refresh bench on PostgreSQL was 65-102 ms because of it. Frozen, a full collection walks
    only what requests allocate (~2 ms). Nothing is leaked: what is frozen lives as long as the
    process anyway. Done only in a process that is just this server; an app that embeds
    tokensmith decides for its own heap (docs/deployment.md).
    """
    gc.collect()
    gc.freeze()


@contextmanager
def _streams_end_on_exit(auth: Tokensmith) -> Iterator[None]:
    """On SIGTERM/SIGINT end the revocation streams at once, before uvicorn waits for open
    connections (otherwise every restart with subscribers waits the whole graceful timeout).
    The server's own handler still runs; it is put back when the app stops."""
    broadcaster = auth.services.broadcaster
    if broadcaster is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(broadcaster.close)
        chained = previous.get(signal.Signals(signum))
        if callable(chained):
            chained(signum, frame)

    for sig, old in previous.items():
        if callable(old):
            signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            if callable(old):
                signal.signal(sig, old)


_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".ts": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


def _static(name: str, media_type: str | None) -> Response:
    from tokensmith.errors import NotFound

    # An exact file name in the static folder: no path separators, no dot-files.
    if "/" in name or "\\" in name or name.startswith(".") or not name:
        raise NotFound()
    resource = STATIC / name
    if not resource.is_file():
        raise NotFound()
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    return FileResponse(
        str(resource),
        media_type=media_type or _TYPES.get(suffix, "application/octet-stream"),
        headers={"Cache-Control": "no-cache"},
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tokensmith")
    except PackageNotFoundError:
        return "0"


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory`` and worker processes: settings from the environment."""
    from tokensmith.server.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.tokensmith_log_level)
    return create_app(settings, freeze_startup_heap=True)

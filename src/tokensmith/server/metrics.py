"""Prometheus metrics: counted in the web layer, cheap on the hot path.

What is counted where:

* request count and latency, and login outcomes: :class:`MetricsMiddleware`, a pure ASGI
  middleware (one ``perf_counter`` pair and two cached-child increments a request);
* 401s by contract code and failed refreshes by outcome: an observer of the app's
  :class:`~tokensmith.web.errors.ErrorPresenter`, told of every error answer (the 413 of the body
  limit and 422s of malformed JSON included), so the code is known without parsing bodies;
* successful refreshes (``rotated`` or ``grace``): the optional ``SessionService.observer`` hook,
  the one thing only the core knows;
* active sessions and the revocation-set size: gauges computed when ``/metrics`` is scraped (the
  session count is one indexed query, cached for ``gauge_ttl``), never per request.

Several workers (``--workers N``): each worker process counts on its own. Set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before starting the server and
prometheus-client's multiprocess mode aggregates every worker in each scrape; without it a scrape
sees one worker.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokensmith.errors import ServiceUnavailable, TokensmithError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tokensmith.runtime import Services
    from tokensmith.web.errors import ErrorPresenter

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "MetricsMiddleware"]

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"

# Auth endpoints answer in milliseconds (argon2 logins in ~50-100 ms): buckets from 1 ms to 2.5 s.
_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

_LOGIN_OUTCOMES: Final = {
    200: "success",
    401: "invalid_credentials",
    422: "invalid_request",
    429: "rate_limited",
}
_REFRESH_OUTCOMES: Final = {
    "TOKEN_REUSE_DETECTED": "reuse_detected",
    "REFRESH_TOKEN_EXPIRED": "expired",
    "SESSION_REVOKED": "revoked",
    "INVALID_REFRESH_TOKEN": "invalid",
    "REFRESH_TOKEN_REQUIRED": "missing",
    "CSRF_FAILED": "csrf_failed",
    "RATE_LIMITED": "rate_limited",
    "SERVICE_UNAVAILABLE": "error",
    "VALIDATION_ERROR": "invalid_request",
    "PAYLOAD_TOO_LARGE": "invalid_request",
    "INTERNAL_ERROR": "error",
}


class Metrics:
    """The server's metrics, in a registry of their own (so two apps in one process coexist)."""

    def __init__(
        self,
        services: Services,
        *,
        prefix: str = "/auth",
        gauge_ttl: timedelta = timedelta(seconds=15),
    ) -> None:
        self._services = services
        self._login_path = f"{prefix}/login"
        self._refresh_path = f"{prefix}/refresh"
        self._gauge_ttl_s = gauge_ttl.total_seconds()
        self._gauges_at = float("-inf")
        self._multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # The ``*_created`` series double the exposition for little use; Prometheus ignores them.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream
        # In multiprocess mode values live in files and a fresh collector reads them per scrape.
        registry = None if self._multiprocess else CollectorRegistry(auto_describe=True)
        self.registry = registry
        self.logins = Counter(
            "tokensmith_logins", "Login attempts by outcome.", ["outcome"], registry=registry
        )
        self.refreshes = Counter(
            "tokensmith_refreshes", "Refresh attempts by outcome.", ["outcome"], registry=registry
        )
        self.unauthorized = Counter(
            "tokensmith_unauthorized",
            "401 answers by contract error code.",
            ["code"],
            registry=registry,
        )
        self.requests = Counter(
            "tokensmith_http_requests",
            "HTTP requests by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "tokensmith_http_request_duration_seconds",
            "Time to answer, by route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.active_sessions = Gauge(
            "tokensmith_active_sessions",
            "Sessions neither revoked nor expired (counted at scrape time).",
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.revoked_sessions = Gauge(
            "tokensmith_revocation_set_size",
            "Revoked sessions whose access tokens could still be unexpired (in this process).",
            registry=registry,
            multiprocess_mode="max",
        )
        self.stream_subscribers = Gauge(
            "tokensmith_revocation_stream_subscribers",
            "Services following /auth/revocations/stream (in this process).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.stream_dropped = Gauge(
            "tokensmith_revocation_stream_dropped",
            "Stream subscribers dropped for not keeping up, since start (in this process).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        for outcome in ("success", "invalid_credentials", "rate_limited"):
            self.logins.labels(outcome)
        for outcome in ("rotated", "grace", "reuse_detected", "expired", "revoked", "invalid"):
            self.refreshes.labels(outcome)

    def __repr__(self) -> str:
        return f"Metrics(multiprocess={self._multiprocess})"

    # -- wiring ------------------------------------------------------------------------------

    def install(self, app: FastAPI, errors: ErrorPresenter) -> None:
        """Count refresh outcomes (core hook), error codes (the presenter's observer) and
        requests (middleware)."""
        self._services.sessions.observer = self.refresh_succeeded

        def observed(scope: Scope, error: TokensmithError, status: int) -> None:
            self.error_answered(_route_of(scope), error.code, status)

        errors.observe(observed)
        app.add_middleware(MetricsMiddleware, metrics=self)

    # -- counting ----------------------------------------------------------------------------

    def refresh_succeeded(self, outcome: str) -> None:
        self.refreshes.labels(outcome).inc()

    def error_answered(self, route: str, code: str, status: int) -> None:
        if status == 401:
            self.unauthorized.labels(code).inc()
        if route == self._refresh_path:
            self.refreshes.labels(_REFRESH_OUTCOMES.get(code, code.lower())).inc()

    def request_answered(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if route == self._login_path and method == "POST":
            self.logins.labels(_LOGIN_OUTCOMES.get(status, "error")).inc()

    # -- scraping ----------------------------------------------------------------------------

    async def render(self) -> bytes:
        """The Prometheus text exposition, with the gauges brought up to date."""
        await self._update_gauges()
        if self.registry is not None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    async def _update_gauges(self) -> None:
        self.revoked_sessions.set(len(self._services.revoker.revoked))
        broadcaster = self._services.broadcaster
        if broadcaster is not None:
            self.stream_subscribers.set(broadcaster.subscribers)
            self.stream_dropped.set(broadcaster.dropped)
        now_s = time.monotonic()
        if now_s - self._gauges_at < self._gauge_ttl_s:
            return
        try:
            async with self._services.database.transaction() as uow:
                count = await uow.sessions.count_active(self._services.clock.now())
        except ServiceUnavailable:
            return  # keep the last value; /readyz reports the outage
        self.active_sessions.set(count)
        self._gauges_at = now_s


def _route_of(scope: Scope) -> str:
    """The route *template* (``/auth/sessions/{session_id}``), never the raw path: labels must
    stay few. Unmatched paths share one label."""
    # FastAPI >= 0.16x no longer copies included routes, so the matched route's own ``path``
    # lacks the router prefixes; its "effective route context" has the full template.
    fastapi_scope = scope.get("fastapi")
    if isinstance(fastapi_scope, dict):
        context = fastapi_scope.get("effective_route_context")
        template = getattr(context, "path_format", None)
        if isinstance(template, str):
            return template
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"


class MetricsMiddleware:
    """Pure ASGI: times each HTTP request and counts it by route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.metrics.request_answered(
                scope["method"], _route_of(scope), status, time.perf_counter() - started
            )

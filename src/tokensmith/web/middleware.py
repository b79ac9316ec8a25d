"""Pure ASGI middleware (``BaseHTTPMiddleware`` costs ~150-200 us a request; these cost ~1 us).

* a 64 KiB request-body limit (413 ``PAYLOAD_TOO_LARGE``), checked on ``Content-Length`` and on
  the bytes actually received;
* ``Cache-Control: no-store`` on every ``/auth`` response (RFC 6749 section 5.1: responses with
  tokens must not be cached), and ``nosniff`` everywhere;
* no trailing-slash redirect under ``/auth`` (404 instead);
* ``X-Forwarded-Proto`` from a trusted proxy as the request's scheme, so a URL the app builds (a
  redirect, ``url_for``) says ``https`` behind a TLS proxy.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokensmith.errors import NotFound, PayloadTooLarge
from tokensmith.web.errors import ErrorPresenter
from tokensmith.web.transport import ClientAddress

__all__ = ["MAX_BODY_BYTES", "BodyLimit", "ForwardedScheme", "NoSlashRedirect", "SecurityHeaders"]

MAX_BODY_BYTES = 64 * 1024


class BodyLimit:
    """The 413 is rendered by the app's :class:`ErrorPresenter`, like every other error."""

    def __init__(
        self,
        app: ASGIApp,
        presenter: ErrorPresenter | None = None,
        max_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.presenter = presenter or ErrorPresenter()
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_bytes
                except ValueError:
                    too_large = False
                if too_large:
                    await self._reject(scope, send)
                    return
        received = 0
        started = False
        rejected = False

        async def limited_receive() -> Message:
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer 413 now and tell the app the client went away: frameworks turn an
                    # exception raised here into their own 400, so none is raised.
                    rejected = True
                    if not started:
                        await self._reject(scope, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        response = self.presenter.present(scope, PayloadTooLarge())
        # The rest of the body is never read: the connection cannot be reused.
        response.headers["Connection"] = "close"
        await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


class SecurityHeaders:
    def __init__(self, app: ASGIApp, no_store_prefix: str = "/auth") -> None:
        self.app = app
        self.prefix = no_store_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = str(scope.get("path", "")).startswith(self.prefix)

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if not (no_store and k.lower() in (b"cache-control", b"pragma"))
                ]
                headers.append((b"x-content-type-options", b"nosniff"))
                if no_store:
                    headers.append((b"cache-control", b"no-store"))
                    headers.append((b"pragma", b"no-cache"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, add_headers)


class ForwardedScheme:
    """The scheme a trusted proxy reports (``TRUSTED_PROXIES``) replaces the connection's: behind
    a TLS proxy a redirect must never send the client (and a re-sent body) to ``http://``."""

    def __init__(self, app: ASGIApp, addresses: ClientAddress) -> None:
        self.app = app
        self.addresses = addresses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.addresses.trusted_proxies:
            client = scope.get("client")
            values = [
                value.decode("latin-1")
                for name, value in scope.get("headers", ())
                if name == b"x-forwarded-proto"
            ]
            scheme = self.addresses.forwarded_scheme(client[0] if client else None, values)
            if scheme is not None and scheme != scope.get("scheme"):
                # In place: the layers outside (metrics) read what the router records in scope.
                scope["scheme"] = scheme
        await self.app(scope, receive, send)


class NoSlashRedirect:
    """Under the prefix, Starlette's redirect to the path with or without a trailing slash
    becomes 404 ``NOT_FOUND``: a client following a 307 re-sends the body (a password) to a URL
    built from the connection's scheme, ``http`` behind a TLS proxy that does not say otherwise.
    The app's routes themselves never redirect, so only the router's slash redirect is replaced.
    """

    def __init__(self, app: ASGIApp, presenter: ErrorPresenter, prefix: str = "/auth") -> None:
        self.app = app
        self.presenter = presenter
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not (
            path == self.prefix or path.startswith(self.prefix + "/")
        ):
            await self.app(scope, receive, send)
            return
        replaced = False

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the redirect's own body
            if message["type"] == "http.response.start" and self._slash_redirect(path, message):
                replaced = True
                await self.presenter.present(scope, NotFound())(scope, receive, send)
                return
            await send(message)

        await self.app(scope, receive, guarded_send)

    @staticmethod
    def _slash_redirect(path: str, message: Message) -> bool:
        if message.get("status") not in (301, 302, 307, 308):
            return False
        for name, value in message.get("headers", ()):
            if name.lower() == b"location":
                target = urlsplit(value.decode("latin-1")).path
                return target in (path.rstrip("/"), path + "/")
        return False

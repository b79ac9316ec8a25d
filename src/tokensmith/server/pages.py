"""The standalone server's pages: ``/docs`` from the package, and a strict Content-Security-Policy
on every response.

``/docs`` is Swagger UI, pinned in ``requirements/swagger-ui/package-lock.json`` and copied into
``static/swagger-ui`` by ``scripts/vendor_swagger_ui.py``: no script from a CDN runs on the
origin that holds the CSRF cookie. The web app (``/``) and ``/docs`` load only their own files,
with no inline script or style, so the policy can be ``'self'`` throughout; ``frame-ancestors
'none'`` (and ``X-Frame-Options: DENY`` for older browsers) keeps every page out of frames
(clickjacking). A response that sets its own policy keeps it.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any, Final

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokensmith.errors import NotFound

__all__ = ["CONTENT_SECURITY_POLICY", "ContentSecurityPolicy", "install_docs"]

CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # the web app's favicon and Swagger UI's icons are data: URLs
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SWAGGER_UI = files("tokensmith.server") / "static" / "swagger-ui"
_SWAGGER_FILES: Final = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "LICENSE": "text/plain; charset=utf-8",
    "NOTICE": "text/plain; charset=utf-8",
}


class ContentSecurityPolicy:
    """Adds the policy and ``X-Frame-Options: DENY`` to every HTTP response (pure ASGI)."""

    def __init__(self, app: ASGIApp, policy: str = CONTENT_SECURITY_POLICY) -> None:
        self.app = app
        self.policy = policy.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", self.policy))
                if b"x-frame-options" not in names:
                    headers.append((b"x-frame-options", b"DENY"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, add_headers)


def install_docs(app: FastAPI, static: Any) -> None:
    """``GET /docs`` and its pinned assets under ``/static/swagger-ui/``. The app must be
    created with ``docs_url=None`` and ``redoc_url=None`` (FastAPI's pages load from a CDN)."""

    @app.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
    async def docs() -> Response:
        return FileResponse(
            str(static / "docs.html"),
            media_type="text/html; charset=utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    @app.api_route("/static/swagger-ui/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    async def swagger_asset(name: str) -> Response:
        media_type = _SWAGGER_FILES.get(name)  # an exact name: no paths, nothing else
        if media_type is None:
            raise NotFound()
        return FileResponse(
            str(SWAGGER_UI / name),
            media_type=media_type,
            # Pinned and versioned with the package: cacheable, revalidated on upgrade.
            headers={"Cache-Control": "public, max-age=86400"},
        )

"""Starlette and FastAPI: a middleware and a dependency (contract 10).

::

    from tokensmith.verify import Verifier
    from tokensmith.verify.starlette import TokenGuard

    guard = TokenGuard(Verifier(ISSUER, client_id="orders", client_secret=SECRET))
    app = FastAPI(lifespan=guard.lifespan)
    guard.install(app)                            # errors in the shape of contract 4

    @app.get("/orders")
    async def orders(claims = Depends(guard)): ...                    # any valid token
    @app.post("/orders")
    async def place(claims = Depends(guard.require("orders:write"))): ...

or, to guard whole path prefixes: ``app.add_middleware(TokensmithMiddleware, guard=guard,
prefixes=("/api/",))``; the claims are then ``request.state.principal``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tokensmith.core.models import AccessClaims
from tokensmith.errors import InvalidToken, TokensmithError
from tokensmith.verify.presenting import refusal
from tokensmith.verify.verifier import Verifier

__all__ = ["TokenGuard", "TokensmithMiddleware", "error_response"]


def error_response(error: TokensmithError) -> JSONResponse:
    answer = refusal(error)
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


class TokenGuard:
    """``Depends(guard)``: the claims of the request's Bearer token, or the error of
    contract 4 (rendered by the handler :meth:`install` adds)."""

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier

    def __repr__(self) -> str:
        return f"TokenGuard({self.verifier!r})"

    async def __call__(self, request: Request) -> AccessClaims:
        return await self.verify(_authorization(request.headers.getlist("authorization")))

    def require(self, *scopes: str) -> Callable[[Request], Awaitable[AccessClaims]]:
        """A dependency that also requires every scope named (else 403 INSUFFICIENT_SCOPE)."""

        async def scoped(request: Request) -> AccessClaims:
            return await self.verify(
                _authorization(request.headers.getlist("authorization")), scopes
            )

        return scoped

    async def verify(self, authorization: str | None, scopes: Sequence[str] = ()) -> AccessClaims:
        try:
            return self.verifier.verify_header(authorization, scopes=tuple(scopes), refetch=False)
        except InvalidToken:
            if not self.verifier.wants_keys(authorization):
                raise
        # A key we do not know yet (rotation): fetch the JWKS off the event loop, once.
        return await asyncio.to_thread(
            self.verifier.verify_header, authorization, scopes=tuple(scopes)
        )

    def install(self, app: Any) -> None:
        """Render tokensmith errors as contract 4 (status, body, WWW-Authenticate)."""

        async def handler(request: Request, exc: Exception) -> JSONResponse:
            assert isinstance(exc, TokensmithError)
            return error_response(exc)

        app.add_exception_handler(TokensmithError, handler)

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """Start the verifier (discovery, keys, revocation stream) with the app."""
        await asyncio.to_thread(self.verifier.start)
        try:
            yield
        finally:
            self.verifier.close()


class TokensmithMiddleware:
    """Pure ASGI: requests under ``prefixes`` need a valid token (the claims go to
    ``request.state.principal``); others pass untouched."""

    def __init__(
        self, app: ASGIApp, *, guard: TokenGuard, prefixes: Sequence[str] = ("/",)
    ) -> None:
        self.app = app
        self.guard = guard
        self.prefixes = tuple(prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        authorization = _authorization(
            [
                value.decode("latin-1")
                for name, value in scope["headers"]
                if name == b"authorization"
            ]
        )
        try:
            claims = await self.guard.verify(authorization)
        except TokensmithError as exc:
            await error_response(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = claims
        await self.app(scope, receive, send)


def _authorization(values: Sequence[str]) -> str | None:
    """Every ``Authorization`` header, folded as a WSGI server folds them (so ``bearer_token``
    refuses several with 400 ``INVALID_REQUEST`` in every adapter alike)."""
    return ", ".join(values) if values else None

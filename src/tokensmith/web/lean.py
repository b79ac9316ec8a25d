"""``POST /auth/refresh``, ``POST /auth/login`` and ``GET /auth/me`` on a lean path: pure ASGI,
in front of the FastAPI routes.

A rotation is the request whose cost matters most after the protected routes, and FastAPI's
request path (routing, dependency solving, body validation through pydantic, the response model)
is a large share of its server time (docs/performance.md has the profile). A login's work on the
event loop is what a probe waits behind during a login storm. This serves the common shapes by
hand:

* refresh: a body that is empty, or JSON (no ``Content-Type`` or ``application/json``) holding an
  object whose ``refreshToken`` (or ``refresh_token``) is absent, ``null`` or a string of at most
  16,384 characters, the limit :class:`~tokensmith.web.schemas.RefreshBody` sets;
* login: a JSON body (same media types) that :class:`~tokensmith.web.schemas.LoginBody` itself
  accepts (pydantic reading the JSON: the route's own rules);

and hands **everything else** (bad JSON, another content type, a token of the wrong type or
length, a login body the model refuses) to the FastAPI route behind it, with the body it already
read, so every 422 is the one FastAPI and pydantic give. The FastAPI routes also stay the OpenAPI
description.

Everything after the body is the same code the FastAPI routes run: the rate limits, the cookie
transport and its CSRF check, :meth:`SessionService.refresh` or
:func:`~tokensmith.web.routes_accounts.log_in`, and :class:`TokenResponder`; errors are answered
by the app's :class:`ErrorPresenter`, in the contract's shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import orjson
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokensmith.core.accounts import AccountService
from tokensmith.core.sessions import SessionService
from tokensmith.core.subjects import Subjects
from tokensmith.errors import RefreshTokenRequired, TokenRevoked, TokensmithError
from tokensmith.web.context import request_context
from tokensmith.web.errors import ErrorPresenter
from tokensmith.web.guards import Guards
from tokensmith.web.ratelimit import RateLimits
from tokensmith.web.routes_accounts import log_in
from tokensmith.web.schemas import LoginBody, user_body
from tokensmith.web.token_response import FastJSONResponse, TokenResponder
from tokensmith.web.transport import ClientAddress, CookieTransport

if TYPE_CHECKING:
    from tokensmith.web.integration import Tokensmith

__all__ = [
    "LeanLogin",
    "LeanMe",
    "LeanRefresh",
    "install_lean_routes",
    "login_body_in",
    "refresh_token_in",
]

MAX_TOKEN_CHARS: Final = 16384
"""The ``max_length`` of ``RefreshBody.refresh_token``."""

_UNUSUAL: Final = object()
"""The body is not the common shape: the FastAPI route answers it."""


def _is_json(content_type: bytes | None) -> bool:
    """No ``Content-Type`` or ``application/json`` (parameters and case aside)."""
    return content_type is None or (
        content_type.split(b";", 1)[0].strip().lower() == b"application/json"
    )


def refresh_token_in(body: bytes, content_type: bytes | None) -> object:
    """The body's refresh token (``None`` when there is none), or :data:`_UNUSUAL`."""
    if not body:
        return None
    if not _is_json(content_type):
        return _UNUSUAL
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _UNUSUAL
    if data is None:
        return None
    if not isinstance(data, dict):
        return _UNUSUAL
    # pydantic's order with populate_by_name: the alias first, then the field's own name.
    token = data["refreshToken"] if "refreshToken" in data else data.get("refresh_token")
    if token is None or (type(token) is str and len(token) <= MAX_TOKEN_CHARS):
        return token
    return _UNUSUAL


def login_body_in(body: bytes, content_type: bytes | None) -> LoginBody | None:
    """The login body as :class:`LoginBody` reads it, or ``None`` when the FastAPI route must
    answer (its 422 is the contract's)."""
    if not body or not _is_json(content_type):
        return None
    try:
        return LoginBody.model_validate_json(body)
    except ValidationError:
        return None


class LeanRefresh:
    """Pure ASGI middleware, the innermost of the app's: ``POST {prefix}/refresh`` is answered
    here, everything else (and an unusual refresh body) goes on to the app's routes.

    It sits inside the body limit, the security headers, the metrics and the request log, and
    outside the app's exception handlers, so errors are presented here, by the app's
    :class:`ErrorPresenter`, as the handlers would (unexpected ones still reach the app's
    500 handler).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        sessions: SessionService,
        limits: RateLimits,
        addresses: ClientAddress,
        cookies: CookieTransport,
        respond: TokenResponder,
        errors: ErrorPresenter,
    ) -> None:
        self.app = app
        self.path = path  # the route template the metrics read from ``scope["route"]``
        self._sessions = sessions
        self._limits = limits
        self._addresses = addresses
        self._cookies = cookies
        self._respond = respond
        self._errors = errors

    def __repr__(self) -> str:
        return f"LeanRefresh({self.path!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or _route_path(scope) != self.path:
            await self.app(scope, receive, send)
            return
        read = await _read(scope, receive)
        if read is None:
            return  # the client went away, or the body limit answered 413
        body, content_type = read
        token = refresh_token_in(body, content_type)
        if token is _UNUSUAL:
            await self.app(scope, _replay(body), send)
            return
        scope["route"] = self
        try:
            response = await self._refresh(Request(scope), token)
        except TokensmithError as error:
            response = self._errors.present(scope, error)
        await response(scope, _no_receive, send)

    async def _refresh(self, request: Request, token: object) -> Response:
        ctx = request_context(self._addresses, request)
        await self._limits.hit("refresh", ctx.ip or "-")
        from_cookie = False
        if not token:
            token = self._cookies.refresh_cookie(request)
            if token is None:
                raise RefreshTokenRequired()
            self._cookies.check_csrf(request)
            from_cookie = True
        assert isinstance(token, str)
        tokens = await self._sessions.refresh(token, ctx)
        return self._respond(request, tokens, from_cookie=from_cookie)


class LeanLogin:
    """Pure ASGI middleware beside :class:`LeanRefresh`: ``POST {prefix}/login`` with a body
    :class:`LoginBody` accepts is answered here by :func:`log_in`, the FastAPI route's own
    code; every other request (and any other login body) goes on to the app's routes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        accounts: AccountService,
        limits: RateLimits,
        addresses: ClientAddress,
        respond: TokenResponder,
        errors: ErrorPresenter,
    ) -> None:
        self.app = app
        self.path = path
        self._accounts = accounts
        self._limits = limits
        self._addresses = addresses
        self._respond = respond
        self._errors = errors

    def __repr__(self) -> str:
        return f"LeanLogin({self.path!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or _route_path(scope) != self.path:
            await self.app(scope, receive, send)
            return
        read = await _read(scope, receive)
        if read is None:
            return  # the client went away, or the body limit answered 413
        body = login_body_in(*read)
        if body is None:
            await self.app(scope, _replay(read[0]), send)
            return
        scope["route"] = self
        request = Request(scope)
        try:
            response = await log_in(
                self._accounts, self._limits, self._addresses, self._respond, request, body
            )
        except TokensmithError as error:
            response = self._errors.present(scope, error)
        await response(scope, _no_receive, send)


class LeanMe:
    """Pure ASGI middleware beside :class:`LeanRefresh`: ``GET {prefix}/me`` is the guard, the
    user (from memory for tokensmith's own users) and its JSON, as the FastAPI route answers it,
    without the dependency machinery. Every other request goes on to the app's routes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        guards: Guards,
        subjects: Subjects,
        errors: ErrorPresenter,
    ) -> None:
        self.app = app
        self.path = path
        self._principal = guards.principal  # the FastAPI route's own guard, whatever it checks
        self._subjects = subjects
        self._errors = errors

    def __repr__(self) -> str:
        return f"LeanMe({self.path!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or _route_path(scope) != self.path:
            await self.app(scope, receive, send)
            return
        scope["route"] = self
        response: Response
        try:
            claims = await self._principal(Request(scope))
            user = await self._subjects.current(claims.sub)
            if user is None:
                raise TokenRevoked("This account no longer exists or is disabled")
            response = FastJSONResponse(user_body(user))
        except TokensmithError as error:
            response = self._errors.present(scope, error)
        await response(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path the app's routes see (without a ``root_path`` the app is mounted under)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _read(scope: Scope, receive: Receive) -> tuple[bytes, bytes | None] | None:
    """The whole body and the ``Content-Type``; ``None`` when the client went away."""
    content_type = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
            break
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), content_type


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def install_lean_routes(app: Starlette, tokensmith: Tokensmith) -> None:
    """The lean routes as the innermost middleware of ``app``: call before any other
    ``add_middleware`` whose work they must be inside of."""
    app.add_middleware(
        LeanMe,
        path=tokensmith.prefix + "/me",
        guards=tokensmith.guards,
        subjects=tokensmith.services.subjects,
        errors=tokensmith.errors,
    )
    if tokensmith.services.subjects.is_own_table:  # else there is no /auth/login
        app.add_middleware(
            LeanLogin,
            path=tokensmith.prefix + "/login",
            accounts=tokensmith.services.accounts,
            limits=tokensmith.rate_limits,
            addresses=tokensmith.addresses,
            respond=tokensmith.respond,
            errors=tokensmith.errors,
        )
    app.add_middleware(
        LeanRefresh,
        path=tokensmith.prefix + "/refresh",
        sessions=tokensmith.services.sessions,
        limits=tokensmith.rate_limits,
        addresses=tokensmith.addresses,
        cookies=tokensmith.cookies,
        respond=tokensmith.respond,
        errors=tokensmith.errors,
    )

"""``Tokensmith``: the FastAPI integration, mountable in any app.

It owns the services (built from settings), the dependencies that guard routes, the library
entry points of contract 8 (:meth:`Tokensmith.start_session`, :meth:`Tokensmith.token_response`)
and the ``/auth`` router. The standalone server (``tokensmith.server``) is built from it.

::

    auth = Tokensmith(load_settings(), users=MyUsers(), claims=my_claims)   # both optional
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from tokensmith.core.audit import RequestContext
from tokensmith.core.claims import ClaimsHook
from tokensmith.core.clock import Clock
from tokensmith.core.directory import Subject, UserDirectory
from tokensmith.core.events import EventHandler
from tokensmith.core.models import IssuedTokens, User
from tokensmith.core.passwords import OWASP_2023, Argon2Parameters
from tokensmith.delivery.wiring import check_recovery_settings
from tokensmith.errors import TokenRevoked
from tokensmith.runtime import Services, build_services
from tokensmith.settings import Settings
from tokensmith.web.client_auth import ClientAuthenticator
from tokensmith.web.context import request_context
from tokensmith.web.errors import ErrorPresenter
from tokensmith.web.guards import Guard, Guards, Principal
from tokensmith.web.lean import install_lean_routes
from tokensmith.web.middleware import (
    BodyLimit,
    ForwardedScheme,
    NoSlashRedirect,
    SecurityHeaders,
)
from tokensmith.web.ratelimit import RateLimits
from tokensmith.web.routes_accounts import account_routes
from tokensmith.web.routes_discovery import discovery_routes
from tokensmith.web.routes_oauth import oauth_routes
from tokensmith.web.routes_recovery import recovery_routes
from tokensmith.web.routes_revocations import revocation_routes
from tokensmith.web.routes_sessions import session_routes
from tokensmith.web.routes_tokens import token_routes
from tokensmith.web.token_response import TokenResponder
from tokensmith.web.transport import ClientAddress, CookieTransport

__all__ = ["Principal", "Tokensmith"]


class Tokensmith:
    """tokensmith in a FastAPI app.

    ``users``: the app's :class:`~tokensmith.UserDirectory` (default: tokensmith's own user
    table, whose password routes then exist). ``claims``: ``async def claims(subject) -> dict``,
    extra claims for access tokens, asked at login and at every refresh.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        users: UserDirectory | None = None,
        claims: ClaimsHook | None = None,
        services: Services | None = None,
        clock: Clock | None = None,
        argon2: Argon2Parameters = OWASP_2023,
        prefix: str = "/auth",
    ) -> None:
        if users is not None and not callable(getattr(users, "get", None)):
            raise TypeError("users= must be a UserDirectory: an object with 'async def get(id)'")
        if claims is not None and not callable(claims):
            raise TypeError("claims= must be 'async def claims(subject) -> dict'")
        self.settings = settings
        if users is None and services is None:
            check_recovery_settings(settings)  # SMTP_URL and PUBLIC_URL in production
        self.services = services or build_services(
            settings, clock=clock, argon2=argon2, users=users, claims=claims
        )
        self.addresses = ClientAddress(tuple(settings.trusted_proxies))
        self.cookies = CookieTransport(settings.cookie_samesite, settings.is_production)
        self.rate_limits = RateLimits(
            settings.rate_limit_login,
            settings.rate_limit_refresh,
            settings.rate_limit_register,
            storage=self.services.rate_limit_storage,
            extra={
                "login_ip": settings.rate_limit_login_ip,
                "login_account": settings.rate_limit_login_account,
                "password": settings.rate_limit_password,
                "password_ip": settings.rate_limit_password_ip,
                "recovery": settings.rate_limit_recovery,
            },
        )
        self.client_auth = ClientAuthenticator(
            self.services.service_clients, self.rate_limits, self.addresses
        )
        self.errors = ErrorPresenter()
        self.guards = Guards(self.services.sessions, self.services.clock)
        self.respond = TokenResponder(self.cookies, self.addresses)
        self.prefix = prefix
        self.router = self._build_router()
        self.root_router = discovery_routes(
            settings,
            self.services.sessions,
            self.client_auth,
            self.rate_limits,
            self.addresses,
            prefix=prefix,
        )
        """Discovery (``/.well-known/...``) and ``/oauth/token``, outside ``prefix``."""

    def __repr__(self) -> str:
        return f"Tokensmith({self.services!r})"

    # -- dependencies ------------------------------------------------------------------------

    @property
    def principal(self) -> Guard:
        """``Depends(auth.principal)``: the verified claims, or a 401 with WWW-Authenticate.
        Costs one signature check and one set lookup (see :mod:`tokensmith.web.guards`).

        The guard itself, not a method wrapping it: FastAPI calls it on every guarded request."""
        return self.guards.principal

    def require_scopes(self, *scopes: str) -> Guard:
        """``Depends(auth.require_scopes("orders:read"))``: the principal when the token's
        ``scope`` holds every scope named, else 403 ``INSUFFICIENT_SCOPE``. No I/O."""
        return self.guards.require_scopes(*scopes)

    def require_recent_login(self, max_age: int | timedelta = 300) -> Guard:
        """``Depends(auth.require_recent_login(max_age=300))``: the principal when the user
        authenticated at most ``max_age`` seconds ago, else 401 ``STEP_UP_REQUIRED``
        (RFC 9470). No I/O."""
        return self.guards.require_recent_login(max_age)

    async def current_user(self, request: Request) -> User | Subject:
        """``Depends(auth.current_user)``: the user of the token: the account for tokensmith's
        own users (cached after the first read), else the directory's subject."""
        claims = await self.guards.principal(request)
        user = await self.services.subjects.current(claims.sub)
        if user is None:
            raise TokenRevoked("This account no longer exists or is disabled")
        return user

    def context(self, request: Request) -> RequestContext:
        return request_context(self.addresses, request)

    # -- events (contract 9) -----------------------------------------------------------------

    def on(self, event: str, handler: EventHandler | None = None) -> Any:
        """Call ``handler(event)`` for every ``event`` (``session.reuse_detected``, ...), with the
        webhook's body ``{"id", "type", "createdAt", "data"}``: after the change committed, at
        least once (the same ``id`` when called again), from the outbox worker. Without
        ``handler``, a decorator: ``@auth.on("session.reuse_detected")``."""
        if handler is None:

            def register(function: EventHandler) -> EventHandler:
                return self.services.events.on(event, function)

            return register
        return self.services.events.on(event, handler)

    # -- your users (contract 8) -------------------------------------------------------------

    async def start_session(
        self,
        subject_id: str,
        request: Request | None = None,
        *,
        amr: Sequence[str] = ("pwd",),
        remember: bool = True,
    ) -> IssuedTokens:
        """Open a session for a user the app authenticated itself (social login, SSO, a magic
        link, its own MFA) and return its tokens; :meth:`token_response` answers with them.

        The directory is asked about ``subject_id`` (unknown or inactive:
        ``INVALID_CREDENTIALS``) and the claims hook runs; ``request`` gives the session list
        and the audit log the client's address and User-Agent.
        """
        ctx = self.context(request) if request is not None else RequestContext()
        return await self.services.sessions.start(subject_id, ctx, amr=amr, remember=remember)

    async def renew_login(
        self,
        principal: Principal,
        request: Request | None = None,
        *,
        amr: Sequence[str] = ("pwd",),
    ) -> IssuedTokens:
        """The app verified the signed-in user again (a new magic link, a one-time code):
        renew ``auth_time`` inside the same session, for routes behind
        :meth:`require_recent_login`. The refresh cookie, when the request has one, is rotated."""
        ctx = self.context(request) if request is not None else RequestContext()
        refresh = self.cookies.refresh_cookie(request) if request is not None else None
        return await self.services.sessions.reauthenticate(
            principal, ctx, amr=amr, refresh_token=refresh
        )

    def token_response(
        self, tokens: IssuedTokens, request: Request, *, status_code: int = 200
    ) -> JSONResponse:
        """The login response of contract 5.1 for ``tokens``: the refresh token in the body, or
        in the HttpOnly cookie when the request asks for ``X-Token-Transport: cookie`` (or its
        refresh token came as the cookie)."""
        from_cookie = tokens.user is None and self.cookies.refresh_cookie(request) is not None
        return self.respond(request, tokens, status_code=status_code, from_cookie=from_cookie)

    # -- wiring ------------------------------------------------------------------------------

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        await self.services.start()
        try:
            yield
        finally:
            await self.services.stop()

    def install(self, app: FastAPI) -> None:
        """Error handlers in the contract's shape, the body limit, no-store, and the routes
        (``/auth/refresh`` on its lean path first: ``tokensmith.web.lean``)."""
        self.errors.install(app)
        install_lean_routes(app, self)  # innermost: inside the body limit and the headers
        app.add_middleware(SecurityHeaders, no_store_prefix=self.prefix)
        app.add_middleware(BodyLimit, presenter=self.errors)
        app.add_middleware(NoSlashRedirect, presenter=self.errors, prefix=self.prefix)
        app.add_middleware(ForwardedScheme, addresses=self.addresses)
        app.include_router(self.router)
        app.include_router(self.root_router)

    def _build_router(self) -> APIRouter:
        services = self.services
        router = APIRouter(prefix=self.prefix, tags=["auth"])
        router.include_router(
            account_routes(
                services.accounts,
                services.subjects,
                self.guards,
                self.rate_limits,
                self.addresses,
                self.cookies,
                self.respond,
            )
        )
        router.include_router(
            token_routes(
                services.sessions,
                self.guards,
                self.rate_limits,
                self.addresses,
                self.cookies,
                self.respond,
            )
        )
        router.include_router(
            session_routes(
                services.sessions, self.guards, self.addresses, self.client_auth, self.respond
            )
        )
        if services.recovery is not None:
            router.include_router(
                recovery_routes(services.recovery, self.guards, self.rate_limits, self.addresses)
            )
        router.include_router(
            oauth_routes(services.introspector, self.client_auth, self.rate_limits, self.addresses)
        )
        if services.broadcaster is not None:
            router.include_router(revocation_routes(services.broadcaster, self.client_auth))
        return router

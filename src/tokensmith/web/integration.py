"""``Tokensmith``: the FastAPI integration, mountable in any app.

It owns the services (built from settings), the dependencies that guard routes, and the
``/auth`` router. The standalone server (``tokensmith.server``) is built from it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request

from tokensmith.core.clock import Clock
from tokensmith.core.models import AccessClaims, User
from tokensmith.core.passwords import OWASP_2023, Argon2Parameters
from tokensmith.core.sessions import RequestContext
from tokensmith.runtime import Services, build_services
from tokensmith.settings import Settings
from tokensmith.web.client_auth import ClientAuthenticator
from tokensmith.web.errors import install_error_handlers
from tokensmith.web.middleware import BodyLimit, SecurityHeaders
from tokensmith.web.ratelimit import RateLimits
from tokensmith.web.transport import ClientAddress, CookieTransport, bearer_token

__all__ = ["Principal", "Tokensmith"]

Principal = AccessClaims
"""What a guarded route receives: the verified claims (``sub``, ``sid``, ``email``, ...)."""


class Tokensmith:
    def __init__(
        self,
        settings: Settings,
        *,
        services: Services | None = None,
        clock: Clock | None = None,
        argon2: Argon2Parameters = OWASP_2023,
        prefix: str = "/auth",
    ) -> None:
        self.settings = settings
        self.services = services or build_services(settings, clock=clock, argon2=argon2)
        self.addresses = ClientAddress(tuple(settings.trusted_proxies))
        self.cookies = CookieTransport(settings.cookie_samesite, settings.is_production)
        self.rate_limits = RateLimits(
            settings.rate_limit_login,
            settings.rate_limit_refresh,
            settings.rate_limit_register,
            storage=self.services.rate_limit_storage,
        )
        self.client_auth = ClientAuthenticator(
            self.services.service_clients, self.rate_limits, self.addresses
        )
        self.prefix = prefix
        self.router = self._build_router()

    def __repr__(self) -> str:
        return f"Tokensmith({self.services!r})"

    # -- dependencies ------------------------------------------------------------------------

    async def principal(self, request: Request) -> Principal:
        """``Depends(auth.principal)``: the verified claims, or a 401 with WWW-Authenticate.
        Costs one signature check and one set lookup: no database, no network."""
        token = bearer_token(request.headers.get("authorization"))
        return self.services.sessions.authenticate(token)

    async def current_user(self, request: Request) -> User:
        """``Depends(auth.current_user)``: the user of the token (cached after the first read)."""
        claims = await self.principal(request)
        return await self.services.accounts.get_user(claims.sub)

    def context(self, request: Request) -> RequestContext:
        return RequestContext(self.addresses.of(request), request.headers.get("user-agent"))

    # -- wiring ------------------------------------------------------------------------------

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        await self.services.start()
        try:
            yield
        finally:
            await self.services.stop()

    def install(self, app: FastAPI) -> None:
        """Error handlers in the contract's shape, the body limit, no-store, and the routes."""
        install_error_handlers(app)
        app.add_middleware(SecurityHeaders, no_store_prefix=self.prefix)
        app.add_middleware(BodyLimit)
        app.include_router(self.router)

    def _build_router(self) -> APIRouter:
        from tokensmith.web.routes_accounts import account_routes
        from tokensmith.web.routes_oauth import oauth_routes
        from tokensmith.web.routes_sessions import session_routes
        from tokensmith.web.routes_tokens import token_routes

        router = APIRouter(prefix=self.prefix, tags=["auth"])
        router.include_router(account_routes(self))
        router.include_router(token_routes(self))
        router.include_router(session_routes(self))
        router.include_router(oauth_routes(self))
        return router

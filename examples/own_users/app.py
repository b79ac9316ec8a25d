"""An app with its own users and a magic-link login, using tokensmith only for sessions.

The app owns its user table (SQLAlchemy, its own database) and decides who its users are: a
visitor asks for a sign-in link, the app "mails" it (prints it), and opening the link starts a
tokensmith session with ``auth.start_session``. tokensmith asks the app's directory about the
user at every refresh (a deactivated user is out within one access-token lifetime) and the app's
claims hook turns the user's role into scopes.

Run it::

    .venv/bin/uvicorn examples.own_users.app:create_app --factory --port 8001

then ``curl -X POST localhost:8001/login -H 'content-type: application/json'
-d '{"email": "ada@example.com"}'`` and follow the link it prints (docs/integration.md walks
through every step).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any, Final

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, EmailStr
from sqlalchemy import Boolean, Column, DateTime, MetaData, String, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tokensmith import Subject, Tokensmith, load_settings
from tokensmith.core.clock import Clock, SystemClock
from tokensmith.errors import InvalidCredentials
from tokensmith.web import Principal

__all__ = ["AppUsers", "RoleClaims", "add_user", "create_app"]

LINK_LIFETIME = timedelta(minutes=15)

# -- the app's own tables ------------------------------------------------------------------------

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200)),
    Column("role", String(20), nullable=False, default="member"),
    Column("active", Boolean, nullable=False, default=True),
)

sign_in_links = Table(
    "sign_in_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # the link's token is never stored
    Column("user_id", String(36), nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("used", Boolean, nullable=False, default=False),
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- what tokensmith asks the app ----------------------------------------------------------------


class AppUsers:
    """The app's user table as a tokensmith ``UserDirectory``: asked at each session start and
    each refresh, never on a protected request."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, subject_id: str) -> Subject | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.id == subject_id))).first()
        if row is None:
            return None  # the user was deleted: their sessions end at the next refresh
        return Subject(row.id, email=row.email, name=row.name, active=row.active)


SCOPES_OF_ROLE: Final = {"member": "orders:read", "admin": "orders:read orders:write"}


class RoleClaims:
    """The claims hook: the user's role, as scopes, in every access token."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def __call__(self, subject: Subject) -> dict[str, Any]:
        async with self._engine.connect() as conn:
            role = (
                await conn.execute(select(users.c.role).where(users.c.id == subject.id))
            ).scalar_one()
        return {"scope": SCOPES_OF_ROLE.get(role, ""), "role": role}


# -- the app --------------------------------------------------------------------------------------


class LinkRequest(BaseModel):
    email: EmailStr


class LinkOpened(BaseModel):
    token: str


def create_app(
    *,
    env: dict[str, str] | None = None,
    app_database_url: str | None = None,
    clock: Clock | None = None,
    send_link: Callable[[str, str], None] | None = None,
    base_url: str = "http://127.0.0.1:8001",
) -> FastAPI:
    """``send_link(email, url)`` delivers a sign-in link (default: print it)."""
    clock = clock or SystemClock()
    settings = load_settings(env)
    Path(settings.tokensmith_data_dir).mkdir(parents=True, exist_ok=True)
    app_db = app_database_url or f"sqlite+aiosqlite:///{settings.tokensmith_data_dir / 'app.db'}"
    engine = create_async_engine(app_db)
    auth = Tokensmith(settings, users=AppUsers(engine), claims=RoleClaims(engine), clock=clock)
    deliver = send_link or (lambda email, url: print(f"sign-in link for {email}: {url}"))
    readers = auth.require_scopes("orders:read")
    writers = auth.require_scopes("orders:write")
    recent = auth.require_recent_login(max_age=300)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with auth.lifespan(app):
            yield
        await engine.dispose()

    app = FastAPI(title="own users example", lifespan=lifespan)
    app.state.tokensmith = auth
    app.state.engine = engine
    auth.install(app)  # refresh, logout, sessions, /auth/me, the error shape

    async def new_link(user_id: str, email: str, path: str) -> None:
        token = secrets.token_urlsafe(32)
        async with engine.begin() as conn:
            await conn.execute(
                insert(sign_in_links).values(
                    token_hash=_hash(token),
                    user_id=user_id,
                    expires_at=(clock.now() + LINK_LIFETIME).astimezone(UTC).replace(tzinfo=None),
                )
            )
        deliver(email, f"{base_url}{path}?token={token}")

    async def spend_link(token: str) -> str:
        """The user id of an unused, unexpired link, which is now used; else 401."""
        now = clock.now().astimezone(UTC).replace(tzinfo=None)
        async with engine.begin() as conn:
            user_id = (
                await conn.execute(
                    update(sign_in_links)
                    .where(
                        sign_in_links.c.token_hash == _hash(token),
                        sign_in_links.c.used.is_(False),
                        sign_in_links.c.expires_at > now,
                    )
                    .values(used=True)
                    .returning(sign_in_links.c.user_id)
                )
            ).scalar_one_or_none()
        if user_id is None:
            raise InvalidCredentials("This sign-in link is not valid: used, expired or unknown")
        return str(user_id)

    @app.post("/login", status_code=202)
    async def request_link(body: LinkRequest) -> dict[str, str]:
        """Mail a sign-in link. The same answer whether or not the email is known."""
        async with engine.connect() as conn:
            row = (
                await conn.execute(select(users).where(users.c.email == body.email.lower()))
            ).first()
        if row is not None and row.active:
            await new_link(row.id, row.email, "/login/verify")
        return {"message": "If the address is known, a sign-in link is on its way"}

    @app.post("/login/verify")
    async def open_link(body: LinkOpened, request: Request) -> JSONResponse:
        """The link was opened: the app has authenticated the user, tokensmith opens the
        session (send ``X-Token-Transport: cookie`` for the cookie transport)."""
        user_id = await spend_link(body.token)
        tokens = await auth.start_session(user_id, request, amr=("otp",))
        return auth.token_response(tokens, request)

    @app.post("/login/confirm", status_code=202)
    async def request_step_up(principal: Principal = Depends(auth.principal)) -> dict[str, str]:
        """A fresh link to prove, again, who is signed in (for routes needing a recent login)."""
        if principal.email:
            await new_link(principal.sub, principal.email, "/login/confirm/verify")
        return {"message": "A confirmation link is on its way"}

    @app.post("/login/confirm/verify")
    async def confirm(
        body: LinkOpened, request: Request, principal: Principal = Depends(auth.principal)
    ) -> JSONResponse:
        """The confirmation link was opened: the same session, a new ``auth_time``."""
        if await spend_link(body.token) != principal.sub:
            raise InvalidCredentials("This link was sent to someone else")
        tokens = await auth.renew_login(principal, request, amr=("otp",))
        return auth.token_response(tokens, request)

    @app.get("/orders")
    async def list_orders(principal: Principal = Depends(readers)) -> dict[str, Any]:
        """Needs the ``orders:read`` scope. No database query for the check."""
        return {"orders": [], "for": principal.sub}

    @app.post("/orders", status_code=201)
    async def place_order(principal: Principal = Depends(writers)) -> dict[str, Any]:
        """Needs ``orders:write``: admins only."""
        return {"placed": True, "by": principal.sub}

    @app.post("/account/close")
    async def close_account(principal: Principal = Depends(recent)) -> dict[str, str]:
        """Needs a login in the last 5 minutes (else 401 STEP_UP_REQUIRED)."""
        async with engine.begin() as conn:
            await conn.execute(
                update(users).where(users.c.id == principal.sub).values(active=False)
            )
        return {"message": "Account closed; its sessions end at their next refresh"}

    return app


async def add_user(engine: AsyncEngine, email: str, name: str, role: str = "member") -> str:
    """Create a user of the app (what its own sign-up would do); returns the id."""
    user_id = secrets.token_hex(8)
    async with engine.begin() as conn:
        await conn.execute(
            insert(users).values(id=user_id, email=email.lower(), name=name, role=role, active=True)
        )
    return user_id

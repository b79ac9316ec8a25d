"""Accounts: register, log in, change the password, disable; and the user cache.

``/auth/me`` must not cost a database query per request, and a user's public fields never change
through the API, so users are cached in-process once read. Disabling a user drops them from the
cache and ends their sessions, which the revocation set enforces at once.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict

from tokensmith.core.clock import Clock
from tokensmith.core.models import AuditEvent, AuditKind, IssuedTokens, RevokeReason, User
from tokensmith.core.passwords import PasswordHasher
from tokensmith.core.ports import Database, UnitOfWork
from tokensmith.core.revoker import Revoker
from tokensmith.core.sessions import RequestContext, SessionService
from tokensmith.errors import InvalidCredentials, NotFound, TokenRevoked

__all__ = ["AccountService", "LoginResult", "normalise_email"]


class LoginResult:
    __slots__ = ("tokens", "user")

    def __init__(self, user: User, tokens: IssuedTokens) -> None:
        self.user = user
        self.tokens = tokens

    def __repr__(self) -> str:
        return f"LoginResult(user={self.user.id!r})"


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively (the contract's EMAIL_TAKEN rule)."""
    return email.strip().lower()


class _UserCache:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._users: OrderedDict[str, User] = OrderedDict()

    def get(self, user_id: str) -> User | None:
        user = self._users.get(user_id)
        if user is not None:
            self._users.move_to_end(user_id)
        return user

    def put(self, user: User) -> None:
        self._users[user.id] = user
        self._users.move_to_end(user.id)
        while len(self._users) > self._capacity:
            self._users.popitem(last=False)

    def drop(self, user_id: str) -> None:
        self._users.pop(user_id, None)


class AccountService:
    def __init__(
        self,
        database: Database,
        hasher: PasswordHasher,
        sessions: SessionService,
        revoker: Revoker,
        clock: Clock,
        *,
        cache_size: int = 100_000,
    ) -> None:
        self._db = database
        self._hasher = hasher
        self._sessions = sessions
        self._revoker = revoker
        self._clock = clock
        self._cache = _UserCache(cache_size)

    def __repr__(self) -> str:
        return "AccountService()"

    async def register(
        self, email: str, password: str, name: str | None, ctx: RequestContext
    ) -> User:
        password_hash = await self._hasher.hash(password)
        now = self._clock.now().replace(microsecond=0)
        user = User(id=str(uuid.uuid4()), email=normalise_email(email), name=name, created_at=now)
        async with self._db.transaction(write=True) as uow:
            await uow.users.add(user, password_hash)  # raises EmailTaken
            await uow.audit.add(
                AuditEvent(AuditKind.REGISTER, now, user.id, None, ctx.ip, ctx.user_agent)
            )
        self._cache.put(user)
        return user

    async def login(self, email: str, password: str, ctx: RequestContext) -> LoginResult:
        """Unknown email and wrong password give the same error after the same work (one argon2
        verification either way), so neither the answer nor its timing tells them apart."""
        email_key = normalise_email(email)
        async with self._db.transaction() as uow:
            record = await uow.users.by_email(email_key)
        usable = record is not None and record.disabled_at is None
        password_hash = record.password_hash if record is not None and usable else None
        if not await self._hasher.verify(password_hash, password) or record is None:
            await self._audit_failed_login(email_key, record.user.id if record else None, ctx)
            raise InvalidCredentials()
        user = record.user
        # Hash outside the transaction: no lock is held while argon2 runs.
        rehashed = (
            await self._hasher.hash(password)
            if self._hasher.needs_rehash(record.password_hash)
            else None
        )
        async with self._db.transaction(write=True) as uow:
            if rehashed is not None:
                await uow.users.set_password_hash(user.id, rehashed)
            tokens = await self._sessions.start(uow, user, ctx)
            await uow.audit.add(
                AuditEvent(
                    AuditKind.LOGIN,
                    self._clock.now(),
                    user.id,
                    tokens.session_id,
                    ctx.ip,
                    ctx.user_agent,
                )
            )
        self._cache.put(user)
        return LoginResult(user, tokens)

    async def _audit_failed_login(
        self, email_key: str, user_id: str | None, ctx: RequestContext
    ) -> None:
        async with self._db.transaction(write=True) as uow:
            await uow.audit.add(
                AuditEvent(
                    AuditKind.LOGIN_FAILED,
                    self._clock.now(),
                    user_id,
                    None,
                    ctx.ip,
                    ctx.user_agent,
                    {"email": email_key[:320], "known_user": user_id is not None},
                )
            )

    async def get_user(self, user_id: str) -> User:
        """The user of a valid access token; from the cache after the first read."""
        user = self._cache.get(user_id)
        if user is not None:
            return user
        async with self._db.transaction() as uow:
            record = await uow.users.by_id(user_id)
        if record is None or record.disabled_at is not None:
            raise TokenRevoked("This account no longer exists or is disabled")
        self._cache.put(record.user)
        return record.user

    async def email_of(self, uow: UnitOfWork, user_id: str) -> str | None:
        """For refresh: the email to put in the new access token (None: user gone or disabled)."""
        user = self._cache.get(user_id)
        if user is not None:
            return user.email
        record = await uow.users.by_id(user_id)
        if record is None or record.disabled_at is not None:
            return None
        self._cache.put(record.user)
        return record.user.email

    async def change_password(
        self,
        user_id: str,
        session_id: str,
        current_password: str,
        new_password: str,
        ctx: RequestContext,
    ) -> int:
        """Change the password and end every *other* session; returns how many ended."""
        async with self._db.transaction() as uow:
            record = await uow.users.by_id(user_id)
        if record is None:
            raise TokenRevoked("This account no longer exists")
        if not await self._hasher.verify(record.password_hash, current_password):
            raise InvalidCredentials("The current password is wrong")
        new_hash = await self._hasher.hash(new_password)
        now = self._clock.now().replace(microsecond=0)
        async with self._db.transaction(write=True) as uow:
            await uow.users.set_password_hash(user_id, new_hash)
            others = [
                sid
                for sid in await uow.sessions.revocable_ids_for_user(
                    user_id, now - self._revoker.horizon
                )
                if sid != session_id
            ]
            revoked = await self._sessions.end(
                others, RevokeReason.PASSWORD_CHANGED, uow=uow, now=now
            )
            await uow.audit.add(
                AuditEvent(
                    AuditKind.PASSWORD_CHANGED,
                    now,
                    user_id,
                    session_id,
                    ctx.ip,
                    ctx.user_agent,
                    {"sessions_revoked": len(revoked)},
                )
            )
        await self._revoker.announce(self._revoker.revocations_for(revoked, now))
        return len(revoked)

    async def create_user(self, email: str, password: str, name: str | None) -> User:
        """For the CLI: the same as registering, with no request behind it."""
        return await self.register(email, password, name, RequestContext(None, "tokensmith-cli"))

    async def disable(self, email: str, ctx: RequestContext) -> int:
        """Disable an account: it can no longer log in, and its sessions end at once."""
        now = self._clock.now().replace(microsecond=0)
        async with self._db.transaction(write=True) as uow:
            record = await uow.users.by_email(normalise_email(email))
            if record is None:
                raise NotFound(f"No user with the email {normalise_email(email)!r}")
            await uow.users.disable(record.user.id, now)
            ids = await uow.sessions.revocable_ids_for_user(
                record.user.id, now - self._revoker.horizon
            )
            revoked = await self._sessions.end(ids, RevokeReason.USER_DISABLED, uow=uow, now=now)
            await uow.audit.add(
                AuditEvent(
                    AuditKind.USER_DISABLED,
                    now,
                    record.user.id,
                    None,
                    ctx.ip,
                    ctx.user_agent,
                    {"sessions_revoked": len(revoked)},
                )
            )
        self._cache.drop(record.user.id)
        await self._revoker.announce(self._revoker.revocations_for(revoked, now))
        return len(revoked)

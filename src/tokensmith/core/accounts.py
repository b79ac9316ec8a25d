"""Accounts of tokensmith's own user table: register, log in with a password, reauthenticate,
change the password, disable.

The table is also the default user directory (:mod:`tokensmith.core.user_table`), which holds the
one in-process cache of users; this service tells it about accounts it creates, logs in to and
disables.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from tokensmith.core.audit import AuditTrail, RequestContext
from tokensmith.core.clock import Clock, whole_seconds
from tokensmith.core.directory import Subject
from tokensmith.core.ending import SessionEnder
from tokensmith.core.models import (
    AccessClaims,
    AuditKind,
    IssuedTokens,
    RevokeReason,
    User,
    UserRecord,
)
from tokensmith.core.passwords import PasswordHasher
from tokensmith.core.ports import Database, UnitOfWork
from tokensmith.core.sessions import SessionService
from tokensmith.core.subjects import Subjects
from tokensmith.core.user_table import UserTable
from tokensmith.errors import (
    EmailNotVerified,
    InvalidCredentials,
    NotFound,
    PasswordMismatch,
    RegistrationClosed,
    TokenRevoked,
)

__all__ = ["AccountService", "LoginResult", "NewAccountHook", "normalise_email"]

NewAccountHook = Callable[[UnitOfWork, User, datetime], Awaitable[None]]
"""Called in the transaction that creates an account (the verification mail, contract 9)."""


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


class AccountService:
    def __init__(
        self,
        database: Database,
        hasher: PasswordHasher,
        sessions: SessionService,
        clock: Clock,
        *,
        table: UserTable,
        subjects: Subjects,
        ender: SessionEnder,
        trail: AuditTrail,
        registration_open: bool = True,
        require_verified_email: bool = False,
        on_new_account: NewAccountHook | None = None,
    ) -> None:
        self._db = database
        self._hasher = hasher
        self._sessions = sessions
        self._clock = clock
        self._table = table
        self._subjects = subjects
        self._ender = ender
        self._trail = trail
        self._registration_open = registration_open
        self._require_verified_email = require_verified_email
        self._on_new_account = on_new_account

    def __repr__(self) -> str:
        return f"AccountService(registration={'open' if self._registration_open else 'closed'})"

    async def register(
        self, email: str, password: str, name: str | None, ctx: RequestContext
    ) -> User:
        """``POST /auth/register``; 403 ``REGISTRATION_CLOSED`` under ``REGISTRATION=closed``."""
        if not self._registration_open:
            raise RegistrationClosed(
                "Registration is closed: accounts are created by an operator or the app"
            )
        return await self._create(email, password, name, ctx)

    async def create_user(self, email: str, password: str, name: str | None) -> User:
        """For the CLI: an account, whether or not registration is open."""
        return await self._create(email, password, name, RequestContext(None, "tokensmith-cli"))

    async def _create(
        self, email: str, password: str, name: str | None, ctx: RequestContext
    ) -> User:
        password_hash = await self._hasher.hash(password)
        now = whole_seconds(self._clock.now())
        user = User(id=str(uuid.uuid4()), email=normalise_email(email), name=name, created_at=now)
        async with self._db.transaction(write=True) as uow:
            await uow.users.add(user, password_hash)  # raises EmailTaken
            await self._trail.record(uow, AuditKind.REGISTER, now, ctx, user_id=user.id)
            if self._on_new_account is not None:
                await self._on_new_account(uow, user, now)
        self._table.remember(user)
        return user

    async def login(
        self, email: str, password: str, ctx: RequestContext, *, remember: bool = True
    ) -> LoginResult:
        """Unknown email and wrong password give the same error after the same work (one argon2
        verification either way), so neither the answer nor its timing tells them apart."""
        email_key = normalise_email(email)
        record = await self._db.user_by_email(email_key)
        usable = record is not None and record.disabled_at is None
        password_hash = record.password_hash if record is not None and usable else None
        if not await self._hasher.verify(password_hash, password) or record is None:
            await self._audit_failed_login(email_key, record.user.id if record else None, ctx)
            raise InvalidCredentials()
        user = record.user
        if self._require_verified_email and not user.email_verified:
            # Only after the password matched: the answer tells nothing to a stranger.
            raise EmailNotVerified()
        subject = await self._subject_of(record)
        if subject is None:
            await self._audit_failed_login(email_key, user.id, ctx)
            raise InvalidCredentials()
        hook_claims = await self._subjects.claims(subject)
        # Hash outside the transaction: no lock is held while argon2 runs.
        rehashed = (
            await self._hasher.hash(password)
            if self._hasher.needs_rehash(record.password_hash)
            else None
        )
        if rehashed is not None:  # kept even if opening the session then fails: both are good
            async with self._db.transaction(write=True) as uow:
                await uow.users.set_password_hash(user.id, rehashed)
        tokens = await self._sessions.opening.open_new(
            subject, ctx, amr=("pwd",), remember=remember, hook_claims=hook_claims, via="password"
        )
        self._table.remember(user)
        return LoginResult(user, replace(tokens, user=user))

    async def _subject_of(self, record: UserRecord) -> Subject | None:
        """The directory's answer for an account that just passed its password check: the
        account itself when the table is the directory, else whatever the directory says."""
        if self._subjects.is_own_table:
            user = record.user
            return Subject(user.id, email=user.email, name=user.name)
        subject = await self._subjects.get(record.user.id)
        return subject if subject is not None and subject.active else None

    async def _audit_failed_login(
        self, email_key: str, user_id: str | None, ctx: RequestContext
    ) -> None:
        async with self._db.transaction(write=True) as uow:
            await self._trail.record(
                uow,
                AuditKind.LOGIN_FAILED,
                whole_seconds(self._clock.now()),
                ctx,
                user_id=user_id,
                email=email_key[:320],
                known_user=user_id is not None,
            )

    async def _check_password(
        self, user_id: str, session_id: str, password: str, ctx: RequestContext, action: str
    ) -> UserRecord:
        """The account of a signed-in user whose password was just typed again; a wrong one is
        audited (``password_failed``) and raises :class:`PasswordMismatch`."""
        async with self._db.transaction() as uow:
            record = await uow.users.by_id(user_id)
        if record is None or record.disabled_at is not None:
            raise TokenRevoked("This account no longer exists or is disabled")
        if not await self._hasher.verify(record.password_hash, password):
            async with self._db.transaction(write=True) as uow:
                await self._trail.record(
                    uow,
                    AuditKind.PASSWORD_FAILED,
                    whole_seconds(self._clock.now()),
                    ctx,
                    user_id=user_id,
                    session_id=session_id,
                    action=action,
                )
            raise PasswordMismatch()
        return record

    async def end_session_after_wrong_passwords(
        self, user_id: str, session_id: str, ctx: RequestContext
    ) -> None:
        """A signed-in session sent too many wrong passwords (the caller counts them): whoever
        holds its tokens is guessing, so the session ends, audited as ``password_guessing``."""
        async with self._ender.transaction() as ending:
            ended = await ending.end([session_id], RevokeReason.PASSWORD_GUESSING)
            await ending.record(
                AuditKind.SESSION_REVOKED,
                ctx,
                user_id=user_id,
                session_id=session_id,
                ended=ended,
                reason=RevokeReason.PASSWORD_GUESSING.value,
            )

    async def reauthenticate(
        self,
        access: AccessClaims,
        password: str,
        ctx: RequestContext,
        *,
        refresh_token: str | None = None,
    ) -> IssuedTokens:
        """``POST /auth/reauthenticate``: the password again renews the session's
        ``auth_time`` (a wrong one is 403, the token being fine)."""
        await self._check_password(access.sub, access.sid, password, ctx, "reauthenticate")
        return await self._sessions.reauthenticate(
            access, ctx, amr=("pwd",), refresh_token=refresh_token
        )

    async def change_password(
        self,
        user_id: str,
        session_id: str,
        current_password: str,
        new_password: str,
        ctx: RequestContext,
    ) -> int:
        """Change the password and end every *other* session; returns how many ended."""
        try:
            await self._check_password(
                user_id, session_id, current_password, ctx, "change_password"
            )
        except PasswordMismatch:
            raise PasswordMismatch("The current password is wrong") from None
        new_hash = await self._hasher.hash(new_password)
        async with self._ender.transaction() as ending:
            await ending.uow.users.set_password_hash(user_id, new_hash)
            others = [sid for sid in await ending.revocable_ids(user_id) if sid != session_id]
            ended = await ending.end(others, RevokeReason.PASSWORD_CHANGED)
            await ending.record(
                AuditKind.PASSWORD_CHANGED,
                ctx,
                user_id=user_id,
                session_id=session_id,
                ended=ended,
                sessions_revoked=len(ended),
            )
        return len(ended)

    async def disable(self, email: str, ctx: RequestContext) -> int:
        """Disable an account: it can no longer log in, and its sessions end at once."""
        async with self._ender.transaction() as ending:
            record = await ending.uow.users.by_email(normalise_email(email))
            if record is None:
                raise NotFound(f"No user with the email {normalise_email(email)!r}")
            await ending.uow.users.disable(record.user.id, ending.now)
            ended = await ending.end(
                await ending.revocable_ids(record.user.id), RevokeReason.USER_DISABLED
            )
            await ending.record(
                AuditKind.USER_DISABLED,
                ctx,
                user_id=record.user.id,
                ended=ended,
                sessions_revoked=len(ended),
            )
        self._table.forget(record.user.id)
        return len(ended)

    async def set_password(self, email: str, new_password: str, ctx: RequestContext) -> int:
        """An operator sets the password (``tokensmith users set-password``): every session of
        the user ends. Returns how many ended."""
        new_hash = await self._hasher.hash(new_password)
        async with self._ender.transaction() as ending:
            record = await ending.uow.users.by_email(normalise_email(email))
            if record is None:
                raise NotFound(f"No user with the email {normalise_email(email)!r}")
            await ending.uow.users.set_password_hash(record.user.id, new_hash)
            ended = await ending.end(
                await ending.revocable_ids(record.user.id), RevokeReason.PASSWORD_CHANGED
            )
            await ending.record(
                AuditKind.PASSWORD_CHANGED,
                ctx,
                user_id=record.user.id,
                ended=ended,
                sessions_revoked=len(ended),
                by="operator",
            )
        return len(ended)

    async def enable(self, email: str, ctx: RequestContext) -> bool:
        """Enable a disabled account again (``tokensmith users enable``); False when it was not
        disabled. Its old sessions stay ended: the user logs in again."""
        now = whole_seconds(self._clock.now())
        async with self._db.transaction(write=True) as uow:
            record = await uow.users.by_email(normalise_email(email))
            if record is None:
                raise NotFound(f"No user with the email {normalise_email(email)!r}")
            changed = await uow.users.enable(record.user.id)
            if changed:
                await self._trail.record(
                    uow, AuditKind.USER_ENABLED, now, ctx, user_id=record.user.id
                )
        self._table.forget(record.user.id)
        return changed

"""Password reset and email verification (contract 9).

A link token is random, single use, bounded in lifetime, and stored only as its SHA-256 hash
(``one_time_tokens``). The mail that carries it waits in the outbox, written in the transaction
that stores the hash; the outbox row holds a random *nonce*, never the token:
``token = HMAC-SHA256(link key, nonce)``, recomputed by the worker when it renders the mail, with a
key derived from ``JWT_REFRESH_SECRET`` that the database never sees. A copy of the database
therefore holds nothing that resets a password.

``forgot`` does the same work for a known and an unknown email (one write transaction holding an
outbox row and an audit row) and answers the same; the outbox worker then creates the token and
the mail for a known account (:meth:`RecoveryService.resolve`), or nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from tokensmith.core.audit import AuditTrail, RequestContext
from tokensmith.core.clock import Clock, whole_seconds
from tokensmith.core.ending import SessionEnder
from tokensmith.core.models import (
    AuditKind,
    Channel,
    OneTimeToken,
    OutboxEntry,
    RevokeReason,
    User,
)
from tokensmith.core.outbox import OutboxWriter
from tokensmith.core.passwords import PasswordHasher
from tokensmith.core.ports import Database, UnitOfWork
from tokensmith.core.user_table import UserTable
from tokensmith.errors import InvalidResetToken

__all__ = [
    "EMAIL_VERIFICATION",
    "PASSWORD_RESET",
    "LinkTokens",
    "RecoveryPolicy",
    "RecoveryService",
    "hash_link_token",
]

PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a password
EMAIL_VERIFICATION = "email_verification"
MAX_TOKEN_LENGTH = 200


def hash_link_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LinkTokens:
    """Link tokens derived from a nonce with a key outside the database."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"tokensmith link tokens v1", hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "LinkTokens(<key>)"

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_hex(16)

    def token(self, nonce: str) -> str:
        digest = hmac.new(self._key, bytes.fromhex(nonce), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class RecoveryPolicy:
    reset_ttl: timedelta = timedelta(minutes=30)
    verification_ttl: timedelta = timedelta(days=1)


class RecoveryService:
    def __init__(
        self,
        database: Database,
        hasher: PasswordHasher,
        ender: SessionEnder,
        trail: AuditTrail,
        outbox: OutboxWriter,
        links: LinkTokens,
        clock: Clock,
        *,
        table: UserTable,
        policy: RecoveryPolicy | None = None,
    ) -> None:
        self._db = database
        self._hasher = hasher
        self._ender = ender
        self._trail = trail
        self._outbox = outbox
        self._links = links
        self._clock = clock
        self._table = table
        self._policy = policy or RecoveryPolicy()

    def __repr__(self) -> str:
        return f"RecoveryService({self._policy!r})"

    # -- password reset ----------------------------------------------------------------------

    async def forgot(self, email: str, ctx: RequestContext) -> None:
        """``POST /auth/password/forgot``: store the request; the outbox worker mails a reset link
        when ``email`` is an active account (:meth:`resolve`).

        A known and an unknown email cost exactly the same here: one lookup, one outbox row, one
        audit row, in one transaction. Whether a token and a mail follow is decided later, by the
        worker, never while the request waits (contract 9: the same answer in the same time)."""
        email_key = email.strip().lower()
        now = whole_seconds(self._clock.now())
        async with self._db.transaction(write=True) as uow:
            record = await uow.users.by_email(email_key)
            await self._outbox.add(
                uow, Channel.MAIL, PASSWORD_RESET, {"email": email_key[:320]}, now
            )
            await self._trail.record(
                uow,
                AuditKind.PASSWORD_RESET_REQUESTED,
                now,
                ctx,
                user_id=record.user.id if record is not None else None,
                email=email_key[:320],
                known_user=record is not None and record.disabled_at is None,
            )

    async def resolve(self, entry: OutboxEntry) -> OutboxEntry | None:
        """For the mail worker: a stored reset request becomes the mail to send, or None when
        the email is no active account (nothing to send). The token is derived from the entry's
        event id, so a retried entry stores the same hash once and mails the same link; it
        expires ``PASSWORD_RESET_EXPIRES_IN`` after the request."""
        if entry.type != PASSWORD_RESET or "nonce" in entry.payload:
            return entry
        nonce = uuid.UUID(entry.event_id).hex
        ttl = self._policy.reset_ttl
        async with self._db.transaction(write=True) as uow:
            record = await uow.users.by_email(str(entry.payload["email"]))
            if record is None or record.disabled_at is not None:
                return None
            await uow.tokens.add(
                OneTimeToken(
                    token_hash=hash_link_token(self._links.token(nonce)),
                    purpose=PASSWORD_RESET,
                    user_id=record.user.id,
                    email=record.user.email,
                    created_at=entry.created_at,
                    expires_at=entry.created_at + ttl,
                )
            )  # a retry finds the row there already: kept as it is
        payload = _link_payload(record.user, nonce, ttl)
        return replace(entry, payload=dict(payload))

    async def reset(self, token: str, new_password: str, ctx: RequestContext) -> None:
        """``POST /auth/password/reset``: set the password and end every session of the user.
        A used, expired or unknown token, or one of a disabled user: ``INVALID_RESET_TOKEN``."""
        # Hash first, outside the transaction, and whatever the token: no lock is held while
        # argon2 runs, and a bad token costs the same time as a good one.
        new_hash = await self._hasher.hash(new_password)
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidResetToken()
        async with self._ender.transaction() as ending:
            uow = ending.uow
            taken = await uow.tokens.take(hash_link_token(token), PASSWORD_RESET, ending.now)
            record = await uow.users.by_id(taken.user_id) if taken is not None else None
            if (
                taken is None
                or record is None
                or record.disabled_at is not None
                or record.user.email != taken.email  # the link was mailed to an older address
            ):
                raise InvalidResetToken()  # rolls back: nothing was spent
            user_id = record.user.id
            await uow.users.set_password_hash(user_id, new_hash)
            # Following the mailed link proved the mailbox is the user's.
            await uow.users.set_email_verified(user_id, ending.now)
            await uow.tokens.spend_all(user_id, PASSWORD_RESET, ending.now)
            ended = await ending.end(
                await ending.revocable_ids(user_id), RevokeReason.PASSWORD_RESET
            )
            await ending.record(
                AuditKind.PASSWORD_RESET,
                ctx,
                user_id=user_id,
                ended=ended,
                sessions_revoked=len(ended),
            )
        self._table.remember(replace(record.user, email_verified=True))

    # -- email verification -----------------------------------------------------------------

    async def request_verification(self, user_id: str, ctx: RequestContext) -> bool:
        """``POST /auth/email/verify/request``: mail a verification link (nothing when the
        email is verified already). Returns whether a mail was written."""
        now = whole_seconds(self._clock.now())
        async with self._db.transaction(write=True) as uow:
            record = await uow.users.by_id(user_id)
            if record is None or record.disabled_at is not None or record.user.email_verified:
                return False
            await self._mail_link(uow, record.user, EMAIL_VERIFICATION, now)
            await self._trail.record(
                uow, AuditKind.EMAIL_VERIFICATION_REQUESTED, now, ctx, user_id=user_id
            )
        return True

    async def mail_verification(self, uow: UnitOfWork, user: User, now: datetime) -> None:
        """A verification link for a new account, in the transaction that creates it."""
        await self._mail_link(uow, user, EMAIL_VERIFICATION, now)

    async def verify(self, token: str, ctx: RequestContext) -> User:
        """``POST /auth/email/verify``: the account, now verified."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidResetToken(_BAD_VERIFICATION)
        now = whole_seconds(self._clock.now())
        async with self._db.transaction(write=True) as uow:
            taken = await uow.tokens.take(hash_link_token(token), EMAIL_VERIFICATION, now)
            record = await uow.users.by_id(taken.user_id) if taken is not None else None
            if (
                taken is None
                or record is None
                or record.disabled_at is not None
                or record.user.email != taken.email
            ):
                raise InvalidResetToken(_BAD_VERIFICATION)
            await uow.users.set_email_verified(record.user.id, now)
            await self._trail.record(
                uow, AuditKind.EMAIL_VERIFIED, now, ctx, user_id=record.user.id
            )
        user = replace(record.user, email_verified=True)
        self._table.remember(user)
        return user

    async def mark_verified(self, user_id: str, ctx: RequestContext) -> None:
        """An operator vouches for the email (``tokensmith users verify-email``)."""
        now = whole_seconds(self._clock.now())
        async with self._db.transaction(write=True) as uow:
            await uow.users.set_email_verified(user_id, now)
            await self._trail.record(
                uow, AuditKind.EMAIL_VERIFIED, now, ctx, user_id=user_id, by="operator"
            )
        self._table.forget(user_id)

    # -- the link mail -----------------------------------------------------------------------

    async def _mail_link(self, uow: UnitOfWork, user: User, purpose: str, now: datetime) -> None:
        ttl = self._policy.reset_ttl if purpose == PASSWORD_RESET else self._policy.verification_ttl
        nonce = self._links.new_nonce()
        token = self._links.token(nonce)
        await uow.tokens.add(
            OneTimeToken(
                token_hash=hash_link_token(token),
                purpose=purpose,
                user_id=user.id,
                email=user.email,
                created_at=now,
                expires_at=now + ttl,
            )
        )
        await self._outbox.add(uow, Channel.MAIL, purpose, _link_payload(user, nonce, ttl), now)


def _link_payload(user: User, nonce: str, ttl: timedelta) -> Mapping[str, Any]:
    """What the mail renderer needs: never the token, only the nonce it is derived from."""
    return {
        "to": user.email,
        "name": user.name,
        "nonce": nonce,
        "expiresInMinutes": int(ttl.total_seconds() // 60),
    }


_BAD_VERIFICATION = "This verification link is not valid: it was used, it expired, or it is unknown"

"""tokensmith's own user table as a :class:`~tokensmith.core.directory.UserDirectory`.

Without ``users=``, this is the directory (contract 8): an account of the table is the subject
with its id, email and name, inactive once disabled. An id the table does not know is an
*external* subject, ``Subject(id)``: a user some other part of the system authenticated, whose
session a service client opened (``POST /auth/sessions``); only its refresh token and the
revocations keep that session in check.

This is the one in-process cache of users: ``/auth/me`` and every refresh read it instead of the
database. An account's public fields never change through the API (but ``emailVerified``, which
``/auth/me`` reads again every 30 s while it is false), and disabling one drops it here
and revokes its sessions (which every refresh checks), so a stale entry in another process cannot
keep a disabled user's session alive. :meth:`UserTable.get` always reads the database (session
starts use it); :meth:`UserTable.cached` serves refreshes.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from tokensmith.core.directory import Subject
from tokensmith.core.models import User, UserRecord
from tokensmith.core.ports import Database

__all__ = ["UserTable"]

_MISSING: object = object()

UNVERIFIED_FRESH_S = 30.0
"""How long ``/auth/me`` trusts a cached ``emailVerified: false`` (a cache freshness in real
time, not a token time)."""


class UserTable:
    def __init__(self, database: Database, *, capacity: int = 100_000) -> None:
        self._db = database
        self._capacity = capacity
        # user id -> the active account, or None for an id the table does not know (external).
        # Disabled accounts are never kept.
        self._cache: OrderedDict[str, User | None] = OrderedDict()
        self._unverified_read_at: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"UserTable(cached={len(self._cache)})"

    async def get(self, subject_id: str) -> Subject | None:
        """The subject as the table says now (a database read)."""
        return _subject(subject_id, await self._load(subject_id))

    async def cached(self, subject_id: str) -> Subject | None:
        """The subject from the cache; read (and cached) on a miss."""
        if subject_id in self._cache:
            self._cache.move_to_end(subject_id)
            user = self._cache[subject_id]
            return _subject_of(user) if user is not None else Subject(subject_id)
        return await self.get(subject_id)

    async def profile(self, subject_id: str) -> User | Subject | None:
        """What ``/auth/me`` shows: the account, ``Subject(id)`` for an external subject, or
        ``None`` for a disabled account. Cached."""
        cached = self._cache.get(subject_id, _MISSING)
        user: User | None
        if cached is None or (isinstance(cached, User) and self._fresh(cached)):
            self._cache.move_to_end(subject_id)
            user = cached
        else:
            record = await self._load(subject_id)
            if record is not None and record.disabled_at is not None:
                return None
            user = record.user if record is not None else None
        return user if user is not None else Subject(subject_id)

    def _fresh(self, user: User) -> bool:
        """A verified account is served from memory; an unverified one for
        ``UNVERIFIED_FRESH_S`` after it was read (another process may have verified it: the
        flag changes once, from false to true)."""
        if user.email_verified:
            return True
        read_at = self._unverified_read_at.get(user.id)
        return read_at is not None and time.monotonic() - read_at < UNVERIFIED_FRESH_S

    def remember(self, user: User) -> None:
        """An account just created or logged in to."""
        self._put(user.id, user)

    def forget(self, user_id: str) -> None:
        """An account just disabled."""
        self._cache.pop(user_id, None)
        self._unverified_read_at.pop(user_id, None)

    async def _load(self, subject_id: str) -> UserRecord | None:
        async with self._db.transaction() as uow:
            record = await uow.users.by_id(subject_id)
        if record is None:
            self._put(subject_id, None)
        elif record.disabled_at is None:
            self._put(subject_id, record.user)
        else:
            self.forget(subject_id)
        return record

    def _put(self, subject_id: str, user: User | None) -> None:
        if user is not None and not user.email_verified:
            self._unverified_read_at[subject_id] = time.monotonic()
        else:
            self._unverified_read_at.pop(subject_id, None)
        self._cache[subject_id] = user
        self._cache.move_to_end(subject_id)
        while len(self._cache) > self._capacity:
            evicted, _ = self._cache.popitem(last=False)
            self._unverified_read_at.pop(evicted, None)


def _subject_of(user: User) -> Subject:
    return Subject(user.id, email=user.email, name=user.name)


def _subject(subject_id: str, record: UserRecord | None) -> Subject:
    if record is None:
        return Subject(subject_id)
    user = record.user
    return Subject(user.id, email=user.email, name=user.name, active=record.disabled_at is None)

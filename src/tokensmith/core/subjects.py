"""Who a session is for, and which claims its access tokens carry: the user directory and the
claims hook, asked at session starts and at every refresh, never on a protected request.

Both are the app's code. Whatever goes wrong in them (an exception, an answer of the wrong type)
becomes :class:`~tokensmith.errors.HookFailed` whose message says what happened (the original
exception is its ``__cause__``): the web layer answers 503 and logs that message, with the
request id. No session starts and no token is issued without what they would have said.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tokensmith.core.claims import ClaimsHook, check_claims, check_room
from tokensmith.core.directory import Subject, UserDirectory
from tokensmith.core.models import User
from tokensmith.core.user_table import UserTable
from tokensmith.errors import HookFailed, TokensmithError

__all__ = ["Subjects"]


class Subjects:
    """The directory and the hook behind one guard.

    ``table`` is tokensmith's own user table when it is the directory: refreshes then read its
    cache, and new sessions of its accounts answer with the whole account.
    """

    def __init__(
        self,
        directory: UserDirectory,
        hook: ClaimsHook | None = None,
        *,
        table: UserTable | None = None,
    ) -> None:
        self.directory = directory
        self._hook = hook
        self._table = table

    def __repr__(self) -> str:
        return f"Subjects({type(self.directory).__name__}, hook={self._hook is not None})"

    @property
    def is_own_table(self) -> bool:
        """The directory is tokensmith's own user table (no ``users=``)."""
        return self._table is not None

    async def get(self, subject_id: str) -> Subject | None:
        """Ask the directory now (a session start)."""
        return await self._ask(self.directory.get, subject_id)

    async def get_for_refresh(self, subject_id: str) -> Subject | None:
        """Ask the directory at a refresh: the own table answers from its cache."""
        if self._table is not None:
            return await self._ask(self._table.cached, subject_id)
        return await self._ask(self.directory.get, subject_id)

    async def profile(self, subject: Subject) -> User | Subject:
        """The login response's ``user``: the whole account when the own table has it."""
        if self._table is None:
            return subject
        return await self._table.profile(subject.id) or subject

    async def current(self, subject_id: str) -> User | Subject | None:
        """``/auth/me``: the user now, or ``None`` when gone or inactive."""
        if self._table is not None:
            return await self._table.profile(subject_id)
        subject = await self.get(subject_id)
        return subject if subject is not None and subject.active else None

    async def claims(self, subject: Subject) -> dict[str, Any]:
        """The hook's claims for ``subject``, checked (``{}`` without a hook)."""
        if self._hook is None:
            return {}
        try:
            claims = await self._hook(subject)
        except TokensmithError:
            raise
        except Exception as exc:
            raise HookFailed(f"the claims hook raised {type(exc).__name__}") from exc
        checked = check_claims(claims, "the claims hook")
        check_room(checked, "the claims hook")
        return checked

    async def _ask(
        self, lookup: Callable[[str], Awaitable[Subject | None]], subject_id: str
    ) -> Subject | None:
        try:
            subject = await lookup(subject_id)
        except TokensmithError:  # the own table's database: already the right error
            raise
        except Exception as exc:
            raise HookFailed(f"the user directory raised {type(exc).__name__}") from exc
        if subject is not None and (not isinstance(subject, Subject) or subject.id != subject_id):
            raise HookFailed(
                f"the user directory answered {type(subject).__name__} for a subject: expected "
                "a Subject with the same id, or None"
            )
        return subject

"""Who a session belongs to, when the app (not tokensmith) decides who its users are (contract 8).

tokensmith is the session layer; the user may live in the app's own table, an identity provider
or tokensmith's built-in user table. Whoever it is, tokensmith asks a :class:`UserDirectory` at
login and at every refresh, so a user who is gone or deactivated loses the session at the next
refresh, and the claims hook sees the user as the directory describes them now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Subject", "UserDirectory"]


@dataclass(frozen=True, slots=True)
class Subject:
    """A user as the directory knows them. ``id`` becomes the tokens' ``sub``."""

    id: str
    email: str | None = None
    """Carried in the access token's ``email`` claim when present."""
    name: str | None = None
    active: bool = True
    """``False`` ends the user's sessions at their next refresh (``SESSION_REVOKED``)."""


@runtime_checkable
class UserDirectory(Protocol):
    """Any object with this method: the app's way of saying who a subject is now."""

    async def get(self, subject_id: str) -> Subject | None:
        """The subject, or ``None`` when the user no longer exists."""
        ...

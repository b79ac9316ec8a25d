"""The audit trail: every audit event is built here and written through here.

:class:`AuditTrail` is the one place an :class:`~tokensmith.core.models.AuditEvent` is made (so
every event clips the User-Agent the same way) and the one place it is written: with the caller's
unit of work, so the event commits or rolls back with the change it describes.

Listeners (:meth:`AuditTrail.add_listener`) are called with the same unit of work right after
each event is written: the seam for anything that must happen exactly when something is audited,
in the same transaction (an outbox row for a webhook, contract 9). Events that end sessions carry
the ids they ended in ``detail["ended_sessions"]``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from tokensmith.core.models import AuditEvent, AuditKind
from tokensmith.core.ports import UnitOfWork

__all__ = ["AuditListener", "AuditTrail", "RequestContext", "clip_user_agent"]

USER_AGENT_MAX = 512
"""The longest User-Agent kept (the column's width); longer ones are cut."""

AuditListener = Callable[[UnitOfWork, AuditEvent], Awaitable[None]]
"""``await listener(uow, event)``: told of every event inside the transaction that wrote it; an
exception rolls the whole transaction back."""

Interest = Callable[[AuditKind], bool]
"""``wants(kind)``: whether a listener would do anything with an event of ``kind`` *now* (what it
is told can change while the process runs: a handler registered later)."""


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is asking, for the session list and the audit log."""

    ip: str | None = None
    user_agent: str | None = None


def clip_user_agent(user_agent: str | None) -> str | None:
    return user_agent[:USER_AGENT_MAX] if user_agent else None


class AuditTrail:
    def __init__(self) -> None:
        self._listeners: list[tuple[AuditListener, frozenset[AuditKind], Interest | None]] = []

    def __repr__(self) -> str:
        return f"AuditTrail(listeners={len(self._listeners)})"

    def add_listener(
        self,
        listener: AuditListener,
        *,
        ignores: Collection[AuditKind] = (),
        wants: Interest | None = None,
    ) -> None:
        """Tell ``listener`` of every event written from now on, except those of the kinds it
        ``ignores`` (which lets those be written on paths without a unit of work for it).
        ``wants``, when given, says at each write whether the listener cares about a kind at
        all at that moment: the hot paths (a refresh, a login) skip the unit of work when no
        listener does."""
        self._listeners.append((listener, frozenset(ignores), wants))

    def listens_to(self, kind: AuditKind) -> bool:
        """Whether any listener wants events of ``kind`` now."""
        return any(
            kind not in ignored and (wants is None or wants(kind))
            for _, ignored, wants in self._listeners
        )

    @staticmethod
    def event(
        kind: AuditKind,
        at: datetime,
        ctx: RequestContext,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        ended: Sequence[str] | None = None,
        **detail: object,
    ) -> AuditEvent:
        """Build an event. ``ended`` (the sessions the change ended) goes in the detail as
        ``ended_sessions``."""
        if ended is not None:
            detail["ended_sessions"] = list(ended)
        return AuditEvent(
            kind,
            at,
            user_id,
            session_id,
            ctx.ip,
            clip_user_agent(ctx.user_agent),
            detail,
        )

    async def record(
        self,
        uow: UnitOfWork,
        kind: AuditKind,
        at: datetime,
        ctx: RequestContext,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        ended: Sequence[str] | None = None,
        **detail: object,
    ) -> AuditEvent:
        """Write an event in ``uow``'s transaction, then tell the listeners (same transaction)."""
        event = self.event(
            kind, at, ctx, user_id=user_id, session_id=session_id, ended=ended, **detail
        )
        await self.write(uow, event)
        return event

    async def write(self, uow: UnitOfWork, event: AuditEvent) -> None:
        """Write an event built by :meth:`event` in ``uow``'s transaction, then tell the
        listeners (same transaction)."""
        await uow.audit.add(event)
        await self.written(uow, event)

    async def written(self, uow: UnitOfWork, event: AuditEvent) -> None:
        """Tell the listeners of ``event``, which a repository wrote in ``uow`` itself (a
        rotation writes its audit row in the statement that rotates)."""
        for listener, ignored, _ in self._listeners:
            if event.kind not in ignored:
                await listener(uow, event)

"""Events for the outside (contract 9): webhooks and ``auth.on(event, handler)``.

:class:`EventPublisher` listens to the audit trail and turns the audit events an app cares about
into outbox entries, in the transaction that writes the audit event, so an event is announced if
and only if its change committed:

=========================  =============================================================
event                      when
=========================  =============================================================
``session.created``        a login or a session start
``session.revoked``        any change that ended sessions (logout, logout-all, deleting a
                           session, a password change or reset, disabling, reuse, ...)
``session.reuse_detected`` a rotated refresh token presented again (contract 5.3)
``user.password_changed``  a password change, a reset link, or ``users set-password``
``user.disabled``          ``users disable``
=========================  =============================================================

Each event has one id, the same for the webhook and for the handlers, and on every retry.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from tokensmith.core.models import AuditEvent, AuditKind, Channel, OutboxEntry
from tokensmith.core.outbox import OutboxWriter
from tokensmith.core.ports import UnitOfWork

__all__ = [
    "EVENT_TYPES",
    "Event",
    "EventHandler",
    "EventHandlers",
    "EventPublisher",
    "HandlerDeliverer",
]

log = logging.getLogger("tokensmith.events")

EVENT_TYPES = (
    "session.created",
    "session.revoked",
    "session.reuse_detected",
    "user.password_changed",
    "user.disabled",
)

Event = dict[str, Any]
"""``{"id", "type", "createdAt", "data"}``: the webhook's JSON body, as a handler receives it."""

EventHandler = Callable[[Event], Awaitable[None] | None]
"""``handler(event)``, sync or async."""


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def events_of(event: AuditEvent) -> list[tuple[str, dict[str, Any]]]:
    """The contract's events announced by one audit event: ``(type, data)`` pairs."""
    found: list[tuple[str, dict[str, Any]]] = []
    detail = event.detail
    ended = list(detail.get("ended_sessions") or ())
    kind = event.kind
    if kind is AuditKind.LOGIN:
        found.append(
            (
                "session.created",
                {
                    "userId": event.user_id,
                    "sessionId": event.session_id,
                    "amr": detail.get("amr"),
                    "ip": event.ip,
                    "userAgent": event.user_agent,
                },
            )
        )
    elif kind is AuditKind.REUSE_DETECTED:
        found.append(
            (
                "session.reuse_detected",
                {
                    "userId": event.user_id,
                    "sessionId": event.session_id,
                    "endedSessions": ended,
                    "ip": event.ip,
                    "userAgent": event.user_agent,
                },
            )
        )
    elif kind in (AuditKind.PASSWORD_CHANGED, AuditKind.PASSWORD_RESET):
        via = "reset" if kind is AuditKind.PASSWORD_RESET else detail.get("by", "change")
        found.append(
            (
                "user.password_changed",
                {"userId": event.user_id, "via": via, "endedSessions": ended},
            )
        )
    elif kind is AuditKind.USER_DISABLED:
        found.append(("user.disabled", {"userId": event.user_id, "endedSessions": ended}))
    if ended:
        found.append(
            (
                "session.revoked",
                {"userId": event.user_id, "sessionIds": ended, "reason": kind.value},
            )
        )
    return found


class EventHandlers:
    """``auth.on(event, handler)``: in-process handlers, called by the outbox worker (at least
    once, after the change committed). A handler may be sync or async; one that raises is
    called again later with the same event."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[EventHandler]] = {}

    def __repr__(self) -> str:
        return f"EventHandlers({sorted(self._handlers)})"

    def on(self, event_type: str, handler: EventHandler) -> EventHandler:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event {event_type!r}; one of {', '.join(EVENT_TYPES)}")
        if not callable(handler):
            raise TypeError("handler must be callable: handler(event)")
        self._handlers.setdefault(event_type, []).append(handler)
        return handler

    def wants(self, event_type: str) -> bool:
        return bool(self._handlers.get(event_type))

    def any(self) -> bool:
        """Whether any handler is registered, for any event."""
        return any(self._handlers.values())

    async def call(self, event: Event) -> None:
        for handler in self._handlers.get(str(event["type"]), ()):
            result = handler(event)
            if inspect.isawaitable(result):
                await result


class HandlerDeliverer:
    """The outbox's ``handler`` channel."""

    def __init__(self, handlers: EventHandlers) -> None:
        self._handlers = handlers

    async def deliver(self, entry: OutboxEntry) -> None:
        await self._handlers.call(entry.payload)


class EventPublisher:
    """The audit listener that writes events to the outbox (``webhook`` when ``WEBHOOK_URL`` is
    set, ``handler`` when a handler is registered for the type)."""

    SILENT = frozenset({AuditKind.REFRESH})
    """Audit kinds that announce no event: a refresh neither creates nor ends a session (reuse
    is its own kind), so :func:`events_of` finds nothing in it."""

    def __init__(self, outbox: OutboxWriter, handlers: EventHandlers, *, webhook: bool) -> None:
        self._outbox = outbox
        self._handlers = handlers
        self._webhook = webhook

    def __repr__(self) -> str:
        return f"EventPublisher(webhook={self._webhook})"

    def wants(self, kind: AuditKind) -> bool:
        """Whether an audit event of ``kind`` could put anything in the outbox now: a login
        announces ``session.created``, to the webhook or to that event's handlers; for the other
        kinds any handler counts (their events depend on the detail)."""
        if kind in self.SILENT:
            return False
        if self._webhook:
            return True
        if kind is AuditKind.LOGIN:
            return self._handlers.wants("session.created")
        return self._handlers.any()

    async def __call__(self, uow: UnitOfWork, audit_event: AuditEvent) -> None:
        for event_type, data in events_of(audit_event):
            channels = [Channel.WEBHOOK] if self._webhook else []
            if self._handlers.wants(event_type):
                channels.append(Channel.HANDLER)
            if not channels:
                continue
            event_id = f"evt_{uuid.uuid4().hex}"
            body: Event = {
                "id": event_id,
                "type": event_type,
                "createdAt": _iso(audit_event.at),
                "data": data,
            }
            for channel in channels:
                await self._outbox.add(
                    uow, channel, event_type, body, audit_event.at, event_id=event_id
                )

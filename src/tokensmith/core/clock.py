"""Time as an injected dependency: :class:`SystemClock` in production, :class:`ManualClock` in
tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "aware", "whole_seconds"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        ...


def whole_seconds(when: datetime) -> datetime:
    """Token times are whole seconds (NumericDate); session times match them exactly."""
    return when.replace(microsecond=0)


def aware(when: datetime) -> datetime:
    """``when`` as an aware UTC time (a database may hand back naive UTC)."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that moves only when told to: tests advance it instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | float) -> None:
        self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)

    def set(self, when: datetime) -> None:
        self._now = when

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"

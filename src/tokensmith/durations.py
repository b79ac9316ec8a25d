"""Durations as people write them: ``30s``, ``15m``, ``1h``, ``1d``, ``7d`` or whole seconds."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d{1,9})\s*([smhdw]?)\s*$", re.IGNORECASE)


def parse_duration(text: str | int | timedelta) -> timedelta:
    """Parse ``"15m"``-style text (or whole seconds) into a :class:`timedelta`.

    Raises :class:`ValueError` with a message fit to show a user.
    """
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 30s, 15m, 1h, 1d, 7d or whole seconds")
    if isinstance(text, int):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=text)
    match = _PATTERN.match(str(text))
    if match is None:
        raise ValueError(
            f"{str(text)[:40]!r} is not a duration; use 30s, 15m, 1h, 1d, 7d or whole seconds"
        )
    amount, unit = match.groups()
    return timedelta(seconds=int(amount) * _UNITS_S[(unit or "s").lower()])


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of ``value`` in the units :func:`parse_duration` reads."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"

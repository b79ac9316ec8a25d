"""Time spans in words, for people: ``3 minutes``, ``1 hour 30 minutes``.

Parsing ``15m``-style text is :func:`tokensmith.durations.parse_duration`'s job.
"""

from __future__ import annotations

from datetime import timedelta

__all__ = ["in_words"]

# Largest unit first; a span is said with its two most significant adjacent units.
_WORDS: tuple[tuple[str, int], ...] = (
    ("day", 86400),
    ("hour", 3600),
    ("minute", 60),
    ("second", 1),
)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def in_words(span: timedelta | float) -> str:
    """Say a span in words: ``3 minutes``, ``1 hour 30 minutes``, ``7 days``.

    The sign is ignored (callers say "ago" or "from now"); fractions of a second are dropped.
    At most two adjacent units are used, so the phrase stays short and still exact to the
    smaller unit.
    """
    total_s = abs(int(span.total_seconds() if isinstance(span, timedelta) else span))
    if total_s == 0:
        return "0 seconds"
    for index, (word, size) in enumerate(_WORDS):
        if total_s >= size:
            count, rest = divmod(total_s, size)
            phrase = _plural(count, word)
            if index + 1 < len(_WORDS):
                next_word, next_size = _WORDS[index + 1]
                extra = rest // next_size
                if extra:
                    phrase += " " + _plural(extra, next_word)
            return phrase
    raise AssertionError("unreachable: every positive span has a unit")  # pragma: no cover

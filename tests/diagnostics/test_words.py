"""Time spans said in words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tokensmith.diagnostics.words import in_words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (59, "59 seconds"),
        (60, "1 minute"),
        (180, "3 minutes"),
        (185, "3 minutes 5 seconds"),
        (3600, "1 hour"),
        (5400, "1 hour 30 minutes"),
        (7200 + 59, "2 hours"),
        (86400, "1 day"),
        (7 * 86400 + 3 * 3600, "7 days 3 hours"),
        (-180, "3 minutes"),
        (0.9, "0 seconds"),
    ],
)
def test_spans_use_at_most_two_adjacent_units(seconds: float, words: str) -> None:
    """Two most significant adjacent units, singular/plural right, sign ignored."""
    assert in_words(seconds) == words
    assert in_words(timedelta(seconds=seconds)) == words

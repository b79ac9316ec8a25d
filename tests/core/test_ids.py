"""Session ids are random, URL-safe and never look like a command-line option."""

from __future__ import annotations

from collections.abc import Iterator

from tokensmith.core.ids import new_session_id


def test_an_id_drawn_with_a_leading_dash_is_drawn_again() -> None:
    """About one base64url id in 64 begins with "-"; such a draw is thrown away."""
    draws: Iterator[str] = iter(["-bXk2", "--x", "Ab-c"])
    seen: list[int] = []

    def draw(size: int) -> str:
        seen.append(size)
        return next(draws)

    assert new_session_id(draw) == "Ab-c"
    assert seen == [16, 16, 16]


def test_ids_are_22_url_safe_characters_and_never_begin_with_a_dash() -> None:
    """128 bits of base64url; 5,000 draws include dashes inside but never in front."""
    ids = [new_session_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert any("-" in i for i in ids)

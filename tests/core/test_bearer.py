"""`bearer_token`: the usual "Bearer <token>" on its quick path, every other spelling on the
RFC 7235 rules, with the same answers either way."""

from __future__ import annotations

import pytest

from tokensmith.core.bearer import bearer_token
from tokensmith.errors import InvalidToken, NoToken

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln-_x"


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (f"Bearer {TOKEN}", TOKEN),
        (f"Bearer   {TOKEN}", TOKEN),
        (f"Bearer {TOKEN} ", TOKEN),
        (f"Bearer {TOKEN}\t", TOKEN),
        (f" Bearer {TOKEN}", TOKEN),
        (f"bearer {TOKEN}", TOKEN),
        (f"BEARER {TOKEN}", TOKEN),
        ("Bearer abc~+/==", "abc~+/=="),
    ],
)
def test_a_bearer_header_gives_its_token(header: str, token: str) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer \t{TOKEN}",
        f"Bearer {TOKEN[:10]} {TOKEN[10:]}",
        f"Bearer {TOKEN}\x00",
        "Bearer ==",
        "Bearer a=b",
        "Bearer é",
    ],
)
def test_a_malformed_bearer_header_is_an_invalid_token(header: str) -> None:
    with pytest.raises(InvalidToken, match="malformed"):
        bearer_token(header)


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "  bearer  ", f"Basic {TOKEN}", f"Bearer\t{TOKEN}"]
)
def test_no_bearer_token_is_no_token(header: str | None) -> None:
    with pytest.raises(NoToken):
        bearer_token(header)

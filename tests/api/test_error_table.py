"""The error codes agree everywhere: the error tree, the web layer's status table and the
TypeScript union of the browser client."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tokensmith.errors as errors
from tokensmith.errors import ConfigError, TokensmithError, error_from_code
from tokensmith.web.errors import STATUS, error_response, status_of

ROOT = Path(__file__).resolve().parents[2]
TYPINGS = ROOT / "src" / "tokensmith" / "server" / "static" / "tokensmith.d.ts"


def _tree() -> list[type[TokensmithError]]:
    found: list[type[TokensmithError]] = []
    pending = [TokensmithError]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub.__module__ == errors.__name__:
                found.append(sub)
                pending.append(sub)
    return found


def _contract_codes() -> set[str]:
    """Codes with a class of their own (a subclass without ``code`` shares its parent's)."""
    return {c.code for c in _tree() if "code" in vars(c) and c is not ConfigError}


def test_every_class_of_the_tree_has_a_status() -> None:
    """Each error class answers with a status from the table (its own or its parent's), and
    every entry of the table is a class of the tree."""
    for cls in _tree():
        if cls is ConfigError or cls.code == TokensmithError.code:  # start-up only; groupings
            continue
        assert status_of(cls()) != 500, cls.__name__
    assert set(STATUS) <= set(_tree())


def test_every_code_rebuilds_its_own_class() -> None:
    """The Python client rebuilds the class the server raised from the code alone."""
    for code in _contract_codes():
        assert type(error_from_code(code)).code == code


def test_the_typescript_union_lists_exactly_the_server_codes() -> None:
    """``ServerErrorCode`` in tokensmith.d.ts names every code the server can send, and no
    other."""
    text = TYPINGS.read_text()
    union = re.search(r"export type ServerErrorCode =([^;]+);", text)
    assert union is not None
    typed = set(re.findall(r'"([A-Z_]+)"', union.group(1)))
    assert typed == _contract_codes()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidCredentials(), 401),
        (errors.PasswordMismatch(), 403),
        (errors.NoToken(), 401),
        (errors.LogoutTokenMissing(), 400),
        (errors.ServiceUnavailable(), 503),
        (errors.ClaimsError("the claims hook returned the reserved claim 'sub'"), 503),
        (TokensmithError("unexpected"), 500),
    ],
)
def test_a_subclass_answers_with_its_own_status_or_its_parents(
    error: TokensmithError, status: int
) -> None:
    assert status_of(error) == status


def test_a_failing_hook_is_presented_without_its_details() -> None:
    """The 503 of a directory or hook failure says nothing about the app's code: the message
    naming the claim is for the log."""
    response = error_response(errors.ClaimsError("the claims hook returned the reserved 'sub'"))
    assert response.status_code == 503
    assert b"sub" not in response.body
    assert b"SERVICE_UNAVAILABLE" in response.body

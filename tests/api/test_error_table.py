"""The error codes agree everywhere: the error tree, the web layer's status table and the
TypeScript union of the browser client."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tokensmith.errors as errors
from tests.support.inprocess import Api
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


async def test_every_error_answer_passes_through_the_presenter(api: Api) -> None:
    """The exception handlers and the body limit present errors the same way, and the
    presenter's observers (metrics) see each answer with its code and status."""
    seen: list[tuple[str, int]] = []
    api.auth.errors.observe(lambda scope, error, status: seen.append((error.code, status)))
    too_large = await api.client.post("/auth/login", content=b"x" * (65 * 1024))
    assert too_large.status_code == 413
    assert too_large.json() == {
        "error": "Request body is larger than 64 KiB",
        "code": "PAYLOAD_TOO_LARGE",
    }
    assert too_large.headers["cache-control"] == "no-store"
    assert too_large.headers["connection"] == "close"
    await api.client.post("/auth/login", content=b"{", headers={"content-type": "application/json"})
    await api.client.get("/auth/me")
    await api.client.get("/no/such/path")
    assert seen == [
        ("PAYLOAD_TOO_LARGE", 413),
        ("VALIDATION_ERROR", 422),
        ("NO_TOKEN", 401),
        ("NOT_FOUND", 404),
    ]

"""``tokensmith.verify`` is the base distribution only (contract 10): importing it, and the
framework-free parts of its adapters' support, loads no server dependency."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("fastapi", "starlette", "sqlalchemy", "asyncpg", "aiosqlite", "pydantic", "redis",
         "uvicorn", "alembic", "argon2", "flask", "django", "rest_framework")  # fmt: skip


def loaded_after(statement: str) -> list[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return [m for m in json.loads(out) if m.split(".")[0] in HEAVY]


@pytest.mark.parametrize(
    "statement",
    [
        "import tokensmith.verify",
        "from tokensmith.verify import Verifier, refusal",
        "import tokensmith.verify.feed, tokensmith.verify.presenting",
    ],
)
def test_verify_needs_only_pyjwt_cryptography_and_httpx(statement: str) -> None:
    """No FastAPI, SQLAlchemy, asyncpg (nor pydantic, Redis or any web framework)."""
    assert loaded_after(statement) == []


def test_each_adapter_loads_only_its_own_framework() -> None:
    """The Flask adapter brings Flask, not Django or FastAPI; and so on."""
    assert not {m.split(".")[0] for m in loaded_after("import tokensmith.verify.flask")} & {
        "fastapi", "sqlalchemy", "django", "asyncpg"
    }  # fmt: skip
    assert not {m.split(".")[0] for m in loaded_after("import tokensmith.verify.starlette")} & {
        "fastapi", "sqlalchemy", "flask", "asyncpg"
    }  # fmt: skip

"""The client package's outside: what it exports and what importing it costs."""

from __future__ import annotations

import subprocess
import sys

import tokensmith.client


def test_importing_the_client_loads_no_server_dependencies() -> None:
    """``import tokensmith.client`` pulls in httpx and the error tree, never FastAPI,
    SQLAlchemy or Redis, so a script using the client stays light."""
    code = (
        "import sys, tokensmith.client\n"
        "heavy = sorted(m for m in ('fastapi', 'sqlalchemy', 'redis', 'starlette', 'uvicorn',"
        " 'jwt', 'argon2') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_the_client_imports_only_httpx_and_the_error_tree_from_outside() -> None:
    """No module of the client imports another part of tokensmith than ``errors``."""
    code = (
        "import sys, tokensmith.client\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith('tokensmith'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(result.stdout.strip().split(","))
    outside = {m for m in loaded if not m.startswith("tokensmith.client")}
    assert outside <= {"tokensmith", "tokensmith._extras", "tokensmith.errors"}


def test_all_is_sorted_and_every_name_exists() -> None:
    """``__all__`` is sorted, and each name in it is importable from the package."""
    names = tokensmith.client.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(tokensmith.client, name), name

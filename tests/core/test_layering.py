"""The architecture holds: the core imports no web framework, database driver or Redis."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("fastapi", "starlette", "sqlalchemy", "redis", "asyncpg", "aiosqlite", "uvicorn")


def test_core_imports_no_framework_driver_or_redis() -> None:
    """Importing every core module pulls in none of the adapters' libraries."""
    code = (
        "import sys, pkgutil, importlib, tokensmith.core as core\n"
        "for m in pkgutil.iter_modules(core.__path__):\n"
        "    importlib.import_module('tokensmith.core.' + m.name)\n"
        f"print(sorted(n for n in {FORBIDDEN!r} if n in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_errors_module_exports_are_sorted_and_complete() -> None:
    """errors.__all__ is sorted and names every public error class."""
    import tokensmith.errors as errors

    assert errors.__all__ == sorted(errors.__all__)
    public = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.TokensmithError)
    }
    assert public <= set(errors.__all__)

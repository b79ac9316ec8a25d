"""The diagnostics commands stay light: no web framework or database on import."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["tokensmith.cli.inspect", "tokensmith.cli.doctor"])
def test_command_module_does_not_import_the_server_stack(module: str) -> None:
    """`tokensmith inspect` / `doctor` import neither FastAPI, SQLAlchemy nor redis."""
    code = (
        f"import sys, {module}\n"
        "heavy = [m for m in ('fastapi', 'sqlalchemy', 'redis', 'starlette') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""

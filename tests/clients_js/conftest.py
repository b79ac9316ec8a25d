"""Fixtures for the tests of the npm package in clients/js (see tests/support/js.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import js
from tests.support.js import PACKAGE, ROOT, run

__all__ = ["PACKAGE", "SIZES", "STATIC", "run"]

STATIC = ROOT / "src" / "tokensmith" / "server" / "static"
SIZES = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def js_package() -> Path:
    """clients/js with its locked devDependencies installed."""
    return js.js_package()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """The package's size budget, as measured by its own test (clients/js/test/size.test.mjs)."""
    sizes = config.stash.get(SIZES, [])
    if sizes:
        terminalreporter.write_sep("-", "@tokensmith/client sizes")
        for line in sizes:
            terminalreporter.write_line(line)

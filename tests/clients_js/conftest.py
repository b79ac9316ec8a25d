"""Fixtures for the tests of the npm package in clients/js: Node, npm and its dependencies.

Without Node or npm the tests fail under CI (`CI=true`) and are skipped elsewhere. A checkout
without `clients/js/node_modules` gets `npm ci` (`.ci/run` runs it before the suite).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.databases import service_missing

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "js"
STATIC = ROOT / "src" / "tokensmith" / "server" / "static"
SIZES = pytest.StashKey[list[str]]()


def run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure, the assertion shows its whole output."""
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    )
    return done


@pytest.fixture(scope="session")
def js_package() -> Path:
    """clients/js with its locked devDependencies installed."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            service_missing(tool)
    if not (PACKAGE / "node_modules" / ".package-lock.json").exists():
        run(["npm", "ci"], PACKAGE)
    return PACKAGE


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """The package's size budget, as measured by its own test (clients/js/test/size.test.mjs)."""
    sizes = config.stash.get(SIZES, [])
    if sizes:
        terminalreporter.write_sep("-", "@tokensmith/client sizes")
        for line in sizes:
            terminalreporter.write_line(line)

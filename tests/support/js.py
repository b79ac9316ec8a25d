"""The npm package in clients/js for the tests: Node, npm and its locked devDependencies.

Without Node or npm a test fails under CI (`CI=true`) and is skipped elsewhere. A checkout
without `clients/js/node_modules` gets `npm ci` (`.ci/run` runs it before the suite).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from tests.support.databases import service_missing

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "js"


def run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure, the assertion shows its whole output."""
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    command = " ".join(args)
    assert done.returncode == 0, f"{command} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def js_package() -> Path:
    """clients/js with its locked devDependencies installed."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            service_missing(tool)
    if not (PACKAGE / "node_modules" / ".package-lock.json").exists():
        run(["npm", "ci", "--no-audit", "--no-fund"], PACKAGE)
    return PACKAGE


@functools.cache
def built_package() -> Path:
    """clients/js with a fresh `dist/` (built once per test run), as its `exports` point there."""
    package = js_package()
    run(["node", "scripts/build.mjs"], package)
    return package


def bundle(entry: Path, outfile: Path) -> str:
    """Bundle a page's script with the package's esbuild: `@tokensmith/client` resolves to the
    package's own build, react and axios to its node_modules."""
    package = built_package()
    # .bin/esbuild: a JS launcher, or the native binary when esbuild's postinstall ran.
    esbuild = package / "node_modules" / ".bin" / "esbuild"
    run(
        [
            str(esbuild),
            str(entry),
            "--bundle",
            "--format=esm",
            "--platform=browser",
            "--jsx=automatic",
            "--target=es2022",
            "--log-level=warning",
            f"--outfile={outfile}",
            '--define:process.env.NODE_ENV="production"',
        ],
        package,
    )
    return outfile.read_text()

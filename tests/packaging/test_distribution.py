"""Built and installed as a user would: the wheel and the sdist build, the base wheel installs
into a clean environment without the server's dependencies, and ``tokensmith[server]`` serves.

Every environment is filled from the committed locks (``requirements-*.txt``, hashes checked);
only the project's own wheel comes from the build.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.support.servers import start_server

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def run(*command: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=600,
        **kwargs,  # type: ignore[call-overload]
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and the sdist, built by the locked build backend (no build isolation)."""
    out = tmp_path_factory.mktemp("dist")
    ok(run(BIN / "hatchling", "build", "-d", out, cwd=ROOT))
    return out


def venv_with_lock(path: Path, lock: str, wheel: Path) -> Path:
    """A fresh environment with ``<lock>`` and the wheel (no dependency resolution:
    the lock is the whole environment)."""
    uv = BIN / "uv"
    ok(run(uv, "venv", "--quiet", "--python", sys.executable, path))
    python = path / "bin" / "python"
    lock_file = ROOT / lock
    ok(run(uv, "pip", "install", "--quiet", "--python", python, "--require-hashes", "--no-deps",
           "-r", lock_file))  # fmt: skip
    ok(run(uv, "pip", "install", "--quiet", "--python", python, "--no-deps", wheel))
    ok(run(uv, "pip", "check", "--quiet", "--python", python))
    return python


def only(directory: Path, pattern: str) -> Path:
    (found,) = directory.glob(pattern)
    return found


def test_the_wheel_holds_the_package_data_and_no_tests(dist: Path) -> None:
    names = set(zipfile.ZipFile(only(dist, "*.whl")).namelist())
    for needed in (
        "tokensmith/py.typed",
        "tokensmith/server/static/index.html",
        "tokensmith/server/static/tokensmith.js",
        "tokensmith/storage/sql/migrations/env.py",
        "tokensmith/data/weak_secrets.txt",
    ):
        assert needed in names, needed
    assert any(n.startswith("tokensmith/storage/sql/migrations/versions/") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "bench/"))]


def test_the_sdist_holds_the_sources_and_the_locks(dist: Path) -> None:
    with tarfile.open(only(dist, "*.tar.gz")) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for needed in ("pyproject.toml", "README.md", "src/tokensmith/__init__.py",
                   "src/tokensmith/py.typed", "requirements-base.txt"):  # fmt: skip
        assert needed in names, needed
    assert not [n for n in names if n.startswith((".venv/", "node_modules/"))]


def test_the_base_wheel_is_the_client_without_the_server(dist: Path, tmp_path: Path) -> None:
    """``pip install tokensmith``: the client imports, FastAPI and SQLAlchemy are absent, and the
    command line says in one line which extra it needs."""
    python = venv_with_lock(tmp_path / "base", "requirements-base.txt", only(dist, "*.whl"))
    probe = (
        "import importlib.util, tokensmith, tokensmith.client\n"
        "from tokensmith import Subject\n"
        "assert tokensmith.client.TokensmithAuth\n"
        "from tokensmith.verify import Verifier\n"  # contract 10: tokensmith[verify]
        "assert Verifier\n"
        "from tokensmith.webhooks import signature_header, verify_signature\n"
        "assert verify_signature('s', signature_header('s', b'{}'), b'{}', tolerance=300)\n"
        "missing = [m for m in ('fastapi', 'sqlalchemy', 'asyncpg', 'redis', 'uvicorn')\n"
        "           if importlib.util.find_spec(m) is not None]\n"
        "assert missing == [], missing\n"
        "try:\n"
        "    from tokensmith import Tokensmith\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    out = ok(run(python, "-c", probe))
    assert "tokensmith.Tokensmith needs the server extra" in out
    assert "pip install 'tokensmith[server]'" in out
    serve = run(python.parent / "tokensmith", "serve")
    assert serve.returncode == 2
    lines = serve.stderr.strip().splitlines()
    assert len(lines) == 1, serve.stderr
    assert "server extra" in lines[0] and "tokensmith[server]" in lines[0]
    assert "Traceback" not in serve.stderr


def test_the_server_extra_serves(dist: Path, tmp_path: Path) -> None:
    """``pip install 'tokensmith[server]'`` then ``tokensmith serve``: /healthz answers."""
    python = venv_with_lock(tmp_path / "server", "requirements-server.txt", only(dist, "*.whl"))
    version = ok(run(python.parent / "tokensmith", "--version"))
    assert version.strip().endswith(
        ok(run(python, "-c", "import tokensmith as t; print(t.__version__)")).strip()
    )
    server = start_server(tmp_path / "data", python=str(python), timeout_s=60)
    try:
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{server.url}/tokensmith.js").status_code == 200
    finally:
        server.stop()

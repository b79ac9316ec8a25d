"""One source: the server's /tokensmith.js and /static/tokensmith.d.ts are the package's
build, byte for byte."""

from __future__ import annotations

from pathlib import Path

from .conftest import STATIC, run


def test_the_served_client_is_a_fresh_build_of_the_package(
    js_package: Path, tmp_path: Path
) -> None:
    """A build of clients/js now equals the committed static files (`make js` updates them)."""
    run(["node", "scripts/build.mjs", str(tmp_path / "dist")], js_package)
    for built, served in (("index.js", "tokensmith.js"), ("tokensmith.d.ts", "tokensmith.d.ts")):
        fresh = (tmp_path / "dist" / built).read_text()
        assert fresh == (STATIC / served).read_text(), f"static/{served} is stale: run `make js`"

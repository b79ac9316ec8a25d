"""One source: the server's /tokensmith.js and /static/tokensmith.d.ts are the package's
build, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import PACKAGE, STATIC, run


def test_the_served_client_is_a_fresh_build_of_the_package(
    js_package: Path, tmp_path: Path
) -> None:
    """A build of clients/js now equals the committed static files (`make js` updates them)."""
    run(["node", "scripts/build.mjs", str(tmp_path / "dist")], js_package)
    for built, served in (("index.js", "tokensmith.js"), ("tokensmith.d.ts", "tokensmith.d.ts")):
        fresh = (tmp_path / "dist" / built).read_text()
        assert fresh == (STATIC / served).read_text(), f"static/{served} is stale: run `make js`"


def test_the_lockfile_names_no_registry_host() -> None:
    """package-lock.json carries versions and integrity hashes but no `resolved` URL, so `npm ci`
    installs from whatever registry the machine is configured with (clients/js/.npmrc)."""
    lock = json.loads((PACKAGE / "package-lock.json").read_text())
    packages = {name: entry for name, entry in lock["packages"].items() if name}
    assert packages, "the lockfile lists no packages"
    assert not [name for name, entry in packages.items() if "resolved" in entry]
    assert all("integrity" in entry for entry in packages.values() if not entry.get("link"))
    assert "omit-lockfile-registry-resolved=true" in (PACKAGE / ".npmrc").read_text()

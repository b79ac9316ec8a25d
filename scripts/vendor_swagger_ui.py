"""Copy the pinned Swagger UI build into the package, checked against the lock.

``/docs`` serves Swagger UI from the package (``src/tokensmith/server/static/swagger-ui``), never
from a CDN: the page runs on the origin that holds the CSRF cookie, so its scripts must be the
ones we reviewed. The version and its integrity (sha512 of the npm tarball) are pinned in
``requirements/swagger-ui/package-lock.json``.

To update: change the version in ``requirements/swagger-ui/package.json``, run
``npm install --package-lock-only --ignore-scripts`` in that folder, then this script
(it needs ``npm``), and commit the three together. ``tests/security/test_hardening_pages.py``
checks the copied files against ``SHA256SUMS`` and the version against the lock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "swagger-ui" / "package-lock.json"
TARGET = ROOT / "src" / "tokensmith" / "server" / "static" / "swagger-ui"
FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE")


def main() -> int:
    locked = json.loads(LOCK.read_text())["packages"]["node_modules/swagger-ui-dist"]
    version, integrity = locked["version"], locked["integrity"]
    with tempfile.TemporaryDirectory() as tmp:
        npm = shutil.which("npm")
        if npm is None:
            print("npm is needed to fetch the tarball", file=sys.stderr)
            return 1
        subprocess.run(
            [npm, "pack", f"swagger-ui-dist@{version}", "--pack-destination", tmp],
            check=True,
            capture_output=True,
        )
        [tarball] = Path(tmp).glob("swagger-ui-dist-*.tgz")
        digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if f"sha512-{digest}" != integrity:
            print(f"{tarball.name}: integrity differs from the lock", file=sys.stderr)
            return 1
        with tarfile.open(tarball) as archive:
            archive.extractall(tmp, filter="data")
        if TARGET.exists():
            shutil.rmtree(TARGET)
        TARGET.mkdir(parents=True)
        sums = []
        for name in FILES:
            data = (Path(tmp) / "package" / name).read_bytes()
            (TARGET / name).write_bytes(data)
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}")
    (TARGET / "SHA256SUMS").write_text(
        f"# swagger-ui-dist {version} ({integrity})\n" + "\n".join(sums) + "\n"
    )
    print(f"swagger-ui-dist {version} copied to {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

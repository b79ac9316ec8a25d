"""Pages of the standalone server (issue 11, item 7): ``/docs`` loads a pinned Swagger UI from
the package, not a floating ``swagger-ui-dist@5`` from a CDN, and every response carries a
strict Content-Security-Policy with ``frame-ancestors 'none'``."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from tests.support.inprocess import ApiFactory
from tokensmith.server.pages import CONTENT_SECURITY_POLICY

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "src" / "tokensmith" / "server" / "static" / "swagger-ui"
LOCK = ROOT / "requirements" / "swagger-ui" / "package-lock.json"


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.parametrize("path", ["/", "/docs", "/tokensmith.js", "/auth/me", "/openapi.json"])
async def test_every_response_has_a_strict_policy(make_api: ApiFactory, path: str) -> None:
    """No inline script, no other origin, no framing; X-Frame-Options for older browsers."""
    async with make_api() as api:
        response = await api.client.get(path)
        policy = directives(response.headers["content-security-policy"])
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["script-src"] == ["'self'"]
        assert policy["default-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


async def test_docs_load_nothing_from_another_origin(make_api: ApiFactory) -> None:
    """The page names only relative URLs, and each of them is served (200) from the package."""
    async with make_api() as api:
        page = await api.client.get("/docs")
        assert page.status_code == 200
        assert "<script>" not in page.text  # no inline script for the policy to allow
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert urls and all("//" not in url for url in urls), urls
        for url in urls:
            asset = await api.client.get(f"/{url}")
            assert asset.status_code == 200, url
        assert (await api.client.get("/redoc")).status_code == 404


def test_the_vendored_swagger_ui_is_the_locked_version() -> None:
    """SHA256SUMS (written by scripts/vendor_swagger_ui.py) matches the files, and names the
    version and integrity pinned in requirements/swagger-ui/package-lock.json."""
    locked = json.loads(LOCK.read_text())["packages"]["node_modules/swagger-ui-dist"]
    sums = (VENDORED / "SHA256SUMS").read_text().splitlines()
    assert sums[0] == f"# swagger-ui-dist {locked['version']} ({locked['integrity']})"
    package = json.loads((LOCK.parent / "package.json").read_text())
    assert package["dependencies"]["swagger-ui-dist"] == locked["version"]  # exact, no range
    for line in sums[1:]:
        digest, name = line.split("  ")
        assert hashlib.sha256((VENDORED / name).read_bytes()).hexdigest() == digest, name

"""`npm pack` builds the package; installed from the tarball into a scratch project, its three
entry points import and type-check as a user's code would."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from .conftest import run

# npm install and tsc on a busy machine: more than the suite-wide 120 s timeout allows.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CONSUMER_JS = """\
import { AuthError, createAuthClient, isAuthError } from "@tokensmith/client";
import { withTokensmith } from "@tokensmith/client/axios";
import { AuthProvider, useAuth } from "@tokensmith/client/react";
import axios from "axios";

const client = createAuthClient({ baseUrl: "https://auth.example", transport: "body" });
const api = withTokensmith(axios.create(), client);
const kinds = [createAuthClient, isAuthError, AuthError, withTokensmith, AuthProvider, useAuth]
  .map((value) => typeof value);
console.log(JSON.stringify({ kinds, baseUrl: client.baseUrl, same: api !== undefined }));
client.close();
"""

CONSUMER_TS = """\
import type { AuthClient, ServerErrorCode } from "@tokensmith/client";
import { createAuthClient, isAuthError } from "@tokensmith/client";
import { withTokensmith } from "@tokensmith/client/axios";
import { AuthProvider, type AuthState, useAuth } from "@tokensmith/client/react";
import axios from "axios";

const client: AuthClient = createAuthClient({ baseUrl: "https://auth.example" });
const code: ServerErrorCode = "TOKEN_REUSE_DETECTED";
const api = withTokensmith(axios.create(), client);
export const checks = [api, AuthProvider, isAuthError(null, code)];
export function useStatus(): AuthState["status"] {
  return useAuth().status;
}
"""


def _locked_version(package: Path, name: str) -> str:
    lock = json.loads((package / "package-lock.json").read_text())
    return str(lock["packages"][f"node_modules/{name}"]["version"])


def test_the_packed_tarball_installs_and_its_three_entry_points_import(
    js_package: Path, tmp_path: Path
) -> None:
    """The tarball holds the built modules and types only; a project that installs it (with
    react and axios, its optional peers) imports and type-checks all three entry points."""
    run(["npm", "pack", "--pack-destination", str(tmp_path)], js_package)
    [tarball] = tmp_path.glob("tokensmith-client-*.tgz")
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    for entry in ("index", "axios", "react"):
        assert f"package/dist/{entry}.js" in names
        assert f"package/dist/{entry}.d.ts" in names
    assert not [n for n in names if n.startswith(("package/src/", "package/test/"))]

    project = tmp_path / "consumer"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"name": "consumer", "type": "module"}))
    peers = [f"{n}@{_locked_version(js_package, n)}" for n in ("react", "axios", "@types/react")]
    run(
        ["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", str(tarball), *peers],
        project,
    )
    (project / "main.js").write_text(CONSUMER_JS)
    out = json.loads(run(["node", "main.js"], project).stdout)
    assert out["kinds"] == ["function"] * 6
    assert out["baseUrl"] == "https://auth.example/"

    (project / "main.ts").write_text(CONSUMER_TS)
    tsc = js_package / "node_modules" / "typescript" / "bin" / "tsc"
    run(
        [
            "node",
            str(tsc),
            "--noEmit",
            "--strict",
            "--module",
            "nodenext",
            "--moduleResolution",
            "nodenext",
            "--target",
            "es2022",
            "--lib",
            "es2022,dom",
            "--skipLibCheck",
            "false",
            "main.ts",
        ],
        project,
    )

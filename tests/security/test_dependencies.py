"""The cryptographic dependencies are pinned at versions without known advisories."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
# PyJWT < 2.10.1: CVE-2024-53861 (issuer check bypass); the issue asks for >= 2.13.
# cryptography < 44.0.1: CVE-2024-12797 (bundled OpenSSL); we ask for the current major (46+).
MINIMUM = {"pyjwt": Version("2.13"), "cryptography": Version("46")}
UNSAFE = {"pyjwt": "2.10.0", "cryptography": "44.0.0"}


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    return {r.name.lower(): r for r in requirements}


def test_pyproject_floors_exclude_versions_with_advisories() -> None:
    """pyproject.toml's lower bounds for PyJWT and cryptography are at least the safe ones, so
    no resolver can pick a vulnerable release."""
    requirements = _requirements()
    for name, minimum in MINIMUM.items():
        specifier = requirements[name].specifier
        floors = [Version(s.version) for s in specifier if s.operator in {">=", "==", "~="}]
        assert floors, f"{name} has no lower bound"
        assert max(floors) >= minimum, (name, str(specifier))
        assert not specifier.contains(UNSAFE[name]), (name, str(specifier))


def test_installed_versions_satisfy_the_floors() -> None:
    """The environment the tests run in has the safe versions installed."""
    for name, minimum in MINIMUM.items():
        assert Version(version(name)) >= minimum, (name, version(name))

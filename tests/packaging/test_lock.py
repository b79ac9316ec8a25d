"""The committed locks (requirements-*.txt) agree with pyproject.toml, pin every package with
hashes, agree with each other, and name no package index."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from scripts import lock

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT
ENVIRONMENT = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux",
               "platform_system": "Linux", "platform_python_implementation": "CPython",
               "implementation_name": "cpython", "os_name": "posix", "platform_machine": "x86_64",
               "extra": ""}  # fmt: skip
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: int


def read_lock(path: Path) -> dict[str, Pin]:
    """Package -> pin; each entry is a ``name==version`` line followed by its ``--hash`` lines."""
    pins: dict[str, Pin] = {}
    current: str | None = None
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = Pin(current, match.group(3), 0)
        elif line.strip().startswith("--hash=sha256:") and current is not None:
            pin = pins[current]
            pins[current] = Pin(pin.name, pin.version, pin.hashes + 1)
        elif not line.startswith((" ", "#")) and line.strip():
            pytest.fail(f"{path.name}: unexpected line {line!r}")
    return pins


def project_requirements(extras: tuple[str, ...]) -> list[Requirement]:
    """The direct requirements an install with ``extras`` asks for (self-references expanded)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional: dict[str, list[str]] = project["optional-dependencies"]
    wanted, seen, found = list(extras), set(), [Requirement(r) for r in project["dependencies"]]
    while wanted:
        extra = wanted.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in optional[extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "tokensmith":
                wanted.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


LOCK_FILES = ["requirements-tools.txt", *lock.TARGETS]


@pytest.mark.parametrize("name", LOCK_FILES)
def test_lock_was_compiled_from_the_current_pyproject(name: str) -> None:
    """Changing a dependency in pyproject.toml without ``make lock`` fails here."""
    first_lines = (LOCKS / name).read_text().splitlines()[:2]
    recorded = [line for line in first_lines if line.startswith(lock.DIGEST_PREFIX)]
    assert recorded == [f"{lock.DIGEST_PREFIX}{lock.inputs_digest()}"], (
        f"{name} is out of date with pyproject.toml: run `make lock`"
    )


def test_the_digest_changes_with_any_dependency(tmp_path: Path) -> None:
    """The guard above can fail: a changed lower bound gives another digest."""
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "tools.in").write_text(
        (ROOT / "requirements" / "tools.in").read_text()
    )
    text = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(text)
    assert lock.inputs_digest(tmp_path) == lock.inputs_digest()
    (tmp_path / "pyproject.toml").write_text(text.replace('"httpx>=0.27"', '"httpx>=0.28"'))
    assert lock.inputs_digest(tmp_path) != lock.inputs_digest()


@pytest.mark.parametrize("name", list(lock.TARGETS))
def test_every_direct_requirement_is_pinned_to_a_version_it_allows(name: str) -> None:
    extras, _ = lock.TARGETS[name]
    pins = read_lock(LOCKS / name)
    for requirement in project_requirements(extras):
        if requirement.marker is not None and not requirement.marker.evaluate(ENVIRONMENT):
            continue
        pin = pins.get(canonicalize_name(requirement.name))
        assert pin is not None, f"{requirement.name} is missing from {name}"
        assert requirement.specifier.contains(pin.version, prereleases=True), (
            f"{name} pins {pin.name}=={pin.version}, pyproject asks {requirement}"
        )


@pytest.mark.parametrize("name", LOCK_FILES)
def test_every_pin_has_hashes_and_no_index_is_named(name: str) -> None:
    text = (LOCKS / name).read_text()
    assert "://" not in text
    assert not re.search(r"^\s*-(-index-url|-extra-index-url|-find-links|i|f)\b", text, re.M)
    pins = read_lock(LOCKS / name)
    assert pins
    assert [p.name for p in pins.values() if p.hashes == 0] == []


def test_the_locks_agree_on_every_version() -> None:
    """Installing one lock after another (``make serve`` then ``make test``) changes nothing."""
    versions: dict[str, set[str]] = {}
    for name in LOCK_FILES:
        for pin in read_lock(LOCKS / name).values():
            versions.setdefault(pin.name, set()).add(pin.version)
    assert {n: v for n, v in versions.items() if len(v) > 1} == {}


def test_the_base_lock_holds_no_server_dependency() -> None:
    pins = read_lock(LOCKS / "requirements-base.txt")
    assert not {"fastapi", "sqlalchemy", "asyncpg", "redis", "uvicorn", "starlette"} & set(pins)

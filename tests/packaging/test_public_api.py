"""The package's public surface: ``tokensmith.__all__``, lazy loading, types, version."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import tokensmith

ROOT = Path(__file__).resolve().parents[2]
SERVER_MODULES = ("fastapi", "starlette", "sqlalchemy", "asyncpg", "redis", "uvicorn", "alembic")


def test_all_is_the_contract_surface_and_sorted() -> None:
    """Contract 8 names these; a new public name is a decision, so it has to change this test."""
    assert tokensmith.__all__ == sorted(tokensmith.__all__)
    assert set(tokensmith.__all__) == {
        "Subject",
        "Tokensmith",
        "UserDirectory",
        "__version__",
        "load_settings",
    }
    for name in tokensmith.__all__:
        assert getattr(tokensmith, name) is not None
    assert dir(tokensmith) == tokensmith.__all__


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = tokensmith.Nope


def test_version_is_the_distribution_version() -> None:
    """One source: ``__version__`` is what pyproject builds and what pip reports."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" in project["dynamic"]
    assert tokensmith.__version__ == metadata.version("tokensmith")


def test_the_package_ships_type_information() -> None:
    """PEP 561: a py.typed marker next to the code."""
    assert (Path(tokensmith.__file__).parent / "py.typed").is_file()


def _modules_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


@pytest.mark.parametrize(
    "statement",
    [
        "import tokensmith",
        "from tokensmith import Subject, UserDirectory",
        "import tokensmith.client",
        "from tokensmith.verify import Verifier",
    ],
)
def test_importing_the_light_parts_loads_no_server_dependency(statement: str) -> None:
    """The names are resolved lazily: the client and the directory types never pull in the
    web framework, the ORM or the drivers."""
    loaded = _modules_after(statement)
    assert not [m for m in SERVER_MODULES if m in loaded]


def test_tokensmith_loads_the_server_on_first_use() -> None:
    loaded = _modules_after("from tokensmith import Tokensmith")
    assert {"fastapi", "sqlalchemy"} <= loaded

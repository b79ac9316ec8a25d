"""The core commands through click's runner: users create, gen-secret, db upgrade."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tokensmith.cli.main import cli


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"TOKENSMITH_DATA_DIR": str(tmp_path)}


def test_gen_secret_prints_a_long_random_secret() -> None:
    """gen-secret prints a fresh URL-safe secret of at least 32 bytes each time."""
    runner = CliRunner()
    first = runner.invoke(cli, ["gen-secret"]).output.strip()
    second = runner.invoke(cli, ["gen-secret"]).output.strip()
    assert first != second and len(first) >= 43


def test_db_upgrade_creates_the_schema(env: dict[str, str], tmp_path: Path) -> None:
    """db upgrade applies the migrations to the configured database, up to the newest."""
    from tokensmith.storage.sql.migrate import head_revision

    result = CliRunner().invoke(cli, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert f"database at revision {head_revision()}" in result.output
    assert (tmp_path / "tokensmith.db").exists()


def test_users_create_reads_the_password_from_stdin(env: dict[str, str]) -> None:
    """users create takes the password from stdin when it is not a terminal; the user can then
    log in."""
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["users", "create", "Ada@Example.com", "--name", "Ada"],
        input="a long password\n",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "ada@example.com" in result.output
    again = runner.invoke(
        cli, ["users", "create", "ada@example.com"], input="another password\n", env=env
    )
    assert again.exit_code != 0 and "already exists" in again.output
    listed = runner.invoke(cli, ["users", "list"], env=env)
    assert "ada@example.com" in listed.output


def test_users_create_refuses_a_short_password(env: dict[str, str]) -> None:
    """A password under 8 characters is refused with a clear message."""
    result = CliRunner().invoke(cli, ["users", "create", "a@example.com"], input="short\n", env=env)
    assert result.exit_code != 0
    assert "8 to 1024" in result.output

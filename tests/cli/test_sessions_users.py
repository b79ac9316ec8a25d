"""``tokensmith sessions list|revoke`` and ``tokensmith users create|list|disable``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tokensmith.cli.main import cli
from tokensmith.core.models import IssuedTokens
from tokensmith.core.passwords import TESTING
from tokensmith.core.sessions import RequestContext
from tokensmith.errors import SessionRevoked
from tokensmith.runtime import build_services
from tokensmith.settings import load_settings

PASSWORD = "correct horse battery"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"TOKENSMITH_DATA_DIR": str(tmp_path)}


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, input=stdin)


def login(env: dict[str, str], email: str, agent: str = "pytest") -> IssuedTokens:
    """Log in through the services, as the server would (same data dir, same database)."""

    async def main() -> IssuedTokens:
        services = build_services(load_settings(env), argon2=TESTING)
        await services.start()
        try:
            result = await services.accounts.login(
                email, PASSWORD, RequestContext("10.0.0.7", agent)
            )
            return result.tokens
        finally:
            await services.stop()

    return asyncio.run(main())


def refresh(env: dict[str, str], token: str | None) -> IssuedTokens:
    assert token is not None

    async def main() -> IssuedTokens:
        services = build_services(load_settings(env), argon2=TESTING)
        await services.start()
        try:
            return await services.sessions.refresh(token, RequestContext())
        finally:
            await services.stop()

    return asyncio.run(main())


def create(env: dict[str, str], email: str) -> None:
    result = run(env, "users", "create", email, "--name", "Ada", stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.output


def test_users_list_shows_accounts_as_a_table_and_json(env: dict[str, str]) -> None:
    """users list prints a table by default and a JSON array with --json."""
    create(env, "ada@example.com")
    create(env, "bob@example.com")
    table = run(env, "users", "list")
    assert table.exit_code == 0, table.output
    assert "ada@example.com" in table.output
    assert "active" in table.output
    listed = json.loads(run(env, "users", "list", "--json").output)
    assert [u["email"] for u in listed] == ["ada@example.com", "bob@example.com"]
    assert set(listed[0]) == {"id", "email", "name", "createdAt", "disabledAt", "emailVerified"}


def test_users_disable_ends_sessions_at_once(env: dict[str, str]) -> None:
    """Disabling an account revokes its sessions: refresh fails, the user shows disabled."""
    create(env, "ada@example.com")
    tokens = login(env, "ada@example.com")
    result = run(env, "users", "disable", "ADA@example.com", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "email": "ada@example.com",
        "disabled": True,
        "sessionsRevoked": 1,
    }
    with pytest.raises(SessionRevoked):
        refresh(env, tokens.refresh_token)
    [user] = json.loads(run(env, "users", "list", "--json").output)
    assert user["disabledAt"] is not None


def test_disabling_an_unknown_user_is_one_line(env: dict[str, str]) -> None:
    """An unknown email is an error line and exit status 1, not a traceback."""
    result = run(env, "users", "disable", "nobody@example.com")
    assert result.exit_code == 1
    assert "nobody@example.com" in result.output
    assert "Traceback" not in result.output


def test_sessions_list_shows_active_sessions(env: dict[str, str]) -> None:
    """sessions list shows each active session with its ip and user agent."""
    create(env, "ada@example.com")
    first = login(env, "ada@example.com", "laptop")
    login(env, "ada@example.com", "phone")
    listed = json.loads(run(env, "sessions", "list", "--user", "ada@example.com", "--json").output)
    assert {s["userAgent"] for s in listed} == {"laptop", "phone"}
    assert first.session_id in {s["id"] for s in listed}
    table = run(env, "sessions", "list", "--user", "ada@example.com")
    assert "10.0.0.7" in table.output
    assert "phone" in table.output


def test_sessions_revoke_one_and_all(env: dict[str, str]) -> None:
    """revoke SESSION_ID ends that session; revoke --all ends the rest."""
    create(env, "ada@example.com")
    first = login(env, "ada@example.com")
    second = login(env, "ada@example.com")
    login(env, "ada@example.com")
    one = run(env, "sessions", "revoke", "--user", "ada@example.com", first.session_id)
    assert one.exit_code == 0, one.output
    assert "revoked 1 session(s)" in one.output
    with pytest.raises(SessionRevoked):
        refresh(env, first.refresh_token)
    every = run(env, "sessions", "revoke", "--user", "ada@example.com", "--all", "--json")
    assert json.loads(every.output) == {"email": "ada@example.com", "revoked": 2}
    with pytest.raises(SessionRevoked):
        refresh(env, second.refresh_token)
    empty = run(env, "sessions", "list", "--user", "ada@example.com")
    assert "no active sessions" in empty.output


def test_a_session_id_beginning_with_a_dash_is_revoked_after_double_dash(
    env: dict[str, str],
) -> None:
    """Regression: an id such as "-bXk..." was read as the option "-b". New ids never begin with
    "-"; a session from before (its id rewritten here to begin with "-") is listed, and
    ``revoke -- ID`` ends it."""
    create(env, "ada@example.com")
    tokens = login(env, "ada@example.com")
    dashed = "-" + tokens.session_id[1:]
    _rename_session(env, tokens.session_id, dashed)
    listed = run(env, "sessions", "list", "--user", "ada@example.com", "--json")
    assert [s["id"] for s in json.loads(listed.output)] == [dashed]
    without = run(env, "sessions", "revoke", "--user", "ada@example.com", dashed)
    assert without.exit_code == 2  # click reads it as an option: the reason for "--"
    result = run(env, "sessions", "revoke", "--user", "ada@example.com", "--", dashed)
    assert result.exit_code == 0, result.output
    assert "revoked 1 session(s)" in result.output
    empty = run(env, "sessions", "list", "--user", "ada@example.com")
    assert "no active sessions" in empty.output


def _rename_session(env: dict[str, str], old: str, new: str) -> None:
    database = Path(env["TOKENSMITH_DATA_DIR"]) / "tokensmith.db"
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("UPDATE sessions SET id = ? WHERE id = ?", (new, old))


def test_sessions_revoke_needs_exactly_one_target(env: dict[str, str]) -> None:
    """Neither SESSION_ID nor --all (or both) is a usage error; an unknown id is exit 1."""
    create(env, "ada@example.com")
    assert run(env, "sessions", "revoke", "--user", "ada@example.com").exit_code == 2
    assert run(env, "sessions", "revoke", "--user", "ada@example.com", "x", "--all").exit_code == 2
    unknown = run(env, "sessions", "revoke", "--user", "ada@example.com", "nope")
    assert unknown.exit_code == 1
    assert "No such session" in unknown.output

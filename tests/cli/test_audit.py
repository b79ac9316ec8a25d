"""``tokensmith audit``: the audit log, filtered, as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.cli.test_sessions_users import create, login, refresh
from tokensmith.cli.main import cli
from tokensmith.errors import TokenReuseDetected


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"TOKENSMITH_DATA_DIR": str(tmp_path)}


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, ["audit", *args], env=env)


def events(env: dict[str, str], *args: str) -> list[dict[str, object]]:
    result = run(env, *args, "--json")
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output))


def test_audit_lists_events_oldest_first_with_emails(env: dict[str, str]) -> None:
    """register, login and refresh events appear in order, with the user's email."""
    create(env, "ada@example.com")
    tokens = login(env, "ada@example.com")
    refresh(env, tokens.refresh_token)
    found = events(env)
    assert [e["event"] for e in found] == ["register", "login", "refresh"]
    assert {e["email"] for e in found} == {"ada@example.com"}
    assert found[1]["sessionId"] == tokens.session_id
    table = run(env)
    assert table.exit_code == 0
    assert "login" in table.output
    assert "ada@example.com" in table.output


def test_audit_filters_by_user_event_and_time(env: dict[str, str]) -> None:
    """--user, --event and --since narrow the log; reuse detection is findable."""
    create(env, "ada@example.com")
    create(env, "bob@example.com")
    tokens = login(env, "ada@example.com")
    successor = refresh(env, tokens.refresh_token)
    refresh(env, successor.refresh_token)
    # The successor has itself been rotated: presenting the first token again is theft.
    with pytest.raises(TokenReuseDetected):
        refresh(env, tokens.refresh_token)
    login(env, "bob@example.com")
    [reuse] = events(env, "--event", "reuse_detected")
    assert reuse["email"] == "ada@example.com"
    assert reuse["detail"]["generation"] == 2  # type: ignore[index]
    assert {e["email"] for e in events(env, "--user", "bob@example.com")} == {"bob@example.com"}
    assert len(events(env, "--since", "1h")) == 7
    assert "reuse_detected" in run(env, "--event", "reuse_detected").output


def test_audit_rejects_bad_filters_in_one_line(env: dict[str, str]) -> None:
    """A bad --since or --event is a usage error; an unknown --user is exit 1."""
    assert run(env, "--since", "banana").exit_code == 2
    assert run(env, "--event", "nope").exit_code == 2
    unknown = run(env, "--user", "nobody@example.com")
    assert unknown.exit_code == 1
    assert "no user" in unknown.output


def test_empty_log_says_so(env: dict[str, str]) -> None:
    """No matching events: a plain sentence, exit 0."""
    result = run(env)
    assert result.exit_code == 0
    assert "no audit events" in result.output

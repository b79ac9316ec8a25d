"""``tokensmith users set-password|enable|verify-email`` and ``tokensmith outbox list|retry``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.cli.test_sessions_users import PASSWORD, login, refresh
from tokensmith.cli.main import cli
from tokensmith.errors import InvalidCredentials, SessionRevoked


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"TOKENSMITH_DATA_DIR": str(tmp_path)}


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, input=stdin)


def create(env: dict[str, str], email: str = "ada@example.com") -> None:
    assert run(env, "users", "create", email, stdin=PASSWORD + "\n").exit_code == 0


def test_set_password_sets_it_and_ends_every_session(env: dict[str, str]) -> None:
    create(env)
    tokens = login(env, "ada@example.com")
    result = run(env, "users", "set-password", "ADA@example.com", stdin="a new passphrase\n")
    assert result.exit_code == 0, result.output
    assert "1 session(s) ended" in result.output
    with pytest.raises(SessionRevoked):
        refresh(env, tokens.refresh_token)
    with pytest.raises(InvalidCredentials):
        login(env, "ada@example.com")


def test_set_password_refuses_a_short_password_and_an_unknown_user(env: dict[str, str]) -> None:
    create(env)
    short = run(env, "users", "set-password", "ada@example.com", stdin="short\n")
    assert short.exit_code == 2 and "8 to 1024" in short.output
    unknown = run(env, "users", "set-password", "bob@example.com", stdin=PASSWORD + "\n")
    assert unknown.exit_code == 1 and "bob@example.com" in unknown.output
    assert "Traceback" not in unknown.output


def test_a_disabled_user_can_be_enabled_again(env: dict[str, str]) -> None:
    create(env)
    assert run(env, "users", "disable", "ada@example.com").exit_code == 0
    with pytest.raises(InvalidCredentials):
        login(env, "ada@example.com")
    enabled = run(env, "users", "enable", "ada@example.com")
    assert enabled.exit_code == 0 and "enabled: ada@example.com" in enabled.output
    assert login(env, "ada@example.com").access_token
    again = run(env, "users", "enable", "ada@example.com")
    assert "already enabled" in again.output


def test_verify_email_marks_the_email_verified(env: dict[str, str]) -> None:
    create(env)
    listed = json.loads(run(env, "users", "list", "--json").output)
    assert listed[0]["emailVerified"] is False
    assert run(env, "users", "verify-email", "ada@example.com").exit_code == 0
    listed = json.loads(run(env, "users", "list", "--json").output)
    assert listed[0]["emailVerified"] is True


def test_outbox_lists_waiting_entries_and_retry_makes_them_due(env: dict[str, str]) -> None:
    """A command writes to the outbox (the servers deliver it): ``users disable`` with a
    webhook configured leaves a user.disabled entry; ``outbox retry`` makes it due now."""
    env = {**env, "WEBHOOK_URL": "http://127.0.0.1:9/hooks", "WEBHOOK_SECRET": "s" * 32}
    create(env)
    assert run(env, "outbox", "list").output.strip() == "nothing waiting"
    assert run(env, "users", "disable", "ada@example.com").exit_code == 0
    entries = json.loads(run(env, "outbox", "list", "--json").output)
    assert [(e["channel"], e["type"], e["sentAt"]) for e in entries] == [
        ("webhook", "user.disabled", None)
    ]
    assert entries[0]["eventId"].startswith("evt_")
    table = run(env, "outbox", "list").output
    assert "user.disabled" in table
    assert run(env, "outbox", "retry").output.strip() == "1 entry due now"
    assert run(env, "outbox", "retry", "999").output.strip() == "0 entries due now"

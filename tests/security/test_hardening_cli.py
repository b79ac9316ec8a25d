"""Console markup in the CLI (issue 11, item 4): names, User-Agents and audit details come from
outside; a table shows them as typed. ``[/bold]`` crashed ``users list`` and ``sessions list``
with ``MarkupError``; ``[link=...]`` turned a cell into a link to anywhere."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tokensmith.cli.main import cli
from tokensmith.core.audit import RequestContext
from tokensmith.core.passwords import TESTING
from tokensmith.runtime import build_services
from tokensmith.settings import load_settings

PASSWORD = "correct horse battery"
HOSTILE = ["[/bold]", "[link=https://evil.example]click me[/link]", "[/x] [red]red[/red]"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"TOKENSMITH_DATA_DIR": str(tmp_path), "COLUMNS": "400"}


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, input=stdin)


def sign_up(env: dict[str, str], name: str, agent: str) -> None:
    """Register (through the API's service, as ``POST /auth/register`` would) and log in with
    a hostile User-Agent."""

    async def main() -> None:
        services = build_services(load_settings(env), argon2=TESTING)
        await services.start()
        try:
            ctx = RequestContext("10.0.0.7", agent)
            await services.accounts.register("ada@example.com", PASSWORD, name, ctx)
            await services.accounts.login("ada@example.com", PASSWORD, ctx)
            await services.accounts.login("ada@example.com", "wrong password", ctx)
        except Exception as exc:  # the failed login is part of the story
            if type(exc).__name__ != "InvalidCredentials":
                raise
        finally:
            await services.stop()

    asyncio.run(main())


@pytest.mark.parametrize("text", HOSTILE)
def test_tables_show_markup_as_typed(env: dict[str, str], text: str) -> None:
    """``users list`` and ``sessions list`` print the name and User-Agent literally: exit 0,
    the brackets in the output, no hyperlink escape sequence; ``audit`` prints too."""
    sign_up(env, name=text, agent=text)
    for args in (("users", "list"), ("sessions", "list", "--user", "ada@example.com"), ("audit",)):
        result = run(env, *args)
        assert result.exit_code == 0, (args, result.output, result.exception)
        assert "Traceback" not in result.output
        if args[0] != "audit":  # the audit table shows neither name nor User-Agent
            assert text in result.output, (args, result.output)
        assert "\x1b]8;" not in result.output  # OSC 8: a terminal hyperlink

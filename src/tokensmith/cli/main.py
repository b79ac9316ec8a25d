"""The ``tokensmith`` command group.

Commands are imported lazily, so ``tokensmith inspect`` does not pay for FastAPI and SQLAlchemy,
and each command lives in its own module (``name -> "module:attribute"`` below).
"""

from __future__ import annotations

import importlib
import sys

import click

from tokensmith._extras import missing_server_extra
from tokensmith.errors import ConfigError

_COMMANDS: dict[str, str] = {
    "serve": "tokensmith.cli.serve:serve",
    "db": "tokensmith.cli.db:db",
    "users": "tokensmith.cli.users:users",
    "gen-secret": "tokensmith.cli.secrets:gen_secret",
    "inspect": "tokensmith.cli.inspect:inspect_command",
    "doctor": "tokensmith.cli.doctor:doctor_command",
    "keys": "tokensmith.cli.keys:keys",
    "audit": "tokensmith.cli.audit:audit",
    "sessions": "tokensmith.cli.sessions:sessions",
    "outbox": "tokensmith.cli.outbox:outbox",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = _COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not shipped in this build
                return None
            raise
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tokensmith")
def cli() -> None:
    """tokensmith: JWT sessions that behave."""


def main() -> None:
    """Entry point: configuration mistakes end in one line naming the variable, exit status 2."""
    try:
        cli.main(standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"tokensmith: configuration error: {exc}", err=True)
        sys.exit(2)
    except ModuleNotFoundError as exc:  # a command whose extra is not installed
        line = missing_server_extra(exc, f"tokensmith {' '.join(sys.argv[1:2])}".strip())
        if line is None:
            raise
        click.echo(f"tokensmith: {line}", err=True)
        sys.exit(2)

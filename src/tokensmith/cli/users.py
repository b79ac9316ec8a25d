"""``tokensmith users create|list|disable|enable|set-password|verify-email``; and the helpers
the operator commands share."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tokensmith.errors import TokensmithError

if TYPE_CHECKING:
    from rich.text import Text

    from tokensmith.core.models import UserRecord
    from tokensmith.runtime import Services

__all__ = [
    "cli_context",
    "print_json",
    "print_table",
    "run_with_services",
    "user_by_email",
    "users",
]

T = TypeVar("T")


def run_with_services(action: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``action(services)`` against the configured database, then close everything.

    Revocations made here are written to the database, which running servers poll (or hear
    through Redis), so they take effect on every instance.
    """
    from tokensmith.runtime import build_services
    from tokensmith.settings import load_settings

    async def main() -> T:
        services = build_services(load_settings())
        try:
            # The servers deliver the outbox; a command only writes to it.
            await services.start(outbox_worker=False)
            return await action(services)
        finally:
            await services.stop()

    try:
        return asyncio.run(main())
    except TokensmithError as exc:
        if exc.code == "CONFIG_ERROR":
            raise
        raise click.ClickException(exc.message) from None


def cli_context() -> Any:
    from tokensmith.core.sessions import RequestContext

    return RequestContext(None, "tokensmith-cli")


async def user_by_email(services: Services, email: str) -> UserRecord:
    """The account with ``email`` (case-insensitive), or a one-line error."""
    from tokensmith.core.accounts import normalise_email

    async with services.database.transaction() as uow:
        record = await uow.users.by_email(normalise_email(email))
    if record is None:
        raise click.ClickException(f"no user with the email {normalise_email(email)!r}")
    return record


def when(value: datetime | None) -> str:
    """A time for a table: UTC, to the second."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[str | Text]],
    empty: str,
) -> None:
    """A rich table on stdout (plain text when stdout is not a terminal), or ``empty``.

    Every ``str`` becomes a :class:`~rich.text.Text`, never parsed as console markup: a name
    ``[/bold]`` or a User-Agent ``[link=...]`` is data, shown as typed (it crashed the table
    with ``MarkupError``, or styled and linked it)."""
    if not rows:
        click.echo(empty)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=Text(title) if title is not None else None,
        title_justify="left",
        header_style="bold",
    )
    for column in columns:
        table.add_column(Text(column), overflow="fold")
    for row in rows:
        table.add_row(*(cell if isinstance(cell, Text) else Text(cell) for cell in row))
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _read_password() -> str:
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not 8 <= len(password) <= 1024:
        raise click.BadParameter("the password must be 8 to 1024 characters", param_hint="password")
    return password


@click.group()
def users() -> None:
    """Accounts."""


@users.command("create")
@click.argument("email")
@click.option("--name", default=None, help="Display name.")
def create(email: str, name: str | None) -> None:
    """Create an account; the password is read from stdin or prompted twice."""
    from pydantic import TypeAdapter
    from pydantic import ValidationError as PydanticError
    from pydantic.networks import EmailStr

    try:
        email = TypeAdapter(EmailStr).validate_python(email)
    except PydanticError:
        raise click.BadParameter(f"{email!r} is not an email address", param_hint="EMAIL") from None
    password = _read_password()
    user = run_with_services(lambda s: s.accounts.create_user(email, password, name))
    click.echo(f"created {user.email} ({user.id})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1))
def list_users(as_json: bool, limit: int) -> None:
    """List accounts, oldest first."""

    async def fetch(services: Services) -> list[UserRecord]:
        async with services.database.transaction() as uow:
            return await uow.users.list(limit)

    records = run_with_services(fetch)
    if as_json:
        print_json(
            [
                {
                    "id": r.user.id,
                    "email": r.user.email,
                    "name": r.user.name,
                    "createdAt": iso(r.user.created_at),
                    "disabledAt": iso(r.disabled_at),
                    "emailVerified": r.user.email_verified,
                }
                for r in records
            ]
        )
        return
    rows = [
        (
            r.user.email,
            r.user.name or "",
            r.user.id,
            when(r.user.created_at),
            "[red]disabled[/red]" if r.disabled_at else "active",
        )
        for r in records
    ]
    print_table(None, ("email", "name", "id", "created (UTC)", "state"), rows, "no users")


@users.command("disable")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def disable(email: str, as_json: bool) -> None:
    """Disable an account: it cannot log in and its sessions end at once, on every instance."""
    count = run_with_services(lambda s: s.accounts.disable(email, cli_context()))
    if as_json:
        print_json({"email": email.strip().lower(), "disabled": True, "sessionsRevoked": count})
        return
    click.echo(f"disabled {email.strip().lower()}; {count} session(s) ended")


@users.command("set-password")
@click.argument("email")
def set_password(email: str) -> None:
    """Set an account's password (read from stdin or prompted twice); its sessions end."""
    password = _read_password()
    count = run_with_services(lambda s: s.accounts.set_password(email, password, cli_context()))
    click.echo(f"password set for {email.strip().lower()}; {count} session(s) ended")


@users.command("enable")
@click.argument("email")
def enable(email: str) -> None:
    """Enable a disabled account again (its old sessions stay ended)."""
    changed = run_with_services(lambda s: s.accounts.enable(email, cli_context()))
    state = "enabled" if changed else "already enabled"
    click.echo(f"{state}: {email.strip().lower()}")


@users.command("verify-email")
@click.argument("email")
def verify_email(email: str) -> None:
    """Mark an account's email verified (you vouch for it; no mail is sent)."""

    async def verify(services: Services) -> None:
        record = await user_by_email(services, email)
        assert services.recovery is not None
        await services.recovery.mark_verified(record.user.id, cli_context())

    run_with_services(verify)
    click.echo(f"email verified: {email.strip().lower()}")

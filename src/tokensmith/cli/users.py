"""``tokensmith users create|list|disable``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from tokensmith.errors import TokensmithError

__all__ = ["users"]

T = TypeVar("T")


def run_with_services(action: Callable[..., Awaitable[T]]) -> T:
    """Run ``action(services)`` against the configured database, then close everything."""
    from tokensmith.runtime import build_services
    from tokensmith.settings import load_settings

    async def main() -> T:
        services = build_services(load_settings())
        try:
            await services.start()
            return await action(services)
        finally:
            await services.stop()

    return asyncio.run(main())


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
    try:
        user = run_with_services(lambda s: s.accounts.create_user(email, password, name))
    except TokensmithError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created {user.email} ({user.id})")


@users.command("list")
def list_users() -> None:
    """List accounts."""

    async def fetch(services: object) -> list[tuple[str, str, str]]:
        from tokensmith.runtime import Services

        assert isinstance(services, Services)
        async with services.database.transaction() as uow:
            records = await uow.users.list()
        return [
            (r.user.email, r.user.id, "disabled" if r.disabled_at else "active") for r in records
        ]

    for email, user_id, state in run_with_services(fetch):
        click.echo(f"{email}\t{user_id}\t{state}")


@users.command("disable")
@click.argument("email")
def disable(email: str) -> None:
    """Disable an account: it cannot log in and its sessions end at once."""
    from tokensmith.core.sessions import RequestContext

    try:
        count = run_with_services(
            lambda s: s.accounts.disable(email, RequestContext(None, "tokensmith-cli"))
        )
    except TokensmithError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"disabled {email}; {count} session(s) ended")

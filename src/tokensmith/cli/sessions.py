"""``tokensmith sessions list|revoke --user EMAIL``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tokensmith.cli.users import (
    cli_context,
    iso,
    print_json,
    print_table,
    run_with_services,
    user_by_email,
    when,
)

if TYPE_CHECKING:
    from tokensmith.core.models import SessionRecord
    from tokensmith.runtime import Services

__all__ = ["sessions"]


@click.group()
def sessions() -> None:
    """A user's sessions (logins)."""


@sessions.command("list")
@click.option("--user", "email", required=True, help="The account's email.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_sessions(email: str, as_json: bool) -> None:
    """The user's active sessions, newest first."""

    async def fetch(services: Services) -> list[SessionRecord]:
        user = await user_by_email(services, email)
        return await services.sessions.list_active(user.user.id)

    records = run_with_services(fetch)
    if as_json:
        print_json(
            [
                {
                    "id": s.id,
                    "createdAt": iso(s.created_at),
                    "lastUsedAt": iso(s.last_used_at),
                    "expiresAt": iso(s.expires_at),
                    "ip": s.ip,
                    "userAgent": s.user_agent,
                }
                for s in records
            ]
        )
        return
    rows = [
        (
            s.id,
            when(s.created_at),
            when(s.last_used_at),
            when(s.expires_at),
            s.ip or "-",
            (s.user_agent or "-")[:60],
        )
        for s in records
    ]
    print_table(
        None,
        ("id", "created (UTC)", "last used", "expires", "ip", "user agent"),
        rows,
        f"no active sessions for {email}",
    )


@sessions.command("revoke")
@click.option("--user", "email", required=True, help="The account's email.")
@click.argument("session_id", required=False)
@click.option("--all", "everything", is_flag=True, help="Every session of the user.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def revoke(email: str, session_id: str | None, everything: bool, as_json: bool) -> None:
    """End one session (SESSION_ID) or all of them (--all). Its access tokens stop working on
    every instance at once.

    New session ids never begin with "-"; one that does (made by an older version) goes after
    "--": ``tokensmith sessions revoke --user ada@example.com -- -b3Xz...``.
    """
    if (session_id is None) == (not everything):
        raise click.UsageError("give a SESSION_ID or --all (not both)")

    async def act(services: Services) -> int:
        user = await user_by_email(services, email)
        if everything:
            return await services.sessions.logout_all(user.user.id, cli_context())
        assert session_id is not None
        await services.sessions.revoke_one(user.user.id, session_id, cli_context())
        return 1

    count = run_with_services(act)
    if as_json:
        print_json({"email": email.strip().lower(), "revoked": count})
        return
    click.echo(f"revoked {count} session(s) of {email.strip().lower()}")

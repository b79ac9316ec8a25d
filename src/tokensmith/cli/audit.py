"""``tokensmith audit``: the audit log as a table or JSON."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from tokensmith.cli.users import (
    iso,
    print_json,
    print_table,
    run_with_services,
    user_by_email,
    when,
)
from tokensmith.core.models import AuditEvent, AuditKind

if TYPE_CHECKING:
    from tokensmith.runtime import Services

__all__ = ["audit"]

_STYLES = {
    AuditKind.REUSE_DETECTED: "bold red",
    AuditKind.LOGIN_FAILED: "yellow",
    AuditKind.USER_DISABLED: "red",
    AuditKind.USER_GONE: "red",
    AuditKind.SESSION_EVICTED: "yellow",
    AuditKind.REFRESH_GRACE: "cyan",
    AuditKind.REFRESH_GRACE_SUSPICIOUS: "bold yellow",
}


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta | None:
    from tokensmith.durations import parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option("--user", "email", default=None, help="Only this account's events.")
@click.option("--since", default=None, callback=_duration, help="e.g. 30m, 1h, 7d.")
@click.option(
    "--event",
    "kind",
    type=click.Choice([k.value for k in AuditKind]),
    default=None,
    help="Only this kind of event.",
)
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def audit(
    email: str | None, since: timedelta | None, kind: str | None, limit: int, as_json: bool
) -> None:
    """Print the audit log (logins, refreshes, reuse detections, logouts...), oldest first."""

    async def fetch(services: Services) -> tuple[list[AuditEvent], dict[str, str]]:
        user_id = (await user_by_email(services, email)).user.id if email else None
        start = services.clock.now() - since if since is not None else None
        async with services.database.transaction() as uow:
            events = await uow.audit.query(user_id=user_id, since=start, kind=kind, limit=limit)
            emails: dict[str, str] = {}
            for uid in {e.user_id for e in events if e.user_id}:
                record = await uow.users.by_id(uid)
                if record is not None:
                    emails[uid] = record.user.email
        return events, emails

    events, emails = run_with_services(fetch)
    if as_json:
        print_json([_as_json(e, emails) for e in events])
        return
    from rich.text import Text

    rows = [
        (
            when(e.at),
            Text(e.kind.value, style=_STYLES.get(e.kind, "")),
            emails.get(e.user_id or "", e.user_id or "-"),
            (e.session_id or "-")[:8],
            e.ip or "-",
            " ".join(f"{k}={v}" for k, v in e.detail.items()),
        )
        for e in events
    ]
    print_table(
        None,
        ("time (UTC)", "event", "user", "session", "ip", "detail"),
        rows,
        "no audit events match",
    )


def _as_json(event: AuditEvent, emails: dict[str, str]) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "event": event.kind.value,
        "userId": event.user_id,
        "email": emails.get(event.user_id or ""),
        "sessionId": event.session_id,
        "ip": event.ip,
        "userAgent": event.user_agent,
        "detail": event.detail,
    }

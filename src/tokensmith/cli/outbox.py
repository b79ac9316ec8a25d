"""``tokensmith outbox list|retry``: the mails and webhooks waiting to leave (contract 9)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tokensmith.cli.users import iso, print_json, print_table, run_with_services, when

if TYPE_CHECKING:
    from tokensmith.core.models import OutboxEntry
    from tokensmith.runtime import Services

__all__ = ["outbox"]


@click.group()
def outbox() -> None:
    """Mail and webhook deliveries (the outbox)."""


@outbox.command("list")
@click.option("--all", "show_all", is_flag=True, help="Sent entries too (kept a week).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_entries(show_all: bool, limit: int, as_json: bool) -> None:
    """Entries not sent yet (the newest LIMIT), oldest first, with their last error."""

    async def fetch(services: Services) -> list[OutboxEntry]:
        async with services.database.transaction() as uow:
            return await uow.outbox.list(pending_only=not show_all, limit=limit)

    entries = run_with_services(fetch)
    if as_json:
        print_json(
            [
                {
                    "id": e.id,
                    "eventId": e.event_id,
                    "channel": e.channel.value,
                    "type": e.type,
                    "createdAt": iso(e.created_at),
                    "attempts": e.attempts,
                    "nextAttemptAt": None if e.sent_at else iso(e.next_attempt_at),
                    "sentAt": iso(e.sent_at),
                    "lastError": e.last_error,
                }
                for e in entries
            ]
        )
        return
    rows = [
        (
            str(e.id),
            e.channel.value,
            e.type,
            when(e.created_at),
            str(e.attempts),
            f"sent {when(e.sent_at)}" if e.sent_at else f"next {when(e.next_attempt_at)}",
            e.last_error or "",
        )
        for e in entries
    ]
    columns = ("id", "channel", "type", "created (UTC)", "attempts", "state", "last error")
    print_table(None, columns, rows, "the outbox is empty" if show_all else "nothing waiting")


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
def retry(ids: tuple[int, ...]) -> None:
    """Make waiting entries (all, or the IDS given) due now: the servers send them within a
    second, without waiting out their backoff."""

    async def due_now(services: Services) -> int:
        async with services.database.transaction(write=True) as uow:
            return await uow.outbox.retry(services.clock.now(), list(ids) if ids else None)

    count = run_with_services(due_now)
    click.echo(f"{count} entr{'y' if count == 1 else 'ies'} due now")

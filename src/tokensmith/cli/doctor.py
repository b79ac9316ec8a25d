"""``tokensmith doctor URL``: run the JWT-expiry checklist against a live server.

Exit status: the number of failed checks (0-10). When the checklist cannot run at all, one line on
stderr and a distinct status: 69 server unreachable, 75 rate-limited, 76 not a tokensmith server,
77 cannot log in (or registration closed without --email/--password).
"""

from __future__ import annotations

import json
import os
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tokensmith.diagnostics.doctor import DoctorAborted, DoctorReport, Status, run_doctor

__all__ = ["doctor_command"]

_STYLE = {
    Status.PASS: "bold green",
    Status.FAIL: "bold red",
    Status.WARN: "bold yellow",
    Status.SKIP: "bold blue",
}


def _render(console: Console, report: DoctorReport) -> None:
    # Text, never markup: the URL and the evidence come from outside.
    table = Table(title=Text(f"tokensmith doctor: {report.url}"), show_lines=True, expand=True)
    table.add_column("#", justify="right")
    table.add_column("check", ratio=2)
    table.add_column("result", no_wrap=True)
    table.add_column("evidence", ratio=5)
    with_fix = any(check.fix for check in report.checks)
    if with_fix:
        table.add_column("fix", ratio=3)
    for check in report.checks:
        cells: list[str | Text] = [
            str(check.number),
            Text(check.title),
            Text(str(check.status).upper(), style=_STYLE[check.status]),
            Text("\n".join(check.evidence)),
        ]
        if with_fix:
            cells.append(Text(check.fix or ""))
        table.add_row(*cells)
    console.print(table)
    counts = {status: sum(c.status is status for c in report.checks) for status in Status}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    console.print(Text(f"{summary}; exit status {report.exit_status}"))


@click.command("doctor")
@click.argument("url")
@click.option("--email", help="An existing account (default: register a throwaway one).")
@click.option("--password", help="Its password.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
@click.pass_context
def doctor_command(
    ctx: click.Context, url: str, email: str | None, password: str | None, as_json: bool
) -> None:
    """Run the JWT-expiry checklist against the server at URL.

    Exit status: number of failed checks; 69 unreachable, 75 rate-limited, 76 not tokensmith,
    77 cannot log in.
    """
    if (email is None) != (password is None):
        raise click.UsageError("give --email and --password together (or neither)")
    # Tests may inject run_doctor keywords (transport, clock, sleep) via the context object.
    injected: dict[str, Any] = dict(ctx.find_object(dict) or {})
    try:
        report = run_doctor(url, email=email, password=password, **injected)
    except DoctorAborted as exc:
        click.echo(f"tokensmith doctor: {exc.message}", err=True)
        if as_json:
            aborted = {"url": url, "error": exc.message, "exit_status": exc.exit_status}
            click.echo(json.dumps(aborted, indent=2))
        ctx.exit(exc.exit_status)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        console = Console(highlight=False)
        if not console.is_terminal and "COLUMNS" not in os.environ:
            console = Console(highlight=False, width=140)  # files and pipes: room for evidence
        _render(console, report)
    ctx.exit(report.exit_status)

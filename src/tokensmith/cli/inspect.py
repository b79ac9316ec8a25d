"""``tokensmith inspect``: decode and explain any JWT, and check its signature when given a key.

Exit status: 0 valid (or decodable, unexpired and not checked because no key was given),
1 invalid or expired, 2 not a JWT. The logic lives in :mod:`tokensmith.diagnostics`; this
module reads input, picks the key source and prints.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.json import JSON
from rich.table import Table
from rich.text import Text

from tokensmith.diagnostics.jwt_parts import DecodedJwt, NotAJwt, decode_unverified
from tokensmith.diagnostics.signature import (
    KeyLoadError,
    SignatureResult,
    VerificationKey,
    fetch_jwks,
    key_from_secret,
    load_key_file,
    verify_signature,
)
from tokensmith.diagnostics.token_report import (
    TokenReport,
    Verdict,
    explain_token,
    report_as_dict,
)
from tokensmith.diagnostics.words import in_words
from tokensmith.durations import parse_duration

__all__ = ["inspect_command"]

Clock = Callable[[], datetime]
NOT_A_JWT_EXIT = 2


class DurationType(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _system_clock() -> datetime:
    return datetime.now(UTC)


def _clock(ctx: click.Context) -> Clock:
    # Tests inject the clock through the context object: ``invoke(..., obj={"clock": f})``.
    obj = ctx.find_object(dict)
    clock: Clock | None = obj.get("clock") if obj else None
    return clock or _system_clock


def _check_signature(
    decoded: DecodedJwt, secret: str | None, key_file: Path | None, jwks_url: str | None
) -> SignatureResult | None:
    keys: list[VerificationKey]
    if secret is not None:
        method, keys = "secret", [key_from_secret(secret)]
    else:
        method = "key" if key_file is not None else "jwks"
        try:
            if key_file is not None:
                keys = load_key_file(key_file)
            elif jwks_url is not None:
                keys = fetch_jwks(jwks_url)
            else:
                return None
        except KeyLoadError as exc:
            click.echo(f"tokensmith inspect: {exc}", err=True)
            return SignatureResult(method, False, str(exc), decoded.alg)
    return verify_signature(decoded, keys, method)


_VERDICT_STYLE = {
    Verdict.VALID: "bold green",
    Verdict.UNVERIFIED: "bold yellow",
    Verdict.EXPIRED: "bold red",
    Verdict.NOT_YET_VALID: "bold red",
    Verdict.INVALID: "bold red",
}


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _render(console: Console, report: TokenReport) -> None:
    header, claims = report.decoded.header, report.decoded.claims
    alg = header.get("alg")
    console.print(
        Text.assemble(
            ("Kind: ", "bold"), f"{report.kind} token (typ {header.get('typ')!r}, alg {alg!r})"
        )
    )
    console.print(Text("Header", style="bold"))
    console.print(JSON.from_data(header))
    console.print(Text("Claims", style="bold"))
    console.print(JSON.from_data(claims))
    leeway = in_words(report.leeway)
    if report.times:
        table = Table(
            title=Text(f"Times (now {_utc(report.now)}, leeway {leeway})"), title_justify="left"
        )
        table.add_column("claim")
        table.add_column("UTC")
        table.add_column("relative to now")
        for t in report.times:
            table.add_row(Text(t.name), Text(_utc(t.at)), Text(t.words))
        console.print(table)
    if report.lifetime is not None:
        console.print(
            Text.assemble(("Lifetime: ", "bold"), f"{in_words(report.lifetime)} (exp - iat)")
        )
    if report.signature is None:
        console.print(Text("Signature not checked (give --secret, --key or --jwks)", style="bold"))
    else:
        detail = report.signature.detail
        line = (
            detail[0].upper() + detail[1:]
            if detail.startswith("signature")
            else f"Signature not verified: {detail}"
        )
        console.print(Text(line, style="bold green" if report.signature.valid else "bold red"))
    if report.warnings:
        console.print(Text("Warnings", style="bold yellow"))
        for warning in report.warnings:
            console.print(Text(f"  ! {warning.message} [{warning.code}]", style="yellow"))
    console.print(
        Text.assemble(
            ("Verdict: ", "bold"),
            (str(report.verdict).upper().replace("_", " "), _VERDICT_STYLE[report.verdict]),
            f" - {'; '.join(report.reasons)}",
        )
    )


@click.command("inspect")
@click.argument("token", required=False)
@click.option("--secret", help="HMAC secret to verify an HS256/384/512 signature.")
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="PEM public or private key, certificate, JWK or JWK Set file.",
)
@click.option("--jwks", "jwks_url", metavar="URL", help="JWKS URL to fetch the key from.")
@click.option(
    "--leeway",
    type=DurationType(),
    default="60s",
    show_default=True,
    help="Clock-skew tolerance for exp, nbf and iat: 30s, 15m, 1h, 1d or whole seconds.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
@click.pass_context
def inspect_command(
    ctx: click.Context,
    token: str | None,
    secret: str | None,
    key_file: Path | None,
    jwks_url: str | None,
    leeway: timedelta,
    as_json: bool,
) -> None:
    """Decode and explain a JWT (read from stdin when TOKEN is not given).

    Exit status: 0 valid (or unexpired when no key is given), 1 invalid or expired,
    2 not a JWT.
    """
    if sum(source is not None for source in (secret, key_file, jwks_url)) > 1:
        raise click.UsageError("give at most one of --secret, --key and --jwks")
    if token is None and sys.stdin.isatty():
        click.echo("tokensmith inspect: paste the token, then Ctrl-D", err=True)
    text = token if token is not None else sys.stdin.read()
    try:
        decoded = decode_unverified(text)
    except NotAJwt as exc:
        click.echo(f"tokensmith inspect: not a JWT: {exc}", err=True)
        if as_json:
            report: dict[str, Any] = {
                "verdict": "not_jwt",
                "error": str(exc),
                "exit_status": NOT_A_JWT_EXIT,
            }
            click.echo(json.dumps(report, indent=2))
        ctx.exit(NOT_A_JWT_EXIT)
    signature = _check_signature(decoded, secret, key_file, jwks_url)
    explained = explain_token(decoded, now=_clock(ctx)(), leeway=leeway, signature=signature)
    if as_json:
        click.echo(json.dumps(report_as_dict(explained), indent=2, default=str))
    else:
        _render(Console(highlight=False, soft_wrap=True), explained)
    ctx.exit(explained.exit_status)

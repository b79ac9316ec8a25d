"""``tokensmith gen-secret``: a secret fit for JWT_SECRET / JWT_REFRESH_SECRET."""

from __future__ import annotations

import secrets as _secrets

import click

__all__ = ["gen_secret"]


@click.command("gen-secret")
@click.option(
    "--bytes",
    "size",
    default=48,
    show_default=True,
    type=click.IntRange(32, 512),
    help="Random bytes (at least 32, as production requires).",
)
def gen_secret(size: int) -> None:
    """Print a new random secret (URL-safe base64)."""
    click.echo(_secrets.token_urlsafe(size))

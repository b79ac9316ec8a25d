"""``tokensmith keys generate|list|rotate|retire``: asymmetric signing keys and their ring.

The ring is the PEM file ``JWT_PRIVATE_KEY_FILE`` names: PKCS#8 private keys one after another,
all of one algorithm. The first key signs new access tokens; every key verifies and is published
at ``/.well-known/jwks.json``. See ``docs/keys.md`` for the rotation procedure.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tokensmith.core.keys import (
    ASYMMETRIC_ALGORITHMS,
    RingKey,
    generate_private_pem,
    parse_ring,
    serialize_ring,
)
from tokensmith.errors import ConfigError

__all__ = ["keys"]

F = TypeVar("F", bound=Callable[..., Any])

_ALGORITHMS = sorted(ASYMMETRIC_ALGORITHMS)
_RESTART = "restart the server to apply"


def _configured() -> tuple[Path | None, str | None]:
    """JWT_PRIVATE_KEY_FILE and JWT_ALGORITHM from the environment and ``.env``, like ``serve``."""
    import pydantic

    from tokensmith.settings import Settings

    try:
        settings = Settings()
    except (pydantic.ValidationError, ValueError):
        return None, None
    algorithm = settings.jwt_algorithm if settings.jwt_algorithm != "HS256" else None
    return settings.jwt_private_key_file, algorithm


def _ring_path(file: Path | None) -> Path:
    path = file or _configured()[0]
    if path is None:
        raise click.UsageError("no key ring: pass --file or set JWT_PRIVATE_KEY_FILE")
    return path


def _read_ring(path: Path) -> list[RingKey]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    try:
        ring = parse_ring(data)
    except ConfigError as exc:
        problem = exc.message.removeprefix("JWT_PRIVATE_KEY_FILE: ")
        raise click.ClickException(f"{path}: {problem}") from None
    if not ring:
        raise click.ClickException(f"{path} holds no PKCS#8 private key")
    return ring


def _write_private(path: Path, data: bytes, *, replace: bool) -> None:
    """Write ``data`` readable by the owner only (0600), atomically: a reader sees the old ring or
    the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not replace and path.exists():
        raise click.ClickException(f"{path} exists; use --force to overwrite it")
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _file_option(function: F) -> F:
    return click.option(
        "--file",
        "file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="The key ring (default: JWT_PRIVATE_KEY_FILE).",
    )(function)


@click.group()
def keys() -> None:
    """Asymmetric signing keys (EdDSA, ES256, RS256) and their rotation ring."""


@keys.command("generate")
@click.option(
    "--algorithm",
    type=click.Choice(_ALGORITHMS),
    default=None,
    help="Default: JWT_ALGORITHM when asymmetric, else EdDSA.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the key (default: JWT_PRIVATE_KEY_FILE).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file (its keys are lost).")
def generate(algorithm: str | None, out: Path | None, force: bool) -> None:
    """Write a new PKCS#8 PEM private key (mode 0600): a ring of one key."""
    configured_path, configured_algorithm = _configured()
    path = out or configured_path
    if path is None:
        raise click.UsageError("pass --out FILE or set JWT_PRIVATE_KEY_FILE")
    key = generate_private_pem(algorithm or configured_algorithm or "EdDSA")
    _write_private(path, key.pem, replace=force)
    click.echo(f"wrote {key.algorithm} key {key.kid} to {path} (mode 0600)")


@keys.command("list")
@_file_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_keys(file: Path | None, as_json: bool) -> None:
    """Show the ring: which key signs and which still verify."""
    path = _ring_path(file)
    ring = _read_ring(path)
    rows = [
        {"kid": key.kid, "algorithm": key.algorithm, "role": "signing" if i == 0 else "verifying"}
        for i, key in enumerate(ring)
    ]
    if as_json:
        click.echo(json.dumps({"file": str(path), "keys": rows}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Text, never markup: a path or kid holding "[...]" is shown as it is.
    table = Table(title=Text(str(path)), title_justify="left")
    for column in ("kid", "algorithm", "role"):
        table.add_column(column, no_wrap=column == "kid")
    for row in rows:
        table.add_row(Text(row["kid"]), Text(row["algorithm"]), Text(row["role"]))
    Console().print(table)


@keys.command("rotate")
@_file_option
@click.option(
    "--stage",
    is_flag=True,
    help="Add the new key as verify-only (published) without signing with it yet.",
)
@click.option(
    "--promote", "promote", metavar="KID", default=None, help="Make a key already in the ring sign."
)
def rotate(file: Path | None, stage: bool, promote: str | None) -> None:
    """Add a new signing key; the old ones keep verifying until retired.

    With several instances, rotate in two steps so no instance sees a kid it does not know:
    ``rotate --stage`` and restart every instance, then ``rotate --promote KID`` and restart.
    """
    if stage and promote:
        raise click.UsageError("--stage and --promote do not go together")
    path = _ring_path(file)
    ring = _read_ring(path)
    if promote is not None:
        chosen = [key for key in ring if key.kid == promote]
        if not chosen:
            raise click.ClickException(f"no key {promote} in {path}")
        ring = chosen + [key for key in ring if key.kid != promote]
        _write_private(path, serialize_ring(ring), replace=True)
        click.echo(f"{promote} now signs; {len(ring) - 1} older key(s) still verify; {_RESTART}")
        return
    new = generate_private_pem(ring[0].algorithm)
    ring = [*ring, new] if stage else [new, *ring]
    _write_private(path, serialize_ring(ring), replace=True)
    if stage:
        click.echo(
            f"staged {new.algorithm} key {new.kid} (verifies, does not sign yet); {_RESTART}"
        )
    else:
        click.echo(
            f"{new.algorithm} key {new.kid} now signs; {len(ring) - 1} older key(s) still verify; "
            f"{_RESTART}"
        )


@keys.command("retire")
@_file_option
@click.argument("kid")
def retire(file: Path | None, kid: str) -> None:
    """Remove a key that no longer signs: tokens it signed stop verifying.

    Retire a key only after JWT_EXPIRES_IN plus JWT_CLOCK_TOLERANCE have passed since it stopped
    signing (every instance restarted), or its tokens fail before they expire. A KID that begins
    with "-" goes after "--": ``tokensmith keys retire -- -hg4K...``.
    """
    path = _ring_path(file)
    ring = _read_ring(path)
    if not any(key.kid == kid for key in ring):
        raise click.ClickException(f"no key {kid} in {path}")
    if ring[0].kid == kid:
        raise click.ClickException(
            f"{kid} is the signing key: rotate first ('tokensmith keys rotate'), then retire it"
        )
    remaining = [key for key in ring if key.kid != kid]
    _write_private(path, serialize_ring(remaining), replace=True)
    click.echo(f"retired {kid}; {len(remaining)} key(s) left; {_RESTART}")

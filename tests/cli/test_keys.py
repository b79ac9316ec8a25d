"""``tokensmith keys generate|list|rotate|retire`` through click's runner."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tokensmith.cli.main import cli
from tokensmith.core.keys import parse_ring


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def listed(ring: Path) -> list[dict[str, str]]:
    result = run("keys", "list", "--file", str(ring), "--json")
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output)["keys"])


def test_generate_writes_a_private_pkcs8_key_readable_by_owner_only(tmp_path: Path) -> None:
    """The key file is PKCS#8 PEM with mode 0600, and generate never overwrites by accident."""
    ring = tmp_path / "access.pem"
    result = run("keys", "generate", "--algorithm", "ES256", "--out", str(ring))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(ring.stat().st_mode) == 0o600
    assert ring.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert parse_ring(ring.read_bytes())[0].algorithm == "ES256"
    again = run("keys", "generate", "--out", str(ring))
    assert again.exit_code == 1
    assert "--force" in again.output


def test_generate_defaults_to_the_configured_file_and_algorithm(tmp_path: Path) -> None:
    """Without options it writes JWT_PRIVATE_KEY_FILE for JWT_ALGORITHM."""
    ring = tmp_path / "k.pem"
    env = {"JWT_ALGORITHM": "RS256", "JWT_PRIVATE_KEY_FILE": str(ring)}
    assert run("keys", "generate", env=env).exit_code == 0
    assert parse_ring(ring.read_bytes())[0].algorithm == "RS256"
    result = run("keys", "list", env=env)
    assert result.exit_code == 0
    assert "signing" in result.output


def test_rotate_puts_a_new_signing_key_first_and_keeps_the_old_one(tmp_path: Path) -> None:
    """rotate: the new key signs, the old one verifies."""
    ring = tmp_path / "access.pem"
    run("keys", "generate", "--algorithm", "EdDSA", "--out", str(ring))
    [old] = listed(ring)
    result = run("keys", "rotate", "--file", str(ring))
    assert result.exit_code == 0, result.output
    keys = listed(ring)
    assert [k["role"] for k in keys] == ["signing", "verifying"]
    assert keys[1]["kid"] == old["kid"]
    assert keys[0]["kid"] in result.output
    assert stat.S_IMODE(ring.stat().st_mode) == 0o600


def test_stage_then_promote(tmp_path: Path) -> None:
    """--stage adds a verify-only key; --promote KID makes it sign."""
    ring = tmp_path / "access.pem"
    run("keys", "generate", "--algorithm", "EdDSA", "--out", str(ring))
    [old] = listed(ring)
    assert run("keys", "rotate", "--stage", "--file", str(ring)).exit_code == 0
    keys = listed(ring)
    assert keys[0]["kid"] == old["kid"]
    staged = keys[1]["kid"]
    assert run("keys", "rotate", "--file", str(ring), "--promote", staged).exit_code == 0
    assert [k["kid"] for k in listed(ring)] == [staged, old["kid"]]


def test_retire_removes_a_verifying_key_but_never_the_signing_one(tmp_path: Path) -> None:
    """retire refuses the signing key and unknown kids; it removes an older key."""
    ring = tmp_path / "access.pem"
    run("keys", "generate", "--algorithm", "EdDSA", "--out", str(ring))
    run("keys", "rotate", "--file", str(ring))
    signing, old = (k["kid"] for k in listed(ring))
    # A kid can begin with "-" (base64url), so it goes after "--".
    refused = run("keys", "retire", "--file", str(ring), "--", signing)
    assert refused.exit_code == 1
    assert "signing key" in refused.output
    assert run("keys", "retire", "--file", str(ring), "--", "nope").exit_code == 1
    result = run("keys", "retire", "--file", str(ring), "--", old)
    assert result.exit_code == 0, result.output
    assert [k["kid"] for k in listed(ring)] == [signing]


@pytest.mark.parametrize("content", [b"", b"not a key"])
def test_a_file_without_keys_is_one_clear_line(tmp_path: Path, content: bytes) -> None:
    """A ring file that holds no key is reported in one line, not a traceback."""
    ring = tmp_path / "access.pem"
    ring.write_bytes(content)
    result = run("keys", "list", "--file", str(ring))
    assert result.exit_code == 1
    assert "no PKCS#8 private key" in result.output
    assert "Traceback" not in result.output


def test_no_ring_configured_is_a_usage_error(tmp_path: Path) -> None:
    """Without --file and JWT_PRIVATE_KEY_FILE the command says what to pass."""
    result = CliRunner().invoke(cli, ["keys", "list"], env={"JWT_PRIVATE_KEY_FILE": None})
    assert result.exit_code == 2
    assert "JWT_PRIVATE_KEY_FILE" in result.output


def test_a_kid_beginning_with_a_dash_can_be_retired(tmp_path: Path) -> None:
    """base64url kids may start with "-": after "--" retire takes them, and --promote takes them
    as its value."""
    from tokensmith.core.keys import RingKey, generate_private_pem, serialize_ring

    dashed: list[RingKey] = []
    while len(dashed) < 2:
        key = generate_private_pem("EdDSA")
        if key.kid.startswith("-"):
            dashed.append(key)
    ring = tmp_path / "access.pem"
    ring.write_bytes(serialize_ring([generate_private_pem("EdDSA"), *dashed]))
    promoted = run("keys", "rotate", "--file", str(ring), "--promote", dashed[0].kid)
    assert promoted.exit_code == 0, promoted.output
    result = run("keys", "retire", "--file", str(ring), "--", dashed[1].kid)
    assert result.exit_code == 0, result.output
    assert listed(ring)[0]["kid"] == dashed[0].kid
    assert dashed[1].kid not in {k["kid"] for k in listed(ring)}

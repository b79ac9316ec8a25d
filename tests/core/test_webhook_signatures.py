"""``tokensmith.webhooks.verify_signature``: what a receiver of tokensmith's webhooks runs."""

from __future__ import annotations

import subprocess
import sys

from tokensmith.webhooks import sign, signature_header, verify_signature

SECRET = "whsec-test-secret"
BODY = b'{"id":"evt_1","type":"user.disabled","createdAt":"2026-12-05T21:00:00Z","data":{}}'
NOW = 1_800_000_000


def test_a_signature_made_with_the_secret_verifies() -> None:
    """t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">, as contract 9 writes it."""
    header = signature_header(SECRET, BODY, timestamp=NOW)
    assert header == f"t={NOW},v1={sign(SECRET, NOW, BODY)}"
    assert verify_signature(SECRET, header, BODY, now=NOW)
    assert verify_signature(SECRET.encode(), header, BODY.decode(), now=NOW + 299)


def test_a_changed_body_a_wrong_secret_or_an_old_timestamp_fail() -> None:
    header = signature_header(SECRET, BODY, timestamp=NOW)
    assert not verify_signature(SECRET, header, BODY + b" ", now=NOW)
    assert not verify_signature("another secret", header, BODY, now=NOW)
    assert not verify_signature(SECRET, header, BODY, now=NOW + 301)
    assert not verify_signature(SECRET, header, BODY, tolerance=10, now=NOW - 11)


def test_malformed_headers_are_simply_not_valid() -> None:
    """Never an exception for a receiver to turn into a 500."""
    for header in (None, "", "t=abc,v1=00", "v1=00", f"t={NOW}", "garbage", f"t={NOW},v1="):
        assert not verify_signature(SECRET, header, BODY, now=NOW)


def test_any_v1_entry_may_match() -> None:
    """A header with several v1 values (a secret being rotated) verifies with either."""
    good = sign(SECRET, NOW, BODY)
    assert verify_signature(SECRET, f"t={NOW},v1={'0' * 64},v1={good}", BODY, now=NOW)


def test_the_module_needs_only_the_standard_library() -> None:
    """Importing it pulls in no server dependency (it works with the base distribution)."""
    code = (
        "import sys, tokensmith.webhooks\n"
        "heavy = ('fastapi', 'pydantic', 'sqlalchemy', 'httpx', 'aiosmtplib')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

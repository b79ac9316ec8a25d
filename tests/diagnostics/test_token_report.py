"""Explaining a decoded token against an injected clock."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tokensmith.diagnostics.jwt_parts import decode_unverified
from tokensmith.diagnostics.signature import SignatureResult
from tokensmith.diagnostics.token_report import TokenKind, Verdict, explain_token, token_kind

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
NOW_S = int(NOW.timestamp())


def token(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    def b64(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{b64(header or {'alg': 'HS256', 'typ': 'at+jwt'})}.{b64(claims)}.c2ln"


def explain(claims: dict[str, Any], **kwargs: Any) -> Any:
    return explain_token(decode_unverified(token(claims)), now=NOW, **kwargs)


def codes(report: Any) -> list[str]:
    return [w.code for w in report.warnings]


@pytest.mark.parametrize(
    ("typ", "kind"),
    [
        ("at+jwt", TokenKind.ACCESS),
        ("application/at+JWT", TokenKind.ACCESS),
        ("rt+jwt", TokenKind.REFRESH),
        ("JWT", TokenKind.UNKNOWN),
        (None, TokenKind.UNKNOWN),
        (7, TokenKind.UNKNOWN),
    ],
)
def test_kind_comes_from_typ(typ: object, kind: TokenKind) -> None:
    """RFC 9068 at+jwt (with or without application/) is access; rt+jwt is refresh."""
    assert token_kind({"typ": typ}) == kind


def test_exp_exactly_now_is_expired_without_leeway() -> None:
    """RFC 7519 §4.1.4: 'on or after' exp the token must not be accepted."""
    report = explain({"exp": NOW_S}, leeway=timedelta(0))
    assert report.verdict is Verdict.EXPIRED
    assert report.time("exp").words == "expires right now"


def test_times_carry_utc_instants_and_offsets() -> None:
    """Each time claim has its instant, its offset from now and its words."""
    report = explain({"iat": NOW_S - 7200, "exp": NOW_S + 5400, "nbf": NOW_S - 7200})
    iat = report.time("iat")
    assert iat is not None
    assert iat.at == NOW - timedelta(hours=2)
    assert iat.seconds_from_now == -7200
    assert iat.words == "issued 2 hours ago"
    assert report.time("nbf").words == "valid since 2 hours ago"
    assert report.time("exp").words == "valid for 1 hour 30 minutes more"
    assert report.lifetime == timedelta(hours=3, minutes=30)


@pytest.mark.parametrize("value", ["tomorrow", True, None, 1e300, [1]])
def test_time_claim_that_is_not_a_number_makes_the_token_invalid(value: object) -> None:
    """exp must be a NumericDate; anything else is BAD_TIME_CLAIM and invalid."""
    report = explain({"exp": value})
    assert "BAD_TIME_CLAIM" in codes(report)
    assert report.verdict is Verdict.INVALID


def test_exp_before_iat_is_warned_about() -> None:
    """A token born expired gets LIFETIME_NEGATIVE."""
    report = explain({"iat": NOW_S, "exp": NOW_S - 10})
    assert "LIFETIME_NEGATIVE" in codes(report)


def test_duplicate_claim_is_warned_about() -> None:
    """Two 'exp' members: parsers may disagree, so it is a warning."""
    raw = token({"exp": NOW_S + 60}).split(".")
    payload = base64.urlsafe_b64encode(b'{"exp": 1, "exp": 2}').rstrip(b"=").decode()
    report = explain_token(decode_unverified(f"{raw[0]}.{payload}.{raw[2]}"), now=NOW)
    assert "DUPLICATE_MEMBER" in codes(report)


def test_bad_signature_outranks_expiry() -> None:
    """An invalid signature makes the verdict invalid even when the token is also expired."""
    bad = SignatureResult("secret", False, "signature does NOT match", "HS256")
    report = explain({"exp": NOW_S - 3600}, signature=bad)
    assert report.verdict is Verdict.INVALID
    assert report.reasons[0] == "signature does NOT match"
    assert report.exit_status == 1


def test_key_warnings_count_only_when_the_signature_verifies() -> None:
    """A short secret matters when it is the issuer's key, not when it was a wrong guess."""
    weak = ("The HMAC key is 6 bytes long",)
    good = SignatureResult("secret", True, "ok", "HS256", key_warnings=weak)
    wrong = SignatureResult("secret", False, "no", "HS256", key_warnings=weak)
    assert "WEAK_KEY" in codes(explain({"exp": NOW_S + 60}, signature=good))
    assert "WEAK_KEY" not in codes(explain({"exp": NOW_S + 60}, signature=wrong))


def test_naive_now_is_refused() -> None:
    """The clock must be timezone-aware."""
    with pytest.raises(ValueError, match="timezone-aware"):
        explain_token(decode_unverified(token({})), now=datetime(2025, 1, 1))  # noqa: DTZ001

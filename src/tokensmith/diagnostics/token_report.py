"""Explain a decoded JWT: its kind, its times in words, its risks, and a verdict.

The clock is a parameter (``now``) so the same token always gets the same explanation in tests.
Time claims follow RFC 7519 §4.1: ``exp`` is the instant *on or after which* the token must not be
accepted, ``nbf`` the instant before which it must not be, both with a small ``leeway`` for
clock skew (§4.1.4/§4.1.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from tokensmith.diagnostics.jwt_parts import DecodedJwt
from tokensmith.diagnostics.signature import SignatureResult, is_none_alg
from tokensmith.diagnostics.words import in_words

__all__ = [
    "ACCESS_LIFETIME",
    "EXPECTED_ALGORITHMS",
    "REFRESH_LIFETIME",
    "TIME_CLAIMS",
    "LifetimeRange",
    "TimeClaim",
    "TokenKind",
    "TokenReport",
    "TokenWarning",
    "Verdict",
    "explain_token",
    "report_as_dict",
    "token_kind",
]

TIME_CLAIMS = ("iat", "nbf", "exp", "auth_time")
EXPECTED_ALGORITHMS = frozenset(
    {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    | {"ES256", "ES256K", "ES384", "ES512", "EdDSA"}
)


class TokenKind(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"
    UNKNOWN = "unknown"


class Verdict(StrEnum):
    VALID = "valid"
    """Signature verified, times fine."""
    UNVERIFIED = "unverified"
    """Decoded, times fine, no key given to check the signature."""
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    INVALID = "invalid"

    @property
    def exit_status(self) -> int:
        return 0 if self in (Verdict.VALID, Verdict.UNVERIFIED) else 1


@dataclass(frozen=True)
class LifetimeRange:
    """The usual lifetime (``exp - iat``) of one kind of token."""

    kind: TokenKind
    low: timedelta
    high: timedelta


ACCESS_LIFETIME = LifetimeRange(TokenKind.ACCESS, timedelta(minutes=15), timedelta(hours=1))
REFRESH_LIFETIME = LifetimeRange(TokenKind.REFRESH, timedelta(days=7), timedelta(days=30))
_ARTICLE = {TokenKind.ACCESS: "an", TokenKind.REFRESH: "a", TokenKind.UNKNOWN: "an"}
_RANGES = {TokenKind.ACCESS: ACCESS_LIFETIME, TokenKind.REFRESH: REFRESH_LIFETIME}


@dataclass(frozen=True)
class TokenWarning:
    """Something worth a look; ``code`` is stable for ``--json`` consumers."""

    code: str
    message: str


@dataclass(frozen=True)
class TimeClaim:
    """A time claim as an instant and in words relative to ``now``."""

    name: str
    value: int | float
    at: datetime
    seconds_from_now: float
    words: str


@dataclass(frozen=True)
class TokenReport:
    """Everything ``tokensmith inspect`` says about one token."""

    decoded: DecodedJwt
    now: datetime
    leeway: timedelta
    kind: TokenKind
    times: tuple[TimeClaim, ...]
    lifetime: timedelta | None
    warnings: tuple[TokenWarning, ...]
    verdict: Verdict
    reasons: tuple[str, ...]
    """Why the verdict is what it is, one sentence each."""
    signature: SignatureResult | None = None

    @property
    def exit_status(self) -> int:
        return self.verdict.exit_status

    def time(self, name: str) -> TimeClaim | None:
        return next((t for t in self.times if t.name == name), None)


def token_kind(header: dict[str, Any]) -> TokenKind:
    """``typ`` ``at+jwt`` is an access token (RFC 9068 §2.1), ``rt+jwt`` our refresh token."""
    typ = header.get("typ")
    if not isinstance(typ, str):
        return TokenKind.UNKNOWN
    typ = typ.strip().lower().removeprefix("application/")
    return {"at+jwt": TokenKind.ACCESS, "rt+jwt": TokenKind.REFRESH}.get(typ, TokenKind.UNKNOWN)


def _with_more(span: timedelta) -> str:
    words = in_words(span)
    number, _, rest = words.partition(" ")
    return f"{number} more {rest}" if " " not in rest else f"{words} more"


def _words(name: str, delta: timedelta) -> str:
    span = in_words(delta)
    past = delta.total_seconds() < 0
    if delta.total_seconds() == 0:
        return {"exp": "expires right now", "nbf": "becomes valid right now"}.get(name, "right now")
    if name == "exp":
        return f"expired {span} ago" if past else f"valid for {_with_more(delta)}"
    if name == "iat":
        return f"issued {span} ago" if past else f"issued {span} in the future"
    if name == "nbf":
        return f"valid since {span} ago" if past else f"not valid for another {span}"
    if name == "auth_time":
        return f"authenticated {span} ago" if past else f"authenticated {span} in the future"
    return f"{span} ago" if past else f"in {span}"  # pragma: no cover - names are fixed


def _as_instant(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass
class _Findings:
    warnings: list[TokenWarning] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    premature: list[str] = field(default_factory=list)

    def warn(self, code: str, message: str) -> None:
        self.warnings.append(TokenWarning(code, message))


def _check_alg(header: dict[str, Any], found: _Findings) -> None:
    alg = header.get("alg")
    if is_none_alg(alg):
        found.warn("ALG_NONE", "alg is none: the token is unsigned and must never be accepted")
        found.invalid.append("it is unsigned (alg none)")
    elif not isinstance(alg, str) or not alg:
        found.warn("ALG_MISSING", "the header has no alg (RFC 7515 §4.1.1 requires one)")
        found.invalid.append("its header has no alg")
    elif alg not in EXPECTED_ALGORITHMS:
        found.warn(
            "ALG_UNEXPECTED",
            f"alg {alg!r} is not one of HS256/384/512, RS*, ES*, PS* or EdDSA",
        )


def _check_lifetime(
    kind: TokenKind, times: dict[str, TimeClaim], found: _Findings
) -> timedelta | None:
    if "exp" not in times or "iat" not in times:
        return None
    lifetime = times["exp"].at - times["iat"].at
    if lifetime <= timedelta(0):
        found.warn("LIFETIME_NEGATIVE", "exp is not after iat: the token was born expired")
        return lifetime
    usual = _RANGES.get(kind)
    if usual is not None and not usual.low <= lifetime <= usual.high:
        side = "shorter" if lifetime < usual.low else "longer"
        found.warn(
            "LIFETIME_UNUSUAL",
            f"lifetime {in_words(lifetime)} is {side} than usual for {_ARTICLE[kind]} {kind} token "
            f"({in_words(usual.low)} to {in_words(usual.high)})",
        )
    return lifetime


def _check_times(
    times: dict[str, TimeClaim], leeway: timedelta, found: _Findings, has_exp: bool
) -> None:
    leeway_s = leeway.total_seconds()
    leeway_words = in_words(leeway)
    if not has_exp:
        found.warn("NO_EXP", "no exp claim: this token never expires")
    exp = times.get("exp")
    if exp is not None and exp.seconds_from_now <= 0:
        if exp.seconds_from_now <= -leeway_s:
            found.expired.append(exp.words)
        else:
            found.warn(
                "EXPIRED_WITHIN_LEEWAY",
                f"{exp.words}, accepted only thanks to the {leeway_words} leeway",
            )
    iat = times.get("iat")
    if iat is not None and iat.seconds_from_now > 0:
        ahead = in_words(iat.seconds_from_now)
        message = (
            f"iat is {ahead} in the future: the issuer's clock is {ahead} ahead of this "
            f"machine's (or this one is behind)"
        )
        if iat.seconds_from_now > leeway_s:
            found.warn("IAT_IN_FUTURE", f"{message}; beyond the {leeway_words} leeway")
            found.premature.append(f"it was issued {ahead} in the future")
        else:
            found.warn("IAT_IN_FUTURE", f"{message}; within the {leeway_words} leeway")
    nbf = times.get("nbf")
    if nbf is not None and nbf.seconds_from_now > 0:
        if nbf.seconds_from_now > leeway_s:
            found.warn("NBF_NOT_REACHED", f"nbf not reached: {nbf.words}")
            found.premature.append(f"it is {nbf.words}")
        else:
            found.warn(
                "NBF_NOT_REACHED",
                f"nbf not reached ({nbf.words}), accepted only thanks to the {leeway_words} leeway",
            )


def _verdict(found: _Findings, signature: SignatureResult | None) -> tuple[Verdict, list[str]]:
    invalid = list(found.invalid)
    if signature is not None and not signature.valid:
        invalid.insert(0, signature.detail)
    if invalid:
        return Verdict.INVALID, invalid
    if found.expired:
        return Verdict.EXPIRED, found.expired
    if found.premature:
        return Verdict.NOT_YET_VALID, found.premature
    if signature is not None:
        return Verdict.VALID, [signature.detail, "times are fine"]
    return Verdict.UNVERIFIED, ["times are fine", "signature not checked: no key given"]


def explain_token(
    decoded: DecodedJwt,
    *,
    now: datetime,
    leeway: timedelta = timedelta(seconds=60),
    signature: SignatureResult | None = None,
) -> TokenReport:
    """Explain ``decoded`` as of ``now`` (an aware datetime), with ``leeway`` for clock skew."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    found = _Findings()
    _check_alg(decoded.header, found)
    for name in decoded.duplicate_members:
        found.warn("DUPLICATE_MEMBER", f"{name!r} appears twice; parsers may disagree on it")
    times: dict[str, TimeClaim] = {}
    for name in TIME_CLAIMS:
        if name not in decoded.claims:
            continue
        value = decoded.claims[name]
        at = _as_instant(value)
        if at is None:
            found.warn("BAD_TIME_CLAIM", f"{name} is not a NumericDate (seconds since 1970)")
            found.invalid.append(f"its {name} is not a time")
            continue
        delta = at - now
        times[name] = TimeClaim(name, value, at, delta.total_seconds(), _words(name, delta))
    kind = token_kind(decoded.header)
    lifetime = _check_lifetime(kind, times, found)
    _check_times(times, leeway, found, has_exp="exp" in decoded.claims)
    if signature is not None and signature.valid:
        # A short key matters when it is the issuer's key, not when it was a wrong guess.
        for message in signature.key_warnings:
            found.warn("WEAK_KEY", message)
    verdict, reasons = _verdict(found, signature)
    return TokenReport(
        decoded=decoded,
        now=now,
        leeway=leeway,
        kind=kind,
        times=tuple(times[name] for name in TIME_CLAIMS if name in times),
        lifetime=lifetime,
        warnings=tuple(found.warnings),
        verdict=verdict,
        reasons=tuple(reasons),
        signature=signature,
    )


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def report_as_dict(report: TokenReport) -> dict[str, Any]:
    """The machine-readable form of ``report`` (what ``inspect --json`` prints)."""
    signature = report.signature
    return {
        "verdict": str(report.verdict),
        "reasons": list(report.reasons),
        "kind": str(report.kind),
        "header": report.decoded.header,
        "claims": report.decoded.claims,
        "now": _iso(report.now),
        "leeway_s": int(report.leeway.total_seconds()),
        "times": {
            t.name: {
                "value": t.value,
                "utc": _iso(t.at),
                "seconds_from_now": round(t.seconds_from_now, 3),
                "words": t.words,
            }
            for t in report.times
        },
        "lifetime_s": None if report.lifetime is None else int(report.lifetime.total_seconds()),
        "warnings": [{"code": w.code, "message": w.message} for w in report.warnings],
        "signature": {"checked": False}
        if signature is None
        else {
            "checked": True,
            "method": signature.method,
            "valid": signature.valid,
            "algorithm": signature.algorithm,
            "kid": signature.kid,
            "detail": signature.detail,
        },
        "exit_status": report.exit_status,
    }

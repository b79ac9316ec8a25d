"""Check 4: clock skew between this machine and the server.

Two estimates from one login response, each centred on the request's midpoint on this machine's
clock: the ``Date`` header (RFC 9110 §6.6.1, whole seconds) and the access token's ``iat`` (also
whole seconds). Both truncate, so each is read as the middle of its second. The measurement cannot
resolve less than about two seconds plus the round trip; smaller offsets count as no skew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from tokensmith.diagnostics.doctor.context import DoctorContext, LoginSession
from tokensmith.diagnostics.doctor.results import CheckResult, Status
from tokensmith.diagnostics.words import in_words

__all__ = ["SkewEstimate", "check_clock_skew", "estimate_skew"]

_HALF_SECOND = timedelta(milliseconds=500)
TITLE = "Clock skew"


@dataclass(frozen=True)
class SkewEstimate:
    """Server clock minus this machine's clock."""

    skew: timedelta | None
    resolution: timedelta
    evidence: tuple[str, ...]


def _signed(span: timedelta) -> str:
    if abs(span) < timedelta(seconds=1):
        return "in step with this machine (under a second apart)"
    ahead = "ahead of" if span >= timedelta(0) else "behind"
    return f"{in_words(round(span.total_seconds()))} {ahead} this machine"


def estimate_skew(ctx: DoctorContext, session: LoginSession) -> SkewEstimate:
    """Estimate the skew from ``session``'s login; remembered on ``ctx`` for check 3."""
    exchange = session.exchange
    midpoint = exchange.midpoint
    # Whole-second stamps, and servers such as uvicorn refresh their Date header once a second.
    resolution = timedelta(seconds=2) + (exchange.received_at - exchange.sent_at)
    evidence: list[str] = []
    estimates: list[timedelta] = []
    date_header = exchange.headers.get("date")
    if date_header:
        try:
            server_date = parsedate_to_datetime(date_header)
        except (TypeError, ValueError):
            evidence.append(f"Date header {date_header!r} cannot be parsed")
        else:
            if server_date.tzinfo is None:
                server_date = server_date.replace(tzinfo=UTC)
            estimates.append(server_date + _HALF_SECOND - midpoint)
            evidence.append(f"Date header: server clock {_signed(estimates[-1])}")
    else:
        evidence.append("no Date header")
    decoded = session.access_jwt
    iat = decoded.claims.get("iat") if decoded is not None else None
    if isinstance(iat, int | float) and not isinstance(iat, bool):
        issued = datetime.fromtimestamp(iat, tz=UTC) + _HALF_SECOND
        estimates.append(issued - midpoint)
        evidence.append(f"token iat: issuer clock {_signed(estimates[-1])}")
    if len(estimates) == 2 and abs(estimates[0] - estimates[1]) > 2 * resolution:
        evidence.append("the Date header and iat disagree: the issuer and the front end differ")
    skew = max(estimates, key=abs) if estimates else None
    ctx.server_skew = skew
    return SkewEstimate(skew, resolution, tuple(evidence))


def check_clock_skew(ctx: DoctorContext, estimate: SkewEstimate) -> CheckResult:
    """4. Judge the skew against the server's tolerance (measured by check 3, else 60s)."""
    if estimate.skew is None:
        return CheckResult(4, TITLE, Status.SKIP, (*estimate.evidence, "nothing to measure"))
    tolerance = ctx.tolerance
    source = "measured" if ctx.measured_tolerance is not None else "assumed, the default"
    evidence = (*estimate.evidence, f"server tolerance {in_words(tolerance)} ({source})")
    size = abs(estimate.skew)
    fix = (
        "synchronise both clocks with NTP (chrony or systemd-timesyncd); skew makes other "
        "verifiers reject fresh tokens (iat/nbf in the future) or accept expired ones"
    )
    if size <= estimate.resolution:
        return CheckResult(
            4, TITLE, Status.PASS, (*evidence, "no measurable skew (within the measurement)")
        )
    if size < tolerance / 2:
        return CheckResult(4, TITLE, Status.PASS, evidence)
    if size < tolerance:
        return CheckResult(
            4, TITLE, Status.WARN, (*evidence, "more than half the tolerance is used up"), fix
        )
    return CheckResult(
        4, TITLE, Status.FAIL, (*evidence, "the skew is at least the server's tolerance"), fix
    )

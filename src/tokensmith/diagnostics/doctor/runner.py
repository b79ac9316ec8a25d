"""Run the JWT-expiry checklist against a live server, in an order that keeps checks apart.

Order of execution (results are reported 1-10):

1. probe ``/healthz``; register a throwaway account when no credentials are given;
2. session A (body transport): 1 lifetimes, 9 weak secret, 5 storable (opens cookie session B),
   4 skew estimate, 3 expired token (may wait for A's access token, or forge with 9's secret);
3. session A again: 2 refresh endpoint, then 6 rotation and 7 reuse, which revoke A;
4. session C: 8 logout; then 4 is judged (3 may have measured the tolerance) and 10 reads every
   token-bearing response seen;
5. sessions still open are logged out.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from tokensmith.diagnostics.doctor.check_clock import check_clock_skew, estimate_skew
from tokensmith.diagnostics.doctor.check_expiry import check_expired_token
from tokensmith.diagnostics.doctor.checks_session import (
    check_logout,
    check_refresh_endpoint,
    check_rotation,
)
from tokensmith.diagnostics.doctor.checks_tokens import (
    check_lifetimes,
    check_no_store,
    check_storable,
    check_weak_secret,
)
from tokensmith.diagnostics.doctor.context import DoctorContext
from tokensmith.diagnostics.doctor.http import Clock, ServerApi
from tokensmith.diagnostics.doctor.results import (
    CheckResult,
    DoctorAborted,
    DoctorReport,
    NotTokensmith,
)

__all__ = ["normalise_url", "run_doctor"]


def _system_clock() -> datetime:
    return datetime.now(UTC)


def normalise_url(url: str) -> str:
    """``localhost:8000`` -> ``http://localhost:8000``; no trailing slash."""
    url = url.strip()
    if "://" not in url:
        url = f"http://{url}"
    return url.rstrip("/")


def _probe(ctx: DoctorContext) -> None:
    health = ctx.api.health()
    if health.status != 200 or not health.is_json:
        kind = "not JSON" if not health.is_json else "not 200"
        raise NotTokensmith(
            f"{health.summary()} ({kind}): is {ctx.api.base_url} a tokensmith server?"
        )


def _run_checks(ctx: DoctorContext) -> list[CheckResult]:
    results: list[CheckResult] = []
    main = ctx.login()
    results.append(check_lifetimes(main))
    results.append(check_weak_secret(ctx, main))
    results.append(check_storable(ctx, main))
    skew = estimate_skew(ctx, main)
    results.append(check_expired_token(ctx, main))
    refresh_result, outcome = check_refresh_endpoint(ctx, main)
    results.append(refresh_result)
    results.extend(check_rotation(ctx, outcome))
    results.append(check_logout(ctx))
    results.append(check_clock_skew(ctx, skew))
    results.append(check_no_store(ctx))
    return sorted(results, key=lambda r: r.number)


def run_doctor(
    url: str,
    *,
    email: str | None = None,
    password: str | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Clock = _system_clock,
    sleep: Callable[[float], None] = time.sleep,
    wait_for_expiry_up_to: timedelta = timedelta(seconds=10),
    timeout_s: float = 10.0,
) -> DoctorReport:
    """Run every check; raise :class:`DoctorAborted` when the checklist cannot run at all."""
    base_url = normalise_url(url)
    with ServerApi(base_url, clock=clock, transport=transport, timeout_s=timeout_s) as api:
        ctx = DoctorContext(api, clock, sleep, wait_for_expiry_up_to=wait_for_expiry_up_to)
        _probe(ctx)
        if email is not None and password is not None:
            ctx.email, ctx.password = email, password
        else:
            ctx.create_throwaway_account()
        try:
            results = _run_checks(ctx)
        finally:
            with contextlib.suppress(DoctorAborted):
                ctx.log_out_everything()
    return DoctorReport(base_url, tuple(results))

"""Checks that drive a session: 2 refresh endpoint, 6 rotation, 7 reuse detection, 8 logout.

6 and 7 are destructive (reuse revokes the session) and 8 ends its session, so each runs on a
session of its own; none of them needs the tokens of another check afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tokensmith.diagnostics.doctor.check_expiry import invalid_token_challenge
from tokensmith.diagnostics.doctor.context import (
    DoctorContext,
    LoginSession,
    decode_or_none,
    tokens_of,
)
from tokensmith.diagnostics.doctor.http import Exchange
from tokensmith.diagnostics.doctor.results import CheckResult, Status

__all__ = ["RefreshOutcome", "check_logout", "check_refresh_endpoint", "check_rotation"]

REFRESH_FIELDS = ("accessToken", "refreshToken", "tokenType", "expiresIn", "refreshExpiresIn")
REUSE_CODES = ("TOKEN_REUSE_DETECTED", "SESSION_REVOKED")


@dataclass(frozen=True)
class RefreshOutcome:
    """What check 2 leaves for 6 and 7: the token it spent and the answer it got."""

    spent: str | None
    answer: Exchange | None


def _expired_meanwhile(ctx: DoctorContext, access: str) -> bool:
    """A very short-lived access token may expire between two requests of one check."""
    decoded = decode_or_none(access)
    exp = decoded.claims.get("exp") if decoded else None
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return False
    server_now = ctx.clock() + (ctx.server_skew or timedelta(0))
    return datetime.fromtimestamp(exp, tz=UTC) <= server_now


def check_refresh_endpoint(
    ctx: DoctorContext, session: LoginSession
) -> tuple[CheckResult, RefreshOutcome]:
    """2. ``POST /auth/refresh`` answers 200 with new tokens, and 401 REFRESH_TOKEN_REQUIRED
    for ``{}``."""
    title = "Refresh endpoint"
    if session.refresh is None:
        result = CheckResult(
            2, title, Status.SKIP, ("the login body has no refreshToken to refresh with",)
        )
        return result, RefreshOutcome(None, None)
    answer = ctx.refresh(session.refresh)
    evidence = [f"with the login's refresh token: {answer.summary()}"]
    problems: list[str] = []
    if answer.status != 200:
        problems.append("expected 200 with new tokens")
    else:
        missing = [name for name in REFRESH_FIELDS if name not in answer.fields]
        if missing:
            problems.append(f"the body lacks {', '.join(missing)}")
        else:
            evidence.append(f"body has {', '.join(REFRESH_FIELDS)}")
    empty = ctx.api.refresh(None)
    evidence.append(f"with {{}}: {empty.summary()}")
    if empty.status != 401 or empty.code != "REFRESH_TOKEN_REQUIRED":
        problems.append("expected 401 REFRESH_TOKEN_REQUIRED for {}")
    outcome = RefreshOutcome(session.refresh, answer)
    if problems:
        fix = (
            "serve POST /auth/refresh {refreshToken} -> 200 {accessToken, refreshToken, "
            "tokenType, expiresIn, refreshExpiresIn}; 401 REFRESH_TOKEN_REQUIRED when missing"
        )
        return CheckResult(2, title, Status.FAIL, (*evidence, *problems), fix), outcome
    return CheckResult(2, title, Status.PASS, tuple(evidence)), outcome


def check_rotation(ctx: DoctorContext, outcome: RefreshOutcome) -> tuple[CheckResult, CheckResult]:
    """6. Refresh rotates; 7. presenting a rotated token revokes the whole session.

    The old token is presented after its successor has itself been rotated, which the contract
    (5.3) calls reuse whatever the grace period, so the doctor never has to wait the grace out.
    """
    t6, t7 = "Refresh rotates", "Reuse revokes the session"
    if outcome.answer is None or outcome.spent is None or outcome.answer.status != 200:
        why = ("refresh did not work (check 2)",)
        return CheckResult(6, t6, Status.SKIP, why), CheckResult(7, t7, Status.SKIP, why)
    first_access, successor = tokens_of(outcome.answer)
    if successor is None:
        why = ("the refresh answer has no refreshToken (check 2)",)
        return CheckResult(6, t6, Status.SKIP, why), CheckResult(7, t7, Status.SKIP, why)
    rotation_fix = "issue a new refresh token on every refresh and spend the old one (contract 5.3)"
    if successor == outcome.spent:
        again = ctx.refresh(outcome.spent)
        evidence = (
            "refresh returned the same refresh token: it is not rotated",
            f"presenting it again: {again.summary()}",
        )
        return (
            CheckResult(6, t6, Status.FAIL, evidence, rotation_fix),
            CheckResult(
                7,
                t7,
                Status.FAIL,
                ("without rotation a stolen refresh token works until it expires",),
                rotation_fix,
            ),
        )
    second = ctx.refresh(successor)
    evidence6 = ["refresh returned a new refresh token", f"refreshing with it: {second.summary()}"]
    if second.status != 200:
        return (
            CheckResult(6, t6, Status.FAIL, (*evidence6, "the new token does not work"), None),
            CheckResult(7, t7, Status.SKIP, ("rotation did not work (check 6)",)),
        )
    newest_access, newest = tokens_of(second)
    replay = ctx.refresh(outcome.spent)
    evidence6.append(f"the first token, after its successor was rotated: {replay.summary()}")
    if replay.status == 200:
        result6 = CheckResult(
            6,
            t6,
            Status.FAIL,
            (*evidence6, "the spent refresh token still mints new tokens"),
            rotation_fix,
        )
    else:
        result6 = CheckResult(6, t6, Status.PASS, tuple(evidence6))
    return result6, _reuse_revokes(ctx, replay, newest_access or first_access, newest)


def _reuse_revokes(
    ctx: DoctorContext, replay: Exchange, access: str | None, newest: str | None
) -> CheckResult:
    title = "Reuse revokes the session"
    fix = (
        "on reuse of a rotated refresh token answer 401 TOKEN_REUSE_DETECTED and revoke the "
        "whole session: its newest refresh token and its access tokens (contract 5.3)"
    )
    evidence = [f"reuse of the spent token: {replay.summary()}"]
    problems: list[str] = []
    if replay.status != 401 or replay.code != "TOKEN_REUSE_DETECTED":
        problems.append("expected 401 TOKEN_REUSE_DETECTED")
    if newest is not None:
        after = ctx.refresh(newest)
        evidence.append(f"then the newest refresh token: {after.summary()}")
        if after.status != 401 or after.code not in REUSE_CODES:
            problems.append("the newest refresh token still works or gives the wrong code")
    if access is not None:
        me = ctx.api.me(access)
        evidence.append(f"then the newest access token on /auth/me: {me.summary()}")
        if me.code == "TOKEN_EXPIRED" and _expired_meanwhile(ctx, access):
            evidence.append("the access token expired before it could be tried")
        elif me.status != 401 or me.code != "TOKEN_REVOKED":
            problems.append("expected 401 TOKEN_REVOKED for the session's access token")
    if problems:
        return CheckResult(7, title, Status.FAIL, (*evidence, *problems), fix)
    return CheckResult(7, title, Status.PASS, tuple(evidence))


def check_logout(ctx: DoctorContext) -> CheckResult:
    """8. Logout ends the session at once: its access token is TOKEN_REVOKED immediately."""
    title = "Logout revokes at once"
    session = ctx.login()
    fix = (
        "on logout revoke the session's access tokens at once (denylist by session id, shared "
        "by all instances), not only the refresh token"
    )
    before = ctx.api.me(session.access)
    evidence = [f"before logout: {before.summary()}"]
    if before.status != 200:
        return CheckResult(
            8, title, Status.FAIL, (*evidence, "a fresh access token does not work"), None
        )
    out = ctx.api.logout(session.access, session.refresh)
    evidence.append(f"logout: {out.summary()}")
    if out.status != 200:
        return CheckResult(8, title, Status.FAIL, (*evidence, "expected 200 from logout"), None)
    ctx.to_log_out.remove(session.access)
    after = ctx.api.me(session.access)
    evidence.append(f"right after logout: {after.summary()}")
    problems: list[str] = []
    if after.code == "TOKEN_EXPIRED" and _expired_meanwhile(ctx, session.access):
        return CheckResult(
            8,
            title,
            Status.SKIP,
            (*evidence, "the access token expired before it could be tried (lifetime too short)"),
        )
    if after.status != 401 or after.code != "TOKEN_REVOKED":
        problems.append("expected 401 TOKEN_REVOKED: the access token outlives the logout")
    elif (challenge := invalid_token_challenge(after)) is not None:
        problems.append(challenge)
    if session.refresh is not None:
        again = ctx.refresh(session.refresh)
        evidence.append(f"its refresh token after logout: {again.summary()}")
        if again.status == 200:
            problems.append("the refresh token still works after logout")
    if problems:
        return CheckResult(8, title, Status.FAIL, (*evidence, *problems), fix)
    return CheckResult(8, title, Status.PASS, tuple(evidence))

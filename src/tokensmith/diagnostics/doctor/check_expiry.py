"""Check 3: an expired access token gets a distinguishable 401.

The contract (section 4) asks for ``401 TOKEN_EXPIRED`` with ``WWW-Authenticate: Bearer ...
error="invalid_token"`` (RFC 6750 §3.1), so clients know to refresh rather than log in again.
The doctor cannot forge an expired token without the signing key, so it picks, in order:

1. **wait**: when access tokens live at most ``ctx.wait_for_expiry_up_to`` (10s), wait for a real
   one to expire and poll ``/auth/me`` every second; this also measures the server's tolerance;
2. **re-sign**: when check 9 found the HS* secret, re-sign a copy of a real token with ``exp``
   an hour ago;
3. **partial**: otherwise send a copy with ``exp`` an hour ago signed by a random key of the same
   ``alg``. The server must reject it as ``INVALID_TOKEN`` (the signature is checked first), which
   shows the 401 shape but not the expiry path: the check is reported as skipped, unless the
   server accepts the token or answers ``TOKEN_EXPIRED`` for a bad signature, which fail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tokensmith.diagnostics.doctor.context import DoctorContext, LoginSession
from tokensmith.diagnostics.doctor.forge import sign_with, sign_with_random_key
from tokensmith.diagnostics.doctor.http import Exchange
from tokensmith.diagnostics.doctor.results import CheckResult, Status
from tokensmith.diagnostics.jwt_parts import DecodedJwt
from tokensmith.diagnostics.signature import HMAC_ALGORITHMS
from tokensmith.diagnostics.words import in_words

__all__ = ["check_expired_token", "invalid_token_challenge"]

TITLE = "Expired token gives TOKEN_EXPIRED"
POLL_EVERY = timedelta(seconds=1)
FIX = (
    "answer an access token past exp (+ tolerance) with 401 {'code': 'TOKEN_EXPIRED'} and "
    'WWW-Authenticate: Bearer error="invalid_token", after checking its signature'
)


def invalid_token_challenge(exchange: Exchange) -> str | None:
    """The problem with the 401's ``WWW-Authenticate`` header, or ``None`` when it is right."""
    header = exchange.headers.get("www-authenticate")
    if header is None:
        return "no WWW-Authenticate header"
    if not header.lower().startswith("bearer") or 'error="invalid_token"' not in header:
        return f'WWW-Authenticate is {header!r}, not Bearer ... error="invalid_token"'
    return None


def _judge(answer: Exchange, how: str) -> CheckResult:
    evidence = [f"{how}: {answer.summary()}"]
    problems: list[str] = []
    if answer.status != 401 or answer.code != "TOKEN_EXPIRED":
        problems.append("expected 401 TOKEN_EXPIRED")
    challenge = invalid_token_challenge(answer) if answer.status == 401 else None
    if challenge:
        problems.append(challenge)
    else:
        evidence.append(f"WWW-Authenticate: {answer.headers.get('www-authenticate')}")
    if problems:
        return CheckResult(3, TITLE, Status.FAIL, (*evidence, *problems), FIX)
    return CheckResult(3, TITLE, Status.PASS, tuple(evidence))


def _number(decoded: DecodedJwt, name: str) -> int | float | None:
    value = decoded.claims.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def _wait(ctx: DoctorContext, session: LoginSession, exp: float) -> CheckResult:
    skew = ctx.server_skew or timedelta(0)
    # exp is on the server's clock; this machine reaches it ``skew`` earlier.
    exp_here = datetime.fromtimestamp(exp, tz=UTC) - skew
    deadline = exp_here + ctx.assumed_tolerance + 2 * POLL_EVERY
    next_poll = exp_here + POLL_EVERY
    last_accepted: datetime | None = None
    while True:
        pause = (next_poll - ctx.clock()).total_seconds()
        if pause > 0:
            ctx.sleep(pause)
        answer = ctx.api.me(session.access)
        if answer.status != 200:
            break
        last_accepted = answer.midpoint
        if ctx.clock() > deadline:
            late = in_words(answer.midpoint - exp_here)
            return CheckResult(
                3,
                TITLE,
                Status.FAIL,
                (f"GET /auth/me still answers 200 {late} after the access token's exp",),
                "keep JWT_CLOCK_TOLERANCE small (the default is 60s)",
            )
        next_poll = ctx.clock() + POLL_EVERY
    rejected_after = answer.midpoint - exp_here
    ctx.measured_tolerance = max(timedelta(0), (last_accepted or exp_here) - exp_here)
    ctx.measured_tolerance = timedelta(seconds=int(ctx.measured_tolerance.total_seconds()))
    how = f"waited for a real access token to expire; {in_words(rejected_after)} after exp"
    result = _judge(answer, how)
    note = (
        "measured tolerance: under a second"
        if ctx.measured_tolerance < timedelta(seconds=1)
        else f"the server accepted it up to about {in_words(ctx.measured_tolerance)} after exp"
    )
    return CheckResult(3, TITLE, result.status, (*result.evidence, note), result.fix)


def _expired_copy(ctx: DoctorContext, decoded: DecodedJwt) -> dict[str, object]:
    server_now = ctx.clock() + (ctx.server_skew or timedelta(0))
    now_s = int(server_now.timestamp())
    claims: dict[str, object] = dict(decoded.claims)
    claims["iat"] = now_s - 7200
    claims["exp"] = now_s - 3600
    if "nbf" in claims:
        claims["nbf"] = claims["iat"]
    return claims


def _partial(ctx: DoctorContext, decoded: DecodedJwt) -> CheckResult:
    forged = sign_with_random_key(decoded.header, _expired_copy(ctx, decoded))
    answer = ctx.api.me(forged)
    evidence = [
        f"access tokens live {_lifetime_words(decoded)}, too long to wait, and the signing key is "
        "unknown, so an expired token cannot be made",
        f"partial evidence: an expired copy signed with a random key: {answer.summary()}",
    ]
    if answer.status == 200:
        return CheckResult(
            3,
            TITLE,
            Status.FAIL,
            (*evidence, "the server ACCEPTED a token signed with a random key"),
            "verify the signature with the configured key and algorithm only",
        )
    if answer.code == "TOKEN_EXPIRED":
        return CheckResult(
            3,
            TITLE,
            Status.FAIL,
            (*evidence, "TOKEN_EXPIRED for a bad signature: exp is checked before the signature"),
            "check the signature first; TOKEN_EXPIRED only for a validly signed token",
        )
    challenge = invalid_token_challenge(answer)
    if answer.status != 401 or answer.code != "INVALID_TOKEN" or challenge:
        problems = [challenge] if challenge else []
        return CheckResult(
            3, TITLE, Status.FAIL, (*evidence, "expected 401 INVALID_TOKEN", *problems), FIX
        )
    evidence.append(f"WWW-Authenticate: {answer.headers.get('www-authenticate')}")
    evidence.append(
        "the TOKEN_EXPIRED path itself is unknown: rerun against a server with "
        "JWT_EXPIRES_IN=5s to see it"
    )
    return CheckResult(3, TITLE, Status.SKIP, tuple(evidence))


def _lifetime_words(decoded: DecodedJwt) -> str:
    exp, iat = _number(decoded, "exp"), _number(decoded, "iat")
    if exp is None or iat is None:
        return "an unknown time"
    return in_words(timedelta(seconds=exp - iat))


def check_expired_token(ctx: DoctorContext, session: LoginSession) -> CheckResult:
    """3. Pick the best available way to show the server's answer to an expired token."""
    decoded = session.access_jwt
    if decoded is None:
        return CheckResult(3, TITLE, Status.SKIP, ("the access token is not a JWT",))
    exp, iat = _number(decoded, "exp"), _number(decoded, "iat")
    if exp is None:
        return CheckResult(3, TITLE, Status.SKIP, ("the access token has no exp (check 1)",))
    if iat is not None and timedelta(seconds=exp - iat) <= ctx.wait_for_expiry_up_to:
        return _wait(ctx, session, exp)
    if ctx.weak_secret is not None and decoded.alg in HMAC_ALGORITHMS:
        forged = sign_with(
            decoded.header, _expired_copy(ctx, decoded), ctx.weak_secret.encode("utf-8")
        )
        return _judge(
            ctx.api.me(forged), "re-signed a real token, exp 1 hour ago, with the found secret"
        )
    return _partial(ctx, decoded)

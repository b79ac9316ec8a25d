"""Checks read off issued tokens and their responses: 1 lifetimes, 5 storable form,
9 weak HS secret, 10 ``Cache-Control: no-store``."""

from __future__ import annotations

from datetime import timedelta
from http.cookies import CookieError, Morsel, SimpleCookie

from tokensmith.diagnostics.doctor.context import DoctorContext, LoginSession, tokens_of
from tokensmith.diagnostics.doctor.results import CheckResult, Status
from tokensmith.diagnostics.jwt_parts import DecodedJwt
from tokensmith.diagnostics.signature import HMAC_ALGORITHMS
from tokensmith.diagnostics.weak_secrets import find_weak_secret, load_weak_secrets
from tokensmith.diagnostics.words import in_words

__all__ = [
    "ACCESS_MAX",
    "REFRESH_MAX",
    "check_lifetimes",
    "check_no_store",
    "check_storable",
    "check_weak_secret",
    "lifetime_of",
]

# Beyond these a stolen token stays useful for too long (OWASP JWT cheat sheet; RFC 9700 §4.14).
ACCESS_MAX = timedelta(hours=1)
REFRESH_MAX = timedelta(days=30)
# Below these the lifetimes work but cost a refresh on nearly every request / frequent logins.
ACCESS_LOW = timedelta(minutes=1)
REFRESH_LOW = timedelta(days=1)
EXPIRES_IN_SLACK = timedelta(seconds=2)


def lifetime_of(decoded: DecodedJwt | None) -> timedelta | None:
    """``exp - iat`` of a token, when both are numbers."""
    if decoded is None:
        return None
    exp, iat = decoded.claims.get("exp"), decoded.claims.get("iat")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (exp, iat)):
        return None
    assert isinstance(exp, int | float) and isinstance(iat, int | float)  # for mypy
    return timedelta(seconds=exp - iat)


def _seconds_field(value: object) -> timedelta | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    return None


def check_lifetimes(session: LoginSession) -> CheckResult:
    """1. Access and refresh lifetimes are within sane ranges and agree with the body."""
    fails: list[str] = []
    warns: list[str] = []
    evidence: list[str] = []
    body = session.exchange.fields
    for label, field, decoded, high, low in (
        ("access", "expiresIn", session.access_jwt, ACCESS_MAX, ACCESS_LOW),
        ("refresh", "refreshExpiresIn", session.refresh_jwt, REFRESH_MAX, REFRESH_LOW),
    ):
        stated = _seconds_field(body.get(field))
        actual = lifetime_of(decoded)
        if decoded is not None and "exp" not in decoded.claims:
            fails.append(f"the {label} token has no exp: it never expires")
        said = "missing" if stated is None else f"{int(stated.total_seconds())}s"
        seen = "n/a" if actual is None else f"{int(actual.total_seconds())}s"
        evidence.append(f"{label}: {field}={said}, exp-iat={seen}")
        if stated is None and field in body:
            fails.append(f"{field} is not a whole number of seconds")
        elif stated is None and (label == "access" or session.refresh is not None):
            fails.append(f"the login response has no {field}")
        if stated is not None and actual is not None and abs(stated - actual) > EXPIRES_IN_SLACK:
            fails.append(f"{field} ({said}) disagrees with the {label} token's exp-iat ({seen})")
        lifetime = actual if actual is not None else stated
        if lifetime is None:
            continue
        if lifetime > high:
            fails.append(
                f"{label} tokens live {in_words(lifetime)} (more than {in_words(high)}): a stolen "
                "one stays useful that long"
            )
        elif lifetime < low:
            warns.append(
                f"{label} tokens live only {in_words(lifetime)}: fine for tests, costly in use"
            )
    access_life = lifetime_of(session.access_jwt) or _seconds_field(body.get("expiresIn"))
    refresh_life = lifetime_of(session.refresh_jwt) or _seconds_field(body.get("refreshExpiresIn"))
    if access_life and refresh_life and refresh_life <= access_life:
        fails.append("refresh tokens do not outlive access tokens")
    if fails:
        return CheckResult(
            1,
            "Token lifetimes",
            Status.FAIL,
            (*evidence, *fails, *warns),
            "set JWT_EXPIRES_IN to 15m-1h and JWT_REFRESH_EXPIRES_IN to 7d-30d, and report "
            "expiresIn/refreshExpiresIn equal to the tokens' exp - iat",
        )
    if warns:
        return CheckResult(
            1,
            "Token lifetimes",
            Status.WARN,
            (*evidence, *warns),
            "usual values: JWT_EXPIRES_IN=15m, JWT_REFRESH_EXPIRES_IN=7d",
        )
    return CheckResult(1, "Token lifetimes", Status.PASS, tuple(evidence))


def _cookies(set_cookie_headers: list[str]) -> dict[str, Morsel[str]]:
    found: dict[str, Morsel[str]] = {}
    for header in set_cookie_headers:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            continue
        found.update(jar)
    return found


def check_storable(ctx: DoctorContext, session: LoginSession) -> CheckResult:
    """5. Tokens come back in a form a client can store: body tokens, or the cookie transport."""
    evidence: list[str] = []
    problems: list[str] = []
    body = session.exchange.fields
    body_ok = isinstance(body.get("accessToken"), str) and isinstance(body.get("refreshToken"), str)
    evidence.append(
        "body transport: accessToken and refreshToken present"
        if body_ok
        else "body transport: refreshToken missing from the login body"
    )
    if body.get("tokenType") != "Bearer":
        problems.append(f"tokenType is {body.get('tokenType')!r}, not 'Bearer'")
    cookie_session = ctx.login(cookie_transport=True)
    cookies = _cookies(cookie_session.exchange.set_cookies())
    refresh_cookie = cookies.get("refresh_token")
    cookie_ok = False
    if refresh_cookie is None:
        evidence.append("cookie transport: not offered (no refresh_token cookie)")
    else:
        attributes = [
            name
            for name in ("httponly", "secure", "samesite", "path")
            if refresh_cookie[name] not in ("", False)
        ]
        evidence.append(
            "cookie transport: refresh_token cookie with "
            + ", ".join(
                f"{a}={refresh_cookie[a]}" if a in ("samesite", "path") else a for a in attributes
            )
        )
        if not refresh_cookie["httponly"]:
            problems.append("the refresh_token cookie is not HttpOnly: scripts can steal it")
        if not refresh_cookie["samesite"]:
            problems.append("the refresh_token cookie has no SameSite attribute")
        if ctx.api.base_url.startswith("https://") and not refresh_cookie["secure"]:
            problems.append("over https the refresh_token cookie must be Secure")
        if tokens_of(cookie_session.exchange)[1] is not None:
            problems.append("with the cookie transport the body still carries refreshToken")
        csrf = cookies.get("csrf_token")
        if csrf is None:
            problems.append("no csrf_token cookie for the double-submit CSRF check")
        elif csrf["httponly"]:
            problems.append("the csrf_token cookie is HttpOnly: the web app cannot read it")
        cookie_ok = not problems
    if not body_ok and not cookie_ok:
        problems.append("neither transport gives the client a refresh token it can keep")
    if problems:
        return CheckResult(
            5,
            "Tokens in a storable form",
            Status.FAIL,
            (*evidence, *problems),
            "return accessToken/refreshToken/tokenType 'Bearer' in the body; with "
            "X-Token-Transport: cookie set refresh_token HttpOnly; SameSite=Strict; Path=/auth "
            "and a readable csrf_token cookie",
        )
    return CheckResult(5, "Tokens in a storable form", Status.PASS, tuple(evidence))


def check_weak_secret(ctx: DoctorContext, session: LoginSession) -> CheckResult:
    """9. The HS* secrets are not in the shipped list of commonly used weak secrets."""
    candidates = load_weak_secrets()
    evidence: list[str] = []
    found: list[str] = []
    tried: list[str] = []
    for label, decoded in (("access", session.access_jwt), ("refresh", session.refresh_jwt)):
        if decoded is None:
            evidence.append(f"{label} token: not a JWT, nothing to try")
            continue
        if decoded.alg not in HMAC_ALGORITHMS:
            evidence.append(f"{label} tokens use {decoded.alg!r}: no shared secret to guess")
            continue
        tried.append(label)
        secret = find_weak_secret(decoded, candidates)
        if secret is None:
            continue
        found.append(f"{label} tokens are signed with the well-known secret {secret!r}")
        if label == "access":
            ctx.weak_secret = secret
    if found:
        variables = "JWT_SECRET" if ctx.weak_secret is not None else "JWT_REFRESH_SECRET"
        if len(found) == 2:
            variables = "JWT_SECRET and JWT_REFRESH_SECRET"
        return CheckResult(
            9,
            "HS secret is not a known weak one",
            Status.FAIL,
            (*evidence, *found, "anyone can mint valid tokens for any user"),
            f"set {variables} to long random values (tokensmith gen-secret) and restart; every "
            "session must log in again",
        )
    if not tried:
        return CheckResult(9, "HS secret is not a known weak one", Status.SKIP, tuple(evidence))
    kinds = " or ".join(tried)
    evidence.append(f"none of {len(candidates)} well-known secrets signs the {kinds} tokens")
    return CheckResult(9, "HS secret is not a known weak one", Status.PASS, tuple(evidence))


def check_no_store(ctx: DoctorContext) -> CheckResult:
    """10. Every response that carried tokens says ``Cache-Control: no-store`` (RFC 6749 §5.1)."""
    if not ctx.token_responses:
        return CheckResult(
            10, "Cache-Control: no-store", Status.SKIP, ("no response carried tokens",)
        )
    evidence: list[str] = []
    missing = False
    for exchange in ctx.token_responses:
        value = exchange.headers.get("cache-control", "")
        directives = {part.strip().split("=")[0].lower() for part in value.split(",")}
        if "no-store" not in directives:
            missing = True
        line = f"{exchange.method} {exchange.path}: Cache-Control: {value or '(none)'}"
        if line not in evidence:
            evidence.append(line)
    if missing:
        return CheckResult(
            10,
            "Cache-Control: no-store",
            Status.FAIL,
            tuple(evidence),
            "send Cache-Control: no-store (and Pragma: no-cache) on every response that carries "
            "tokens, so no proxy or browser cache keeps them",
        )
    return CheckResult(10, "Cache-Control: no-store", Status.PASS, tuple(evidence))

"""State shared by the checks of one doctor run: the API, the clock, sessions and findings."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from tokensmith.diagnostics.doctor.http import Clock, Exchange, ServerApi
from tokensmith.diagnostics.doctor.results import NoAccount, NotTokensmith
from tokensmith.diagnostics.jwt_parts import DecodedJwt, NotAJwt, decode_unverified

__all__ = ["DoctorContext", "LoginSession", "decode_or_none", "tokens_of"]

Sleep = Callable[[float], None]


def decode_or_none(token: str | None) -> DecodedJwt | None:
    if not token:
        return None
    try:
        return decode_unverified(token)
    except NotAJwt:
        return None


def tokens_of(exchange: Exchange) -> tuple[str | None, str | None]:
    """``accessToken`` and ``refreshToken`` of a token response, when they are strings."""
    access = exchange.fields.get("accessToken")
    refresh = exchange.fields.get("refreshToken")
    return (
        access if isinstance(access, str) else None,
        refresh if isinstance(refresh, str) else None,
    )


@dataclass
class LoginSession:
    """A session the doctor opened, with its current tokens."""

    exchange: Exchange
    access: str
    refresh: str | None

    @property
    def access_jwt(self) -> DecodedJwt | None:
        return decode_or_none(self.access)

    @property
    def refresh_jwt(self) -> DecodedJwt | None:
        return decode_or_none(self.refresh)


@dataclass
class DoctorContext:
    api: ServerApi
    clock: Clock
    sleep: Sleep
    email: str = ""
    password: str = ""
    wait_for_expiry_up_to: timedelta = timedelta(seconds=10)
    """Check 3 waits for an access token to expire only when it lives at most this long."""
    assumed_tolerance: timedelta = timedelta(seconds=60)
    """The contract's default ``JWT_CLOCK_TOLERANCE``, used until a measurement says otherwise."""
    token_responses: list[Exchange] = field(default_factory=list)
    """Every response that carried tokens (check 10 reads their Cache-Control)."""
    weak_secret: str | None = None
    """The access-token secret, when check 9 found it in the weak list."""
    measured_tolerance: timedelta | None = None
    server_skew: timedelta | None = None
    """Server clock minus this machine's clock, once check 4 estimated it."""
    to_log_out: list[str] = field(default_factory=list)

    @property
    def tolerance(self) -> timedelta:
        if self.measured_tolerance is not None:
            return self.measured_tolerance
        return self.assumed_tolerance

    def create_throwaway_account(self) -> None:
        """Register ``doctor-<random>@example.com`` (for when no credentials are given)."""
        email = f"doctor-{secrets.token_hex(6)}@example.com"
        password = secrets.token_urlsafe(24)
        answer = self.api.register(email, password)
        if answer.status in (200, 201):
            self.email, self.password = email, password
            return
        if not answer.is_json:
            raise NotTokensmith(
                f"{answer.summary()} and not JSON: is {self.api.base_url} a tokensmith server?"
            )
        raise NoAccount(
            f"{answer.summary()}: registration is not open; pass --email and --password of an "
            "existing account"
        )

    def login(self, *, cookie_transport: bool = False) -> LoginSession:
        """Log in; tokens-bearing responses are remembered for check 10."""
        answer = self.api.login(self.email, self.password, cookie_transport=cookie_transport)
        if answer.status in (404, 405) or not answer.is_json:
            kind = "not JSON" if not answer.is_json else "no login endpoint"
            raise NotTokensmith(
                f"{answer.summary()} ({kind}): is {self.api.base_url} a tokensmith server?"
            )
        if answer.status != 200:
            raise NoAccount(f"{answer.summary()}: cannot log in as {self.email}")
        access, refresh = tokens_of(answer)
        if access is None:
            raise NotTokensmith(f"{answer.summary()} but the body has no accessToken")
        self.token_responses.append(answer)
        self.to_log_out.append(access)
        return LoginSession(answer, access, refresh)

    def refresh(self, refresh_token: str | None) -> Exchange:
        answer = self.api.refresh(refresh_token)
        if answer.status == 200:
            self.token_responses.append(answer)
        return answer

    def log_out_everything(self) -> None:
        """Best-effort cleanup of the sessions this run opened (their errors do not matter)."""
        for access in self.to_log_out:
            self.api.logout(access)
        self.to_log_out.clear()

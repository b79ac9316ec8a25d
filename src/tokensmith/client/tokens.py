"""What the client knows about its tokens, and when it considers them due for a refresh.

Expiry is measured on the client's own monotonic clock: the server says how long the access token
lives (``expiresIn``) and the client notes when it received it. The token's ``exp`` claim and the
wall clock are never consulted, so a client whose clock is minutes off behaves exactly like one
whose clock is right (the server checks ``exp`` against *its* clock; only durations cross the wire).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tokensmith.errors import TokensmithError

__all__ = ["MonotonicClock", "RefreshPolicy", "TokenSet", "WallClock"]

MonotonicClock = Callable[[], float]
"""Seconds on a clock that never goes backwards (``time.monotonic``); only differences matter."""

WallClock = Callable[[], float]
"""Seconds since the epoch (``time.time``); used only to carry a file store across restarts."""


@dataclass(frozen=True)
class RefreshPolicy:
    """When the client refreshes, and how hard it tries when a refresh gets no answer."""

    proactive: bool = True
    """Refresh before sending a request once the access token is close to expiry. When ``False``
    the client refreshes only after the server answers 401 ``TOKEN_EXPIRED``."""

    margin_min_s: float = 5.0
    """Refresh ahead when less than ``max(margin_min_s, margin_fraction * lifetime)`` remains..."""

    margin_fraction: float = 0.1
    """...as a fraction of the access token's lifetime (``expiresIn``)."""

    margin_max_fraction: float = 0.5
    """...but never in the first half of the lifetime, so a 2-second token is not refreshed on
    every request."""

    retry_delays_s: tuple[float, ...] = (0.2, 0.5, 1.0)
    """Pauses before each retry of a refresh that got no answer (a transport error or a 5xx).
    The SAME refresh token is presented again: the server returns the same successor within its
    ``REFRESH_REUSE_GRACE``, so a lost response does not log the user out."""

    retry_window_s: float = 8.0
    """No retry starts later than this after the first attempt, to stay inside the server's
    reuse grace (10 s by default); past it, presenting the token again would look like theft."""

    timeout_s: float = 5.0
    """Timeout of each refresh request."""

    def margin_s(self, lifetime_s: float) -> float:
        """How long before expiry a token of ``lifetime_s`` seconds becomes due for refresh."""
        wanted = max(self.margin_min_s, self.margin_fraction * lifetime_s)
        return min(wanted, self.margin_max_fraction * lifetime_s)


@dataclass(frozen=True)
class TokenSet:
    """An access token, its refresh token, and when the access token expires on OUR clock.

    ``received_at_s`` is the client's monotonic time when the tokens arrived and ``expires_in_s``
    the lifetime the server announced, so the access token expires at their sum. ``received_wall_s``
    is the wall time of the same moment; only :class:`~tokensmith.client.FileTokenStore` uses it,
    to carry the tokens across a restart. The tokens never appear in ``repr``.
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in_s: float
    received_at_s: float
    received_wall_s: float
    refresh_expires_in_s: float | None = None

    @property
    def expires_at_s(self) -> float:
        """The monotonic time at which the access token expires."""
        return self.received_at_s + self.expires_in_s

    def remaining_s(self, now_s: float) -> float:
        """Seconds of life the access token has left at monotonic time ``now_s`` (may be < 0)."""
        return self.expires_at_s - now_s

    def is_expired(self, now_s: float) -> bool:
        """Whether the access token's announced lifetime has run out at ``now_s``."""
        return self.remaining_s(now_s) <= 0

    def is_due(self, now_s: float, policy: RefreshPolicy) -> bool:
        """Whether the access token is close enough to expiry to refresh it before use."""
        return self.remaining_s(now_s) < policy.margin_s(self.expires_in_s)

    @classmethod
    def from_response(
        cls,
        body: object,
        *,
        clock: MonotonicClock = time.monotonic,
        wall_clock: WallClock = time.time,
        previous_refresh_token: str | None = None,
    ) -> TokenSet:
        """Read a login or refresh response (contract 5.1, 5.2), stamped with the time now.

        ``previous_refresh_token`` is kept when the response has none (it cannot be, with the
        body transport, but a server that does not rotate would still work).
        Raises :class:`~tokensmith.errors.TokensmithError` for a body that is not a token response.
        """
        if not isinstance(body, Mapping):
            raise _malformed()
        access = body.get("accessToken")
        refresh = body.get("refreshToken", previous_refresh_token)
        if not isinstance(access, str) or not access:
            raise _malformed()
        if refresh is not None and not isinstance(refresh, str):
            raise _malformed()
        refresh_expires_in = body.get("refreshExpiresIn")
        refresh_expires_in_s = None if refresh_expires_in is None else _seconds(refresh_expires_in)
        return cls(
            access_token=access,
            refresh_token=refresh or None,
            expires_in_s=_seconds(body.get("expiresIn")),
            received_at_s=clock(),
            received_wall_s=wall_clock(),
            refresh_expires_in_s=refresh_expires_in_s,
        )


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _malformed()
    return float(value)


def _malformed() -> TokensmithError:
    return TokensmithError("The server's token response is not understood")

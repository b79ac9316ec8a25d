"""``Verifier``: access tokens of a tokensmith server, checked inside another service.

The rules are the server's own (contract 3, :class:`~tokensmith.core.tokens.TokenCodec`): the
configured algorithm only, ``typ: at+jwt``, ``iss`` from discovery, ``aud``, ``exp``/``nbf``/``iat``
with the clock tolerance, and the session not revoked. A request costs a signature check and a
set lookup; the network is used at start (discovery, keys, the revocation list), by the stream's
thread, and when a token names a key we do not have (``kid`` miss: the JWKS is fetched again, at
most once per ``jwks_refetch_interval``, so junk tokens cannot make us hammer the server).

When the revocation stream is down the service keeps verifying with what it knows. Once the
stream has been silent for ``stale_after`` (``REVOCATION_STALE_AFTER``), a logout made meanwhile
could be missed, so with ``on_stale="refuse"`` (the default) tokens issued more than
``stale_after`` ago are refused with 503 ``SERVICE_UNAVAILABLE`` (``Retry-After``), and newer
ones pass: a session logged out during the outage has at most ``stale_after`` of use left.
``on_stale="accept"`` keeps accepting every valid token (availability first) and logs a warning.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any, Literal

import httpx

from tokensmith.core.bearer import bearer_token as parse_bearer
from tokensmith.core.clock import Clock, SystemClock
from tokensmith.core.keys import KeySet
from tokensmith.core.models import AccessClaims
from tokensmith.core.revocation import RevocationSet
from tokensmith.core.tokens import TokenCodec, TokenPolicy
from tokensmith.errors import (
    ConfigError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    NoToken,
    ServiceUnavailable,
    TokenRevoked,
)
from tokensmith.verify.feed import RevocationFollower

__all__ = ["Verifier"]

log = logging.getLogger("tokensmith.verify")

StalePolicy = Literal["refuse", "accept"]


class Verifier:
    """Verifies access tokens of the tokensmith server at ``issuer_url`` (contract 10).

    ``client_id``/``client_secret``: a service client of the server (``SERVICE_CLIENTS``), for
    the revocation feed. ``secret``: ``JWT_SECRET``, needed only when the server signs access
    tokens with HS256 (asymmetric keys come from the JWKS and are the better choice for other
    services: they cannot mint tokens). ``algorithm`` pins the algorithm the service accepts
    (else the one discovery announces). Call :meth:`start` once (the adapters do); a
    configuration mistake raises :class:`~tokensmith.errors.ConfigError` at once.
    """

    def __init__(
        self,
        issuer_url: str,
        *,
        audience: str = "tokensmith",
        client_id: str | None = None,
        client_secret: str | None = None,
        secret: str | bytes | None = None,
        leeway: timedelta = timedelta(seconds=60),
        stale_after: timedelta = timedelta(seconds=60),
        on_stale: StalePolicy = "refuse",
        jwks_refetch_interval: timedelta = timedelta(seconds=30),
        stream_read_timeout: timedelta = timedelta(seconds=45),
        algorithm: str | None = None,
        follow_revocations: bool = True,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if on_stale not in ("refuse", "accept"):
            raise ValueError("on_stale must be 'refuse' or 'accept'")
        self.issuer_url = issuer_url.rstrip("/")
        self.audience = audience
        self.leeway = leeway
        self.stale_after = stale_after
        self.on_stale: StalePolicy = on_stale
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._pinned_algorithm = algorithm
        self._refetch_s = jwks_refetch_interval.total_seconds()
        self._clock = clock or SystemClock()
        auth = (client_id, client_secret) if client_id and client_secret else None
        self._http = httpx.Client(
            auth=auth, transport=transport, timeout=httpx.Timeout(5.0), follow_redirects=False
        )
        self._follow = follow_revocations and auth is not None
        self._stream_read_timeout = stream_read_timeout
        self.metadata: dict[str, Any] = {}
        self.revoked = RevocationSet()
        self._codec: TokenCodec | None = None
        self._algorithm = ""
        self._last_fetch = float("-inf")
        self._fetch_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self.follower: RevocationFollower | None = None
        self.jwks_fetches = 0
        self._stale_warned = False

    def __repr__(self) -> str:
        return f"Verifier({self.issuer_url!r}, alg={self._algorithm or '?'}, {self.follower!r})"

    # -- start and stop ----------------------------------------------------------------------

    def start(self, timeout: timedelta = timedelta(seconds=30)) -> Verifier:
        """Discovery, keys, the revocation list, then the stream in its thread. Retries until
        ``timeout`` while the server is unreachable, then raises :class:`ServiceUnavailable`."""
        with self._start_lock:
            if self._codec is not None:
                return self
            deadline = time.monotonic() + timeout.total_seconds()
            while True:
                try:
                    self._discover()
                    break
                except (httpx.HTTPError, ValueError) as exc:
                    if time.monotonic() >= deadline:
                        raise ServiceUnavailable(
                            f"tokensmith at {self.issuer_url} is not reachable "
                            f"({type(exc).__name__})"
                        ) from None
                    time.sleep(0.2)
            if self._follow:
                self.follower = RevocationFollower(
                    self._http,
                    self.metadata["revocation_feed_endpoint"],
                    self.metadata.get(
                        "revocation_stream_endpoint",
                        self.metadata["revocation_feed_endpoint"] + "/stream",
                    ),
                    self.revoked,
                    self._clock,
                    read_timeout=self._stream_read_timeout,
                )
                # The full list before the first token is judged: no window in which a session
                # revoked before this service started is accepted.
                self._first_sync(self.follower, deadline)
                self.follower.start()
            else:
                log.warning("no client_id/client_secret: logouts will not reach this service")
            return self

    def _first_sync(self, follower: RevocationFollower, deadline: float) -> None:
        while True:
            try:
                follower.sync_full()
                return
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code in (401, 403):
                    raise ServiceUnavailable(
                        "tokensmith refused this service's client_id/client_secret for the "
                        "revocation feed: check SERVICE_CLIENTS on the server"
                    ) from None
                if time.monotonic() >= deadline:
                    raise ServiceUnavailable("the revocation feed is not available") from None
            except (httpx.HTTPError, ValueError) as exc:
                if time.monotonic() >= deadline:
                    raise ServiceUnavailable(
                        f"the revocation feed is not reachable ({type(exc).__name__})"
                    ) from None
            time.sleep(0.2)

    def close(self) -> None:
        if self.follower is not None:
            self.follower.stop()
        self._http.close()

    def _discover(self) -> None:
        response = self._http.get(f"{self.issuer_url}/.well-known/openid-configuration")
        response.raise_for_status()
        metadata = response.json()
        if not isinstance(metadata, dict) or not isinstance(metadata.get("issuer"), str):
            raise ValueError("not a discovery document")
        algorithms = metadata.get("access_token_signing_alg_values_supported") or ["HS256"]
        algorithm = str(algorithms[0])
        # RFC 8725 section 3.1: a service that pins its algorithm never follows a changed one.
        if self._pinned_algorithm is not None and algorithm != self._pinned_algorithm:
            raise ConfigError(
                "JWT_ALGORITHM",
                f"the server announces {algorithm}, this service expects {self._pinned_algorithm}",
            )
        self.metadata = metadata
        self._algorithm = algorithm
        self._install_keys(self._keys())

    def _keys(self) -> KeySet:
        if self._algorithm == "HS256":
            if self._secret is None:
                raise ConfigError(
                    "JWT_SECRET", "the server signs with HS256: pass secret= (its JWT_SECRET)"
                )
            return KeySet.hmac(self._secret)
        response = self._http.get(self.metadata["jwks_uri"])
        response.raise_for_status()
        self.jwks_fetches += 1
        return KeySet.from_jwks(self._algorithm, list(response.json().get("keys", [])))

    def _install_keys(self, keys: KeySet) -> None:
        policy = TokenPolicy(
            issuer=self.metadata["issuer"],
            audience=self.audience,
            access_ttl=timedelta(0),  # issuing is not ours: only the verification rules apply
            refresh_ttl=timedelta(0),
            leeway=self.leeway,
        )
        self._codec = TokenCodec(keys, keys, policy, self._clock)

    # -- verification ------------------------------------------------------------------------

    def verify(
        self, token: str | None, *, scopes: tuple[str, ...] = (), refetch: bool = True
    ) -> AccessClaims:
        """The claims of a valid, unrevoked access token, or the error of contract 4
        (``NoToken``, ``InvalidToken``, ``TokenExpired``, ``TokenRevoked``,
        ``InsufficientScope``; ``ServiceUnavailable`` per the stale policy). No network call,
        except once after a ``kid`` miss."""
        if not token:
            raise NoToken()
        codec = self._codec
        if codec is None:
            raise ServiceUnavailable("The verifier has not started: call Verifier.start()")
        try:
            claims = codec.verify_access(token)
        except InvalidToken:
            if not refetch or not self._refetch_for_unknown_kid(token):
                raise
            claims = (self._codec or codec).verify_access(token)
        if claims.sid in self.revoked:
            raise TokenRevoked()
        self._check_fresh(claims)
        missing = tuple(s for s in scopes if s not in claims.scopes)
        if missing:
            raise InsufficientScope(scopes=scopes)
        return claims

    def verify_header(
        self, authorization: str | None, *, scopes: tuple[str, ...] = (), refetch: bool = True
    ) -> AccessClaims:
        """:meth:`verify` on an ``Authorization: Bearer`` header."""
        return self.verify(bearer_token(authorization), scopes=scopes, refetch=refetch)

    def wants_keys(self, authorization: str | None) -> bool:
        """The header's token names a key we lack and the JWKS may be fetched again now (an
        async adapter then verifies in a thread)."""
        if self._algorithm == "HS256" or self._codec is None:
            return False
        try:
            kid = _kid_of(bearer_token(authorization))
        except (NoToken, InvalidToken):
            return False
        return (
            kid is not None
            and kid not in self._known_kids()
            and time.monotonic() - self._last_fetch >= self._refetch_s
        )

    def _check_fresh(self, claims: AccessClaims) -> None:
        if self.follower is None:
            return
        heard = self.follower.heard_at
        now = self._clock.now()
        if heard is not None and now - heard <= self.stale_after:
            self._stale_warned = False
            return
        if self.on_stale == "accept":
            if not self._stale_warned:
                log.warning(
                    "revocation stream silent for over %s; accepting tokens", self.stale_after
                )
                self._stale_warned = True
            return
        if claims.iat < (now - self.stale_after).timestamp():
            raise ServiceUnavailable(
                "The revocation feed is unavailable: this token is too old to accept now"
            )

    @property
    def fresh(self) -> bool:
        """The revocation set is current (the stream spoke within ``stale_after``)."""
        if self.follower is None or self.follower.heard_at is None:
            return False
        return self._clock.now() - self.follower.heard_at <= self.stale_after

    def _refetch_for_unknown_kid(self, token: str) -> bool:
        """A token naming a key we lack may be signed with a new key (rotation): fetch the JWKS
        again, at most once per interval. Returns whether the keys changed."""
        if self._algorithm == "HS256" or self._codec is None:
            return False
        kid = _kid_of(token)
        if kid is None or kid in self._known_kids():
            return False
        with self._fetch_lock:
            if kid in self._known_kids():
                return True
            if time.monotonic() - self._last_fetch < self._refetch_s:
                return False
            self._last_fetch = time.monotonic()  # counted whether it succeeds or not
            try:
                keys = self._keys()
            except (httpx.HTTPError, ValueError):
                return False
            self._install_keys(keys)
            return kid in keys.verifiers

    def _known_kids(self) -> set[str]:
        codec = self._codec
        return set(codec.access_kids) if codec is not None else set()


def _kid_of(token: str) -> str | None:
    import jwt

    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None
    return kid if isinstance(kid, str) else None


def bearer_token(authorization: str | None) -> str:
    """The token of ``Authorization: Bearer <token>``, parsed as tokensmith parses it
    (:func:`tokensmith.core.bearer.bearer_token`).

    Several ``Authorization`` headers arrive folded into one, comma-separated (WSGI servers do
    so; the ASGI adapter joins them the same way). A bearer token never holds a comma, so a list
    with a Bearer credential in it is :class:`InvalidRequest` (400, RFC 6750 section 3.1), as on
    tokensmith itself: taking the first would let a proxy and this service disagree about whose
    request it is."""
    if (
        authorization
        and "," in authorization
        and any(part.strip().lower().startswith("bearer") for part in authorization.split(","))
    ):
        raise InvalidRequest("Send one Authorization header, not several (RFC 6750 section 3.1)")
    return parse_bearer(authorization)

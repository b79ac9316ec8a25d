"""``TokensmithAuth``: an ``httpx.Auth`` that keeps a tokensmith session alive (contract 6).

For every request to the server's origin it adds ``Authorization: Bearer <access token>``.

- **Proactive refresh.** Before sending, if the access token has less than the policy's margin of
  life left (by default ``max(5 s, 10 %)`` of its lifetime, never more than half of it), it is
  refreshed first. Lifetime is ``expiresIn`` measured on the client's monotonic clock from when
  the tokens were received; the token's ``exp`` and the wall clock are never read, so a client
  clock that is minutes off changes nothing.
- **Reactive refresh.** On a 401 whose body code is ``TOKEN_EXPIRED`` it refreshes once and
  retries the request once. Any other answer is handed back untouched.
- **Single flight.** However many threads (or asyncio tasks) hit an expired token at once, one
  refresh request is sent: each caller notes the token *generation* it used, takes the refresh
  lock, and if the generation moved on while it waited, it uses what the winner left (new tokens,
  or the winner's error) instead of refreshing again. Sync flows share a ``threading.Lock``;
  async flows an ``asyncio.Lock`` per event loop. A sync and an async flow on the same auth may
  refresh at the same moment; the server's reuse grace makes that harmless.
- **Lost responses.** A refresh that gets no answer (a transport error or a 5xx) is retried with
  the SAME refresh token, a bounded number of times inside the server's reuse grace
  (:class:`~tokensmith.client.RefreshPolicy`); the server answers with the same successor.
- **Refused refresh.** ``TOKEN_REUSE_DETECTED``, ``SESSION_REVOKED``, ``REFRESH_TOKEN_EXPIRED``
  and ``INVALID_REFRESH_TOKEN`` (any :class:`~tokensmith.errors.RefreshError`) clear the store
  and raise that error class; the user has to log in again.

Tokens go only to the origin of ``base_url`` (never to another host the same ``httpx.Client``
talks to), only in headers and bodies (never in a URL), and never into a log or a ``repr``.
Request bodies are buffered so that a retry can send them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Generator, Iterator, Mapping
from dataclasses import dataclass

import httpx

from tokensmith.client._http import build_refresh_request, error_code, judge_refresh_response
from tokensmith.client.stores import MemoryTokenStore, TokenStore
from tokensmith.client.tokens import MonotonicClock, RefreshPolicy, TokenSet, WallClock
from tokensmith.errors import RefreshError, TokenExpired, TokensmithError, error_from_code

__all__ = ["TokensmithAuth"]

_log = logging.getLogger("tokensmith.client")
_DEFAULT_PORTS = {"http": 80, "https": 443}

RefreshFailure = httpx.RequestError | TokensmithError
"""What a refresh can end in other than new tokens."""


@dataclass(frozen=True)
class _Snapshot:
    """The tokens as one caller saw them, and their generation (bumped on every change)."""

    generation: int
    tokens: TokenSet | None


@dataclass(frozen=True)
class _Failure:
    """The last refresh failure and the generation it produced, so waiters can share it."""

    generation: int
    error: RefreshFailure


@dataclass(frozen=True)
class _Outcome:
    """The state a refresh (ours or the one we waited for) left, and its error if it failed."""

    snapshot: _Snapshot
    error: RefreshFailure | None = None


class TokensmithAuth(httpx.Auth):
    """Bearer authentication against a tokensmith server, refreshing as needed.

    ``base_url`` is the server's base URL (``https://auth.example.com``); tokens are sent to its
    origin only. ``store`` holds the tokens (default :class:`MemoryTokenStore`). Refresh requests
    go through ``transport`` (sync) and ``async_transport`` (async) when given, which is how to
    set TLS, proxies or a test double; otherwise through default httpx transports. ``clock`` is
    the monotonic clock expiry is measured on (tests inject a fake one).
    """

    def __init__(
        self,
        base_url: str | httpx.URL,
        *,
        store: TokenStore | None = None,
        policy: RefreshPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        clock: MonotonicClock = time.monotonic,
        wall_clock: WallClock = time.time,
    ) -> None:
        url = httpx.URL(str(base_url))
        if url.scheme not in _DEFAULT_PORTS or not url.host:
            raise ValueError("base_url must be an absolute http:// or https:// URL")
        self.base_url = str(url).rstrip("/")
        self.refresh_url = f"{self.base_url}/auth/refresh"
        self.store: TokenStore = store if store is not None else MemoryTokenStore()
        self.policy = policy or RefreshPolicy()
        self._origin = _origin(url)
        self._clock = clock
        self._wall_clock = wall_clock
        self._transport = transport
        self._owns_transport = transport is None
        self._async_transport = async_transport
        # _state_lock makes (store, generation, failure) change together; held briefly, never
        # across I/O. The refresh locks serialise refreshes and are held across the refresh I/O.
        self._state_lock = threading.Lock()
        self._generation = 0
        self._failure: _Failure | None = None
        self._sync_lock = threading.Lock()
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    # -- tokens ----------------------------------------------------------------------------

    @property
    def tokens(self) -> TokenSet | None:
        """The current tokens, or ``None`` when logged out."""
        return self._snapshot().tokens

    def set_tokens(self, tokens: TokenSet) -> None:
        """Start using ``tokens`` (after a login made elsewhere)."""
        with self._state_lock:
            self.store.save(tokens)
            self._bump(None)

    def accept_token_response(self, body: Mapping[str, object]) -> TokenSet:
        """Store the tokens of a login (or refresh) response body, stamped with the time now."""
        tokens = TokenSet.from_response(body, clock=self._clock, wall_clock=self._wall_clock)
        self.set_tokens(tokens)
        return tokens

    def clear_tokens(self) -> None:
        """Forget the tokens (after a logout)."""
        with self._state_lock:
            self.store.clear()
            self._bump(None)

    def _snapshot(self) -> _Snapshot:
        with self._state_lock:
            return _Snapshot(self._generation, self.store.load())

    def _bump(self, failure: RefreshFailure | None) -> None:
        # Caller holds _state_lock.
        self._generation += 1
        self._failure = None if failure is None else _Failure(self._generation, failure)

    # -- httpx.Auth ------------------------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Authorise ``request``; refresh before it or after a ``TOKEN_EXPIRED`` and retry once."""
        if not self._applies_to(request):
            yield request
            return
        request.read()
        sent = self._tokens_for_request_sync()
        _authorise(request, sent.tokens)
        response = yield request
        if not self._can_refresh(sent, response):
            return
        response.read()
        if error_code(response) != TokenExpired.code:
            return
        with self._sync_lock:
            outcome = self._after_wait(sent) or self._refresh_now_sync(sent)
        retry = self._retry_tokens(outcome)
        if retry is not None:
            yield _retry_request(request, retry)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The asynchronous twin of :meth:`sync_auth_flow`."""
        if not self._applies_to(request):
            yield request
            return
        await request.aread()
        sent = await self._tokens_for_request_async()
        _authorise(request, sent.tokens)
        response = yield request
        if not self._can_refresh(sent, response):
            return
        await response.aread()
        if error_code(response) != TokenExpired.code:
            return
        async with self._async_lock():
            outcome = self._after_wait(sent) or await self._refresh_now_async(sent)
        retry = self._retry_tokens(outcome)
        if retry is not None:
            yield _retry_request(request, retry)

    # -- decisions shared by both flows ----------------------------------------------------

    def _applies_to(self, request: httpx.Request) -> bool:
        # Never hand our token to another origin, and never override a header the caller set.
        return _origin(request.url) == self._origin and "Authorization" not in request.headers

    @staticmethod
    def _can_refresh(sent: _Snapshot, response: httpx.Response) -> bool:
        return (
            response.status_code == 401
            and sent.tokens is not None
            and sent.tokens.refresh_token is not None
        )

    def _is_due(self, seen: _Snapshot) -> bool:
        tokens = seen.tokens
        return (
            self.policy.proactive
            and tokens is not None
            and tokens.refresh_token is not None
            and tokens.is_due(self._clock(), self.policy)
        )

    def _after_wait(self, seen: _Snapshot) -> _Outcome | None:
        """After taking the refresh lock: ``None`` if nothing changed since ``seen`` (so refresh),
        else what changed it: new tokens, a logout, or a failed refresh (shared with waiters)."""
        with self._state_lock:
            if self._generation == seen.generation:
                return None
            current = _Snapshot(self._generation, self.store.load())
            failure = self._failure
        if failure is not None and failure.generation == current.generation:
            return _Outcome(current, _copy_error(failure.error))
        return _Outcome(current)

    def _proactive_result(self, outcome: _Outcome) -> _Snapshot:
        """Tokens to send after a proactive refresh; a failed one is ignored while the current
        access token still has life left (the request may well succeed with it)."""
        tokens = outcome.snapshot.tokens
        if outcome.error is None:
            return outcome.snapshot
        if tokens is not None and not tokens.is_expired(self._clock()):
            _log.info("proactive refresh failed; using the current access token until it expires")
            return outcome.snapshot
        raise outcome.error

    @staticmethod
    def _retry_tokens(outcome: _Outcome) -> TokenSet | None:
        """Tokens to retry with after a ``TOKEN_EXPIRED``; ``None`` hands back the 401."""
        if outcome.error is not None:
            raise outcome.error
        return outcome.snapshot.tokens

    def _finish_refresh(self, seen: _Snapshot, result: TokenSet | RefreshFailure) -> _Outcome:
        """Record a refresh's result, unless a login or logout replaced the tokens meanwhile
        (then that newer state wins and the refresh's result, good or bad, is dropped)."""
        with self._state_lock:
            replaced = self._generation != seen.generation
            if not replaced:
                if isinstance(result, TokenSet):
                    self.store.save(result)
                    self._bump(None)
                else:
                    if isinstance(result, RefreshError):
                        # The session is over: the refresh token will never work again.
                        self.store.clear()
                    self._bump(result)
            current = _Snapshot(self._generation, self.store.load())
        if isinstance(result, TokenSet) or replaced:
            return _Outcome(current)
        _log.warning("token refresh failed: %s", _describe(result))
        return _Outcome(current, result)

    def _next_delay(self, attempt: int, started_s: float) -> float | None:
        """Pause before retry number ``attempt`` (0-based), or ``None`` to stop retrying."""
        delays = self.policy.retry_delays_s
        if attempt >= len(delays):
            return None
        delay = delays[attempt]
        if self._clock() + delay - started_s > self.policy.retry_window_s:
            return None
        return delay

    def _accept_answer(self, tokens: TokenSet, response: httpx.Response) -> TokenSet:
        """New tokens from a read refresh response; raises :class:`_Retryable` or the error."""
        answer = judge_refresh_response(response)
        if answer.error is not None:
            if answer.retryable:
                raise _Retryable(answer.error)
            raise answer.error
        return TokenSet.from_response(
            answer.body,
            clock=self._clock,
            wall_clock=self._wall_clock,
            previous_refresh_token=tokens.refresh_token,
        )

    # -- sync I/O --------------------------------------------------------------------------

    def _tokens_for_request_sync(self) -> _Snapshot:
        seen = self._snapshot()
        if not self._is_due(seen):
            return seen
        with self._sync_lock:
            outcome = self._after_wait(seen) or self._refresh_now_sync(seen)
        return self._proactive_result(outcome)

    def _refresh_now_sync(self, seen: _Snapshot) -> _Outcome:
        tokens = seen.tokens
        if tokens is None or tokens.refresh_token is None:
            return _Outcome(seen)
        try:
            result: TokenSet | RefreshFailure = self._refresh_sync(tokens, tokens.refresh_token)
        except (httpx.RequestError, TokensmithError) as exc:
            result = exc
        return self._finish_refresh(seen, result)

    def _refresh_sync(self, tokens: TokenSet, refresh_token: str) -> TokenSet:
        _log.debug("refreshing the access token")
        started_s = self._clock()
        attempt = 0
        while True:
            request = build_refresh_request(self.refresh_url, refresh_token, self.policy.timeout_s)
            try:
                with self._send_sync(request) as response:
                    return self._accept_answer(tokens, response)
            except (httpx.TransportError, _Retryable) as exc:
                delay = self._next_delay(attempt, started_s)
                if delay is None:
                    raise exc.error if isinstance(exc, _Retryable) else exc from None
                _log.info("refresh got no answer (%s); retrying the same token", _describe(exc))
                attempt += 1
                if delay > 0:
                    time.sleep(delay)

    @contextlib.contextmanager
    def _send_sync(self, request: httpx.Request) -> Iterator[httpx.Response]:
        if self._transport is None:
            self._transport = httpx.HTTPTransport()
        response = self._transport.handle_request(request)
        try:
            response.read()
            yield response
        finally:
            response.close()

    def close(self) -> None:
        """Close the transport this auth created for refreshes (not one it was given)."""
        if self._owns_transport and self._transport is not None:
            self._transport.close()
            self._transport = None

    # -- async I/O -------------------------------------------------------------------------

    def _async_lock(self) -> asyncio.Lock:
        # An asyncio.Lock belongs to one event loop: keep one per loop, dropped with the loop.
        loop = asyncio.get_running_loop()
        with self._state_lock:
            lock = self._async_locks.get(loop)
            if lock is None:
                lock = self._async_locks[loop] = asyncio.Lock()
            return lock

    async def _tokens_for_request_async(self) -> _Snapshot:
        seen = self._snapshot()
        if not self._is_due(seen):
            return seen
        async with self._async_lock():
            outcome = self._after_wait(seen) or await self._refresh_now_async(seen)
        return self._proactive_result(outcome)

    async def _refresh_now_async(self, seen: _Snapshot) -> _Outcome:
        tokens = seen.tokens
        if tokens is None or tokens.refresh_token is None:
            return _Outcome(seen)
        try:
            result: TokenSet | RefreshFailure = await self._refresh_async(
                tokens, tokens.refresh_token
            )
        except (httpx.RequestError, TokensmithError) as exc:
            result = exc
        return self._finish_refresh(seen, result)

    async def _refresh_async(self, tokens: TokenSet, refresh_token: str) -> TokenSet:
        _log.debug("refreshing the access token")
        started_s = self._clock()
        attempt = 0
        # A default transport lives for one refresh: its connections belong to this event loop.
        async with contextlib.AsyncExitStack() as stack:
            transport = self._async_transport
            if transport is None:
                transport = await stack.enter_async_context(httpx.AsyncHTTPTransport())
            while True:
                request = build_refresh_request(
                    self.refresh_url, refresh_token, self.policy.timeout_s
                )
                try:
                    response = await transport.handle_async_request(request)
                    try:
                        await response.aread()
                        return self._accept_answer(tokens, response)
                    finally:
                        await response.aclose()
                except (httpx.TransportError, _Retryable) as exc:
                    delay = self._next_delay(attempt, started_s)
                    if delay is None:
                        raise exc.error if isinstance(exc, _Retryable) else exc from None
                    _log.info("refresh got no answer (%s); retrying the same token", _describe(exc))
                    attempt += 1
                    if delay > 0:
                        await asyncio.sleep(delay)

    def __repr__(self) -> str:
        return f"TokensmithAuth(base_url={self.base_url!r}, store={self.store!r})"


class _Retryable(Exception):
    """A refresh answer worth retrying with the same token (a 5xx); carries the error to raise
    if the retries run out."""

    def __init__(self, error: TokensmithError) -> None:
        super().__init__(error.code)
        self.error = error


def _authorise(request: httpx.Request, tokens: TokenSet | None) -> None:
    if tokens is not None:
        request.headers["Authorization"] = f"Bearer {tokens.access_token}"


def _retry_request(request: httpx.Request, tokens: TokenSet) -> httpx.Request:
    # A new request rather than the old one mutated: the first response keeps, in its
    # .request, what was really sent (hooks and history stay truthful).
    retry = httpx.Request(
        request.method,
        request.url,
        headers=request.headers,
        content=request.content,
        extensions=request.extensions,
    )
    _authorise(retry, tokens)
    return retry


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme))


def _describe(exc: BaseException) -> str:
    # Names the failure without its text where that text could echo a request.
    if isinstance(exc, TokensmithError):
        return exc.code
    if isinstance(exc, _Retryable):
        return exc.error.code
    return type(exc).__name__


def _copy_error(error: RefreshFailure) -> RefreshFailure:
    """A fresh exception like ``error`` (same class, message and attributes, no traceback) for
    a waiter to raise: one exception object raised in many threads would garble its traceback."""
    try:
        return copy.copy(error)
    except TypeError:  # a transport's own exception class with another constructor
        if isinstance(error, TokensmithError):
            return error_from_code(error.code, error.message)
        return httpx.TransportError(str(error))

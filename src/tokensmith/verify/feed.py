"""Following the revocation stream of a tokensmith server from another service.

A daemon thread keeps one ``GET /auth/revocations/stream`` open and adds every revoked session
to the in-process :class:`~tokensmith.core.revocation.RevocationSet`, so a request costs a set
lookup, never a network call. The thread serves every framework alike (Flask and Django are
synchronous, Starlette asynchronous).

- Start: the full list (``GET /auth/revocations``), then the stream from its cursor.
- Reconnect (the server restarted, was killed, or dropped us for being slow): the stream again
  with ``Last-Event-ID`` = the last cursor, so the server replays what we missed from its log.
- A cursor the server refuses (400: another database, a restored backup): the full list again,
  then the stream. Revocations are only ever added, so a resync can never forget one.

``heard_at`` is when the stream last said anything (an event or a heartbeat) while connected;
the verifier decides from it whether the set is fresh enough to trust (``stale_after``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from tokensmith.core.clock import Clock
from tokensmith.core.models import Revocation
from tokensmith.core.revocation import RevocationSet

__all__ = ["RevocationFollower", "parse_revocations"]

log = logging.getLogger("tokensmith.verify")


class CursorRefused(Exception):
    """The server does not know our cursor: resynchronise from the full list."""


def parse_revocations(body: Any) -> tuple[list[Revocation], str]:
    """``{"revocations": [{"sid", "until"}], "cursor"}`` -> revocations and cursor."""
    if not isinstance(body, dict) or not isinstance(body.get("cursor"), str):
        raise ValueError("not a revocation list")
    found = [
        Revocation(str(item["sid"]), datetime.fromisoformat(str(item["until"])))
        for item in body.get("revocations", [])
    ]
    return found, body["cursor"]


@dataclass
class _Event:
    id: str | None = None
    event: str = "message"
    data: str = ""


class RevocationFollower:
    def __init__(
        self,
        http: httpx.Client,
        list_url: str,
        stream_url: str,
        revoked: RevocationSet,
        clock: Clock,
        *,
        read_timeout: timedelta = timedelta(seconds=45),
        max_backoff: timedelta = timedelta(seconds=2),
    ) -> None:
        self._http = http
        self._list_url = list_url
        self._stream_url = stream_url
        self.revoked = revoked
        self._clock = clock
        self._read_timeout_s = read_timeout.total_seconds()
        self._max_backoff_s = max_backoff.total_seconds()
        self.cursor: str | None = None
        self.connected = False
        self.heard_at: datetime | None = None
        self.reconnects = 0
        self.resyncs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"RevocationFollower({state}, revoked={len(self.revoked)})"

    def sync_full(self) -> None:
        """The full list of live revocations and a fresh cursor (raises httpx errors)."""
        response = self._http.get(self._list_url)
        response.raise_for_status()
        found, cursor = parse_revocations(response.json())
        self.revoked.add(found)
        self.cursor = cursor
        self.heard_at = self._clock.now()
        self.resyncs += 1

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tokensmith-revocations", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        backoff_s = 0.05
        while not self._stop.is_set():
            try:
                if self.cursor is None:
                    self.sync_full()
                self._follow()
                backoff_s = 0.05  # the stream ended cleanly (dropped, server stopping)
            except CursorRefused:
                log.warning("the server refused our revocation cursor; resynchronising")
                self.cursor = None
                continue
            except Exception as exc:  # a network error, a bad event, or the client closed
                if self._stop.is_set():
                    return
                if self.connected or self.reconnects == 0:
                    log.warning("revocation stream lost (%s); reconnecting", type(exc).__name__)
            finally:
                self.connected = False
            if self._stop.wait(backoff_s):
                return
            self.reconnects += 1
            backoff_s = min(backoff_s * 2, self._max_backoff_s)

    def _follow(self) -> None:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if self.cursor is not None:
            headers["Last-Event-ID"] = self.cursor
        timeout = httpx.Timeout(5.0, read=self._read_timeout_s)
        with self._http.stream("GET", self._stream_url, headers=headers, timeout=timeout) as r:
            if r.status_code == 400:
                raise CursorRefused()
            r.raise_for_status()
            self.connected = True
            for event in self._events(r.iter_lines()):
                if self._stop.is_set():
                    return
                if event is None:  # a heartbeat or any other line: the stream is alive
                    self.heard_at = self._clock.now()
                    self.revoked.prune(self.heard_at)  # entries past ``until`` matter no more
                    continue
                if event.event == "revocations" and event.data:
                    found, cursor = parse_revocations(json.loads(event.data))
                    self.revoked.add(found)
                    self.cursor = event.id or cursor
                    self.revoked.prune(self._clock.now())
                self.heard_at = self._clock.now()

    @staticmethod
    def _events(lines: Iterator[str]) -> Iterator[_Event | None]:
        """Server-Sent Events (the WHATWG grammar, the fields we use); ``None`` per comment."""
        current = _Event()
        for line in lines:
            if not line:
                if current.data or current.id is not None:
                    yield current
                current = _Event()
                continue
            if line.startswith(":"):
                yield None
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                current.data = f"{current.data}\n{value}" if current.data else value
            elif name == "id":
                current.id = value
            elif name == "event":
                current.event = value

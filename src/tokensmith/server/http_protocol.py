"""uvicorn's httptools protocol, with a response's head and body leaving in one write.

uvicorn writes a response in two ``transport.write`` calls: the status line and headers when the
app sends ``http.response.start``, the body when it sends ``http.response.body``. On a socket
whose buffer is empty each write is a ``send`` of its own: two system calls, two TCP segments,
and two wake-ups of the client, for every refresh and every ``/auth/me``. The two writes were
22% of the server's samples in a refresh profile (``python -m bench.profile /auth/refresh
--standalone``), the one write 13%; docs/performance.md has the end-to-end measurement.

:class:`CoalescingHttpTools` is the same protocol with one change: each request's cycle writes
through a :class:`HeadHolder`, which keeps a head that announces a ``Content-Length`` until the
body's first write and sends both together. Nothing is held longer than that: the head goes out
alone when the response completes without a body write (``HEAD``), when the connection closes,
and never for an interim ``100 Continue`` or a streamed (chunked) response, whose head the
client must see before the first event. ``tokensmith serve`` runs it; an app embedding
tokensmith can too (``uvicorn app:app --http`` :data:`PROTOCOL`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["PROTOCOL", "CoalescingHttpTools", "HeadHolder"]

PROTOCOL: Final = "tokensmith.server.http_protocol:CoalescingHttpTools"
"""The protocol as an import string, for ``uvicorn --http`` (uvicorn 0.36 and later)."""

_NOTHING, _HOLDING, _PASSED = 0, 1, 2


def _is_whole_head(data: bytes) -> bool:
    """A final response's status line and headers, with a body length: what uvicorn writes for
    ``http.response.start`` (it lowercases header names)."""
    return (
        data.startswith(b"HTTP/1.1 ")
        and data[9:10] != b"1"  # 1xx: interim, the client is waiting for it
        and data.endswith(b"\r\n\r\n")
        and b"\r\ncontent-length: " in data
    )


class HeadHolder:
    """One request cycle's view of the connection's transport (what the cycle calls: ``write``,
    ``close``, ``is_closing``), holding the response head until the body's first write."""

    __slots__ = ("_head", "_on_response", "_state", "_transport")

    def __init__(self, transport: asyncio.Transport, on_response: Callable[[], None]) -> None:
        self._transport = transport
        self._on_response = on_response
        self._head = b""
        self._state = _NOTHING

    def write(self, data: bytes) -> None:
        if self._state == _HOLDING:
            self._state = _PASSED
            data = self._head + data
            self._head = b""
        elif self._state == _NOTHING and _is_whole_head(data):
            self._state = _HOLDING
            self._head = data
            return
        self._transport.write(data)

    def flush(self) -> None:
        if self._state == _HOLDING:
            self.write(b"")

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def response_complete(self) -> None:
        """The cycle's ``on_response``: a response without a body write (``HEAD``) sends its
        head now, before the protocol arms keep-alive or starts a pipelined request."""
        self.flush()
        self._on_response()


class CoalescingHttpTools(HttpToolsProtocol):
    """:class:`~uvicorn.protocols.http.httptools_impl.HttpToolsProtocol` whose request cycles
    write through a :class:`HeadHolder`."""

    def on_headers_complete(self) -> None:
        before = self.cycle
        super().on_headers_complete()
        cycle: Any = self.cycle
        if cycle is None or cycle is before:
            return  # an upgrade (websocket): no HTTP response cycle
        holder = HeadHolder(cycle.transport, cycle.on_response)
        cycle.transport = cast(asyncio.Transport, holder)
        cycle.on_response = holder.response_complete

"""The server's HTTP protocol: uvicorn's httptools protocol, whose responses leave in one write.

The protocol is real (uvicorn's parser and request cycle, a real ASGI app); what stands in for the
socket is a transport that records each ``write`` call, because one call per response is the
behaviour under test (each call is a ``send`` and a TCP segment on a real socket).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from tests.support.inprocess import base_env
from tokensmith.cli.serve import WORKER_HEALTHCHECK_S, uvicorn_options
from tokensmith.server.http_protocol import PROTOCOL, CoalescingHttpTools, HeadHolder
from tokensmith.settings import load_settings

Scope = dict[str, Any]
App = Callable[..., Any]


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class Connection:
    def __init__(self, app: App, protocol: type[Any] = CoalescingHttpTools) -> None:
        config = uvicorn.Config(app, http=protocol, log_config=None, lifespan="off")
        config.load()
        self.protocol: Any = config.http_protocol_class(config, ServerState(), {})  # type: ignore[call-arg]
        self.transport = RecordingTransport()
        self.protocol.connection_made(self.transport)

    def send(self, data: bytes) -> None:
        self.protocol.data_received(data)

    async def until_idle(self) -> None:
        while self.protocol.tasks:
            await asyncio.gather(*self.protocol.tasks)

    def close(self) -> None:
        self.protocol.connection_lost(None)


@pytest.fixture
def connect() -> Iterator[Callable[..., Connection]]:
    made: list[Connection] = []

    def make(app: App, protocol: type[Any] = CoalescingHttpTools) -> Connection:
        made.append(Connection(app, protocol))
        return made[-1]

    yield make
    for conn in made:
        conn.close()


async def respond(send: Any, body: bytes, status: int = 200) -> None:
    """A whole response: a head with its ``Content-Length``, then the body."""
    length = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [length]})
    await send({"type": "http.response.body", "body": body})


def answering(body: bytes, *, status: int = 200) -> App:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await respond(send, body, status)

    return app


GET = b"GET /auth/me HTTP/1.1\r\nHost: t\r\n\r\n"


def test_the_server_runs_this_protocol_and_a_patient_health_check(tmp_path: Path) -> None:
    """What ``tokensmith serve`` gives uvicorn, through uvicorn's own ``Config`` (which refuses
    an option it does not know): this protocol, and 30 s for a worker to answer its supervisor
    (at uvicorn's 5 a healthy worker starting on a loaded machine was killed mid-request)."""
    options = uvicorn_options(load_settings(base_env(tmp_path)), "127.0.0.1", 0)
    config = uvicorn.Config(answering(b""), **options)
    config.load()
    assert config.http_protocol_class is CoalescingHttpTools
    assert config.timeout_worker_healthcheck == WORKER_HEALTHCHECK_S == 30
    by_name = uvicorn.Config(answering(b""), http=PROTOCOL)  # for `uvicorn --http`
    by_name.load()
    assert by_name.http_protocol_class is CoalescingHttpTools


async def test_head_and_body_leave_in_one_write(connect: Callable[..., Connection]) -> None:
    conn = connect(answering(b'{"ok":true}'))
    conn.send(GET)
    await conn.until_idle()
    assert len(conn.transport.writes) == 1
    (response,) = conn.transport.writes
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.endswith(b"\r\n\r\n" + b'{"ok":true}')


async def test_uvicorns_own_protocol_writes_twice(connect: Callable[..., Connection]) -> None:
    """What the one write saves (and proof the recording sees uvicorn's writes as they are)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    conn = connect(answering(b'{"ok":true}'), HttpToolsProtocol)
    conn.send(GET)
    await conn.until_idle()
    assert len(conn.transport.writes) == 2


async def test_keep_alive_answers_each_request_in_one_write(
    connect: Callable[..., Connection],
) -> None:
    conn = connect(answering(b"{}"))
    for _ in range(3):
        conn.send(GET)
        await conn.until_idle()
    assert len(conn.transport.writes) == 3
    assert all(w.endswith(b"\r\n\r\n{}") for w in conn.transport.writes)


async def test_pipelined_requests_are_answered_in_order(
    connect: Callable[..., Connection],
) -> None:
    async def echo_path(scope: Scope, receive: Any, send: Any) -> None:
        await respond(send, scope["path"].encode())

    conn = connect(echo_path)
    conn.send(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n")
    while len(conn.transport.writes) < 2:
        await conn.until_idle()
    assert [w.rsplit(b"\r\n\r\n", 1)[1] for w in conn.transport.writes] == [b"/a", b"/b"]


async def test_a_head_request_gets_its_head_when_the_response_completes(
    connect: Callable[..., Connection],
) -> None:
    conn = connect(answering(b'{"ok":true}'))
    conn.send(b"HEAD /auth/me HTTP/1.1\r\nHost: t\r\n\r\n")
    await conn.until_idle()
    (head,) = conn.transport.writes
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 11\r\n" in head
    assert head.endswith(b"\r\n\r\n")


async def test_a_streamed_response_sends_its_head_before_the_first_event(
    connect: Callable[..., Connection],
) -> None:
    first_event = asyncio.Event()

    async def stream(scope: Scope, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        await first_event.wait()
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    conn = connect(stream)
    conn.send(b"GET /auth/revocations/stream HTTP/1.1\r\nHost: t\r\n\r\n")
    while not conn.transport.writes:
        await asyncio.sleep(0)  # let the app's task run up to its wait (no time passes)
    (head,) = conn.transport.writes
    assert b"transfer-encoding: chunked" in head
    first_event.set()
    await conn.until_idle()
    assert conn.transport.writes[1:] == [b"9\r\ndata: 1\n\n\r\n", b"0\r\n\r\n"]


async def test_100_continue_is_not_held(connect: Callable[..., Connection]) -> None:
    received = asyncio.Event()

    async def reads_body(scope: Scope, receive: Any, send: Any) -> None:
        message = await receive()
        received.set()
        await respond(send, message["body"])

    conn = connect(reads_body)
    conn.send(
        b"POST /auth/refresh HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
        b"Expect: 100-continue\r\n\r\n"
    )
    while not conn.transport.writes:
        await asyncio.sleep(0)  # the app is waiting for the body the client holds back
    assert conn.transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    assert not received.is_set()
    conn.send(b"{}")
    await conn.until_idle()
    assert len(conn.transport.writes) == 2
    assert conn.transport.writes[1].endswith(b"\r\n\r\n{}")


async def test_connection_close_sends_the_response_before_closing(
    connect: Callable[..., Connection],
) -> None:
    conn = connect(answering(b"{}"))
    conn.send(b"GET /auth/me HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    await conn.until_idle()
    assert conn.transport.closed
    (response,) = conn.transport.writes
    assert response.endswith(b"\r\n\r\n{}")


async def test_an_app_that_fails_after_its_head_still_closes_with_the_head_sent(
    connect: Callable[..., Connection],
) -> None:
    async def fails(scope: Scope, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]}
        )
        raise RuntimeError("boom")

    conn = connect(fails)
    conn.send(GET)
    await conn.until_idle()
    assert conn.transport.closed
    (head,) = conn.transport.writes
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")


def test_the_holder_passes_everything_after_the_head_straight_through() -> None:
    transport = RecordingTransport()
    completed: list[bool] = []
    holder = HeadHolder(transport, lambda: completed.append(True))
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 38\r\n\r\n"
    holder.write(head)
    assert transport.writes == []
    holder.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n")  # a body that looks like a head
    assert transport.writes == [head + b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n"]
    holder.response_complete()
    assert completed == [True]
    assert len(transport.writes) == 1

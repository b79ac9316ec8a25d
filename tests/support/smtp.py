"""A real SMTP server (aiosmtpd) on a free loopback port, keeping every mail it receives.

``SmtpServer.stop()`` closes the port (the connection is refused, as when a mail server is down)
and ``start()`` opens it again on the same port: the fault tests use both.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.servers import free_port

__all__ = ["Mail", "SmtpServer", "link_token", "smtp_server"]


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        return str(body.get_content())

    @property
    def link(self) -> str:
        found = re.search(r"https?://\S+", self.text)
        assert found, self.text
        return found.group(0)

    @property
    def event_id(self) -> str:
        return str(self.message["X-Tokensmith-Event-Id"])


def link_token(link: str) -> str:
    return link.rsplit("token=", 1)[1]


@dataclass
class _Handler:
    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


class SmtpServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._handler = _Handler()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def mails(self) -> list[Mail]:
        with self._handler.lock:
            return list(self._handler.mails)

    def start(self) -> None:
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout_s: float = 30.0, to: str | None = None) -> list[Mail]:
        """Wait until ``count`` mails (to ``to``, when given) arrived; return them."""
        deadline = time.monotonic() + timeout_s
        while True:
            mails = [m for m in self.mails if to is None or to in m.recipients]
            if len(mails) >= count or time.monotonic() > deadline:
                assert len(mails) >= count, f"{len(mails)} of {count} mails arrived"
                return mails
            time.sleep(0.05)

    async def arrived(
        self, count: int, timeout_s: float = 30.0, to: str | None = None
    ) -> list[Mail]:
        """``wait_for`` for async tests: waits without blocking the event loop (an in-process
        server's outbox worker runs on it)."""
        deadline = time.monotonic() + timeout_s
        while True:
            mails = [m for m in self.mails if to is None or to in m.recipients]
            if len(mails) >= count or time.monotonic() > deadline:
                assert len(mails) >= count, f"{len(mails)} of {count} mails arrived"
                return mails
            await asyncio.sleep(0.02)


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
